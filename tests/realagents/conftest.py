"""The real agents' executables, installed from npm once per machine (see npm_cache)."""

from __future__ import annotations

import pathlib

import pytest

from tests.realagents import npm_cache


@pytest.fixture(scope="session")
def claude_bin() -> pathlib.Path:
    """The native ``claude`` executable of the pinned @anthropic-ai/claude-code."""
    return npm_cache.install(npm_cache.CLAUDE_CODE)


@pytest.fixture(scope="session")
def codex_bin() -> pathlib.Path:
    """The native ``codex`` executable of the pinned @openai/codex."""
    return npm_cache.install(npm_cache.CODEX)


@pytest.fixture(scope="session")
def opencode_bin() -> pathlib.Path:
    """The native ``opencode`` executable of the pinned opencode-ai."""
    return npm_cache.install(npm_cache.OPENCODE)


@pytest.fixture(scope="session")
def gemini_js() -> pathlib.Path:
    """``bundle/gemini.js`` of the pinned @google/gemini-cli (run with ``node``)."""
    return npm_cache.install(npm_cache.GEMINI)
