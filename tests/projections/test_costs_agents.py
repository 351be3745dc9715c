"""The costs view on Codex, OpenCode, Gemini CLI and Cursor records, against known truth.

The Codex session is a real one (``tests/projections/costs_sessions``: Codex 0.171.0
against the mock model API, whose usage is known); the other records are built in
each agent's shapes (``tests/projections/costlines.py``).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from journal.agents.capture import capture
from journal.store import LmdbJournal
from tests.projections.costlines import (
    Log,
    codex_rollout_response,
    codex_token_count,
    codex_usage,
    gemini_chunk,
    opencode_message,
    opencode_part,
    replay,
    tokens,
)


@pytest.fixture
def log(lmdb_journal: LmdbJournal) -> Log:
    return Log(lmdb_journal)


# -- Codex ---------------------------------------------------------------------------------


def test_real_codex_session_counts_each_response_once(log: Log):
    """Codex 0.171 writes each response as a token_usage_record and a token_count;
    the second token_count's total is cumulative (240): never summed."""
    replay(log, "codex__echo")
    rows = log.rows("run")
    (run,) = rows
    assert run.startswith("codex/")
    row = rows[run]
    assert row["responses"] == 2
    assert tokens(row) == (200, 30, 0, 0, 40, 10)
    assert row["cost_source"] == "computed"
    # gpt-5.5: $5 input, $0.5 cache read, $30 output per million tokens
    assert row["cost_usd"] == pytest.approx(2 * (100 * 5 + 20 * 0.5 + 15 * 30) / 1e6, abs=1e-12)
    assert log.rows("model").keys() == {"gpt-5.5"}


def _codex_hook(sid: str, kind: str, **fields: Any) -> dict[str, Any]:
    path = f"/h/.codex/sessions/2025/10/29/rollout-2025-10-29T01-00-00-{sid}.jsonl"
    return {"session_id": sid, "transcript_path": path, "cwd": "/w/cx", "model": "gpt-5-codex"}


def test_older_codex_rollouts_use_last_token_usage_and_find_their_run(log: Log):
    """token_count only: last_token_usage per response, a repeated event and a
    rate-limit-only event skipped, cumulative totals never summed; lines placed in
    their run by session_meta, by the chunk they came in, by a turn id, and by the
    hook that named the rollout."""
    a, b = "019a-aaaa", "019a-bbbb"
    u1 = codex_usage(1000, 200, 50, 10)
    t1 = codex_usage(1000, 200, 50, 10)
    u2 = codex_usage(3000, 1000, 80, 0)
    t2 = codex_usage(4000, 1200, 130, 10)
    log.add("codex", {**_codex_hook(a, "Stop"), "hook_event_name": "Stop", "turn_id": "ta1"})
    log.lines(
        "codex",
        [
            {"timestamp": "2025-10-29T01:00:00Z", "type": "session_meta", "payload": {"id": a}},
            {
                "timestamp": "2025-10-29T01:00:00Z",
                "type": "turn_context",
                "payload": {"model": "gpt-5"},
            },
            codex_token_count(u1, t1),
            codex_token_count(u1, t1),  # the same event again: not a new response
            codex_token_count(None, None),  # rate limits only
        ],
    )
    log.add("codex", {**_codex_hook(b, "Stop"), "hook_event_name": "Stop", "turn_id": "tb1"})
    log.lines(
        "codex",  # a later chunk of b's rollout, no session_meta: the hook's run
        [codex_token_count(codex_usage(10, 0, 1, 0), codex_usage(10, 0, 1, 0))],
    )
    log.lines(
        "codex",  # a's second turn, named by its turn id
        [
            {
                "timestamp": "2025-10-29T01:05:00Z",
                "type": "turn_context",
                "payload": {"turn_id": "ta1", "model": "gpt-5"},
            },
            codex_token_count(u2, t2),
        ],
    )
    rows = log.rows("run")
    assert tokens(rows[f"codex/{a}"]) == (800 + 2000, 130, 0, 0, 1200, 10)
    assert rows[f"codex/{a}"]["responses"] == 2
    assert tokens(rows[f"codex/{b}"]) == (10, 1, 0, 0, 0, 0)
    # a's model is its turn_context's; b has none in its rollout: its hooks' model
    assert log.rows("model").keys() == {"gpt-5", "gpt-5-codex"}


def test_a_forked_rollout_repeating_its_parent_counts_nothing_twice(log: Log):
    """A response id (or a token_count line, byte for byte) seen before is not new."""
    line = codex_rollout_response("t1", "resp_1", codex_usage(100, 0, 10, 0))
    log.lines("codex", [line])
    log.lines("codex", [{**line, "payload": {**line["payload"], "thread_id": "t2"}}])
    assert log.totals()["responses"] == 1


# -- other agents --------------------------------------------------------------------------


def test_opencode_reports_its_own_cost_once_per_message(log: Log):
    """A message's step-finish parts are its model calls (provider cost); the message's
    own totals stand in only until they arrive; reasoning counts inside output."""
    tokens1 = {"input": 10, "output": 100, "reasoning": 20, "cache": {"read": 500, "write": 40}}
    tokens2 = {"input": 5, "output": 50, "reasoning": 0, "cache": {"read": 600, "write": 0}}
    both = {"input": 15, "output": 150, "reasoning": 20, "cache": {"read": 1100, "write": 40}}
    log.add("opencode", opencode_message("ses_1", "msg_1", tokens=tokens1, cost=0.01))
    assert log.totals()["cost_source"] == "provider"
    log.add(
        "opencode",
        opencode_part(
            "ses_1", "msg_1", {"id": "p1", "type": "step-finish", "tokens": tokens1, "cost": 0.01}
        ),
    )
    log.add(
        "opencode",
        opencode_part(
            "ses_1", "msg_1", {"id": "t1", "type": "tool", "callID": "call_1", "tool": "bash"}
        ),
    )
    log.add(
        "opencode",
        opencode_part(
            "ses_1", "msg_1", {"id": "p2", "type": "step-finish", "tokens": tokens2, "cost": 0.004}
        ),
    )
    log.add("opencode", opencode_message("ses_1", "msg_1", tokens=both, cost=0.014))
    totals = log.totals()
    assert tokens(totals) == (15, 170, 40, 0, 1100, 20)
    assert (totals["cost_source"], totals["responses"]) == ("provider", 1)
    assert totals["cost_usd"] == pytest.approx(0.014, abs=1e-12)
    assert "opencode/ses_1#call_1" in log.rows("step")


def test_gemini_keeps_a_calls_largest_chunk_and_adds_thoughts_to_output(log: Log):
    """Streamed AfterModel chunks of one request are one call; thoughts are output."""
    for candidates in (1, 40, 90):
        log.add("gemini", gemini_chunk("g1", "gemini-2.5-pro", 1000, candidates, 30))
    totals = log.totals()
    assert tokens(totals) == (1000, 120, 0, 0, 0, 30)
    assert (totals["responses"], totals["cost_source"]) == (1, "computed")


def test_cursor_runs_have_tokens_unknown_never_zero_dollars(log: Log):
    """Cursor hooks carry no tokens: the run is counted as tokens unknown, cost null."""
    event = {"conversation_id": "c1", "hook_event_name": "beforeSubmitPrompt", "model": "gpt-5"}
    log.add("cursor", {**event, "workspace_roots": ["/w/cur"]})
    log.add("cursor", {**event, "hook_event_name": "stop", "status": "completed"})
    row = log.rows("run")["cursor/c1"]
    assert (row["input_tokens"], row["cost_usd"], row["cost_source"]) == (None, None, "unpriced")
    assert row["tokens_unknown_runs"] == 1
    assert log.totals()["tokens_unknown_runs"] == 1


def test_an_imported_rollout_in_several_chunks_stays_in_its_run(
    lmdb_journal: LmdbJournal, tmp_path: pathlib.Path
):
    """A rollout captured in chunks (only the first has session_meta) is one run."""
    rollout = tmp_path / "rollout-2025-10-29T01-00-00-019a-cccc.jsonl"
    lines = [
        {
            "timestamp": "2025-10-29T01:00:00Z",
            "type": "session_meta",
            "payload": {"id": "019a-cccc"},
        }
    ]
    lines.append(
        {"timestamp": "2025-10-29T01:00:00Z", "type": "turn_context", "payload": {"model": "gpt-5"}}
    )
    total = [0, 0, 0, 0]
    for _ in range(6):
        total = [total[0] + 100, total[1] + 10, total[2] + 5, total[3] + 1]
        lines.append(codex_token_count(codex_usage(100, 10, 5, 1), codex_usage(*total)))
    rollout.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = capture(lmdb_journal, str(rollout), source="codex", chunk_bytes=300)
    assert report.complete
    rows = Log(lmdb_journal).rows("run")
    assert list(rows) == ["codex/019a-cccc"]
    assert tokens(rows["codex/019a-cccc"]) == (540, 30, 0, 0, 60, 6)
