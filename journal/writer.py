"""One write transaction, many operations: appends, quarantines and capture cursors.

:meth:`journal.store.LmdbJournal.write` opens the transaction and hands a
:class:`Writer` to a function; everything that function does commits together or not
at all. The single append, the spool drain and transcript capture all go through it,
so there is one place that lays a record into the log.

Stdlib and lmdb only: the hook path uses it.
"""

from __future__ import annotations

from . import digest as _digest
from . import packing as _packing
from . import redact as _redact
from . import wire
from .errors import StoreError
from .results import Appended

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

    import lmdb

    from .logenv import LogEnv

__all__ = ["Writer"]

_seq_key = wire.seq_key
_u64 = wire.seq_of_key


class Writer:
    """Operations inside one open write transaction of a journal."""

    def __init__(self, journal: LogEnv, txn: lmdb.Transaction) -> None:
        self._journal = journal
        self._txn = txn
        self._last: tuple[int, bytes] | None = None
        self._appended: dict[bytes, int] = {}
        self._redacted: dict[bytes, int] = {}  # markers laid down, by rule (journal.redact)
        # Segments being packed on another thread, (key, future), put in this order.
        self._pending: list[tuple[bytes, Future[bytes]]] = []

    def append(
        self,
        stored: bytes,
        source: bytes,
        kind: bytes,
        key: bytes,
        received_at: int,
        payload_digest: bytes | None = None,
        *,
        agent: tuple[int, int, bytes] | None = None,
        origin: tuple[bytes, int] | None = None,
    ) -> Appended:
        """Lay one already-validated payload into the log as the next record.

        ``stored`` must be what :mod:`journal.payload` returned for the input; names
        are already encoded. A known ``key`` returns the original append. ``agent``
        is the agent process that sent it, ``(pid, start ticks, 16-byte boot id)``
        (:mod:`journal.agents.process`); with it the record is version 2.

        Raises:
            UsageError: ``agent`` does not fit a record (nothing was written).
        """
        if agent is not None:
            agent = wire.check_agent(agent)
        if self._pending:
            self._put_pending()
        journal, txn = self._journal, self._txn
        if key:
            known = txn.get(key, db=journal._idem)
            if known is not None:
                return journal._duplicate(txn, _u64(known))
        if self._last is None:
            self._last = journal._last(txn)
        last_seq, prev = self._last
        seq = last_seq + 1
        pdig = payload_digest if payload_digest is not None else _digest.digest(stored)
        is_new = txn.put(pdig, _seq_key(seq), db=journal._blobs, overwrite=False)
        record = wire.encode_record(
            seq, received_at, pdig, prev, source, kind, key, agent, wire.check_origin(origin)
        )
        rdig = _digest.digest(record)
        entry = record + wire.encode_inline(stored if is_new else b"")
        if not txn.put(_seq_key(seq), entry, db=journal._log, append=True):
            raise StoreError(f"seq {seq} is not above the last log key")
        if key:
            txn.put(key, _seq_key(seq), db=journal._idem)
        if _redact.MARKER in stored:
            _redact.count(stored, self._redacted)
        self._appended[source] = self._appended.get(source, 0) + 1
        self._last = (seq, rdig)
        return Appended(seq, pdig, rdig, False)

    def append_many(
        self,
        items: list[tuple[bytes, bytes, bytes]],
        source: bytes,
        kind: bytes,
        received_at: int,
        *,
        packer: Executor | None = None,
    ) -> tuple[int, int]:
        """Lay already-validated payloads into the log as consecutive records.

        ``items`` are ``(stored, payload digest, key)``, each key non-empty (a
        transcript line's). Items whose key is already known, in the journal or
        earlier in ``items``, are skipped. The records are the ones :meth:`append`
        would write one by one (version 1, same bytes, same digests), laid into
        segments of up to :data:`journal.wire.SEGMENT_ENTRIES` entries, each packed
        when that makes it smaller (:mod:`journal.packing`), with one sorted
        ``putmulti`` per index. Returns (records appended, duplicates skipped).

        With ``packer`` (a thread pool: zlib releases the GIL) segments are packed
        there while this thread goes on, and put in order before the next append or
        the commit.
        """
        journal, txn = self._journal, self._txn
        if not items:
            return 0, 0
        if self._pending:
            self._put_pending()
        if self._last is None:
            self._last = journal._last(txn)
        first_seq, prev = self._last[0] + 1, self._last[1]
        idem = txn.cursor(db=journal._idem)
        # Claim every key for the seq it would get; if some were known already (a
        # repeated import), take back what was claimed and drop the known items.
        seq_keys = list(map(_seq_key, range(first_seq, first_seq + len(items))))
        keyed = sorted(zip([item[2] for item in items], seq_keys, strict=True))
        duplicates = 0
        if idem.putmulti(keyed, overwrite=False)[1] != len(keyed):
            for key, value in keyed:
                if idem.set_key(key) and idem.value() == value:
                    idem.delete()
            known = {bytes(k) for k, _v in idem.getmulti([k for k, _v in keyed])}
            fresh = []
            for item in items:
                if item[2] not in known:
                    known.add(item[2])  # a key twice in ``items``: the first one counts
                    fresh.append(item)
            duplicates, items = len(items) - len(fresh), fresh
            if not items:
                return 0, duplicates
            seq_keys = seq_keys[: len(items)]
            idem.putmulti(sorted(zip([item[2] for item in items], seq_keys, strict=True)))
        # One blobs put per distinct digest, pointing at the first record carrying it
        # (built backwards, so that the first one is the one a dict keeps).
        digests, seq_end = [item[1] for item in items], first_seq + len(items)
        first_of = dict(zip(reversed(digests), range(seq_end - 1, first_seq - 1, -1), strict=True))
        if len(first_of) == len(items):
            pairs = sorted(zip(digests, seq_keys, strict=True))
        else:
            pairs = sorted((d, _seq_key(s)) for d, s in first_of.items())
        bcur = txn.cursor(db=journal._blobs)
        added = bcur.putmulti(pairs, overwrite=False)[1]
        # digest -> the seq whose entry holds the bytes; None: every record holds its own.
        holders: dict[bytes, int] | None = None
        if added != len(pairs):  # some were stored before: the index keeps the older seq
            holders = {bytes(d): _u64(v) for d, v in bcur.getmulti([d for d, _ in pairs])}
        elif len(first_of) != len(items):
            holders = first_of
        put = txn.cursor(db=journal._log).put
        head, length = wire.RECORD_HEAD.pack, wire.INLINE_LENGTH.pack
        fresh_hash = _digest.hasher()(b"").copy  # copying a hash object skips the lookup
        version, ls, lk, names = wire.RECORD_VERSION, len(source), len(kind), source + kind
        no_body, limit, limit_bytes = length(0), wire.SEGMENT_ENTRIES, wire.SEGMENT_BYTES
        pack = _packing.pack
        pending = self._pending if packer is not None else None
        parts: list[bytes] = []
        segment_seq, count, size, seq = first_seq, 0, 0, first_seq
        for stored, pdig, key in items:
            record = head(version, seq, received_at, pdig, prev, ls, lk, len(key)) + names + key
            if holders is None or holders[pdig] == seq:
                parts += (record, length(len(stored)), stored)
                size += len(record) + len(stored)
            else:
                parts += (record, no_body)
                size += len(record)
            h = fresh_hash()
            h.update(record)
            prev = h.digest()
            seq += 1
            count += 1
            if count >= limit or size >= limit_bytes:
                if pending is not None and packer is not None:
                    pending.append((_seq_key(segment_seq), packer.submit(pack, b"".join(parts))))
                elif not put(_seq_key(segment_seq), pack(b"".join(parts)), append=True):
                    raise StoreError(f"seq {segment_seq} is not above the last log key")
                parts, segment_seq, count, size = [], seq, 0, 0
        if parts:
            if pending is not None and packer is not None:
                pending.append((_seq_key(segment_seq), packer.submit(pack, b"".join(parts))))
            elif not put(_seq_key(segment_seq), pack(b"".join(parts)), append=True):
                raise StoreError(f"seq {segment_seq} is not above the last log key")
        for item in items:
            if _redact.MARKER in item[0]:
                _redact.count(item[0], self._redacted)
        self._appended[source] = self._appended.get(source, 0) + len(items)
        self._last = (seq - 1, prev)
        return len(items), duplicates

    def _put_pending(self) -> None:
        """Put the segments packed on another thread, in seq order."""
        put = self._txn.cursor(db=self._journal._log).put
        for key, future in self._pending:
            if not put(key, future.result(), append=True):
                raise StoreError(f"seq {_u64(key)} is not above the last log key")
        self._pending.clear()

    def quarantine(
        self, data: bytes, reason: str, source: bytes, kind: bytes, received_at: int
    ) -> int:
        """Keep rejected input byte for byte with its reason; return its id."""
        value = wire.encode_quarantine(
            received_at, source, kind, reason.encode("utf-8", "replace"), data
        )
        cur = self._txn.cursor(db=self._journal._quarantine)
        qid = _u64(cur.key()) + 1 if cur.last() else 1
        cur.put(_seq_key(qid), value, append=True)
        return qid

    def cursor(self, name: bytes) -> bytes | None:
        """Return a capture cursor (see :mod:`journal.agents.capture`), read in this txn."""
        value = self._txn.get(name, db=self._journal._captures)
        return None if value is None else bytes(value)

    def set_cursor(self, name: bytes, value: bytes) -> None:
        """Move a capture cursor; it commits with the records it accounts for."""
        self._txn.put(name, value, db=self._journal._captures)

    def finish(self) -> None:
        """Update per-source counts and the head anchor; called once before commit."""
        if self._pending:
            self._put_pending()
        if self._last is None or not self._appended:
            return
        if self._redacted:
            self._journal._bump(self._txn, self._redacted, b"redacted:")
        self._journal._seal(self._txn, self._appended, *self._last)
