"""Small result objects returned by appends.

Plain slotted classes, not msgspec Structs, because the hook path returns them and
must not pay msgspec's import (~30 ms).
"""

from __future__ import annotations

__all__ = ["Appended", "Quarantined"]


class Appended:
    """One accepted append: its seq, payload digest, and whether it was known.

    Digests are kept raw and rendered as hex on access: a batch creates one of
    these per record.
    """

    __slots__ = ("_digest", "_record_digest", "duplicate", "seq")

    def __init__(self, seq: int, digest: bytes, record_digest: bytes, duplicate: bool) -> None:
        self.seq = seq
        self._digest = digest
        self._record_digest = record_digest
        self.duplicate = duplicate

    @property
    def digest(self) -> str:
        """The payload digest (lowercase hex), the content address ``show`` accepts."""
        return self._digest.hex()

    @property
    def record_digest(self) -> str:
        """The record's own digest (lowercase hex) in the hash chain."""
        return self._record_digest.hex()

    def to_dict(self) -> dict[str, object]:
        """Return the JSON shape the CLI prints (``append --json``)."""
        return {
            "seq": self.seq,
            "digest": self.digest,
            "record_digest": self.record_digest,
            "duplicate": self.duplicate,
        }

    def __repr__(self) -> str:
        return f"Appended(seq={self.seq}, digest={self.digest[:12]}…, duplicate={self.duplicate})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Appended) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]


class Quarantined:
    """One rejected input: where it went in quarantine and why."""

    __slots__ = ("line", "quarantine_id", "reason")

    def __init__(self, quarantine_id: int, reason: str, line: int | None = None) -> None:
        self.quarantine_id = quarantine_id
        self.reason = reason
        self.line = line

    def to_dict(self) -> dict[str, object]:
        """Return the JSON shape the CLI prints for a rejected line."""
        out: dict[str, object] = {
            "quarantined": self.quarantine_id,
            "reason": self.reason,
        }
        if self.line is not None:
            out["line"] = self.line
        return out

    def __repr__(self) -> str:
        return f"Quarantined(id={self.quarantine_id}, reason={self.reason!r}, line={self.line})"
