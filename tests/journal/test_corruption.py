"""Bytes flipped on disk are caught by ``journal verify`` (invariants 3 and 4).

Each test appends records, closes the journal, flips one byte of one record inside
``data.mdb`` (found by searching the raw file), and runs the real ``journal verify``.
Every record's entry is larger than half an LMDB page, so it lives on its own
overflow pages, written once and never copied; stale fragments of it can linger in
unused parts of other pages, so the search keeps only the copy that starts an
overflow page (see :func:`_live_entry_offset`).

LMDB keeps no checksums of its own, so ``python -m lmdb verify`` (a structural audit)
still passes on these files: only the journal's digests notice.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import uuid

from journal import wire
from journal.records import Record
from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN, lmdb_verify

PAD = "p" * 3000  # > half a page: each record's entry goes to overflow pages
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")  # what LMDB used when it created the file
P_OVERFLOW = 0x04  # lmdb.h / mdb.c page flag


def _append(home: str, count: int, source: str = "generic") -> list[tuple[Record, str]]:
    """Append ``count`` records with unique markers; return (record, marker) pairs."""
    out = []
    with LmdbJournal(home) as journal:
        for i in range(count):
            marker = f"MARKER-{uuid.uuid4().hex}"
            data = json.dumps({"hook_event_name": "Stop", "marker": marker, "i": i, "pad": PAD})
            journal.append(data.encode(), source=source)
            out.append((journal.get(i + 1), marker))
    return out


def _record_bytes(record: Record) -> bytes:
    key = record.key.encode() if record.key is not None else b""
    raw = wire.encode_record(
        record.seq,
        record.received_at,
        bytes.fromhex(record.digest),
        bytes.fromhex(record.prev_digest),
        record.source.encode(),
        record.kind.encode(),
        key,
    )
    return raw


def _live_entry_offset(data: bytes, record: Record) -> int:
    """Return where the live log entry of ``record`` starts in ``data`` (data.mdb).

    LMDB writes whole pages, and a page buffer it reuses can still hold bytes of an
    earlier page in its unused part, so a record's bytes can occur more than once in
    the file. The live copy is the value on its own overflow pages: it starts right
    after the 16-byte header of a page flagged ``P_OVERFLOW`` whose page number is its
    own position.
    """
    raw = _record_bytes(record)
    psize = PAGE_SIZE
    found = []
    at = data.find(raw)
    while at >= 0:
        page = at - at % psize
        pgno = int.from_bytes(data[page : page + 8], "little")
        flags = int.from_bytes(data[page + 10 : page + 12], "little")
        if at % psize == 16 and flags & P_OVERFLOW and pgno == page // psize:
            found.append(at)
        at = data.find(raw, at + 1)
    assert len(found) == 1, f"live entry of seq {record.seq} found at {found}"
    return found[0]


def _flip(home: str, record: Record, offset: int) -> None:
    """Flip the lowest bit of the byte at ``offset`` in ``record``'s live log entry.

    Offsets below the record's length fall in its hashed header; the payload follows
    a 4-byte length (see :mod:`journal.wire`).
    """
    path = pathlib.Path(home, "log", "data.mdb")
    data = bytearray(path.read_bytes())
    at = _live_entry_offset(bytes(data), record) + offset
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _payload_offset(record: Record, needle: bytes) -> int:
    """The offset of ``needle`` in the payload, from the start of the entry."""
    return len(_record_bytes(record)) + 4 + record.payload.index(needle)


def _verify(home: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JOURNAL_BIN, "--home", home, "verify"], capture_output=True, text=True, timeout=120
    )


def _verify_json(home: str) -> dict[str, object]:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "verify", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    report: dict[str, object] = json.loads(done.stdout)
    return report


def _assert_fails_at(home: str, seq: int, problem: str) -> None:
    done = _verify(home)
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Error: verify failed at seq {seq}:"), lines[0]
    assert problem in lines[0]
    report = _verify_json(home)
    assert report["ok"] is False
    assert report["first_bad_seq"] == seq
    assert report["records_checked"] == seq - 1


def test_verify_passes_before_any_flip(home: str) -> None:
    _append(home, 3)
    done = _verify(home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: 3 records")


def test_flipped_payload_byte_names_its_seq(home: str) -> None:
    records = _append(home, 3)
    record, marker = records[1]
    _flip(home, record, _payload_offset(record, marker.encode()) + len("MARKER-") + 3)
    _assert_fails_at(home, 2, "payload does not hash to its digest")
    lmdb_verify(home)


def test_flipped_payload_byte_in_a_later_record_names_only_that_seq(home: str) -> None:
    records = _append(home, 6)
    record, marker = records[4]
    _flip(home, record, _payload_offset(record, marker.encode()) + len(marker) - 1)
    _assert_fails_at(home, 5, "payload does not hash to its digest")
    # The records before it still read back intact.
    with LmdbJournal(home) as journal:
        for record, mark in records[:4]:
            again = journal.get(record.seq)
            assert again == record
            assert mark.encode() in again.payload


def test_flipped_payload_digest_in_a_record_header_names_its_seq(home: str) -> None:
    records = _append(home, 4)
    record, _ = records[1]
    digest_at = 1 + 8 + 8  # version, seq, received_at
    _flip(home, record, digest_at + 5)
    _assert_fails_at(home, 2, "payload does not hash to its digest")


def test_flipped_source_name_names_the_changed_record(home: str) -> None:
    """A changed header field of record N is named at N, not at N+1.

    The source name is hashed into record N's digest, so the link from N+1 breaks.
    verify then checks N+1 against what N+2 links to: N+1 is intact, so N changed.
    """
    source = f"src-{uuid.uuid4().hex}"
    records = _append(home, 4, source=source)
    record, _ = records[1]
    assert record.source == source
    raw = _record_bytes(record)
    source_at = len(raw) - len(record.kind) - len(source)
    assert raw[source_at : source_at + len(source)] == source.encode()
    _flip(home, record, source_at + len(source) - 1)  # a hex digit: stays ASCII
    _assert_fails_at(home, 2, "record changed")
    lmdb_verify(home)


def test_flipped_previous_digest_names_the_record_holding_it(home: str) -> None:
    """A changed previous-digest field of record N is named at N (N-1 is intact)."""
    records = _append(home, 4)
    record, _ = records[2]
    prev_at = 1 + 8 + 8 + 32  # version, seq, received_at, payload digest
    _flip(home, record, prev_at + 3)
    _assert_fails_at(home, 3, "previous-digest link is broken")


def test_flipped_source_name_in_the_head_record_is_detected(home: str) -> None:
    """The head anchor that every append writes covers the newest record too."""
    source = f"src-{uuid.uuid4().hex}"
    records = _append(home, 3, source=source)
    record, _ = records[-1]
    raw = _record_bytes(record)
    source_at = len(raw) - len(record.kind) - len(source)
    _flip(home, record, source_at + 2)
    _assert_fails_at(home, 3, "head anchor")
