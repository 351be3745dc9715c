"""One write transaction, many operations: appends, quarantines and capture cursors.

:meth:`journal.store.LmdbJournal.write` opens the transaction and hands a
:class:`Writer` to a function; everything that function does commits together or not
at all. The single append, the spool drain and transcript capture all go through it,
so there is one place that lays a record into the log.

Stdlib and lmdb only: the hook path uses it.
"""

from __future__ import annotations

from . import digest as _digest
from . import wire
from .errors import StoreError
from .results import Appended

TYPE_CHECKING = False
if TYPE_CHECKING:
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
        record = wire.encode_record(seq, received_at, pdig, prev, source, kind, key, agent)
        rdig = _digest.digest(record)
        entry = record + wire.encode_inline(stored if is_new else b"")
        if not txn.put(_seq_key(seq), entry, db=journal._log, append=True):
            raise StoreError(f"seq {seq} is not above the last log key")
        if key:
            txn.put(key, _seq_key(seq), db=journal._idem)
        self._appended[source] = self._appended.get(source, 0) + 1
        self._last = (seq, rdig)
        return Appended(seq, pdig, rdig, False)

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
        if self._last is None or not self._appended:
            return
        self._journal._seal(self._txn, self._appended, *self._last)
