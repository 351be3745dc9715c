"""The per-day aggregates and the warm read of ``journal costs``.

``--by day`` (UTC) and ``--by model`` are answered from the per-day aggregates
(``d:``); everything else from the per-run ones (``a:``). Both must hold the same
sums, so both answers are the same report. The warm read
(:func:`projections.costfast.warm_report`) answers from a current view with LMDB
alone, and must give what the engine path gives, and nothing for a view that lags.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import zoneinfo
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal.store import LmdbJournal
from projections.costfast import warm_report
from projections.costgroups import Filter, summarises
from projections.costkeys import AGG, BUCKET_NS, DAY_NS, view_version
from projections.costqueries import costs
from projections.costreport import report
from projections.costs import CostsView
from projections.engine import Views
from projections.pricing import PriceBook, PriceFile, Rates
from projections.state import MemoryState
from tests.projections.costlines import (
    claude_response,
    claude_usage,
    codex_rollout_response,
    codex_usage,
    opencode_message,
)
from tests.projections.strategies import LogEvent, fold, records_of
from tests.projections.test_costs_properties import usage_logs

_PRICES = PriceBook()
_LARGE = settings(suppress_health_check=[HealthCheck.large_base_example, HealthCheck.too_slow])
# UTC under another name: the same days, but not datetime.UTC, so the report takes
# the per-run aggregates.
_UTC_BY_RUNS = zoneinfo.ZoneInfo("Etc/UTC")
_ALL_DAYS = datetime.date(1970, 1, 1)
_T0 = 1_780_000_000 * 10**9


def _without_tz(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "tz"}


@_LARGE
@given(usage_logs())
def test_the_day_aggregates_are_the_sums_of_the_run_aggregates(events):
    """Every per-day aggregate equals the per-run aggregates of its UTC day, agent,
    model and cost source, summed: none missing, none extra."""
    state = fold(records_of(events), CostsView(_PRICES))
    sums: dict[bytes, list[int]] = {}
    for key, value in state.data.items():
        if key.startswith(b"a:"):
            bucket = int.from_bytes(key[2:6], "big")
            run, model, src = key[6:].split(b"\x00")[0], *key[6:].rsplit(b"\x00", 2)[1:]
            day = (bucket * BUCKET_NS // DAY_NS).to_bytes(4, "big")
            agent = run.partition(b"/")[0]
            acc = sums.setdefault(b"d:" + day + agent + b"\x00" + model + b"\x00" + src, [0] * 9)
            for i, v in enumerate(AGG.unpack(value)):
                acc[i] += v
    stored = {k: list(AGG.unpack(v)) for k, v in state.data.items() if k.startswith(b"d:")}
    assert stored == {k: v for k, v in sums.items() if any(v)}


@_LARGE
@given(
    usage_logs(),
    st.sampled_from(["day", "model"]),
    st.sampled_from([None, "claude-code", "codex", "opencode", "cursor"]),
    st.booleans(),
    st.sampled_from([None, datetime.date(2026, 5, 29)]),
)
def test_day_and_model_reports_equal_their_per_run_reports(events, by, source, breakdown, until):
    """``--by day`` and ``--by model`` from the per-day aggregates equal the same
    reports summed from the per-run aggregates, row for row and in the same order."""
    state = fold(records_of(events), CostsView(_PRICES))
    options: dict[str, Any] = {"source": source, "breakdown": breakdown, "until": until}
    fast = report(state, by=by, **options)
    assert summarises(by, Filter(datetime.UTC, None, until, source))
    slow = report(state, by=by, tz=_UTC_BY_RUNS, since=_ALL_DAYS, **options)
    assert not summarises(by, Filter(_UTC_BY_RUNS, _ALL_DAYS, until, source))
    assert _without_tz(fast.to_dict()) == _without_tz(slow.to_dict())


def test_a_price_file_reprices_the_day_report_as_the_run_report() -> None:
    """A price file naming a model reprices the per-day sums like the per-run ones."""
    log = _sample_state()
    prices = PriceFile("p.toml", {"claude-sonnet-4-5-20250929": Rates([(-1, (10**6,) * 6, 0)])})
    fast = report(log, by="day", prices=prices).to_dict()
    slow = report(log, by="day", prices=prices, tz=_UTC_BY_RUNS, since=_ALL_DAYS).to_dict()
    assert _without_tz(fast) == _without_tz(slow)
    assert fast["price_file"] == "p.toml"


def test_only_utc_days_and_agents_are_summarised() -> None:
    """A time zone other than UTC needs the quarter hours; a run-id prefix as
    ``--source`` needs the runs; ``--by model`` over all days needs neither."""
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    day = datetime.date(2025, 11, 1)
    assert summarises("day", Filter(datetime.UTC, day, None, "codex"))
    assert not summarises("day", Filter(paris, None, None, None))
    assert summarises("model", Filter(paris, None, None, None))
    assert not summarises("model", Filter(paris, day, None, None))
    assert not summarises("day", Filter(datetime.UTC, None, None, "claude-code/s1"))
    assert not any(summarises(by, Filter(datetime.UTC, None, None, None)) for by in ("run", "step"))


def _payloads() -> list[tuple[str, str | None, dict[str, Any]]]:
    out: list[tuple[str, str | None, dict[str, Any]]] = []
    for i, at in enumerate(["2025-11-01T10:00:00Z", "2025-11-01T23:59:00Z", "2025-11-02T00:01Z"]):
        usage = claude_usage(10 + i, 200, 30, 40, 1000)
        lines = claude_response("s1", f"m{i}", usage, tools=("t1",) if i else (), at=at)
        out.extend(("claude-code", "transcript", line) for line in lines)
    lines = claude_response("s2", "mx", claude_usage(5, 5), model="claude-mystery-9")
    out.extend(("claude-code", "transcript", line) for line in lines)
    out.append(("codex", "transcript", {"type": "session_meta", "payload": {"id": "t-1"}}))
    response = codex_rollout_response("t-1", "resp_1", codex_usage(100, 20, 10, 2))
    out.append(("codex", "transcript", response))
    tokens = {"input": 1, "output": 2, "reasoning": 0, "cache": {"read": 0, "write": 0}}
    out.append(("opencode", None, opencode_message("ses_1", "msg_1", tokens=tokens, cost=0.5)))
    out.append(("cursor", "stop", {"conversation_id": "c1", "hook_event_name": "stop"}))
    return out


def _sample_state() -> MemoryState:
    """The costs view folded from :func:`_payloads` (every agent's kind of usage)."""
    events = [
        LogEvent(source, kind or "message.updated", msgspec.json.encode(p), _T0 + i)
        for i, (source, kind, p) in enumerate(_payloads())
    ]
    return fold(records_of(events), CostsView(_PRICES))


@pytest.fixture
def home(tmp_path: pathlib.Path) -> str:
    """A journal with usage of every kind, its costs view current."""
    path = str(tmp_path / "home")
    with LmdbJournal(path) as journal:
        for i, (source, kind, payload) in enumerate(_payloads()):
            data = msgspec.json.encode(payload)
            journal.append(data, source=source, kind=kind, received_at=_T0 + i)
        costs(journal, price_file=os.devnull)
    return path


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"by": "model"},
        {"breakdown": True},
        {"by": "model", "breakdown": True, "tz": "Europe/Paris"},
        {"since": "2025-11-02"},
        {"until": "20251101", "source": "claude-code"},
        {"source": "opencode"},
    ],
    ids=repr,
)
def test_the_warm_read_equals_the_engine_path(home: str, options: dict[str, Any]) -> None:
    """On a current view the warm read gives exactly the report the engine path gives."""
    warm = warm_report(home, price_file=os.devnull, **options)
    assert warm is not None
    with LmdbJournal(home, readonly=True) as journal:
        assert warm.to_dict() == costs(journal, price_file=os.devnull, **options).to_dict()


def test_the_warm_read_declines_what_it_cannot_answer(home: str) -> None:
    """Another grouping, another time zone's days, a lagging view, a view of another
    version, or a home without views: no warm answer (the engine path answers)."""
    assert warm_report(home, by="run") is None
    assert warm_report(home, tz="Asia/Kolkata") is None
    assert warm_report(os.path.join(home, "nothing-here")) is None
    assert warm_report(home) is not None
    with LmdbJournal(home) as journal:
        journal.append(b'{"hook_event_name":"Stop","session_id":"s1"}', source="claude-code")
    assert warm_report(home) is None  # one record behind
    with LmdbJournal(home, readonly=True) as journal:
        costs(journal)
    assert warm_report(home) is not None


def test_the_warm_read_reads_the_engines_checkpoint(home: str) -> None:
    """The warm read's reading of the engine's meta agrees with the engine: same
    version, checkpoint at the head; a view rebuilt by another version is refused."""
    with LmdbJournal(home, readonly=True) as journal:
        with Views(journal, [CostsView()]) as views:
            status = {s.name: s for s in views.status()}["costs"]
        assert status.version == view_version() == CostsView.version
        assert status.lag == 0
        assert status.checkpoint == journal.head()

    class Older(CostsView):
        version = CostsView.version - 1

    with LmdbJournal(home, readonly=True) as journal, Views(journal, [Older()]) as views:
        views.catch_up()
    assert warm_report(home) is None
