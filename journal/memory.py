"""An in-memory journal with the same contract as :class:`journal.store.LmdbJournal`.

It is the oracle of the contract tests: a plain list of records and a dict of blobs,
written to be obviously right rather than fast. It uses the same wire encoding and
digest, so record digests match the LMDB journal's byte for byte.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from . import digest as _digest
from . import payload as _payload
from . import wire
from .errors import AmbiguousPrefixError, InvalidPayloadError, NotFoundError, UsageError
from .records import QuarantineEntry, Record, Stats, VerifyReport
from .results import Appended, Quarantined

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

__all__ = ["MemoryJournal"]


_name = wire.encode_name


class MemoryJournal:
    """A journal held in Python lists; nothing survives the process."""

    def __init__(self, home: str = ":memory:") -> None:
        self.home = home
        self._records: list[Record] = []
        self._blobs: dict[str, bytes] = {}
        self._keys: dict[str, int] = {}
        self._quarantine: list[QuarantineEntry] = []

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> MemoryJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _add(
        self,
        stored: bytes,
        source: bytes,
        kind: bytes,
        key: bytes,
        now: int,
        agent: tuple[int, int, bytes] | None = None,
    ) -> Appended:
        pdig = _digest.digest(stored)
        prev = bytes.fromhex(self._records[-1].record_digest) if self._records else wire.ZERO_DIGEST
        seq = len(self._records) + 1
        record = wire.encode_record(seq, now, pdig, prev, source, kind, key, agent)
        rdig = _digest.digest(record).hex()
        self._blobs.setdefault(pdig.hex(), stored)
        self._records.append(
            Record(
                seq=seq,
                received_at=now,
                source=source.decode(),
                kind=kind.decode(),
                digest=pdig.hex(),
                prev_digest=prev.hex(),
                record_digest=rdig,
                key=key.decode() or None,
                payload=stored,
                agent_pid=agent[0] if agent else None,
                agent_start=agent[1] if agent else None,
                agent_boot=wire.boot_text(agent[2]) if agent else None,
            )
        )
        if key:
            self._keys[key.decode()] = seq
        return Appended(seq, pdig, bytes.fromhex(rdig), False)

    def _duplicate(self, seq: int) -> Appended:
        record = self._records[seq - 1]
        return Appended(
            seq, bytes.fromhex(record.digest), bytes.fromhex(record.record_digest), True
        )

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
        """Validate and append one payload (see ``LmdbJournal.append``)."""
        agent = wire.check_agent(agent)
        source_b = _name(source, "source")
        kind_b = _name(kind, "kind") if kind is not None else None
        key_b = _name(key, "key", wire.MAX_KEY_BYTES) if key is not None else b""
        try:
            stored, hint = _payload.validate_with_kind(data)
        except InvalidPayloadError as exc:
            exc.quarantine_id = self.quarantine(data, exc.reason, source=source, kind=kind or "")
            raise
        if key is not None and key in self._keys:
            return self._duplicate(self._keys[key])
        now = received_at if received_at is not None else time.time_ns()
        return self._add(stored, source_b, kind_b or hint.encode(), key_b, now, agent)

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
        """Append many payloads at once (see ``LmdbJournal.append_batch``)."""
        source_b = _name(source, "source")
        kind_b = _name(kind, "kind") if kind is not None else None
        if key is not None:
            _name(key, "key", wire.MAX_KEY_BYTES - 12)
        now = received_at if received_at is not None else time.time_ns()
        appended: list[Appended | Quarantined] = []
        bad: list[tuple[int, bytes, str]] = []
        for line, data in enumerate(items, 1):
            try:
                stored, hint = _payload.validate_with_kind(data)
            except InvalidPayloadError as exc:
                bad.append((line, data, exc.reason))
                appended.append(Quarantined(0, exc.reason, line))
                continue
            item_key = f"{key}:{line}" if key is not None else ""
            if item_key and item_key in self._keys:
                appended.append(self._duplicate(self._keys[item_key]))
                continue
            appended.append(
                self._add(stored, source_b, kind_b or hint.encode(), item_key.encode(), now)
            )
        for line, data, reason in bad:
            qid = self._keep(data, reason, source, kind or "", now)
            appended[line - 1] = Quarantined(qid, reason, line)
        if progress is not None:
            progress(len(appended))
        return appended

    def _keep(self, data: bytes, reason: str, source: str, kind: str, now: int) -> int:
        qid = len(self._quarantine) + 1
        self._quarantine.append(
            QuarantineEntry(
                id=qid, received_at=now, source=source, kind=kind, reason=reason, data=bytes(data)
            )
        )
        return qid

    def quarantine(
        self, data: bytes, reason: str, *, source: str = "generic", kind: str = ""
    ) -> int:
        """Keep rejected input with its reason; return its id."""
        return self._keep(data, reason, source, kind, time.time_ns())

    def head(self) -> int:
        """Return the last seq (0 when empty)."""
        return len(self._records)

    def head_digest(self) -> str:
        """Return the last record's digest (zeros when empty)."""
        return self._records[-1].record_digest if self._records else wire.ZERO_DIGEST.hex()

    def get(self, seq: int) -> Record:
        """Return the record at ``seq``."""
        if not 1 <= seq <= len(self._records):
            raise NotFoundError(f"no record with seq {seq}")
        return self._records[seq - 1]

    def read(
        self,
        *,
        after: int = 0,
        limit: int | None = None,
        kinds: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
    ) -> Iterator[Record]:
        """Yield records with seq > ``after`` matching the filters."""
        count = 0
        for record in self._records[max(after, 0) :]:
            if limit is not None and count >= limit:
                return
            if kinds and record.kind not in kinds:
                continue
            if sources and record.source not in sources:
                continue
            count += 1
            yield record

    def resolve_digest(self, text: str) -> bytes:
        """Return the full digest for hex ``text`` (full or unique prefix)."""
        try:
            text = _digest.check_prefix(text)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        matches = [d for d in self._blobs if d.startswith(text)]
        if not matches:
            raise NotFoundError(f"no blob with digest {text}")
        if len(matches) > 1:
            raise AmbiguousPrefixError(f"digest prefix {text} is ambiguous")
        return bytes.fromhex(matches[0])

    def blob(self, digest: str) -> bytes:
        """Return the payload stored under ``digest`` (full or unique prefix)."""
        return self._blobs[self.resolve_digest(digest).hex()]

    def quarantined(self, *, after: int = 0, limit: int | None = None) -> list[QuarantineEntry]:
        """Return quarantine entries with id > ``after``."""
        out = self._quarantine[after:]
        return out[:limit] if limit is not None else out

    def stats(self) -> Stats:
        """Return the same counts as the LMDB journal (``bytes`` is payload bytes)."""
        sources: dict[str, int] = {}
        for record in self._records:
            sources[record.source] = sources.get(record.source, 0) + 1
        return Stats(
            home=self.home,
            head_seq=self.head(),
            head_digest=self.head_digest(),
            records=len(self._records),
            blobs=len(self._blobs),
            bytes=sum(map(len, self._blobs.values())),
            quarantined=len(self._quarantine),
            spooled=0,
            sources=sources,
            map_size=0,
            format="memory",
            payload_format=_payload.FORMAT,
        )

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check the chain and blobs (always sound unless the lists were tampered with)."""
        prev = wire.ZERO_DIGEST.hex()
        for index, record in enumerate(self._records, 1):
            blob = self._blobs.get(record.digest)
            problem = None
            if record.seq != index:
                problem = "seq out of order"
            elif record.prev_digest != prev:
                problem = "previous-digest link is broken"
            elif blob is None or _digest.digest(blob).hex() != record.digest:
                problem = "payload does not hash to its digest"
            if problem:
                return VerifyReport(
                    ok=False,
                    head_seq=index - 1,
                    head_digest=prev,
                    records_checked=index - 1,
                    blobs_checked=0,
                    first_bad_seq=index,
                    problem=problem,
                )
            prev = record.record_digest
        return VerifyReport(
            ok=True,
            head_seq=len(self._records),
            head_digest=prev,
            records_checked=len(self._records),
            blobs_checked=len(self._blobs),
        )
