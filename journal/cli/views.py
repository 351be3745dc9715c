"""The views commands: ``runs``, ``run``, ``steps``, ``interrupted``, ``projections``,
``rebuild``, and the records of one run for ``log --run``.

Thin like the rest of the CLI: parse, call :mod:`projections.queries` (which catches
the views up first), render a table for people or JSON for programs. The projections
package is imported inside the commands, so other commands never pay for it.
"""

from __future__ import annotations

import datetime
import itertools
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from journal.errors import JournalError

from .common import Context, echo_json, fail, table

if TYPE_CHECKING:
    from journal.records import Record
    from journal.store import LmdbJournal
    from projections.engine import ViewStatus
    from projections.runs import Run
    from projections.steps import Step

T = TypeVar("T")

__all__ = [
    "VIEW_COMMANDS",
    "idle_ns_of",
    "interrupted",
    "projections_",
    "rebuild",
    "render_runs",
    "render_steps",
    "run",
    "run_extras",
    "run_follow",
    "run_log",
    "runs",
    "steps",
    "world",
]


def idle_ns_of(minutes: float | None) -> int:
    """``--idle MINUTES`` as nanoseconds (the default when not given)."""
    from projections.runs import DEFAULT_IDLE_NS

    return DEFAULT_IDLE_NS if minutes is None else int(minutes * 60 * 1_000_000_000)


def world() -> dict[str, Any]:
    """What a run's status is decided against: the wall clock and the process table."""
    from journal.agents.process import alive

    return {"now": time.time_ns(), "alive": alive}


def _with_tails(
    obj: Context, ask: Callable[[LmdbJournal], T], runs_of: Callable[[T], Sequence[Run]]
) -> T:
    """Answer ``ask(journal)``; if it finds interrupted runs whose transcripts hold lines
    the journal lacks (a session killed mid-turn never reached the capture at ``Stop``),
    journal those lines and answer again from the caught-up views. The journal is
    opened for writing only then."""
    from journal.agents.capture import capture, pending_bytes
    from projections.queries import transcript_paths

    journal = obj.journal()
    found = ask(journal)
    paths = [(s, p) for s, p in transcript_paths(runs_of(found)) if pending_bytes(journal, p)]
    if not paths:
        return found
    journal = obj.journal(write=True)
    appended = sum(capture(journal, path, source=source).appended for source, path in paths)
    return ask(journal) if appended else found


# -- rendering ---------------------------------------------------------------------


def _when(ns: int | None) -> str:
    if not ns:
        return "-"
    stamp = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def _span(ns: float | None) -> str:
    """A duration for people: 850ms, 12.3s, 4m05s, 2h13m."""
    if ns is None:
        return "-"
    seconds = ns / 1e9
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def short_run_id(run_id: str) -> str:
    """A run id with its session id cut to 8 characters (still a unique-enough prefix)."""
    source, _, rest = run_id.partition("/")
    session, slash, agent = rest.partition("/")
    return f"{source}/{session[:8]}{slash}{agent}"


def render_runs(found: Sequence[Run]) -> list[str]:
    """The ``journal runs`` table: one line per run, subagents indented under theirs."""
    rows = []
    for one in _ordered(found):
        name = short_run_id(one.run_id)
        if one.agent_id is not None:
            name = f"  └ {one.agent_id}" + (f" ({one.agent_type})" if one.agent_type else "")
        rows.append(
            [
                name,
                one.status,
                _when(one.first_time),
                _span(one.last_time - one.first_time),
                f"{one.first_seq}-{one.last_seq}",
                str(one.prompts),
                str(one.steps),
                ",".join(one.models) or "-",
                one.cwd or "-",
            ]
        )
    header = ["RUN", "STATUS", "STARTED (UTC)", "LASTED", "SEQS", "PROMPTS", "STEPS", "MODEL"]
    return table([*header, "CWD"], rows)


def _ordered(found: Sequence[Run]) -> list[Run]:
    """Runs with each session's subagent runs right after it."""
    by_parent: dict[str, list[Run]] = {}
    top = []
    ids = {one.run_id for one in found}
    for one in found:
        if one.agent_id is not None and one.parent_run_id in ids:
            by_parent.setdefault(one.parent_run_id or "", []).append(one)
        else:
            top.append(one)
    out = []
    for one in top:
        out.append(one)
        out.extend(by_parent.get(one.run_id, []))
    return out


def render_steps(found: Sequence[Step]) -> list[str]:
    """The ``journal steps`` table: one line per tool call, in start order."""
    rows = [
        [
            str(i),
            step.tool_name or "-",
            step.status,
            "-" if step.start_seq is None else str(step.start_seq),
            "-" if step.end_seq is None else str(step.end_seq),
            "-" if step.duration_ms is None else _span(step.duration_ms * 1e6),
            step.agent_id or "-",
            step.paired_by,
            step.tool_use_id or "-",
        ]
        for i, step in enumerate(found, 1)
    ]
    header = ["#", "TOOL", "STATUS", "START", "END", "TOOK", "AGENT", "PAIRED", "TOOL USE ID"]
    return table(header, rows)


def render_run_detail(one: Run, steps_: Sequence[Step], children: Sequence[Run]) -> list[str]:
    """The ``journal run`` text: the run's fields, its child runs, then its steps."""
    fields = [
        ("run_id", one.run_id),
        ("session_id", one.session_id),
        ("source", one.source),
        ("status", one.status + (f" ({one.error})" if one.error else "")),
        ("parent_run_id", one.parent_run_id or "-"),
        ("seqs", f"{one.first_seq}-{one.last_seq}"),
        ("started", _when(one.first_time) + " UTC"),
        ("last", _when(one.last_time) + f" UTC (lasted {_span(one.last_time - one.first_time)})"),
        ("cwd", one.cwd or "-"),
        ("models", ", ".join(one.models) or "-"),
        ("prompts", str(one.prompts)),
        ("steps", str(one.steps)),
        ("started as", ", ".join(one.start_sources) or "-"),
        ("end reason", one.end_reason or "-"),
        ("resume", one.resume or "-"),
    ]
    if one.agent_id is not None:
        fields.insert(5, ("agent", f"{one.agent_id} ({one.agent_type or '?'})"))
    lines = [f"{name + ':':<15}{value}" for name, value in fields]
    if children:
        lines += ["", f"child runs ({len(children)}):", *render_runs(children)]
    lines += ["", f"steps ({len(steps_)}):", *render_steps(steps_)]
    return lines


# -- commands ----------------------------------------------------------------------

_IDLE = click.option(
    "--idle",
    type=click.FloatRange(min=0),
    default=None,
    metavar="MINUTES",
    help="Where a run's agent process cannot be checked, a run quiet this long is no "
    "longer active: interrupted if its last turn did not finish, else ended (default 30).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.command()
@click.option("--status", default=None, help="Only runs with this status.")
@click.option("--source", default=None, help="Only runs from this agent (claude-code, codex, …).")
@_IDLE
@_JSON
@click.pass_obj
def runs(
    obj: Context, status: str | None, source: str | None, idle: float | None, as_json: bool
) -> None:
    """List runs (sessions and subagents): status, seqs, prompts, steps.

    STATUS is active, ended, failed or interrupted.
    """
    from projections import queries

    try:
        found = _with_tails(
            obj,
            lambda journal: queries.runs(
                journal, status=status, source=source, idle_ns=idle_ns_of(idle), **world()
            ),
            lambda found: found,
        )
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json([one.to_dict() for one in found])
    elif found:
        click.echo("\n".join(render_runs(found)))
    else:
        click.echo("no runs")


@click.command()
@click.argument("ident", metavar="ID")
@_IDLE
@_JSON
@click.pass_obj
def run(obj: Context, ident: str, idle: float | None, as_json: bool) -> None:
    """Show one run with its child runs and steps.

    ID is a run id, a session id, or a unique prefix of either.
    """
    from projections import queries

    try:
        detail = _with_tails(
            obj,
            lambda journal: queries.run(journal, ident, idle_ns=idle_ns_of(idle), **world()),
            lambda found: [found.run, *found.children],
        )
        extras, text = run_extras(obj.journal(), detail.run.run_id)
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json({**detail.to_dict(), **extras})
    else:
        lines = render_run_detail(detail.run, detail.steps, detail.children)
        click.echo("\n".join([*lines, *text]))


def run_extras(journal: LmdbJournal, run_id: str) -> tuple[dict[str, object], list[str]]:
    """What ``run`` shows beyond the run and steps views, as JSON fields and as text:
    the conversation the run belongs to, what it cost and the files it changed."""
    from projections.changequeries import changes_summary
    from projections.costqueries import run_costs
    from projections.linkqueries import links

    from .costtable import render_run_costs

    found = links(journal, run_id, now=time.time_ns())
    text = ["", f"conversation:  {found.conversation} ({len(found.runs)} runs)"]
    for link in found.links:
        if link.run_id == run_id or link.from_run_id == run_id:
            other = link.from_run_id if link.run_id == run_id else link.run_id
            way = "continues" if link.run_id == run_id else "continued by"
            text.append(f"  {link.relation}: {way} {'itself' if other == run_id else other}")
    fields: dict[str, object] = {
        "conversation": found.conversation,
        "links": [x.to_dict() for x in found.links],
    }
    costs = run_costs(journal, run_id)
    text += ["", *render_run_costs(costs)]
    fields["costs"] = costs
    summary = changes_summary(journal, run_id)
    unknown = f" ({summary['unknown']} without known content)" if summary["unknown"] else ""
    text += [
        "",
        f"changes:       {summary['files']} files, "
        f"+{summary['additions']} -{summary['deletions']}{unknown}",
    ]
    fields["changes"] = summary
    return fields, text


@click.command()
@click.argument("ident", metavar="RUN")
@_JSON
@click.pass_obj
def steps(obj: Context, ident: str, as_json: bool) -> None:
    """List the tool calls of a run and of its subagents, in start order.

    RUN is a run id, a session id, or a unique prefix of either.
    """
    from projections import queries

    try:
        detail = _with_tails(
            obj,
            lambda journal: queries.run(journal, ident, **world()),
            lambda found: [found.run, *found.children],
        )
        found = detail.steps
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json([step.to_dict() for step in found])
    elif found:
        click.echo("\n".join(render_steps(found)))
    else:
        click.echo("no steps")


@click.command()
@_IDLE
@_JSON
@click.pass_obj
def interrupted(obj: Context, idle: float | None, as_json: bool) -> None:
    """List runs that stopped without ending, with the command that resumes each."""
    from projections import queries

    try:
        found = _with_tails(
            obj,
            lambda journal: queries.interrupted(journal, idle_ns=idle_ns_of(idle), **world()),
            lambda found: found,
        )
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json(
            [
                {
                    "run_id": one.run_id,
                    "session_id": one.session_id,
                    "source": one.source,
                    "last_seq": one.last_seq,
                    "last_time": one.last_time,
                    "parent_run_id": one.parent_run_id,
                    "cwd": one.cwd,
                    "resume": one.resume,
                    "transcript_path": one.transcript_path,
                    "agent_pid": one.agent_pid,
                    "agent_alive": one.agent_alive,
                }
                for one in found
            ]
        )
        return
    if not found:
        click.echo("no interrupted runs")
        return
    rows = [
        [
            short_run_id(one.run_id),
            str(one.last_seq),
            _when(one.last_time),
            one.cwd or "-",
            one.resume or "-",
        ]
        for one in found
    ]
    header = ["RUN", "LAST SEQ", "LAST (UTC)", "CWD", "RESUME WITH"]
    click.echo("\n".join(table(header, rows)))


@click.command(name="projections")
@_JSON
@click.pass_obj
def projections_(obj: Context, as_json: bool) -> None:
    """Show each view's version, checkpoint, the log's head, and the lag between them."""
    from projections import queries

    try:
        found = queries.status(obj.journal())
    except JournalError as exc:
        raise fail(exc) from None
    _show_status(found, as_json)


def _show_status(found: Sequence[ViewStatus], as_json: bool) -> None:
    if as_json:
        echo_json([one.to_dict() for one in found])
        return
    rows = [
        [one.name, str(one.version), str(one.checkpoint), str(one.head), str(one.lag)]
        for one in found
    ]
    click.echo("\n".join(table(["VIEW", "VERSION", "CHECKPOINT", "HEAD", "LAG"], rows)))


@click.command()
@click.argument("names", metavar="[VIEW]...", nargs=-1)
@click.pass_obj
def rebuild(obj: Context, names: tuple[str, ...]) -> None:
    """Rebuild views from the first record (default: all), with a progress bar.

    Views are disposable: a rebuild gives the same state as catching up. It is needed
    only to recover from a bug in a view; a new view version rebuilds by itself.
    """
    from projections import queries
    from projections.registry import by_name

    try:
        chosen = [view.name for view in by_name(names or None)]
        journal = obj.journal()
        head = journal.head()
        start = time.perf_counter()
        with click.progressbar(
            length=max(head, 1), label=f"rebuilding {', '.join(chosen)}", file=sys.stderr
        ) as bar:
            found = queries.rebuild(journal, chosen, progress=bar.update)
        took = time.perf_counter() - start
    except JournalError as exc:
        raise fail(exc) from None
    rate = f" ({head / took:,.0f} records/s)" if took > 0 and head >= 1000 else ""
    click.echo(f"rebuilt {', '.join(chosen)}: {head:,} records in {took:.1f} s{rate}")
    _show_status(found, False)


VIEW_COMMANDS = (runs, run, steps, interrupted, projections_, rebuild)


# -- log --run ---------------------------------------------------------------------


def run_log(
    journal: LmdbJournal,
    ident: str,
    *,
    after: int,
    limit: int | None,
    kinds: tuple[str, ...],
    sources: tuple[str, ...],
) -> Iterator[Record]:
    """The records of one run and its subagents for ``journal log --run``."""
    from projections.queries import run_match, run_records

    from .follow import wanted_by

    match = run_match(journal, ident)
    keep = wanted_by(kinds, sources)
    records = (r for r in run_records(journal, match, after=after) if keep(r))
    return itertools.islice(records, limit)


def run_follow(
    journal: LmdbJournal, ident: str, *, after: int, keep: Callable[[Record], bool]
) -> tuple[int, Callable[[Record], bool]]:
    """Where ``journal log --run ID --follow`` starts, and the records it keeps: the
    run's and its subagents' (that ``keep`` accepts) from the run's first seq on."""
    from projections.queries import run_match

    match = run_match(journal, ident)
    return max(after, match.first_seq - 1), lambda r: match(r) and keep(r)
