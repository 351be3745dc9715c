"""agent-journal: an append-only, content-addressed journal of coding-agent events.

The package imports nothing heavy on its own: names are loaded on first use (PEP 562),
so a hook process that only appends never pays for msgspec or click.
"""

from __future__ import annotations

__all__ = [
    "Appended",
    "InvalidPayloadError",
    "JournalError",
    "LmdbJournal",
    "MemoryJournal",
    "QuarantineEntry",
    "Quarantined",
    "Record",
    "Stats",
    "VerifyReport",
    "open_journal",
]

__version__ = "0.1.0"

_LAZY = {
    "Appended": "journal.results",
    "Quarantined": "journal.results",
    "InvalidPayloadError": "journal.errors",
    "JournalError": "journal.errors",
    "LmdbJournal": "journal.store",
    "MemoryJournal": "journal.memory",
    "QuarantineEntry": "journal.records",
    "Record": "journal.records",
    "Stats": "journal.records",
    "VerifyReport": "journal.records",
}

# typing costs ~3 ms to import; this module is on the hook path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .errors import InvalidPayloadError, JournalError
    from .memory import MemoryJournal
    from .records import QuarantineEntry, Record, Stats, VerifyReport
    from .results import Appended, Quarantined
    from .store import LmdbJournal


def open_journal(home: str | None = None) -> LmdbJournal:
    """Open (creating if needed) the LMDB journal at ``home`` (see :mod:`journal.home`)."""
    from .store import LmdbJournal

    return LmdbJournal(home)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'journal' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
