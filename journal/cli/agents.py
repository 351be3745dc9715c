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

    With --stream as PAYLOAD: stay up and journal one event per stdin line, in
    order, acknowledging each durable batch on stdout (the OpenCode plugin's mode).
    """
    if payload == "--stream":
        from journal.agents.stream import main as stream_main

        stream_main([agent], obj.home)
    else:
        from journal.agents.hook import main as hook_main

        hook_main([agent] if payload is None else [agent, payload], obj.home)
    sys.stdout.flush()
    os._exit(0)


@click.command("import")
@click.argument("agent", type=click.Choice(["claude-code", "codex", "gemini"]))
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def import_(obj: Context, agent: str, paths: tuple[str, ...], as_json: bool) -> None:
    """Backfill an agent's own session files: files, or directories such as
    ~/.claude/projects, ~/.codex/sessions or ~/.gemini/tmp.

    Each new line (each message of an older Gemini JSON chat file) becomes a record
    of kind "transcript"; running it again takes only what was added since. Progress
    goes to stderr.
    """
    from journal.agents.importer import import_transcripts, plan

    try:
        found = plan(agent, paths)
        journal = obj.journal(write=True)
        total = sum(os.path.getsize(f) for f in found.files)
        show_bar = not as_json and sys.stderr.isatty()
        label = f"importing {len(found.files)} files"
        with progress_bar(total, label, show=show_bar) as bar:
            report = import_transcripts(journal, found.files, source=agent, progress=bar.update)
    except JournalError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename}: {exc.strerror}") from None
    report.skipped = found.skipped
    totals = report.to_dict()
    if as_json:
        echo_json(totals)
        return
    click.echo(
        f"{totals['files']} files ({totals['sessions']} sessions), {totals['bytes']} bytes: "
        f"{totals['appended']} lines journalled, {totals['duplicates']} already there, "
        f"{totals['quarantined']} quarantined"
    )
    for path, reason in found.skipped:
        click.echo(f"skipped {path}: {reason}")


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
        report = _spool.drain(obj.journal(write=True))
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
