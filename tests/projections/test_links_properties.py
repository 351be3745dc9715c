"""Invariants 7 and 8 for the links view, and what every answer of it keeps.

The logs are the realistic random logs of :mod:`tests.projections.strategies` with
Claude Code conversations woven in: sessions whose transcripts chain onto one
another's lines (resumes, forks, copied history), ``SessionStart`` with every
``source``, ``SessionEnd`` with ``reason: clear``, and agent processes shared
between sessions.
"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.linkqueries import conversation
from projections.links import RELATIONS, LinksView
from projections.runs import RunsView
from tests.projections.strategies import BOOT, LogEvent, fold, logs, records_of
from tests.projections.viewchecks import catch_up_in_splits, fold_in_batches

_SESSIONS = ["s1", "s2", "s3", "s4"]
_AGENTS = st.sampled_from([None, (11, 100, BOOT), (12, 200, BOOT)])


@st.composite
def conversations(draw: Any) -> list[LogEvent]:
    """Claude Code events whose transcripts chain across sessions, mixed into a log."""
    base = draw(logs(max_sessions=2))
    uuids: list[str] = []
    out: list[LogEvent] = []
    now = base[-1].received_at if base else 1_780_000_000 * 10**9
    for step in range(draw(st.integers(1, 25))):
        now += draw(st.sampled_from([10**6, 10**9, 3600 * 10**9]))
        sid = draw(st.sampled_from(_SESSIONS))
        what = draw(st.sampled_from(["line", "line", "copy", "start", "clear-end"]))
        if what in ("line", "copy"):
            uuid = f"u{step}" if what == "line" or not uuids else draw(st.sampled_from(uuids))
            parent = draw(st.one_of(st.none(), st.sampled_from(uuids))) if uuids else None
            uuids.append(uuid)
            body: dict[str, Any] = {
                "type": "assistant",
                "sessionId": sid,
                "uuid": uuid,
                "parentUuid": parent,
                "isSidechain": draw(st.sampled_from([False, False, True])),
            }
            out.append(LogEvent("claude-code", "transcript", msgspec.json.encode(body), now))
            continue
        kind = "SessionStart" if what == "start" else "SessionEnd"
        body = {"session_id": sid, "cwd": "/w", "hook_event_name": kind}
        if kind == "SessionStart":
            body["source"] = draw(st.sampled_from(["startup", "resume", "clear", "compact"]))
        else:
            body["reason"] = "clear"
        payload = msgspec.json.encode(body)
        out.append(LogEvent("claude-code", kind, payload, now, draw(_AGENTS)))
    return [*base, *out]


@settings(max_examples=60)
@given(conversations(), st.lists(st.integers(0, 40), max_size=6))
def test_a_links_fold_in_any_batches_with_restarts_equals_one_fold(events, cuts):
    fold_in_batches(records_of(events), cuts, LinksView)


@settings(max_examples=20)
@given(
    conversations(),
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 20)), min_size=1, max_size=4),
    st.integers(1, 9),
)
def test_links_catch_up_in_random_splits_equals_a_rebuild(events, plan, batch):
    catch_up_in_splits(events, plan, batch, LinksView)


@settings(max_examples=60)
@given(conversations())
def test_every_run_of_a_conversation_has_the_same_conversation(events):
    """Links are symmetric for membership: asking from any run of a conversation gives
    the same runs, the same links in the same order, and only known relations."""
    records = records_of(events)
    runs, links = fold(records, RunsView()), fold(records, LinksView())
    now = records[-1].received_at if records else 0
    sids = {r.decode() for k, r in links.data.items() if k.startswith(b"u")}
    for run_id in sorted(sids):
        found = conversation(runs, links, run_id, now=now)
        members = [one.run_id for one in found.runs]
        assert run_id in members
        assert all(link.relation in RELATIONS for link in found.links)
        assert all(link.run_id in members and link.from_run_id in members for link in found.links)
        assert [(x.seq, x.run_id) for x in found.links] == sorted(
            (x.seq, x.run_id) for x in found.links
        )
        for other in members:
            again = conversation(runs, links, other, now=now)
            assert [one.run_id for one in again.runs] == members
            assert again.links == found.links
