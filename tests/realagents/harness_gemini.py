"""Run the real Gemini CLI (``gemini -p``) against :class:`ChatModel`, hooks installed.

The same temporary layout as :mod:`tests.realagents.harness`. Gemini CLI is
JavaScript: ``node bundle/gemini.js`` is the agent process (``GEMINI_CLI_NO_RELAUNCH``
keeps it from re-running itself in a child node with a bigger heap, which would put
a second process between the test and the hooks). The model API is the mock through
``GOOGLE_GEMINI_BASE_URL`` with a dummy ``GEMINI_API_KEY``; update checks, usage
statistics and telemetry are off in ``~/.gemini/settings.json``, which
``journal hooks install gemini`` (user scope) then merges its hooks into.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import pytest

from tests.realagents.harness import AgentRun, _base_env, _drive, _git_project, _journal, _settle
from tests.realagents.mock_chat import GEMINI_MODEL, ChatModel

__all__ = ["run_gemini"]

_SETTINGS = {
    "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "ide": {"enabled": False},
}


def run_gemini(
    script: pathlib.Path,
    version: str,
    root: pathlib.Path,
    command: str,
    *,
    stall: bool = False,
) -> AgentRun:
    """``gemini -p`` (YOLO) asking for ``command``; hooks installed at user scope."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: Gemini CLI is a node program")
    home, journal_home = root / "home", root / "journal"
    gemini_dir = home / ".gemini"
    gemini_dir.mkdir(parents=True)
    (gemini_dir / "settings.json").write_text(json.dumps(_SETTINGS, indent=2))
    proj = _git_project(root)
    _journal(journal_home, "hooks", "install", "gemini", env={**os.environ, "HOME": str(home)})
    with ChatModel([command], stall=stall) as mock:
        env = {
            **_base_env(home, mock),
            "GEMINI_API_KEY": "mock-gemini-key",
            "GOOGLE_GEMINI_BASE_URL": mock.url,
            "GEMINI_CLI_NO_RELAUNCH": "true",
            "GEMINI_CLI_TRUST_WORKSPACE": "true",
        }
        argv = [
            node,
            str(script),
            "-p",
            f"Please run `{command}` in the shell.",
            "--model",
            GEMINI_MODEL,
            "--yolo",
            "--output-format",
            "json",
        ]
        code, out, err, seconds, pgid = _drive(argv, proj, env, mock, kill=stall)
        _settle(journal_home, None if stall else "SessionEnd", pgid)
        requests = list(mock.requests)
    return AgentRun("gemini", version, root, journal_home, code, out, err, seconds, requests)
