"""The log's LMDB environment: opening it, its named databases, and in-transaction reads.

Named databases in one environment (``<home>/log``):

=============  ======================================  ===============================
database       key                                     value
=============  ======================================  ===============================
``log``        u64 BE seq of a segment's first entry   segment (:mod:`journal.wire`)
``blobs``      32-byte payload digest                  u64 BE seq whose entry holds it
``idem``       idempotency key (UTF-8)                 u64 BE seq it was first given
``counts``     ``b"source:" + name``                   u64 BE records from that source
               ``b"redacted:" + rule``                 u64 BE secrets masked by that rule
``quarantine`` u64 BE quarantine id                    quarantine entry
``meta``       ASCII name                              ASCII value (formats, versions)
``captures``   transcript path (UTF-8)                 capture cursor (``journal.agents.capture``)
``erased``     32-byte payload digest                  u64 BE seq of its forget record
=============  ======================================  ===============================

:class:`LogEnv` is the base that :mod:`journal.writer`, :mod:`journal.batch` and
:mod:`journal.verify` work on; :class:`journal.store.LmdbJournal` builds the public
API on it, so those modules never import the store (no import cycle).

Write transactions take turns through :mod:`journal.writelock` (``writer.lock`` in
the environment's directory), which also keeps them from waiting on a writer that
died holding LMDB's lock (macOS). Stdlib and lmdb only: the hook path uses it.
"""

from __future__ import annotations

import os
import time

import lmdb

from . import digest as _digest
from . import erasure as _erasure
from . import home as _home
from . import origin as _origin
from . import payload as _payload
from . import wire
from .errors import CorruptionError, HomeError, NotFoundError, StoreError
from .results import Appended
from .writelock import DEFAULT_TIMEOUT, Turn, WriteGuard, Writers, refuse_if_stale

# typing costs ~3 ms to import; this module is on the hook path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Self

__all__ = ["DEFAULT_MAP_SIZE", "FORMAT", "MAX_READERS", "LogEnv", "known", "reading", "seek"]

FORMAT = "agent-journal/1"
# Address space, not disk: the file is sparse and grows as pages are written. Fixed
# at creation; nothing ever resizes the map (resizing races between processes).
DEFAULT_MAP_SIZE = 64 * 1024**3
MAX_READERS = 1024
_READ_CHUNK = 512
# meta key holding u64 seq + record digest of the head, written by every append
# transaction: it commits to the head record itself, which no later link covers yet.
_ANCHOR = b"head"
_DATABASES = (b"log", b"blobs", b"idem", b"counts", b"quarantine", b"meta", b"captures", b"erased")
_OPEN_ATTEMPTS = 5

_seq_key = wire.seq_key
_u64 = wire.seq_of_key


class reading:
    """Turn an ``lmdb.Error`` raised while reading into :class:`StoreError`."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, lmdb.Error):
            raise StoreError(f"reading the journal failed: {exc}") from None


def seek(cur: lmdb.Cursor, seq: int) -> bool:
    """Put ``cur`` (on ``log``) on the segment holding ``seq``, or the first one after it.

    Segments are keyed by their first seq, so ``seq`` lives in the last segment whose
    key is not above it. Returns False when the log is empty.
    """
    if cur.set_range(_seq_key(seq)):
        if _u64(cur.key()) > seq and not cur.prev():
            cur.first()  # seq comes before the log: start at its first segment
        return True
    return bool(cur.last())


def _check_format(found: bytes) -> None:
    if found.decode() != FORMAT:
        raise StoreError(f"journal format {found.decode()} is not supported (need {FORMAT})")


def known(entry: wire.Entry) -> Appended:
    """The result of an append whose idempotency key was already given to ``entry``."""
    return Appended(entry.seq, entry.payload_digest, _digest.digest(entry.record), True)


class LogEnv:
    """The log's LMDB environment under ``home``, its named databases, and the
    reads every transaction of it needs (head, entries, payloads, the anchor).

    :class:`journal.store.LmdbJournal` adds the public API on top. Read-only
    (``readonly=True``), the named databases are opened without a write transaction;
    writable, every write transaction goes through :class:`~journal.writelock.Writers`.
    Open one per home per process, and never use it across ``fork()``.
    """

    def __init__(
        self,
        home: str | None = None,
        *,
        map_size: int = DEFAULT_MAP_SIZE,
        readonly: bool = False,
        lock_timeout: float | None = DEFAULT_TIMEOUT,
        guard: WriteGuard | None = None,
    ) -> None:
        self.home = _home.resolve(home)
        self.path = os.path.join(self.home, _home.LOG_DIR)
        self.readonly = readonly
        #: How long a write may wait for the other writers (None: as long as it takes).
        self.lock_timeout = lock_timeout
        _home.ensure_dir(self.home)
        _home.ensure_dir(self.path)
        _home.check_filesystem(self.path)
        # A truncated or foreign data file would kill the process (SIGBUS) inside LMDB.
        _home.check_data_file(self.path)
        self._pid = os.getpid()
        self._writers: Writers | None = None
        if not readonly:
            self._open_writable(map_size, guard)
        elif not self._open_readonly(map_size):
            # A new journal: creating it takes a write, then it is read like any other.
            LogEnv(self.home, map_size=map_size, lock_timeout=lock_timeout).close()
            if not self._open_readonly(map_size):
                raise StoreError(f"cannot open journal at {self.path}: it has no databases")

    def _open_writable(self, map_size: int, guard: WriteGuard | None) -> None:
        refuse_if_stale(self.path, "the journal")
        self._env = self._open(map_size, readonly=False)
        self._writers = Writers(
            self._env, self.path, what="the journal", timeout=self.lock_timeout, guard=guard
        )
        try:
            self._env.reader_check()
            # Handles opened in a write transaction last once it commits. (py-lmdb's
            # open_db without one would take LMDB's lock holding the GIL, unbounded;
            # handles opened in a read transaction die with it.)
            with self._writers.transaction() as txn:
                dbs = [self._env.open_db(name, txn=txn) for name in _DATABASES]
                self._init_meta(txn, dbs[_DATABASES.index(b"meta")])
            self._keep(dbs)
        except lmdb.Error as exc:
            self.close()
            raise StoreError(f"cannot open journal at {self.path}: {exc}") from None
        except BaseException:
            self.close()
            raise

    def _open_readonly(self, map_size: int) -> bool:
        """Open for reading, never taking the write lock; False if it has no journal yet."""
        try:
            if os.path.getsize(os.path.join(self.path, "data.mdb")) == 0:
                return False  # being created by another process right now
        except FileNotFoundError:
            return False
        self._env = self._open(map_size, readonly=True)
        try:
            try:
                # In a read-only environment, open_db reads in a read transaction that
                # it commits, which keeps the handles for the life of the environment.
                dbs = [self._env.open_db(name, create=False) for name in _DATABASES]
            except lmdb.NotFoundError:
                self._env.close()
                return False
            self._env.reader_check()
            with self._env.begin(db=dbs[_DATABASES.index(b"meta")]) as txn:
                found = txn.get(b"format")
            if found is None:
                self._env.close()
                return False
            _check_format(bytes(found))
        except lmdb.Error as exc:
            self._env.close()
            raise StoreError(f"cannot open journal at {self.path}: {exc}") from None
        except BaseException:
            self._env.close()
            raise
        self._keep(dbs)
        return True

    def _open(self, map_size: int, *, readonly: bool) -> lmdb.Environment:
        # Opening can fail transiently while another process opens or closes the
        # environment (lmdb.h caveats), so retry briefly before giving up.
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                return lmdb.open(
                    self.path,
                    map_size=map_size,
                    max_dbs=len(_DATABASES) + 1,
                    max_readers=MAX_READERS,
                    mode=0o600,
                    max_spare_txns=0,
                    readonly=readonly,
                )
            except lmdb.Error as exc:
                if attempt == _OPEN_ATTEMPTS - 1:
                    raise HomeError(f"cannot open journal at {self.path}: {exc}") from None
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _keep(self, dbs: list[lmdb._Database]) -> None:
        (
            self._log,
            self._blobs,
            self._idem,
            self._counts,
            self._quarantine,
            self._meta,
            self._captures,
            self._erased,
        ) = dbs

    def _init_meta(self, txn: lmdb.Transaction, meta: lmdb._Database) -> None:
        found = txn.get(b"format", db=meta)
        _origin.ensure(txn, meta)
        if found is not None:
            _check_format(bytes(found))
            if txn.get(b"payload_format", db=meta) != _payload.FORMAT.encode():
                txn.put(b"payload_format", _payload.FORMAT.encode(), db=meta)  # newest written
            return
        for key, value in (
            (b"format", FORMAT),
            (b"payload_format", _payload.FORMAT),
            (b"digest", _digest.ALGORITHM),
            (b"created_at", str(time.time_ns())),
            (b"lmdb_version", ".".join(map(str, lmdb.version()))),
            (b"lmdb_lib_version", str(self._env.lib_version())),
        ):
            txn.put(key, value.encode(), db=meta, overwrite=False)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def wedged(self) -> bool:
        """Whether a write found LMDB's lock held by a dead writer (macOS): no write
        can begin, and the environment stays open until the process exits. A
        long-lived process should then exit (after spooling what it must keep), so
        that the journal gets the moment with no process in it that heals the lock."""
        return self._writers is not None and self._writers.wedged

    def close(self) -> None:
        """Close the environment; the journal object is unusable afterwards.

        A wedged environment (a helper thread waits on the write lock of a writer that
        died, :mod:`journal.writelock`) stays open: closing it would free what that
        thread waits on. Its process is expected to exit soon, which closes it.
        """
        if self.wedged:
            return
        self._env.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _writable(self) -> Writers:
        if self._writers is None:
            raise StoreError(f"the journal at {self.path} was opened read-only")
        return self._writers

    def _transaction(self) -> Turn:
        """One write transaction, in turn: ``with journal._transaction() as txn:``."""
        self._check_pid()
        return self._writable().transaction()

    def _check_pid(self) -> None:
        if os.getpid() != self._pid:
            raise StoreError("a journal must not be used across fork(); open it again")

    def _duplicate(self, txn: lmdb.Transaction, seq: int) -> Appended:
        return known(self._entry(txn, seq))

    def _seal(
        self, txn: lmdb.Transaction, by_source: dict[bytes, int], seq: int, rdig: bytes
    ) -> None:
        """Finish an append transaction: per-source counts and the head anchor."""
        self._bump(txn, by_source)
        txn.put(_ANCHOR, _seq_key(seq) + rdig, db=self._meta)

    def _bump(
        self, txn: lmdb.Transaction, by_source: dict[bytes, int], prefix: bytes = b"source:"
    ) -> None:
        for name, count in by_source.items():
            if not count:
                continue
            key = prefix + name
            old = txn.get(key, db=self._counts)
            txn.put(key, _seq_key((_u64(old) if old else 0) + count), db=self._counts)

    def _last(self, txn: lmdb.Transaction) -> tuple[int, bytes]:
        """Return (last seq, its record digest), read inside ``txn``."""
        cur = txn.cursor(db=self._log)
        if not cur.last():
            return 0, wire.ZERO_DIGEST
        value = cur.value()
        if value[0] >= 0x80:
            # A packed segment (journal.packing): rather than unpack it (the next hook
            # would import zlib for it), take the head anchor, which every append
            # transaction writes with its records, if it names a seq of this segment.
            first = _u64(cur.key())
            anchor = self._anchor(txn)
            if anchor is not None and first <= anchor[0] < first + wire.SEGMENT_ENTRIES:
                return anchor
        entries = list(wire.iter_segment(value))
        if not entries:
            raise CorruptionError(f"empty segment at seq {_u64(cur.key())}")
        return entries[-1].seq, _digest.digest(entries[-1].record)

    def _segment_of(self, txn: lmdb.Transaction, seq: int) -> list[wire.Entry]:
        """Return the entries of the segment that holds ``seq`` (maybe without it)."""
        cur = txn.cursor(db=self._log)
        if not seek(cur, seq):
            raise NotFoundError(f"no record with seq {seq}")
        return list(wire.iter_segment(cur.value()))

    def _entry(self, txn: lmdb.Transaction, seq: int) -> wire.Entry:
        for entry in self._segment_of(txn, seq):
            if entry.seq == seq:
                return entry
        raise NotFoundError(f"no record with seq {seq}")

    def _payload_of(self, txn: lmdb.Transaction, entry: wire.Entry) -> bytes:
        if entry.inline is not None:
            return entry.inline
        holder = txn.get(entry.payload_digest, db=self._blobs)
        if holder is None:
            if _erasure.erased_by(txn, self._erased, entry.payload_digest) is not None:
                return _erasure.ERASED_PAYLOAD
            raise CorruptionError(f"seq {entry.seq}: its payload blob is missing")
        inline = self._entry(txn, _u64(holder)).inline
        if inline is None:
            raise CorruptionError(f"seq {entry.seq}: blob index points at no payload")
        return inline

    def _anchor(self, txn: lmdb.Transaction) -> tuple[int, bytes] | None:
        """Return the (seq, record digest) the last append committed with, if any."""
        value = txn.get(_ANCHOR, db=self._meta)
        if value is None:
            return None
        if len(value) != 40:
            raise CorruptionError("the head anchor in meta is malformed")
        return _u64(value[:8]), bytes(value[8:])
