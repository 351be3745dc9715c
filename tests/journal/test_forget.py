"""``journal.forget``: a run's payload bytes leave every file, the chain still verifies.

Each test reads the raw bytes of every file under the home afterwards: LMDB keeps
freed pages and the unused middle of pages on disk, so "erased from the index" is
not enough.
"""

from __future__ import annotations

import json
import os

import pytest

from journal import payload
from journal.digest import digest
from journal.errors import NotFoundError, UsageError
from journal.forget import KIND, forget
from journal.store import LmdbJournal
from tests.conftest import lmdb_verify
from tests.journal.test_redact_paths import files_holding


def hook_event(session: str, n: int, extra: str = "") -> bytes:
    body = {
        "session_id": session,
        "hook_event_name": "PostToolUse",
        "tool_name": "Bash",
        "tool_use_id": f"toolu_{session}_{n}",
        "tool_input": {"command": f"echo {session}-CONTENT-{n:05d}{extra}"},
        "tool_response": {"stdout": f"{session}-CONTENT-{n:05d} " + "x" * 300},
    }
    return json.dumps(body).encode()


def fill(journal: LmdbJournal, count: int) -> tuple[list[int], list[int]]:
    """Interleave hook events of sessions s1 and s2; return their seqs."""
    s1, s2 = [], []
    for n in range(count):
        s1.append(journal.append(hook_event("s1", n), source="claude-code").seq)
        s2.append(journal.append(hook_event("s2", n), source="claude-code").seq)
    return s1, s2


def test_forget_erases_the_bytes_from_every_file_and_keeps_the_chain(home: str) -> None:
    """After forget: no byte of s1 anywhere, s2 intact, verify passes and counts erased."""
    with LmdbJournal(home) as journal:
        s1, s2 = fill(journal, 300)
        head_before = journal.head_digest()
        digests = {seq: journal.get(seq).digest for seq in s1}
        report = forget(journal, s1, run_id="s1")
        assert sorted(report.erased) == sorted(set(digests.values()))
        assert report.kept == []
        assert report.seqs == s1
        assert report.forget_seq == s2[-1] + 1
        assert files_holding(home, b"s1-CONTENT-") == []
        assert files_holding(home, b"s2-CONTENT-00299") != []
        for n, seq in enumerate(s2):
            assert json.loads(journal.get(seq).payload)["tool_input"]["command"].startswith(
                f"echo s2-CONTENT-{n:05d}"
            )
        erased = journal.get(s1[0])
        assert erased.erased
        assert erased.payload == b"null"
        assert erased.digest == digests[s1[0]]
        result = journal.verify()
        assert result.ok, result.problem
        assert result.erased == len(s1)
        assert journal.stats().erased == len(s1)
        # The chain up to the old head is the very same: the records were not rewritten.
        assert journal.get(s2[-1]).record_digest == head_before
        note = journal.get(report.forget_seq)
        assert note.kind == KIND
        assert note.source == "journal"
        told = json.loads(note.payload)["forget"]
        assert told["run_id"] == "s1"
        assert told["seqs"] == s1
        assert sorted(told["erased"]) == sorted(report.erased)
        assert b"CONTENT" not in note.payload
        with pytest.raises(NotFoundError, match="erased by journal forget"):
            journal.blob(digests[s1[0]])
    lmdb_verify(home)


def test_a_payload_shared_with_another_run_stays(home: str) -> None:
    """Identical payloads share a blob: it stays while a record outside the run uses it."""
    with LmdbJournal(home) as journal:
        shared = hook_event("both", 1)
        mine = [journal.append(shared).seq, journal.append(hook_event("s1", 2)).seq]
        theirs = journal.append(shared).seq
        report = forget(journal, mine, run_id="s1")
        assert report.kept == [journal.get(theirs).digest]
        assert len(report.erased) == 1
        assert journal.get(mine[0]).payload == shared
        assert journal.get(theirs).payload == shared
        assert files_holding(home, b"s1-CONTENT-") == []
        assert journal.verify().ok
        # Forgetting the other record too erases the shared blob.
        again = forget(journal, [theirs, *mine], run_id="both")
        assert again.erased == report.kept
        assert files_holding(home, b"both-CONTENT-") == []
        result = journal.verify()
        assert result.ok
        assert result.erased == 3


def test_packed_batch_segments_are_erased_and_scrubbed(home: str) -> None:
    """Batches pack segments: the old packed bytes do not survive anywhere either."""
    lines = [hook_event("s1" if n % 2 else "s2", n, extra=" y" * 40) for n in range(2000)]
    items = [
        (payload.validate(line), digest(payload.validate(line)), b"k%d" % n)
        for n, line in enumerate(lines)
    ]
    with LmdbJournal(home) as journal:
        journal.write(lambda w: w.append_many(items, b"claude-code", b"transcript", 1))
        with journal._env.begin(db=journal._log) as txn:
            old_values = [bytes(v) for _k, v in txn.cursor()]
        assert any(value[0] >= 0x80 for value in old_values)  # packed (journal.packing)
        seqs = [n + 1 for n in range(2000) if n % 2]
        report = forget(journal, seqs, run_id="s1")
        assert len(report.erased) == 1000
        with open(os.path.join(home, "log", "data.mdb"), "rb") as handle:
            data = handle.read()
        for value in old_values:
            for start in range(0, max(1, len(value) - 64), 1024):
                window = value[start : start + 64]
                if b"s1-CONTENT" in window or value[0] >= 0x80:
                    assert window not in data
        assert b"s1-CONTENT" not in data
        assert b"s2-CONTENT-01998" in data
        result = journal.verify()
        assert result.ok
        assert result.erased == 1000
    lmdb_verify(home)


def test_the_same_payload_appended_after_forget_is_stored_again(home: str) -> None:
    """An erased digest that arrives again is stored again; verify still passes."""
    with LmdbJournal(home) as journal:
        first = journal.append(hook_event("s1", 1)).seq
        forget(journal, [first], run_id="s1")
        again = journal.append(hook_event("s1", 1)).seq
        assert journal.get(again).payload == hook_event("s1", 1)
        result = journal.verify()
        assert result.ok, result.problem
        assert result.erased == 1


def test_verify_still_fails_on_a_missing_blob_that_was_not_erased(home: str) -> None:
    """Invariant 4: only a digest recorded as erased may lack its blob."""
    with LmdbJournal(home) as journal:
        seq = journal.append(hook_event("s1", 1)).seq
        forget(journal, [seq], run_id="s1")
        digest = bytes.fromhex(journal.get(seq).digest)
        with journal._transaction() as txn:
            txn.delete(digest, db=journal._erased)
        result = journal.verify()
        assert not result.ok
        assert result.problem == "payload blob is missing"
        assert result.first_bad_seq == seq


def test_forget_refuses_nothing_and_unknown_seqs(home: str) -> None:
    """No seqs is a usage error; a seq past the head is not found, and nothing changes."""
    with LmdbJournal(home) as journal:
        journal.append(hook_event("s1", 1))
        with pytest.raises(UsageError):
            forget(journal, [], run_id="s1")
        with pytest.raises(NotFoundError, match="no record with seq 9"):
            forget(journal, [1, 9], run_id="s1")
        assert journal.head() == 1
        assert journal.get(1).payload == hook_event("s1", 1)
