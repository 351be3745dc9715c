"""Following the log: the ``--kind``/``--source`` filter and the tail loop of
``log --follow`` and ``log --run --follow``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from journal.records import Record
    from journal.store import LmdbJournal

__all__ = ["tail", "wanted_by"]

_FOLLOW_POLL_SECONDS = 0.2


def wanted_by(kinds: Sequence[str], sources: Sequence[str]) -> Callable[[Record], bool]:
    """The ``--kind`` / ``--source`` filter of ``log`` (empty: everything passes)."""

    def wanted(record: Record) -> bool:
        return (not kinds or record.kind in kinds) and (not sources or record.source in sources)

    return wanted


def tail(journal: LmdbJournal, after: int, keep: Callable[[Record], bool]) -> Iterator[Record]:
    """Records after ``after`` that ``keep`` accepts, waiting for new ones forever.

    Every record read advances the position, filtered or not. (Taking head() as the
    position instead would skip a record committed between the last read and that
    call.)
    """
    position = after
    while True:
        for record in journal.read(after=position):
            position = record.seq
            if keep(record):
                yield record
        time.sleep(_FOLLOW_POLL_SECONDS)
