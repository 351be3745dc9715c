"""OpenCode usage: step-finish parts and assistant messages of its bus events.

A ``step-finish`` part is one model call (``tokens``, and the provider-reported
``cost`` in USD); an assistant ``message.updated`` carries the message's ``cost`` (the
sum of its steps) and ``tokens`` (in OpenCode, the last step's). The costs view
counts one response per message: the sum of its step-finish parts once any arrived,
else the message's own figures. ``tokens.input`` excludes cache reads and writes;
``tokens.output`` excludes ``reasoning`` (OpenCode prices reasoning at the output
rate on top), so here output is ``output + reasoning``. Tool parts name the calls a
message made (``callID``, the steps view's call id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from .identity import text
from .usage import ERRORS, Usage, count, dollars, ms_time

if TYPE_CHECKING:
    from journal.records import Record

    from .pricing import Tokens

__all__ = ["OcSession", "opencode_usage"]


class _OcCache(msgspec.Struct, gc=False):
    read: object = None
    write: object = None


class _OcTokens(msgspec.Struct, gc=False):
    input: object = None
    output: object = None
    reasoning: object = None
    cache: _OcCache | None = None


class _OcTime(msgspec.Struct, gc=False):
    created: object = None
    start: object = None


class _OcPath(msgspec.Struct, gc=False):
    cwd: object = None


class _OcObject(msgspec.Struct, gc=False):
    """An OpenCode message info or message part, only the usage fields."""

    id: object = None
    messageID: object = None
    role: object = None
    type: object = None
    modelID: object = None
    providerID: object = None
    parentID: object = None
    directory: object = None
    callID: object = None
    cost: object = None
    tokens: _OcTokens | None = None
    time: _OcTime | None = None
    path: _OcPath | None = None


class _OcProps(msgspec.Struct, gc=False):
    info: _OcObject | None = None
    part: _OcObject | None = None


class _OcBus(msgspec.Struct, gc=False):
    properties: _OcProps | None = None


_OC = msgspec.json.Decoder(_OcBus).decode
_OC_KINDS = frozenset({"message.updated", "message.part.updated", "session.created"})
_OC_KINDS |= {"session.updated"}


class OcSession(msgspec.Struct, gc=False):
    """An OpenCode session's parent session and directory (``session.*`` events)."""

    parent_id: str | None
    directory: str | None


def _oc_tokens(tokens: _OcTokens) -> Tokens:
    cache = tokens.cache
    reasoning = count(tokens.reasoning)
    return (
        count(tokens.input),
        count(tokens.output) + reasoning,
        count(cache.write) if cache is not None else 0,
        0,
        count(cache.read) if cache is not None else 0,
        reasoning,
    )


def opencode_usage(record: Record) -> Usage | OcSession | None:
    """An OpenCode event's usage (a step-finish part, an assistant message), a session's
    parent and directory, or the tool call a message made (``Usage`` with no tokens)."""
    kind = record.kind
    if kind not in _OC_KINDS:
        return None
    try:
        props = _OC(record.payload).properties
    except ERRORS:
        return None
    if props is None:
        return None
    if kind.startswith("session."):
        info = props.info
        if info is None:
            return None
        return OcSession(parent_id=text(info.parentID), directory=text(info.directory))
    if kind == "message.updated":
        info = props.info
        if info is None or info.role != "assistant" or text(info.id) is None:
            return None
        created = info.time.created if info.time is not None else None
        return Usage(
            key=f"oc:{info.id}",
            model=_oc_model(info),
            time_ns=ms_time(created, record.received_at),
            tokens=_oc_tokens(info.tokens) if info.tokens is not None else (0, 0, 0, 0, 0, 0),
            cost_pico=dollars(info.cost),
            cwd=text(info.path.cwd) if info.path is not None else None,
            provider=text(info.providerID),
            message_id=str(info.id),
        )
    part = props.part
    if part is None or text(part.messageID) is None:
        return None
    if part.type == "step-finish" and part.tokens is not None and text(part.id) is not None:
        return Usage(
            key=f"oc:{part.messageID}",
            model="",
            time_ns=record.received_at,
            tokens=_oc_tokens(part.tokens),
            cost_pico=dollars(part.cost),
            message_id=str(part.messageID),
            part=str(part.id),
        )
    if part.type == "tool" and text(part.callID) is not None:
        start = part.time.start if part.time is not None else None
        return Usage(
            key=f"oc:{part.messageID}",
            model="",
            time_ns=ms_time(start, record.received_at),
            tokens=(0, 0, 0, 0, 0, 0),
            tool_ids=(str(part.callID),),
            message_id=str(part.messageID),
        )
    return None


def _oc_model(info: _OcObject) -> str:
    model = text(info.modelID)
    return model or ""
