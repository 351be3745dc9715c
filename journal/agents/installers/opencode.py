"""OpenCode: a plugin file that forwards bus events to ``journal hook opencode``.

OpenCode loads every ``*.js`` in its plugin directories at startup:
``$XDG_CONFIG_HOME/opencode/plugins/`` (default ``~/.config/opencode/plugins/``)
for the user, ``<project>/.opencode/plugins/`` for a project. The plugin is
``journal/agents/opencode-plugin.js`` with the hook command written into its
``COMMAND`` line as a JSON argv array (no shell in between).

The file is ours outright: install writes it (replacing an older copy of ours),
uninstall deletes it, and a file at that path that we did not write is refused.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from importlib import resources

from ._core import Removal
from ._files import ConfigFileError
from .results import FileStatus

__all__ = ["AGENT", "EVENTS", "PluginFile", "render", "targets"]

AGENT = "opencode"
FILENAME = "agent-journal.js"
EVENTS = ("bus events (all but the skipped)",)
SKIPPED = {
    "server.heartbeat": "undocumented keep-alive every ~10 s",
    "message.part.delta": "per-token streaming; the terminal message.part.updated repeats it",
}

_MARKER = b"// agent-journal OpenCode plugin"
_COMMAND_LINE = re.compile(r"^const COMMAND = (.*); // agent-journal:command$", re.MULTILINE)


def plugin_dir(scope: str, project_dir: str) -> str:
    """The plugin directory OpenCode scans at ``scope``."""
    if scope == "project":
        return os.path.join(project_dir, ".opencode", "plugins")
    xdg = os.environ.get("XDG_CONFIG_HOME")
    config = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(config, "opencode", "plugins")


def render(argv: list[str]) -> bytes:
    """The plugin file with ``argv`` as the command it spawns."""
    template = resources.files("journal.agents").joinpath("opencode-plugin.js").read_text("utf-8")
    literal = json.dumps(argv)
    text, count = _COMMAND_LINE.subn(
        lambda _: f"const COMMAND = {literal}; // agent-journal:command", template
    )
    if count != 1:
        raise ConfigFileError(
            "journal/agents/opencode-plugin.js has no COMMAND line (broken install)"
        )
    return text.encode("utf-8")


def _command_of(data: bytes) -> list[str] | None:
    match = _COMMAND_LINE.search(data.decode("utf-8", "replace"))
    if match is None:
        return None
    try:
        argv = json.loads(match.group(1))
    except ValueError:
        return None
    if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
        return argv
    return None


class PluginFile:
    """The plugin file (a ``Target`` that owns its whole file)."""

    role = "plugin"
    owns_file = True

    def __init__(self, path: str, argv: list[str]) -> None:
        self.path = path
        self.argv = argv

    @staticmethod
    def _ours(data: bytes) -> bool:
        return data.startswith(_MARKER)

    def plan_install(self, data: bytes | None) -> tuple[bytes, list[str]]:
        """The rendered plugin; refuse to replace a file we did not write."""
        if data is not None and not self._ours(data):
            raise ConfigFileError(
                f"{self.path} exists and was not written by agent-journal; it was not "
                "replaced (move it away first)"
            )
        return render(self.argv), []

    def plan_uninstall(self, data: bytes) -> Removal:
        """The whole file goes, if it is ours."""
        if not self._ours(data):
            return Removal(data, found=False, empty=False)
        return Removal(b"", found=True, empty=True)

    def same(self, a: bytes, b: bytes) -> bool:
        """Plugin files are compared byte for byte."""
        return a == b

    def inspect(self, data: bytes | None) -> FileStatus:
        """Whether our plugin is there and spawns the current command."""
        if data is None:
            return FileStatus(
                path=self.path, role=self.role, exists=False, state="missing", missing=[*EVENTS]
            )
        if not self._ours(data):
            return FileStatus(
                path=self.path,
                role=self.role,
                exists=True,
                state="missing",
                missing=[*EVENTS],
                notes=["a file agent-journal did not write is at this path"],
            )
        argv = _command_of(data)
        return FileStatus(
            path=self.path,
            role=self.role,
            exists=True,
            state="installed" if data == render(self.argv) else "outdated",
            events=[*EVENTS],
            commands=[shlex.join(argv)] if argv else [],
        )


def targets(scope: str, project_dir: str, argv: list[str]) -> list[PluginFile]:
    """The one plugin file at ``scope``."""
    return [PluginFile(os.path.join(plugin_dir(scope, project_dir), FILENAME), argv)]
