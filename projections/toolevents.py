"""Tool events: what one record says about tool calls, for the steps and runs views.

Each agent reports a tool call in its own words: Claude Code and Codex
``PreToolUse``/``PostToolUse``/``PostToolUseFailure``/``PermissionDenied`` (and
Claude Code's ``PostToolBatch`` and ``PermissionRequest``), Gemini
``BeforeTool``/``AfterTool``, Cursor ``before``/``after`` shell and MCP events and
``preToolUse``/``postToolUse``/``postToolUseFailure``, OpenCode tool parts
(``message.part.updated``) and permission requests and replies. The agents' own
files say more: Claude Code transcript lines carry ``tool_use`` and ``tool_result``
blocks (with ``is_error``, and ``toolDenialKind`` on a refusal), Codex rollout lines
the ``CommandExecution`` and ``FileChange`` items with their status and exit code.

:func:`tools_of` turns one decoded record into its :class:`ToolEvent` tuple (most
records have none or one; a ``PostToolBatch`` or a transcript line may have many):
the phase, the run, the call id it pairs by (or None), the scope order-pairing uses,
what an end reported, and how much that report counts (:data:`WEAK`: a batch
summary that only fills in an end nothing else reported). Built once per record and
shared by both views.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import msgspec

from .identity import MAX_ID_BYTES, UNSET, Event, decode_raw, event_of, ident, text
from .lines import Block, TranscriptMessage, blocks, rollout_item
from .nested import DECODE_ERRORS, times
from .timestamps import ms_ns

if TYPE_CHECKING:
    from journal.records import Record

__all__ = [
    "ASK",
    "END",
    "KINDS",
    "MARK",
    "REPLY",
    "START",
    "STRONG",
    "UPDATE",
    "WEAK",
    "ToolEvent",
    "tool_event",
    "tools_of",
]

# Phases of a tool event. MARK: a permission request that names no call (Claude Code).
START, END, UPDATE, ASK, REPLY, MARK = range(6)
# How much an end counts: a weak end (PostToolBatch) never overrides another end.
WEAK, STRONG = 1, 2

_STARTS = frozenset(
    {"PreToolUse", "BeforeTool", "preToolUse", "beforeShellExecution", "beforeMCPExecution"}
)
_ENDS = {
    "PostToolUse": "succeeded",
    "PostToolUseFailure": "failed",
    "PermissionDenied": "denied",
    "AfterTool": "succeeded",
    "postToolUse": "succeeded",
    "postToolUseFailure": "failed",
    "afterShellExecution": "succeeded",
    "afterMCPExecution": "succeeded",
}
_SHELL = frozenset({"beforeShellExecution", "afterShellExecution"})
_BUS_KINDS = frozenset(
    {"message.part.updated", "permission.asked", "permission.updated", "permission.replied"}
)
_CLAUDE_KINDS = frozenset({"PostToolBatch", "PermissionRequest"})
#: Every record kind the steps view reads.
KINDS = frozenset(_STARTS | _ENDS.keys() | _BUS_KINDS | _CLAUDE_KINDS | {"transcript"})
_OC_STATUS = {"completed": "succeeded", "error": "failed"}
_MAX_ERROR = 300
_SHORT_ID = MAX_ID_BYTES // 4  # ids this short fit MAX_ID_BYTES whatever their characters
_NO_EVENTS: tuple[ToolEvent, ...] = ()
# What Claude Code's refusals say (in PostToolBatch, which is all a refused call gets).
_REFUSALS = (
    "needs approval",
    "permission to use",
    "haven't granted",
    "has been denied",
    "was rejected",
    "doesn't want to proceed",
    "requires approval",
)
# Gemini CLI's shell tool ends its output with the exit code; nothing else says it.
_GEMINI_EXIT = re.compile(r"Exit Code: (-?\d+)")
# Codex rollout items that are tool calls, and the hook tool name of each.
_CODEX_ITEMS = {"CommandExecution": "Bash", "FileChange": "apply_patch"}
_CODEX_STATUS = {"completed": "succeeded", "failed": "failed", "declined": "denied"}


class ToolEvent:
    """What one record says about one tool call; built by :func:`tools_of`.

    ``start_time`` / ``end_time`` are the agent's own times of the call's start and
    end when the record carries them (OpenCode ``state.time``, Codex
    ``started_at_ms``), else None: the record's event time is used.
    """

    __slots__ = (
        "agent_id",
        "duration_ms",
        "end_time",
        "error",
        "key",
        "outcome",
        "phase",
        "rank",
        "request",
        "run_b",
        "scope",
        "start_time",
        "tool_name",
    )

    phase: int
    run_b: bytes
    key: str | None
    tool_name: str | None
    scope: str
    outcome: str | None
    agent_id: str | None
    duration_ms: float | None
    error: str | None
    request: str | None
    rank: int
    start_time: int | None
    end_time: int | None

    @property
    def run_id(self) -> str:
        """The run of the step."""
        return self.run_b.decode()


def _tool(ev: Event, phase: int, key: str | None, tool_name: str | None) -> ToolEvent:
    te = ToolEvent()
    te.phase = phase
    te.run_b = ev.run_b
    te.key = key
    te.tool_name = tool_name
    te.scope = tool_name or ""
    te.agent_id = ev.agent_id
    te.outcome = te.duration_ms = te.error = te.request = None
    te.start_time = te.end_time = None
    te.rank = STRONG
    return te


class _OcState(msgspec.Struct, gc=False):
    status: object = None
    error: object = None
    time: msgspec.Raw = msgspec.Raw()
    metadata: msgspec.Raw = msgspec.Raw()


class _BatchCall(msgspec.Struct, gc=False):
    tool_use_id: object = None
    tool_name: object = None
    tool_response: object = None


_STATE = msgspec.json.Decoder(_OcState).decode
_BATCH = msgspec.json.Decoder(list[_BatchCall]).decode


def _number(value: object) -> float | None:
    if type(value) is int or type(value) is float:
        return float(value) if value >= 0 else None
    return None


def _call_key(value: object) -> str | None:
    if type(value) is not str or not value or "\x00" in value:
        return None
    return value if len(value) <= _SHORT_ID or len(value.encode()) <= MAX_ID_BYTES else None


def _text_of(value: object) -> str | None:
    """The text of a tool response or result: a string, or its text blocks joined."""
    if type(value) is str:
        return value
    if type(value) is list:
        parts = [
            item["text"] for item in value if type(item) is dict and type(item.get("text")) is str
        ]
        return "\n".join(parts) if parts else None
    return None


def _error_text(value: object) -> str | None:
    if type(value) is dict:
        value = value.get("message") or value.get("name")
    found = _text_of(value)
    return found[:_MAX_ERROR] if found else None


def _refusal(value: object) -> str | None:
    """The refusal text of a batch entry's response, if it reads as one."""
    found = _text_of(value)
    if not found:
        return None
    head = found[:400].lower()
    return found[:_MAX_ERROR] if any(phrase in head for phrase in _REFUSALS) else None


# End events whose details (error, reason, duration, response) need the whole payload.
_DETAILED = frozenset(_ENDS) - {"PostToolUse"}


def _hook_tools(ev: Event) -> tuple[ToolEvent, ...]:
    hook = ev.hook
    assert hook is not None
    kind = ev.kind
    if kind in _STARTS:
        phase, outcome = START, None
    elif kind in _CLAUDE_KINDS:
        return _batch(ev) if kind == "PostToolBatch" else _permission_request(ev)
    else:
        outcome = _ENDS.get(kind)
        if outcome is None:
            return _NO_EVENTS
        phase = END
    if kind in _SHELL:
        name: str | None = "Shell"
    else:
        name = text(hook.tool_name)
    te = _tool(ev, phase, _call_key(hook.tool_use_id), name)
    generation = hook.generation_id
    if type(generation) is str and generation:
        te.scope = f"{generation}\x1f{name or ''}"
    te.outcome = outcome
    if kind == "PostToolUse":
        te.duration_ms = _number(hook.duration_ms)
    elif kind in _DETAILED:
        full = ev.full()
        if full is None:
            return (te,)
        te.duration_ms = _number(full.duration)
        if te.duration_ms is None:
            te.duration_ms = _number(full.duration_ms)
        if kind == "AfterTool":
            _gemini_outcome(te, full.tool_response)
        elif kind == "PermissionDenied":
            te.error = _error_text(full.reason)
        elif outcome == "failed":
            te.error = _error_text(full.error)
    return (te,)


def _gemini_outcome(te: ToolEvent, raw: msgspec.Raw) -> None:
    """Gemini's AfterTool fails on ``tool_response.error``, or a shell's non-zero exit code."""
    response = decode_raw(raw)
    if response is None:
        return
    if response.error not in (None, "", False):
        te.outcome = "failed"
        te.error = _error_text(response.error) or "error"
        return
    output = _text_of(response.llmContent) or _text_of(response.returnDisplay)
    if output is not None and "Exit Code: " in output:
        found = _GEMINI_EXIT.findall(output)
        if found and found[-1] != "0":
            te.outcome = "failed"
            te.error = f"Exit Code: {found[-1]}"


def _batch(ev: Event) -> tuple[ToolEvent, ...]:
    """PostToolBatch: a weak end per call; a refused call is denied (nothing else ends it)."""
    full = ev.full()
    if full is None or not full.tool_calls:
        return _NO_EVENTS
    try:
        calls = _BATCH(full.tool_calls)
    except DECODE_ERRORS:
        return _NO_EVENTS
    out = []
    for call in calls:
        key = _call_key(call.tool_use_id)
        if key is None:
            continue
        te = _tool(ev, END, key, text(call.tool_name))
        te.rank = WEAK
        refused = _refusal(call.tool_response)
        te.outcome = "denied" if refused is not None else "succeeded"
        te.error = refused
        out.append(te)
    return tuple(out)


def _permission_request(ev: Event) -> tuple[ToolEvent, ...]:
    """Claude Code's PermissionRequest names no call: it marks the tool as asked for."""
    name = text(ev.hook.tool_name) if ev.hook is not None else None
    if name is None:
        return _NO_EVENTS
    return (_tool(ev, MARK, None, name),)


def _bus_tools(ev: Event) -> tuple[ToolEvent, ...]:
    kind = ev.kind
    props = ev.props
    assert props is not None
    if kind == "message.part.updated":
        part = ev.part()
        if part is None or part.type != "tool":
            return _NO_EVENTS
        key = ident(part.callID) or ident(part.id)
        if key is None:
            return _NO_EVENTS
        te = _tool(ev, UPDATE, key, text(part.tool))
        try:
            state = _STATE(part.state) if part.state else None
        except DECODE_ERRORS:
            state = None
        if state is None:
            return (te,)
        when = times(state.time)
        if when is not None:
            te.start_time, te.end_time = ms_ns(when.start), ms_ns(when.end)
        status = text(state.status)
        outcome = _OC_STATUS.get(status) if status is not None else None
        if outcome is not None:
            te.outcome = outcome
            te.error = _error_text(state.error) if outcome == "failed" else None
            meta = decode_raw(state.metadata)
            code = meta.exit if meta is not None else None
            if outcome == "succeeded" and type(code) is int and code != 0:
                te.outcome, te.error = "failed", f"exit {code}"
            if when is not None:
                start, end = _number(when.start), _number(when.end)
                if start is not None and end is not None and end >= start:
                    te.duration_ms = end - start
        return (te,)
    if kind in ("permission.asked", "permission.updated"):
        tool = decode_raw(props.tool)
        call = ident(tool.callID if tool is not None else props.callID)
        request = ident(props.id)
        if call is None or request is None:
            return _NO_EVENTS
        te = _tool(ev, ASK, call, text(props.permission))
        te.request = request
        return (te,)
    if kind == "permission.replied":
        request = ident(props.requestID) or ident(props.permissionID)
        reply = props.reply if props.reply is not None else props.response
        if request is None or reply != "reject":
            return _NO_EVENTS
        te = _tool(ev, REPLY, None, None)
        te.request = request
        te.outcome = "denied"
        te.error = "permission rejected"
        return (te,)
    return _NO_EVENTS


def _line_tools(ev: Event) -> tuple[ToolEvent, ...]:
    """A Claude Code transcript line: tool_use blocks start calls, tool_result blocks end them."""
    line = ev.line
    assert line is not None
    kind, message = line.type, line.message
    if kind not in ("assistant", "user") or type(message) is not TranscriptMessage:
        return _NO_EVENTS
    payload = ev.record.payload
    if b'"tool_use"' not in payload and b'"tool_result"' not in payload:
        return _NO_EVENTS  # most lines: text and thinking, not worth decoding
    content = blocks(message.content)
    if not content:
        return _NO_EVENTS
    out = []
    for block in content:
        if kind == "assistant" and block.type == "tool_use":
            key = _call_key(block.id)
            if key is not None:
                out.append(_tool(ev, START, key, text(block.name)))
        elif kind == "user" and block.type == "tool_result":
            key = _call_key(block.tool_use_id)
            if key is not None:
                out.append(_result(ev, key, block, line.toolDenialKind))
    return tuple(out)


def _result(ev: Event, key: str, block: Block, denial: object) -> ToolEvent:
    te = _tool(ev, END, key, None)
    if denial is not None and denial is not False:
        te.outcome, te.error = "denied", _error_text(block.content) or "denied"
    elif block.is_error is True:
        te.outcome, te.error = "failed", _error_text(block.content) or "error"
    else:
        te.outcome = "succeeded"
    return te


def _rollout_tools(ev: Event) -> tuple[ToolEvent, ...]:
    """A Codex rollout ``item_completed`` of a command or file change: the whole call."""
    payload = ev.rollout
    assert payload is not None
    if payload.type != "item_completed":
        return _NO_EVENTS
    item = rollout_item(payload.item)
    if item is None or type(item.type) is not str or item.type not in _CODEX_ITEMS:
        return _NO_EVENTS
    key = _call_key(item.id)
    if key is None:
        return _NO_EVENTS
    te = _tool(ev, UPDATE, key, _CODEX_ITEMS[item.type])
    te.start_time, te.end_time = ms_ns(payload.started_at_ms), ms_ns(payload.completed_at_ms)
    status = text(item.status)
    te.outcome = _CODEX_STATUS.get(status) if status is not None else None
    code = item.exit_code
    if te.outcome == "succeeded" and type(code) is int and code != 0:
        te.outcome = "failed"
    if te.outcome == "failed":
        te.error = f"exit code {code}" if type(code) is int else "failed"
    elif te.outcome == "denied":
        te.error = "declined"
    duration = item.duration
    if duration is not None and type(duration.secs) is int and type(duration.nanos) is int:
        te.duration_ms = duration.secs * 1000 + duration.nanos / 1e6
    elif te.start_time is not None and te.end_time is not None and te.end_time >= te.start_time:
        te.duration_ms = (te.end_time - te.start_time) / 1e6
    return (te,)


def tool_event(record: Record) -> ToolEvent | None:
    """The first tool event of ``record``, or None (for callers that expect one)."""
    if record.kind not in KINDS:
        return None
    ev = event_of(record)
    found = () if ev is None else tools_of(ev)
    return found[0] if found else None


def tools_of(ev: Event) -> tuple[ToolEvent, ...]:
    """The tool events of a decoded record of one of :data:`KINDS` (built once)."""
    found = ev.tool
    if found is UNSET:
        if ev.hook is not None:
            found = _hook_tools(ev)
        elif ev.props is not None:
            found = _bus_tools(ev)
        elif ev.line is not None:
            found = _line_tools(ev)
        elif ev.rollout is not None:
            found = _rollout_tools(ev)
        else:
            found = _NO_EVENTS
        ev.tool = found
    return found  # type: ignore[no-any-return]
