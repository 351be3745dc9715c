"""Cursor: ``hooks.json`` version 1, one handler per event.

User scope ``~/.cursor/hooks.json``, project scope ``<project>/.cursor/hooks.json``.
The file is ``{"version": 1, "hooks": {"event": [{"command": …, "timeout": …}]}}``;
a new file gets ``"version": 1`` and a file with another version is refused.

Registered: the agent hooks (session, prompt, tool, shell, MCP, file read and edit,
response, thought, compaction, stop, subagents) and ``afterTabFileEdit`` (edits
Tab made). Left out: ``beforeTabFileRead``, which fires for Tab completions as
you type, with the file's content, and records nothing an agent did.
"""

from __future__ import annotations

import os
import shlex

from ._command import is_hook_command
from ._jsonhooks import JsonHooksFile

__all__ = ["AGENT", "EVENTS", "TIMEOUT_SECONDS", "targets"]

AGENT = "cursor"
TIMEOUT_SECONDS = 5

EVENTS = (
    "sessionStart",
    "beforeSubmitPrompt",
    "preToolUse",
    "postToolUse",
    "postToolUseFailure",
    "beforeShellExecution",
    "afterShellExecution",
    "beforeMCPExecution",
    "afterMCPExecution",
    "beforeReadFile",
    "afterFileEdit",
    "afterTabFileEdit",
    "subagentStart",
    "subagentStop",
    "afterAgentThought",
    "afterAgentResponse",
    "preCompact",
    "stop",
    "sessionEnd",
)

SKIPPED = {"beforeTabFileRead": "fires for Tab completions while typing"}


def targets(scope: str, project_dir: str, argv: list[str]) -> list[JsonHooksFile]:
    """The one ``hooks.json`` Cursor reads at ``scope``."""
    base = project_dir if scope == "project" else os.path.expanduser("~")
    return [
        JsonHooksFile(
            path=os.path.join(base, ".cursor", "hooks.json"),
            events=EVENTS,
            handler={"command": shlex.join(argv), "timeout": TIMEOUT_SECONDS},
            is_ours=lambda h: is_hook_command(h.get("command"), AGENT),
            grouped=False,
            base={"version": 1},
        )
    ]
