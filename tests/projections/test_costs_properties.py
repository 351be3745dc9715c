"""Properties of the costs view over random logs that carry usage.

Invariant 8 for the costs view (rebuild == any incremental catch-up), the costs
invariant (a run's steps plus its unattributed remainder equal its total), the
aggregates agreeing with the responses they sum, rows summing to totals, and the
integer rates agreeing with genai-prices' own ``calc_price``.

The logs mix the realistic sessions of :mod:`tests.projections.strategies` with
usage-bearing records of every agent: Claude Code responses as streamed partials and
per-block lines (message and request ids drawn from a small pool, so duplicates
across files and sessions and sidechain replays occur), subagent lines, Codex
rollouts old and new with the hooks that name them, OpenCode messages and parts,
Gemini chunks and Cursor events; then records are repeated, dropped and swapped.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal import payload as journal_payload
from journal.store import LmdbJournal
from journal.writer import Writer
from projections.costreport import BY, report, run_report
from projections.costs import AGG, BUCKET_NS, CostsView, decode_response, split
from projections.pricing import FIELDS, PICO, PriceBook
from projections.state import MemoryState
from tests.projections.costlines import (
    claude_response,
    claude_usage,
    codex_rollout_response,
    codex_token_count,
    codex_usage,
    gemini_chunk,
    opencode_message,
    opencode_part,
)
from tests.projections.strategies import LogEvent, fold, logs, records_of
from tests.projections.viewchecks import catch_up_in_splits, fold_in_batches

Draw = Any
Chunk = list[tuple[str, str, dict[str, Any]]]  # (source, kind, payload) written together
_MODELS = ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-mystery-1"]
_STAMPS = ["2025-11-01T10:00:00.000Z", "2025-11-01T23:59:59.999Z", "2025-11-02T00:10:00Z"]
_SMALL = st.integers(0, 3000)


def _claude(draw: Draw, sid: str) -> list[Chunk]:
    chunks = []
    for _ in range(draw(st.integers(1, 4))):
        agent = draw(st.sampled_from([None, None, "ag1", "ag2"]))
        usage = claude_usage(draw(_SMALL), draw(_SMALL), draw(_SMALL), draw(_SMALL), draw(_SMALL))
        lines = claude_response(
            sid,
            draw(st.sampled_from(["msg_1", "msg_2", "msg_3", "msg_4"])),
            usage,
            model=draw(st.sampled_from(_MODELS)),
            request_id=draw(st.sampled_from(["req_1", "req_2", None])),
            tools=tuple(draw(st.lists(st.sampled_from(["t1", "t2", "t3"]), max_size=2))),
            partials=draw(st.integers(0, 3)),
            agent=agent,
            at=draw(st.sampled_from(_STAMPS)),
            sidechain=draw(st.sampled_from([None, True])),
        )
        chunks.append([("claude-code", "transcript", line) for line in lines])
    return chunks


def _codex(draw: Draw, sid: str) -> list[Chunk]:
    hook = {
        "session_id": sid,
        "transcript_path": f"/c/rollout-{sid}.jsonl",
        "cwd": "/w/cx",
        "model": "gpt-5-codex",
    }
    chunks: list[Chunk] = []
    total = [0, 0, 0, 0]
    first = True
    for turn in range(draw(st.integers(1, 3))):
        turn_id = f"turn-{sid}-{turn}"
        start = {**hook, "hook_event_name": "UserPromptSubmit", "turn_id": turn_id}
        chunks.append([("codex", "UserPromptSubmit", start)])
        lines: list[dict[str, Any]] = []
        if first or draw(st.booleans()):
            lines.append({"type": "session_meta", "payload": {"id": sid, "cwd": "/w/cx"}})
            first = False
        lines.append({"type": "turn_context", "payload": {"turn_id": turn_id, "model": "gpt-5"}})
        for r in range(draw(st.integers(1, 3))):
            call = f"call_{turn}_{r}"
            lines.append(
                {"type": "response_item", "payload": {"type": "function_call", "call_id": call}}
            )
            inp, cached, out = draw(_SMALL), draw(st.integers(0, 500)), draw(_SMALL)
            usage = codex_usage(inp + cached, cached, out, min(out, 7))
            for i, value in enumerate((inp + cached, cached, out, min(out, 7))):
                total[i] += value
            cumulative = codex_usage(*total)
            if draw(st.booleans()):  # Codex >= 0.171
                lines.append(codex_rollout_response(sid, f"resp_{sid}_{turn}_{r}", usage))
            last = usage if draw(st.integers(0, 4)) else None
            lines.append(codex_token_count(last, cumulative))
            if draw(st.integers(0, 3)) == 0:
                lines.append(codex_token_count(last, cumulative))  # repeated
        stop = {**hook, "hook_event_name": "Stop", "turn_id": turn_id}
        chunks.append([("codex", "Stop", stop)])
        cut = draw(st.integers(0, len(lines)))
        chunks.append([("codex", "transcript", line) for line in lines[:cut]])
        chunks.append([("codex", "transcript", line) for line in lines[cut:]])
    return chunks


def _opencode(draw: Draw, sid: str) -> list[Chunk]:
    chunks: list[Chunk] = []
    for m in range(draw(st.integers(1, 2))):
        message = f"msg_{sid}_{m}"
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["message", "step", "tool"]))
            tokens = {
                "input": draw(_SMALL),
                "output": draw(_SMALL),
                "reasoning": draw(st.integers(0, 50)),
                "cache": {"read": draw(_SMALL), "write": draw(_SMALL)},
            }
            cost = draw(st.sampled_from([0.0, 0.01, 0.25]))
            if kind == "message":
                event = opencode_message(sid, message, tokens=tokens, cost=cost)
            elif kind == "step":
                part = {"id": draw(st.sampled_from(["p1", "p2"])), "type": "step-finish"}
                event = opencode_part(sid, message, {**part, "tokens": tokens, "cost": cost})
            else:
                call = draw(st.sampled_from(["c1", "c2"]))
                event = opencode_part(sid, message, {"id": call, "type": "tool", "callID": call})
            chunks.append([("opencode", str(event["type"]), event)])
    return chunks


def _gemini(draw: Draw, sid: str) -> list[Chunk]:
    return [
        [("gemini", "AfterModel", gemini_chunk(sid, "gemini-2.5-pro", draw(_SMALL), c, 5))]
        for c in sorted(draw(st.lists(_SMALL, min_size=1, max_size=3)))
    ]


def _cursor(draw: Draw, sid: str) -> list[Chunk]:
    event = {"conversation_id": sid, "hook_event_name": "stop", "model": "gpt-5"}
    return [[("cursor", "stop", event)] for _ in range(draw(st.integers(1, 2)))]


@st.composite
def usage_logs(draw: Draw) -> list[LogEvent]:
    """Usage-bearing sessions of every agent and realistic noise, with delivery faults."""
    builders = {"claude": _claude, "codex": _codex, "opencode": _opencode}
    builders |= {"gemini": _gemini, "cursor": _cursor}
    streams: list[list[Chunk]] = []
    for i in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(builders)))
        streams.append(builders[name](draw, f"s{i}{name[:2]}"))
    if draw(st.booleans()):
        noise = draw(logs(max_sessions=2))
        streams.append([[(e.source, e.kind, msgspec.json.decode(e.payload))] for e in noise])
    chunks: list[Chunk] = []
    while any(streams):
        pick = draw(st.integers(0, len(streams) - 1))
        if streams[pick]:
            chunks.append(streams[pick].pop(0))
    for at, fault in draw(
        st.lists(
            st.tuples(st.integers(0, 999), st.sampled_from(["dup", "swap", "drop"])), max_size=3
        )
    ):
        if not chunks:
            break
        i = at % len(chunks)
        if fault == "dup":
            chunks.insert(draw(st.integers(i, len(chunks))), chunks[i])
        elif fault == "drop":
            del chunks[i]
        elif i + 1 < len(chunks):
            chunks[i], chunks[i + 1] = chunks[i + 1], chunks[i]
    now = 1_780_000_000 * 1_000_000_000
    out = []
    for chunk in chunks:
        now += draw(st.sampled_from([1_000_000, 900 * 10**9, 3 * 3600 * 10**9]))
        for source, kind, payload in chunk:  # one capture: one received_at
            out.append(LogEvent(source, kind, msgspec.json.encode(payload), now))
    return out


_PRICES = PriceBook()


def reloaded(state: MemoryState) -> MemoryState:
    """The same state as new bytes objects, as a reopened LMDB environment returns it."""
    copy = MemoryState()
    copy.data = {bytes(bytearray(k)): bytes(bytearray(v)) for k, v in state.data.items()}
    return copy


def append(journal: LmdbJournal, events: list[LogEvent]) -> None:
    """Append ``events`` with their own received_at, in one write transaction."""
    if not events:
        return

    def work(writer: Writer) -> None:
        for event in events:
            stored = journal_payload.validate(event.payload)
            writer.append(
                stored, event.source.encode(), event.kind.encode(), b"", event.received_at
            )

    journal.write(work)


def _view() -> CostsView:
    return CostsView(_PRICES)


# Real usage logs are long: the smallest one is a session's worth of records.
_LARGE = settings(suppress_health_check=[HealthCheck.large_base_example, HealthCheck.too_slow])


@_LARGE
@given(usage_logs(), st.lists(st.integers(0, 40), max_size=6))
def test_a_costs_fold_in_any_batches_with_restarts_equals_one_fold(events, cuts):
    """Folding in batches, with new view objects and a reloaded state between, changes nothing."""
    fold_in_batches(records_of(events), cuts, _view)


@settings(max_examples=20)
@given(
    usage_logs(),
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 20)), min_size=1, max_size=4),
    st.integers(1, 9),
)
def test_costs_catch_up_in_random_splits_equals_a_rebuild(events, plan, batch):
    """Invariants 7 and 8 for the costs view: interrupted catch-ups end where a rebuild does."""
    catch_up_in_splits(events, plan, batch, _view)


def _responses(state: MemoryState) -> list[Any]:
    return [decode_response(v) for k, v in state.data.items() if k.startswith(b"r:")]


@_LARGE
@given(usage_logs())
def test_a_runs_steps_plus_its_remainder_equal_its_total(events):
    """For every run: the steps' shares plus the responses that issued no tool call
    (summed from the stored responses) equal the run's total (from the aggregates)."""
    state = fold(records_of(events), _view())
    responses = _responses(state)
    runs = {row["key"] for row in report(state, by="run").to_dict()["rows"]}
    for run in runs:
        found = run_report(state, run, [])
        plain = [r for r in responses if r.run == run and not r.tool_ids]
        for i, field in enumerate(FIELDS):
            # None: a run whose agent reports no tokens (Cursor): no steps, no remainder
            steps = sum(step[field] for step in found["steps"])
            rest, total = found["unattributed"][field] or 0, found["totals"][field] or 0
            assert steps + rest == total, (run, field)
            assert rest == sum(r.tokens[i] for r in plain), (run, field)
        want = sum(r.pico for r in plain if r.src in "cp") / PICO
        assert abs((found["unattributed"]["cost_usd"] or 0) - want) < 1e-12, run


@_LARGE
@given(usage_logs())
def test_the_aggregates_are_the_sums_of_their_responses(events):
    """Every aggregate equals the sum of the stored responses in its bucket, run, model and
    cost source: the deltas a growing usage applies never drift."""
    state = fold(records_of(events), _view())
    sums: dict[tuple[int, str, str, str], list[int]] = {}
    for r in _responses(state):
        group = (max(r.time_ns, 0) // BUCKET_NS, r.run, r.model, r.src)
        acc = sums.setdefault(group, [0] * 9)
        acc[0] += 1
        for i in range(6):
            acc[i + 1] += r.tokens[i]
        acc[7] += r.pico
    stored = {}
    for key, value in state.data.items():
        if key.startswith(b"a:"):
            values = list(AGG.unpack(value))
            run, model, src = key[6:].decode().rsplit("\x00", 2)
            if src != "x":
                stored[(int.from_bytes(key[2:6], "big"), run, model, src)] = values
    assert stored == sums


@_LARGE
@given(usage_logs(), st.sampled_from(BY))
def test_rows_add_up_to_the_totals(events, by):
    """Summing any grouping's rows gives the totals, token for token and to the picodollar."""
    state = fold(records_of(events), _view())
    data = report(state, by=by, project_of=lambda cwd: cwd).to_dict()
    for field in FIELDS:  # None: tokens unknown (Cursor), nothing to add
        assert sum(r[field] or 0 for r in data["rows"]) == (data["totals"][field] or 0)
    cost = sum(Decimal(str(r["cost_usd"] or 0)) for r in data["rows"])
    assert abs(cost - Decimal(str(data["totals"]["cost_usd"] or 0))) < Decimal("1e-9")


@given(st.integers(1, 9), st.integers(0, 500))
def test_split_shares_sum_to_the_whole(parts, value):
    """A response divided among its tool calls loses and invents nothing."""
    shares = split(value, parts)
    assert sum(shares) == value
    assert max(shares) - min(shares) <= 1


_PRICED = [
    ("claude-sonnet-4-5-20250929", "anthropic"),
    ("claude-opus-4-1-20250805", "anthropic"),
    ("gpt-5-codex", "openai"),
    ("gpt-5.5", "openai"),
    ("gemini-2.5-pro", "google"),
]


@given(
    st.sampled_from(_PRICED),
    st.lists(st.integers(0, 400_000), min_size=5, max_size=5),
    st.integers(0, 100),
    st.integers(0, 700),
)
def test_the_rates_price_exactly_as_genai_prices(model, counts, reasoning_pct, day):
    """Integer rates per (model, day) give genai-prices' calc_price, to the picodollar,
    tiers (a request's total input over 200k) included."""
    from genai_prices import Usage, calc_price

    name, provider = model
    inp, out, w5, w1, read = counts
    reasoning = out * reasoning_pct // 100
    when = datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC) + datetime.timedelta(days=day)
    usage = Usage(
        input_tokens=inp + w5 + w1 + read,
        output_tokens=out,
        cache_write_tokens=w5 + w1,
        cache_write_5m_tokens=w5,
        cache_write_1h_tokens=w1,
        cache_read_tokens=read,
        output_reasoning_tokens=reasoning,
    )
    want = calc_price(usage, name, provider_id=provider, genai_request_timestamp=when)
    time_ns = int(when.timestamp()) * 10**9
    got = _PRICES.cost("x", provider, name, time_ns, (inp, out, w5, w1, read, reasoning))
    assert got is not None
    assert abs(got - want.total_price * PICO) <= 1
