"""Golden views of real sessions: what the real agents sent, replayed into the views.

``tests/projections/sessions`` holds the journals of real Claude Code 2.1.332,
Codex 0.171.0, OpenCode 1.18.33 and Gemini CLI 0.61.0 sessions (``record_sessions.py``
here and in ``tests/realagents`` recorded them from the npm packages against the mock
model APIs, hooks from ``journal hooks install``): hook events, ``notify``, OpenCode's
bus events, and the transcript, rollout and chat lines the hooks captured, each with
its ``received_at``. Each file is appended to a real LMDB journal (hook records with an
agent process standing for the agent that sent them), the engine catches up, and
the queries answer with an injected clock and process table.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from journal.store import LmdbJournal
from projections import queries
from projections.runs import Run
from projections.steps import Step
from projections.timestamps import iso_ns

SESSIONS = pathlib.Path(__file__).with_name("sessions")
BOOT = bytes(range(16))
AGENT = (31337, 4242, BOOT)
MINUTE = 60 * 10**9


def lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (SESSIONS / f"{name}.jsonl").read_text().splitlines()]


def load(
    journal: LmdbJournal, name: str, *, kinds: set[str] | None = None, later: int = 0
) -> list[Any]:
    """Append a recorded session (``later`` ns after it was recorded); return its lines."""
    found = [line for line in lines(name) if kinds is None or line["kind"] in kinds]
    for line in found:
        line["received_at"] += later
        journal.append(
            json.dumps(line["payload"]).encode(),
            source=line["source"],
            kind=line["kind"],
            received_at=line["received_at"],
            agent=AGENT if line["agent"] else None,
        )
    return found


def dead(pid: int, start: int, boot: str) -> bool:
    return False


def alive(pid: int, start: int, boot: str) -> bool:
    return (pid, start) == AGENT[:2]


class Replay:
    def __init__(self, journal: LmdbJournal, name: str, **kw: Any) -> None:
        self.journal = journal
        self.lines = load(journal, name, **kw)
        self.now = max(line["received_at"] for line in self.lines) + MINUTE

    def hooks(self, kind: str) -> list[dict[str, Any]]:
        return [line["payload"] for line in self.lines if line["kind"] == kind]

    def session(self) -> Run:
        (found,) = [r for r in queries.runs(self.journal, now=self.now) if r.parent_run_id is None]
        return found

    def run(self, ident: str, table: Any = dead) -> Run:
        return queries.run(self.journal, ident, now=self.now, alive=table).run

    def steps(self, ident: str) -> list[Step]:
        return queries.steps(self.journal, ident, now=self.now, alive=dead)


@pytest.fixture
def replay(lmdb_journal: LmdbJournal) -> Any:
    return lambda name, **kw: Replay(lmdb_journal, name, **kw)


def test_claude_echo_is_an_ended_run_with_its_agent_timed_step(replay: Any):
    """`echo hello`: one ended run, one prompt, its model from the transcript, one
    succeeded Bash step timed by Claude Code itself."""
    r = replay("claude-code__echo")
    run = r.run(r.session().run_id)
    assert (run.status, run.prompts, run.steps, run.models) == ("ended", 1, 1, ["claude-opus-5-5"])
    (post,) = r.hooks("PostToolUse")
    (step,) = r.steps(run.run_id)
    assert (step.tool_name, step.status, step.tool_use_id) == (
        "Bash",
        "succeeded",
        post["tool_use_id"],
    )
    assert (step.duration_ms, step.duration_source) == (post["duration_ms"], "agent")


def test_claude_missing_is_a_failed_step(replay: Any):
    """`ls /missing`: PostToolUseFailure fails the step with the error and Claude's timing."""
    r = replay("claude-code__missing")
    (step,) = r.steps(r.session().run_id)
    (failure,) = r.hooks("PostToolUseFailure")
    assert step.status == "failed"
    assert "No such file or directory" in (step.error or "")
    assert step.duration_ms == failure["duration_ms"]


def test_claude_refused_is_a_denied_step(replay: Any):
    """`touch` refused in -p: PreToolUse, PermissionRequest, PostToolBatch, the
    transcript's denial; the step is denied, not orphaned."""
    r = replay("claude-code__refused")
    assert not r.hooks("PostToolUse")
    (step,) = r.steps(r.session().run_id)
    assert (step.status, step.start_seq) == ("denied", r.lines.index(r.lines[3]) + 1)
    assert "needs approval" in (step.error or "")
    assert r.session().status == "ended"


def test_claude_subagent_is_an_ended_child_run_with_its_own_step(replay: Any):
    """The Agent tool: a succeeded step of the session; the subagent an ended child run
    whose Bash step is its own (from the hooks and the subagent transcript: one step)."""
    r = replay("claude-code__subagent")
    (start,) = r.hooks("SubagentStart")
    detail = queries.run(r.journal, r.session().run_id, now=r.now, alive=dead)
    (child,) = detail.children
    assert (child.agent_id, child.status, child.steps) == (start["agent_id"], "ended", 1)
    by_tool = {s.tool_name: s for s in detail.steps}
    assert (by_tool["Agent"].run_id, by_tool["Agent"].status) == (detail.run.run_id, "succeeded")
    assert (by_tool["Bash"].run_id, by_tool["Bash"].status) == (child.run_id, "succeeded")
    assert by_tool["Bash"].duration_source == "agent"
    assert len(detail.steps) == 2


@pytest.mark.parametrize(
    "name", ["claude-code__killed", "codex__killed", "opencode__killed", "gemini__killed"]
)
def test_a_killed_agents_session_is_interrupted_at_once_and_active_while_it_lives(
    replay: Any, name: str
):
    """kill -9 mid-turn: gone, its run is interrupted a minute later (no idle wait);
    were it alive, active."""
    r = replay(name)
    run_id = r.session().run_id
    gone, live = r.run(run_id, dead), r.run(run_id, alive)
    assert (gone.status, gone.turn_open, gone.agent_alive) == ("interrupted", True, False)
    assert gone.resume is not None
    assert gone.session_id in gone.resume
    assert (live.status, live.agent_alive) == ("active", True)
    found = queries.interrupted(r.journal, now=r.now, alive=dead)
    assert [one.run_id for one in found] == [run_id]
    expected = [] if gone.transcript_path is None else [(gone.source, gone.transcript_path)]
    assert queries.transcript_paths(found) == expected


def test_codex_echo_is_an_ended_run_with_one_prompt(replay: Any):
    """`codex exec`: ended, one prompt (hook, notify and rollout name one turn), its
    model, one succeeded step."""
    r = replay("codex__echo")
    run = r.run(r.session().run_id)
    assert (run.status, run.prompts, run.models, run.steps) == ("ended", 1, ["gpt-5.5"], 1)
    assert [s.status for s in r.steps(run.run_id)] == ["succeeded"]


def test_codex_missing_fails_by_the_rollouts_exit_code(replay: Any):
    """`ls /missing`: the hooks say nothing of exit code 2; the captured rollout does."""
    r = replay("codex__missing")
    (post,) = r.hooks("PostToolUse")
    (step,) = r.steps(r.session().run_id)
    assert (step.tool_use_id, step.status, step.error) == (
        post["tool_use_id"],
        "failed",
        "exit code 2",
    )
    assert step.end_seq == next(
        i for i, one in enumerate(r.lines, 1) if one["kind"] == "PostToolUse"
    )


@pytest.mark.parametrize("name", ["claude-code__echo", "claude-code__subagent", "codex__echo"])
def test_imported_history_lands_on_its_real_day_with_steps_and_prompts(replay: Any, name: str):
    """Only the transcript lines, appended a month later (an import): the run starts
    and lasts what the transcript says, with its steps and prompt, and is ended."""
    full = replay(name)
    live = full.run(full.session().run_id)
    with LmdbJournal(str(full.journal.home) + "-import") as other:
        month = 30 * 24 * 60 * MINUTE
        imported = Replay(other, name, kinds={"transcript"}, later=month)
        run = imported.run(live.run_id)
        assert (run.status, run.prompts, run.steps) == ("ended", 1, live.steps)
        assert abs(run.first_time - live.first_time) < MINUTE
        assert 0 < run.last_time - run.first_time < MINUTE
        assert min(line["received_at"] for line in imported.lines) > run.last_time + month / 2
        assert [s.status for s in imported.steps(run.run_id)] == [
            s.status for s in full.steps(live.run_id)
        ]


def _tool_part(r: Replay, status: str) -> dict[str, Any]:
    (part,) = [
        p["properties"]["part"]
        for p in r.hooks("message.part.updated")
        if p["properties"]["part"].get("type") == "tool"
        and p["properties"]["part"]["state"]["status"] == status
    ]
    return dict(part)


def test_opencode_echo_ends_at_session_idle_with_its_timed_bash_step(replay: Any):
    """`opencode run`: ended (session.idle ends the turn, no session.deleted), its
    model, one succeeded bash step lasting what the part's state.time says."""
    r = replay("opencode__echo")
    run = r.run(r.session().run_id)
    assert (run.status, run.prompts, run.steps, run.models) == ("ended", 1, 1, ["mock/mock-model"])
    assert run.turn_open is False
    part = _tool_part(r, "completed")
    (step,) = r.steps(run.run_id)
    assert (step.tool_name, step.tool_use_id, step.status) == ("bash", part["callID"], "succeeded")
    spent = part["state"]["time"]["end"] - part["state"]["time"]["start"]
    assert (step.duration_ms, step.duration_source) == (spent, "agent")


def test_opencode_missing_fails_by_metadata_exit(replay: Any):
    """`ls /missing`: a *completed* part whose state.metadata.exit is 2 is a failed step."""
    r = replay("opencode__missing")
    assert _tool_part(r, "completed")["state"]["metadata"]["exit"] == 2
    (step,) = r.steps(r.session().run_id)
    assert (step.status, step.error) == ("failed", "exit 2")
    # Its turn finished: ended once the agent is gone, active while it lives.
    assert r.run(r.session().run_id, dead).status == "ended"
    assert r.run(r.session().run_id, alive).status == "active"


def _ms(stamp: str) -> int:
    return iso_ns(stamp) // 10**6  # type: ignore[operator]


def test_gemini_echo_is_ended_with_its_model_from_the_chat_file(replay: Any):
    """`gemini -p`: ended, its model (only the chat lines name it), one succeeded
    run_shell_command step timed by Gemini's own hook timestamps."""
    r = replay("gemini__echo")
    run = r.run(r.session().run_id)
    assert (run.status, run.prompts, run.steps, run.models) == (
        "ended",
        1,
        1,
        ["gemini-2.5-flash"],
    )
    assert not any("model" in h for h in r.hooks("BeforeTool") + r.hooks("SessionStart"))
    (before,), (after,) = r.hooks("BeforeTool"), r.hooks("AfterTool")
    (step,) = r.steps(run.run_id)
    assert (step.tool_name, step.status) == ("run_shell_command", "succeeded")
    assert step.duration_ms == _ms(after["timestamp"]) - _ms(before["timestamp"])


def test_gemini_missing_fails_by_the_exit_code_in_its_text(replay: Any):
    """`ls /missing`: AfterTool has only ``Exit Code: 2`` in llmContent; the step fails."""
    r = replay("gemini__missing")
    (after,) = r.hooks("AfterTool")
    assert "Exit Code: 2" in after["tool_response"]["llmContent"]
    (step,) = r.steps(r.session().run_id)
    assert (step.status, step.error) == ("failed", "Exit Code: 2")


def test_gemini_chat_lines_after_another_record_name_no_model(lmdb_journal: LmdbJournal):
    """A sessionless chat line that does not directly follow a Gemini record is not
    given to any run: no model is better than another session's."""
    found = lines("gemini__echo")
    chat = [line for line in found if line["kind"] == "transcript" and "model" in line["payload"]]
    for line in found:
        if line in chat:
            continue
        lmdb_journal.append(
            json.dumps(line["payload"]).encode(),
            source=line["source"],
            kind=line["kind"],
            received_at=line["received_at"],
        )
    lmdb_journal.append(b'{"session_id":"other","hook_event_name":"Stop"}', source="codex")
    for line in chat:
        lmdb_journal.append(
            json.dumps(line["payload"]).encode(), source="gemini", kind="transcript"
        )
    now = max(line["received_at"] for line in found) + MINUTE
    (gemini,) = [r for r in queries.runs(lmdb_journal, now=now) if r.source == "gemini"]
    assert gemini.models == []
