"""The engine's read of the log: the records of ``journal.read()``, about 3× cheaper.

A rebuild reads every record once, so the read is most of its cost. ``read()`` builds
each record through the general :func:`journal.wire.iter_segment` (an ``Entry`` object,
every name decoded, a lookup per call); this scan unpacks the same fixed record head
(:data:`journal.wire.RECORD_HEAD`, :data:`journal.wire.INLINE_LENGTH`), decodes each
distinct source/kind/key name once, skips records of other kinds before slicing their
payload, and reads up to a given seq in one read transaction. It yields the very
records ``read()`` yields (``tests/projections/test_engine.py`` compares them).

It reads the log environment of a :class:`~journal.store.LmdbJournal` directly, as
``journal.batch`` writes it; it never writes.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import lmdb

from journal import digest as _digest
from journal import wire
from journal.errors import CorruptionError, StoreError
from journal.packing import unpack as _unpack
from journal.records import Record

if TYPE_CHECKING:
    from journal.store import LmdbJournal

__all__ = ["LogScan", "record_at"]

_HEAD = wire.RECORD_HEAD
_HEAD_SIZE = wire.RECORD_HEAD.size
_INLINE = wire.INLINE_LENGTH
_INLINE_SIZE = wire.INLINE_LENGTH.size
_VERSION = wire.RECORD_VERSION
_VERSION_AGENT = wire.RECORD_VERSION_AGENT
_AGENT = wire.AGENT_TAIL
_AGENT_SIZE = wire.AGENT_TAIL.size
_VERSION_ORIGIN = wire.RECORD_VERSION_ORIGIN
_ORIGIN = wire.ORIGIN_TAIL
_ORIGIN_SIZE = wire.ORIGIN_TAIL.size
_SHARED_CACHE = 4096  # payloads stored once and referenced again (identical Stop events)
#: A scan longer than this hashes with OpenSSL (~3x faster per record, ~5 ms to import,
#: which a query that folds in a few new records should not pay).
_OPENSSL_AFTER = 20_000


class LogScan:
    """One pass over records ``after < seq <= until`` of kinds ``kinds`` (None: all).

    Iterate it for the records; ``newest`` is then the largest ``received_at`` among
    all records scanned so far (of any kind), which the engine keeps with each
    checkpoint. A scan holds one read transaction until it ends or is closed.
    """

    def __init__(
        self,
        journal: LmdbJournal,
        after: int,
        until: int,
        kinds: frozenset[str] | None,
    ) -> None:
        self._journal = journal
        self._after = after
        self._until = until
        self._kinds = kinds
        self.newest = 0
        self._iter = self._scan()

    def __iter__(self) -> Iterator[Record]:
        return self._iter

    def close(self) -> None:
        """End the scan and its read transaction."""
        self._iter.close()

    def _scan(self) -> Generator[Record, None, None]:
        journal = self._journal
        after, until, kinds = self._after, self._until, self._kinds
        if until <= after:
            return
        unpack_head, unpack_inline = _HEAD.unpack_from, _INLINE.unpack_from
        if until - after > _OPENSSL_AFTER:
            _digest.use_openssl()
        sha = _digest.hasher()
        names: dict[tuple[int, bytes], tuple[str, str]] = {}
        shared: dict[bytes, bytes] = {}
        newest = self.newest
        try:
            with journal._env.begin() as txn:
                cur = txn.cursor(db=journal._log)
                if not _seek(cur, after + 1):
                    return
                for value in cur.iternext(keys=False):
                    if value[0] >= 0x80:  # a packed segment (journal.packing)
                        value = _unpack(value)
                    offset, end = 0, len(value)
                    while offset < end:
                        version, seq, received_at, pdig, prev, ls, lk, lkey = unpack_head(
                            value, offset
                        )
                        agent: tuple[int, int, bytes] | None = None
                        origin: tuple[bytes, int] | None = None
                        if version == _VERSION:
                            names_at = offset + _HEAD_SIZE
                        elif version == _VERSION_AGENT:
                            agent = _AGENT.unpack_from(value, offset + _HEAD_SIZE)
                            names_at = offset + _HEAD_SIZE + _AGENT_SIZE
                        elif version == _VERSION_ORIGIN:
                            origin = _ORIGIN.unpack_from(value, offset + _HEAD_SIZE)
                            names_at = offset + _HEAD_SIZE + _ORIGIN_SIZE
                        else:
                            raise CorruptionError(f"unknown record version {version}")
                        stop = names_at + ls + lk + lkey
                        (inline_len,) = unpack_inline(value, stop)
                        start = stop + _INLINE_SIZE
                        record_start, offset = offset, start + inline_len
                        if seq <= after:
                            continue
                        if seq > until:
                            return
                        if received_at > newest:
                            newest = self.newest = received_at
                        # Keyed by the split too: "ab"+"c" and "a"+"bc" are other names.
                        raw_names = (ls, value[names_at : stop - lkey])
                        decoded = names.get(raw_names)
                        if decoded is None:
                            decoded = names[raw_names] = _decode_names(raw_names[1], ls)
                        source, kind = decoded
                        if kinds is not None and kind not in kinds:
                            continue
                        key = _decode_key(value[stop - lkey : stop]) if lkey else None
                        if inline_len:
                            payload = value[start:offset]
                        else:
                            found = shared.get(pdig) or _shared_payload(journal, txn, pdig, seq)
                            if found is None:
                                continue  # erased by journal forget: absent to the views
                            payload = found
                            if len(shared) >= _SHARED_CACHE:
                                shared.clear()
                            shared[pdig] = payload
                        yield Record(
                            seq=seq,
                            received_at=received_at,
                            source=source,
                            kind=kind,
                            digest=pdig.hex(),
                            prev_digest=prev.hex(),
                            record_digest=sha(value[record_start:stop]).digest().hex(),
                            key=key,
                            payload=payload,
                            agent_pid=agent[0] if agent else None,
                            agent_start=agent[1] if agent else None,
                            agent_boot=wire.boot_text(agent[2]) if agent else None,
                            origin=wire.origin_text(origin[0]) if origin else None,
                            origin_seq=origin[1] if origin else None,
                        )
        except lmdb.Error as exc:
            raise StoreError(f"reading the journal failed: {exc}") from None


def _seek(cur: lmdb.Cursor, seq: int) -> bool:
    """Put ``cur`` on the segment holding ``seq`` or the first one after it."""
    if cur.set_range(wire.seq_key(seq)):
        if wire.seq_of_key(cur.key()) > seq and not cur.prev():
            cur.first()
        return True
    return bool(cur.last())


def _decode_names(raw: bytes, ls: int) -> tuple[str, str]:
    """(source, kind) from the record's name bytes."""
    try:
        return raw[:ls].decode(), raw[ls:].decode()
    except UnicodeDecodeError as exc:
        raise CorruptionError(f"unreadable record name: {exc}") from None


def _decode_key(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise CorruptionError(f"unreadable idempotency key: {exc}") from None


def _shared_payload(
    journal: LmdbJournal, txn: lmdb.Transaction, pdig: bytes, seq: int
) -> bytes | None:
    """The payload of a record whose bytes ride inline with an earlier record.

    None if ``journal forget`` erased it (:mod:`journal.erasure`).
    """
    holder = txn.get(pdig, db=journal._blobs)
    if holder is None:
        if txn.get(pdig, db=journal._erased) is not None:
            return None
        raise CorruptionError(f"seq {seq}: its payload blob is missing")
    inline = journal._entry(txn, wire.seq_of_key(holder)).inline
    if inline is None:
        raise CorruptionError(f"seq {seq}: blob index points at no payload")
    return inline


def record_at(journal: LmdbJournal, seq: int) -> tuple[bytes, int] | None:
    """Return (record digest, received_at) of the record at ``seq``, or None if absent."""
    try:
        with journal._env.begin() as txn:
            cur = txn.cursor(db=journal._log)
            if not _seek(cur, seq):
                return None
            for entry in wire.iter_segment(cur.value()):
                if entry.seq == seq:
                    return _digest.digest(entry.record), entry.received_at
    except lmdb.Error as exc:
        raise StoreError(f"reading the journal failed: {exc}") from None
    return None
