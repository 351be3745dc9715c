"""Packed segments: a ``log`` value stored compressed, marked by its first byte.

A segment (:mod:`journal.wire`) starts with the version byte of its first record
(1 or 2; record versions count up from 1). A *packed* segment starts with a byte
from ``0x80`` up instead, naming how the rest is encoded::

    u8   0x81                codec: zlib (RFC 1950: deflate with an Adler-32 trailer)
    u32  raw length          big-endian, the length of the segment it packs
    ...  the zlib stream of the segment's bytes

Unpacking gives back exactly the segment bytes that were packed: the same records
and inline payloads, so record digests, payload digests (over the uncompressed
stored bytes) and every reader above :func:`journal.wire.iter_segment` are unchanged.
A segment is packed only when that makes it smaller; unpacked segments stay valid
forever, and a journal holds both kinds side by side. Software that predates packing
refuses a packed segment as ``unknown record version 129``.

Stdlib only; ``zlib`` is imported on first use (~0.4 ms), so a process that only
appends hook events never imports it.
"""

from __future__ import annotations

import struct

from .errors import CorruptionError

# typing costs ~3 ms to import; this module is on the hook path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["LEVEL", "MIN_BYTES", "ZLIB", "is_packed", "pack", "unpack"]

#: The first byte of a segment packed with zlib.
ZLIB = 0x81
#: zlib level: 1 packs JSON Lines ~250 MB/s on one core to ~1/4-1/7 of their size;
#: higher levels gain little on segments this small and cost 2-3x the time.
LEVEL = 1
#: Segments shorter than this stay as they are (a hook's one-entry segment).
MIN_BYTES = 2048
#: Segments never exceed this many bytes unpacked (also what unpacking trusts).
MAX_RAW = 64 * 1024 * 1024
_HEAD = struct.Struct(">BI")

_compress: Callable[[bytes, int], bytes] | None = None


def is_packed(value: bytes | memoryview) -> bool:
    """Whether a ``log`` value is a packed segment (first byte ``0x80`` or above)."""
    return len(value) > 0 and value[0] >= 0x80


def pack(segment: bytes, level: int | None = None) -> bytes:
    """Return the ``log`` value to store for ``segment``: packed if that is smaller.

    ``level`` is zlib's (default :data:`LEVEL`); 0 stores the segment as it is.
    """
    global _compress
    if level is None:
        level = LEVEL
    if len(segment) < MIN_BYTES or level <= 0 or len(segment) > MAX_RAW:
        return segment
    if _compress is None:
        import zlib

        _compress = zlib.compress
    packed = _compress(segment, level)
    if len(packed) + _HEAD.size >= len(segment):
        return segment
    return _HEAD.pack(ZLIB, len(segment)) + packed


def unpack(value: bytes | memoryview) -> bytes:
    """Return the segment bytes of a ``log`` value (its own bytes if not packed).

    Raises:
        CorruptionError: an unknown codec, a damaged stream, or a length that does
            not match what the header says.
    """
    if not is_packed(value):
        return value if isinstance(value, bytes) else bytes(value)
    import zlib

    if len(value) < _HEAD.size:
        raise CorruptionError("packed segment is shorter than its header")
    codec, size = _HEAD.unpack_from(value, 0)
    if codec != ZLIB:
        raise CorruptionError(f"unknown segment codec 0x{codec:02x}")
    if size > MAX_RAW:
        raise CorruptionError(f"packed segment claims {size} bytes")
    try:
        raw = zlib.decompress(value[_HEAD.size :], bufsize=max(size, 1))
    except zlib.error as exc:
        raise CorruptionError(f"packed segment does not unpack: {exc}") from None
    if len(raw) != size:
        raise CorruptionError(f"packed segment unpacks to {len(raw)} bytes, not {size}")
    return raw
