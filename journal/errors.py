"""The journal's one error tree.

Every error raised by :mod:`journal` derives from :class:`JournalError` and also from
the nearest builtin, so callers may catch either. ``lmdb`` and ``msgspec`` errors are
translated at the boundary and never escape the package.

    JournalError
    ├── InvalidPayloadError (ValueError)   bad input; quarantined by the caller
    ├── UsageError (ValueError)            a bad argument (e.g. an empty key)
    ├── NotFoundError (LookupError)        no such seq, digest or prefix
    ├── AmbiguousPrefixError (LookupError) a digest prefix matches several blobs
    ├── HomeError (OSError)                the home cannot be created or is unsafe
    ├── StoreError (OSError)               LMDB failed (disk, map, lock, corruption)
    │   └── LockedError                    no write lock in time, or its holder died
    └── CorruptionError (ValueError)       stored bytes fail their own checks

Exit codes are class attributes so the CLI never has to guess.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousPrefixError",
    "CorruptionError",
    "HomeError",
    "InvalidPayloadError",
    "JournalError",
    "LockedError",
    "NotFoundError",
    "StoreError",
    "UsageError",
]


class JournalError(Exception):
    """Base class of every error the journal raises."""

    exit_code: int = 1


class InvalidPayloadError(JournalError, ValueError):
    """The input is not a valid payload; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        #: Where the input went in quarantine, once the store has kept it.
        self.quarantine_id: int | None = None


class UsageError(JournalError, ValueError):
    """An argument is unusable (empty idempotency key, unknown option value)."""

    exit_code = 2


class NotFoundError(JournalError, LookupError):
    """No record, blob or quarantine entry matches what was asked for."""


class AmbiguousPrefixError(JournalError, LookupError):
    """A digest prefix matches more than one blob."""


class HomeError(JournalError, OSError):
    """The journal home cannot be created, opened, or is on an unsafe filesystem."""


class StoreError(JournalError, OSError):
    """The storage engine failed: disk error, full map, lock, or bad environment."""


class LockedError(StoreError):
    """A write could not begin: other writers kept the lock past the wait, or the
    lock's holder died inside a write transaction (macOS, :mod:`journal.writelock`)."""


class CorruptionError(JournalError, ValueError):
    """Stored bytes do not match their own structure or digest."""
