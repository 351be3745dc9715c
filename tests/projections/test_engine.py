"""The projection engine: checkpoints, catch-up, rebuilds, concurrency (invariants 7, 8).

The views here are small test folds (a per-kind counter, a scanner), so that these
tests say something about the engine alone; the real views have their own tests.
The oracle is always the same: fold ``journal.read()`` into a
:class:`~projections.state.MemoryState` and compare it with the engine's ``dump``.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from typing import ClassVar

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal.errors import StoreError, UsageError
from journal.records import Record
from journal.store import LmdbJournal
from projections.engine import ViewError, Views
from projections.logread import LogScan
from projections.state import MemoryState
from projections.view import State, View
from tests.conftest import REPO


class CountView(View):
    """Counts records per kind and in total: applying a record twice shows."""

    name: ClassVar[str] = "count"
    version: ClassVar[int] = 1

    def apply(self, state: State, record: Record) -> None:
        for key in (b"kind:" + record.kind.encode(), b"total"):
            state.put(key, str(int(state.get(key) or b"0") + 1).encode())
        state.put(b"last", str(record.seq).encode())


class CountViewV2(CountView):
    """Version 2 of the counter: counts by source instead of kind."""

    version: ClassVar[int] = 2

    def apply(self, state: State, record: Record) -> None:
        key = b"source:" + record.source.encode()
        state.put(key, str(int(state.get(key) or b"0") + 1).encode())


class StopsView(View):
    """Reads only ``Stop`` records: the kinds filter."""

    name: ClassVar[str] = "stops"
    version: ClassVar[int] = 1
    kinds: ClassVar[frozenset[str] | None] = frozenset({"Stop"})

    def apply(self, state: State, record: Record) -> None:
        state.put(b"stop:%08d" % record.seq, record.payload)


class ProbeView(CountView):
    """A counter that also notes, in this process, every seq it was applied to."""

    name: ClassVar[str] = "probe"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def apply(self, state: State, record: Record) -> None:
        self.seen.append(record.seq)
        super().apply(state, record)


class FailingView(CountView):
    """A counter whose fold raises on one seq."""

    name: ClassVar[str] = "failing"

    def __init__(self, bad_seq: int) -> None:
        self.bad_seq = bad_seq

    def apply(self, state: State, record: Record) -> None:
        if record.seq == self.bad_seq:
            raise KeyError("boom")
        super().apply(state, record)


class OpsView(View):
    """Runs the put/delete/scan operations a record's payload lists.

    Each scan's result is stored, so a dump shows what every scan saw: comparing it
    with the same fold over a MemoryState checks the engine's write-back cache.
    """

    name: ClassVar[str] = "ops"
    version: ClassVar[int] = 1

    def apply(self, state: State, record: Record) -> None:
        ops: list[list[str]] = msgspec.json.decode(record.payload)["ops"]
        for i, op in enumerate(ops):
            if op[0] == "put":
                state.put(op[1].encode(), op[2].encode())
            elif op[0] == "del":
                state.delete(op[1].encode())
            else:
                seen = [k + b"=" + v for k, v in state.scan(op[1].encode())]
                state.put(b"~scan:%08d:%d" % (record.seq, i), b",".join(seen))


def _event(kind: str, n: int, session: str = "s1") -> bytes:
    return json.dumps({"hook_event_name": kind, "session_id": session, "n": n}).encode()


def _fill(journal: LmdbJournal, count: int, start: int = 0, *, singles: bool = True) -> None:
    """Append ``count`` records of a few kinds and sources, some sharing payloads.

    Half land in one batch, the other half (with ``singles``) one append each.
    """
    kinds = ["PreToolUse", "PostToolUse", "Stop", "UserPromptSubmit"]
    batch = []
    for i in range(start, start + count):
        kind = kinds[i % len(kinds)]
        if kind == "Stop" and i % 8 == 2:
            batch.append(b'{"hook_event_name":"Stop","stop_hook_active":false}')  # shared blob
        else:
            batch.append(_event(kind, i, f"s{i % 3}"))
    half = len(batch) // 2 if singles else len(batch)
    journal.append_batch(batch[:half], source="claude-code")
    for i, payload in enumerate(batch[half:], start + half):
        journal.append(payload, source="codex", key=f"k{i}")


def _fold(journal: LmdbJournal, view: View, upto: int | None = None) -> dict[bytes, bytes]:
    """The oracle: ``view`` folded over records 1..upto into a MemoryState."""
    state = MemoryState()
    for record in journal.read(limit=upto):
        if view.kinds is None or record.kind in view.kinds:
            view.apply(state, record)
    return state.data


def test_catch_up_equals_a_fold_of_the_log(lmdb_journal: LmdbJournal) -> None:
    """After catch-up a view's state is the fold of records 1..head, checkpoint = head."""
    _fill(lmdb_journal, 50)
    with Views(lmdb_journal, [CountView(), StopsView()], batch=7) as views:
        views.catch_up()
        for view in (CountView(), StopsView()):
            assert views.dump(view.name) == _fold(lmdb_journal, view)
            assert views.checkpoint(view.name) == lmdb_journal.head() == 50


def test_catch_up_applies_only_new_records(lmdb_journal: LmdbJournal) -> None:
    """A second catch-up folds exactly the records appended since the first, once each."""
    probe = ProbeView()
    _fill(lmdb_journal, 20)
    with Views(lmdb_journal, [probe], batch=6) as views:
        views.catch_up()
        assert probe.seen == list(range(1, 21))
        views.catch_up()
        assert probe.seen == list(range(1, 21))
        _fill(lmdb_journal, 9, start=20)
        views.catch_up()
        assert probe.seen == list(range(1, 30))
        assert views.dump("probe") == _fold(lmdb_journal, CountView())


def test_catch_up_resumes_from_the_stored_checkpoint_in_a_new_process_handle(home: str) -> None:
    """Checkpoints persist: a new Views handle continues where the last one stopped."""
    with LmdbJournal(home) as journal:
        _fill(journal, 30)
        with Views(journal, [CountView()]) as views:
            views.catch_up(limit=12)
            assert views.checkpoint("count") == 12
    with LmdbJournal(home) as journal:
        probe = ProbeView()
        with Views(journal, [CountView(), probe]) as views:
            views.catch_up(["probe"], limit=5)
            views.catch_up()
            assert views.checkpoint("count") == 30
            assert probe.seen == list(range(1, 31))
            assert views.dump("count") == _fold(journal, CountView())


def test_state_and_checkpoint_commit_together(lmdb_journal: LmdbJournal) -> None:
    """A fold that raises mid-catch-up leaves the last committed batch: state = fold(1..cp)."""
    _fill(lmdb_journal, 40)
    failing = FailingView(bad_seq=23)
    with Views(lmdb_journal, [failing], batch=5) as views:
        with pytest.raises(ViewError, match=r"view failing failed on seq 23 .*KeyError"):
            views.catch_up()
        checkpoint = views.checkpoint("failing")
        assert checkpoint == 20  # batches 1-5, ..., 16-20 committed; 21-25 did not
        assert views.dump("failing") == _fold(lmdb_journal, CountView(), upto=checkpoint)


@pytest.mark.parametrize("limit", [1, 7, 20, 33], ids=lambda n: f"limit{n}")
def test_limit_applies_at_most_that_many_records(lmdb_journal: LmdbJournal, limit: int) -> None:
    """catch_up(limit=N) applies N records and checkpoints exactly there."""
    _fill(lmdb_journal, 33)
    probe = ProbeView()
    with Views(lmdb_journal, [probe], batch=4) as views:
        views.catch_up(limit=limit)
        assert probe.seen == list(range(1, limit + 1))
        assert views.checkpoint("probe") == limit
        assert views.dump("probe") == _fold(lmdb_journal, CountView(), upto=limit)


def test_version_bump_rebuilds_from_seq_one(lmdb_journal: LmdbJournal) -> None:
    """A view whose version changed is emptied and folded again from the first record."""
    _fill(lmdb_journal, 25)
    with Views(lmdb_journal, [CountView()]) as views:
        views.catch_up()
    with Views(lmdb_journal, [CountViewV2()]) as views:
        (status,) = views.status()
        assert (status.version, status.stored_version, status.checkpoint) == (2, 1, 0)
        with views.reading("count") as state:
            assert list(state.scan()) == []  # the old version's keys are not this view's
        views.catch_up()
        assert views.dump("count") == _fold(lmdb_journal, CountViewV2())
        (status,) = views.status()
        assert (status.stored_version, status.checkpoint) == (2, 25)


def test_kinds_filter_advances_the_checkpoint_past_other_records(
    lmdb_journal: LmdbJournal,
) -> None:
    """A view reading only Stop records still checkpoints at head, past other kinds."""
    _fill(lmdb_journal, 30)
    lmdb_journal.append(_event("PreToolUse", 99), source="claude-code")  # the head: not a Stop
    with Views(lmdb_journal, [StopsView()], batch=3) as views:
        views.catch_up()
        assert views.checkpoint("stops") == lmdb_journal.head() == 31
        dumped = views.dump("stops")
        assert dumped == _fold(lmdb_journal, StopsView())
        assert len(dumped) == sum(1 for r in lmdb_journal.read() if r.kind == "Stop")


def test_views_with_different_checkpoints_catch_up_together(lmdb_journal: LmdbJournal) -> None:
    """Views behind by different amounts catch up in one pass, each from its own checkpoint."""
    _fill(lmdb_journal, 40)
    probe = ProbeView()
    with Views(lmdb_journal, [CountView(), probe, StopsView()], batch=9) as views:
        views.catch_up(["probe"], limit=10)
        views.catch_up(["count"], limit=25)
        views.catch_up()
        assert probe.seen == list(range(1, 41))
        for view in (CountView(), StopsView()):
            assert views.dump(view.name) == _fold(lmdb_journal, view)
        assert {s.name: s.checkpoint for s in views.status()} == dict.fromkeys(
            ["count", "probe", "stops"], 40
        )


def test_status_reports_version_checkpoint_head_and_lag(lmdb_journal: LmdbJournal) -> None:
    """status() shows each view's lag behind head, and catch-up brings it to zero."""
    _fill(lmdb_journal, 12)
    with Views(lmdb_journal, [CountView(), StopsView()]) as views:
        before = {s.name: (s.version, s.checkpoint, s.head, s.lag) for s in views.status()}
        assert before == {"count": (1, 0, 12, 12), "stops": (1, 0, 12, 12)}
        views.catch_up(["count"])
        _fill(lmdb_journal, 3, start=12)
        after = {s.name: (s.checkpoint, s.head, s.lag) for s in views.status()}
        assert after == {"count": (12, 15, 3), "stops": (0, 15, 15)}
        assert views.status()[0].to_dict()["lag"] == 3


def test_rebuild_refolds_only_the_named_view(lmdb_journal: LmdbJournal) -> None:
    """rebuild(['a']) folds a's records again from seq 1 and leaves b's state alone."""
    _fill(lmdb_journal, 15)
    a, b = ProbeView(), StopsView()
    with Views(lmdb_journal, [a, b]) as views:
        views.catch_up()
        b_before = views.dump("stops")
        steps: list[int] = []
        views.rebuild(["probe"], progress=steps.append)
        assert a.seen == list(range(1, 16)) * 2
        assert sum(steps) == 15
        assert views.dump("probe") == _fold(lmdb_journal, CountView())
        assert views.dump("stops") == b_before
        assert views.checkpoint("stops") == 15


def test_unknown_view_name_is_a_usage_error(lmdb_journal: LmdbJournal) -> None:
    """Naming a view that does not exist raises UsageError listing the views."""
    with Views(lmdb_journal, [CountView()]) as views:
        with pytest.raises(UsageError, match=r"unknown view 'nope' \(views: count\)"):
            views.catch_up(["nope"])
        with pytest.raises(UsageError, match="unknown view"):
            views.rebuild(["nope"])


def test_a_query_state_is_read_only(lmdb_journal: LmdbJournal) -> None:
    """The state handed to queries refuses writes."""
    _fill(lmdb_journal, 3)
    with Views(lmdb_journal, [CountView()]) as views:
        views.catch_up()
        with views.reading("count") as state:
            assert state.get(b"total") == b"3"
            with pytest.raises(StoreError, match="read-only"):
                state.put(b"x", b"y")


def _log_bytes(journal: LmdbJournal) -> bytes:
    return pathlib.Path(journal.path, "data.mdb").read_bytes()


def test_views_never_write_the_log(lmdb_journal: LmdbJournal) -> None:
    """Catch-up, rebuild, status and reads leave the log's file and head digest unchanged."""
    _fill(lmdb_journal, 40)
    before, head = _log_bytes(lmdb_journal), lmdb_journal.head_digest()
    with Views(lmdb_journal, [CountView(), StopsView()], batch=8) as views:
        views.catch_up()
        views.rebuild()
        views.status()
        views.dump("count")
    assert _log_bytes(lmdb_journal) == before
    assert lmdb_journal.head_digest() == head
    assert lmdb_journal.verify().ok


def test_deleting_the_views_loses_nothing(lmdb_journal: LmdbJournal) -> None:
    """Removing <home>/views entirely: the next catch-up rebuilds the same state."""
    _fill(lmdb_journal, 20)
    with Views(lmdb_journal, [CountView()]) as views:
        views.catch_up()
        first = views.dump("count")
        path = views.path
    shutil.rmtree(path)
    with Views(lmdb_journal, [CountView()]) as views:
        assert views.checkpoint("count") == 0
        views.catch_up()
        assert views.dump("count") == first


@given(
    steps=st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 9)),
        min_size=1,
        max_size=12,
    ),
    batch=st.integers(1, 5),
)
def test_checkpoint_never_ahead_of_head_and_state_is_the_fold(
    steps: list[tuple[int, int]], batch: int
) -> None:
    """Invariant 7: after any mix of appends and partial catch-ups, cp <= head, state = fold."""
    with tempfile.TemporaryDirectory() as tmp, LmdbJournal(tmp) as journal:
        appended = 0
        with Views(journal, [CountView(), StopsView()], batch=batch) as views:
            for add, limit in steps:
                if add:
                    _fill(journal, add, start=appended)
                    appended += add
                views.catch_up(limit=limit or None)
                head = journal.head()
                for view in (CountView(), StopsView()):
                    checkpoint = views.checkpoint(view.name)
                    assert checkpoint <= head
                    assert views.dump(view.name) == _fold(journal, view, upto=checkpoint)


def test_a_replaced_log_rebuilds_views_instead_of_trusting_old_checkpoints(home: str) -> None:
    """Views built over another (longer) log are refolded: cp <= head, state = the fold."""
    with LmdbJournal(home) as journal:
        _fill(journal, 30)
        with Views(journal, [CountView()]) as views:
            views.catch_up()
    shutil.rmtree(os.path.join(home, "log"))
    with LmdbJournal(home) as journal:
        _fill(journal, 10, start=500)
        with Views(journal, [CountView()]) as views:
            views.catch_up()
            assert views.checkpoint("count") == journal.head() == 10
            assert views.dump("count") == _fold(journal, CountView())
    shutil.rmtree(os.path.join(home, "log"))
    with LmdbJournal(home) as journal:  # as long as the old log, different records
        _fill(journal, 10, start=900)
        with Views(journal, [CountView()]) as views:
            views.catch_up()
            assert views.dump("count") == _fold(journal, CountView())


_KEYS = st.sampled_from(["a", "ab", "abc", "b", "ba", "c"])
_OPS = st.one_of(
    st.tuples(st.just("put"), _KEYS, st.sampled_from(["1", "2", "3"])).map(list),
    st.tuples(st.just("del"), _KEYS).map(list),
    st.tuples(st.just("scan"), st.sampled_from(["", "a", "ab", "b", "c", "z"])).map(list),
)


@given(
    records=st.lists(st.lists(_OPS, max_size=6), min_size=1, max_size=15),
    batch=st.integers(1, 6),
    cuts=st.lists(st.integers(1, 8), max_size=4),
)
def test_write_back_cache_behaves_like_a_plain_dict(
    records: list[list[list[str]]], batch: int, cuts: list[int]
) -> None:
    """Gets, puts, deletes and prefix scans through the engine's cache equal MemoryState's."""
    with tempfile.TemporaryDirectory() as tmp, LmdbJournal(tmp) as journal:
        journal.append_batch([json.dumps({"ops": ops}).encode() for ops in records])
        with Views(journal, [OpsView()], batch=batch) as views:
            for cut in cuts:  # interrupted catch-ups first, then the rest
                views.catch_up(limit=cut)
            views.catch_up()
            assert views.dump("ops") == _fold(journal, OpsView())


@pytest.mark.parametrize(
    ("after", "until", "kinds"),
    [
        (0, 10**9, None),
        (0, 10**9, frozenset({"Stop"})),
        (7, 41, None),
        (13, 60, frozenset({"PreToolUse", "Stop"})),
        (59, 60, None),
        (60, 60, None),
        (0, 0, None),
    ],
    ids=["all", "stops", "middle", "middle-kinds", "last", "none-after-head", "none"],
)
def test_the_engines_log_scan_yields_what_read_yields(
    lmdb_journal: LmdbJournal, after: int, until: int, kinds: frozenset[str] | None
) -> None:
    """LogScan gives the same Records as journal.read(), shared blobs and keys included."""
    _fill(lmdb_journal, 60)
    expected = [
        r
        for r in lmdb_journal.read(after=after, kinds=sorted(kinds) if kinds else None)
        if r.seq <= until
    ]
    scan = LogScan(lmdb_journal, after, until, kinds)
    assert list(scan) == expected
    in_range = [r.received_at for r in lmdb_journal.read(after=after) if r.seq <= until]
    assert scan.newest == max(in_range, default=0)


# -- concurrency -------------------------------------------------------------------

CATCH_UP = r"""
import sys
from journal.store import LmdbJournal
from projections.engine import Views
from tests.projections.test_engine import ProbeView, StopsView

probe = ProbeView()
with LmdbJournal(sys.argv[1]) as journal, Views(journal, [probe, StopsView()], batch=50) as views:
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    views.catch_up()
    sys.stdout.write(f"{len(probe.seen)} {len(set(probe.seen))}\n")
"""


def _spawn(script: str, args: Sequence[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _release(procs: Iterable[subprocess.Popen[str]]) -> None:
    procs = list(procs)
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


@pytest.mark.slow
def test_concurrent_catch_ups_in_two_processes_never_double_apply(home: str) -> None:
    """Two processes catching up at once: every record applied once overall, state = fold."""
    with LmdbJournal(home) as journal:
        _fill(journal, 6000, singles=False)
        head = journal.head()
    done = 0
    for _round in range(3):
        procs = [_spawn(CATCH_UP, [home]) for _ in range(2)]
        _release(procs)
        outputs = [proc.communicate(timeout=300) for proc in procs]
        for proc, (_out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err
        counts = [tuple(map(int, out.split())) for out, _err in outputs]
        assert all(total == distinct for total, distinct in counts)
        assert sum(total for total, _ in counts) == head - done
        with LmdbJournal(home) as journal:
            with Views(journal, [ProbeView(), StopsView()]) as views:
                assert views.dump("probe") == _fold(journal, CountView())
                assert views.dump("stops") == _fold(journal, StopsView())
                assert views.checkpoint("probe") == views.checkpoint("stops") == head
            _fill(journal, 3000, start=head, singles=False)
            done, head = head, journal.head()


def test_the_log_scan_keeps_names_that_share_bytes_apart(lmdb_journal: LmdbJournal) -> None:
    """Source "ab" + kind "c" and source "a" + kind "bc" stay distinct, keys included."""
    lmdb_journal.append(b"{}", source="ab", kind="c")
    lmdb_journal.append(b"{}", source="a", kind="bc", key="k1")
    lmdb_journal.append(b"{}", source="ab", kind="c", key="k2")
    scanned = [(r.source, r.kind, r.key) for r in LogScan(lmdb_journal, 0, 3, None)]
    assert scanned == [("ab", "c", None), ("a", "bc", "k1"), ("ab", "c", "k2")]
    assert list(LogScan(lmdb_journal, 0, 3, None)) == list(lmdb_journal.read())
