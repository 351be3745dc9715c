"""The agents ``journal hook`` and ``journal hooks`` know, by their command-line names.

A module of its own, so a command that only needs the names (the CLI's argument
choices) imports neither the hook path nor the installers.
"""

from __future__ import annotations

__all__ = ["AGENTS"]

AGENTS = ("claude-code", "codex", "gemini", "cursor", "opencode")
