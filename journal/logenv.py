"""The log's LMDB environment: opening it, its named databases, and in-transaction reads.

Named databases in one environment (``<home>/log``):

=============  ======================================  ===============================
database       key                                     value
=============  ======================================  ===============================
``log``        u64 BE seq of a segment's first entry   segment (:mod:`journal.wire`)
``blobs``      32-byte payload digest                  u64 BE seq whose entry holds it
``idem``       idempotency key (UTF-8)                 u64 BE seq it was first given
``counts``     ``b"source:" + name``                   u64 BE records from that source
``quarantine`` u64 BE quarantine id                    quarantine entry
``meta``       ASCII name                              ASCII value (formats, versions)
``captures``   transcript path (UTF-8)                 capture cursor (``journal.agents.capture``)
=============  ======================================  ===============================

:class:`LogEnv` is the base that :mod:`journal.writer`, :mod:`journal.batch` and
:mod:`journal.verify` work on; :class:`journal.store.LmdbJournal` builds the public
API on it, so those modules never import the store (no import cycle).

Stdlib and lmdb only: the hook path uses it.
"""

from __future__ import annotations

import os
import time

import lmdb

from . import digest as _digest
from . import home as _home
from . import payload as _payload
from . import wire
from .errors import CorruptionError, HomeError, JournalError, NotFoundError, StoreError
from .results import Appended

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
_DATABASES = (b"log", b"blobs", b"idem", b"counts", b"quarantine", b"meta", b"captures")
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


def known(entry: wire.Entry) -> Appended:
    """The result of an append whose idempotency key was already given to ``entry``."""
    return Appended(entry.seq, entry.payload_digest, _digest.digest(entry.record), True)


class LogEnv:
    """The log's LMDB environment under ``home``, its named databases, and the
    reads every transaction of it needs (head, entries, payloads, the anchor).

    :class:`journal.store.LmdbJournal` adds the public API on top. Open one per home
    per process, and never use it across ``fork()``.
    """

    def __init__(self, home: str | None = None, *, map_size: int = DEFAULT_MAP_SIZE) -> None:
        self.home = _home.resolve(home)
        self.path = os.path.join(self.home, _home.LOG_DIR)
        _home.ensure_dir(self.home)
        _home.ensure_dir(self.path)
        _home.check_filesystem(self.path)
        self._pid = os.getpid()
        self._env = self._open(map_size)
        try:
            (
                self._log,
                self._blobs,
                self._idem,
                self._counts,
                self._quarantine,
                self._meta,
                self._captures,
            ) = self._open_dbs()
            self._env.reader_check()
            self._init_meta()
        except lmdb.Error as exc:
            self._env.close()
            raise StoreError(f"cannot open journal at {self.path}: {exc}") from None
        except JournalError:
            self._env.close()
            raise

    def _open(self, map_size: int) -> lmdb.Environment:
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
                )
            except lmdb.Error as exc:
                if attempt == _OPEN_ATTEMPTS - 1:
                    raise HomeError(f"cannot open journal at {self.path}: {exc}") from None
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _open_dbs(self) -> list[lmdb._Database]:
        # open_db without a transaction takes the write lock while holding the GIL, so
        # a hook thread could not bound its wait; beginning the txn ourselves releases
        # the GIL while waiting. (py-lmdb aborts read-only txns on commit, which would
        # close handles opened in them, so this has to be a write txn.)
        with self._env.begin(write=True) as txn:
            return [self._env.open_db(name, txn=txn) for name in _DATABASES]

    def _init_meta(self) -> None:
        with self._env.begin(db=self._meta) as txn:
            found = txn.get(b"format")
        if found is None:
            with self._env.begin(write=True, db=self._meta) as txn:
                for key, value in (
                    (b"format", FORMAT),
                    (b"payload_format", _payload.FORMAT),
                    (b"digest", _digest.ALGORITHM),
                    (b"created_at", str(time.time_ns())),
                    (b"lmdb_version", ".".join(map(str, lmdb.version()))),
                    (b"lmdb_lib_version", str(self._env.lib_version())),
                ):
                    txn.put(key, value.encode(), overwrite=False)
            found = FORMAT.encode()
        if found.decode() != FORMAT:
            raise StoreError(f"journal format {found.decode()} is not supported (need {FORMAT})")

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        """Close the environment; the journal object is unusable afterwards."""
        self._env.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    def _bump(self, txn: lmdb.Transaction, by_source: dict[bytes, int]) -> None:
        for name, count in by_source.items():
            if not count:
                continue
            key = b"source:" + name
            old = txn.get(key, db=self._counts)
            txn.put(key, _seq_key((_u64(old) if old else 0) + count), db=self._counts)

    def _last(self, txn: lmdb.Transaction) -> tuple[int, bytes]:
        """Return (last seq, its record digest), read inside ``txn``."""
        cur = txn.cursor(db=self._log)
        if not cur.last():
            return 0, wire.ZERO_DIGEST
        entries = list(wire.iter_segment(cur.value()))
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
