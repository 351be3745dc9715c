"""What each agent's records say about tokens: usage decoded into one shape.

Every agent reports usage differently; the costs view needs one partition of it
(DESIGN §5, :data:`projections.pricing.FIELDS`): uncached input, all output with
reasoning inside it, cache writes (5-minute and 1-hour), cache reads, and reasoning.
This module decodes records into :class:`Usage` (one API response, or part of one)
and the few context facts the costs view needs to place it; it keeps no state.

- **Claude Code** transcript lines (kind ``transcript``): ``message.usage`` of a line
  with ``message.id`` + ``requestId``. One response is written as several lines (each
  streamed partial, and one line per content block); the view keeps the largest.
  ``input_tokens`` is already uncached; ``cache_creation`` splits the writes by TTL
  (without it all writes are 5-minute). A top-level ``costUSD`` (older versions) is
  the agent's own figure. The ``usage`` inside a ``toolUseResult`` (an ``Agent`` /
  ``Task`` call's summary of its subagent) is never read: the subagent's own lines
  carry those tokens.
- **Codex** rollout lines and **OpenCode** bus events: :mod:`projections.usage_codex`
  and :mod:`projections.usage_opencode`.
- **Gemini CLI** ``AfterModel`` hook events: ``llm_response.usageMetadata``
  (``thoughtsTokenCount`` is beside ``candidatesTokenCount``: added to output;
  ``cachedContentTokenCount`` is inside ``promptTokenCount``: subtracted).
- **Cursor** hooks carry no tokens: :func:`cursor_run` only says a run exists.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import msgspec

from .identity import decode_raw, text

if TYPE_CHECKING:
    from journal.records import Record

    from .pricing import Tokens

__all__ = [
    "ERRORS",
    "Usage",
    "claude_usage",
    "count",
    "cursor_run",
    "dollars",
    "event_time",
    "gemini_usage",
    "ms_time",
]

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError)
_EMPTY = msgspec.Raw()


class Usage(msgspec.Struct, gc=False):
    """One API response's usage (or, for OpenCode, one step of a message).

    ``key`` identifies the response across records (and across sessions: a resumed or
    forked session repeats its parent's lines). ``cost_pico`` is a cost the agent
    reported itself, in picodollars; ``tool_ids`` the tool calls the response issued.
    """

    key: str
    model: str
    time_ns: int
    tokens: Tokens
    cost_pico: int | None = None
    tool_ids: tuple[str, ...] = ()
    cwd: str | None = None
    provider: str | None = None
    sidechain: bool = False
    message_id: str | None = None
    part: str | None = None


def count(value: object) -> int:
    """A token count: a non-negative int (or integral float), else 0."""
    if type(value) is int:
        return value if value > 0 else 0
    if type(value) is float and value.is_integer() and value > 0:
        return int(value)
    return 0


def dollars(value: object) -> int | None:
    """A reported cost in USD as picodollars (None when absent or not a number)."""
    if type(value) in (int, float) and value == value and value >= 0:  # type: ignore[operator]
        return round(value * 10**12)  # type: ignore[operator]
    return None


def event_time(value: object, fallback: int) -> int:
    """An ISO 8601 timestamp (``...Z`` or with an offset) in ns; ``fallback`` if unusable."""
    if type(value) is not str or len(value) < 10:
        return fallback
    try:
        stamp = datetime.datetime.fromisoformat(value)
    except ValueError:
        return fallback
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.UTC)
    delta = stamp - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def ms_time(value: object, fallback: int) -> int:
    if type(value) in (int, float) and value > 0:  # type: ignore[operator]
        return int(value * 1_000_000)  # type: ignore[operator]
    return fallback


# -- Claude Code ---------------------------------------------------------------------


class _CacheCreation(msgspec.Struct, gc=False):
    ephemeral_5m_input_tokens: object = None
    ephemeral_1h_input_tokens: object = None


class _OutputDetails(msgspec.Struct, gc=False):
    thinking_tokens: object = None


class _ClaudeUsage(msgspec.Struct, gc=False):
    input_tokens: object = None
    output_tokens: object = None
    cache_creation_input_tokens: object = None
    cache_read_input_tokens: object = None
    cache_creation: _CacheCreation | None = None
    output_tokens_details: _OutputDetails | None = None


class _Block(msgspec.Struct, gc=False):
    type: object = None
    id: object = None


class _ClaudeMessage(msgspec.Struct, gc=False):
    id: object = None
    model: object = None
    usage: _ClaudeUsage | None = None
    content: list[_Block] | str | None = None


class _ClaudeMessageNoContent(msgspec.Struct, gc=False):
    id: object = None
    model: object = None
    usage: _ClaudeUsage | None = None


class _ClaudeLine(msgspec.Struct, gc=False):
    timestamp: object = None
    requestId: object = None
    isSidechain: object = None
    costUSD: object = None
    cwd: object = None
    message: _ClaudeMessage | str | None = None


class _ClaudeLineNoContent(msgspec.Struct, gc=False):
    timestamp: object = None
    requestId: object = None
    isSidechain: object = None
    costUSD: object = None
    cwd: object = None
    message: _ClaudeMessageNoContent | str | None = None


_CLAUDE = msgspec.json.Decoder(_ClaudeLine).decode
_CLAUDE_LENIENT = msgspec.json.Decoder(_ClaudeLineNoContent).decode


def claude_usage(record: Record) -> Usage | None:
    """The usage of a Claude Code transcript line, or None if it carries none."""
    payload = record.payload
    if b'"usage"' not in payload:
        return None
    line: _ClaudeLine | _ClaudeLineNoContent
    try:
        line = _CLAUDE(payload)
    except ERRORS:
        try:  # a content block of an unexpected shape must not lose the usage
            line = _CLAUDE_LENIENT(payload)
        except ERRORS:
            return None
    message = line.message
    if message is None or isinstance(message, str) or message.usage is None:
        return None
    model = message.model
    if type(model) is not str or not model or model.startswith("<"):  # <synthetic>
        return None
    usage = message.usage
    writes = count(usage.cache_creation_input_tokens)
    hour = 0
    split = usage.cache_creation
    if split is not None:
        hour = count(split.ephemeral_1h_input_tokens)
        writes = max(writes, count(split.ephemeral_5m_input_tokens) + hour)
    output = count(usage.output_tokens)
    details = usage.output_tokens_details
    thinking = count(details.thinking_tokens) if details is not None else 0
    tokens: Tokens = (
        count(usage.input_tokens),
        output,
        writes - hour,
        hour,
        count(usage.cache_read_input_tokens),
        min(thinking, output),  # thinking is billed as output, and counted inside it
    )
    message_id = text(message.id)
    request = text(line.requestId)
    # Without a message id a line cannot be told from a repeat: each counts (as ccusage).
    key = f"cc:{message_id}\x00{request or ''}" if message_id else f"cc:#{record.digest}"
    tool_ids: tuple[str, ...] = ()
    content = getattr(message, "content", None)
    if isinstance(content, list):
        tool_ids = tuple(
            block.id
            for block in content
            if block.type == "tool_use" and type(block.id) is str and block.id
        )
    return Usage(
        key=key,
        model=model,
        time_ns=event_time(line.timestamp, record.received_at),
        tokens=tokens,
        cost_pico=dollars(line.costUSD),
        tool_ids=tool_ids,
        cwd=text(line.cwd),
        sidechain=line.isSidechain is True,
        message_id=message_id,
    )


# -- Gemini CLI and Cursor -------------------------------------------------------------


class _GeminiUsage(msgspec.Struct, gc=False):
    promptTokenCount: object = None
    candidatesTokenCount: object = None
    cachedContentTokenCount: object = None
    thoughtsTokenCount: object = None


class _GeminiResponse(msgspec.Struct, gc=False):
    responseId: object = None
    usageMetadata: _GeminiUsage | None = None


class _GeminiEvent(msgspec.Struct, gc=False):
    timestamp: object = None
    cwd: object = None
    llm_request: msgspec.Raw = _EMPTY
    llm_response: _GeminiResponse | None = None


_GEMINI = msgspec.json.Decoder(_GeminiEvent).decode


def gemini_usage(record: Record, run_id: str) -> Usage | None:
    """The usage of a Gemini CLI ``AfterModel`` event (one streamed chunk of a call).

    Chunks of one model call share its request: the call is keyed by the response id
    when there is one, else by a digest of the request, and the largest chunk is kept.
    """
    if record.kind != "AfterModel" or b"usageMetadata" not in record.payload:
        return None
    try:
        event = _GEMINI(record.payload)
    except ERRORS:
        return None
    response = event.llm_response
    if response is None or response.usageMetadata is None:
        return None
    meta = response.usageMetadata
    prompt, cached = count(meta.promptTokenCount), count(meta.cachedContentTokenCount)
    thoughts = count(meta.thoughtsTokenCount)
    tokens: Tokens = (
        max(prompt - cached, 0),
        count(meta.candidatesTokenCount) + thoughts,
        0,
        0,
        min(cached, prompt),
        thoughts,
    )
    request = decode_raw(event.llm_request)
    model = text(request.model) if request is not None else None
    ident = text(response.responseId)
    if ident is None:
        import hashlib

        ident = hashlib.sha256(bytes(event.llm_request)).hexdigest()[:32]
    return Usage(
        key=f"gm:{run_id}\x00{ident}",
        model=model or "",
        time_ns=event_time(event.timestamp, record.received_at),
        tokens=tokens,
        cwd=text(event.cwd),
    )


class _CursorFields(msgspec.Struct, gc=False):
    model: object = None
    workspace_roots: object = None
    cwd: object = None


_CURSOR = msgspec.json.Decoder(_CursorFields).decode


def cursor_run(record: Record) -> tuple[str, str | None]:
    """A Cursor event's model and working directory (its hooks report no tokens)."""
    try:
        fields = _CURSOR(record.payload)
    except ERRORS:
        return "", None
    cwd = text(fields.cwd)
    roots = fields.workspace_roots
    if cwd is None and isinstance(roots, list) and roots:
        cwd = text(roots[0])
    return text(fields.model) or "", cwd
