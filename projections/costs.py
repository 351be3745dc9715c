"""The costs view: tokens and dollars of every API response, folded from the log.

Each response is counted once (:mod:`projections.usage` says what identifies one per
agent) and kept with its largest usage: a streamed partial or a line per content
block only ever replaces the response's usage by a larger one, and every change
moves the response's share of the aggregates by the difference. The fold prices each
response as it goes (:class:`projections.pricing.PriceBook`, genai-prices' bundled
dated prices) and keeps the picodollars, so queries never price anything; the price
data's version is part of :attr:`CostsView.version`, so new prices rebuild the view.

Every response carries ``cost_source``: ``provider`` (the agent reported the cost:
OpenCode ``cost``, Claude Code's older ``costUSD``), ``computed`` (priced here), or
``unpriced`` (a model genai-prices does not know: tokens kept, dollars unknown, never
$0). Cursor reports no tokens at all: its runs are recorded as *tokens unknown*.

Runs are the runs view's (:func:`projections.identity.event_of`): a subagent's
transcript lines belong to its child run. Codex rollout lines carry no session id;
a line is placed by, in order: its own ``session_meta`` id, a turn id a hook event of
that run named, the capture chunk it arrived in (every line of one capture shares a
``received_at``), else the run of the latest Codex hook event that named its rollout
(the capture follows that event).

State keys (the table with values is in ``docs/reference/views.md``): ``r:KEY`` a
response; ``m:MESSAGE_ID`` the first non-sidechain response of a Claude message;
``a:BUCKET RUN \\0 MODEL \\0 SRC`` the sums per 15-minute UTC bucket, run, model and
cost source; ``d:DAY SOURCE \\0 MODEL \\0 SRC`` the same per UTC day and agent (what
``--by day`` and ``--by model`` read); ``s:RUN \\0 KEY`` the run's responses that
issued tool calls; ``w:RUN`` the run's cwd, parent and whether its tokens are unknown;
``q:PROVIDER \\0 MODEL`` how long one price of a model holds (``-``: unknown
model) and ``p:PROVIDER \\0 MODEL \\0 PERIOD`` its rates then, so that folding
later responses of known models needs no genai-prices; and for Codex ``x:SOURCE``
(the current capture chunk), ``h:SOURCE`` (the run of the latest hook naming a
rollout), ``u:TURN_ID`` (a turn's run) and ``k:RUN`` (a run's model, its last
cumulative total and the tool calls awaiting their response).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import msgspec

from .costkeys import (
    AGG,
    AGG_PREFIX,
    BUCKET,
    BUCKET_NS,
    CODE_VERSION,
    DAY,
    DAY_NS,
    DAY_PREFIX,
    SOURCES,
    UNATTRIBUTED,
    key_bytes,
    source_of,
    split,
    view_version,
)
from .identity import TRANSCRIPT_KIND, event_of
from .pricing import PriceBook, Rates, Tokens
from .view import View

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from journal.records import Record

    from .usage import Usage
    from .view import State

__all__ = [
    "AGG",
    "BUCKET",
    "BUCKET_NS",
    "CODE_VERSION",
    "SOURCES",
    "CostsView",
    "RunInfo",
    "decode_response",
    "decode_run",
    "split",
]

_ZERO: Tokens = (0, 0, 0, 0, 0, 0)


class Response(msgspec.Struct, array_like=True, gc=False, tag="projections.cost.response"):
    """One API response as counted: the usage kept, and its cost."""

    run: str
    model: str
    time_ns: int
    tokens: Tokens
    src: str
    pico: int
    tool_ids: list[str] = msgspec.field(default_factory=list)
    provider: str | None = None
    reported: int | None = None
    sidechain: bool = False
    #: OpenCode: each step-finish part's tokens and reported cost, and the message's own.
    parts: dict[str, tuple[Tokens, int | None]] | None = None
    message: tuple[Tokens, int | None] | None = None


class RunInfo(msgspec.Struct, array_like=True, gc=False, tag="projections.cost.run"):
    """What the costs view keeps of a run besides its responses."""

    cwd: str | None = None
    parent: str | None = None
    unknown: bool = False


_ENCODE = msgspec.msgpack.Encoder().encode
decode_response = msgspec.msgpack.Decoder(Response).decode
decode_run = msgspec.msgpack.Decoder(RunInfo).decode
_decode_bands = msgspec.msgpack.Decoder(
    list[tuple[int, tuple[int, int, int, int, int, int], int]]
).decode


def _total(tokens: Tokens) -> int:
    """What "largest usage" compares: every billed token (reasoning is inside output)."""
    return tokens[0] + tokens[1] + tokens[2] + tokens[3] + tokens[4]


def _sum(rows: list[tuple[Tokens, int | None]]) -> tuple[Tokens, int | None]:
    tokens = tuple(sum(t[i] for t, _ in rows) for i in range(6))
    costs = [c for _, c in rows if c is not None]
    return tokens, (sum(costs) if costs else None)  # type: ignore[return-value]


class CostsView(View):
    """Tokens and dollars per response; see the module docstring."""

    name: ClassVar[str] = "costs"
    version: ClassVar[int] = view_version()
    kinds: ClassVar[frozenset[str] | None] = None

    def __init__(self, prices: PriceBook | None = None) -> None:
        self.prices = prices or PriceBook()
        self._decoded: dict[bytes, Rates | None] = {}
        # The decoders are imported on the first record folded: a command that only
        # reads other views (``journal runs``) never pays for them.
        self._usage: ModuleType | None = None

    def _load(self) -> ModuleType:
        from . import usage, usage_codex, usage_opencode

        self._codex_mod, self._oc_mod = usage_codex, usage_opencode
        self._usage = usage
        return usage

    # -- the fold ----------------------------------------------------------------

    def apply(self, state: State, record: Record) -> None:
        """Fold one record's usage (or the context that places it) into the state."""
        source, kind = record.source, record.kind
        usage = self._usage or self._load()
        if kind == TRANSCRIPT_KIND:
            if source == "codex":
                self._codex_line(state, record)
            else:
                found = usage.claude_usage(record)
                if found is not None:
                    self._claude(state, record, found)
        elif source == "claude-code":
            return  # hooks: the transcript lines carry the tokens (never a Task's usage)
        elif source == "codex":
            self._codex_hook(state, record)
        elif source == "opencode":
            self._opencode(state, record)
        elif source == "gemini":
            if kind == "AfterModel":
                self._gemini(state, record)
        elif source == "cursor":
            self._cursor(state, record)

    def _run_of(self, record: Record) -> str:
        ev = event_of(record)
        return ev.run_id if ev is not None else f"{record.source}/{UNATTRIBUTED}"

    def _claude(self, state: State, record: Record, usage: Usage) -> None:
        key = usage.key
        old = self._get(state, key)
        if old is None and usage.message_id is not None:
            first = state.get(b"m:" + key_bytes(usage.message_id))
            if first is None:
                if not usage.sidechain:
                    state.put(b"m:" + key_bytes(usage.message_id), key_bytes(key))
            elif usage.sidechain and bytes(first) != key_bytes(key):
                return  # a sidechain replay of a response counted already
        if old is None:
            run = self._run_of(record)
            self._touch_run(state, run, usage.cwd)
        else:
            run = old.run
        self._merge(state, record, key, old, run, usage)

    def _merge(
        self, state: State, record: Record, key: str, old: Response | None, run: str, usage: Usage
    ) -> None:
        """Keep the larger of the stored and the new usage; union the tool calls."""
        if old is None:
            new = Response(
                run=run,
                model=usage.model,
                time_ns=usage.time_ns,
                tokens=usage.tokens,
                src="u",
                pico=0,
                tool_ids=list(dict.fromkeys(usage.tool_ids)),
                provider=usage.provider,
                reported=usage.cost_pico,
                sidechain=usage.sidechain,
            )
        else:
            calls = list(dict.fromkeys((*old.tool_ids, *usage.tool_ids)))
            if _total(usage.tokens) > _total(old.tokens):
                new = msgspec.structs.replace(
                    old,
                    model=usage.model,
                    time_ns=usage.time_ns,
                    tokens=usage.tokens,
                    reported=usage.cost_pico,
                    tool_ids=calls,
                )
            elif len(calls) != len(old.tool_ids):
                new = msgspec.structs.replace(old, tool_ids=calls)
            else:
                return
        self._settle(state, record, key, old, new)

    def _settle(
        self, state: State, record: Record, key: str, old: Response | None, new: Response
    ) -> None:
        """Price ``new``, store it, and move the aggregates from ``old`` to it."""
        reported = new.reported
        priced_as_before = (
            old is not None
            and old.tokens == new.tokens
            and old.model == new.model
            and old.provider == new.provider
            and old.time_ns == new.time_ns
            and old.reported == reported
        )
        if priced_as_before:  # only its tool calls changed (a line per content block)
            new.src, new.pico = old.src, old.pico  # type: ignore[union-attr]
        elif reported is not None and (reported > 0 or _total(new.tokens) == 0):
            new.src, new.pico = "p", reported
        else:
            rates = self._rates(state, record.source, new)
            new.src, new.pico = ("u", 0) if rates is None else ("c", rates.pico(new.tokens))
        if old is not None:
            if old == new:
                return
            if not priced_as_before:
                _move(state, old, new)
        else:
            _add(state, _agg_keys(new), 1, new.tokens, new.pico)
        if new.tool_ids and (old is None or not old.tool_ids):
            state.put(b"s:" + new.run.encode() + b"\x00" + key_bytes(key), b"")
        state.put(b"r:" + key_bytes(key), _ENCODE(new))

    def _rates(self, state: State, source: str, row: Response) -> Rates | None:
        """The rates ``row`` is priced at, remembered in the state per model and day
        (``q:``, ``p:``): a catch-up whose new responses are of models and days seen
        before never imports genai-prices (~0.4 s, and ~1 s to load its data)."""
        hint = self.prices.hint(source, row.provider)
        name = key_bytes(f"{hint or ''}\x00{row.model}")
        timing = state.get(b"q:" + name)
        if timing is None:
            found = self.prices.timing(hint, row.model)
            timing = b"-" if found is None else str(found).encode()
            state.put(b"q:" + name, timing)
        if timing == b"-":
            return None
        span = int(timing)
        at = b"p:" + key_bytes(f"{hint or ''}\x00{row.model}\x00{row.time_ns // span}")
        raw = state.get(at)
        if raw is None:
            rates = self.prices.rates(hint, row.model, row.time_ns)
            raw = b"" if rates is None else _ENCODE(rates.bands)
            state.put(at, raw)
        raw = bytes(raw)
        if raw in self._decoded:
            return self._decoded[raw]
        rates = self._decoded[raw] = Rates(_decode_bands(raw)) if raw else None
        return rates

    def _seen(self, state: State) -> Callable[[str], bool]:
        """Whether a response key is counted already, in ``state``."""
        return lambda key: state.get(b"r:" + key_bytes(key)) is not None

    def _get(self, state: State, key: str) -> Response | None:
        raw = state.get(b"r:" + key_bytes(key))
        return decode_response(raw) if raw is not None else None

    def _touch_run(
        self,
        state: State,
        run: str,
        cwd: str | None,
        *,
        parent: str | None = None,
        unknown: bool = False,
    ) -> RunInfo | None:
        """Record a run's cwd / parent / unknown tokens the first time they are seen.

        Returns the stored info when this call created it as ``unknown`` (Cursor).
        """
        key = b"w:" + run.encode()
        raw = state.get(key)
        info = decode_run(raw) if raw is not None else RunInfo()
        changed = raw is None  # every run the view has seen has a row: its index
        if info.cwd is None and cwd is not None:
            info.cwd, changed = cwd, True
        if info.parent is None and parent is not None:
            info.parent, changed = parent, True
        created_unknown = unknown and not info.unknown
        if created_unknown:
            info.unknown, changed = True, True
        if changed:
            state.put(key, _ENCODE(info))
        return info if created_unknown else None

    # -- Codex, OpenCode, Gemini, Cursor ------------------------------------------

    def _codex_line(self, state: State, record: Record) -> None:
        found = self._codex_mod.rollout_usage(state, record, self._seen(state))
        if found is None:
            return
        run, cwd, usage = found
        if cwd is not None or usage is not None:
            self._touch_run(state, run, cwd)
        if usage is not None:
            self._merge(state, record, usage.key, None, run, usage)

    def _codex_hook(self, state: State, record: Record) -> None:
        found = self._codex_mod.hook_facts(state, record)
        if found is not None and (found[1] is not None or found[2] is not None):
            self._touch_run(state, found[0], found[1], parent=found[2])

    def _opencode(self, state: State, record: Record) -> None:
        found = self._oc_mod.opencode_usage(record)
        if found is None:
            return
        ev = event_of(record)
        run = ev.run_id if ev is not None else f"{record.source}/{UNATTRIBUTED}"
        if isinstance(found, self._oc_mod.OcSession):
            parent = f"{record.source}/{found.parent_id}" if found.parent_id else None
            if parent is not None and parent != run:
                self._touch_run(state, run, found.directory, parent=parent)
            elif found.directory is not None:
                self._touch_run(state, run, found.directory)
            return
        key = found.key
        old = self._get(state, key)
        new = (
            msgspec.structs.replace(old, tool_ids=list(old.tool_ids))
            if old is not None
            else Response(run=run, model="", time_ns=found.time_ns, tokens=_ZERO, src="u", pico=0)
        )
        if found.part is not None:
            parts = dict(new.parts or {})
            kept = parts.get(found.part)
            if kept is None or _total(found.tokens) > _total(kept[0]):
                parts[found.part] = (found.tokens, found.cost_pico)
            new.parts = parts
        elif found.tool_ids:
            new.tool_ids = list(dict.fromkeys((*new.tool_ids, *found.tool_ids)))
        else:  # the message itself: its model, provider, time, its own totals
            new.model, new.provider, new.time_ns = found.model, found.provider, found.time_ns
            kept = new.message
            if kept is None or _total(found.tokens) >= _total(kept[0]):
                new.message = (found.tokens, found.cost_pico)
            self._touch_run(state, run, found.cwd)
        # A message's steps are its model calls; its own totals only stand in for them
        # until a step-finish arrives.
        if new.parts:
            new.tokens, new.reported = _sum(list(new.parts.values()))
        elif new.message is not None:
            new.tokens, new.reported = new.message
        self._settle(state, record, key, old, new)

    def _gemini(self, state: State, record: Record) -> None:
        run = self._run_of(record)
        found = self._usage.gemini_usage(record, run)  # type: ignore[union-attr]
        if found is None:
            return
        old = self._get(state, found.key)
        if old is None:
            self._touch_run(state, run, found.cwd)
        self._merge(state, record, found.key, old, old.run if old else run, found)

    def _cursor(self, state: State, record: Record) -> None:
        ev = event_of(record)
        if ev is None:
            return
        model, cwd = self._usage.cursor_run(record)  # type: ignore[union-attr]
        if self._touch_run(state, ev.run_id, cwd, unknown=True) is None:
            return
        empty = Response(
            run=ev.run_id, model=model, time_ns=record.received_at, tokens=_ZERO, src="x", pico=0
        )
        _add(state, _agg_keys(empty), 0, _ZERO, 0, unknown=1)


def _agg_keys(row: Response) -> tuple[bytes, bytes]:
    """A response's per-run aggregate key (``a:``) and per-day one (``d:``)."""
    bucket = min(max(row.time_ns, 0) // BUCKET_NS, 0xFFFFFFFF)
    tail = b"\x00" + row.model.replace("\x00", "").encode()[:200] + b"\x00" + row.src.encode()
    run = row.run.encode()
    day = bucket * BUCKET_NS // DAY_NS
    return (
        AGG_PREFIX + BUCKET.pack(bucket) + run + tail,
        DAY_PREFIX + DAY.pack(day) + source_of(row.run).encode() + tail,
    )


def _move(state: State, old: Response, new: Response) -> None:
    """Replace a response's share of the aggregates (one update when its keys stay)."""
    keys = _agg_keys(new)
    before = _agg_keys(old)
    if keys != before:
        _add(state, before, -1, old.tokens, -old.pico)
        _add(state, keys, 1, new.tokens, new.pico)
        return
    delta = tuple(n - o for n, o in zip(new.tokens, old.tokens, strict=True))
    _add(state, keys, 0, delta, new.pico - old.pico)  # type: ignore[arg-type]


def _add(
    state: State,
    keys: tuple[bytes, bytes],
    responses: int,
    tokens: Tokens,
    pico: int,
    *,
    unknown: int = 0,
) -> None:
    """Add (or with negative counts, remove) one contribution to both aggregates."""
    sign = 1 if responses >= 0 else -1
    for key in keys:
        raw = state.get(key)
        values = list(AGG.unpack(raw)) if raw is not None else [0] * 9
        values[0] += responses
        for i in range(6):
            values[i + 1] += sign * tokens[i]
        values[7] += pico
        values[8] += unknown
        if any(values):
            state.put(key, AGG.pack(*values))
        elif raw is not None:
            state.delete(key)
