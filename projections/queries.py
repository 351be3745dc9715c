"""What the CLI asks of the views: catch the needed views up, then answer from them.

Every function opens the views over ``journal``, folds in the records appended since
the last query (only those), and reads the answer in one read transaction, so an
answer is always a fold of records 1..checkpoint.

A run's status also depends on the world outside the log: ``now`` (ns since the
epoch) and ``alive(pid, start, boot)``, whether an agent process still runs. Both
are the caller's to give (the CLI passes the wall clock and
:func:`journal.agents.process.alive`); without them ``now`` is the newest record's
``received_at`` and no process is known to be alive or gone, so the answer is a
function of the log alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import msgspec

from .engine import ReadState, Views, ViewStatus
from .identity import event_of
from .logread import LogScan
from .runs import (
    DEFAULT_IDLE_NS,
    Run,
    RunsView,
    child_runs,
    get_run,
    interrupted_runs,
    list_runs,
)
from .steps import Step, StepsView, list_steps

if TYPE_CHECKING:
    from journal.records import Record
    from journal.store import LmdbJournal

    from .runs import Alive

__all__ = [
    "RunDetail",
    "RunMatch",
    "interrupted",
    "rebuild",
    "run",
    "run_match",
    "run_records",
    "runs",
    "status",
    "steps",
    "transcript_paths",
]

_RUNS = ("runs",)
_RUNS_AND_STEPS = ("runs", "steps")
_VIEWS = {"runs": RunsView, "steps": StepsView}


class RunDetail(msgspec.Struct, frozen=True, kw_only=True, tag="projections.run_detail"):
    """One run with its steps (its own and its child runs') and its child runs."""

    run: Run
    steps: list[Step]
    children: list[Run]

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``run --json``: the run's fields at top level (``steps`` is
        its step count, as in ``runs --json``), then ``step_list`` and ``children``."""
        out = self.run.to_dict()
        out["step_list"] = [step.to_dict() for step in self.steps]
        out["children"] = [child.to_dict() for child in self.children]
        return out


def _current(journal: LmdbJournal, names: Sequence[str]) -> Views:
    """The named views (runs, steps) caught up; only those are opened, so a query
    neither imports nor opens the views it does not read."""
    views = Views(journal, [_VIEWS[name]() for name in names])
    try:
        views.catch_up(names)
    except BaseException:
        views.close()
        raise
    return views


def runs(
    journal: LmdbJournal,
    *,
    status: str | None = None,
    source: str | None = None,
    idle_ns: int = DEFAULT_IDLE_NS,
    now: int | None = None,
    alive: Alive | None = None,
) -> list[Run]:
    """Every run, oldest first, optionally only those with ``status`` / ``source``."""
    with _current(journal, _RUNS) as views, views.reading("runs") as state:
        return list_runs(
            state,
            now=state.newest_time if now is None else now,
            idle_ns=idle_ns,
            alive=alive,
            status=status,
            source=source,
        )


def _steps_of(state: ReadState, found: Run, children: list[Run]) -> list[Step]:
    out = []
    for one in (found, *children):
        out.extend(list_steps(state, one.run_id, live=one.status == "active"))
    out.sort(key=lambda step: (step.start_seq or step.end_seq or 0, step.step_id))
    return out


def run(
    journal: LmdbJournal,
    ident: str,
    *,
    idle_ns: int = DEFAULT_IDLE_NS,
    now: int | None = None,
    alive: Alive | None = None,
) -> RunDetail:
    """The run named by ``ident`` (run id, session id, or a unique prefix of either).

    Raises:
        NotFoundError: no run matches.
        AmbiguousPrefixError: several runs match; the message lists them.
    """
    with _current(journal, _RUNS_AND_STEPS) as views, views.reading_many(_RUNS_AND_STEPS) as st:
        runs_state, steps_state = st["runs"], st["steps"]
        at = runs_state.newest_time if now is None else now
        found = get_run(runs_state, ident, now=at, idle_ns=idle_ns, alive=alive)
        children = child_runs(runs_state, found.run_id, now=at, idle_ns=idle_ns, alive=alive)
        return RunDetail(
            run=found,
            steps=_steps_of(steps_state, found, children),
            children=children,
        )


def steps(
    journal: LmdbJournal,
    ident: str,
    *,
    idle_ns: int = DEFAULT_IDLE_NS,
    now: int | None = None,
    alive: Alive | None = None,
) -> list[Step]:
    """The steps of a run and of its child runs (subagents), in the order they started."""
    return run(journal, ident, idle_ns=idle_ns, now=now, alive=alive).steps


def interrupted(
    journal: LmdbJournal,
    *,
    idle_ns: int = DEFAULT_IDLE_NS,
    now: int | None = None,
    alive: Alive | None = None,
) -> list[Run]:
    """Runs whose last turn was cut off (``projections.runs``), oldest first."""
    with _current(journal, _RUNS) as views, views.reading("runs") as state:
        at = state.newest_time if now is None else now
        return interrupted_runs(state, now=at, idle_ns=idle_ns, alive=alive)


def transcript_paths(found: Sequence[Run]) -> list[tuple[str, str]]:
    """``(source, path)`` of the transcripts of the interrupted runs in ``found``.

    A run's ``transcript_path`` (the one its hook events named), else, for a Claude
    Code subagent that never sent ``SubagentStop`` (which names it), the file Claude
    Code keeps it in beside its session's transcript
    (``SESSION.jsonl`` → ``SESSION/subagents/agent-AGENT_ID.jsonl``), when the
    session's run is in ``found`` too. Each path once, in the order of ``found``.
    """
    by_id = {one.run_id: one for one in found}
    out: dict[str, str] = {}
    for one in found:
        if one.status != "interrupted":
            continue
        path = one.transcript_path
        parent = by_id.get(one.parent_run_id or "")
        if (
            path is None
            and one.source == "claude-code"
            and one.agent_id is not None
            and parent is not None
            and parent.transcript_path is not None
            and parent.transcript_path.endswith(".jsonl")
        ):
            base = parent.transcript_path[: -len(".jsonl")]
            path = f"{base}/subagents/agent-{one.agent_id}.jsonl"
        if path is not None:
            out.setdefault(path, one.source)
    return [(source, path) for path, source in out.items()]


def status(journal: LmdbJournal) -> list[ViewStatus]:
    """Version, checkpoint, head and lag of every view (without catching up)."""
    with Views(journal) as views:
        return views.status()


def rebuild(
    journal: LmdbJournal,
    names: Sequence[str] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> list[ViewStatus]:
    """Rebuild the named views (default: all) from seq 1; return their status after.

    Raises:
        UsageError: an unknown view name.
    """
    with Views(journal) as views:
        views.rebuild(names, progress=progress)
        wanted = set(names) if names else None
        return [s for s in views.status() if wanted is None or s.name in wanted]


class RunMatch(msgspec.Struct, frozen=True, kw_only=True):
    """Which records belong to a run: its own and its subagents', within its seqs."""

    run_id: str
    first_seq: int
    last_seq: int

    def __call__(self, record: Record) -> bool:
        """Whether ``record`` belongs to this run or to one of its subagent runs."""
        event = event_of(record)
        if event is None:
            return False
        return event.run_id == self.run_id or event.run_id.startswith(self.run_id + "/")


def run_match(journal: LmdbJournal, ident: str) -> RunMatch:
    """Resolve ``ident`` to a run and return the test for its records (``log --run``)."""
    with _current(journal, _RUNS) as views, views.reading("runs") as state:
        found = get_run(state, ident, now=state.newest_time)
    return RunMatch(run_id=found.run_id, first_seq=found.first_seq, last_seq=found.last_seq)


def run_records(journal: LmdbJournal, match: RunMatch, *, after: int = 0) -> Iterator[Record]:
    """The records of the run ``match`` names with seq > ``after``, in seq order."""
    scan = LogScan(journal, max(after, match.first_seq - 1), match.last_seq, None)
    try:
        for record in scan:
            if match(record):
                yield record
    finally:
        scan.close()
