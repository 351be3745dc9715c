"""``journal export`` (records as JSON Lines, resumable) and ``journal origin``."""

from __future__ import annotations

import os
import sys

import click

from journal.errors import JournalError

from .common import Context, echo_json, fail

__all__ = ["EXPORT_COMMANDS"]


@click.command()
@click.option("--after", type=click.IntRange(min=0), default=None, help="Start after this seq.")
@click.option(
    "--consumer",
    default=None,
    help="A named consumer: resume after its checkpoint, and advance it as lines are flushed.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl"]),
    default="jsonl",
    show_default=True,
    help="Output format.",
)
@click.pass_obj
def export(obj: Context, after: int | None, consumer: str | None, fmt: str) -> None:
    """Write records as JSON Lines on stdout: envelope and payload, one per line.

    Each line names the record by its origin and origin seq (see `journal origin`).
    With --consumer NAME the export resumes after that consumer's checkpoint (kept in
    the journal home), which advances only once the lines are flushed; --after
    overrides where it starts.
    """
    from journal.export import export as run_export

    try:
        run_export(obj.open, sys.stdout.buffer, after=after, consumer=consumer)
    except BrokenPipeError:
        # The reader went away; the checkpoint covers only chunks flushed before. Point
        # stdout at /dev/null so that the interpreter's last flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise click.ClickException("the output was closed before the export finished") from None
    except JournalError as exc:
        raise fail(exc) from None


@click.command()
@click.option("--name", default=None, help="Give this journal a human name ('' removes it).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def origin(obj: Context, name: str | None, as_json: bool) -> None:
    """Show this journal's permanent origin id (and name); --name sets the name.

    Records leaving this journal (export, ship) are named (origin, seq).
    """
    from journal.export import read_origin, set_origin_name

    try:
        if name is not None:
            info = set_origin_name(obj.journal(write=True), name)
        else:
            info = read_origin(obj.open)
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json({"origin": info.origin, "name": info.name, "home": info.home})
    else:
        click.echo(info.origin if info.name is None else f"{info.origin} {info.name}")


EXPORT_COMMANDS = (export, origin)
