"""Real payloads through the journal and the engine into the runs and steps views.

Claude Code and OpenCode payloads come from ``/work/shared/fixtures`` (real events
that agents sent); Codex, Gemini and Cursor sessions are built from the shapes in
``/work/shared/reference/hook-sources.md``. Every record is appended to a real LMDB
journal with its own ``received_at``, the views catch up through the engine, and the
queries run on the engine's read state with its ``newest_time``.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from journal.cli.demo import demo_records
from journal.store import LmdbJournal
from projections.engine import Views
from projections.runs import DEFAULT_IDLE_NS, Run, get_run, interrupted_runs, list_runs
from projections.steps import Step, list_steps
from tests.conftest import FIXTURES

T0 = 1_780_000_000_000_000_000
IDLE_S = DEFAULT_IDLE_NS / 1e9


def fixture(name: str) -> dict[str, Any]:
    """A fixture payload, as the agent sent it (compact JSON, logger's own keys dropped)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    data.pop("logged_at", None)
    return data


class Journal:
    """A real journal that appends payloads at chosen times and queries the views."""

    def __init__(self, journal: LmdbJournal) -> None:
        self.journal = journal
        self.now = T0

    def add(
        self, source: str, payload: dict[str, Any], *, kind: str | None = None, gap_s: float = 1.0
    ) -> Journal:
        self.now += int(gap_s * 1e9)
        data = msgspec.json.encode(payload)
        self.journal.append(data, source=source, kind=kind, received_at=self.now)
        return self

    def claude(self, name: str, gap_s: float = 1.0) -> Journal:
        return self.add("claude-code", fixture(f"claude-code__acf__{name}"), gap_s=gap_s)

    def query(self) -> tuple[list[Run], dict[str, list[Step]], list[Run]]:
        """All runs, the steps of each run, and the interrupted runs."""
        with Views(self.journal) as views:
            views.catch_up()
            with views.reading_many(["runs", "steps"]) as states:
                runs_state, steps_state = states["runs"], states["steps"]
                newest = runs_state.newest_time
                assert newest == self.now
                runs = list_runs(runs_state, now=newest)
                steps = {
                    run.run_id: list_steps(steps_state, run.run_id, live=run.status == "active")
                    for run in runs
                }
                return runs, steps, interrupted_runs(runs_state, now=newest)

    def run(self, ident: str) -> Run:
        with Views(self.journal) as views:
            views.catch_up()
            with views.reading("runs") as state:
                return get_run(state, ident, now=state.newest_time)


@pytest.fixture
def log(lmdb_journal: LmdbJournal) -> Journal:
    return Journal(lmdb_journal)


def test_the_bash_pre_post_pair_is_one_succeeded_step_with_a_duration(log: Journal):
    """The real PreToolUse/PostToolUse Bash pair is one succeeded step timed 2.5 s."""
    pre = fixture("claude-code__acf__PreToolUse_Bash")
    log.claude("PreToolUse_Bash").claude("PostToolUse_Bash", gap_s=2.5)
    runs, steps, _ = log.query()
    run_id = f"claude-code/{pre['session_id']}"
    assert [(run.run_id, run.steps) for run in runs] == [(run_id, 1)]
    (step,) = steps[run_id]
    assert step.step_id == f"{run_id}#{pre['tool_use_id']}"
    assert (step.tool_name, step.status, step.paired_by) == (pre["tool_name"], "succeeded", "id")
    assert step.duration_ms == pytest.approx(2500.0)


def test_subagent_start_and_stop_give_an_ended_child_run(log: Journal):
    """The real SubagentStart/SubagentStop pair is a child run of its session, ended."""
    stop = fixture("claude-code__acf__SubagentStop")
    log.claude("SubagentStart").claude("SubagentStop", gap_s=30)
    parent_id = f"claude-code/{stop['session_id']}"
    child = log.run(f"{parent_id}/{stop['agent_id']}")
    assert (child.parent_run_id, child.status, child.agent_type) == (
        parent_id,
        "ended",
        stop["agent_type"],
    )
    assert child.transcript_path == stop["agent_transcript_path"]
    assert (child.first_seq, child.last_seq, child.resume) == (1, 2, None)
    assert log.run(parent_id).last_seq == 2


def test_a_session_without_session_end_is_interrupted_once_idle(log: Journal):
    """A session that never sent SessionEnd is listed by interrupted, with its resume command."""
    prompt = fixture("claude-code__acf__UserPromptSubmit")
    log.claude("UserPromptSubmit").claude("PreToolUse_Bash").claude("PostToolUse_Bash")
    log.claude("Stop").claude("SessionEnd_prompt_input_exit")  # another session, which ended
    log.claude("SessionStart_startup", gap_s=IDLE_S + 60)  # the newest record, much later
    runs, _, interrupted = log.query()
    by_id = {run.run_id: run for run in runs}
    run_id = f"claude-code/{prompt['session_id']}"
    assert [(r.run_id, r.last_seq, r.resume) for r in interrupted] == [
        (run_id, 3, f"claude --resume {prompt['session_id']}")
    ]
    ended = by_id[f"claude-code/{fixture('claude-code__acf__Stop')['session_id']}"]
    assert (ended.status, ended.end_reason) == ("ended", "prompt_input_exit")
    started = by_id[
        f"claude-code/{fixture('claude-code__acf__SessionStart_startup')['session_id']}"
    ]
    assert (started.status, started.start_sources) == ("active", ["startup"])
    assert started.models == [fixture("claude-code__acf__SessionStart_startup")["model"]]


def _tool_ids(line: dict[str, Any]) -> set[str]:
    """The call ids of a transcript line's tool_use and tool_result blocks."""
    content = (
        line.get("message", {}).get("content") if isinstance(line.get("message"), dict) else None
    )
    if not isinstance(content, list):
        return set()
    return {
        b.get("id") or b.get("tool_use_id")
        for b in content
        if b.get("type") in ("tool_use", "tool_result")
    }


def test_the_demo_session_folds_into_one_run_with_its_steps_and_subagent(log: Journal):
    """The bundled demo session: one ended run, a child run, a step per tool call id
    (hooks and transcript lines told of the same calls), each with both halves."""
    records = [(kind, json.loads(line)) for kind, line in demo_records()]
    for kind, event in records:
        log.add("claude-code", event, kind=kind)
    runs, steps, interrupted = log.query()
    hooks = [e for kind, e in records if kind is None]
    lines = [e for kind, e in records if kind is not None]
    main = next(run for run in runs if run.parent_run_id is None)
    assert (main.session_id, main.status, interrupted) == (hooks[0]["session_id"], "ended", [])
    prompts = sum(e["hook_event_name"] == "UserPromptSubmit" for e in hooks)
    calls = {e["tool_use_id"] for e in hooks if "tool_use_id" in e and "agent_id" not in e}
    calls |= {i for line in lines if "agentId" not in line for i in _tool_ids(line)}
    assert (main.prompts, main.steps, len(steps[main.run_id])) == (prompts, len(calls), len(calls))
    assert {step.status for step in steps[main.run_id]} == {"succeeded"}
    agents = {e["agent_id"] for e in hooks if "agent_id" in e}
    assert {run.agent_id for run in runs if run.parent_run_id == main.run_id} == agents


def bus(kind: str, **props: Any) -> dict[str, Any]:
    return {"type": kind, "properties": props}


def test_an_opencode_rejected_permission_denies_the_tool_step(log: Journal):
    """The real permission.asked names a tool call; rejecting it makes that step denied."""
    asked = fixture("opencode-bus__v1.18.5__permission.asked")
    props = asked["properties"]
    sid, call = props["sessionID"], props["tool"]["callID"]
    part = {"id": "prt_1", "sessionID": sid, "messageID": props["tool"]["messageID"]}
    part |= {"type": "tool", "callID": call, "tool": props["permission"]}
    log.add(
        "opencode",
        bus(
            "message.part.updated",
            sessionID=sid,
            part={
                **part,
                "state": {
                    "status": "running",
                    "input": {"command": "echo hi"},
                    "time": {"start": 1},
                },
            },
        ),
    )
    log.add("opencode", asked)
    log.add(
        "opencode", bus("permission.replied", sessionID=sid, requestID=props["id"], reply="reject")
    )
    log.add("opencode", fixture("opencode-bus__v1.18.5__server.heartbeat"))
    finish = fixture("opencode-bus__v1.18.5__step-finish_part") | {"sessionID": sid, "id": "p2"}
    log.add("opencode", bus("message.part.updated", sessionID=sid, part=finish))
    runs, steps, _ = log.query()
    assert [(run.run_id, run.steps) for run in runs] == [(f"opencode/{sid}", 1)]
    (step,) = steps[f"opencode/{sid}"]
    assert (step.step_id, step.status, step.tool_name) == (
        f"opencode/{sid}#{call}",
        "denied",
        props["permission"],
    )


def test_a_codex_session_from_hooks_and_notify(log: Journal):
    """Codex hooks and notify: one prompt per turn, one step, ended, resumable by id."""
    base = {"session_id": "019a-thread", "transcript_path": None, "cwd": "/w/c"}
    base |= {"model": "gpt-5-codex", "permission_mode": "default"}

    def hook(kind: str, **fields: Any) -> None:
        log.add("codex", {**base, "hook_event_name": kind, **fields})

    hook("SessionStart", source="startup")
    hook("UserPromptSubmit", prompt="fix the build", turn_id="turn-1")
    call = {"tool_name": "Bash", "tool_input": {"command": "make"}, "tool_use_id": "call_1"}
    hook("PreToolUse", **call)
    hook("PostToolUse", tool_response={"exit_code": 0}, turn_id="turn-1", **call)
    hook("Stop", stop_hook_active=False, last_assistant_message="done", turn_id="turn-1")
    notify = {"type": "agent-turn-complete", "thread-id": "019a-thread", "turn-id": "turn-1"}
    log.add("codex", notify | {"cwd": "/w/c", "input-messages": ["fix the build"]})
    hook("SessionEnd", reason="other")
    run = log.run("019a-thread")
    assert (run.run_id, run.status, run.prompts, run.steps) == ("codex/019a-thread", "ended", 1, 1)
    assert (run.models, run.resume) == (["gpt-5-codex"], "codex resume 019a-thread")


def test_a_quiet_gemini_session_whose_turn_finished_is_ended_and_its_tool_paired_by_order(
    log: Journal,
):
    """Gemini: BeforeTool/AfterTool pair by order; AfterAgent finished the turn, so a
    session without SessionEnd, quiet past the idle time, is ended, not interrupted."""
    stamps = iter(range(60))

    def hook(kind: str, **fields: Any) -> None:
        base = {"session_id": "8d2f-g", "transcript_path": "/g/8d2f.json", "cwd": "/w/g"}
        base["timestamp"] = f"2026-02-10T15:28:{next(stamps):02d}Z"
        log.add("gemini", {**base, "hook_event_name": kind, **fields})

    hook("SessionStart", source="startup")
    hook("BeforeAgent", prompt="list files")
    hook("BeforeModel", llm_request={"model": "gemini-2.5-pro", "messages": []})
    hook("BeforeTool", tool_name="run_shell_command", tool_input={"command": "ls"})
    hook("AfterTool", tool_name="run_shell_command", tool_response={"llmContent": "a b"})
    hook("AfterAgent", prompt="list files", prompt_response="a b", stop_hook_active=False)
    log.add("claude-code", fixture("claude-code__acf__Notification_idle_prompt"), gap_s=IDLE_S + 1)
    runs, steps, interrupted = log.query()
    assert interrupted == []
    (step,) = steps["gemini/8d2f-g"]
    assert (step.status, step.paired_by, step.tool_name) == (
        "succeeded",
        "order",
        "run_shell_command",
    )
    gemini = next(run for run in runs if run.source == "gemini")
    assert (gemini.prompts, gemini.models, gemini.cwd) == (1, ["gemini-2.5-pro"], "/w/g")
    assert (gemini.status, gemini.turn_open, gemini.resume) == (
        "ended",
        False,
        "gemini --resume 8d2f-g",
    )


def test_a_cursor_session_with_shell_steps_and_end(log: Journal):
    """Cursor: a run per conversation_id, the shell pair timed by Cursor, ended by sessionEnd."""
    base: dict[str, Any] = {"conversation_id": "c-77", "generation_id": "g-1", "model": "gpt-5"}
    base |= {"cursor_version": "2.0.77", "workspace_roots": ["/w/cur"], "user_email": None}

    def hook(kind: str, **fields: Any) -> None:
        log.add("cursor", {**base, "hook_event_name": kind, **fields})

    hook("sessionStart", session_id="c-77", is_background_agent=False, composer_mode="agent")
    hook("beforeSubmitPrompt", prompt="run tests", attachments=[])
    hook("beforeShellExecution", command="npm test", cwd="/w/cur")
    hook("afterShellExecution", command="npm test", output="ok", duration=4210)
    hook("afterFileEdit", file_path="/w/cur/a.ts", edits=[{"old_string": "a", "new_string": "b"}])
    hook("stop", status="completed", loop_count=0)
    hook("sessionEnd", session_id="c-77", reason="completed", final_status="completed")
    runs, steps, _ = log.query()
    (run,) = runs
    assert (run.run_id, run.status, run.prompts, run.cwd) == ("cursor/c-77", "ended", 1, "/w/cur")
    (step,) = steps["cursor/c-77"]
    assert (step.tool_name, step.status, step.duration_ms) == ("Shell", "succeeded", 4210)
    assert step.duration_source == "agent"
