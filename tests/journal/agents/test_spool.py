"""The spool: durable files, drained exactly once, oldest first."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from journal.agents import spool
from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN


def put(home: str, data: bytes, *, key: str, received_at: int, kind: str = "") -> str:
    return spool.write(
        spool.spool_dir(home),
        data,
        source="claude-code",
        kind=kind,
        key=key,
        received_at=received_at,
        home=home,
    )


def test_a_spool_file_round_trips_byte_for_byte(home: str) -> None:
    """What write() stores, read() gives back: input bytes and the append's parameters."""
    data = b'  {"hook_event_name": "Stop"}\n'
    path = put(home, data, key="k1", received_at=123, kind="Stop")
    entry = spool.read(path)
    assert (entry.data, entry.source, entry.kind, entry.key, entry.received_at, entry.home) == (
        data,
        "claude-code",
        "Stop",
        "k1",
        123,
        home,
    )
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert not [n for n in os.listdir(spool.spool_dir(home)) if n.startswith(".")]


def test_drain_appends_oldest_first_with_the_spooled_receive_time(
    lmdb_journal: LmdbJournal,
) -> None:
    """Spooled events land in receive-time order and keep their own received_at."""
    put(lmdb_journal.home, b'{"hook_event_name":"B"}', key="kb", received_at=2_000)
    put(lmdb_journal.home, b'{"hook_event_name":"A"}', key="ka", received_at=1_000)
    report = spool.drain(lmdb_journal)
    assert (report.appended, report.duplicates, report.quarantined) == (2, 0, 0)
    records = list(lmdb_journal.read())
    assert [(r.kind, r.received_at, r.key) for r in records] == [
        ("A", 1_000, "ka"),
        ("B", 2_000, "kb"),
    ]
    assert spool.pending(spool.spool_dir(lmdb_journal.home)) == []


def test_draining_a_file_twice_appends_it_once(lmdb_journal: LmdbJournal) -> None:
    """A drain killed between commit and unlink leaves the file: the key makes it a no-op."""
    path = put(lmdb_journal.home, b'{"hook_event_name":"Stop"}', key="spool:1", received_at=5)
    copy = pathlib.Path(path).read_bytes()
    spool.drain(lmdb_journal)
    pathlib.Path(path).write_bytes(copy)
    report = spool.drain(lmdb_journal)
    assert (report.appended, report.duplicates) == (0, 1)
    assert lmdb_journal.head() == 1


def test_bad_spooled_input_is_quarantined(lmdb_journal: LmdbJournal) -> None:
    """Input that was spooled before validation and turns out bad goes to quarantine."""
    put(lmdb_journal.home, b"not json", key="spool:2", received_at=7)
    report = spool.drain(lmdb_journal)
    assert report.quarantined == 1
    (entry,) = lmdb_journal.quarantined()
    assert (entry.data, entry.source) == (b"not json", "claude-code")


def test_a_damaged_spool_file_is_quarantined_whole(lmdb_journal: LmdbJournal) -> None:
    """A file in the spool that is not a spool file is kept in quarantine, not lost."""
    directory = pathlib.Path(spool.spool_dir(lmdb_journal.home))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "00000000000000000001-1-deadbeef.spool").write_bytes(b"AJSPOOL1\x00")
    report = spool.drain(lmdb_journal)
    assert report.quarantined == 1
    (entry,) = lmdb_journal.quarantined()
    assert entry.data == b"AJSPOOL1\x00"
    assert "not a spool file" in entry.reason


def test_the_fallback_spool_drains_only_into_its_own_home(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files in the per-user fallback spool name their home; other homes leave them."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    mine, other = str(tmp_path / "mine"), str(tmp_path / "other")
    for home, key in ((mine, "m"), (other, "o")):
        spool.write(
            spool.fallback_dir(),
            b'{"hook_event_name":"Stop"}',
            source="codex",
            kind="",
            key=key,
            received_at=1,
            home=home,
        )
    with LmdbJournal(mine) as journal:
        assert spool.drain(journal).appended == 1
        assert [r.key for r in journal.read()] == ["m"]
    assert len(spool.pending(spool.fallback_dir())) == 1


_DRAIN = """
import sys
from journal.agents import spool
from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN
with LmdbJournal(sys.argv[1]) as journal:
    spool.drain(journal)
"""


@pytest.mark.slow
def test_concurrent_drains_append_each_file_exactly_once(home: str) -> None:
    """Four processes draining 600 spooled events at once: each event lands once."""
    LmdbJournal(home).close()
    for i in range(600):
        put(home, b'{"hook_event_name":"Stop","n":%d}' % i, key=f"spool:{i}", received_at=i)
    procs = [subprocess.Popen([sys.executable, "-c", _DRAIN, home]) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    with LmdbJournal(home) as journal:
        keys = [r.key or "" for r in journal.read()]
        assert journal.verify().ok
    assert sorted(keys, key=lambda k: int(k.split(":")[1])) == [f"spool:{i}" for i in range(600)]
    assert len(set(keys)) == 600


def test_the_next_cli_append_drains_the_spool(home: str) -> None:
    """A successful `journal append` takes in what hooks spooled while the journal was busy."""
    LmdbJournal(home).close()
    put(home, b'{"hook_event_name":"Stop"}', key="spool:9", received_at=1)
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "append"], input=b'{"a":1}', capture_output=True, check=True
    )
    assert done.stdout.startswith(b"1 ")
    with LmdbJournal(home) as journal:
        assert [r.key for r in journal.read()] == [None, "spool:9"]
    stats = subprocess.run(
        [JOURNAL_BIN, "--home", home, "stats", "--json"], capture_output=True, check=True
    )
    assert json.loads(stats.stdout)["spooled"] == 0


def test_stats_counts_what_waits_in_the_spool(home: str) -> None:
    """`journal stats` reports spooled events (the agents layer counts them, not the store)."""
    LmdbJournal(home).close()
    put(home, b'{"hook_event_name":"Stop"}', key="spool:10", received_at=1)
    put(home, b'{"hook_event_name":"Stop"}', key="spool:11", received_at=2)
    stats = subprocess.run(
        [JOURNAL_BIN, "--home", home, "stats", "--json"], capture_output=True, check=True
    )
    assert json.loads(stats.stdout)["spooled"] == 2
