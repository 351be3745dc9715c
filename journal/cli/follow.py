"""Following the log: the ``--kind``/``--source`` filter and the tail loop of
``log --follow`` and ``log --run --follow``.

The tail opens the log for each poll and closes it before it prints anything. On
macOS a writer killed inside its transaction keeps LMDB's write lock taken until an
instant when no process has the log open (the next first open resets it), so a
follower that kept it open would keep every writer from ever getting it back
(DESIGN §2, :mod:`journal.writelock`). A read-only open costs about 0.1 ms a poll.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from journal.records import Record
    from journal.store import LmdbJournal

__all__ = ["tail", "wanted_by"]

_FOLLOW_POLL_SECONDS = 0.2
#: Records read per opening of the log: a backlog is read a chunk at a time, each
#: printed with the log closed.
_CHUNK = 512


def wanted_by(kinds: Sequence[str], sources: Sequence[str]) -> Callable[[Record], bool]:
    """The ``--kind`` / ``--source`` filter of ``log`` (empty: everything passes)."""

    def wanted(record: Record) -> bool:
        return (not kinds or record.kind in kinds) and (not sources or record.source in sources)

    return wanted


def tail(
    open_journal: Callable[[], LmdbJournal], after: int, keep: Callable[[Record], bool]
) -> Iterator[Record]:
    """Records after ``after`` that ``keep`` accepts, waiting for new ones forever.

    ``open_journal`` opens the log (read-only) for one poll; it is closed again before
    that poll's records are yielded. Every record read advances the position, filtered
    or not. (Taking head() as the position instead would skip a record committed
    between the last read and that call.)
    """
    position = after
    while True:
        with open_journal() as journal:
            chunk = list(journal.read(after=position, limit=_CHUNK))
        for record in chunk:
            position = record.seq
            if keep(record):
                yield record
        if len(chunk) < _CHUNK:
            time.sleep(_FOLLOW_POLL_SECONDS)
