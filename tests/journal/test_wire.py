"""Byte layouts: records, segments and quarantine entries round-trip, and damage is caught."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal import wire
from journal.errors import CorruptionError, UsageError

_u64 = st.integers(min_value=0, max_value=2**64 - 1)
_digests = st.binary(min_size=32, max_size=32)
_names = st.text(min_size=1, max_size=20).filter(lambda s: len(s.encode()) <= wire.MAX_NAME_BYTES)
_keys = st.just("") | st.text(min_size=1, max_size=40)


@st.composite
def entries(draw: st.DrawFn) -> tuple[tuple[int, int, bytes, bytes, str, str, str], bytes]:
    """One entry's fields and its inline payload (empty when another entry holds it)."""
    fields = (
        draw(_u64),
        draw(_u64),
        draw(_digests),
        draw(_digests),
        draw(_names),
        draw(_names),
        draw(_keys),
    )
    return fields, draw(st.just(b"") | st.binary(min_size=1, max_size=200))


def encode_entry(fields: tuple[int, int, bytes, bytes, str, str, str], inline: bytes) -> bytes:
    seq, received_at, pdig, prev, source, kind, key = fields
    record = wire.encode_record(
        seq, received_at, pdig, prev, source.encode(), kind.encode(), key.encode()
    )
    return record + wire.encode_inline(inline)


def test_record_layout_is_fixed() -> None:
    """A record is version, seq, time, two digests, three u16 lengths, then the names."""
    pdig, prev = bytes(range(32)), bytes(range(32, 64))
    record = wire.encode_record(7, 1_700_000_000_000_000_000, pdig, prev, b"codex", b"Stop", b"k")
    expected = (
        b"\x01"
        + (7).to_bytes(8, "big")
        + (1_700_000_000_000_000_000).to_bytes(8, "big")
        + pdig
        + prev
        + (5).to_bytes(2, "big")
        + (4).to_bytes(2, "big")
        + (1).to_bytes(2, "big")
        + b"codexStopk"
    )
    assert record == expected
    assert wire.encode_inline(b"{}") == b"\x00\x00\x00\x02{}"


@given(items=st.lists(entries(), min_size=1, max_size=6))
def test_segment_round_trip(
    items: list[tuple[tuple[int, int, bytes, bytes, str, str, str], bytes]],
) -> None:
    """Entries encoded one after another decode back to the same fields, in order."""
    segment = b"".join(encode_entry(fields, inline) for fields, inline in items)
    decoded = list(wire.iter_segment(segment))
    assert len(decoded) == len(items)
    for entry, (fields, inline) in zip(decoded, items, strict=True):
        seq, received_at, pdig, prev, source, kind, key = fields
        assert (entry.seq, entry.received_at) == (seq, received_at)
        assert (entry.payload_digest, entry.prev_digest) == (pdig, prev)
        assert (entry.source, entry.kind) == (source, kind)
        assert entry.key == (key or None)
        assert entry.inline == (inline or None)
        assert entry.record == encode_entry(fields, b"")[:-4]


def test_empty_segment_has_no_entries() -> None:
    """Zero bytes decode to zero entries (the store treats that as corruption itself)."""
    assert list(wire.iter_segment(b"")) == []


@given(items=st.lists(entries(), min_size=1, max_size=4), data=st.data())
def test_truncated_segment_is_corrupt(
    items: list[tuple[tuple[int, int, bytes, bytes, str, str, str], bytes]], data: st.DataObject
) -> None:
    """A segment cut anywhere but between entries raises CorruptionError."""
    encoded = [encode_entry(fields, inline) for fields, inline in items]
    segment = b"".join(encoded)
    boundaries = {0}
    for part in encoded:
        boundaries.add(max(boundaries) + len(part))
    cut = data.draw(
        st.integers(min_value=1, max_value=len(segment) - 1).filter(lambda n: n not in boundaries)
    )
    with pytest.raises(CorruptionError):
        list(wire.iter_segment(segment[:cut]))


@given(entry=entries(), version=st.integers(min_value=0, max_value=255))
def test_unknown_record_version_is_corrupt(
    entry: tuple[tuple[int, int, bytes, bytes, str, str, str], bytes], version: int
) -> None:
    """A record whose version byte is not 1, 2 or 3 raises CorruptionError naming it."""
    segment = encode_entry(*entry)
    garbled = bytes([version]) + segment[1:]
    if version == wire.RECORD_VERSION:
        assert len(list(wire.iter_segment(garbled))) == 1
    elif version in (wire.RECORD_VERSION_AGENT, wire.RECORD_VERSION_ORIGIN):
        try:  # version 1 bytes read as version 2 or 3: some other entry, or corrupt
            list(wire.iter_segment(garbled))
        except CorruptionError:
            pass
    elif version >= 0x80:  # the mark of a packed segment (journal.packing): not one here
        with pytest.raises(CorruptionError):
            list(wire.iter_segment(garbled))
    else:
        with pytest.raises(CorruptionError, match=f"unknown record version {version}"):
            list(wire.iter_segment(garbled))


_GOOD = encode_entry((1, 2, bytes(32), bytes(32), "codex", "Stop", ""), b"{}")
_HEAD = struct.calcsize(">BQQ32s32sHHH")


@pytest.mark.parametrize(
    "value",
    [
        _GOOD[:-6] + (1000).to_bytes(4, "big") + b"{}",
        _GOOD[: _HEAD - 6] + b"\xff\xff" + _GOOD[_HEAD - 4 :],
        _GOOD[:_HEAD] + b"\xff" + _GOOD[_HEAD + 1 :],
        _GOOD + b"\x01\x02\x03",
        b"\x01" + b"garbage that is not a segment at all, not even close" * 2,
    ],
    ids=["inline-too-long", "name-too-long", "source-not-utf8", "trailing-junk", "junk"],
)
def test_garbled_segment_is_corrupt(value: bytes) -> None:
    """Bad lengths, non-UTF-8 names and junk raise CorruptionError, never anything else."""
    assert [e.inline for e in wire.iter_segment(_GOOD)] == [b"{}"]
    with pytest.raises(CorruptionError):
        list(wire.iter_segment(value))


@given(
    received_at=_u64,
    source=st.text(max_size=20),
    kind=st.text(max_size=20),
    reason=st.text(max_size=80),
    data=st.binary(max_size=300),
)
def test_quarantine_round_trip(
    received_at: int, source: str, kind: str, reason: str, data: bytes
) -> None:
    """A quarantine entry decodes to what was encoded, with the input byte for byte."""
    value = wire.encode_quarantine(
        received_at, source.encode(), kind.encode(), reason.encode(), data
    )
    assert wire.decode_quarantine(value) == (received_at, source, kind, reason, data)


def test_quarantine_damage_is_corrupt() -> None:
    """A short, mis-versioned, over-long or non-UTF-8 quarantine entry is corrupt."""
    value = wire.encode_quarantine(5, b"codex", b"Stop", b"not JSON", b"{oops")
    header = struct.calcsize(">BQHHI")
    with pytest.raises(CorruptionError, match="unreadable"):
        wire.decode_quarantine(value[: header - 1])
    with pytest.raises(CorruptionError, match="unknown quarantine version 2"):
        wire.decode_quarantine(b"\x02" + value[1:])
    with pytest.raises(CorruptionError, match="shorter than its header"):
        wire.decode_quarantine(value[: header + 7])
    with pytest.raises(CorruptionError, match="unreadable"):
        wire.decode_quarantine(value[:header] + b"\xff" + value[header + 1 :])


@given(a=_u64, b=_u64)
def test_seq_keys_sort_like_seqs(a: int, b: int) -> None:
    """Seq keys are 8 bytes, round-trip, and sort in the same order as the numbers."""
    ka, kb = wire.seq_key(a), wire.seq_key(b)
    assert len(ka) == 8
    assert wire.seq_of_key(ka) == a
    assert (ka < kb) == (a < b)


_damaged = st.binary(max_size=200) | st.builds(
    lambda at, byte: _GOOD[:at] + bytes([byte]) + _GOOD[at + 1 :],
    st.integers(0, len(_GOOD) - 1),
    st.integers(0, 255),
)


@given(value=_damaged)
def test_any_bytes_decode_or_are_corrupt(value: bytes) -> None:
    """Decoding any bytes yields entries or raises CorruptionError, never another error."""
    try:
        list(wire.iter_segment(value))
    except CorruptionError:
        pass
    try:
        wire.decode_quarantine(value)
    except CorruptionError:
        pass


# -- record version 2: the agent process ---------------------------------------------

_agents = st.tuples(
    st.integers(1, 2**32 - 1), st.integers(0, 2**64 - 1), st.binary(min_size=16, max_size=16)
)


def test_agent_record_layout_is_fixed() -> None:
    """Version 2 is version 1's fixed part, then u32 pid, u64 start, 16-byte boot, names."""
    pdig, prev, boot = bytes(range(32)), bytes(range(32, 64)), bytes(range(16))
    v1 = wire.encode_record(7, 9, pdig, prev, b"codex", b"Stop", b"k")
    v2 = wire.encode_record(7, 9, pdig, prev, b"codex", b"Stop", b"k", (4242, 123_456, boot))
    fixed = wire.RECORD_HEAD.size
    assert v2 == (
        b"\x02"
        + v1[1:fixed]
        + (4242).to_bytes(4, "big")
        + (123_456).to_bytes(8, "big")
        + boot
        + b"codexStopk"
    )
    assert len(v2) == len(v1) + 28


@given(items=st.lists(st.tuples(entries(), st.none() | _agents), min_size=1, max_size=6))
def test_segments_mixing_both_versions_round_trip(
    items: list[
        tuple[
            tuple[tuple[int, int, bytes, bytes, str, str, str], bytes],
            tuple[int, int, bytes] | None,
        ]
    ],
) -> None:
    """Version 1 and 2 entries in one segment decode in order; version 1 has no agent."""
    parts = []
    for (fields, inline), agent in items:
        seq, received_at, pdig, prev, source, kind, key = fields
        record = wire.encode_record(
            seq, received_at, pdig, prev, source.encode(), kind.encode(), key.encode(), agent
        )
        parts.append((record, inline))
    segment = b"".join(record + wire.encode_inline(inline) for record, inline in parts)
    decoded = list(wire.iter_segment(segment))
    assert [e.agent for e in decoded] == [agent for _, agent in items]
    assert [e.record for e in decoded] == [record for record, _ in parts]
    assert [(e.source, e.key) for e in decoded] == [(f[4], f[6] or None) for (f, _), _ in items]


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        ((0, 1, bytes(16)), "agent pid"),
        ((2**32, 1, bytes(16)), "agent pid"),
        ((1, -1, bytes(16)), "agent start"),
        ((1, 1, bytes(15)), "boot id"),
        ((1, 1), "must be"),
    ],
    ids=["pid-zero", "pid-too-big", "negative-start", "short-boot", "not-a-triple"],
)
def test_malformed_agents_are_refused(agent: object, message: str) -> None:
    """check_agent refuses what the version 2 layout cannot hold, with a UsageError."""
    with pytest.raises(UsageError, match=message):
        wire.check_agent(agent)  # type: ignore[arg-type]


def test_boot_text_is_the_kernels_spelling() -> None:
    """A boot id renders as /proc/sys/kernel/random/boot_id does: UUID text."""
    boot = bytes.fromhex("37617def08b74ab0a1a0d3e1e6086ea1")
    assert wire.boot_text(boot) == "37617def-08b7-4ab0-a1a0-d3e1e6086ea1"


# -- record version 3: the origin of a pulled record ------------------------------------

_origins = st.tuples(st.binary(min_size=16, max_size=16), st.integers(1, 2**64 - 1))


def test_origin_record_layout_is_fixed() -> None:
    """Version 3 is version 1's fixed part, then the 16-byte origin id, u64 origin seq, names."""
    pdig, prev, origin = bytes(range(32)), bytes(range(32, 64)), bytes(range(100, 116))
    v1 = wire.encode_record(7, 9, pdig, prev, b"codex", b"Stop", b"k")
    v3 = wire.encode_record(7, 9, pdig, prev, b"codex", b"Stop", b"k", None, (origin, 41))
    fixed = wire.RECORD_HEAD.size
    assert v3 == b"\x03" + v1[1:fixed] + origin + (41).to_bytes(8, "big") + b"codexStopk"
    assert len(v3) == len(v1) + wire.ORIGIN_TAIL.size == len(v1) + 24


@given(
    items=st.lists(
        st.tuples(entries(), st.sampled_from(["v1", "v2", "v3"]), _agents, _origins),
        min_size=1,
        max_size=6,
    )
)
def test_segments_mixing_all_three_versions_round_trip(
    items: list[
        tuple[
            tuple[tuple[int, int, bytes, bytes, str, str, str], bytes],
            str,
            tuple[int, int, bytes],
            tuple[bytes, int],
        ]
    ],
) -> None:
    """Versions 1, 2 and 3 in one segment decode in order; each reads only its own tail
    (the upcaster: versions 1 and 2 have no origin, 1 and 3 no agent process)."""
    parts, expected = [], []
    for (fields, inline), version, agent, origin in items:
        seq, received_at, pdig, prev, source, kind, key = fields
        use_agent = agent if version == "v2" else None
        use_origin = origin if version == "v3" else None
        record = wire.encode_record(
            seq,
            received_at,
            pdig,
            prev,
            source.encode(),
            kind.encode(),
            key.encode(),
            use_agent,
            use_origin,
        )
        parts.append(record + wire.encode_inline(inline))
        expected.append((record, use_agent, use_origin, source, kind, key or None))
    decoded = list(wire.iter_segment(b"".join(parts)))
    assert [(e.record, e.agent, e.origin, e.source, e.kind, e.key) for e in decoded] == expected


@pytest.mark.parametrize(
    ("origin", "message"),
    [
        ((bytes(15), 1), "origin id"),
        ((bytes(16), 0), "origin seq"),
        ((bytes(16), 2**64), "origin seq"),
        (("0" * 16, 1), "origin id"),
        ((bytes(16),), "must be"),
    ],
    ids=["short-id", "seq-zero", "seq-too-big", "text-id", "not-a-pair"],
)
def test_malformed_origins_are_refused(origin: object, message: str) -> None:
    """check_origin refuses what the version 3 layout cannot hold, with a UsageError."""
    with pytest.raises(UsageError, match=message):
        wire.check_origin(origin)  # type: ignore[arg-type]


def test_a_record_names_an_agent_or_an_origin_not_both() -> None:
    """encode_record refuses a record with both tails: a pulled record has no local agent."""
    with pytest.raises(UsageError, match="not both"):
        wire.encode_record(
            1, 1, bytes(32), bytes(32), b"s", b"k", b"", (1, 1, bytes(16)), (bytes(16), 1)
        )


def test_origin_text_is_uuid_text() -> None:
    """An origin id renders as the UUID text ``journal origin`` prints."""
    raw = bytes.fromhex("7c53f00acb68480fbf208b9997c8f8df")
    assert wire.origin_text(raw) == "7c53f00a-cb68-480f-bf20-8b9997c8f8df"
