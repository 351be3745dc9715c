"""The read side's record types: frozen msgspec Structs with permanent tags.

Stored bytes are defined in :mod:`journal.wire`; these are their decoded, public
form. Tags are fixed strings, never derived from class names, and new fields only
ever arrive with defaults.
"""

from __future__ import annotations

import msgspec

__all__ = ["QuarantineEntry", "Record", "Stats", "VerifyReport"]


class Record(msgspec.Struct, frozen=True, kw_only=True, tag="journal.record"):
    """One log record. Digests are lowercase hex SHA-256.

    ``digest`` is the payload's content address (what ``show`` accepts);
    ``record_digest`` is this record's own address in the hash chain.

    ``agent_pid``, ``agent_start`` and ``agent_boot`` name the agent process that
    sent a hook event (record version 2, :mod:`journal.wire`): its pid, its start
    time in clock ticks after boot, and the boot id as UUID text. They are None on
    records without one (version 1: batches, imports, transcript lines, old hooks).

    ``origin`` and ``origin_seq`` name where a record pulled from another journal was
    first appended (record version 3, ``journal pull``): that journal's origin id
    (UUID text) and its seq there. They are None on records appended to this journal;
    :meth:`origin_of` fills in this journal's own origin id for those.
    """

    seq: int
    received_at: int
    source: str
    kind: str
    digest: str
    prev_digest: str
    record_digest: str
    key: str | None = None
    payload: bytes = b""
    agent_pid: int | None = None
    agent_start: int | None = None
    agent_boot: str | None = None
    origin: str | None = None
    origin_seq: int | None = None

    @property
    def erased(self) -> bool:
        """Whether ``journal forget`` erased this record's payload (it reads ``null``)."""
        return self.payload == b"null"

    def origin_of(self, local: str) -> tuple[str, int]:
        """``(origin id, origin seq)``: where this record was first appended.

        ``local`` is this journal's own origin id (:func:`journal.origin.local_origin`).
        """
        if self.origin is None or self.origin_seq is None:
            return local, self.seq
        return self.origin, self.origin_seq

    def to_dict(self, *, with_payload: bool = True) -> dict[str, object]:
        """Return the JSON shape of ``log --json``; the payload embedded as JSON."""
        out: dict[str, object] = {
            "seq": self.seq,
            "digest": self.digest,
            "received_at": self.received_at,
            "source": self.source,
            "kind": self.kind,
            "key": self.key,
            "record_digest": self.record_digest,
            "prev_digest": self.prev_digest,
            "agent_pid": self.agent_pid,
            "agent_start": self.agent_start,
            "agent_boot": self.agent_boot,
            "origin": self.origin,
            "origin_seq": self.origin_seq,
        }
        if with_payload:
            payload = self.payload
            if b"\n" in payload or b"\r" in payload:
                # Stored bytes may be indented, but a JSON Lines record must stay on one
                # line. In valid JSON, CR and LF occur only as whitespace between tokens.
                payload = payload.replace(b"\r", b" ").replace(b"\n", b" ")
            out["payload"] = msgspec.Raw(payload)
        return out


class QuarantineEntry(msgspec.Struct, frozen=True, kw_only=True, tag="journal.quarantine"):
    """One rejected input, kept byte for byte with the reason it was rejected."""

    id: int
    received_at: int
    source: str
    kind: str
    reason: str
    data: bytes

    def to_dict(self) -> dict[str, object]:
        """Return the JSON shape of ``log --quarantine --json``."""
        return {
            "id": self.id,
            "received_at": self.received_at,
            "source": self.source,
            "kind": self.kind,
            "reason": self.reason,
            "bytes": len(self.data),
            "data": self.data.decode("utf-8", "replace"),
        }


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True, tag="journal.verify"):
    """The outcome of checking invariants 1, 3 and 4 over the whole log."""

    ok: bool
    head_seq: int
    head_digest: str
    records_checked: int
    blobs_checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    #: Records whose payload ``journal forget`` erased (invariant 4 allows them).
    erased: int = 0


class Stats(msgspec.Struct, frozen=True, kw_only=True, tag="journal.stats"):
    """Counts describing a journal (``journal stats``)."""

    home: str
    head_seq: int
    head_digest: str
    records: int
    blobs: int
    bytes: int
    quarantined: int
    spooled: int
    sources: dict[str, int]
    map_size: int
    format: str
    payload_format: str
    #: Secrets masked in the records appended, by rule (:mod:`journal.redact`).
    redacted: dict[str, int] = {}
    #: Payloads erased by ``journal forget`` (:mod:`journal.erasure`).
    erased: int = 0
