"""Batched appends: many payloads, one write transaction.

Kept apart from :mod:`journal.store` because it needs msgspec (through
:mod:`journal._prepare`), which the hook path must never import. The layout and
the rules are the store's: see its docstring and :mod:`journal.wire`.
"""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING

import lmdb

from . import digest as _digest
from . import redact as _redact
from . import wire
from ._prepare import prepare
from .errors import StoreError
from .logenv import known as _known
from .results import Appended, Quarantined

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .logenv import LogEnv

__all__ = ["append_batch"]

_name = wire.encode_name
_seq_key = wire.seq_key
_u64 = wire.seq_of_key


def append_batch(
    journal: LogEnv,
    items: Iterable[bytes],
    *,
    source: str,
    kind: str | None,
    key: str | None,
    received_at: int | None,
    progress: Callable[[int], None] | None,
    parallel: bool | None = None,
) -> list[Appended | Quarantined]:
    """Append ``items`` to ``journal`` in one transaction (``LmdbJournal.append_batch``)."""
    source_b = _name(source, "source")
    kind_b = _name(kind, "kind") if kind is not None else None
    if key is not None:
        _name(key, "key", wire.MAX_KEY_BYTES - 12)
    batch = items if isinstance(items, list) else list(items)
    journal._check_pid()
    now = received_at if received_at is not None else time.time_ns()
    results: list[Appended | Quarantined | None] = [None] * len(batch)
    bad: list[tuple[int, str]] = []
    # A batch keeps many new objects alive at once; the cyclic GC would re-scan them
    # over and over for nothing (they hold no cycles): ~13 % of a 100k-record batch.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    chunks = None
    try:
        chunks = prepare(batch, parallel=parallel)  # forks (if at all) before the txn
        with journal._transaction() as txn:
            for lines, digests, kinds, stripped, rejected in chunks:
                bad.extend(rejected)
                stored = (
                    [stripped.get(line) or batch[line - 1] for line in lines]
                    if stripped
                    else [batch[line - 1] for line in lines]
                )
                good = list(zip(lines, stored, digests, kinds, strict=True))
                _write_batch(journal, txn, good, source_b, kind_b, key, now, results)
                if progress is not None:
                    progress(len(lines) + len(rejected))
            qcur = txn.cursor(db=journal._quarantine)
            next_q = _u64(qcur.key()) + 1 if qcur.last() else 1
            for line, reason in bad:
                value = wire.encode_quarantine(
                    now, source_b, kind_b or b"", reason.encode(), batch[line - 1]
                )
                qcur.put(_seq_key(next_q), value, append=True)
                results[line - 1] = Quarantined(next_q, reason, line)
                next_q += 1
    except lmdb.Error as exc:
        raise StoreError(f"batch append failed: {exc}") from None
    finally:
        if chunks is not None:
            chunks.close()
        if gc_was_enabled:
            gc.enable()
    return [r for r in results if r is not None]


def _write_batch(
    journal: LogEnv,
    txn: lmdb.Transaction,
    good: list[tuple[int, bytes, bytes, bytes]],
    source_b: bytes,
    kind_b: bytes | None,
    key: str | None,
    now: int,
    results: list[Appended | Quarantined | None],
) -> None:
    """Write one chunk of valid items; ``good`` is (line, stored, digest, kind)."""
    if key is not None:  # keyed batch: drop items whose key is already known
        fresh = []
        segment: dict[int, wire.Entry] = {}  # a retried batch hits one segment after another
        for item in good:
            known = txn.get(f"{key}:{item[0]}".encode(), db=journal._idem)
            if known is None:
                fresh.append(item)
                continue
            seq = _u64(known)
            if seq not in segment:
                segment = {e.seq: e for e in journal._segment_of(txn, seq)}
            results[item[0] - 1] = _known(segment[seq])
        good = fresh
    if not good:
        return
    last_seq, prev = journal._last(txn)
    first_seq = last_seq + 1
    # One put per distinct digest, pointing at the first record that carries it.
    first_of: dict[bytes, int] = {}
    for offset, item in enumerate(good):
        first_of.setdefault(item[2], first_seq + offset)
    pairs = [(d, _seq_key(s)) for d, s in first_of.items()]
    bcur = txn.cursor(db=journal._blobs)
    _consumed, added = bcur.putmulti(pairs, overwrite=False)
    # holders: digest -> the seq whose entry carries the bytes; None when every
    # record in this chunk carries its own (distinct digests, none stored before).
    holders: dict[bytes, int] | None = None
    if added != len(pairs):  # some digests were stored before: the index keeps the older seq
        holders = {bytes(d): _u64(v) for d, v in bcur.getmulti([d for d, _ in pairs])}
    elif len(first_of) != len(good):
        holders = first_of
    put = txn.cursor(db=journal._log).put
    head, length = wire.RECORD_HEAD.pack, wire.INLINE_LENGTH.pack
    fresh_hash = _digest.hasher()(b"").copy  # copying a hash object skips the lookup
    version, ls = wire.RECORD_VERSION, len(source_b)
    no_body = length(0)
    tails: dict[bytes, tuple[int, bytes]] = {}
    parts: list[bytes] = []
    segment_seq, segment_len, size = first_seq, 0, 0
    keyed = []
    seq = first_seq
    for line, stored, pdig, item_kind in good:
        if kind_b is not None:
            item_kind = kind_b
        if key is None:
            tail = tails.get(item_kind)
            if tail is None:
                tail = tails[item_kind] = (len(item_kind), source_b + item_kind)
            record = head(version, seq, now, pdig, prev, ls, tail[0], 0) + tail[1]
        else:
            key_b = f"{key}:{line}".encode()
            keyed.append((key_b, _seq_key(seq)))
            record = (
                head(version, seq, now, pdig, prev, ls, len(item_kind), len(key_b))
                + source_b
                + item_kind
                + key_b
            )
        if holders is None or holders[pdig] == seq:
            parts += (record, length(len(stored)), stored)
            size += len(stored)
        else:
            parts += (record, no_body)
        h = fresh_hash()
        h.update(record)
        prev = h.digest()
        results[line - 1] = Appended(seq, pdig, prev, False)
        seq += 1
        segment_len += 1
        if segment_len >= wire.SEGMENT_ENTRIES or size >= wire.SEGMENT_BYTES:
            if not put(_seq_key(segment_seq), b"".join(parts), append=True):
                raise StoreError(f"seq {segment_seq} is not above the last log key")
            parts, segment_seq, segment_len, size = [], seq, 0, 0
    if parts and not put(_seq_key(segment_seq), b"".join(parts), append=True):
        raise StoreError(f"seq {segment_seq} is not above the last log key")
    if keyed:
        txn.cursor(db=journal._idem).putmulti(keyed)
    redacted: dict[bytes, int] = {}  # markers laid down, by rule (journal.redact)
    for item in good:
        if _redact.MARKER in item[1]:
            _redact.count(item[1], redacted)
    if redacted:
        journal._bump(txn, redacted, b"redacted:")
    journal._seal(txn, {source_b: len(good)}, seq - 1, prev)
