"""``journal hooks install|uninstall|status AGENT``: parse, call the installers, render.

Registered on the ``journal`` group by :mod:`journal.cli`. The installers (and
tomlkit) are imported only when one of these commands runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import click

from journal.agents.names import AGENTS
from journal.errors import JournalError

from .common import echo_json, fail

if TYPE_CHECKING:
    from journal.agents.installers.results import HooksChange, HooksStatus

__all__ = ["hooks"]


class _HasHome(Protocol):
    home: str | None


def _run(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except JournalError as exc:
        raise fail(exc) from None


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)
    func = click.option(
        "--project-dir",
        type=click.Path(file_okay=False, exists=True),
        default=None,
        help="The project for --scope project (default: the current directory).",
    )(func)
    func = click.option(
        "--scope",
        type=click.Choice(["user", "project"]),
        default="user",
        show_default=True,
        help="The agent's config in your home (user) or in the project (project).",
    )(func)
    func = click.argument("agent", type=click.Choice(AGENTS), metavar="AGENT")(func)
    return click.pass_obj(func)


@click.group()
def hooks() -> None:
    """Wire the journal into an agent's own config, check it, or take it out.

    AGENT is one of claude-code, codex, gemini, cursor, opencode.
    """


def _render_change(result: HooksChange) -> None:
    if result.operation == "install":
        verdict = "installed" if result.changed else "already installed, nothing changed"
    else:
        verdict = "uninstalled" if result.changed else "not installed, nothing changed"
    click.echo(f"{result.agent} ({result.scope}): {verdict}")
    for change in result.files:
        line = f"  {change.action:<13} {change.path}"
        if change.backup and change.action in ("created", "updated", "unchanged"):
            line += f"  (backup: {change.backup})"
        click.echo(line)
        for note in change.notes:
            click.echo(f"  note: {note}")
    if result.operation == "install":
        click.echo(f"  command: {result.command}")
        click.echo(f"  events:  {', '.join(result.events)}")


def _render_status(result: HooksStatus) -> None:
    click.echo(f"{result.agent} ({result.scope}): {result.state}")
    for entry in result.files:
        where = entry.path if entry.exists else f"{entry.path} (no such file)"
        click.echo(f"  {entry.state:<13} {where}")
        if entry.events and entry.missing:
            total = len(entry.events) + len(entry.missing)
            missing = ", ".join(entry.missing)
            click.echo(f"  events:  {len(entry.events)}/{total}; missing: {missing}")
        for command in entry.commands:
            marker = "" if command == result.command else "  (not the current command)"
            click.echo(f"  command: {command}{marker}")
        if entry.backup:
            click.echo(f"  backup:  {entry.backup}")
        if entry.untrusted:
            click.echo(f"  untrusted: {', '.join(entry.untrusted)}")
        for note in entry.notes:
            click.echo(f"  note: {note}")
    if result.state == "untrusted":
        click.echo(f"  installed, but {result.agent} skips the untrusted ones: see the notes")
    if not result.installed:
        click.echo(f"  run: journal hooks install {result.agent} --scope {result.scope}")


@hooks.command()
@_common
def install(obj: _HasHome, agent: str, scope: str, project_dir: str | None, as_json: bool) -> None:
    """Add the journal's hook entries to AGENT's config (idempotent, keeps a backup)."""
    from journal.agents.installers import install as run_install

    result = _run(lambda: run_install(agent, scope=scope, project_dir=project_dir, home=obj.home))
    if as_json:
        echo_json(result)
    else:
        _render_change(result)


@hooks.command()
@_common
def uninstall(
    obj: _HasHome, agent: str, scope: str, project_dir: str | None, as_json: bool
) -> None:
    """Remove the journal's entries from AGENT's config, restoring the original file."""
    from journal.agents.installers import uninstall as run_uninstall

    result = _run(lambda: run_uninstall(agent, scope=scope, project_dir=project_dir, home=obj.home))
    if as_json:
        echo_json(result)
    else:
        _render_change(result)


@hooks.command()
@_common
def status(obj: _HasHome, agent: str, scope: str, project_dir: str | None, as_json: bool) -> None:
    """Report whether AGENT's config runs the journal hook, and with which command."""
    from journal.agents.installers import status as run_status

    result = _run(lambda: run_status(agent, scope=scope, project_dir=project_dir, home=obj.home))
    if as_json:
        echo_json(result)
    else:
        _render_status(result)
