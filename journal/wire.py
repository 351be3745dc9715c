"""Byte layouts of everything the journal stores (record format ``agent-journal/1``).

One encoder and one decoder per layout, used by every path (hook, CLI, batch), so
equal inputs always give equal bytes. Layouts are fixed forever; a change gets a new
version byte and a decoder branch, and stored bytes are never rewritten.

**Record** (the hashed unit; its SHA-256 is the record digest, its address)::

    u8   version = 1, 2 or 3
    u64  seq                 big-endian, 1-based, dense
    u64  received_at         nanoseconds since the Unix epoch
    32s  payload digest      SHA-256 of the stored payload bytes
    32s  previous digest     record digest of seq-1 (32 zero bytes for seq 1)
    u16  len(source)  u16 len(kind)  u16 len(key)
    version 2 only:
    u32  agent pid           the agent process that sent the event (a hook's)
    u64  agent start         its start time, clock ticks after boot (/proc/PID/stat)
    16s  agent boot          the boot id of that start time
    version 3 only:
    16s  origin              the journal the record was first appended to (its UUID)
    u64  origin seq          its seq there
    ...  source, kind, key   UTF-8; a zero-length key means "no key"

Version 2 is version 1 plus the agent process (DESIGN §2): a record that has one is
written as version 2, a record without one (batches, imports, transcript lines) as
version 1, and both decode forever; a version 1 record reads as "no agent process"
(the upcaster is :func:`iter_segment`). The record digest covers the agent fields.

Version 3 is version 1 plus the record's **origin** (DESIGN §2): a record pulled from
another journal (``journal pull``, :mod:`journal.ship`) keeps the origin id and seq it
had there. Records appended here are versions 1 and 2 and read as "origin: this
journal" (``origin`` None). A pulled record carries no agent process: its pid belongs
to another machine's process table, where this one cannot look.

**Entry** = record bytes, then ``u32`` inline length and that many payload bytes.
The payload rides inline in the entry of the first record that carried it; later
records with the same digest carry length 0 and point at it through ``blobs``.

**Segment** = one ``log`` value: consecutive entries, keyed by the first entry's seq.
A hook append writes a one-entry segment; a batch writes segments of up to
:data:`SEGMENT_ENTRIES` entries (fewer LMDB puts, full pages).

**Quarantine entry**::

    u8 version = 1, u64 received_at, u16 len(source), u16 len(kind), u32 len(reason),
    source, kind, reason (UTF-8), then the input bytes exactly as received.
"""

from __future__ import annotations

import struct

from .errors import CorruptionError, UsageError

# typing costs ~3 ms to import; this module is on the hook path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "AGENT_TAIL",
    "INLINE_LENGTH",
    "MAX_KEY_BYTES",
    "MAX_NAME_BYTES",
    "ORIGIN_TAIL",
    "RECORD_HEAD",
    "RECORD_VERSION",
    "RECORD_VERSION_AGENT",
    "RECORD_VERSION_ORIGIN",
    "SEGMENT_BYTES",
    "SEGMENT_ENTRIES",
    "ZERO_DIGEST",
    "Entry",
    "boot_text",
    "check_agent",
    "check_origin",
    "decode_quarantine",
    "encode_name",
    "encode_quarantine",
    "encode_record",
    "iter_segment",
    "origin_text",
    "seq_key",
    "seq_of_key",
]

RECORD_VERSION = 1
#: The version of a record that names its agent process.
RECORD_VERSION_AGENT = 2
#: The version of a record that came from another journal and names its origin.
RECORD_VERSION_ORIGIN = 3
ZERO_DIGEST = bytes(32)
SEGMENT_ENTRIES = 64
SEGMENT_BYTES = 64 * 1024
MAX_KEY_BYTES = 256
MAX_NAME_BYTES = 128

_SEQ = struct.Struct(">Q")
_HEAD = struct.Struct(">BQQ32s32sHHH")
#: The fixed part of a record; the UTF-8 source, kind and key follow it.
RECORD_HEAD = _HEAD
_AGENT = struct.Struct(">IQ16s")
#: What a version 2 record adds after the fixed part: agent pid, start ticks, boot id.
AGENT_TAIL = _AGENT
_ORIGIN = struct.Struct(">16sQ")
#: What a version 3 record adds after the fixed part: origin id and origin seq.
ORIGIN_TAIL = _ORIGIN
_MAX_PID = 2**32 - 1
_MAX_U64 = 2**64 - 1
_INLINE = struct.Struct(">I")
#: The u32 length that follows a record in an entry.
INLINE_LENGTH = _INLINE
_QUARANTINE = struct.Struct(">BQHHI")

seq_key = _SEQ.pack


def encode_name(value: str, what: str, limit: int = MAX_NAME_BYTES) -> bytes:
    """Return a source, kind or key as UTF-8, refusing empty or over-long values."""
    raw = value.encode("utf-8")
    if not raw:
        raise UsageError(f"{what} must not be empty")
    if len(raw) > limit:
        raise UsageError(f"{what} is longer than {limit} bytes")
    return raw


def seq_of_key(key: bytes | memoryview) -> int:
    """Decode an 8-byte big-endian sequence key."""
    value: int = _SEQ.unpack(key)[0]
    return value


def check_agent(agent: tuple[int, int, bytes] | None) -> tuple[int, int, bytes] | None:
    """Return ``agent`` if it fits a record: ``(pid, start ticks, 16-byte boot id)``.

    Raises:
        UsageError: a pid outside 1..2**32-1, a start outside 0..2**64-1, or a boot
            id that is not 16 bytes.
    """
    if agent is None:
        return None
    try:
        pid, start, boot = agent
    except (TypeError, ValueError):
        raise UsageError("agent must be (pid, start, boot id)") from None
    if type(pid) is not int or not 1 <= pid <= _MAX_PID:
        raise UsageError(f"agent pid must be an integer 1..{_MAX_PID}")
    if type(start) is not int or not 0 <= start <= _MAX_U64:
        raise UsageError("agent start must be an integer 0..2**64-1")
    if not isinstance(boot, bytes) or len(boot) != 16:
        raise UsageError("agent boot id must be 16 bytes")
    return pid, start, boot


def check_origin(origin: tuple[bytes, int] | None) -> tuple[bytes, int] | None:
    """Return ``origin`` if it fits a record: ``(16-byte origin id, origin seq)``.

    Raises:
        UsageError: an id that is not 16 bytes or a seq outside 1..2**64-1.
    """
    if origin is None:
        return None
    try:
        ident, seq = origin
    except (TypeError, ValueError):
        raise UsageError("origin must be (origin id, origin seq)") from None
    if not isinstance(ident, bytes) or len(ident) != 16:
        raise UsageError("origin id must be 16 bytes")
    if type(seq) is not int or not 1 <= seq <= _MAX_U64:
        raise UsageError("origin seq must be an integer 1..2**64-1")
    return ident, seq


def origin_text(ident: bytes) -> str:
    """An origin id as the UUID text ``journal origin`` shows."""
    return boot_text(ident)


def encode_record(
    seq: int,
    received_at: int,
    payload_digest: bytes,
    prev_digest: bytes,
    source: bytes,
    kind: bytes,
    key: bytes,
    agent: tuple[int, int, bytes] | None = None,
    origin: tuple[bytes, int] | None = None,
) -> bytes:
    """Return the canonical bytes of one record (names already UTF-8 encoded).

    With ``agent`` (already checked by :func:`check_agent`) the record is version 2;
    with ``origin`` (checked by :func:`check_origin`) version 3. Never both.
    """
    if origin is not None:
        if agent is not None:
            raise UsageError("a record names an agent process or an origin, not both")
        version, tail = RECORD_VERSION_ORIGIN, _ORIGIN.pack(*origin)
    elif agent is not None:
        version, tail = RECORD_VERSION_AGENT, _AGENT.pack(*agent)
    else:
        version, tail = RECORD_VERSION, b""
    head = _HEAD.pack(
        version, seq, received_at, payload_digest, prev_digest, len(source), len(kind), len(key)
    )
    return head + tail + source + kind + key


def boot_text(boot: bytes) -> str:
    """A boot id as ``/proc/sys/kernel/random/boot_id`` shows it (UUID text)."""
    h = boot.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def encode_inline(payload: bytes) -> bytes:
    """Return the entry tail that follows a record: inline length and bytes."""
    return _INLINE.pack(len(payload)) + payload


class Entry:
    """One decoded entry of a segment; ``record`` is the exact hashed bytes."""

    __slots__ = (
        "agent",
        "inline",
        "key",
        "kind",
        "origin",
        "payload_digest",
        "prev_digest",
        "received_at",
        "record",
        "seq",
        "source",
    )

    def __init__(
        self,
        record: bytes,
        seq: int,
        received_at: int,
        payload_digest: bytes,
        prev_digest: bytes,
        source: str,
        kind: str,
        key: str | None,
        inline: bytes | None,
        agent: tuple[int, int, bytes] | None = None,
        origin: tuple[bytes, int] | None = None,
    ) -> None:
        self.record = record
        self.seq = seq
        self.received_at = received_at
        self.payload_digest = payload_digest
        self.prev_digest = prev_digest
        self.source = source
        self.kind = kind
        self.key = key
        self.inline = inline
        self.agent = agent
        self.origin = origin


def iter_segment(value: bytes | memoryview) -> Iterator[Entry]:
    """Decode the entries of one segment, in seq order.

    Version 1 records decode with ``agent`` and ``origin`` None, version 2 with their
    agent process, version 3 with their origin (the upcaster: older versions read as
    records of this journal with no agent process known).

    Raises:
        CorruptionError: the bytes do not parse as entries of a known version.
    """
    if len(value) and value[0] >= 0x80:  # a packed segment: see journal.packing
        from .packing import unpack

        value = unpack(value)
    view = memoryview(value)
    end = len(value)
    offset = 0
    try:
        while offset < end:
            (version, seq, received_at, pdig, prev, ls, lk, lkey) = _HEAD.unpack_from(view, offset)
            agent: tuple[int, int, bytes] | None = None
            origin: tuple[bytes, int] | None = None
            if version == RECORD_VERSION:
                head_size = _HEAD.size
            elif version == RECORD_VERSION_AGENT:
                agent = _AGENT.unpack_from(view, offset + _HEAD.size)
                head_size = _HEAD.size + _AGENT.size
            elif version == RECORD_VERSION_ORIGIN:
                origin = _ORIGIN.unpack_from(view, offset + _HEAD.size)
                head_size = _HEAD.size + _ORIGIN.size
            else:
                raise CorruptionError(f"unknown record version {version}")
            names = offset + head_size
            stop = names + ls + lk + lkey
            if stop + _INLINE.size > end:
                raise CorruptionError("entry runs past the end of its segment")
            record = bytes(view[offset:stop])
            source = record[head_size : head_size + ls].decode()
            kind = record[head_size + ls : head_size + ls + lk].decode()
            key = record[head_size + ls + lk :].decode() if lkey else None
            (inline_len,) = _INLINE.unpack_from(view, stop)
            start = stop + _INLINE.size
            offset = start + inline_len
            if offset > end:
                raise CorruptionError("inline payload runs past its segment")
            inline = bytes(view[start:offset]) if inline_len else None
            yield Entry(
                record, seq, received_at, pdig, prev, source, kind, key, inline, agent, origin
            )
    except (struct.error, UnicodeDecodeError) as exc:
        raise CorruptionError(f"unreadable entry at byte {offset}: {exc}") from None


def encode_quarantine(
    received_at: int, source: bytes, kind: bytes, reason: bytes, data: bytes
) -> bytes:
    """Return the bytes of one quarantine entry."""
    return (
        _QUARANTINE.pack(1, received_at, len(source), len(kind), len(reason))
        + source
        + kind
        + reason
        + data
    )


def decode_quarantine(value: bytes) -> tuple[int, str, str, str, bytes]:
    """Return ``(received_at, source, kind, reason, data)`` of a quarantine entry."""
    try:
        version, received_at, ls, lk, lr = _QUARANTINE.unpack_from(value, 0)
        if version != 1:
            raise CorruptionError(f"unknown quarantine version {version}")
        o = _QUARANTINE.size
        if len(value) < o + ls + lk + lr:
            raise CorruptionError("quarantine entry is shorter than its header says")
        source = value[o : o + ls].decode()
        kind = value[o + ls : o + ls + lk].decode()
        reason = value[o + ls + lk : o + ls + lk + lr].decode()
        data = value[o + ls + lk + lr :]
    except (struct.error, UnicodeDecodeError) as exc:
        raise CorruptionError(f"unreadable quarantine entry: {exc}") from None
    return received_at, source, kind, reason, bytes(data)
