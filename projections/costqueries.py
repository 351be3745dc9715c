"""What the CLI asks of the costs view: ``journal costs`` and a run's costs.

Each function opens the views over ``journal``, catches the costs view up (folding
only the records appended since the last query), reads the user's price file
(``AGENT_JOURNAL_PRICES``, else ``<home>/prices.toml``) and answers from one read
transaction. Projects are resolved here, at query time: a run's cwd's git root when
the directory exists on this machine (:func:`projections.costreport.git_root`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from journal.errors import AmbiguousPrefixError, UsageError

from .costreport import (
    BY,
    UNKNOWN_ORIGIN,
    Report,
    git_root,
    parent_of,
    parse_day,
    report,
    run_infos,
    run_report,
    session_of,
    timezone,
)
from .pricing import PriceFile, load_price_file, price_file_path

if TYPE_CHECKING:
    from journal.store import LmdbJournal

    from .engine import Views
    from .view import State, View

__all__ = ["costs", "resolve_run", "run_costs"]


_VIEW: list[View] = []


def _views(journal: LmdbJournal, *, runs: bool = False) -> Views:
    """The views engine over the costs view (one instance per process, so its price
    cache lasts), and the runs view when asked: a costs query neither imports nor
    opens the other views."""
    from .engine import Views

    if not _VIEW:
        from .costs import CostsView

        _VIEW.append(CostsView())
    if not runs:
        return Views(journal, _VIEW)
    from .runs import RunsView

    return Views(journal, [*_VIEW, RunsView()])


def _prices_for(journal: LmdbJournal, path: str | None) -> PriceFile:
    return load_price_file(path if path is not None else price_file_path(journal.home))


def _origins(runs: State) -> Callable[[str], str]:
    """``run id -> origin`` from the runs view (this journal's own id for its runs)."""
    from .runs import list_runs

    found = {one.run_id: one.origin for one in list_runs(runs, now=0)}
    local = getattr(runs, "origin", None) or UNKNOWN_ORIGIN

    def origin_of(run_id: str) -> str:
        return found.get(run_id) or local

    return origin_of


def costs(
    journal: LmdbJournal,
    *,
    by: str = "day",
    tz: str | None = None,
    since: str | None = None,
    until: str | None = None,
    source: str | None = None,
    breakdown: bool = False,
    price_file: str | None = None,
    project_of: Callable[[str], str] = git_root,
) -> Report:
    """Catch the costs view up and report it (``journal costs``); see :func:`report`.

    Raises:
        UsageError: a bad ``by``, time zone, date, or price file.
    """
    zone = timezone(tz)
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    prices = _prices_for(journal, price_file)
    if by not in BY:
        raise UsageError(f"--by must be one of {', '.join(BY)}, not {by!r}")
    names = ["costs", "runs"] if by == "origin" else ["costs"]
    with _views(journal, runs=by == "origin") as views:
        views.catch_up(names)
        with views.reading_many(names) as states:
            state = states["costs"]
            origin_of = _origins(states["runs"]) if by == "origin" else None
            out = report(
                state,
                by=by,
                tz=zone,
                since=first,
                until=last,
                source=source,
                breakdown=breakdown,
                prices=prices,
                project_of=project_of,
                origin_of=origin_of,
            )
    out.meta["since"] = first.isoformat() if first else None
    out.meta["until"] = last.isoformat() if last else None
    out.meta["source"] = source
    return out


def resolve_run(state: State, ident: str) -> tuple[str, list[str]]:
    """The run ``ident`` names in the costs view, and its child runs (all descendants).

    An exact run id wins, then a session id, then a unique prefix of either (a
    session's run wins over its subagents'). A name the view does not know is taken
    as a run id with no usage (``journal run`` resolves ids through the runs view and
    may ask about a run that made no model call).

    Raises:
        AmbiguousPrefixError: several runs match; the message lists them.
    """
    infos = run_infos(state)
    if ident not in infos:
        sessions = [run for run in infos if session_of(run) == ident and run.count("/") == 1]
        found = sessions or [
            run for run in infos if run.startswith(ident) or session_of(run).startswith(ident)
        ]
        found = [r for r in found if not any(r.startswith(o + "/") for o in found if o != r)]
        if len(found) > 1:
            shown = ", ".join(sorted(found)[:10])
            raise AmbiguousPrefixError(f"{ident!r} matches {len(found)} runs: {shown}")
        if found:
            ident = found[0]
    # Every descendant: an OpenCode child session may have child sessions of its own.
    children: list[str] = []
    below, seen = [ident], {ident}
    while below:
        parent = below.pop()
        for run in sorted(infos):
            if run not in seen and parent_of(run, infos) == parent:
                seen.add(run)
                children.append(run)
                below.append(run)
    return ident, sorted(children)


def run_costs(journal: LmdbJournal, run: str, *, price_file: str | None = None) -> dict[str, Any]:
    """The costs of one run: a run id (as ``journal run`` resolves it), a session id,
    or a unique prefix of either (:func:`resolve_run`).

    Returns a dict (what ``journal run`` shows, and its ``--json`` embeds as
    ``costs``): ``run_id``; ``totals`` (the run's own responses) and ``with_children``
    (its child runs' too, all descendants), both shaped like a ``costs --json`` row;
    ``models`` (``with_children`` per model, most expensive first, each with
    ``model``); ``steps`` (one item per tool call, with ``step_id``: the response that
    issued it, divided among the calls it issued); ``unattributed`` (the responses that
    issued no call: ``totals`` is the steps plus this); ``children`` (each child run's
    own totals, with ``run_id`` and ``parent_run_id``).

    Raises:
        AmbiguousPrefixError: ``run`` is a prefix of several runs.
        UsageError: the price file is malformed.
    """
    prices = _prices_for(journal, price_file)
    with _views(journal) as views:
        views.catch_up(["costs"])
        with views.reading("costs") as state:
            run_id, children = resolve_run(state, run)
            return run_report(state, run_id, children, prices=prices)
