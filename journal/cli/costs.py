"""``journal costs``: tokens and dollars by run, session, model, day, project or step.

Thin like the rest of the CLI: parse, call :func:`projections.costqueries.costs`
(which catches the costs view up first), render a table for people or the JSON of
DESIGN §5 for programs. The projections package is imported inside the command, so
other commands never pay for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from journal.errors import JournalError

from .common import Context, echo_json, fail

if TYPE_CHECKING:
    from projections.costreport import Report

__all__ = ["BY", "COST_COMMANDS", "costs", "render_costs"]

#: The groupings (``projections.costreport.BY``, repeated so that importing the CLI
#: does not import the views).
BY = ("run", "session", "model", "day", "project", "step")
_HEADS = {
    "run": "RUN",
    "session": "SESSION",
    "model": "MODEL",
    "day": "DAY",
    "project": "PROJECT",
    "step": "STEP",
}


def _n(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _usd(row: dict[str, Any]) -> str:
    cost = row["cost_usd"]
    if cost is None:
        return "unpriced"
    text = f"${cost:,.2f}" if cost >= 0.01 or cost == 0 else f"${cost:.4f}"
    return text + ("*" if row["cost_source"] == "mixed" else "")


def _cells(name: str, row: dict[str, Any]) -> list[str]:
    tokens = [row[f] for f in ("input_tokens", "output_tokens", "cache_read_tokens")]
    writes = (
        None
        if row["cache_write_5m_tokens"] is None
        else row["cache_write_5m_tokens"] + row["cache_write_1h_tokens"]
    )
    total = None if None in tokens else sum(tokens) + (writes or 0)
    return [
        name,
        _n(tokens[0]),
        _n(tokens[1]),
        _n(writes),
        _n(tokens[2]),
        _n(total),
        _usd(row),
    ]


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """The first column left-aligned, the numbers right-aligned, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        out.append("  ".join(cells).rstrip())
    return out


def render_costs(found: Report | dict[str, Any]) -> list[str]:
    """The ``journal costs`` table: a line per row (per model under it with
    ``--breakdown``), the totals, and what is unpriced or unknown."""
    data = found if isinstance(found, dict) else found.to_dict()
    head = [_HEADS.get(data["by"], "KEY"), "INPUT", "OUTPUT", "CACHE WRITE", "CACHE READ"]
    rows = [[*head, "TOTAL TOKENS", "COST"]]
    shown = {row["key"] for row in data["rows"]}
    for row in data["rows"]:
        name = row["key"]
        parent = row.get("parent_run_id")
        if parent in shown and name.startswith(parent + "/"):
            name = "  └ " + name[len(parent) + 1 :]
        rows.append(_cells(name, row))
        rows.extend(_cells(f"  └ {m['model']}", m) for m in row.get("models") or ())
    totals = data["totals"]
    rows.append(_cells("TOTAL", totals))
    out = _table(rows)
    if not data["rows"]:
        out.insert(1, "(no usage recorded)")
    notes = []
    if totals["unpriced_models"]:
        models = ", ".join(totals["unpriced_models"])
        notes.append(f"unpriced (tokens counted, no price known): {models}")
    if totals["tokens_unknown_runs"]:
        count = totals["tokens_unknown_runs"]
        notes.append(
            f"{count} run{'s' if count != 1 else ''} whose agent reports no tokens (Cursor)"
        )
    if any(row["cost_source"] == "mixed" for row in data["rows"]):
        notes.append("* mixes computed, provider-reported or unpriced costs")
    if data.get("price_file"):
        notes.append(f"prices from {data['price_file']} where it names the model")
    return out + notes


@click.command()
@click.option(
    "--by",
    type=click.Choice(BY),
    default="day",
    show_default=True,
    help="Group rows by run, session, model, day, project (the cwd's git root) or step.",
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
