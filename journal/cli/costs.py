"""``journal costs``: tokens and dollars by run, session, model, day, project or step.

Thin like the rest of the CLI: parse, call :func:`projections.costqueries.costs`
(which catches the costs view up first), render a table for people or the JSON of
DESIGN §5 for programs. The projections package is imported inside the command, so
other commands never pay for it. A warm ``journal costs`` that the per-day aggregates
answer never gets here: :mod:`journal.cli.costfast` answers it without click, with
the same output.
"""

from __future__ import annotations

import click

from journal.errors import JournalError

from .common import Context, echo_json, fail
from .costtable import BY, render_costs

__all__ = ["BY", "COST_COMMANDS", "costs", "render_costs"]


@click.command()
@click.option(
    "--by",
    type=click.Choice(BY),
    default="day",
    show_default=True,
    help="Group rows by run, session, model, day, project (the cwd's git root), step, or "
    "origin (the journal each run was first appended to: a team journal's machines).",
)
@click.option("--since", metavar="D", default=None, help="From this day on (YYYY-MM-DD).")
@click.option("--until", metavar="D", default=None, help="Up to this day, included.")
@click.option("--source", metavar="S", default=None, help="Only this agent (claude-code, …).")
@click.option(
    "--tz",
    metavar="TZ",
    default=None,
    help="Time zone of the day boundaries: an IANA name or 'local' (default UTC).",
)
@click.option("--breakdown", is_flag=True, help="Show each row's models under it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def costs(
    obj: Context,
    by: str,
    since: str | None,
    until: str | None,
    source: str | None,
    tz: str | None,
    breakdown: bool,
    as_json: bool,
) -> None:
    """Tokens and dollars per run, session, model, day, project or step."""
    from projections.costqueries import costs as costs_query

    try:
        found = costs_query(
            obj.journal(),
            by=by,
            tz=tz,
            since=since,
            until=until,
            source=source,
            breakdown=breakdown,
        )
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json(found.to_dict())
        return
    for line in render_costs(found):
        click.echo(line)


COST_COMMANDS = (costs,)
