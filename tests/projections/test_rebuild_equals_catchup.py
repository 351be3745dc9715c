"""Invariants 7 and 8 for the runs and steps views, over realistic random logs.

Invariant 7: a view's checkpoint is never ahead of head, and its state equals a fold
of records 1..checkpoint. Invariant 8: rebuilding from scratch gives the same state
as incremental catch-up, for any split of the log into batches and any number of
interruptions. The logs come from :mod:`tests.projections.strategies`: interleaved
sessions of every agent, parallel subagents, lost, repeated and reordered deliveries.
The oracle is a fold of the same records into a :class:`MemoryState`.
"""

from __future__ import annotations

import os
import tempfile

from hypothesis import given
from hypothesis import strategies as st

from journal.store import LmdbJournal
from projections.changesets import ChangesetsView
from projections.engine import Views
from projections.runs import RunsView
from projections.state import MemoryState
from projections.steps import StepsView
from projections.view import View
from tests.projections.strategies import LogEvent, fold, logs, records_of
from tests.projections.viewchecks import append, fold_in_batches

NAMES = ("runs", "steps", "changesets")


def fresh_views() -> list[View]:
    """New view objects, as a new process would have: no decoded-row memo carried over."""
    return [RunsView(), StepsView(), ChangesetsView()]


@given(logs(), st.lists(st.integers(0, 60), max_size=8))
def test_a_fold_in_any_batches_with_restarts_equals_one_fold(events: list[LogEvent], cuts):
    """Folding in batches, with new view objects and a reloaded state between, changes nothing."""
    records = records_of(events)
    for make in (RunsView, StepsView, ChangesetsView):
        fold_in_batches(records, cuts, make)


@given(logs(), st.booleans())
def test_views_folded_together_equal_views_folded_alone(events: list[LogEvent], steps_first):
    """Handing each record to both views in turn (shared decoding) equals separate folds."""
    records = records_of(events)
    runs_view, steps_view = RunsView(), StepsView()
    runs, steps = MemoryState(), MemoryState()
    for record in records:
        pairs = [(runs_view, runs), (steps_view, steps)]
        for view, state in reversed(pairs) if steps_first else pairs:
            if view.kinds is None or record.kind in view.kinds:
                view.apply(state, record)
    assert runs.data == fold(records, RunsView()).data
    assert steps.data == fold(records, StepsView()).data


def check_invariant_7(journal: LmdbJournal, views: Views) -> None:
    records = list(journal.read())
    for view in fresh_views():
        checkpoint = views.checkpoint(view.name)
        assert checkpoint <= journal.head()
        assert views.dump(view.name) == fold(records[:checkpoint], view).data, view.name


@given(
    logs(max_sessions=3),
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(1, 30), st.booleans()), min_size=1, max_size=5
    ),
    st.integers(1, 12),
)
def test_catch_up_in_random_splits_with_restarts_equals_a_rebuild(
    events: list[LogEvent], plan: list[tuple[int, int, bool]], batch: int
):
    """Invariants 7 and 8: interrupted catch-ups of a growing log end where a rebuild does."""
    with tempfile.TemporaryDirectory() as tmp, LmdbJournal(os.path.join(tmp, "home")) as journal:
        views = Views(journal, fresh_views(), batch=batch)
        try:
            appended = 0
            for grow, limit, restart in plan:
                append(journal, events[appended : appended + grow])
                appended += grow
                views.catch_up(limit=limit)
                check_invariant_7(journal, views)
                if restart:
                    views.close()
                    views = Views(journal, fresh_views(), batch=batch)
            append(journal, events[appended:])
            views.catch_up()
            check_invariant_7(journal, views)
            caught_up = {name: views.dump(name) for name in NAMES}
            views.rebuild()
            assert {name: views.dump(name) for name in NAMES} == caught_up
            assert all(views.checkpoint(name) == journal.head() for name in NAMES)
        finally:
            views.close()
