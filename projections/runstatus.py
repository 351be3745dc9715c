"""A run's status at query time: its folded facts, the clock and the process table.

The runs view folds what the log says (:mod:`projections.runs`); whether a run is
still ``active`` depends on the world outside it, which the caller hands in: ``now``
and ``alive(pid, start, boot)``. :func:`status_of` applies the rules of the runs
module's docstring; a :class:`Clock` asks the process table at most once per process
in one query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from .runfacts import RunRow
    from .view import State

    Alive = Callable[[int, int, str], bool | None]

__all__ = ["Clock", "status_of"]


class Clock:
    """What a query knows of the world: ``now``, the idle time, and the process table.

    ``alive`` is asked at most once per process in one query.
    """

    __slots__ = ("_alive", "_known", "idle_ns", "now", "origin")

    def __init__(self, state: State, now: int, idle_ns: int, alive: Alive | None) -> None:
        self.now = now
        self.idle_ns = idle_ns
        self._alive = alive
        # What the runs of records appended here show as their origin: this journal's
        # own id, when the state was read from a journal (queries read it with the view).
        self.origin: str | None = getattr(state, "origin", None)
        self._known: dict[tuple[int, int, str], bool | None] = {}

    def alive(self, row: RunRow) -> bool | None:
        if self._alive is None or row.agent_pid is None or row.agent_boot is None:
            return None
        process = (row.agent_pid, row.agent_start or 0, row.agent_boot)
        if process not in self._known:
            self._known[process] = self._alive(*process)
        return self._known[process]


def status_of(
    row: RunRow, last_time: int, turn_open: bool, clock: Clock
) -> tuple[str, bool | None]:
    """The run's status, and whether its agent process is alive (None: not known)."""
    if row.terminal:
        return ("failed" if row.failure is not None else "ended"), None
    if row.failure is not None:
        return "failed", None
    if not row.observed:
        return "ended", None
    live = clock.alive(row)
    if live:
        return "active", live
    if live is None and clock.now - last_time <= clock.idle_ns:
        return "active", live
    return ("interrupted" if turn_open else "ended"), live
