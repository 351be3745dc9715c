"""How a run's records change its facts: the runs view's fold, event by event.

:mod:`projections.runs` owns the view, its queries and its state keys; this module
holds the stored row of a run and what each agent's events say about it (cwd,
models, prompts, lineage, terminal and failure facts). Every function mutates the
row in place and returns whether anything changed, so unchanged rows are never
re-encoded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from .identity import MAX_ID_BYTES, Event, TranscriptMessage, decode_raw, text

if TYPE_CHECKING:
    from .view import State

__all__ = [
    "BUS_FACT_KINDS",
    "HOOK_ACTIONS",
    "PROMPT_KEYS",
    "RunRow",
    "bus_facts",
    "decode_row",
    "encode_row",
    "hook_facts",
    "line_facts",
]

_MAX_LIST = 64
#: State key prefix of the prompt ids a run has counted.
PROMPT_KEYS = b"k:"

# What a hook event kind means to its run; other kinds are only activity.
_START, _PROMPT, _TOOL_START, _TURN_END, _FAILURE, _END, _CHILD_START, _CHILD_END, _MODEL = range(9)
HOOK_ACTIONS = {
    "SessionStart": _START,
    "sessionStart": _START,
    "UserPromptSubmit": _PROMPT,
    "beforeSubmitPrompt": _PROMPT,
    "BeforeAgent": _PROMPT,
    "PreToolUse": _TOOL_START,
    "BeforeTool": _TOOL_START,
    "preToolUse": _TOOL_START,
    "beforeShellExecution": _TOOL_START,
    "beforeMCPExecution": _TOOL_START,
    "Stop": _TURN_END,
    "AfterAgent": _TURN_END,
    "agent-turn-complete": _TURN_END,
    "stop": _TURN_END,
    "StopFailure": _FAILURE,
    "SessionEnd": _END,
    "sessionEnd": _END,
    "SubagentStart": _CHILD_START,
    "subagentStart": _CHILD_START,
    "SubagentStop": _CHILD_END,
    "subagentStop": _CHILD_END,
    "BeforeModel": _MODEL,
}
# OpenCode events with facts for the run; the others are only activity.
BUS_FACT_KINDS = frozenset(
    {"session.created", "session.updated", "session.deleted", "session.error", "message.updated"}
)
# Turn ends that carry nothing beyond "the turn completed".
_PLAIN_TURN_ENDS = frozenset({"Stop", "AfterAgent"})


class RunRow(msgspec.Struct, array_like=True, gc=False, tag="projections.run.row"):
    """A run as stored; its last seq and time live under their own small key."""

    session_id: str
    source: str
    first_seq: int
    first_time: int
    parent_run_id: str | None = None
    agent_id: str | None = None
    agent_type: str | None = None
    cwd: str | None = None
    transcript_path: str | None = None
    models: list[str] = msgspec.field(default_factory=list)
    prompts: int = 0
    steps: int = 0
    start_sources: list[str] = msgspec.field(default_factory=list)
    end_reason: str | None = None
    terminal: bool = False
    failure: str | None = None
    observed: bool = False


encode_row = msgspec.msgpack.Encoder().encode
decode_row = msgspec.msgpack.Decoder(RunRow).decode


def _add_model(row: RunRow, model: object) -> bool:
    name = text(model)
    if name is None or name[0] == "<" or name in row.models or len(row.models) >= _MAX_LIST:
        return False
    row.models.append(name[:200])
    return True


def _revive(row: RunRow) -> bool:
    if row.terminal or row.failure is not None:
        row.terminal = False
        row.failure = None
        return True
    return False


def _prompt(state: State, run_b: bytes, row: RunRow, key: str | None) -> bool:
    """Count one prompt, unless its key (prompt, turn, generation or message id) is known."""
    if key is not None and "\x00" not in key and len(key) <= MAX_ID_BYTES:
        index = PROMPT_KEYS + run_b + b"\x00" + key.encode()
        if state.get(index) is not None:
            return False
        state.put(index, b"")
    row.prompts += 1
    return True


def hook_facts(state: State, ev: Event, row: RunRow, run_b: bytes, new: bool) -> bool:
    """Fold a hook event's facts into ``row``; most events need only their ids."""
    changed = False
    if not row.observed:
        row.observed = changed = new = True
    ids = ev.hook
    assert ids is not None
    model, generation = ids.model, ids.generation_id
    if type(model) is str and model and model not in row.models:
        changed |= _add_model(row, model)
    kind = ev.kind
    action = HOOK_ACTIONS.get(kind)
    if action == _TOOL_START:
        changed |= _revive(row)
        action = None
    elif action == _TURN_END and kind in _PLAIN_TURN_ENDS:
        if row.failure is not None:
            row.failure, changed = None, True
        action = None
    if action is None and not new and row.cwd is not None:
        return changed
    full = ev.full()
    if full is None:
        return changed
    if row.cwd is None:
        cwd = text(full.cwd)
        roots = full.workspace_roots
        if cwd is None and type(roots) is list and roots:
            cwd = text(roots[0])
        if cwd is not None:
            row.cwd, changed = cwd, True
    if row.transcript_path is None and (new or action in (_START, _CHILD_END)):
        path = text(full.agent_transcript_path if ev.agent_id else full.transcript_path)
        if path is not None:
            row.transcript_path, changed = path, True
    if row.agent_type is None and (ev.agent_id is not None or action == _START):
        agent_type = text(full.agent_type)
        if agent_type is not None:
            row.agent_type, changed = agent_type, True
    if action is None:
        return changed
    if action == _START:
        changed |= _revive(row)
        source = text(full.source)
        if source is not None and len(row.start_sources) < _MAX_LIST:
            row.start_sources.append(source[:64])
            changed = True
    elif action == _PROMPT:
        key = text(full.prompt_id) or text(full.turn_id) or text(generation)
        if key is None and kind == "BeforeAgent":
            key = ev.record.digest  # Gemini stamps each prompt; equal bytes are one delivery
        if _prompt(state, run_b, row, key):
            _revive(row)
            changed = True
    elif action == _TURN_END:
        if kind == "stop" and full.status == "error":
            row.failure, changed = "error", True
        elif row.failure is not None:
            row.failure, changed = None, True
        if kind == "agent-turn-complete":
            turn = full.notify_turn_id
            key = str(turn) if type(turn) is int else text(turn)
            changed |= _prompt(state, run_b, row, key)
    elif action == _FAILURE:
        row.failure = text(full.error_type) or "StopFailure"
        changed = True
    elif action == _END:
        row.terminal = changed = True
        row.end_reason = text(full.reason)
        if "error" in (full.reason, full.status, full.final_status):
            row.failure = "error"
    elif action == _MODEL:
        request = decode_raw(full.llm_request)
        if request is not None:
            changed |= _add_model(row, request.model)
    elif ev.parent_run_id is not None:
        # Subagent start and stop; a SubagentStop without a subagent id (older Claude
        # Code) has no parent_run_id and ends nothing.
        if action == _CHILD_START:
            changed |= _revive(row)
        else:
            row.terminal = changed = True
            if full.status == "error":
                row.failure = "error"
    return changed


def bus_facts(state: State, ev: Event, row: RunRow, run_b: bytes) -> bool:
    """Fold an OpenCode bus event's facts into ``row``."""
    kind = ev.kind
    changed = False
    if not row.observed:
        row.observed = changed = True
    if kind == "session.deleted":
        row.terminal = changed = True
        row.end_reason = "deleted"
    elif kind == "session.error":
        error = decode_raw(ev.props.error if ev.props is not None else None)
        row.failure = (text(error.name) if error is not None else None) or "error"
        changed = True
    elif kind.startswith("session."):
        info = ev.info()
        if info is None:
            return changed
        if kind == "session.created":
            changed |= _revive(row)
        if row.cwd is None and text(info.directory) is not None:
            row.cwd, changed = text(info.directory), True
    elif kind == "message.updated":
        info = ev.info()
        if info is None:
            return changed
        if info.role == "user":
            if _prompt(state, run_b, row, text(info.id)):
                _revive(row)
                changed = True
            model = decode_raw(info.model)
            if model is not None:
                changed |= _add_model(row, _oc_model(model.providerID, model.modelID))
        elif info.role == "assistant":
            changed |= _add_model(row, _oc_model(info.providerID, info.modelID))
            if row.cwd is None:
                path = decode_raw(info.path)
                cwd = text(path.cwd) if path is not None else None
                if cwd is not None:
                    row.cwd, changed = cwd, True
    return changed


def _oc_model(provider: object, model: object) -> str | None:
    name = text(model)
    if name is None:
        return None
    vendor = text(provider)
    return f"{vendor}/{name}" if vendor is not None else name


def line_facts(ev: Event, row: RunRow) -> bool:
    """Fold a transcript line into ``row``: its model, and the cwd if none is known."""
    line = ev.line
    assert line is not None
    changed = False
    if row.cwd is None and text(line.cwd) is not None:
        row.cwd, changed = text(line.cwd), True
    message = line.message
    if line.type == "assistant" and type(message) is TranscriptMessage:
        model = message.model
        if type(model) is str and model not in row.models:
            changed |= _add_model(row, model)
    return changed
