"""Steps that know their outcome: the records beyond Pre/PostToolUse that say how a call ended.

Claude Code's ``PostToolBatch`` (all a refused call gets) and ``duration_ms``, Codex
rollout items (the exit code the hook does not carry), Gemini's ``Exit Code:`` text,
OpenCode's ``state.metadata.exit``, transcript ``tool_use``/``tool_result`` pairs for
sessions known only from transcripts, and a call's halves in either order. Payloads
are the real ones in ``tests/fixtures/real`` where an agent sent one; the others are
built from ``/work/shared/reference/hook-sources.md`` (Gemini, OpenCode) and the
real rollouts in ``tests/projections/sessions``.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from projections.runs import RunsView, get_run
from projections.steps import Step, StepsView, list_steps
from tests.projections.strategies import LogBuilder, fold

REAL = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "real"


def real(name: str) -> dict[str, Any]:
    """A payload a real agent sent (tests/fixtures/real)."""
    data: dict[str, Any] = json.loads((REAL / f"{name}.json").read_text())
    return data


class Log(LogBuilder):
    def steps(self, run_id: str, *, live: bool = True) -> list[Step]:
        return list_steps(fold(self.records(), StepsView()), run_id, live=live)

    def count(self, run_id: str) -> int:
        return get_run(fold(self.records(), RunsView()), run_id, now=self.now).steps

    def hook(self, source: str, payload: dict[str, Any], gap_ms: float = 1000) -> Log:
        kind = payload.get("hook_event_name") or payload["type"]
        self.add(source, kind, payload, gap_ms)
        return self


CLAUDE = "claude-code__2.1.332__"


def test_a_refusal_only_post_tool_batch_reports_is_denied():
    """Refused in -p: PreToolUse, PermissionRequest (no id), PostToolBatch with the
    refusal text; no PostToolUse. The step is denied, with the refusal as its error."""
    pre = real(f"{CLAUDE}PreToolUse") | {"tool_input": {"command": "touch made-by-agent.txt"}}
    request = real(f"{CLAUDE}PermissionRequest") | {"session_id": pre["session_id"]}
    batch = real(f"{CLAUDE}PostToolBatch")
    refusal = "touch in '/ROOT/proj/made-by-agent.txt' needs approval."
    batch["tool_calls"][0]["tool_response"] = refusal
    log = Log().hook("claude-code", pre).hook("claude-code", request)
    log.hook("claude-code", batch)
    run_id = f"claude-code/{pre['session_id']}"
    (step,) = log.steps(run_id)
    assert (step.status, step.error, step.start_seq, step.end_seq) == ("denied", refusal, 1, 3)
    assert log.count(run_id) == 1


def test_a_batch_entry_after_a_permission_request_is_denied_whatever_its_text():
    """A call whose tool was asked permission for and that only the batch ends was refused."""
    pre = real(f"{CLAUDE}PreToolUse")
    request = real(f"{CLAUDE}PermissionRequest") | {"session_id": pre["session_id"]}
    batch = real(f"{CLAUDE}PostToolBatch")
    batch["tool_calls"][0]["tool_response"] = "The user said no."
    log = Log().hook("claude-code", pre).hook("claude-code", request).hook("claude-code", batch)
    assert log.steps(f"claude-code/{pre['session_id']}")[0].status == "denied"


def test_a_batch_never_overrides_the_post_tool_use_in_either_order():
    """PostToolBatch is a weak end: PostToolUse wins, before it or after it."""
    pre, post, batch = (
        real(f"{CLAUDE}{k}") for k in ("PreToolUse", "PostToolUse", "PostToolBatch")
    )
    batch["tool_calls"][0]["tool_response"] = "hello (the output mentions needs approval)"
    run_id = f"claude-code/{pre['session_id']}"
    for order in ([pre, post, batch], [pre, batch, post]):
        log = Log()
        for payload in order:
            log.hook("claude-code", payload)
        (step,) = log.steps(run_id)
        assert (step.status, step.end_seq) == ("succeeded", order.index(post) + 1)
        assert (step.duration_ms, step.duration_source) == (post["duration_ms"], "agent")


def test_claude_codes_own_duration_is_the_steps_duration():
    """PostToolUse duration_ms (37 ms here) is the duration, not the gap between hooks."""
    pre, post = real(f"{CLAUDE}PreToolUse"), real(f"{CLAUDE}PostToolUse")
    log = Log().hook("claude-code", pre).hook("claude-code", post, gap_ms=428)
    (step,) = log.steps(f"claude-code/{pre['session_id']}")
    assert (step.duration_ms, step.duration_source) == (37, "agent")


def test_an_agent_tool_call_is_one_step_of_the_session_and_its_subagent_a_child_run():
    """Claude Code 2.1.332's subagent tool is Agent: a step of the session; SubagentStart
    and SubagentStop make the child run."""
    pre, post = real(f"{CLAUDE}PreToolUse__Agent"), real(f"{CLAUDE}PostToolUse__Agent")
    start, stop = real(f"{CLAUDE}SubagentStart"), real(f"{CLAUDE}SubagentStop")
    for payload in (start, stop):
        payload["session_id"] = pre["session_id"]
    log = Log().hook("claude-code", pre).hook("claude-code", start).hook("claude-code", stop)
    log.hook("claude-code", post).hook("claude-code", real(f"{CLAUDE}PostToolBatch__Agent"))
    run_id = f"claude-code/{pre['session_id']}"
    (step,) = log.steps(run_id)
    assert (step.tool_name, step.status) == ("Agent", "succeeded")
    child = get_run(fold(log.records(), RunsView()), f"{run_id}/{start['agent_id']}", now=log.now)
    assert (child.parent_run_id, child.status) == (run_id, "ended")


def rollout(thread: str, call: str, status: str, code: int) -> dict[str, Any]:
    """A Codex rollout ``item_completed`` line of a shell command, as 0.171.0 writes it."""
    item = {"type": "CommandExecution", "id": call, "status": status, "exit_code": code}
    item["duration"] = {"secs": 0, "nanos": 14_647}
    return {
        "timestamp": "2026-12-01T20:14:25.395Z",
        "type": "event_msg",
        "payload": {
            "type": "item_completed",
            "thread_id": thread,
            "item": item,
            "started_at_ms": 1796156065394,
            "completed_at_ms": 1796156065395,
        },
    }


def test_a_codex_shell_call_fails_by_the_rollouts_exit_code():
    """PostToolUse of `ls /missing` has only the output; the rollout item's exit code 2
    fails the step, which keeps its hook halves and takes Codex's own duration."""
    pre, post = real("codex__0.171.0__PreToolUse"), real("codex__0.171.0__PostToolUse__failed")
    pre |= {"session_id": post["session_id"], "tool_use_id": post["tool_use_id"]}
    log = Log().hook("codex", pre).hook("codex", post)
    log.line(rollout(post["session_id"], post["tool_use_id"], "failed", 2), source="codex")
    run_id = f"codex/{post['session_id']}"
    (step,) = log.steps(run_id)
    assert (step.status, step.error, step.start_seq, step.end_seq) == (
        "failed",
        "exit code 2",
        1,
        2,
    )
    assert step.duration_ms == pytest.approx(0.014647)
    assert step.duration_source == "agent"
    assert log.count(run_id) == 1


def test_a_rollout_only_codex_call_is_a_whole_step_on_its_own_times():
    """A rollout item with no hook (an import) is one step, start and end in one record."""
    log = Log().line(rollout("th-1", "call_9", "completed", 0), source="codex")
    (step,) = log.steps("codex/th-1")
    assert (step.status, step.tool_name, step.start_seq, step.end_seq) == (
        "succeeded",
        "Bash",
        1,
        1,
    )
    assert step.start_time == 1796156065394 * 1_000_000


def gemini(kind: str, stamp: int, **fields: Any) -> dict[str, Any]:
    at = f"2026-02-01T10:00:{stamp:02d}Z"
    return {"session_id": "g1", "hook_event_name": kind, "timestamp": at, **fields}


@pytest.mark.parametrize(
    ("output", "status"),
    [
        ("Command: ls /missing\nOutput: no such file\nExit Code: 2\nSignal: (none)", "failed"),
        ("Command: ls\nOutput: a b\nExit Code: 0", "succeeded"),
        ("plain output of another tool", "succeeded"),
    ],
    ids=["exit-2", "exit-0", "no-exit-code"],
)
def test_a_gemini_shell_call_fails_by_the_exit_code_in_its_output(output: str, status: str):
    """Gemini's AfterTool sets no error for a failed command: only ``Exit Code: N`` says."""
    log = Log().hook("gemini", gemini("BeforeTool", 1, tool_name="run_shell_command"))
    response = {"llmContent": output, "returnDisplay": output}
    log.hook(
        "gemini", gemini("AfterTool", 3, tool_name="run_shell_command", tool_response=response)
    )
    (step,) = log.steps("gemini/g1")
    assert step.status == status
    assert step.duration_ms == pytest.approx(2000.0)  # Gemini's own timestamps, 2 s apart


def part(status: str, **state: Any) -> dict[str, Any]:
    body = {"id": "prt_1", "sessionID": "ses_1", "type": "tool", "callID": "c1", "tool": "bash"}
    return {
        "type": "message.part.updated",
        "properties": {"part": {**body, "state": {"status": status, **state}}},
    }


def test_an_opencode_bash_part_fails_by_its_exit_code():
    """OpenCode ends a failed bash part ``completed``; ``state.metadata.exit`` says 2."""
    times = {"time": {"start": 1796156065000, "end": 1796156065450}}
    log = Log().hook("opencode", part("running", **times))
    log.hook("opencode", part("completed", metadata={"exit": 2, "output": ""}, **times))
    (step,) = log.steps("opencode/ses_1")
    assert (step.status, step.error, step.duration_ms) == ("failed", "exit 2", 450)


def test_an_opencode_step_whose_end_landed_before_its_start_still_pairs():
    """The completed update committed before the pending one: one step, its start the
    pending record, its end the completed one, timed by OpenCode's own clock."""
    times = {"time": {"start": 1796156065000, "end": 1796156065450}}
    log = Log().hook("opencode", part("completed", **times)).hook("opencode", part("pending"))
    (step,) = log.steps("opencode/ses_1")
    assert (step.status, step.start_seq, step.end_seq) == ("succeeded", 2, 1)
    assert (step.start_time, step.end_time) == (1796156065000 * 10**6, 1796156065450 * 10**6)
    assert step.duration_ms == 450
    assert log.count("opencode/ses_1") == 1


def test_a_claude_end_before_its_start_pairs_by_id():
    """PostToolUse committed before PreToolUse: one succeeded step with both halves."""
    pre, post = real(f"{CLAUDE}PreToolUse"), real(f"{CLAUDE}PostToolUse")
    log = Log().hook("claude-code", post).hook("claude-code", pre)
    (step,) = log.steps(f"claude-code/{pre['session_id']}")
    assert (step.status, step.start_seq, step.end_seq) == ("succeeded", 2, 1)


def line(kind: str, stamp: str, content: Any, **more: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "sessionId": "old-1",
        "timestamp": stamp,
        "uuid": f"u-{stamp}",
        "message": {"role": kind, "content": content},
        **more,
    }


def test_transcript_only_sessions_get_steps_and_prompts_on_their_own_times():
    """Imported lines: tool_use/tool_result pairs are steps (is_error fails, a denial
    denies), user text lines are prompts, times are the lines' own."""
    use = [{"type": "tool_use", "id": f"toolu_{n}", "name": "Bash", "input": {}} for n in (1, 2, 3)]
    log = Log()
    log.line(line("user", "2026-11-10T09:00:00.000Z", "fix the build"))
    log.line(line("assistant", "2026-11-10T09:00:02.000Z", use))
    results = [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok", "is_error": False},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "content": "Exit code 2",
            "is_error": True,
        },
    ]
    log.line(line("user", "2026-11-10T09:00:05.500Z", results))
    denied = {"type": "tool_result", "tool_use_id": "toolu_3", "content": "no", "is_error": True}
    log.line(line("user", "2026-11-10T09:00:06.000Z", [denied], toolDenialKind="user-rejected"))
    log.line(line("user", "2026-11-10T09:01:00.000Z", [{"type": "text", "text": "thanks"}]))
    steps = log.steps("claude-code/old-1", live=False)
    assert [(s.tool_use_id, s.status) for s in steps] == [
        ("toolu_1", "succeeded"),
        ("toolu_2", "failed"),
        ("toolu_3", "denied"),
    ]
    assert steps[0].duration_ms == pytest.approx(3500.0)
    run = get_run(fold(log.records(), RunsView()), "old-1", now=log.now)
    assert (run.status, run.prompts, run.steps) == ("ended", 2, 3)
    assert run.last_time - run.first_time == 60 * 10**9


def test_hook_and_transcript_halves_of_one_call_are_one_step():
    """The hook's PreToolUse and the transcript's tool_result of the same id: one step."""
    pre = real(f"{CLAUDE}PreToolUse")
    sid, call = pre["session_id"], pre["tool_use_id"]
    log = Log().hook("claude-code", pre)
    result = [{"type": "tool_result", "tool_use_id": call, "content": "x", "is_error": True}]
    log.line(line("user", "2030-01-01T00:00:00Z", result, sessionId=sid))
    (step,) = log.steps(f"claude-code/{sid}")
    assert (step.status, step.start_seq, step.end_seq) == ("failed", 1, 2)
    assert log.count(f"claude-code/{sid}") == 1
