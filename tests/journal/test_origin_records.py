"""Records from another journal (format version 3): laid by the writer, read back with
their origin, covered by the hash chain, idempotent under their ``origin:seq`` key."""

from __future__ import annotations

import hashlib

from journal import digest as journal_digest
from journal.export import local_origin, read_origin
from journal.origin import parse_id
from journal.store import LmdbJournal

REMOTE = "0b7a51c2-3f1e-4d6a-9c2b-5e8f00aa11bb"


def _lay(journal: LmdbJournal, seq: int, payload: bytes, received_at: int) -> bool:
    done = journal.write(
        lambda w: w.append(
            payload,
            b"codex",
            b"Stop",
            f"{REMOTE}:{seq}".encode(),
            received_at,
            journal_digest.digest(payload),
            origin=(parse_id(REMOTE), seq),
        )
    )
    assert done is not None
    return done.duplicate


def test_a_pulled_record_keeps_its_origin_and_the_chain_verifies(lmdb_journal: LmdbJournal) -> None:
    """A version 3 record reads back with origin, origin seq, event time and digest;
    local records around it read as this journal's; verify passes."""
    lmdb_journal.append(b'{"hook_event_name":"Start"}', source="claude-code")
    assert _lay(lmdb_journal, 41, b'{"type":"remote"}', 1_700_000_000_000_000_000) is False
    lmdb_journal.append(b'{"hook_event_name":"Stop"}', source="claude-code")
    local, pulled, after = lmdb_journal.read()
    assert (pulled.origin, pulled.origin_seq) == (REMOTE, 41)
    assert pulled.received_at == 1_700_000_000_000_000_000
    assert pulled.digest == hashlib.sha256(b'{"type":"remote"}').hexdigest()
    assert pulled.agent_pid is None
    mine = local_origin(lmdb_journal)
    assert mine is not None
    assert local.origin is None
    assert local.origin_of(mine) == (mine, 1)
    assert pulled.origin_of(mine) == (REMOTE, 41)
    assert after.prev_digest == pulled.record_digest
    assert lmdb_journal.verify().ok
    assert pulled.to_dict()["origin"] == REMOTE


def test_laying_the_same_remote_record_twice_adds_nothing(lmdb_journal: LmdbJournal) -> None:
    """The idempotency key origin:seq makes a second pull of a record a duplicate."""
    assert _lay(lmdb_journal, 7, b'{"n":7}', 5) is False
    assert _lay(lmdb_journal, 7, b'{"n":7}', 5) is True
    assert lmdb_journal.head() == 1


def test_the_origin_survives_reopening(home: str) -> None:
    """The origin id is permanent: reopening, read-only or not, gives the same one."""
    with LmdbJournal(home) as journal:
        first = local_origin(journal)
    with LmdbJournal(home, readonly=True) as journal:
        assert local_origin(journal) == first
    assert read_origin(lambda: LmdbJournal(home, readonly=True)).origin == first
