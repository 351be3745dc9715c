"""The costs part of ``journal run``'s text (:func:`journal.cli.costtable.render_run_costs`)."""

from __future__ import annotations

from journal.cli.costtable import render_run_costs
from journal.store import LmdbJournal
from projections.costqueries import run_costs
from tests.projections.costlines import Log, claude_response, claude_usage

_NO_PRICES = "/nonexistent/prices.toml"


def _cells(lines: list[str], name: str) -> list[str]:
    """The cells of the table line whose first cell is ``name``."""
    for line in lines:
        if line.strip().startswith(name):
            return line.strip()[len(name) :].split()
    raise AssertionError(f"no line {name!r} in {lines}")


def test_a_run_shows_its_own_its_childrens_and_per_model_costs(lmdb_journal: LmdbJournal):
    """The run's own row, a row per child run, the sum with them, a row per model, the
    unpriced models named, and how much of the run its tool calls account for."""
    log = Log(lmdb_journal)
    usage = claude_usage(8, 475, write_1h=388, read=36181)
    log.lines("claude-code", claude_response("s1", "m1", usage, tools=("toolu_1",)))
    sub = claude_response("s1", "m2", claude_usage(5, 50), agent="a1", model="claude-mystery-2")
    log.lines("claude-code", sub)
    lines = render_run_costs(run_costs(lmdb_journal, "s1", price_file=_NO_PRICES))
    assert lines[0] == "costs:"
    assert lines[1].split() == [
        "INPUT", "OUTPUT", "CACHE", "WRITE", "CACHE", "READ", "TOTAL", "TOKENS", "COST"
    ]  # fmt: skip
    assert _cells(lines, "this run") == ["8", "475", "388", "36,181", "37,052", "$0.02"]
    assert _cells(lines, "child a1") == ["5", "50", "0", "0", "55", "unpriced"]
    assert _cells(lines, "with child runs") == ["13", "525", "388", "36,181", "37,107", "$0.02*"]
    assert _cells(lines, "└ claude-sonnet-4-5-20250929")[-1] == "$0.02"
    assert _cells(lines, "└ claude-mystery-2")[-1] == "unpriced"
    assert "  unpriced (tokens counted, no price known): claude-mystery-2" in lines
    assert "  * mixes computed, provider-reported or unpriced costs" in lines
    assert lines[-1] == "  this run: 1 tool call $0.02, the rest (no tool call) $0.00"


def test_a_run_without_usage_says_so(lmdb_journal: LmdbJournal):
    """A run that made no model call (or one the costs view never saw) has no table."""
    found = run_costs(lmdb_journal, "claude-code/nothing", price_file=_NO_PRICES)
    assert render_run_costs(found) == ["costs:         no usage recorded"]


def test_a_cursor_run_shows_tokens_unknown_never_zero(lmdb_journal: LmdbJournal):
    """Cursor reports no tokens: question marks and a note, not $0."""
    log = Log(lmdb_journal)
    log.add("cursor", {"conversation_id": "c1", "hook_event_name": "stop", "model": "gpt-5"})
    lines = render_run_costs(run_costs(lmdb_journal, "c1", price_file=_NO_PRICES))
    assert _cells(lines, "this run") == ["?", "?", "?", "?", "?", "unpriced"]
    assert "  tokens unknown: the agent reports none (Cursor)" in lines
