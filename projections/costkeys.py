"""The costs view's state layout and version, without the fold.

Shared by the view (:mod:`projections.costs`), its Codex fold, its queries and the
warm read of ``journal costs`` (:mod:`projections.costfast`). Importing this module
costs nothing but :mod:`struct` and :mod:`zlib`: no msgspec, no prices.
"""

from __future__ import annotations

import struct
import zlib

__all__ = [
    "AGG",
    "AGG_PREFIX",
    "BUCKET",
    "BUCKET_NS",
    "CODE_VERSION",
    "DAY",
    "DAY_NS",
    "DAY_PREFIX",
    "SOURCES",
    "UNATTRIBUTED",
    "key_bytes",
    "source_of",
    "split",
    "view_version",
]

#: Bump when the fold or the state layout changes (the price data's version is added).
#: 2: per-day aggregates (``d:``) beside the per-run ones; 3: the rates responses were
#: priced at, per model and day (``q:``, ``p:``).
CODE_VERSION = 3
#: Aggregates are kept per 15 minutes of UTC: every real time zone's day starts on one.
BUCKET_NS = 900 * 10**9
DAY_NS = 86_400 * 10**9
#: Cost sources, as stored (one letter) and as reported.
SOURCES = {"c": "computed", "p": "provider", "u": "unpriced", "x": "unpriced"}
#: An aggregate: responses, the six token fields, picodollars, runs with tokens unknown.
AGG = struct.Struct(">9q")
#: The bucket part of a per-run aggregate's key (quarter hours since the epoch, UTC).
BUCKET = struct.Struct(">I")
#: The day part of a per-day aggregate's key (UTC days since the epoch).
DAY = struct.Struct(">I")
#: ``a:BUCKET RUN \\0 MODEL \\0 SRC``: per quarter hour, run, model and cost source.
AGG_PREFIX = b"a:"
#: ``d:DAY SOURCE \\0 MODEL \\0 SRC``: the same sums per UTC day and agent, for the
#: reports that need no run (``--by day`` in UTC, ``--by model``): a few keys per day.
DAY_PREFIX = b"d:"

#: The run of usage whose session cannot be told (``SOURCE/unattributed``).
UNATTRIBUTED = "unattributed"
# Longest key part stored as is (a run id is at most 240 bytes; 511 is LMDB's limit).
_MAX_KEY = 200


def key_bytes(key: str) -> bytes:
    """A key part as bytes, hashed when long (LMDB keys are at most 511 bytes)."""
    raw = key.encode()
    if len(raw) <= _MAX_KEY:
        return raw
    import hashlib

    return b"#" + hashlib.sha256(raw).hexdigest().encode()


def source_of(run: str) -> str:
    """The agent of a run id (``SOURCE/SESSION[/…]``)."""
    return run.partition("/")[0]


def split(value: int, parts: int) -> list[int]:
    """``value`` in ``parts`` integer shares that sum to it (the first ones larger)."""
    share, extra = divmod(value, parts)
    return [share + (1 if i < extra else 0) for i in range(parts)]


def view_version() -> int:
    """The costs view's version: :data:`CODE_VERSION` and the price data's version."""
    from .pricing import prices_version

    return CODE_VERSION * 1_000_000 + zlib.crc32(prices_version().encode()) % 1_000_000
