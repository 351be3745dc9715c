"""The links commands: ``links RUN`` shows the conversation a run belongs to, and
``trace [COMMIT]`` which sessions wrote which lines of a commit (Agent Trace).

Thin like the rest of the CLI: :mod:`projections.linkqueries` catches the views up
and walks the links; this module renders the answer for people or as JSON.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import click

from journal.errors import JournalError

from .common import Context, echo_json, fail, time_text

if TYPE_CHECKING:
    from projections.linkqueries import Conversation

__all__ = ["LINK_COMMANDS", "links", "render_links", "trace"]


def render_links(found: Conversation) -> list[str]:
    """The conversation as lines: its runs, then each link oldest first."""
    lines = [f"conversation {found.conversation} ({len(found.runs)} runs)"]
    for one in found.runs:
        mark = "*" if one.run_id == found.run_id else " "
        lines.append(f"{mark} {one.run_id}  {one.status}  {time_text(one.first_time)}")
    if not found.links:
        lines.append("no links: this run is a conversation of its own")
        return lines
    lines.append("")
    width = max(len(link.relation) for link in found.links)
    for link in found.links:
        target = "itself" if link.from_run_id == link.run_id else link.from_run_id
        lines.append(
            f"{link.relation:<{width}}  {link.run_id} continues {target}"
            f"  (seq {link.seq}, {time_text(link.time)})"
        )
    return lines


@click.command()
@click.argument("ident", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only.")
@click.pass_obj
def links(obj: Context, ident: str, as_json: bool) -> None:
    """Show the conversation RUN belongs to: the runs that continue one another.

    Relations: resume, fork, clear, compact, subagent, continue. RUN is a run id, a
    session id, or a unique prefix of either.
    """
    from journal.agents.process import alive
    from projections.linkqueries import links as conversation_of

    try:
        found = conversation_of(obj.journal(), ident, now=time.time_ns(), alive=alive)
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json(found.to_dict())
    else:
        click.echo("\n".join(render_links(found)))


@click.command()
@click.argument("rev", metavar="[COMMIT]", required=False, default="HEAD")
@click.option("--repo", default=".", type=click.Path(file_okay=False), help="The git repository.")
@click.option("--range", "spec", default=None, metavar="A..B", help="One record per commit.")
@click.pass_obj
def trace(obj: Context, rev: str, repo: str, spec: str | None) -> None:
    """Print the Agent Trace v0.1.0 record of COMMIT (default HEAD): which sessions
    wrote which of its lines.

    With --range A..B, one record per commit of the range, oldest first, as JSON
    Lines. The output is JSON only; it is the same for the same commit and journal
    except each record's id and timestamp.
    """
    from journal import __version__
    from projections import gitcommit, tracequeries

    try:
        revs = gitcommit.revisions(repo, spec) if spec is not None else [rev]
        found = tracequeries.traces(obj.journal(), repo, revs, version=__version__)
    except JournalError as exc:
        raise fail(exc) from None
    if spec is None:
        click.echo(json.dumps(found[0], indent=2, ensure_ascii=False))
    else:
        for record in found:
            click.echo(json.dumps(record, ensure_ascii=False, separators=(",", ":")))


LINK_COMMANDS = (links, trace)
