"""Codex CLI: command hooks in ``hooks.json`` plus ``notify`` in ``config.toml``.

User scope: ``$CODEX_HOME`` if set (Codex keeps its config there then), else
``~/.codex``; project scope ``<project>/.codex``. ``hooks.json`` has Claude Code's
layout; every event of Codex's hooks schema is registered. ``notify`` is Codex's
older single program, run after each turn with the event JSON as its last argument
(``journal hook codex '<json>'``): it is written as an argv array, and only when
the user has no ``notify`` of their own. A different ``notify`` program is left
alone and reported; hooks.json still delivers the events.

``config.toml`` is edited with tomlkit, which keeps comments, ordering and
formatting of everything we do not touch.
"""

from __future__ import annotations

import os
import re
import shlex
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from ._command import is_hook_argv, is_hook_command
from ._core import Removal
from ._files import ConfigFileError
from ._jsonhooks import JsonHooksFile
from .results import FileStatus

__all__ = ["AGENT", "EVENTS", "TIMEOUT_SECONDS", "NotifyFile", "targets"]

AGENT = "codex"
TIMEOUT_SECONDS = 5

EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "PostCompact",
    "Stop",
    "Interrupt",
    "SessionEnd",
)

SKIPPED: dict[str, str] = {}

_NOTIFY_EVENT = "agent-turn-complete (notify)"


def config_dir(scope: str, project_dir: str) -> str:
    """The ``.codex`` directory for ``scope``."""
    if scope == "project":
        return os.path.join(project_dir, ".codex")
    override = os.environ.get("CODEX_HOME")
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return os.path.join(os.path.expanduser("~"), ".codex")


class NotifyFile:
    """``notify = [argv…]`` in a Codex ``config.toml`` (a ``Target``)."""

    role = "notify"
    owns_file = False

    def __init__(self, path: str, argv: list[str]) -> None:
        self.path = path
        self.argv = argv

    def _load(self, data: bytes) -> tomlkit.TOMLDocument:
        try:
            return tomlkit.parse(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigFileError(f"{self.path} is not UTF-8 text; it was not changed") from None
        except TOMLKitError as exc:
            raise ConfigFileError(
                f"{self.path} is not valid TOML ({exc}); fix it first, it was not changed"
            ) from None

    @staticmethod
    def _current(doc: tomlkit.TOMLDocument) -> Any:
        item = doc.get("notify")
        if item is None:
            return None
        return item.unwrap() if hasattr(item, "unwrap") else item

    def plan_install(self, data: bytes | None) -> tuple[bytes, list[str]]:
        """Add our ``notify``, update an older one of ours, leave anyone else's."""
        doc = self._load(data or b"")
        current = self._current(doc)
        if current is not None and not is_hook_argv(current, AGENT):
            return data or b"", [_foreign_note(current)]
        if current == self.argv and data is not None:
            return data, []
        doc["notify"] = self.argv
        return tomlkit.dumps(doc).encode("utf-8"), []

    def plan_uninstall(self, data: bytes) -> Removal:
        """Remove ``notify`` if it is ours."""
        doc = self._load(data)
        if not is_hook_argv(self._current(doc), AGENT):
            return Removal(data, found=False, empty=False)
        del doc["notify"]
        new = tomlkit.dumps(doc).encode("utf-8")
        return Removal(new, found=True, empty=not new.strip())

    def same(self, a: bytes, b: bytes) -> bool:
        """True if both parse to the same settings."""
        return bool(self._load(a).unwrap() == self._load(b).unwrap())

    def inspect(self, data: bytes | None) -> FileStatus:
        """Whether ``notify`` runs our hook, someone else's program, or nothing."""
        if data is None:
            return FileStatus(
                path=self.path,
                role=self.role,
                exists=False,
                state="missing",
                missing=[_NOTIFY_EVENT],
            )
        current = self._current(self._load(data))
        if current is None:
            return FileStatus(
                path=self.path,
                role=self.role,
                exists=True,
                state="missing",
                missing=[_NOTIFY_EVENT],
            )
        if not is_hook_argv(current, AGENT):
            return FileStatus(
                path=self.path,
                role=self.role,
                exists=True,
                state="skipped",
                notes=[_foreign_note(current)],
            )
        return FileStatus(
            path=self.path,
            role=self.role,
            exists=True,
            state="installed" if current == self.argv else "outdated",
            events=[_NOTIFY_EVENT],
            commands=[shlex.join(current)],
        )


def _foreign_note(current: object) -> str:
    shown = re.sub(r"\s+", " ", repr(current))[:200]
    return (
        f"notify is already set to another program ({shown}); it was left as it is. "
        "Codex events still reach the journal through hooks.json"
    )


def targets(scope: str, project_dir: str, argv: list[str]) -> list[Any]:
    """``hooks.json`` and ``config.toml`` in the ``.codex`` directory of ``scope``."""
    directory = config_dir(scope, project_dir)
    command = shlex.join(argv)
    return [
        JsonHooksFile(
            path=os.path.join(directory, "hooks.json"),
            events=EVENTS,
            handler={"type": "command", "command": command, "timeout": TIMEOUT_SECONDS},
            is_ours=lambda h: is_hook_command(h.get("command"), AGENT),
            grouped=True,
        ),
        NotifyFile(os.path.join(directory, "config.toml"), argv),
    ]
