"""The ``journal`` command group: the global options and every command module's commands.

No LMDB calls and no business logic here or in the command modules. Library errors
become one line on stderr and exit 1 (usage errors exit 2); nothing prints a traceback.
"""

from __future__ import annotations

import click

from journal import __version__

from .agents import AGENT_COMMANDS
from .changes import CHANGE_COMMANDS
from .common import Context
from .costs import costs
from .demo import demo
from .forget import forget
from .hooks import hooks
from .links import LINK_COMMANDS
from .log import LOG_COMMANDS
from .serve import serve
from .ship import SHIP_COMMANDS
from .views import VIEW_COMMANDS

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar=None,
    help="Journal home (default: $AGENT_JOURNAL_HOME, $XDG_STATE_HOME/agent-journal, "
    "~/.local/state/agent-journal).",
)
@click.version_option(__version__, prog_name="journal")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """An append-only, content-addressed journal of what coding agents do."""
    state = Context(home)
    ctx.obj = state
    ctx.call_on_close(state.close)


for _command in (
    *LOG_COMMANDS,
    *VIEW_COMMANDS,
    *CHANGE_COMMANDS,
    *LINK_COMMANDS,
    costs,
    *AGENT_COMMANDS,
    hooks,
    demo,
    serve,
    *SHIP_COMMANDS,
    forget,
):
    cli.add_command(_command)


def main() -> int:
    """Run the CLI; return the exit code."""
    try:
        cli.main(prog_name="journal", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
