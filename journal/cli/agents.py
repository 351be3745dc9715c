"""Commands that bring events in: ``hook``, ``import`` and ``spool drain``."""

from __future__ import annotations

import os
import sys

import click

from journal.errors import JournalError

from .common import Context, echo_json, fail, progress_bar

__all__ = ["AGENT_COMMANDS", "hook", "import_", "spool"]


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("agent")
@click.argument("payload", required=False)
@click.pass_obj
def hook(obj: Context, agent: str, payload: str | None) -> None:
    """The agents' hook: append the event on stdin (or PAYLOAD); silent, exit 0.

    AGENT is claude-code, codex, gemini, cursor or opencode. Codex's notify passes
    the event as PAYLOAD instead of stdin. Nothing is printed, the exit code is 0
    on every input; a busy journal means the event is spooled, bad input is
    quarantined.
    """
    from journal.agents.hook import main as hook_main

    hook_main([agent] if payload is None else [agent, payload], obj.home)
    sys.stdout.flush()
    os._exit(0)


@click.command("import")
@click.argument("agent", type=click.Choice(["claude-code"]))
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def import_(obj: Context, agent: str, paths: tuple[str, ...], as_json: bool) -> None:
    """Backfill transcripts: JSONL files, or directories such as ~/.claude/projects.

    Each new line becomes a record of kind "transcript"; running it again takes only
    lines added since. Progress goes to stderr.
    """
    from journal.agents.importer import find_transcripts, import_transcripts

    try:
        files = find_transcripts(paths)
        journal = obj.journal()
        total = sum(os.path.getsize(f) for f in files)
        show_bar = not as_json and sys.stderr.isatty()
        with progress_bar(total, f"importing {len(files)} files", show=show_bar) as bar:
            report = import_transcripts(journal, files, source=agent, progress=bar.update)
    except JournalError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename}: {exc.strerror}") from None
    totals = report.to_dict()
    if as_json:
        echo_json(totals)
        return
    click.echo(
        f"{totals['files']} files, {totals['bytes']} bytes: {totals['appended']} lines "
        f"journalled, {totals['duplicates']} already there, {totals['quarantined']} quarantined"
    )


@click.group()
def spool() -> None:
    """The spool: events a hook could not append within its time budget."""


@spool.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def drain(obj: Context, as_json: bool) -> None:
    """Append every spooled event exactly once, oldest first, and remove its file."""
    from journal.agents import spool as _spool

    try:
        report = _spool.drain(obj.journal())
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(
            f"{report.appended} appended, {report.duplicates} already there, "
            f"{report.quarantined} quarantined"
        )
    if report.failed:
        raise click.ClickException("could not remove: " + "; ".join(report.failed))


AGENT_COMMANDS = (hook, import_, spool)
