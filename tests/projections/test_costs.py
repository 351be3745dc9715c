"""The costs view against known truth: generated transcripts, measured usages, real sessions.

Every figure here is known independently of the code under test: the truth the
transcript generator computes from list prices (``tools/bench/claude_tree.py``), the
usage measured on a real response that ccusage prices at $0.0203313, the costs
Claude Code itself wrote into its ``cost-state`` line, and the usage the mock model
API sent to the real Codex (``tests/projections/sessions``).
"""

from __future__ import annotations

import json
import pathlib
from decimal import Decimal

import pytest

from journal.agents.capture import capture
from journal.errors import AmbiguousPrefixError, UsageError
from journal.store import LmdbJournal
from projections.costqueries import costs, resolve_run, run_costs
from projections.costreport import BY, timezone
from projections.costs import CostsView
from projections.engine import Views
from projections.pricing import FIELDS, load_price_file
from tests.projections.costlines import (
    SESSIONS,
    Log,
    claude_response,
    claude_usage,
    codex_rollout_response,
    codex_usage,
    opencode_message,
    replay,
    tokens,
)
from tools.bench.claude_tree import generate

TOKENS = FIELDS[:5]
# A real response's usage (claude-sonnet-4-5, 1-hour cache writes): ccusage and
# genai-prices both price it at $0.0203313; without the 1-hour split, $0.0194583.
MEASURED = claude_usage(8, 475, write_1h=388, read=36181)


@pytest.fixture
def log(lmdb_journal: LmdbJournal) -> Log:
    return Log(lmdb_journal)


# -- Claude Code -------------------------------------------------------------------------


def test_a_generated_tree_equals_its_truth_per_day_session_and_model(
    lmdb_journal: LmdbJournal, tmp_path: pathlib.Path
):
    """Streamed partials, per-block lines, subagents, four models: tokens exact, dollars too."""
    truth = generate(str(tmp_path / "tree"), sessions=6, seed=7, turns=(3, 8))
    for path in sorted(tmp_path.glob("tree/**/*.jsonl")):
        capture(lmdb_journal, str(path), source="claude-code")
    log = Log(lmdb_journal)
    for by, table in (("day", truth.days), ("session", truth.sessions), ("model", truth.models)):
        rows = log.rows(by)
        assert set(rows) == set(table), by
        for key, want in table.items():
            got = rows[key]
            assert [got[f"{f}_tokens"] for f in ("input", "output")] == [
                want["input"],
                want["output"],
            ]
            assert got["cache_write_5m_tokens"] == want["cache_write_5m"]
            assert got["cache_write_1h_tokens"] == want["cache_write_1h"]
            assert got["cache_read_tokens"] == want["cache_read"]
            assert abs(Decimal(str(got["cost_usd"])) - want["cost"]) < Decimal("1e-9"), key
            assert got["cost_source"] == "computed"
    assert log.totals()["responses"] == truth.responses


@pytest.mark.parametrize("order", ["streamed", "final-first"], ids=str)
def test_a_streamed_response_counts_once_with_its_largest_usage(log: Log, order: str):
    """Five partial lines (output 1) and two block lines of one response: one response."""
    lines = claude_response("s1", "msg_a", MEASURED, tools=("toolu_1",), partials=5)
    log.lines("claude-code", lines if order == "streamed" else lines[::-1])
    totals = log.totals()
    assert tokens(totals) == (8, 475, 0, 388, 36181, 0)
    assert totals["responses"] == 1
    assert totals["cost_usd"] == pytest.approx(0.0203313, abs=1e-12)


def test_without_the_ttl_split_cache_writes_are_5_minute_ones(log: Log):
    """A usage without ``cache_creation`` prices its writes at the 5-minute rate."""
    usage = claude_usage(8, 475, write_5m=388, read=36181, split=False)
    log.lines("claude-code", claude_response("s1", "msg_a", usage))
    totals = log.totals()
    assert tokens(totals) == (8, 475, 388, 0, 36181, 0)
    assert totals["cost_usd"] == pytest.approx(0.0194583, abs=1e-12)


def test_thinking_tokens_are_reasoning_inside_the_output(log: Log):
    """``output_tokens_details.thinking_tokens`` is the reasoning part of output."""
    usage = {**claude_usage(10, 300), "output_tokens_details": {"thinking_tokens": 120}}
    log.lines("claude-code", claude_response("s1", "msg_a", usage))
    assert tokens(log.totals()) == (10, 300, 0, 0, 0, 120)


def test_a_subagent_is_a_child_run_rolled_into_its_parent(log: Log):
    """Subagent lines belong to SOURCE/SESSION/AGENT; the parent row rolls them up."""
    log.lines("claude-code", claude_response("s1", "msg_a", claude_usage(10, 100)))
    sub = claude_response("s1", "msg_b", claude_usage(5, 50), agent="a1", request_id="req_2")
    log.lines("claude-code", sub)
    rows = log.rows("run")
    parent, child = rows["claude-code/s1"], rows["claude-code/s1/a1"]
    assert (parent["input_tokens"], child["input_tokens"]) == (10, 5)
    assert child["parent_run_id"] == "claude-code/s1"
    assert parent["child_runs"] == ["claude-code/s1/a1"]
    assert parent["with_children"]["output_tokens"] == 150
    assert list(rows) == ["claude-code/s1", "claude-code/s1/a1"]
    assert log.rows("session")["s1"]["output_tokens"] == 150


def test_real_subagent_session_costs_what_claude_code_says_it_cost(log: Log):
    """The recorded Agent session: four responses, the Agent PostToolUse and the Task
    result carry the subagent's usage again, yet the totals equal Claude Code's own
    ``cost-state`` line (tokens and dollars)."""
    replay(log, "claude-code__subagent")
    text = (SESSIONS / "claude-code__subagent.jsonl").read_text()
    payloads = [json.loads(line) for line in text.splitlines()]
    (state,) = [p["payload"] for p in payloads if p["payload"].get("type") == "cost-state"]
    (usage,) = state["modelUsage"].values()
    totals = log.totals()
    assert (totals["input_tokens"], totals["output_tokens"]) == (
        usage["inputTokens"],
        usage["outputTokens"],
    )
    assert totals["cost_usd"] == pytest.approx(state["totalCostUSD"], abs=1e-12)
    rows = log.rows("run")
    assert len(rows) == 2
    (child,) = [key for key in rows if key.count("/") == 2]
    assert rows[child]["responses"] == 2


def test_a_sidechain_replay_and_a_copy_in_another_file_count_once(log: Log):
    """The same message id + request id anywhere counts once; a sidechain copy of a
    message under a new request id is a replay; lines without a message id each count."""
    log.lines("claude-code", claude_response("s1", "msg_a", claude_usage(100, 10)))
    log.lines("claude-code", claude_response("s1", "msg_a", claude_usage(100, 10), agent="x"))
    replay_ = claude_response(
        "s1", "msg_a", claude_usage(100, 10), request_id="req_9", sidechain=True
    )
    log.lines("claude-code", replay_)
    other = claude_response("s1", "msg_a", claude_usage(100, 10), request_id="req_7")
    log.lines("claude-code", other)  # not a sidechain: another request, counted (as ccusage)
    bare = claude_response("s1", "msg_z", claude_usage(1, 1))[0]
    del bare["message"]["id"]
    log.lines("claude-code", [bare, {**bare, "uuid": "other"}])
    assert log.totals()["input_tokens"] == 100 + 100 + 1 + 1


def test_synthetic_and_user_lines_are_not_responses(log: Log):
    """``<synthetic>`` messages and lines without ``message.usage`` count nothing."""
    log.lines("claude-code", claude_response("s1", "m", claude_usage(5, 5), model="<synthetic>"))
    user = {"type": "user", "sessionId": "s1", "message": {"role": "user", "content": "usage"}}
    task = {**user, "toolUseResult": {"usage": claude_usage(50, 50)}}
    log.lines("claude-code", [user, task])
    assert log.totals()["responses"] == 0


def test_an_unknown_model_is_unpriced_never_zero(log: Log):
    """Tokens counted, cost null, ``unpriced`` and named; a day mixing it is ``mixed``."""
    log.lines(
        "claude-code", claude_response("s1", "m1", claude_usage(100, 10), model="claude-mystery-9")
    )
    only = log.totals()
    assert (only["input_tokens"], only["cost_usd"], only["cost_source"]) == (100, None, "unpriced")
    assert only["unpriced_models"] == ["claude-mystery-9"]
    log.lines("claude-code", claude_response("s1", "m2", MEASURED, request_id="r2"))
    day = log.rows("day")["2025-11-01"]
    assert day["cost_source"] == "mixed"
    assert day["cost_usd"] == pytest.approx(0.0203313, abs=1e-12)
    assert day["unpriced_models"] == ["claude-mystery-9"]
    model = log.rows("model")["claude-mystery-9"]
    assert (model["cost_usd"], model["cost_source"]) == (None, "unpriced")


# -- reports ----------------------------------------------------------------------------


def _mixed(log: Log) -> None:
    log.lines("claude-code", claude_response("s1", "m1", MEASURED, tools=("toolu_a", "toolu_b")))
    log.lines(
        "claude-code",
        claude_response(
            "s1",
            "m2",
            claude_usage(3, 7),
            model="x-unknown",
            request_id="r2",
            at="2025-11-02T23:59:00Z",
        ),
    )
    log.lines(
        "claude-code",
        claude_response(
            "s1", "m3", claude_usage(1, 2), agent="ag", tools=("toolu_c",), request_id="r3"
        ),
    )
    log.lines("codex", [codex_rollout_response("t1", "resp_1", codex_usage(100, 20, 10, 2))])
    log.add(
        "opencode", opencode_message("ses_1", "msg_1", tokens={"input": 1, "output": 2}, cost=0.5)
    )
    log.add("cursor", {"conversation_id": "c1", "hook_event_name": "stop", "model": "auto"})


@pytest.mark.parametrize("by", BY, ids=str)
def test_rows_sum_to_the_totals(log: Log, by: str):
    """For every grouping, the rows' tokens and dollars add up to the totals."""
    _mixed(log)
    data = log.report(by, project_of=lambda cwd: cwd).to_dict()
    totals = data["totals"]
    for field in FIELDS:
        assert sum(row[field] or 0 for row in data["rows"]) == totals[field], field
    cost = sum(row["cost_usd"] or 0 for row in data["rows"])
    assert cost == pytest.approx(totals["cost_usd"], abs=1e-9)
    assert sum(row["tokens_unknown_runs"] for row in data["rows"]) == totals["tokens_unknown_runs"]
    assert totals["cost_source"] == "mixed"


def test_steps_split_their_response_and_the_rest_is_unattributed(log: Log):
    """A response issuing two tool calls is shared by both steps; run_costs' steps plus
    its unattributed part equal its total."""
    log.lines(
        "claude-code",
        claude_response("s1", "m1", claude_usage(9, 475), tools=("toolu_a", "toolu_b")),
    )
    log.lines("claude-code", claude_response("s1", "m2", claude_usage(4, 10), request_id="r2"))
    log.lines(
        "claude-code",
        claude_response(
            "s1", "m3", claude_usage(2, 2), agent="ag", tools=("toolu_c",), request_id="r3"
        ),
    )
    steps = log.rows("step")
    assert (
        steps["claude-code/s1#toolu_a"]["input_tokens"],
        steps["claude-code/s1#toolu_b"]["input_tokens"],
    ) == (5, 4)
    assert steps["claude-code/s1#-"]["unattributed"] is True
    assert steps["claude-code/s1#-"]["output_tokens"] == 10
    found = run_costs(log.journal, "s1", price_file="/nonexistent/prices.toml")
    assert found["run_id"] == "claude-code/s1"
    assert [c["run_id"] for c in found["children"]] == ["claude-code/s1/ag"]
    for field in FIELDS:
        parts = sum(step[field] for step in found["steps"]) + found["unattributed"][field]
        assert parts == found["totals"][field], field
    assert found["with_children"]["input_tokens"] == 15


def test_run_costs_resolves_prefixes_and_refuses_ambiguous_ones(log: Log):
    """A unique prefix names its run; an ambiguous one is an error; an unknown id is empty."""
    log.lines("claude-code", claude_response("abc1", "m1", claude_usage(1, 1)))
    log.lines("claude-code", claude_response("abc2", "m2", claude_usage(1, 1)))
    with Views(log.journal, [CostsView()]) as views:
        views.catch_up()
        with views.reading("costs") as state:
            assert resolve_run(state, "abc1")[0] == "claude-code/abc1"
            with pytest.raises(AmbiguousPrefixError, match="matches 2 runs"):
                resolve_run(state, "abc")
    assert run_costs(log.journal, "claude-code/nothing")["totals"]["responses"] == 0


def test_days_follow_the_time_zone_and_the_date_filters(log: Log):
    """A response at 23:30 UTC is on the next day in Kolkata; --since/--until include days."""
    log.lines(
        "claude-code",
        claude_response("s1", "m1", claude_usage(1, 1), at="2025-11-01T23:30:00.000Z"),
    )
    log.lines(
        "claude-code",
        claude_response(
            "s1", "m2", claude_usage(2, 2), request_id="r2", at="2025-11-03T10:00:00.000Z"
        ),
    )
    assert set(log.rows("day")) == {"2025-11-01", "2025-11-03"}
    kolkata = timezone("Asia/Kolkata")
    assert set(log.rows("day", tz=kolkata)) == {"2025-11-02", "2025-11-03"}
    import datetime

    only = log.rows("day", since=datetime.date(2025, 11, 2), until=datetime.date(2025, 11, 3))
    assert set(only) == {"2025-11-03"}
    with pytest.raises(UsageError, match="unknown time zone"):
        timezone("Mars/Olympus")


def test_the_price_file_overrides_and_adds_models(log: Log, tmp_path: pathlib.Path):
    """Models it names are priced by it at query time; an unknown model becomes priced."""
    log.lines(
        "claude-code", claude_response("s1", "m1", claude_usage(1_000_000, 0), model="house-model")
    )
    # 100k tokens: under the 200k tier, $3 per million for claude-sonnet-4-5
    log.lines("claude-code", claude_response("s1", "m2", claude_usage(100_000, 0), request_id="r2"))
    path = tmp_path / "prices.toml"
    path.write_text(
        '[models."house-model"]\ninput = 2.5\noutput = 10\n\n'
        '[models."claude-sonnet-4-5*"]\ninput = 1\noutput = 1\n'
    )
    rows = log.rows("model", prices=load_price_file(str(path)))
    assert rows["house-model"]["cost_usd"] == pytest.approx(2.5)
    assert rows["house-model"]["cost_source"] == "computed"
    assert rows["claude-sonnet-4-5-20250929"]["cost_usd"] == pytest.approx(0.1)
    assert log.rows("model")["claude-sonnet-4-5-20250929"]["cost_usd"] == pytest.approx(0.3)
    path.write_text('[models."x"]\ninput = "cheap"\noutput = 1\n')
    with pytest.raises(UsageError, match="input must be a number"):
        load_price_file(str(path))
    path.write_text("[models\n")
    with pytest.raises(UsageError, match="is not valid"):
        load_price_file(str(path))


def test_costs_reads_the_homes_price_file(log: Log, monkeypatch: pytest.MonkeyPatch):
    """``costs`` uses AGENT_JOURNAL_PRICES, else <home>/prices.toml."""
    log.lines(
        "claude-code", claude_response("s1", "m1", claude_usage(1_000_000, 0), model="house-model")
    )
    monkeypatch.delenv("AGENT_JOURNAL_PRICES", raising=False)
    pathlib.Path(log.journal.home, "prices.toml").write_text(
        '[models."house-model"]\ninput = 4\noutput = 4\n'
    )
    assert costs(log.journal, by="model").to_dict()["totals"]["cost_usd"] == pytest.approx(4.0)
    monkeypatch.setenv("AGENT_JOURNAL_PRICES", "/nonexistent/prices.toml")
    assert costs(log.journal, by="model").to_dict()["totals"]["cost_usd"] is None


def _oc_session(session: str, parent: str) -> dict[str, object]:
    info = {"id": session, "parentID": parent, "directory": "/w/oc"}
    return {"type": "session.created", "properties": {"sessionID": session, "info": info}}


def test_run_costs_rolls_every_descendant_up_and_splits_it_per_model(log: Log):
    """``journal run``'s costs: the run's own, each child's (grandchildren too), the
    sum with them, and that sum per model, most expensive first; the model rows and
    the children add up to the whole, and steps plus the rest to the run's own."""
    tokens = {"input": 1000, "output": 200, "reasoning": 0, "cache": {"read": 0, "write": 0}}
    log.add("opencode", opencode_message("ses_top", "m1", tokens=tokens, cost=0.5))
    log.add("opencode", _oc_session("ses_kid", "ses_top"))
    log.add("opencode", opencode_message("ses_kid", "m2", tokens=tokens, cost=0.25, model="gpt-5"))
    log.add("opencode", _oc_session("ses_grandkid", "ses_kid"))
    log.add("opencode", opencode_message("ses_grandkid", "m3", tokens=tokens, cost=0.125))
    found = run_costs(log.journal, "ses_top", price_file="/nonexistent/prices.toml")
    assert found["run_id"] == "opencode/ses_top"
    assert [(c["run_id"], c["parent_run_id"]) for c in found["children"]] == [
        ("opencode/ses_grandkid", "opencode/ses_kid"),
        ("opencode/ses_kid", "opencode/ses_top"),
    ]
    assert found["totals"]["cost_usd"] == 0.5
    assert found["with_children"]["cost_usd"] == 0.875
    assert found["with_children"]["cost_source"] == "provider"
    models = [(m["model"], m["cost_usd"], m["input_tokens"]) for m in found["models"]]
    assert models == [("claude-sonnet-4-5", 0.625, 2000), ("gpt-5", 0.25, 1000)]
    for field in FIELDS:
        whole = found["with_children"][field]
        assert sum(m[field] for m in found["models"]) == whole, field
        assert found["totals"][field] + sum(c[field] for c in found["children"]) == whole
        parts = sum(s[field] for s in found["steps"]) + found["unattributed"][field]
        assert parts == found["totals"][field], field


def test_run_costs_of_a_claude_session_names_its_unpriced_model(log: Log):
    """A session with a subagent and a model no price list knows: its tokens are in the
    sum and per model, the model is named unpriced, and the priced part keeps its $."""
    log.lines("claude-code", claude_response("s1", "m1", MEASURED))
    sub = claude_response("s1", "m2", claude_usage(5, 50), agent="a1", model="claude-mystery-2")
    log.lines("claude-code", sub)
    found = run_costs(log.journal, "claude-code/s1", price_file="/nonexistent/prices.toml")
    whole = found["with_children"]
    assert whole["unpriced_models"] == ["claude-mystery-2"]
    assert whole["cost_source"] == "mixed"
    assert whole["cost_usd"] == pytest.approx(0.0203313, abs=1e-12)
    by_model = {m["model"]: m for m in found["models"]}
    assert by_model["claude-mystery-2"]["cost_usd"] is None
    assert by_model["claude-mystery-2"]["cost_source"] == "unpriced"
    assert by_model["claude-mystery-2"]["output_tokens"] == 50
    assert found["models"][0]["model"] == "claude-sonnet-4-5-20250929"
