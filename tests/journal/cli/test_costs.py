"""``journal costs`` through the real program: DESIGN §5's JSON, the table, the errors.

The journal holds a generated Claude Code transcript tree (``journal import``), a
Codex response, an OpenCode message with its provider cost and a response of a
model no price list knows; the truth of the tree comes from its generator.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN
from tests.projections.costlines import (
    claude_response,
    claude_usage,
    codex_rollout_response,
    codex_usage,
    opencode_message,
)
from tools.bench.claude_tree import Truth, generate

ROW_FIELDS = {
    "key",
    "input_tokens",
    "output_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
    "cost_usd",
    "cost_source",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Truth]:
    """A home with an imported tree and a few other agents' usage; the tree's truth."""
    root = tmp_path_factory.mktemp("costs")
    truth = generate(str(root / "tree"), sessions=5, seed=11, turns=(2, 6))
    home = str(root / "home")
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "import", "claude-code", str(root / "tree")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    with LmdbJournal(home) as journal:

        def add(source: str, payload: dict[str, Any], kind: str | None = None) -> None:
            data = msgspec.json.encode(payload)
            journal.append(data, source=source, kind=kind, received_at=1_780_000_000 * 10**9)

        context = {"type": "turn_context", "payload": {"model": "gpt-5-codex"}}
        add("codex", {"type": "session_meta", "payload": {"id": "t-1"}}, "transcript")
        add("codex", context, "transcript")  # the same capture: the same run
        response = codex_rollout_response("t-1", "resp_1", codex_usage(100, 20, 10, 2))
        add("codex", response, "transcript")
        tokens = {"input": 1, "output": 2, "reasoning": 0, "cache": {"read": 0, "write": 0}}
        add("opencode", opencode_message("ses_1", "msg_1", tokens=tokens, cost=0.5))
        for line in claude_response("u1", "m1", claude_usage(7, 3), model="claude-mystery-9"):
            add("claude-code", line, "transcript")
    return home, truth


def journal(home: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "costs", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AGENT_JOURNAL_PRICES": "/nonexistent/prices.toml"},
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def as_json(home: str, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(journal(home, *args, "--json").stdout)
    return out


@pytest.mark.parametrize("by", ["run", "session", "model", "day", "project", "step"], ids=str)
def test_json_has_the_fields_design_fixes(built: tuple[str, Truth], by: str) -> None:
    """``{"by", "rows", "totals"}``; every row and the totals have the §5 fields."""
    home, _ = built
    data = as_json(home, "--by", by)
    assert data["by"] == by
    assert data["rows"]
    for row in data["rows"]:
        assert row.keys() >= ROW_FIELDS
    assert data["totals"].keys() >= ROW_FIELDS - {"key"}
    assert data["totals"]["cost_source"] == "mixed"
    assert data["totals"]["unpriced_models"] == ["claude-mystery-9"]


def test_the_claude_days_equal_the_generated_truth(built: tuple[str, Truth]) -> None:
    """``--source claude-code --by day``: the tree's tokens per day, exactly, and dollars."""
    home, truth = built
    rows = {r["key"]: r for r in as_json(home, "--source", "claude-code")["rows"]}
    for day, want in truth.days.items():
        got = rows[day]
        assert got["input_tokens"] == want["input"]
        assert got["output_tokens"] == want["output"]
        assert got["cache_write_1h_tokens"] == want["cache_write_1h"]
        assert got["cache_read_tokens"] == want["cache_read"]
        assert abs(Decimal(str(got["cost_usd"])) - want["cost"]) < Decimal("1e-9")
    assert set(rows) - set(truth.days) == {"2025-11-01"}  # the unpriced response's day


def test_sources_filter_and_name_their_cost(built: tuple[str, Truth]) -> None:
    """``--source``: OpenCode's cost is the provider's, Codex's is computed."""
    home, _ = built
    opencode = as_json(home, "--source", "opencode", "--by", "run")["totals"]
    assert (opencode["cost_source"], opencode["cost_usd"]) == ("provider", 0.5)
    codex = as_json(home, "--source", "codex", "--by", "model")
    assert [(r["key"], r["cost_source"]) for r in codex["rows"]] == [("gpt-5-codex", "computed")]
    assert codex["totals"]["reasoning_tokens"] == 2
    assert codex["totals"]["cache_read_tokens"] == 20


def test_dates_filter_in_the_time_zone(built: tuple[str, Truth]) -> None:
    """``--since``/``--until`` keep the days between them, in ``--tz``."""
    home, truth = built
    days = sorted(truth.days)
    data = as_json(home, "--since", days[1], "--until", days[-2], "--source", "claude-code")
    assert [r["key"] for r in data["rows"]] == days[1:-1]
    shifted = as_json(home, "--tz", "Pacific/Kiritimati", "--source", "claude-code")
    assert [r["key"] for r in shifted["rows"]] != sorted(truth.days)


def test_breakdown_lists_each_rows_models(built: tuple[str, Truth]) -> None:
    """``--breakdown``: per-model parts under each row, summing to it."""
    home, _ = built
    for row in as_json(home, "--breakdown")["rows"]:
        assert sum(m["output_tokens"] for m in row["models"]) == row["output_tokens"]


def test_the_table_shows_rows_totals_and_what_is_unpriced(built: tuple[str, Truth]) -> None:
    """People get a table with a TOTAL line and the unpriced models named."""
    home, _ = built
    out = journal(home, "--by", "model").stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "INPUT", "OUTPUT"]
    assert any(line.startswith("TOTAL") and "$" in line for line in lines)
    assert "unpriced (tokens counted, no price known): claude-mystery-9" in out
    assert any("claude-mystery-9" in line and "unpriced" in line for line in lines[1:-1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tz", "Mars/Olympus"], "unknown time zone"),
        (["--since", "yesterday"], "--since: expected YYYY-MM-DD"),
        (["--by", "week"], "Invalid value for '--by'"),
    ],
    ids=["tz", "since", "by"],
)
def test_usage_errors_exit_2_with_one_line(
    built: tuple[str, Truth], args: list[str], message: str
) -> None:
    """Bad options: exit 2, the reason on stderr, no traceback."""
    home, _ = built
    done = journal(home, *args, check=False)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_malformed_price_file_is_an_error(built: tuple[str, Truth], tmp_path: pathlib.Path):
    """A price file that does not parse stops the report and says where."""
    home, _ = built
    bad = tmp_path / "prices.toml"
    bad.write_text("[models.x]\ninput = 1\n")
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "costs"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AGENT_JOURNAL_PRICES": str(bad)},
    )
    assert done.returncode == 2
    assert "needs at least input and output" in done.stderr


def test_demo_shows_a_costs_report(tmp_path: pathlib.Path) -> None:
    """journal demo prints the costs of its session by run (subagent under it) and model."""
    done = subprocess.run(
        [JOURNAL_BIN, "--home", str(tmp_path / "demo"), "demo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    after = done.stdout.split("$ journal costs --by run", 1)[1]
    lines = after.splitlines()
    assert lines[1].startswith("RUN")
    assert lines[3].startswith("  └ a8c1e6f")
    assert "$ journal costs --by model" in after
    assert "claude-haiku-4-5-20251001" in after
