"""The runs fold and its queries on a MemoryState: agents, statuses, lookups."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given

from journal.errors import AmbiguousPrefixError, NotFoundError, UsageError
from projections.runs import (
    DEFAULT_IDLE_NS,
    Run,
    RunsView,
    child_runs,
    get_run,
    interrupted_runs,
    list_runs,
    resume_command,
)
from projections.state import MemoryState
from projections.steps import StepsView, list_steps
from tests.projections.strategies import LogBuilder, LogEvent, fold, logs, records_of

SID = "sess-1"
RUN = f"claude-code/{SID}"
IDLE_MS = DEFAULT_IDLE_NS / 1e6


class Log(LogBuilder):
    """A log builder that answers run queries, by default as of its newest record."""

    def state(self) -> MemoryState:
        return fold(self.records(), RunsView())

    def run(self, ident: str = RUN, *, later_ms: float = 0) -> Run:
        newest = self.now + int(later_ms * 1e6)
        return get_run(self.state(), ident, now=newest)

    def runs(self, **filters: Any) -> list[Run]:
        return list_runs(self.state(), now=self.now, **filters)


def session(log: Log | None = None) -> Log:
    """A Claude Code session with one turn and one tool call, not ended."""
    log = log or Log(SID)
    log.claude(
        "SessionStart",
        source="startup",
        model="claude-sonnet-4-5-20250929",
        transcript_path="/t/sess-1.jsonl",
    )
    log.claude("UserPromptSubmit", prompt="hi")
    log.claude("PreToolUse", tool_name="Bash", tool_use_id="toolu_1")
    log.claude("PostToolUse", tool_name="Bash", tool_use_id="toolu_1")
    return log.claude("Stop", stop_hook_active=False)


def test_a_claude_session_keeps_its_facts():
    """A Claude Code session's run has its ids, seqs, times, cwd, model, prompts and steps."""
    log = session().claude("SessionEnd", reason="prompt_input_exit")
    run = log.run()
    assert (run.run_id, run.session_id, run.source) == (RUN, SID, "claude-code")
    assert (run.first_seq, run.last_seq) == (1, 6)
    assert (run.first_time, run.last_time) == (log.events[0].received_at, log.now)
    assert (run.cwd, run.transcript_path) == ("/w", "/t/sess-1.jsonl")
    assert run.models == ["claude-sonnet-4-5-20250929"]
    assert (run.prompts, run.steps) == (1, 1)
    assert (run.status, run.terminal, run.end_reason) == ("ended", True, "prompt_input_exit")
    assert run.start_sources == ["startup"]
    assert run.resume == f"claude --resume {SID}"


def open_turn(log: Log | None = None) -> Log:
    """A Claude Code session whose second turn is still running: a prompt, a tool call."""
    log = session(log)
    log.claude("UserPromptSubmit", prompt="and now?")
    return log.claude("PreToolUse", tool_name="Bash", tool_use_id="toolu_2")


@pytest.mark.parametrize(
    ("later_ms", "open_status", "finished_status"),
    [(0, "active", "active"), (IDLE_MS, "active", "active"), (IDLE_MS + 1, "interrupted", "ended")],
    ids=["just-now", "exactly-idle", "idle-longer"],
)
def test_without_a_known_agent_a_quiet_run_is_interrupted_or_ended_by_its_last_turn(
    later_ms: float, open_status: str, finished_status: str
):
    """No agent process known: quiet strictly longer than idle_ns, an open turn is
    interrupted and a finished one ended."""
    assert open_turn().run(later_ms=later_ms).status == open_status
    assert session().run(later_ms=later_ms).status == finished_status


def test_idle_time_is_configurable():
    """A shorter idle_ns turns a quiet run with an open turn interrupted sooner."""
    log = open_turn()
    state, now = log.state(), log.now + 10 * 1_000_000_000
    assert get_run(state, RUN, now=now).status == "active"
    assert get_run(state, RUN, now=now, idle_ns=1_000_000_000).status == "interrupted"
    assert [r.run_id for r in interrupted_runs(state, now=now, idle_ns=1)] == [RUN]


def test_stop_failure_as_last_turn_fails_the_run_until_the_next_prompt():
    """StopFailure fails the run (even after SessionEnd); a new prompt makes it active."""
    log = session().claude("StopFailure", error_type="rate_limit")
    failed = log.run(later_ms=IDLE_MS * 3)
    assert (failed.status, failed.error) == ("failed", "rate_limit")
    assert log.claude("Notification", message="waiting").run().status == "failed"
    assert log.claude("SessionEnd", reason="other").run().status == "failed"
    log.claude("UserPromptSubmit", prompt="retry")
    assert (log.run().status, log.run().error) == ("active", None)


def test_an_ended_run_resumed_with_the_same_id_is_live_again():
    """A SessionStart after SessionEnd (resume) makes the run active; lineage is kept."""
    log = session().claude("SessionEnd", reason="other")
    log.claude("SessionStart", source="resume")
    run = log.run()
    assert (run.status, run.terminal) == ("active", False)
    assert (run.start_sources, run.end_reason) == (["startup", "resume"], "other")


def test_events_trailing_an_end_do_not_revive_it():
    """A late PostToolUse or transcript line after SessionEnd leaves the run ended."""
    log = session().claude("SessionEnd", reason="other")
    log.claude("PostToolUse", tool_name="Bash", tool_use_id="toolu_late")
    line = {"type": "assistant", "sessionId": SID, "message": {"model": "claude-opus-4-1"}}
    log.add("claude-code", "transcript", line)
    run = log.run(later_ms=IDLE_MS * 2)
    assert (run.status, run.last_seq, run.steps) == ("ended", 8, 2)
    assert run.models == ["claude-sonnet-4-5-20250929", "claude-opus-4-1"]


def test_subagents_are_child_runs_whose_activity_keeps_the_parent_alive():
    """SubagentStart/Stop make an ended child run; its records count as parent activity."""
    log = session()
    who: dict[str, Any] = {"agent_id": "a1", "agent_type": "Explore"}
    log.claude("SubagentStart", **who)
    log.claude("PreToolUse", tool_name="Read", tool_use_id="toolu_2", **who)
    log.claude("SubagentStop", agent_transcript_path="/t/sess-1/subagents/agent-a1.jsonl", **who)
    child = log.run(f"{RUN}/a1")
    assert (child.parent_run_id, child.agent_id, child.agent_type) == (RUN, "a1", "Explore")
    assert (child.status, child.steps, child.resume) == ("ended", 1, None)
    assert child.transcript_path == "/t/sess-1/subagents/agent-a1.jsonl"
    parent = log.run(RUN)
    assert (parent.last_seq, parent.steps, parent.status) == (8, 1, "active")
    state = log.state()
    children = child_runs(state, RUN, now=log.now)
    assert [c.run_id for c in children] == [f"{RUN}/a1"]


def test_a_subagent_stop_without_agent_id_ends_nothing():
    """An old SubagentStop payload without agent_id does not end the main run."""
    log = session().claude("SubagentStop", stop_hook_active=False)
    assert (log.run().status, log.run().terminal) == ("active", False)


def test_a_child_record_seen_first_creates_its_parent_run():
    """A subagent's record before any of the session's own makes both runs."""
    log = Log().claude("PreToolUse", tool_name="Read", tool_use_id="t", agent_id="a9")
    assert [(r.run_id, r.parent_run_id) for r in log.runs()] == [(RUN, None), (f"{RUN}/a9", RUN)]


def test_codex_prompts_count_once_across_hooks_and_notify():
    """A Codex turn seen by UserPromptSubmit and by notify is one prompt; notify-only works."""
    log = Log()
    base = {"session_id": "th-1", "model": "gpt-5-codex", "cwd": "/c", "turn_id": "t1"}
    log.add("codex", "UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit"})
    notify = {"type": "agent-turn-complete", "thread-id": "th-1", "cwd": "/c"}
    log.add("codex", "agent-turn-complete", {**notify, "turn-id": "t1"})
    log.add("codex", "agent-turn-complete", {**notify, "turn-id": 2})
    run = log.run("codex/th-1")
    assert (run.prompts, run.models, run.cwd) == (2, ["gpt-5-codex"], "/c")
    assert run.resume == "codex resume th-1"


def test_gemini_prompts_and_models():
    """Gemini BeforeAgent counts prompts (an identical repeat once); BeforeModel has the model."""
    log = Log()

    def gemini(kind: str, stamp: int, **fields: Any) -> None:
        at = f"2026-02-01T10:00:{stamp:02d}Z"
        base = {"session_id": "g1", "hook_event_name": kind, "timestamp": at}
        log.add("gemini", kind, {**base, **fields})

    gemini("SessionStart", 1, source="startup")
    gemini("BeforeAgent", 2, prompt="fix")
    log.again()
    gemini("BeforeModel", 3, llm_request={"model": "gemini-2.5-pro", "messages": []})
    gemini("BeforeAgent", 4, prompt="fix")
    gemini("SessionEnd", 5, reason="exit")
    run = log.run("gemini/g1")
    assert (run.prompts, run.models, run.status) == (2, ["gemini-2.5-pro"], "ended")
    assert (run.start_sources, run.end_reason) == (["startup"], "exit")
    assert run.resume == "gemini --resume g1"


def cursor(log: Log, kind: str, conversation: str = "c1", **fields: Any) -> None:
    base: dict[str, Any] = {"conversation_id": conversation, "generation_id": "gen-1"}
    base["model"] = "gpt-5"
    base["workspace_roots"] = ["/w/cur"]
    log.add("cursor", kind, {**base, "hook_event_name": kind, **fields})


def test_cursor_runs_by_conversation_with_failed_loops_and_subagents():
    """Cursor: run per conversation_id, stop status error fails it, subagents link parents."""
    log = Log()
    cursor(log, "sessionStart", session_id="c1")
    cursor(log, "beforeSubmitPrompt", prompt="hi")
    log.again()
    cursor(log, "stop", status="error", loop_count=0)
    cursor(log, "subagentStart", "c2", parent_conversation_id="c1", subagent_id="c2")
    cursor(log, "subagentStop", "c2", parent_conversation_id="c1", subagent_id="c2")
    parent, child = log.run("cursor/c1"), log.run("cursor/c2")
    assert (parent.status, parent.error, parent.prompts) == ("failed", "error", 1)
    assert (parent.cwd, parent.models, parent.resume) == ("/w/cur", ["gpt-5"], None)
    assert (child.parent_run_id, child.status) == ("cursor/c1", "ended")
    cursor(log, "beforeSubmitPrompt", generation_id="gen-2", prompt="again")
    cursor(log, "sessionEnd", session_id="c1", reason="completed")
    assert (log.run("cursor/c1").status, log.run("cursor/c1").end_reason) == ("ended", "completed")


def bus(log: Log, kind: str, **props: Any) -> None:
    log.add("opencode", kind, {"type": kind, "properties": props})


def test_opencode_sessions_messages_errors_and_children():
    """OpenCode: session info, one prompt per user message id, models, errors, deletion."""
    log = Log()
    bus(log, "session.created", info={"id": "ses_1", "directory": "/w/oc"})
    bus(log, "session.created", info={"id": "ses_2", "parentID": "ses_1"})
    user = {"id": "msg_1", "sessionID": "ses_1", "role": "user"}
    bus(
        log, "message.updated", info={**user, "model": {"providerID": "anthropic", "modelID": "m1"}}
    )
    bus(log, "message.updated", sessionID="ses_1", info=user)
    assistant = {"id": "msg_2", "sessionID": "ses_1", "role": "assistant", "modelID": "m2"}
    bus(log, "message.updated", info={**assistant, "providerID": "openai"})
    bus(log, "session.error", sessionID="ses_1", error={"name": "APIError", "data": {}})
    run = log.run("opencode/ses_1")
    assert (run.cwd, run.prompts, run.models) == ("/w/oc", 1, ["anthropic/m1", "openai/m2"])
    assert (run.status, run.error, run.resume) == ("failed", "APIError", "opencode --session ses_1")
    assert log.run("opencode/ses_2").parent_run_id == "opencode/ses_1"
    bus(log, "message.updated", info={**user, "id": "msg_3"})
    assert log.run("opencode/ses_1").status == "active"
    bus(log, "session.deleted", info={"id": "ses_1"})
    deleted = log.run("opencode/ses_1")
    assert (deleted.status, deleted.end_reason) == ("ended", "deleted")


def test_a_run_known_only_from_transcript_lines_is_ended():
    """An imported transcript (no hook ever seen) is history: ended, models kept."""
    log = Log()
    for model in ("<synthetic>", "claude-opus-4-1", "claude-opus-4-1"):
        line = {"type": "assistant", "sessionId": "old", "message": {"model": model}, "cwd": "/o"}
        log.add("claude-code", "transcript", line)
    run = log.run("claude-code/old", later_ms=IDLE_MS * 10)
    assert (run.status, run.models, run.cwd) == ("ended", ["claude-opus-4-1"], "/o")


def lookup_log() -> Log:
    log = Log()
    for sid in ("abc-1", "abd-2"):
        log.claude("SessionStart", session_id=sid, source="startup")
    log.claude("SubagentStart", session_id="abc-1", agent_id="x1")
    log.add("codex", "SessionStart", {"hook_event_name": "SessionStart", "session_id": "abd-2"})
    return log


@pytest.mark.parametrize(
    ("ident", "run_id"),
    [
        ("claude-code/abc-1", "claude-code/abc-1"),
        ("claude-code/abc-1/x1", "claude-code/abc-1/x1"),
        ("abc-1", "claude-code/abc-1"),
        ("abc", "claude-code/abc-1"),
        ("claude-code/abc", "claude-code/abc-1"),
        ("codex/", "codex/abd-2"),
    ],
    ids=["run-id", "child-run-id", "session-id", "session-prefix", "run-prefix", "source-prefix"],
)
def test_a_run_is_found_by_run_id_session_id_or_unique_prefix(ident: str, run_id: str):
    """get_run accepts a run id, a session id or a unique prefix of either."""
    assert lookup_log().run(ident).run_id == run_id


@pytest.mark.parametrize(
    ("ident", "error", "message"),
    [
        ("ab", AmbiguousPrefixError, "'ab' matches 3 runs: claude-code/abc-1, claude-code/abd-2"),
        ("abd-2", AmbiguousPrefixError, "claude-code/abd-2, codex/abd-2"),
        ("zzz", NotFoundError, "no run matches 'zzz'"),
        ("", UsageError, "a run id or session id is required"),
    ],
    ids=["ambiguous-prefix", "session-in-two-agents", "unknown", "empty"],
)
def test_lookups_that_name_no_single_run_fail_clearly(ident: str, error: type, message: str):
    """Ambiguous, unknown and empty identifiers raise errors that say why."""
    with pytest.raises(error, match=message.replace("(", r"\(")):
        lookup_log().run(ident)


def test_list_runs_filters_by_status_and_source_oldest_first():
    """list_runs orders by first seq and filters by status and source."""
    log = session(Log("b-later"))
    log.claude("SessionStart", session_id="a-ended").claude("SessionEnd", session_id="a-ended")
    assert [r.run_id for r in log.runs()] == ["claude-code/b-later", "claude-code/a-ended"]
    assert [r.run_id for r in log.runs(status="ended")] == ["claude-code/a-ended"]
    assert log.runs(source="codex") == []
    with pytest.raises(UsageError, match="unknown status 'done'"):
        log.runs(status="done")


@pytest.mark.parametrize(
    ("source", "command"),
    [
        ("claude-code", "claude --resume s-1"),
        ("codex", "codex resume s-1"),
        ("gemini", "gemini --resume s-1"),
        ("opencode", "opencode --session s-1"),
        ("cursor", None),
        ("generic", None),
    ],
    ids=["claude-code", "codex", "gemini", "opencode", "cursor", "generic"],
)
def test_resume_commands_per_agent(source: str, command: str | None):
    """Each agent's resume command, or None where there is none."""
    assert resume_command(source, "s-1") == command


def test_resume_commands_quote_strange_session_ids():
    """A session id with shell metacharacters is quoted in the resume command."""
    assert resume_command("claude-code", "a b;rm") == "claude --resume 'a b;rm'"


def test_run_json_has_the_contract_fields():
    """to_dict carries the DESIGN §5 field names of runs --json items."""
    fields = session().run().to_dict()
    wanted = {"run_id", "session_id", "source", "status", "parent_run_id", "first_seq"}
    assert wanted | {"last_seq", "steps"} <= fields.keys()
    assert msgspec.json.decode(msgspec.json.encode(fields))["steps"] == 1


@given(logs())
def test_a_runs_step_count_equals_the_steps_listed_for_it(events: list[LogEvent]):
    """For any log, every run's step count is the number of steps the steps view lists."""
    records = records_of(events)
    runs_state, steps_state = fold(records, RunsView()), fold(records, StepsView())
    newest = records[-1].received_at if records else 0
    for run in list_runs(runs_state, now=newest):
        assert run.steps == len(list_steps(steps_state, run.run_id)), run.run_id
    listed = {run.run_id for run in list_runs(runs_state, now=newest)}
    step_runs = {key[2:].split(b"\x00")[0].decode() for key in steps_state.data if key[:2] == b"t:"}
    assert step_runs <= listed


def test_a_subagent_seen_only_through_its_tool_calls_still_gets_its_facts():
    """A child run whose first record is a tool start takes cwd from it."""
    log = Log().claude("PreToolUse", tool_name="Read", tool_use_id="t1", agent_id="a5", cwd="/sub")
    child = log.run(f"{RUN}/a5")
    assert (child.cwd, child.steps, child.status) == ("/sub", 1, "active")


def test_a_cursor_subagent_named_inside_its_parent_conversation_is_a_child_run():
    """subagentStart without a conversation of its own names a child run by subagent_id."""
    log = Log()
    cursor(log, "sessionStart", session_id="c1")
    cursor(log, "subagentStart", parent_conversation_id="c1", subagent_id="sa-9")
    cursor(log, "subagentStop", subagent_id="sa-9", status="error")
    child = log.run("cursor/c1/sa-9")
    assert (child.parent_run_id, child.agent_id, child.status) == ("cursor/c1", "sa-9", "failed")
    assert log.run("cursor/c1").status == "active"
