"""Packed segments: compressed ``log`` values that read back byte for byte, and verify."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal import packing, wire
from journal.errors import CorruptionError
from journal.store import LmdbJournal


def _lines(count: int, pad: int = 400) -> list[bytes]:
    return [
        json.dumps({"type": "assistant", "n": n, "text": "word " * (pad // 5)}).encode()
        for n in range(count)
    ]


def _keyed(lines: list[bytes], tag: str = "x") -> list[tuple[bytes, bytes, bytes]]:
    from journal import digest

    return [(line, digest.digest(line), f"t:{tag}{i}".encode()) for i, line in enumerate(lines)]


def _log_values(journal: LmdbJournal) -> list[bytes]:
    with journal._env.begin() as txn:
        return [bytes(v) for v in txn.cursor(db=journal._log).iternext(keys=False)]


@given(st.binary(max_size=20_000).map(lambda tail: b"\x01" + tail))
def test_pack_then_unpack_gives_back_the_same_bytes(data: bytes) -> None:
    """Any segment (it starts with a record version) comes back byte for byte; small or
    incompressible ones are stored as they are."""
    value = packing.pack(data)
    assert packing.unpack(value) == data
    assert len(value) <= len(data) + 5
    if len(data) < packing.MIN_BYTES:
        assert value == data


def test_a_segment_of_json_lines_packs_to_a_fraction() -> None:
    """JSON Lines compress: the packed value is marked and much smaller."""
    raw = b"\n".join(_lines(60))
    value = packing.pack(raw)
    assert value[0] == packing.ZLIB
    assert packing.is_packed(value)
    assert len(value) < len(raw) / 4
    assert packing.pack(raw, 0) == raw


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda v: v[:3], "shorter than its header"),
        (lambda v: b"\x8f" + v[1:], "unknown segment codec 0x8f"),
        (lambda v: v[:5] + bytes([v[5] ^ 0xFF]) + v[6:], "does not unpack"),
        (lambda v: v[:-1] + bytes([v[-1] ^ 0x01]), "does not unpack"),
        (lambda v: v[:1] + struct.pack(">I", 99) + v[5:], "unpacks to"),
    ],
    ids=["truncated", "unknown-codec", "stream-header", "checksum", "length"],
)
def test_a_damaged_packed_segment_is_a_corruption_error(damage: object, message: str) -> None:
    """Any change to a packed value is caught: zlib's Adler-32 and the stated length."""
    value = packing.pack(b"\n".join(_lines(30)))
    assert callable(damage)
    with pytest.raises(CorruptionError, match=message):
        packing.unpack(damage(value))


def test_append_many_writes_the_records_append_writes(tmp_path: object) -> None:
    """Same records, payload and record digests as one append per line; packed segments."""
    lines = _lines(150)
    one, many = LmdbJournal(f"{tmp_path}/one"), LmdbJournal(f"{tmp_path}/many")
    items = _keyed(lines)

    def singly(w: object) -> None:
        for stored, pdig, key in items:
            w.append(stored, b"claude-code", b"transcript", key, 7, pdig)  # type: ignore[attr-defined]

    one.write(singly)
    assert many.write(lambda w: w.append_many(items, b"claude-code", b"transcript", 7)) == (150, 0)
    assert one.head_digest() == many.head_digest()  # the hash chain commits to every record
    assert [r.payload for r in many.read()] == lines
    values = _log_values(many)
    assert len(values) == 3
    assert all(packing.is_packed(v) for v in values)
    assert many.verify().ok
    assert one.verify().ok
    assert many.stats().bytes < one.stats().bytes


def test_append_many_skips_known_keys_and_shares_known_payloads(tmp_path: object) -> None:
    """A known key is a duplicate (in the journal or earlier in the same call); a payload
    stored before rides inline once and is reached through the blob index."""
    journal = LmdbJournal(f"{tmp_path}/j")
    lines = _lines(10)
    items = _keyed(lines)
    assert journal.write(lambda w: w.append_many(items[:4], b"s", b"transcript", 1)) == (4, 0)
    again = [*items[2:], items[5], (lines[0], items[0][1], b"t:other")]
    assert journal.write(lambda w: w.append_many(again, b"s", b"transcript", 2)) == (7, 3)
    records = list(journal.read())
    assert [r.key for r in records] == [f"t:x{i}" for i in range(10)] + ["t:other"]
    assert records[-1].payload == lines[0]
    report = journal.verify()
    assert report.ok
    assert report.blobs_checked == 10


def test_a_journal_of_packed_and_plain_segments_reads_and_verifies(tmp_path: object) -> None:
    """Plain one-entry segments (hook appends) and packed ones live side by side."""
    journal = LmdbJournal(f"{tmp_path}/j")
    journal.append(b'{"hook_event_name":"Stop"}', source="claude-code")
    journal.write(lambda w: w.append_many(_keyed(_lines(70)), b"claude-code", b"transcript", 3))
    journal.append(b'{"hook_event_name":"SessionEnd"}', source="claude-code")
    kinds = [r.kind for r in journal.read()]
    assert kinds == ["Stop", *["transcript"] * 70, "SessionEnd"]
    assert journal.get(40).payload == _lines(70)[38]
    assert [packing.is_packed(v) for v in _log_values(journal)] == [False, True, True, False]
    assert journal.verify().ok


def test_verify_names_a_packed_segment_whose_bytes_changed(tmp_path: object) -> None:
    """One flipped byte inside a packed segment fails verify at that segment's first seq."""
    journal = LmdbJournal(f"{tmp_path}/j")
    journal.append(b'{"hook_event_name":"Stop"}')
    journal.write(lambda w: w.append_many(_keyed(_lines(70)), b"s", b"transcript", 3))
    with journal._env.begin(write=True, db=journal._log) as txn:
        key = wire.seq_key(2)
        found = txn.get(key)
        assert found is not None
        value = bytearray(found)
        value[len(value) // 2] ^= 0x20
        assert txn.put(key, bytes(value))
    report = journal.verify()
    assert not report.ok
    assert report.first_bad_seq == 2
    assert report.problem is not None
    assert "packed segment" in report.problem


def test_an_append_after_a_packed_segment_neither_unpacks_it_nor_imports_zlib(
    tmp_path: object,
) -> None:
    """The next seq and link come from the head anchor: a hook after a transcript capture
    stays as cheap as any other (checked in a fresh interpreter), and the chain verifies."""
    home = f"{tmp_path}/j"
    with LmdbJournal(home) as journal:
        journal.write(lambda w: w.append_many(_keyed(_lines(10)), b"s", b"transcript", 3))
        assert packing.is_packed(_log_values(journal)[-1])
    code = (
        "import sys\n"
        "from journal.store import LmdbJournal\n"
        f"j = LmdbJournal({home!r})\n"
        "print(j.append(b'{\"hook_event_name\":\"Stop\"}').seq, 'zlib' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["11", "False"]
    with LmdbJournal(home) as journal:
        assert journal.verify().ok
        assert [r.seq for r in journal.read()] == list(range(1, 12))
