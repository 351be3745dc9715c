"""Invariants 7 and 8 for any one view: the checks every view's property tests share.

:func:`fold_in_batches` folds a log in arbitrary batches with new view objects and a
reloaded state between them and compares it with one fold; :func:`catch_up_in_splits`
grows a real journal in steps, catches the view up with limits and restarts, checks
the checkpoint against a fold of the records up to it, and finally against a rebuild.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from journal import payload as journal_payload
from journal.records import Record
from journal.store import LmdbJournal
from journal.writer import Writer
from projections.engine import Views
from projections.state import MemoryState
from projections.view import View
from tests.projections.strategies import LogEvent, fold

__all__ = ["append", "catch_up_in_splits", "fold_in_batches", "reloaded"]


def reloaded(state: MemoryState) -> MemoryState:
    """The same state as new bytes objects, as a reopened LMDB environment returns it."""
    copy = MemoryState()
    copy.data = {bytes(bytearray(k)): bytes(bytearray(v)) for k, v in state.data.items()}
    return copy


def append(journal: LmdbJournal, events: Sequence[LogEvent]) -> None:
    """Append ``events`` with their own received_at, in one write transaction."""
    if not events:
        return

    def work(writer: Writer) -> None:
        for event in events:
            stored = journal_payload.validate(event.payload)
            writer.append(
                stored,
                event.source.encode(),
                event.kind.encode(),
                b"",
                event.received_at,
                agent=event.agent,
            )

    journal.write(work)


def fold_in_batches(records: list[Record], cuts: Sequence[int], make: Callable[[], View]) -> None:
    """Folding ``records`` in batches, with new view objects and a reloaded state
    between, changes nothing."""
    whole = fold(records, make())
    state, at = MemoryState(), 0
    for cut in [*cuts, len(records)]:
        state = reloaded(state)
        fold(records[at : at + cut], make(), state)
        at += cut
    assert state.data == whole.data


def catch_up_in_splits(
    events: Sequence[Any],
    plan: Sequence[tuple[int, int] | tuple[int, int, bool]],
    batch: int,
    make: Callable[[], View],
    append: Callable[[LmdbJournal, Any], None] = append,
) -> None:
    """Interrupted catch-ups of a growing log end where a rebuild does (invariants 7, 8).

    Each step of ``plan`` appends ``grow`` more of ``events`` (with ``append``),
    catches up at most ``limit`` records, checks invariant 7, and restarts the engine
    with new view objects unless its third item is False.
    """
    name = make().name
    with tempfile.TemporaryDirectory() as tmp, LmdbJournal(os.path.join(tmp, "home")) as journal:
        views = Views(journal, [make()], batch=batch)
        try:
            appended = 0
            for step in plan:
                grow, limit = step[0], step[1]
                append(journal, events[appended : appended + grow])
                appended += grow
                views.catch_up(limit=limit)
                checkpoint = views.checkpoint(name)
                assert checkpoint <= journal.head()
                expected = fold(list(journal.read())[:checkpoint], make()).data
                assert views.dump(name) == expected
                if len(step) < 3 or step[2]:
                    views.close()
                    views = Views(journal, [make()], batch=batch)
            append(journal, events[appended:])
            views.catch_up()
            caught_up = views.dump(name)
            views.rebuild()
            assert views.dump(name) == caught_up
            assert views.checkpoint(name) == journal.head()
        finally:
            views.close()
