"""Claude Code: command hooks in ``settings.json`` for every documented event.

User scope: ``$CLAUDE_CONFIG_DIR/settings.json`` if that is set (Claude Code keeps
its whole config there then), else ``~/.claude/settings.json``. Project scope:
``<project>/.claude/settings.json`` (the shared, committed settings).

Every event Claude Code knows (34 in 2.1.332) is registered except five, on purpose:

- ``WorktreeCreate`` and ``WorktreeRemove`` *replace* Claude Code's own git worktree
  handling when any hook is registered (the hook must create the worktree and print
  its path); a silent journal hook there would break ``--worktree``.
- ``PreModelSwitch`` is a gate: a hook that times out blocks the switch, and
  ``PostModelSwitch`` (registered) records the same switch after the fact.
- ``PreSkillShellCommand`` is a gate too, before a skill's shell command runs.
- ``MessageDisplay`` fires with each batch of completed lines while an assistant
  message streams (once per text in ``-p``, with ``final: true``) and may rewrite
  what is displayed; the transcript and ``Stop``'s ``last_assistant_message`` carry
  the same text, and builds that dropped it warn about it in ``/doctor``.

Handlers are synchronous with a 5 s timeout (see docs/how-to/agents/claude-code.md
for the trade-off against ``async: true``).
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from ._command import is_hook_command
from ._jsonhooks import JsonHooksFile

__all__ = ["AGENT", "EVENTS", "TIMEOUT_SECONDS", "targets"]

AGENT = "claude-code"
TIMEOUT_SECONDS = 5

EVENTS = (
    "Setup",
    "SessionStart",
    "UserPromptSubmit",
    "UserPromptExpansion",
    "PreToolUse",
    "PermissionRequest",
    "PermissionDenied",
    "PostToolUse",
    "PostToolUseFailure",
    "PostToolBatch",
    "Notification",
    "SubagentStart",
    "SubagentStop",
    "TaskCreated",
    "TaskCompleted",
    "TeammateIdle",
    "Elicitation",
    "ElicitationResult",
    "Stop",
    "StopFailure",
    "PreCompact",
    "PostCompact",
    "InstructionsLoaded",
    "ConfigChange",
    "CwdChanged",
    "FileChanged",
    "DirectoryAdded",
    "PostModelSwitch",
    "SessionEnd",
)

#: Documented events deliberately left out, with the reason (shown in the docs).
SKIPPED = {
    "WorktreeCreate": "replaces git worktree creation; a silent hook would break it",
    "WorktreeRemove": "replaces git worktree removal",
    "PreModelSwitch": "a gate whose timeout blocks the switch; PostModelSwitch records it",
    "PreSkillShellCommand": "a gate before a skill's shell command runs",
    "MessageDisplay": (
        "per batch of streamed lines, may rewrite the display; the transcript has the text"
    ),
}


def config_dir(scope: str, project_dir: str) -> str:
    """The directory holding ``settings.json`` for ``scope``."""
    if scope == "project":
        return os.path.join(project_dir, ".claude")
    override = os.environ.get("CLAUDE_CONFIG_DIR")
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return os.path.join(os.path.expanduser("~"), ".claude")


def _notes(doc: dict[str, Any]) -> list[str]:
    if doc.get("disableAllHooks") is True:
        return ['"disableAllHooks" is true in this file: Claude Code runs no hooks']
    return []


def targets(scope: str, project_dir: str, argv: list[str]) -> list[JsonHooksFile]:
    """The one file Claude Code reads hooks from at ``scope``."""
    return [
        JsonHooksFile(
            path=os.path.join(config_dir(scope, project_dir), "settings.json"),
            events=EVENTS,
            handler={"type": "command", "command": shlex.join(argv), "timeout": TIMEOUT_SECONDS},
            is_ours=lambda h: is_hook_command(h.get("command"), AGENT),
            grouped=True,
            notes=_notes,
        )
    ]
