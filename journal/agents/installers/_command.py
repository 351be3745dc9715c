"""The command an agent runs for each event, and how we recognise our own entries.

The command is ``<journal> [--home DIR] hook <agent>``, where ``<journal>`` is the
absolute path of the running console script (so the agent does not depend on its
own ``PATH``), or ``<python> -m journal.cli`` when there is no script. ``--home`` is
written only when the user passed one explicitly: otherwise the hook resolves the
home itself, exactly as ``journal`` does in a shell.

An entry is ours when its argv ends in ``hook <agent>`` and the program before it is
a ``journal`` executable (or ``python -m journal.cli``; ``-m journal`` from older
installs), with an optional ``--home``.
That also claims a hand-written ``journal hook claude-code`` entry, which is the
same thing; anything else (another tool, another agent name) is never touched.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from typing import cast

from journal import home as journal_home

__all__ = ["hook_argv", "is_hook_argv", "is_hook_command", "program_argv"]

_PROGRAM = "journal"
_MODULE = "journal.cli"


def program_argv() -> list[str]:
    """How to start the ``journal`` program that is running now, as argv."""
    script = os.path.join(os.path.dirname(sys.executable), _PROGRAM)
    if os.path.isfile(script) and os.access(script, os.X_OK):
        return [script]
    found = shutil.which(_PROGRAM)
    if found:
        return [os.path.abspath(found)]
    return [sys.executable, "-m", _MODULE]


def hook_argv(agent: str, home: str | None) -> list[str]:
    """The argv of the hook command for ``agent`` (``home``: an explicit --home)."""
    argv = program_argv()
    if home:
        argv += ["--home", journal_home.resolve(home)]
    return [*argv, "hook", agent]


def is_hook_argv(argv: object, agent: str) -> bool:
    """True if ``argv`` (a list of strings) runs ``journal [--home DIR] hook AGENT``."""
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return False
    words = cast("list[str]", argv)
    if len(words) < 3 or words[-2:] != ["hook", agent]:
        return False
    program = words[:-2]
    if len(program) >= 3 and program[-2] == "--home":
        program = program[:-2]
    elif program and program[-1].startswith("--home="):
        program = program[:-1]
    if len(program) == 1:
        return os.path.basename(program[0]) == _PROGRAM
    if len(program) == 3 and program[1] == "-m" and program[2] in (_MODULE, _PROGRAM):
        return os.path.basename(program[0]).startswith("python")
    return False


def is_hook_command(command: object, agent: str) -> bool:
    """True if the shell command string ``command`` is our hook for ``agent``."""
    if not isinstance(command, str):
        return False
    try:
        argv = shlex.split(command)
    except ValueError:
        return False
    return is_hook_argv(argv, agent)
