"""Tool events: what one record says about a tool call, for the steps and runs views.

Each agent reports a tool call in its own words: Claude Code and Codex
``PreToolUse``/``PostToolUse``/``PostToolUseFailure``/``PermissionDenied``, Gemini
``BeforeTool``/``AfterTool``, Cursor ``before``/``after`` shell and MCP events and
``preToolUse``/``postToolUse``/``postToolUseFailure``, OpenCode tool parts
(``message.part.updated``) and permission requests and replies. :func:`tool_of`
turns one decoded record into a :class:`ToolEvent`: its phase, its run, the call id
it pairs by (or None), the scope order-pairing uses, and what an end reported. It is
built once per record and shared by both views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from .identity import MAX_ID_BYTES, UNSET, Event, decode_raw, event_of, ident, text

if TYPE_CHECKING:
    from journal.records import Record

__all__ = ["ASK", "END", "KINDS", "REPLY", "START", "UPDATE", "ToolEvent", "tool_event", "tool_of"]

# Phases of a tool event.
START, END, UPDATE, ASK, REPLY = range(5)

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
#: Every record kind the steps view reads.
KINDS = frozenset(_STARTS | _ENDS.keys() | _BUS_KINDS)
_OC_STATUS = {"completed": "succeeded", "error": "failed"}
_MAX_ERROR = 300
_SHORT_ID = MAX_ID_BYTES // 4  # ids this short fit MAX_ID_BYTES whatever their characters


class ToolEvent:
    """What one record says about a tool call; built by :func:`tool_event`."""

    __slots__ = (
        "agent_id",
        "duration_ms",
        "error",
        "key",
        "outcome",
        "phase",
        "request",
        "run_b",
        "scope",
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
    return te


class _OcState(msgspec.Struct, gc=False):
    status: object = None
    error: object = None
    time: msgspec.Raw = msgspec.Raw()


class _OcTime(msgspec.Struct, gc=False):
    start: object = None
    end: object = None


_STATE = msgspec.json.Decoder(_OcState).decode
_TIME = msgspec.json.Decoder(_OcTime).decode
_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError)


def _number(value: object) -> float | None:
    if type(value) is int or type(value) is float:
        return float(value) if value >= 0 else None
    return None


def _error_text(value: object) -> str | None:
    if type(value) is dict:
        value = value.get("message") or value.get("name")
    if type(value) is str and value:
        return value[:_MAX_ERROR]
    return None


# End events whose details (error, reason, duration, response) need the whole payload.
_DETAILED = frozenset(_ENDS) - {"PostToolUse"}


def _hook_tool(ev: Event) -> ToolEvent | None:
    hook = ev.hook
    assert hook is not None
    kind = ev.kind
    if kind in _STARTS:
        phase, outcome = START, None
    else:
        outcome = _ENDS.get(kind)
        if outcome is None:
            return None
        phase = END
    te = ToolEvent()
    te.phase = phase
    te.run_b = ev.run_b
    te.agent_id = ev.agent_id
    call = hook.tool_use_id
    if type(call) is str and call and "\x00" not in call:
        te.key = call if len(call) <= _SHORT_ID or len(call.encode()) <= MAX_ID_BYTES else None
    else:
        te.key = None
    if kind in _SHELL:
        te.tool_name = "Shell"
    else:
        name = hook.tool_name
        te.tool_name = name if type(name) is str and name else None
    generation = hook.generation_id
    if type(generation) is str and generation:
        te.scope = f"{generation}\x1f{te.tool_name or ''}"
    else:
        te.scope = te.tool_name or ""
    te.outcome = outcome
    te.duration_ms = te.error = te.request = None
    if kind in _DETAILED:
        full = ev.full()
        if full is None:
            return te
        te.duration_ms = _number(full.duration)
        if te.duration_ms is None:
            te.duration_ms = _number(full.duration_ms)
        if kind == "AfterTool":
            response = decode_raw(full.tool_response)
            if response is not None and response.error not in (None, "", False):
                te.outcome = "failed"
                te.error = _error_text(response.error) or "error"
        elif kind == "PermissionDenied":
            te.error = _error_text(full.reason)
        elif outcome == "failed":
            te.error = _error_text(full.error)
    return te


def _bus_tool(ev: Event) -> ToolEvent | None:
    kind = ev.kind
    props = ev.props
    assert props is not None
    if kind == "message.part.updated":
        part = ev.part()
        if part is None or part.type != "tool":
            return None
        key = ident(part.callID) or ident(part.id)
        if key is None:
            return None
        te = _tool(ev, UPDATE, key, text(part.tool))
        try:
            state = _STATE(part.state) if part.state else None
        except _ERRORS:
            state = None
        status = text(state.status) if state is not None else None
        outcome = _OC_STATUS.get(status) if status is not None else None
        if state is not None and outcome is not None:
            te.outcome = outcome
            te.error = _error_text(state.error) if outcome == "failed" else None
            if state.time:
                try:
                    when = _TIME(state.time)
                except _ERRORS:
                    when = None
                if when is not None:
                    start, end = _number(when.start), _number(when.end)
                    if start is not None and end is not None and end >= start:
                        te.duration_ms = end - start
        return te
    if kind in ("permission.asked", "permission.updated"):
        tool = decode_raw(props.tool)
        call = ident(tool.callID if tool is not None else props.callID)
        request = ident(props.id)
        if call is None or request is None:
            return None
        te = _tool(ev, ASK, call, text(props.permission))
        te.request = request
        return te
    if kind == "permission.replied":
        request = ident(props.requestID) or ident(props.permissionID)
        reply = props.reply if props.reply is not None else props.response
        if request is None or reply != "reject":
            return None
        te = _tool(ev, REPLY, None, None)
        te.request = request
        te.outcome = "denied"
        te.error = "permission rejected"
        return te
    return None


def tool_event(record: Record) -> ToolEvent | None:
    """What ``record`` says about a tool call, or None if it is not a tool event.

    Built once per record and kept on its :class:`~projections.identity.Event`, which
    both views share.
    """
    if record.kind not in KINDS:
        return None
    ev = event_of(record)
    return None if ev is None else tool_of(ev)


def tool_of(ev: Event) -> ToolEvent | None:
    """The tool event of a decoded record of one of :data:`KINDS` (built once)."""
    te = ev.tool
    if te is UNSET:
        if ev.hook is not None:
            te = _hook_tool(ev)
        else:
            te = _bus_tool(ev) if ev.props is not None else None
        ev.tool = te
    return te  # type: ignore[no-any-return]
