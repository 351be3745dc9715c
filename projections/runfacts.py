"""How a run's records change its facts: the runs view's fold, event by event.

:mod:`projections.runs` owns the view, its queries and its state keys; this module
holds the stored row of a run and what each agent's events say about it (cwd,
models, prompts, lineage, terminal and failure facts, the agent process) and which
events start and end a turn (:func:`turn_role`). Every function mutates the row in
place and returns whether anything changed, so unchanged rows are never re-encoded.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import msgspec
import msgspec.json

from .identity import MAX_ID_BYTES, Event, TranscriptMessage, decode_raw, text
from .lines import TranscriptLine, blocks, rollout_item

if TYPE_CHECKING:
    from journal.records import Record

    from .view import State

__all__ = [
    "BUS_FACT_KINDS",
    "HOOK_ACTIONS",
    "PROMPT_KEYS",
    "RunRow",
    "add_model",
    "agent_facts",
    "bus_facts",
    "decode_row",
    "encode_row",
    "gemini_chat_line",
    "gemini_seen",
    "hook_facts",
    "line_facts",
    "rollout_facts",
    "turn_role",
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
# Hook events that are a turn's own activity (a prompt, a tool call, a model call) ...
_TURN_WORK = frozenset(
    {
        "UserPromptSubmit",
        "beforeSubmitPrompt",
        "BeforeAgent",
        "PreToolUse",
        "PostToolUse",
        "PostToolUseFailure",
        "PermissionDenied",
        "PermissionRequest",
        "PostToolBatch",
        "BeforeTool",
        "AfterTool",
        "BeforeModel",
        "AfterModel",
        "BeforeToolSelection",
        "preToolUse",
        "postToolUse",
        "postToolUseFailure",
        "beforeShellExecution",
        "afterShellExecution",
        "beforeMCPExecution",
        "afterMCPExecution",
    }
)
# ... and those that end one (a child run's stop ends the child's turn).
_TURN_ENDS = frozenset(
    {"Stop", "StopFailure", "AfterAgent", "agent-turn-complete", "stop", "SessionEnd", "sessionEnd"}
)
_CHILD_STARTS = frozenset({"SubagentStart", "subagentStart"})
_CHILD_ENDS = frozenset({"SubagentStop", "subagentStop"})
_BUS_TURN_ENDS = frozenset({"session.idle", "session.error", "session.deleted"})
# Transcript text that is not a prompt someone typed.
_NOT_PROMPTS = ("[Request interrupted", "<local-command-", "Caveat: ")
_STR = msgspec.json.Decoder(str).decode


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
    agent_pid: int | None = None
    agent_start: int | None = None
    agent_boot: str | None = None
    agent_time: int = 0
    #: The origin of a run pulled from another journal (None: appended here).
    origin: str | None = None


encode_row = msgspec.msgpack.Encoder().encode
decode_row = msgspec.msgpack.Decoder(RunRow).decode


def turn_role(ev: Event) -> int:
    """1 if ``ev`` is a turn's activity (a prompt, a tool call), -1 if it ends a turn,
    else 0. Only what the agent reports live counts (hooks, bus events); transcript
    lines captured later say nothing about whether a turn is still running."""
    kind = ev.kind
    if ev.hook is not None:
        if kind in _TURN_WORK:
            return 1
        if kind in _TURN_ENDS:
            return -1
        if ev.parent_run_id is not None:  # a SubagentStop without agent id ends nothing
            if kind in _CHILD_STARTS:
                return 1
            if kind in _CHILD_ENDS:
                return -1
        return 0
    if ev.props is not None:
        if kind in _BUS_TURN_ENDS:
            return -1
        if kind == "message.updated":
            info = ev.info()
            return 1 if info is not None and info.role == "user" else 0
        if kind == "message.part.updated":
            part = ev.part()
            return 1 if part is not None and part.type == "tool" else 0
    return 0


def agent_facts(row: RunRow, record: Record, when: int) -> bool:
    """Keep the agent process of the run's newest hook event: a process replaces the
    one before unless its event is older than the first event of that one (a late,
    spooled delivery from a process that was already replaced)."""
    pid, start, boot = record.agent_pid, record.agent_start, record.agent_boot
    if when < row.agent_time or (pid, start, boot) == (
        row.agent_pid,
        row.agent_start,
        row.agent_boot,
    ):
        return False
    row.agent_pid, row.agent_start, row.agent_boot, row.agent_time = pid, start, boot, when
    return True


def add_model(row: RunRow, model: object) -> bool:
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
        changed |= add_model(row, model)
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
            changed |= add_model(row, request.model)
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
                changed |= add_model(row, _oc_model(model.providerID, model.modelID))
        elif info.role == "assistant":
            changed |= add_model(row, _oc_model(info.providerID, info.modelID))
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


def _is_prompt(line: TranscriptLine, message: TranscriptMessage) -> bool:
    """A user line someone typed: not meta, a sidechain, a summary or a tool result."""
    if line.isMeta is True or line.isSidechain is True or line.isCompactSummary is True:
        return False
    raw = message.content
    if not raw:
        return False
    if memoryview(raw)[0] == ord('"'):
        try:
            content = _STR(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
        return bool(content.strip()) and not content.startswith(_NOT_PROMPTS)
    found = blocks(raw)
    if not found or any(block.type == "tool_result" for block in found):
        return False
    return any(
        block.type == "text" and type(block.text) is str and not block.text.startswith(_NOT_PROMPTS)
        for block in found
    )


def line_facts(state: State, ev: Event, row: RunRow, run_b: bytes) -> bool:
    """Fold a Claude Code transcript line into ``row``: model, cwd, and prompts.

    A prompt line counts once per ``promptId`` (the ``prompt_id`` its
    ``UserPromptSubmit`` hook counted under) or, in a run no hook reported, per line
    ``uuid``. In a run with hooks, prompt lines without ``promptId`` are left to the
    hooks (they cannot be matched to them).
    """
    line = ev.line
    assert line is not None
    changed = False
    if row.cwd is None and text(line.cwd) is not None:
        row.cwd, changed = text(line.cwd), True
    message = line.message
    if type(message) is not TranscriptMessage:
        return changed
    if line.type == "assistant":
        model = message.model
        if type(model) is str and model not in row.models:
            changed |= add_model(row, model)
    elif line.type == "user" and _is_prompt(line, message):
        key = text(line.promptId)
        if key is None and not row.observed:
            key = text(line.uuid) or ev.record.digest
        if key is not None:
            changed |= _prompt(state, run_b, row, key)
    return changed


def rollout_facts(state: State, ev: Event, row: RunRow, run_b: bytes) -> bool:
    """Fold a Codex rollout line into ``row``: cwd, model, and prompts (by turn id)."""
    payload = ev.rollout
    assert payload is not None
    changed = False
    if row.cwd is None and text(payload.cwd) is not None:
        row.cwd, changed = text(payload.cwd), True
    kind = payload.type
    if kind == "thread_settings_applied":
        settings = rollout_item(payload.thread_settings)
        if settings is not None:
            changed |= add_model(row, settings.model)
    elif kind == "item_completed":
        item = rollout_item(payload.item)
        if item is not None and item.type == "UserMessage":
            key = text(payload.turn_id)
            if key is not None or not row.observed:
                changed |= _prompt(state, run_b, row, key or text(item.id))
    return changed


# Gemini CLI's chat lines name their session only in the file's first line: a line
# without one belongs to the Gemini run whose record came just before it (a capture
# commits a file's new lines right after the hook event that triggered it, in one
# transaction). ``g:`` holds that run and the seq of its latest record.
_GEMINI_LAST = b"g:"
_SEQ = struct.Struct(">Q")


class _GeminiChatLine(msgspec.Struct, gc=False):
    type: object = None
    model: object = None


_GEMINI_CHAT = msgspec.json.Decoder(_GeminiChatLine).decode


def gemini_seen(state: State, run_b: bytes, seq: int) -> None:
    """Remember that the Gemini record at ``seq`` belongs to ``run_b``."""
    state.put(_GEMINI_LAST, _SEQ.pack(seq) + run_b)


def gemini_chat_line(state: State, record: Record, runs: bytes) -> bytes | None:
    """Fold a Gemini chat line that names no session: its model, into the run before it.

    Returns the run whose row (under ``runs + run``) changed, else None. A line that no
    Gemini record immediately precedes is left out rather than given to a run it may
    not belong to (another session's capture in between).
    """
    found = _gemini_chat_model(state, record) if record.kind == "transcript" else None
    if found is None or found[1] is None:
        return None
    run_b, model = found
    raw = state.get(runs + run_b)
    if raw is None:
        return None
    row = decode_row(raw)
    if not add_model(row, model):
        return None
    state.put(runs + run_b, encode_row(row))
    return run_b


def _gemini_chat_model(state: State, record: Record) -> tuple[bytes, str | None] | None:
    last = state.get(_GEMINI_LAST)
    if last is None or len(last) <= _SEQ.size or _SEQ.unpack_from(last)[0] + 1 != record.seq:
        return None
    run_b = last[_SEQ.size :]
    gemini_seen(state, run_b, record.seq)
    try:
        line = _GEMINI_CHAT(record.payload)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return run_b, None
    model = line.model if line.type == "gemini" else None
    return run_b, model if type(model) is str and model else None
