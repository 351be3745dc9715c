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
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from .records import QuarantineEntry, Record, Stats, VerifyReport

__all__ = ["DEFAULT_MAP_SIZE", "FORMAT", "MAX_READERS", "LmdbJournal"]

FORMAT = "agent-journal/1"
# Address space, not disk: the file is sparse and grows as pages are written. Fixed
# at creation; nothing ever resizes the map (resizing races between processes).
DEFAULT_MAP_SIZE = 64 * 1024**3
MAX_READERS = 1024
_READ_CHUNK = 512
_OPEN_ATTEMPTS = 5

_seq_key = wire.seq_key
_u64 = wire.seq_of_key


def _name(value: str, what: str, limit: int = wire.MAX_NAME_BYTES) -> bytes:
    raw = value.encode("utf-8")
    if not raw:
        raise UsageError(f"{what} must not be empty")
    if len(raw) > limit:
        raise UsageError(f"{what} is longer than {limit} bytes")
    return raw


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
            self._log = self._env.open_db(b"log")
            self._blobs = self._env.open_db(b"blobs")
            self._idem = self._env.open_db(b"idem")
            self._counts = self._env.open_db(b"counts")
            self._quarantine = self._env.open_db(b"quarantine")
            self._meta = self._env.open_db(b"meta")
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
                    max_dbs=8,
                    max_readers=MAX_READERS,
                    mode=0o600,
                    max_spare_txns=0,
                )
            except lmdb.Error as exc:
                if attempt == _OPEN_ATTEMPTS - 1:
                    raise HomeError(f"cannot open journal at {self.path}: {exc}") from None
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

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
        pdig = _digest.digest(stored)
        now = received_at if received_at is not None else time.time_ns()
        self._check_pid()
        try:
            with self._env.begin(write=True) as txn:
                if key_b:
                    known = txn.get(key_b, db=self._idem)
                    if known is not None:
                        return self._duplicate(txn, _u64(known))
                last_seq, prev = self._last(txn)
                seq = last_seq + 1
                is_new = txn.put(pdig, _seq_key(seq), db=self._blobs, overwrite=False)
                record = wire.encode_record(seq, now, pdig, prev, source_b, kind_b, key_b)
                entry = record + wire.encode_inline(stored if is_new else b"")
                if not txn.put(_seq_key(seq), entry, db=self._log, append=True):
                    raise StoreError(f"seq {seq} is not above the last log key")
                if key_b:
                    txn.put(key_b, _seq_key(seq), db=self._idem)
                self._bump(txn, {source_b: 1})
        except lmdb.Error as exc:
            raise StoreError(f"append failed: {exc}") from None
        return Appended(seq, pdig.hex(), _digest.digest(record).hex(), False)

    def append_batch(
        self,
        items: Iterable[bytes],
        *,
        source: str = "generic",
        kind: str | None = None,
        key: str | None = None,
        received_at: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Appended | Quarantined]:
        """Append many payloads in one write transaction; one result per item.

        Valid items land in order with consecutive seqs; invalid items are
        quarantined in the same transaction and reported as :class:`Quarantined`
        (with their 1-based position as ``line``), so a bad item never costs the
        good ones. With ``key``, item *i* gets the idempotency key ``f"{key}:{i}"``,
        which makes retrying a whole batch safe.
        """
        source_b = _name(source, "source")
        kind_b = _name(kind, "kind") if kind is not None else None
        if key is not None:
            _name(key, "key", wire.MAX_KEY_BYTES - 12)
        _digest.use_openssl()
        now = received_at if received_at is not None else time.time_ns()
        sha = _digest.digest
        # (line, stored, payload digest, kind, key) for valid items; bad ones aside.
        good: list[tuple[int, bytes, bytes, bytes, bytes]] = []
        bad: list[tuple[int, bytes, str]] = []
        for line, data in enumerate(items, 1):
            try:
                stored, hint = _payload.validate_fast_with_kind(data)
            except InvalidPayloadError as exc:
                bad.append((line, data, exc.reason))
                continue
            item_kind = kind_b if kind_b is not None else hint.encode()
            item_key = f"{key}:{line}".encode() if key is not None else b""
            good.append((line, stored, sha(stored), item_kind, item_key))
        self._check_pid()
        results: dict[int, Appended | Quarantined] = {}
        try:
            with self._env.begin(write=True) as txn:
                self._write_batch(txn, good, source_b, now, results, progress)
                qcur = txn.cursor(db=self._quarantine)
                next_q = _u64(qcur.key()) + 1 if qcur.last() else 1
                for line, data, reason in bad:
                    value = wire.encode_quarantine(
                        now, source_b, kind_b or b"", reason.encode(), data
                    )
                    qcur.put(_seq_key(next_q), value, append=True)
                    results[line] = Quarantined(next_q, reason, line)
                    next_q += 1
        except lmdb.Error as exc:
            raise StoreError(f"batch append failed: {exc}") from None
        return [results[line] for line in sorted(results)]

    def _write_batch(
        self,
        txn: lmdb.Transaction,
        good: list[tuple[int, bytes, bytes, bytes, bytes]],
        source_b: bytes,
        now: int,
        results: dict[int, Appended | Quarantined],
        progress: Callable[[int], None] | None,
    ) -> None:
        if not good:
            return
        idem = self._idem
        if good[0][4]:  # keyed batch: drop items whose key is already known
            fresh = []
            for item in good:
                known = txn.get(item[4], db=idem)
                if known is None:
                    fresh.append(item)
                else:
                    results[item[0]] = self._duplicate(txn, _u64(known))
            good = fresh
        last_seq, prev = self._last(txn)
        first_seq = last_seq + 1
        # One put per distinct digest, pointing at the first record that carries it.
        first_of: dict[bytes, int] = {}
        for offset, item in enumerate(good):
            first_of.setdefault(item[2], first_seq + offset)
        pairs = [(d, _seq_key(s)) for d, s in first_of.items()]
        bcur = txn.cursor(db=self._blobs)
        consumed, added = bcur.putmulti(pairs, overwrite=False)
        if added == len(pairs):
            holders = first_of
        else:  # some digests were stored before: the index keeps the older seq
            holders = {d: _u64(v) for d, v in bcur.getmulti([d for d, _ in pairs])}
        lcur = txn.cursor(db=self._log)
        put = lcur.put
        encode, inline, sha = wire.encode_record, wire.encode_inline, _digest.digest
        parts: list[bytes] = []
        segment_seq, segment_len, size = first_seq, 0, 0
        keyed = []
        for offset, (line, stored, pdig, kind_b, key_b) in enumerate(good):
            seq = first_seq + offset
            record = encode(seq, now, pdig, prev, source_b, kind_b, key_b)
            rdig = sha(record)
            body = stored if holders[pdig] == seq else b""
            parts.append(record)
            parts.append(inline(body))
            size += len(record) + len(body)
            segment_len += 1
            if key_b:
                keyed.append((key_b, _seq_key(seq)))
            results[line] = Appended(seq, pdig.hex(), rdig.hex(), False)
            prev = rdig
            if segment_len >= wire.SEGMENT_ENTRIES or size >= wire.SEGMENT_BYTES:
                if not put(_seq_key(segment_seq), b"".join(parts), append=True):
                    raise StoreError(f"seq {segment_seq} is not above the last log key")
                if progress is not None:
                    progress(segment_len)
                parts, segment_seq, segment_len, size = [], seq + 1, 0, 0
        if parts:
            if not put(_seq_key(segment_seq), b"".join(parts), append=True):
                raise StoreError(f"seq {segment_seq} is not above the last log key")
            if progress is not None:
                progress(segment_len)
        if keyed:
            txn.cursor(db=idem).putmulti(keyed)
        self._bump(txn, {source_b: len(good)})

    def _duplicate(self, txn: lmdb.Transaction, seq: int) -> Appended:
        entry = self._entry(txn, seq)
        return Appended(seq, entry.payload_digest.hex(), _digest.digest(entry.record).hex(), True)

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
        entry = None
        for entry in wire.iter_segment(cur.value()):
            pass
        if entry is None:
            raise CorruptionError(f"empty segment at seq {_u64(cur.key())}")
        return entry.seq, _digest.digest(entry.record)

    def quarantine(
        self, data: bytes, reason: str, *, source: str = "generic", kind: str = ""
    ) -> int:
        """Keep rejected input byte for byte with its reason; return its id."""
        value = wire.encode_quarantine(
            time.time_ns(),
            source.encode("utf-8", "replace"),
            kind.encode("utf-8", "replace"),
            reason.encode("utf-8", "replace"),
            data,
        )
        self._check_pid()
        try:
            with self._env.begin(write=True, db=self._quarantine) as txn:
                cur = txn.cursor()
                qid = _u64(cur.key()) + 1 if cur.last() else 1
                cur.put(_seq_key(qid), value, append=True)
        except lmdb.Error as exc:
            raise StoreError(f"quarantine failed: {exc}") from None
        return qid

    # -- reads -------------------------------------------------------------------

    def head(self) -> int:
        """Return the last seq (0 for an empty journal)."""
        with self._env.begin() as txn:
            return self._last(txn)[0]

    def head_digest(self) -> str:
        """Return the record digest of the last record: it commits to all history."""
        with self._env.begin() as txn:
            return self._last(txn)[1].hex()

    def _entry(self, txn: lmdb.Transaction, seq: int) -> wire.Entry:
        cur = txn.cursor(db=self._log)
        if not cur.set_range(_seq_key(seq)) or _u64(cur.key()) != seq:
            if not (cur.prev() if cur.key() else cur.last()):
                raise NotFoundError(f"no record with seq {seq}")
        for entry in wire.iter_segment(cur.value()):
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
        with self._env.begin() as txn:
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
            with self._env.begin() as txn:
                cur = txn.cursor(db=self._log)
                found = cur.set_range(_seq_key(position + 1))
                if (not found or _u64(cur.key()) > position + 1) and (
                    cur.prev() if found else cur.last()
                ):
                    pass
                elif not found:
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
                            chunk.append(
                                self._record(txn, entry, self._payload_of(txn, entry))
                            )
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
        with self._env.begin() as txn:
            holder = txn.get(raw, db=self._blobs)
            if holder is None:
                raise NotFoundError(f"no blob with digest {digest}")
            inline = self._entry(txn, _u64(holder)).inline
            if inline is None:
                raise CorruptionError(f"blob {digest}: index points at no payload")
            return inline

    def resolve_digest(self, text: str) -> bytes:
        """Return the full 32-byte digest for hex ``text`` (full or unique prefix)."""
        text = text.lower()
        if len(text) < 4 or any(c not in "0123456789abcdef" for c in text):
            raise UsageError(f"{text!r} is not a hex digest or a prefix of 4+ hex digits")
        low = bytes.fromhex(text[: len(text) // 2 * 2])
        with self._env.begin(db=self._blobs) as txn:
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
        with self._env.begin(db=self._quarantine) as txn:
            cur = txn.cursor()
            if not cur.set_range(_seq_key(after + 1)):
                return out
            for key, value in cur.iternext():
                received_at, source, kind, reason, data = wire.decode_quarantine(value)
                out.append(
                    QuarantineEntry(
                        id=_u64(key), received_at=received_at, source=source,
                        kind=kind, reason=reason, data=data,
                    )
                )
                if limit is not None and len(out) >= limit:
                    break
        return out

    def stats(self) -> Stats:
        """Return counts: head, blobs, bytes in use, quarantine, spool, per source."""
        from .records import Stats

        with self._env.begin() as txn:
            head, head_dig = self._last(txn)
            blobs = txn.stat(self._blobs)["entries"]
            quarantined = txn.stat(self._quarantine)["entries"]
            sources = {
                k[len(b"source:") :].decode(): _u64(v)
                for k, v in txn.cursor(db=self._counts)
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
            spooled=_count_spool(self.home),
            sources=sources,
            map_size=info["map_size"],
            format=FORMAT,
            payload_format=payload_format,
        )

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check invariants 1, 3 and 4 over the whole log, stopping at the first fault.

        1. seqs run 1..head with no gap or duplicate, segment keys match;
        3. every record's previous digest is the digest of the record before it;
        4. every payload is present and hashes to its digest, and the blob and
           idempotency indexes point at the records that hold them.
        """
        from .records import VerifyReport

        _digest.use_openssl()
        sha = _digest.digest
        expected, prev = 1, wire.ZERO_DIGEST
        blobs_checked = 0

        def report(problem: str | None, bad: int | None) -> VerifyReport:
            return VerifyReport(
                ok=problem is None, head_seq=expected - 1, head_digest=prev.hex(),
                records_checked=expected - 1, blobs_checked=blobs_checked,
                first_bad_seq=bad, problem=problem,
            )

        with self._env.begin() as txn:
            get = txn.get
            for key, value in txn.cursor(db=self._log):
                if _u64(key) != expected:
                    return report(f"segment key {_u64(key)} where seq {expected} was due", expected)
                try:
                    entries = list(wire.iter_segment(value))
                except CorruptionError as exc:
                    return report(str(exc), expected)
                if not entries:
                    return report("empty segment", expected)
                for entry in entries:
                    seq = entry.seq
                    if seq != expected:
                        return report(f"record says seq {seq} where {expected} was due", expected)
                    if entry.prev_digest != prev:
                        return report("previous-digest link is broken", seq)
                    holder = get(entry.payload_digest, db=self._blobs)
                    if entry.inline is not None:
                        if sha(entry.inline) != entry.payload_digest:
                            return report("payload does not hash to its digest", seq)
                        if holder is None or _u64(holder) != seq:
                            return report("blob index does not point at this payload", seq)
                        blobs_checked += 1
                    elif holder is None or _u64(holder) >= seq:
                        return report("payload blob is missing", seq)
                    if entry.key is not None:
                        known = get(entry.key.encode(), db=self._idem)
                        if known is None or _u64(known) != seq:
                            return report("idempotency index does not point here", seq)
                    prev = sha(entry.record)
                    expected += 1
                if progress is not None:
                    progress(len(entries))
            indexed = txn.stat(self._blobs)["entries"]
        if indexed != blobs_checked:
            return report(
                f"blob index has {indexed} entries but {blobs_checked} payloads are stored",
                None,
            )
        return report(None, None)


def _count_spool(home: str) -> int:
    try:
        names = os.listdir(os.path.join(home, _home.SPOOL_DIR))
    except OSError:
        return 0
    return sum(1 for name in names if not name.startswith("."))
