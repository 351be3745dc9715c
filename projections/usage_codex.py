"""Codex usage: rollout lines decoded, and placed in their run.

Rollout lines (kind ``transcript``, source ``codex``) report usage twice over in
Codex 0.171: a ``token_usage_record`` per model response (``response_id``, the thread
id, ``usage``) and a ``token_count`` event after it with the same usage as
``last_token_usage``. Older Codex writes only ``token_count``. So a response is a
``token_usage_record``, or a ``token_count`` that follows no record of its own;
``total_token_usage`` (and ``turn.completed.usage``) are cumulative over a resumed
thread and are never summed: the total only tells a repeated event from a new one
(and stands in for a missing ``last_token_usage`` as the difference of two totals).
OpenAI-style usage counts cache reads (``cached_input_tokens``) and writes
(``cache_write_input_tokens``) inside ``input_tokens``, reasoning inside output.

Most lines carry no session id, so :func:`place` puts a line in a run by, in
order: its own thread id (``session_meta``, ``token_usage_record``), a turn id that a
hook event of the run named, the capture it arrived in (the lines of one capture
share a ``received_at``, and an imported file's next chunk follows on in ``seq``),
else the run of the latest Codex hook event that named its rollout (a capture follows
the event that triggered it). The model is the
run's last ``turn_context`` model (else its hooks' ``model``); tool calls
(``function_call`` and kin) belong to the next response of their run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from .costkeys import UNATTRIBUTED, key_bytes
from .identity import MAX_RUN_ID_BYTES, event_of, ident, text
from .usage import ERRORS, Usage, count, event_time

if TYPE_CHECKING:
    from journal.records import Record

    from .pricing import Tokens
    from .view import State

__all__ = [
    "CodexHook",
    "CodexLine",
    "codex_hook",
    "codex_line",
    "hook_facts",
    "place",
    "rollout_usage",
]


class _CodexTokens(msgspec.Struct, gc=False):
    input_tokens: object = None
    cached_input_tokens: object = None
    cache_write_input_tokens: object = None
    output_tokens: object = None
    reasoning_output_tokens: object = None


class _CodexInfo(msgspec.Struct, gc=False):
    total_token_usage: _CodexTokens | None = None
    last_token_usage: _CodexTokens | None = None


class _CodexPayload(msgspec.Struct, gc=False):
    type: object = None
    id: object = None
    thread_id: object = None
    session_id: object = None
    response_id: object = None
    cwd: object = None
    model: object = None
    turn_id: object = None
    call_id: object = None
    info: _CodexInfo | None = None
    usage: _CodexTokens | None = None


class _CodexLine(msgspec.Struct, gc=False):
    timestamp: object = None
    type: object = None
    payload: _CodexPayload | None = None


_CODEX = msgspec.json.Decoder(_CodexLine).decode
_CODEX_MARKS = (
    b'"token_usage_record"',
    b'"token_count"',
    b'"turn_context"',
    b'"session_meta"',
    b'"call_id"',
    b'"turn_id"',
)
_CODEX_CALLS = frozenset({"function_call", "custom_tool_call", "local_shell_call"})


class CodexLine(msgspec.Struct, gc=False):
    """What a Codex rollout line says to the costs view (one of the optional parts).

    ``session_id``: the thread id (``session_meta``, ``token_usage_record``);
    ``turn_id`` / ``model``: a ``turn_context`` (or any event naming its turn);
    ``call_id``: a tool call the next response accounts for; ``tokens``: one
    response, from a ``token_usage_record`` (``response_id`` set) or a ``token_count``
    with ``last_token_usage`` (``total``: its cumulative total, to skip a repeat).
    """

    time_ns: int
    session_id: str | None = None
    response_id: str | None = None
    turn_id: str | None = None
    model: str | None = None
    cwd: str | None = None
    call_id: str | None = None
    tokens: Tokens | None = None
    total: tuple[int, int, int, int] | None = None


def _codex_tokens(usage: _CodexTokens) -> Tokens:
    """OpenAI-style usage: cache reads (and writes) are inside the input, reasoning
    inside the output."""
    cached = count(usage.cached_input_tokens)
    written = count(usage.cache_write_input_tokens)
    output = count(usage.output_tokens)
    return (
        max(count(usage.input_tokens) - cached - written, 0),
        output,
        written,
        0,
        cached,
        min(count(usage.reasoning_output_tokens), output),
    )


def codex_line(record: Record) -> CodexLine | None:
    """Decode a Codex rollout line, or None if it says nothing the costs view uses."""
    payload = record.payload
    if not any(mark in payload for mark in _CODEX_MARKS):
        return None
    try:
        line = _CODEX(payload)
    except ERRORS:
        return None
    body = line.payload
    if body is None:
        return None
    out = CodexLine(time_ns=event_time(line.timestamp, record.received_at))
    kind, inner = line.type, body.type
    if kind == "session_meta":
        out.session_id = text(body.id)
        out.cwd = text(body.cwd)
    elif kind == "token_usage_record":
        out.session_id = text(body.thread_id) or text(body.session_id)
        out.turn_id = text(body.turn_id)
        out.response_id = text(body.response_id)
        if body.usage is None or out.response_id is None:
            return None
        out.tokens = _codex_tokens(body.usage)
    elif kind == "turn_context":
        out.turn_id = text(body.turn_id)
        out.model = text(body.model)
        out.cwd = text(body.cwd)
    elif kind == "response_item" and inner in _CODEX_CALLS:
        out.call_id = text(body.call_id)
    elif kind == "event_msg" and inner == "token_count":
        info = body.info
        if info is None:
            return None  # a rate-limit update only
        total = info.total_token_usage
        if total is not None:
            out.total = (
                count(total.input_tokens),
                count(total.cached_input_tokens),
                count(total.output_tokens),
                count(total.reasoning_output_tokens),
            )
        if info.last_token_usage is not None:
            out.tokens = _codex_tokens(info.last_token_usage)
        elif out.total is None:
            return None
    elif kind == "event_msg":
        out.turn_id = text(body.turn_id)
    if out == CodexLine(time_ns=out.time_ns):
        return None
    return out


class _CodexHookFields(msgspec.Struct, gc=False):
    transcript_path: object = None
    turn_id: object = None
    model: object = None
    cwd: object = None


_CODEX_HOOK = msgspec.json.Decoder(_CodexHookFields).decode


class CodexHook(msgspec.Struct, gc=False):
    """A Codex hook event's ties to its rollout: does it name one, its turn, model, cwd."""

    names_rollout: bool
    turn_id: str | None
    model: str | None
    cwd: str | None


def codex_hook(record: Record) -> CodexHook | None:
    """The rollout-related fields of a Codex hook event (None if undecodable)."""
    try:
        hook = _CODEX_HOOK(record.payload)
    except ERRORS:
        return None
    return CodexHook(
        names_rollout=text(hook.transcript_path) is not None,
        turn_id=text(hook.turn_id),
        model=text(hook.model),
        cwd=text(hook.cwd),
    )


# -- placing rollout lines in their runs ----------------------------------------------


class _Context(msgspec.Struct, array_like=True, gc=False, tag="projections.cost.codex"):
    """A Codex run's state in the costs view (``k:RUN``)."""

    model: str | None = None
    hook_model: str | None = None
    total: tuple[int, int, int, int] | None = None
    calls: list[str] = msgspec.field(default_factory=list)
    records: int = 0


_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder(_Context).decode
_DECODE_CHUNK = msgspec.msgpack.Decoder(tuple[int, int, str]).decode


def _chunk(state: State, record: Record) -> tuple[bytes, str | None]:
    """The state key of the current capture, and its run if this line continues it."""
    key = b"x:" + record.source.encode()
    raw = state.get(key)
    if raw is None:
        return key, None
    at, seq, run = _DECODE_CHUNK(raw)
    # One capture's lines share a received_at; a file imported in several chunks
    # follows on in seq.
    return key, (run if at == record.received_at or seq + 1 == record.seq else None)


def follow(state: State, record: Record) -> None:
    """Keep a line the costs view does not read in its capture's run (the chain of
    ``seq`` continuity must not break on it)."""
    key, run = _chunk(state, record)
    if run is not None:
        state.put(key, _ENCODE((record.received_at, record.seq, run)))


def place(state: State, record: Record, session: str | None, turn: str | None) -> str:
    """The run a rollout line belongs to (module docstring: the order of the rules)."""
    source = record.source
    run: str | None = None
    if session is not None and ident(session) is not None:
        run = f"{source}/{session}"
    if run is None and turn is not None:
        found = state.get(b"u:" + key_bytes(turn))
        run = bytes(found).decode() if found is not None else None
    chunk_key, chunk_run = _chunk(state, record)
    if run is None:
        run = chunk_run
    if run is None:
        found = state.get(b"h:" + source.encode())
        run = bytes(found).decode() if found is not None else f"{source}/{UNATTRIBUTED}"
    if len(run.encode()) > MAX_RUN_ID_BYTES:
        run = f"{source}/{UNATTRIBUTED}"
    state.put(chunk_key, _ENCODE((record.received_at, record.seq, run)))
    return run


def _delta(total: tuple[int, int, int, int], before: tuple[int, int, int, int]) -> Tokens | None:
    """One response from two cumulative totals (when a rollout has no last usage)."""
    if any(now < then for now, then in zip(total, before, strict=True)):
        return None  # a new thread's totals: nothing to subtract from
    inp, cached, out, reasoning = (now - then for now, then in zip(total, before, strict=True))
    return (max(inp - cached, 0), out, 0, 0, cached, min(reasoning, out))


def rollout_usage(
    state: State, record: Record, seen: Callable[[str], bool]
) -> tuple[str, str | None, Usage | None] | None:
    """Fold a rollout line's context; return (run, cwd, the response it reports).

    ``seen`` says whether a response key is counted already (a forked or resumed
    thread repeats its parent's lines, byte for byte). None: the line says nothing
    the costs view uses.
    """
    line = codex_line(record)
    if line is None:
        follow(state, record)
        return None
    run = place(state, record, line.session_id, line.turn_id)
    ctx_key = b"k:" + run.encode()
    raw = state.get(ctx_key)
    ctx = _DECODE(raw) if raw is not None else _Context()
    changed = False
    if line.model is not None and ctx.model != line.model:
        ctx.model, changed = line.model, True
    if line.call_id is not None and line.call_id not in ctx.calls:
        ctx.calls.append(line.call_id)
        changed = True
    key: str | None = None
    tokens = line.tokens
    if line.response_id is not None:
        # The token_count event that follows a token_usage_record repeats its usage.
        key, ctx.records, changed = f"cx:{line.response_id}", ctx.records + 1, True
    elif tokens is not None or line.total is not None:
        repeated = line.total is not None and line.total == ctx.total
        if tokens is None and line.total is not None and ctx.total is not None:
            tokens = _delta(line.total, ctx.total)
        if line.total is not None and line.total != ctx.total:
            ctx.total, changed = line.total, True
        if ctx.records:
            ctx.records, changed = ctx.records - 1, True
        elif not repeated:
            key = f"cx:{record.digest}"
    usage = None
    if key is not None and tokens is not None and not seen(key):
        usage = Usage(
            key=key,
            model=ctx.model or ctx.hook_model or "",
            time_ns=line.time_ns,
            tokens=tokens,
            tool_ids=tuple(ctx.calls),
        )
        ctx.calls, changed = [], True
    if changed:
        state.put(ctx_key, _ENCODE(ctx))
    return run, line.cwd, usage


def hook_facts(state: State, record: Record) -> tuple[str, str | None, str | None] | None:
    """Fold what a Codex hook event says about its rollout; return (run, cwd, parent)."""
    ev = event_of(record)
    if ev is None:
        return None
    hook = codex_hook(record)
    if hook is None:
        return None
    run = ev.run_id
    run_b = run.encode()
    if hook.names_rollout:
        latest = b"h:" + record.source.encode()
        if state.get(latest) != run_b:
            state.put(latest, run_b)
    if hook.turn_id is not None:
        turn = b"u:" + key_bytes(hook.turn_id)
        if state.get(turn) is None:
            state.put(turn, run_b)
    if hook.model is not None:
        ctx_key = b"k:" + run_b
        raw = state.get(ctx_key)
        ctx = _DECODE(raw) if raw is not None else _Context()
        if ctx.hook_model != hook.model:
            ctx.hook_model = hook.model
            state.put(ctx_key, _ENCODE(ctx))
    return run, hook.cwd, ev.parent_run_id
