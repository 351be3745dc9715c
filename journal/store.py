"""The LMDB journal: append-only, content-addressed, gap-free.

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
``captures``   transcript path (UTF-8)                 capture cursor (:mod:`journal.capture`)
=============  ======================================  ===============================

Every append is one write transaction that reads the last seq *inside* the
transaction, so many short-lived processes append concurrently without gaps: LMDB
allows one writer at a time, commit order is seq order, and an aborted transaction
leaves nothing. Expensive work (validation, hashing) happens before the transaction.

This module imports neither msgspec nor click: the hook path uses it.
"""

from __future__ import annotations

import os
import time

import lmdb

from . import digest as _digest
from . import home as _home
from . import payload as _payload
from . import wire
from .errors import (
    AmbiguousPrefixError,
    CorruptionError,
    HomeError,
    InvalidPayloadError,
    JournalError,
    NotFoundError,
    StoreError,
    UsageError,
)
from .results import Appended, Quarantined
from .writer import Writer

# typing costs ~3 ms to import; this module is on the hook path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import TypeVar

    T = TypeVar("T")

    from .records import QuarantineEntry, Record, Stats, VerifyReport

__all__ = ["DEFAULT_MAP_SIZE", "FORMAT", "MAX_READERS", "LmdbJournal"]

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


class _reading:
    """Turn an ``lmdb.Error`` raised while reading into :class:`StoreError`."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, lmdb.Error):
            raise StoreError(f"reading the journal failed: {exc}") from None


_name = wire.encode_name


def _seek(cur: lmdb.Cursor, seq: int) -> bool:
    """Put ``cur`` (on ``log``) on the segment holding ``seq``, or the first one after it.

    Segments are keyed by their first seq, so ``seq`` lives in the last segment whose
    key is not above it. Returns False when the log is empty.
    """
    if cur.set_range(_seq_key(seq)):
        if _u64(cur.key()) > seq and not cur.prev():
            cur.first()  # seq comes before the log: start at its first segment
        return True
    return bool(cur.last())


def _known(entry: wire.Entry) -> Appended:
    """The result of an append whose idempotency key was already given to ``entry``."""
    return Appended(entry.seq, entry.payload_digest, _digest.digest(entry.record), True)


class LmdbJournal:
    """An append-only journal in an LMDB environment under ``home``.

    Open one per home per process, and never use it across ``fork()``.
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

    def __enter__(self) -> LmdbJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_pid(self) -> None:
        if os.getpid() != self._pid:
            raise StoreError("a journal must not be used across fork(); open it again")

    # -- appends -----------------------------------------------------------------

    def append(
        self,
        data: bytes,
        *,
        source: str = "generic",
        kind: str | None = None,
        key: str | None = None,
        received_at: int | None = None,
    ) -> Appended:
        """Validate and append one payload; return its seq and digest.

        An idempotency ``key`` that is already known returns the original append
        (``duplicate=True``) and writes nothing.

        Raises:
            InvalidPayloadError: the input is not a valid payload; it was quarantined
                and ``exc.quarantine_id`` says where.
            UsageError: an empty or over-long source, kind or key.
            StoreError: LMDB failed; nothing was written.
        """
        source_b = _name(source, "source")
        kind_b = _name(kind, "kind") if kind is not None else None
        key_b = _name(key, "key", wire.MAX_KEY_BYTES) if key is not None else b""
        try:
            stored, hint = _payload.validate_with_kind(data)
        except InvalidPayloadError as exc:
            exc.quarantine_id = self.quarantine(data, exc.reason, source=source, kind=kind or "")
            raise
        if kind_b is None:
            kind_b = hint.encode()
        now = received_at if received_at is not None else time.time_ns()
        pdig = _digest.digest(stored)
        done = self.write(lambda w: w.append(stored, source_b, kind_b, key_b, now, pdig))
        assert done is not None  # no gate: the write always runs
        return done

    def write(
        self, work: Callable[[Writer], T], *, gate: Callable[[], bool] | None = None
    ) -> T | None:
        """Run ``work`` in one write transaction and commit; return its result.

        ``gate`` is called once the write lock is held; if it returns False the
        transaction is aborted and None returned (the hook uses this to give up
        cleanly after its time budget, see :mod:`journal.hook`).

        Raises:
            StoreError: LMDB failed; nothing was written.
        """
        self._check_pid()
        try:
            txn = self._env.begin(write=True)
            try:
                if gate is not None and not gate():
                    txn.abort()
                    return None
                writer = Writer(self, txn)
                out = work(writer)
                writer.finish()
            except BaseException:
                txn.abort()
                raise
            txn.commit()
        except lmdb.Error as exc:
            raise StoreError(f"append failed: {exc}") from None
        return out

    def append_batch(
        self,
        items: Iterable[bytes],
        *,
        source: str = "generic",
        kind: str | None = None,
        key: str | None = None,
        received_at: int | None = None,
        progress: Callable[[int], None] | None = None,
        parallel: bool | None = None,
    ) -> list[Appended | Quarantined]:
        """Append many payloads in one write transaction; one result per item.

        Valid items land in order with consecutive seqs; invalid items are
        quarantined in the same transaction and reported as :class:`Quarantined`
        (with their 1-based position as ``line``), so a bad item never costs the
        good ones. With ``key``, item *i* gets the idempotency key ``f"{key}:{i}"``,
        which makes retrying a whole batch safe. Large batches validate and hash in a
        forked worker while the parent writes (:mod:`journal._prepare`); ``parallel``
        forces that on or off.
        """
        from .batch import append_batch

        return append_batch(
            self,
            items,
            source=source,
            kind=kind,
            key=key,
            received_at=received_at,
            progress=progress,
            parallel=parallel,
        )

    def _duplicate(self, txn: lmdb.Transaction, seq: int) -> Appended:
        return _known(self._entry(txn, seq))

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

    def quarantine(
        self, data: bytes, reason: str, *, source: str = "generic", kind: str = ""
    ) -> int:
        """Keep rejected input byte for byte with its reason; return its id."""
        now = time.time_ns()
        qid = self.write(
            lambda w: w.quarantine(
                data,
                reason,
                source.encode("utf-8", "replace"),
                kind.encode("utf-8", "replace"),
                now,
            )
        )
        assert qid is not None
        return qid

    # -- reads -------------------------------------------------------------------

    def capture_cursor(self, name: bytes) -> bytes | None:
        """Return a transcript capture cursor (see :mod:`journal.capture`)."""
        with _reading(), self._env.begin() as txn:
            value = txn.get(name, db=self._captures)
            return None if value is None else bytes(value)

    def head(self) -> int:
        """Return the last seq (0 for an empty journal)."""
        with _reading(), self._env.begin() as txn:
            return self._last(txn)[0]

    def head_digest(self) -> str:
        """Return the record digest of the last record: it commits to all history."""
        with _reading(), self._env.begin() as txn:
            return self._last(txn)[1].hex()

    def _segment_of(self, txn: lmdb.Transaction, seq: int) -> list[wire.Entry]:
        """Return the entries of the segment that holds ``seq`` (maybe without it)."""
        cur = txn.cursor(db=self._log)
        if not _seek(cur, seq):
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

    def _record(self, txn: lmdb.Transaction, entry: wire.Entry, payload: bytes) -> Record:
        from .records import Record

        return Record(
            seq=entry.seq,
            received_at=entry.received_at,
            source=entry.source,
            kind=entry.kind,
            digest=entry.payload_digest.hex(),
            prev_digest=entry.prev_digest.hex(),
            record_digest=_digest.digest(entry.record).hex(),
            key=entry.key,
            payload=payload,
        )

    def get(self, seq: int) -> Record:
        """Return the record at ``seq`` with its payload.

        Raises:
            NotFoundError: no such seq.
        """
        with _reading(), self._env.begin() as txn:
            entry = self._entry(txn, seq)
            return self._record(txn, entry, self._payload_of(txn, entry))

    def read(
        self,
        *,
        after: int = 0,
        limit: int | None = None,
        kinds: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
    ) -> Iterator[Record]:
        """Yield records with seq > ``after`` in seq order, with payloads.

        Each chunk of records is read in its own short read transaction, so a slow
        consumer never pins old pages; every record yielded was committed.
        """
        kind_set = set(kinds) if kinds else None
        source_set = set(sources) if sources else None
        remaining = limit if limit is not None else -1
        position = after
        while remaining != 0:
            chunk: list[Record] = []
            with _reading(), self._env.begin() as txn:
                cur = txn.cursor(db=self._log)
                if not _seek(cur, position + 1):
                    return
                scanned = 0
                for _key, value in cur.iternext():
                    for entry in wire.iter_segment(value):
                        if entry.seq <= position:
                            continue
                        position = entry.seq
                        scanned += 1
                        if (kind_set is None or entry.kind in kind_set) and (
                            source_set is None or entry.source in source_set
                        ):
                            chunk.append(self._record(txn, entry, self._payload_of(txn, entry)))
                            if remaining > 0 and len(chunk) >= remaining:
                                break
                    if scanned >= _READ_CHUNK or (0 < remaining <= len(chunk)):
                        break
                else:
                    scanned = -1  # reached the end of the log
            yield from chunk
            if remaining > 0:
                remaining -= len(chunk)
            if scanned == -1:
                return

    def blob(self, digest: str) -> bytes:
        """Return the payload stored under a full hex digest or a unique prefix.

        Raises:
            NotFoundError: nothing matches.
            AmbiguousPrefixError: a prefix matches several blobs.
        """
        raw = self.resolve_digest(digest)
        with _reading(), self._env.begin() as txn:
            holder = txn.get(raw, db=self._blobs)
            if holder is None:
                raise NotFoundError(f"no blob with digest {digest}")
            inline = self._entry(txn, _u64(holder)).inline
            if inline is None:
                raise CorruptionError(f"blob {digest}: index points at no payload")
            return inline

    def resolve_digest(self, text: str) -> bytes:
        """Return the full 32-byte digest for hex ``text`` (full or unique prefix)."""
        try:
            text = _digest.check_prefix(text)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        # The smallest digest with this prefix: pad an odd-length prefix with "0".
        low = bytes.fromhex(text + "0" * (len(text) % 2))
        with _reading(), self._env.begin(db=self._blobs) as txn:
            cur = txn.cursor()
            matches: list[bytes] = []
            if cur.set_range(low):
                for key in cur.iternext(values=False):
                    if not key.hex().startswith(text):
                        break
                    matches.append(key)
                    if len(matches) > 1:
                        raise AmbiguousPrefixError(f"digest prefix {text} is ambiguous")
        if not matches:
            raise NotFoundError(f"no blob with digest {text}")
        return matches[0]

    def quarantined(self, *, after: int = 0, limit: int | None = None) -> list[QuarantineEntry]:
        """Return quarantine entries with id > ``after``, oldest first."""
        from .records import QuarantineEntry

        out: list[QuarantineEntry] = []
        with _reading(), self._env.begin(db=self._quarantine) as txn:
            cur = txn.cursor()
            if not cur.set_range(_seq_key(after + 1)):
                return out
            for key, value in cur.iternext():
                received_at, source, kind, reason, data = wire.decode_quarantine(value)
                out.append(
                    QuarantineEntry(
                        id=_u64(key),
                        received_at=received_at,
                        source=source,
                        kind=kind,
                        reason=reason,
                        data=data,
                    )
                )
                if limit is not None and len(out) >= limit:
                    break
        return out

    def stats(self) -> Stats:
        """Return counts: head, blobs, bytes in use, quarantine, spool, per source."""
        from . import spool as _spool
        from .records import Stats

        with _reading(), self._env.begin() as txn:
            head, head_dig = self._last(txn)
            blobs = txn.stat(self._blobs)["entries"]
            quarantined = txn.stat(self._quarantine)["entries"]
            sources = {
                k[len(b"source:") :].decode(): _u64(v) for k, v in txn.cursor(db=self._counts)
            }
            payload_format = (txn.get(b"payload_format", db=self._meta) or b"").decode()
        info = self._env.info()
        used = (info["last_pgno"] + 1) * self._env.stat()["psize"]
        return Stats(
            home=self.home,
            head_seq=head,
            head_digest=head_dig.hex(),
            records=head,
            blobs=blobs,
            bytes=used,
            quarantined=quarantined,
            spooled=len(_spool.pending(_spool.spool_dir(self.home))),
            sources=sources,
            map_size=info["map_size"],
            format=FORMAT,
            payload_format=payload_format,
        )

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check invariants 1, 3 and 4 over the whole log (see :mod:`journal.verify`)."""
        from .verify import verify

        return verify(self, progress)

    def _anchor(self, txn: lmdb.Transaction) -> tuple[int, bytes] | None:
        """Return the (seq, record digest) the last append committed with, if any."""
        value = txn.get(_ANCHOR, db=self._meta)
        if value is None:
            return None
        if len(value) != 40:
            raise CorruptionError("the head anchor in meta is malformed")
        return _u64(value[:8]), bytes(value[8:])
