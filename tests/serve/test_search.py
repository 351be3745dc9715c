"""The text search of ``journal serve`` over a real LMDB journal, read a chunk at a time."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from journal.cli.web.search import search_runs
from journal.store import LmdbJournal
from tests.serve.conftest import failing_session, real


@pytest.fixture
def unit(home: str) -> Callable[[Callable[[LmdbJournal], Any]], Any]:
    """A journal with two real Claude Code sessions, opened for each unit of work."""
    with LmdbJournal(home) as journal:
        for name in ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse"):
            journal.append(
                json.dumps(real(f"claude-code__2.1.332__{name}")).encode(), source="claude-code"
            )
        for event in failing_session():
            journal.append(json.dumps(event).encode(), source="claude-code")

    def opened(work: Callable[[LmdbJournal], Any]) -> Any:
        with LmdbJournal(home, readonly=True) as journal:
            return work(journal)

    return opened


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_search_finds_prompts_and_tool_inputs_in_any_chunking(unit: Any, chunk: int) -> None:
    """Every word must be in a prompt or tool input; the chunk size changes nothing."""
    failing = "claude-code/" + failing_session()[0]["session_id"]
    assert search_runs(unit, "MISSING directory", chunk=chunk) == {failing}
    assert search_runs(unit, "ls /missing", chunk=chunk) == {failing}
    assert len(search_runs(unit, "echo", chunk=chunk)) == 1
    assert search_runs(unit, "missing nowhere-typed", chunk=chunk) == set()
    assert search_runs(unit, "   ", chunk=chunk) == set()
