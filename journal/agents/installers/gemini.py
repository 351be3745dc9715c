"""Gemini CLI: command hooks in ``settings.json``.

User scope ``~/.gemini/settings.json``, project scope
``<project>/.gemini/settings.json``. Timeouts are in milliseconds here.

Registered: ``SessionStart``, ``SessionEnd``, ``BeforeAgent``, ``AfterAgent``,
``BeforeTool``, ``AfterTool``, ``Notification``, ``PreCompress``. Left out on
purpose: ``BeforeModel`` and ``AfterModel`` (they fire per streaming chunk and
carry the whole LLM request each time, so a long turn would spawn hundreds of
processes, each storing a copy of the conversation) and ``BeforeToolSelection``
(the whole request again, once per model call, with nothing a step needs).
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from ._command import is_hook_command
from ._jsonhooks import JsonHooksFile

__all__ = ["AGENT", "EVENTS", "TIMEOUT_MS", "targets"]

AGENT = "gemini"
TIMEOUT_MS = 5000
HOOK_NAME = "agent-journal"

EVENTS = (
    "SessionStart",
    "BeforeAgent",
    "BeforeTool",
    "AfterTool",
    "AfterAgent",
    "Notification",
    "PreCompress",
    "SessionEnd",
)

SKIPPED = {
    "BeforeModel": "per model call, carries the whole LLM request",
    "AfterModel": "per streaming chunk, carries the whole LLM request",
    "BeforeToolSelection": "per model call, carries the whole LLM request",
}


def _notes(doc: dict[str, Any]) -> list[str]:
    config = doc.get("hooksConfig")
    hooks = doc.get("hooks")
    if (isinstance(config, dict) and config.get("enabled") is False) or (
        isinstance(hooks, dict) and hooks.get("enabled") is False
    ):
        return ["hooks are disabled in this file (enabled: false): Gemini CLI runs none"]
    if isinstance(config, dict) and HOOK_NAME in (config.get("disabled") or []):
        return [f'"{HOOK_NAME}" is listed in hooksConfig.disabled: Gemini CLI skips it']
    return []


def targets(scope: str, project_dir: str, argv: list[str]) -> list[JsonHooksFile]:
    """The one settings file Gemini CLI reads hooks from at ``scope``."""
    base = project_dir if scope == "project" else os.path.expanduser("~")
    return [
        JsonHooksFile(
            path=os.path.join(base, ".gemini", "settings.json"),
            events=EVENTS,
            handler={
                "name": HOOK_NAME,
                "type": "command",
                "command": shlex.join(argv),
                "timeout": TIMEOUT_MS,
            },
            is_ours=lambda h: is_hook_command(h.get("command"), AGENT),
            grouped=True,
            notes=_notes,
        )
    ]
