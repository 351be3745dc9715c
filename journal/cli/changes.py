"""``journal changes``, ``journal diff`` and ``journal retract``: what a run changed in files.

Thin like the rest of the CLI: parse, call :mod:`projections.changequeries` (which
catches the views up first), render. ``diff`` prints a unified diff that ``git
apply`` takes (``--reverse``: the undo patch); ``retract`` appends a retraction
record, never deleting anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from journal.errors import JournalError

from .common import Context, echo_json, fail, table

__all__ = ["CHANGE_COMMANDS", "changes", "diff", "render_changes", "retract"]

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_PATH = click.option(
    "--path", default=None, metavar="P", help="Only this file (as `changes` shows it)."
)


def render_changes(found: Sequence[dict[str, Any]]) -> list[str]:
    """The ``journal changes`` table: one line per change, in the order made."""
    rows = [
        [
            str(i),
            item["operation"],
            f"+{item['additions']} -{item['deletions']}",
            item["tool"] or "-",
            str(item["seq"]),
            ("retracted" if item["retracted"] else "")
            + (" child" if item["child"] else "")
            + ("" if item["content_known"] else " partial"),
            item["path"],
        ]
        for i, item in enumerate(found, 1)
    ]
    return table(["#", "OP", "LINES", "TOOL", "SEQ", "NOTE", "PATH"], rows)


@click.command()
@click.argument("ident", metavar="RUN")
@_JSON
@click.pass_obj
def changes(obj: Context, ident: str, as_json: bool) -> None:
    """List the file changes of a run and of its child runs, in the order made.

    RUN is a run id, a session id, or a unique prefix of either.
    """
    from projections.changequeries import run_changes

    try:
        found = run_changes(obj.journal(), ident)
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json(found)
    elif found:
        click.echo("\n".join(render_changes(found)))
    else:
        click.echo("no changes")


@click.command()
@click.argument("ident", metavar="RUN")
@_PATH
@click.option("--reverse", is_flag=True, help="The undo patch: from after the run to before.")
@click.pass_obj
def diff(obj: Context, ident: str, path: str | None, reverse: bool) -> None:
    """Print the run's net changes as one unified diff that `git apply` takes.

    Files whose content before the run is unknown are named on `#` lines at the top
    instead. RUN is a run id, a session id, or a unique prefix of either.
    """
    from projections.changequeries import run_diff

    try:
        text = run_diff(obj.journal(), ident, path=path, reverse=reverse)
    except JournalError as exc:
        raise fail(exc) from None
    click.echo(text, nl=False)


@click.command()
@click.argument("ident", metavar="RUN")
@_PATH
@_JSON
@click.pass_obj
def retract(obj: Context, ident: str, path: str | None, as_json: bool) -> None:
    """Retract a run's changes (or one file's): `diff` leaves them out from now on.

    Appends a retraction record; nothing is deleted, and `changes` still lists them,
    marked retracted.
    """
    from projections.changequeries import retract as retract_changes

    try:
        done = retract_changes(obj.journal(write=True), ident, path=path)
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json(done.to_dict())
        return
    what = f" to {done.path}" if done.path else ""
    click.echo(f"retracted {done.changes} changes{what} of {done.run_id} (record {done.seq})")


CHANGE_COMMANDS = (changes, diff, retract)
