"""The LMDB journal: append-only, content-addressed, gap-free.

The environment, its named databases and the rules of its layout are in
:mod:`journal.logenv`; this module is the public API on top of it.

Every append is one write transaction that reads the last seq *inside* the
transaction, so many short-lived processes append concurrently without gaps: LMDB
allows one writer at a time, commit order is seq order, and an aborted transaction
leaves nothing. Expensive work (validation, hashing) happens before the transaction.

This module imports neither msgspec nor click: the hook path uses it.
"""

from __future__ import annotations

import time

import lmdb

from . import digest as _digest
from . import payload as _payload
from . import wire
from .errors import (
    AmbiguousPrefixError,
    CorruptionError,
    InvalidPayloadError,
    LockedError,
    NotFoundError,
    StoreError,
    UsageError,
)
from .logenv import DEFAULT_MAP_SIZE, FORMAT, MAX_READERS, LogEnv, reading, seek
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

_READ_CHUNK = 512
_seq_key = wire.seq_key
_u64 = wire.seq_of_key
_name = wire.encode_name


class LmdbJournal(LogEnv):
    """An append-only journal in an LMDB environment under ``home``.

    ``LmdbJournal(home, readonly=True)`` is for reading: it never takes the write
    lock, so no writer, alive or dead, can make it wait (a home that does not exist
    yet is created first). A writable journal's writes wait at most ``lock_timeout``
    seconds for other writers (None: as long as it takes) and stop once ``guard``
    stops (see :mod:`journal.writelock`). Open one per home per process, and never
    use it across ``fork()``.
    """

    # -- appends -----------------------------------------------------------------

    def append(
        self,
        data: bytes,
        *,
        source: str = "generic",
        kind: str | None = None,
        key: str | None = None,
        received_at: int | None = None,
        agent: tuple[int, int, bytes] | None = None,
    ) -> Appended:
        """Validate and append one payload; return its seq and digest.

        An idempotency ``key`` that is already known returns the original append
        (``duplicate=True``) and writes nothing. ``agent`` is the agent process that
        sent the event, ``(pid, start ticks, 16-byte boot id)``
        (:mod:`journal.agents.process`); the record then carries it (version 2).

        Raises:
            InvalidPayloadError: the input is not a valid payload; it was quarantined
                and ``exc.quarantine_id`` says where.
            UsageError: an empty or over-long source, kind or key, or a malformed agent.
            StoreError: LMDB failed; nothing was written.
        """
        agent = wire.check_agent(agent)
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
        done = self.write(
            lambda w: w.append(stored, source_b, kind_b, key_b, now, pdig, agent=agent)
        )
        if done is None:
            raise LockedError("writes to the journal were stopped")
        return done

    def write(
        self, work: Callable[[Writer], T], *, gate: Callable[[], bool] | None = None
    ) -> T | None:
        """Run ``work`` in one write transaction and commit; return its result.

        ``gate`` is called once the write lock is held; if it returns False the
        transaction is aborted and None returned (the hook uses this to give up
        cleanly after its time budget, see :mod:`journal.agents.hook`). None is also
        returned once the journal's :class:`~journal.writelock.WriteGuard` stopped.

        The transaction begins in turn with other writers (:mod:`journal.writelock`):
        it waits at most :attr:`lock_timeout` for them, and never for a writer that
        died holding LMDB's lock.

        Raises:
            LockedError: no turn within :attr:`lock_timeout`, or the write lock is
                held by a writer that died inside a transaction; nothing was written.
            StoreError: LMDB failed, or the journal was opened read-only; nothing
                was written.
        """
        self._check_pid()
        writers = self._writable()
        try:
            turn = writers.begin()
            if turn is None:  # the guard stopped this journal's writes
                return None
            try:
                if gate is not None and not gate():
                    turn.end(commit=False)
                    return None
                writer = Writer(self, turn.txn)
                out = work(writer)
                writer.finish()
            except BaseException:
                turn.end(commit=False)
                raise
            turn.end(commit=True)
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
        if qid is None:
            raise LockedError("writes to the journal were stopped")
        return qid

    # -- reads -------------------------------------------------------------------

    def capture_cursor(self, name: bytes) -> bytes | None:
        """Return a transcript capture cursor (see :mod:`journal.agents.capture`)."""
        with reading(), self._env.begin() as txn:
            value = txn.get(name, db=self._captures)
            return None if value is None else bytes(value)

    def head(self) -> int:
        """Return the last seq (0 for an empty journal)."""
        with reading(), self._env.begin() as txn:
            return self._last(txn)[0]

    def head_digest(self) -> str:
        """Return the record digest of the last record: it commits to all history."""
        with reading(), self._env.begin() as txn:
            return self._last(txn)[1].hex()

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
            agent_pid=entry.agent[0] if entry.agent else None,
            agent_start=entry.agent[1] if entry.agent else None,
            agent_boot=wire.boot_text(entry.agent[2]) if entry.agent else None,
            origin=wire.origin_text(entry.origin[0]) if entry.origin else None,
            origin_seq=entry.origin[1] if entry.origin else None,
        )

    def get(self, seq: int) -> Record:
        """Return the record at ``seq`` with its payload.

        Raises:
            NotFoundError: no such seq.
        """
        with reading(), self._env.begin() as txn:
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
            with reading(), self._env.begin() as txn:
                cur = txn.cursor(db=self._log)
                if not seek(cur, position + 1):
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
        with reading(), self._env.begin() as txn:
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
        with reading(), self._env.begin(db=self._blobs) as txn:
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
            from .forget import erased_message

            raise NotFoundError(erased_message(self, text) or f"no blob with digest {text}")
        return matches[0]

    def quarantined(self, *, after: int = 0, limit: int | None = None) -> list[QuarantineEntry]:
        """Return quarantine entries with id > ``after``, oldest first."""
        from .records import QuarantineEntry

        out: list[QuarantineEntry] = []
        with reading(), self._env.begin(db=self._quarantine) as txn:
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
        """Return counts: head, blobs, bytes in use, quarantine, per source (``spooled`` is 0)."""
        from .records import Stats

        with reading(), self._env.begin() as txn:
            head, head_dig = self._last(txn)
            blobs = txn.stat(self._blobs)["entries"]
            quarantined = txn.stat(self._quarantine)["entries"]
            counts = [(bytes(k), _u64(v)) for k, v in txn.cursor(db=self._counts)]
            sources = {k[7:].decode(): v for k, v in counts if k.startswith(b"source:")}
            redacted = {k[9:].decode(): v for k, v in counts if k.startswith(b"redacted:")}
            erased = txn.stat(self._erased)["entries"]
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
            spooled=0,  # the hook spool is the agents layer's: `journal stats` counts it
            sources=sources,
            map_size=info["map_size"],
            format=FORMAT,
            payload_format=payload_format,
            redacted=redacted,
            erased=erased,
        )

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check invariants 1, 3 and 4 over the whole log (see :mod:`journal.verify`)."""
        from .verify import verify

        return verify(self, progress)
