"""Views' states in LMDB: a write-back cache for folds, a read-only state for queries.

Both implement :class:`projections.view.State` over one named database of the views
environment, inside a transaction the engine (:mod:`projections.engine`) owns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import lmdb

from journal.errors import StoreError

__all__ = ["ReadState", "WriteBackState"]

_MISSING = object()


class WriteBackState:
    """A view's state inside a write transaction, with writes held until :meth:`flush`.

    Folds read-modify-write the same few keys (a run, its open steps) for every
    record; keeping dirty values in a dict makes that a dict operation, and each key
    is written to LMDB once per batch. ``scan`` merges dirty keys with the database.
    """

    __slots__ = ("_db", "_dirty", "_order", "_txn")

    def __init__(self, txn: lmdb.Transaction, db: lmdb._Database) -> None:
        self._txn = txn
        self._db = db
        self._dirty: dict[bytes, bytes | None] = {}
        self._order: list[bytes] | None = None

    def get(self, key: bytes) -> bytes | None:
        value = self._dirty.get(key, _MISSING)
        if value is _MISSING:
            return self._txn.get(key, None, self._db)  # type: ignore[return-value]
        return value  # type: ignore[return-value]

    def put(self, key: bytes, value: bytes) -> None:
        if key not in self._dirty:
            self._order = None
        self._dirty[key] = value

    def delete(self, key: bytes) -> None:
        if key not in self._dirty:
            self._order = None
        self._dirty[key] = None

    def scan(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        if self._order is None:
            self._order = sorted(self._dirty)
        order, dirty = self._order, self._dirty
        i = _bisect(order, prefix)
        pending = order[i] if i < len(order) and order[i].startswith(prefix) else None
        cur = self._txn.cursor(db=self._db)
        here = cast("bytes", cur.key()) if cur.set_range(prefix) else None
        stored = here is not None and here.startswith(prefix)
        while pending is not None or stored:
            if pending is not None and (not stored or pending <= cast("bytes", here)):
                key = pending
                if stored and here == key:
                    here = cast("bytes", cur.key()) if cur.next() else None
                    stored = here is not None and here.startswith(prefix)
                i += 1
                pending = order[i] if i < len(order) and order[i].startswith(prefix) else None
                value = dirty.get(key)
                if value is not None:
                    yield key, value
            else:
                yield cast("bytes", here), cast("bytes", cur.value())
                here = cast("bytes", cur.key()) if cur.next() else None
                stored = here is not None and here.startswith(prefix)

    def flush(self) -> None:
        """Write the dirty keys to the database, in key order."""
        db, txn = self._db, self._txn
        puts = []
        for key in sorted(self._dirty):
            value = self._dirty[key]
            if value is None:
                txn.delete(key, db=db)
            else:
                puts.append((key, value))
        if puts:
            txn.cursor(db=db).putmulti(puts)
        self._dirty.clear()
        self._order = None


def _bisect(keys: list[bytes], prefix: bytes) -> int:
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        if keys[mid] < prefix:
            lo = mid + 1
        else:
            hi = mid
    return lo


class ReadState:
    """A view's state in a read transaction; ``checkpoint`` and ``newest_time`` match it.

    ``newest_time`` is the newest ``received_at`` among records 1..checkpoint: the
    "now" against which queries measure idleness, so answers depend on the log alone.
    ``origin`` is the journal's own origin id (DESIGN §2; None where it has none yet):
    what the records appended here show as their origin.
    """

    def __init__(
        self,
        txn: lmdb.Transaction,
        db: lmdb._Database,
        checkpoint: int | None,
        newest_time: int,
        origin: str | None = None,
    ) -> None:
        self._txn = txn
        self._db = db
        # Without a checkpoint (never built, or built by another version) the stored
        # keys are not a fold of this view: the state reads as empty.
        self._empty = checkpoint is None
        self.checkpoint = checkpoint or 0
        self.newest_time = newest_time
        self.origin = origin

    def get(self, key: bytes) -> bytes | None:
        if self._empty:
            return None
        return cast("bytes | None", self._txn.get(key, db=self._db))

    def put(self, key: bytes, value: bytes) -> None:
        raise StoreError("a view read in a query is read-only")

    def delete(self, key: bytes) -> None:
        raise StoreError("a view read in a query is read-only")

    def scan(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        cur = self._txn.cursor(db=self._db)
        if self._empty or not cur.set_range(prefix):
            return
        # py-lmdb yields bytes here (buffers=False); the stubs also allow memoryview.
        items = cast("Iterator[tuple[bytes, bytes]]", cur.iternext())
        if not prefix:
            yield from items
            return
        for item in items:
            if not item[0].startswith(prefix):
                return
            yield item
