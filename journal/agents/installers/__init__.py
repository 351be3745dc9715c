"""Wire the journal into each agent's own configuration, and take it out again.

``install``, ``uninstall`` and ``status`` take an agent name (``claude-code``,
``codex``, ``gemini``, ``cursor``, ``opencode``), a scope (``user``: the agent's
config in your home; ``project``: the project directory's), and return a result
Struct. One module per agent says where its files are and what our entries look
like; :mod:`._core` applies the same merge, backup and restore rules to all of
them. Nothing here is imported on the hook path.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

import msgspec

from journal.errors import UsageError

from . import claude_code, codex, cursor, gemini, opencode
from ._command import hook_argv
from ._core import Target, check_all, install_target, status_target, uninstall_target
from ._files import BACKUP_SUFFIX, ConfigFileError, prune_dirs
from .results import FileChange, FileStatus, HooksChange, HooksStatus

__all__ = [
    "AGENTS",
    "BACKUP_SUFFIX",
    "SCOPES",
    "ConfigFileError",
    "FileChange",
    "FileStatus",
    "HooksChange",
    "HooksStatus",
    "events",
    "install",
    "skipped_events",
    "status",
    "uninstall",
]

_MODULES: dict[str, Any] = {
    claude_code.AGENT: claude_code,
    codex.AGENT: codex,
    gemini.AGENT: gemini,
    cursor.AGENT: cursor,
    opencode.AGENT: opencode,
}
AGENTS = tuple(_MODULES)
SCOPES = ("user", "project")


def _module(agent: str) -> Any:
    try:
        return _MODULES[agent]
    except KeyError:
        raise UsageError(f"unknown agent {agent!r}; expected one of {', '.join(AGENTS)}") from None


def events(agent: str) -> tuple[str, ...]:
    """The events our entries are registered for in ``agent``'s config."""
    result: tuple[str, ...] = _module(agent).EVENTS
    return result


def skipped_events(agent: str) -> dict[str, str]:
    """Documented events deliberately not registered, with the reason."""
    result: dict[str, str] = dict(_module(agent).SKIPPED)
    return result


def _targets(
    agent: str, scope: str, project_dir: str | None, home: str | None
) -> tuple[list[Target], list[str]]:
    module = _module(agent)
    if scope not in SCOPES:
        raise UsageError(f"unknown scope {scope!r}; expected user or project")
    if scope == "user" and project_dir is not None:
        raise UsageError("--project-dir only applies with --scope project")
    directory = os.path.abspath(project_dir if project_dir is not None else os.getcwd())
    argv = hook_argv(agent, home)
    found: list[Target] = module.targets(scope, directory, argv)
    return found, argv


def install(
    agent: str, *, scope: str = "user", project_dir: str | None = None, home: str | None = None
) -> HooksChange:
    """Merge our hook entries into ``agent``'s config at ``scope`` (idempotent).

    ``home`` is an explicit journal home to bake into the hook command; without it
    the hook finds its home the way ``journal`` does. Raises
    :class:`ConfigFileError` (and changes nothing in that file) if a config file
    is not valid or not ours to replace.
    """
    found, argv = _targets(agent, scope, project_dir, home)
    check_all(found, install=True)
    files = [install_target(target) for target in found]
    return HooksChange(
        agent=agent,
        scope=scope,
        operation="install",
        changed=any(f.action != "unchanged" for f in files),
        command=shlex.join(argv),
        events=[*events(agent)],
        files=files,
    )


def uninstall(
    agent: str, *, scope: str = "user", project_dir: str | None = None, home: str | None = None
) -> HooksChange:
    """Remove our entries from ``agent``'s config at ``scope``, restoring the backup
    when nothing else changed, and the directories install created once they are
    empty (see :mod:`journal.agents.installers._core`)."""
    found, argv = _targets(agent, scope, project_dir, home)
    check_all(found, install=False)
    created: list[str] = []
    files = [uninstall_target(target, created) for target in found]
    removed = prune_dirs(created)
    if removed and files:
        notes = [*files[-1].notes, *(f"removed {d} (install created it)" for d in removed)]
        files[-1] = msgspec.structs.replace(files[-1], notes=notes)
    return HooksChange(
        agent=agent,
        scope=scope,
        operation="uninstall",
        changed=any(f.action != "not-installed" for f in files),
        command=shlex.join(argv),
        events=[*events(agent)],
        files=files,
    )


def status(
    agent: str, *, scope: str = "user", project_dir: str | None = None, home: str | None = None
) -> HooksStatus:
    """Whether our entries are in ``agent``'s config at ``scope``, and how."""
    found, argv = _targets(agent, scope, project_dir, home)
    files = [status_target(target) for target in found]
    untrusted = any(f.trust == "untrusted" for f in files)
    # A file whose entries are all there but not trusted counts as installed here;
    # the verdict then says untrusted, since the agent will skip them.
    states = {"installed" if f.state == "untrusted" else f.state for f in files}
    if states <= {"installed", "skipped"} and "installed" in states:
        state = "untrusted" if untrusted else "installed"
    elif states <= {"missing", "skipped"}:
        state = "not-installed"
    elif states <= {"installed", "outdated", "skipped"}:
        state = "outdated"
    else:
        state = "partial"
    return HooksStatus(
        agent=agent,
        scope=scope,
        installed=state == "installed",
        state=state,
        command=shlex.join(argv),
        files=files,
    )
