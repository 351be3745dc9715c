"""The steps fold on a MemoryState: pairing per agent, every status, faults."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from projections.runs import RunsView, list_runs
from projections.steps import KINDS, Step, StepsView, list_steps
from tests.projections.strategies import LogBuilder, fold, records_of

SID = "sess-1"
RUN = f"claude-code/{SID}"


class Log(LogBuilder):
    """A log builder that lists the steps of a run."""

    def steps(self, run_id: str = RUN, *, live: bool = True) -> list[Step]:
        return list_steps(fold(self.records(), StepsView()), run_id, live=live)


def tool(name: str = "Bash", call: str | None = "toolu_1", **more: Any) -> dict[str, Any]:
    ids = {"tool_use_id": call} if call is not None else {}
    return {"tool_name": name, "tool_input": {"command": "ls"}, **ids, **more}


def test_pre_and_post_with_one_tool_use_id_are_one_succeeded_step():
    """PreToolUse and PostToolUse sharing a tool_use_id pair into one succeeded step."""
    log = Log().claude("PreToolUse", **tool()).claude("PostToolUse", 1500, **tool())
    (step,) = log.steps()
    assert step.step_id == f"{RUN}#toolu_1"
    assert (step.status, step.tool_name, step.paired_by) == ("succeeded", "Bash", "id")
    assert (step.start_seq, step.end_seq) == (1, 2)
    assert step.duration_ms == pytest.approx(1500.0)
    assert step.duration_source == "received"


@pytest.mark.parametrize(
    ("end_kind", "status", "error"),
    [
        ("PostToolUse", "succeeded", None),
        ("PostToolUseFailure", "failed", "exit 1"),
        ("PermissionDenied", "denied", "classifier said no"),
    ],
    ids=["post", "failure", "permission-denied"],
)
def test_the_end_event_decides_the_status(end_kind: str, status: str, error: str | None):
    """Each Claude Code end event gives its own status and keeps the agent's reason."""
    log = Log().claude("PreToolUse", **tool())
    log.claude(end_kind, **tool(error="exit 1", reason="classifier said no"))
    (step,) = log.steps()
    assert (step.status, step.outcome, step.error) == (status, status, error)


def test_repeated_deliveries_of_start_and_end_make_one_step():
    """A repeated PreToolUse and a repeated PostToolUse do not create a second step."""
    log = Log().claude("PreToolUse", **tool()).again()
    log.claude("PostToolUse", **tool()).again()
    (step,) = log.steps()
    assert (step.start_seq, step.end_seq, step.status) == (1, 3, "succeeded")


def test_an_end_committed_before_its_start_is_completed_by_the_start():
    """Hooks run concurrently: a Post logged before its Pre still makes one paired step."""
    log = Log().claude("PostToolUse", **tool()).claude("PreToolUse", **tool())
    (step,) = log.steps()
    assert (step.start_seq, step.end_seq, step.status) == (2, 1, "succeeded")
    assert step.duration_ms is None  # received in the wrong order: no honest duration


def test_a_start_without_end_runs_while_the_run_is_live_and_is_orphaned_after():
    """A PreToolUse with no end is running in a live run and orphaned once it is not."""
    log = Log().claude("PreToolUse", **tool())
    assert [s.status for s in log.steps(live=True)] == ["running"]
    assert [s.status for s in log.steps(live=False)] == ["orphaned"]


def test_an_end_without_start_is_an_orphaned_step_that_keeps_its_outcome():
    """A PostToolUseFailure with no start is its own orphaned step, outcome failed."""
    (step,) = Log().claude("PostToolUseFailure", **tool(error="boom")).steps()
    assert (step.status, step.outcome, step.start_seq, step.end_seq) == (
        "orphaned",
        "failed",
        None,
        1,
    )


def test_legacy_payloads_without_ids_pair_by_order_per_tool_name():
    """Without tool_use_id, the oldest open start of the same tool takes the next end."""
    log = Log()
    log.claude("PreToolUse", **tool("Read", None)).claude("PreToolUse", **tool("Bash", None))
    log.claude("PreToolUse", **tool("Read", None, tool_input={"file_path": "b"}))
    log.claude("PostToolUse", **tool("Read", None)).claude("PostToolUse", **tool("Bash", None))
    steps = log.steps()
    assert [(s.tool_name, s.start_seq, s.end_seq, s.status) for s in steps] == [
        ("Read", 1, 4, "succeeded"),
        ("Bash", 2, 5, "succeeded"),
        ("Read", 3, None, "running"),
    ]
    assert {s.paired_by for s in steps} == {"order"}
    assert [s.step_id for s in steps] == [f"{RUN}#seq1", f"{RUN}#seq2", f"{RUN}#seq3"]


def test_a_subagents_tool_call_belongs_to_the_subagent_run():
    """A tool event with agent_id is a step of the child run and names the agent."""
    log = Log().claude("PreToolUse", **tool(agent_id="a1", agent_type="Explore"))
    log.claude("PostToolUse", **tool(agent_id="a1"))
    assert log.steps() == []
    (step,) = log.steps(f"{RUN}/a1")
    assert (step.run_id, step.agent_id, step.status) == (f"{RUN}/a1", "a1", "succeeded")


def gemini(kind: str, stamp: int, **fields: Any) -> dict[str, Any]:
    at = f"2026-02-01T10:00:{stamp:02d}Z"
    return {"session_id": "g1", "hook_event_name": kind, "timestamp": at, **fields}


def test_gemini_tools_pair_by_order_and_an_error_response_fails():
    """Gemini BeforeTool/AfterTool pair by order; tool_response.error makes it failed."""
    log = Log()
    log.add("gemini", "BeforeTool", gemini("BeforeTool", 1, tool_name="read_file"))
    log.add("gemini", "AfterTool", gemini("AfterTool", 2, tool_name="read_file"))
    log.add("gemini", "BeforeTool", gemini("BeforeTool", 3, tool_name="read_file"))
    failed = {"llmContent": "", "error": {"message": "no such file"}}
    log.add(
        "gemini", "AfterTool", gemini("AfterTool", 4, tool_name="read_file", tool_response=failed)
    )
    steps = log.steps("gemini/g1")
    assert [(s.status, s.paired_by) for s in steps] == [("succeeded", "order"), ("failed", "order")]
    assert steps[1].error == "no such file"


def test_identical_order_paired_deliveries_are_ignored():
    """A byte-identical repeat of an open start or of the last end adds nothing."""
    log = Log()
    log.add("gemini", "BeforeTool", gemini("BeforeTool", 1, tool_name="ls")).again()
    log.add("gemini", "AfterTool", gemini("AfterTool", 2, tool_name="ls")).again()
    (step,) = log.steps("gemini/g1")
    assert (step.start_seq, step.end_seq, step.status) == (1, 3, "succeeded")


def cursor(kind: str, generation: str = "gen-1", **fields: Any) -> dict[str, Any]:
    base = {"conversation_id": "c1", "generation_id": generation, "cursor_version": "2.0"}
    return {**base, "hook_event_name": kind, **fields}


def test_cursor_shell_and_mcp_pairs_use_the_agents_own_duration():
    """Cursor before/after shell and MCP events pair per generation; duration is Cursor's."""
    log = Log()
    log.add("cursor", "beforeShellExecution", cursor("beforeShellExecution", command="make"))
    log.add("cursor", "beforeMCPExecution", cursor("beforeMCPExecution", tool_name="q"))
    log.add("cursor", "afterMCPExecution", cursor("afterMCPExecution", tool_name="q", duration=7))
    after = cursor("afterShellExecution", command="make", duration=1234)
    log.add("cursor", "afterShellExecution", after)
    steps = log.steps("cursor/c1")
    assert [(s.tool_name, s.start_seq, s.end_seq) for s in steps] == [("Shell", 1, 4), ("q", 2, 3)]
    assert [(s.duration_ms, s.duration_source) for s in steps] == [(1234, "agent"), (7, "agent")]


def test_cursor_ends_never_pair_across_generations():
    """An after event of another generation does not close this generation's start."""
    log = Log()
    log.add("cursor", "beforeShellExecution", cursor("beforeShellExecution", "gen-1"))
    log.add("cursor", "afterShellExecution", cursor("afterShellExecution", "gen-2"))
    steps = log.steps("cursor/c1")
    assert [s.status for s in steps] == ["running", "orphaned"]


def test_cursor_tool_events_pair_by_tool_use_id_and_failures_fail():
    """Cursor preToolUse/postToolUseFailure pair by tool_use_id; the failure is failed."""
    log = Log()
    log.add("cursor", "preToolUse", cursor("preToolUse", tool_name="Read", tool_use_id="t9"))
    fields = {"tool_name": "Read", "tool_use_id": "t9", "error": "denied by fs"}
    log.add("cursor", "postToolUseFailure", cursor("postToolUseFailure", "gen-2", **fields))
    (step,) = log.steps("cursor/c1")
    assert (step.step_id, step.status, step.error) == ("cursor/c1#t9", "failed", "denied by fs")


def part(status: str, call: str = "call_1", **state: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "prt_1", "sessionID": "ses_1", "messageID": "msg_1"}
    body |= {"type": "tool", "callID": call, "tool": "bash", "state": {"status": status, **state}}
    return {"type": "message.part.updated", "properties": {"part": body}}


@pytest.mark.parametrize(
    ("final", "status"), [("completed", "succeeded"), ("error", "failed")], ids=["done", "error"]
)
def test_opencode_tool_part_updates_are_one_step(final: str, status: str):
    """Every update of one OpenCode tool part is one step; the final state decides."""
    log = Log()
    log.add("opencode", "message.part.updated", part("pending"))
    log.add("opencode", "message.part.updated", part("running", time={"start": 5}))
    done = part(final, time={"start": 5, "end": 905}, error="exit 2")
    log.add("opencode", "message.part.updated", done)
    (step,) = log.steps("opencode/ses_1")
    assert (step.step_id, step.status, step.start_seq, step.end_seq) == (
        "opencode/ses_1#call_1",
        status,
        1,
        3,
    )
    assert (step.duration_ms, step.duration_source) == (900, "agent")


def test_a_late_running_update_does_not_reopen_a_finished_opencode_step():
    """A 'running' update committed after 'completed' leaves the step succeeded."""
    log = Log()
    log.add("opencode", "message.part.updated", part("completed", time={"start": 1, "end": 2}))
    log.add("opencode", "message.part.updated", part("running"))
    assert [s.status for s in log.steps("opencode/ses_1")] == ["succeeded"]


@pytest.mark.parametrize(
    ("reply", "status"), [("reject", "denied"), ("once", "succeeded")], ids=["reject", "once"]
)
def test_an_opencode_permission_reply_is_paired_through_the_request(reply: str, status: str):
    """permission.asked names the call; a rejecting permission.replied denies that step."""
    log = Log()
    log.add("opencode", "message.part.updated", part("running"))
    asked: dict[str, Any] = {"id": "per_1", "sessionID": "ses_1", "permission": "bash"}
    asked["tool"] = {"messageID": "msg_1", "callID": "call_1"}
    log.add("opencode", "permission.asked", {"type": "permission.asked", "properties": asked})
    replied = {"sessionID": "ses_1", "requestID": "per_1", "reply": reply}
    log.add("opencode", "permission.replied", {"type": "permission.replied", "properties": replied})
    log.add("opencode", "message.part.updated", part("completed" if reply == "once" else "error"))
    assert [s.status for s in log.steps("opencode/ses_1")] == [status]


def test_a_reply_to_an_unknown_request_changes_nothing():
    """A rejecting reply whose request was never seen cannot be paired and is ignored."""
    log = Log().add("opencode", "message.part.updated", part("running"))
    replied = {"sessionID": "ses_1", "requestID": "per_unknown", "reply": "reject"}
    log.add("opencode", "permission.replied", {"type": "permission.replied", "properties": replied})
    assert [s.status for s in log.steps("opencode/ses_1")] == ["running"]


@pytest.mark.parametrize(
    "payload",
    [
        {"hook_event_name": "PreToolUse", "tool_use_id": "t1"},
        {"hook_event_name": "PreToolUse", "session_id": 42, "tool_use_id": "t1"},
        {"hook_event_name": "PreToolUse", "session_id": "x\u0000y"},
        {"hook_event_name": "PreToolUse", "session_id": "s" * 200},
    ],
    ids=["no-session", "session-not-a-string", "nul-in-id", "id-too-long"],
)
def test_tool_events_without_a_usable_session_are_skipped(payload: dict[str, Any]):
    """A tool event without a usable session id makes no step and no run."""
    log = Log().add("claude-code", "PreToolUse", payload)
    state = fold(records_of(log.events), StepsView())
    runs = fold(records_of(log.events), RunsView())
    assert state.data == {}
    assert list_runs(runs, now=log.now) == []


def test_a_wrongly_typed_call_id_falls_back_to_order_pairing():
    """A tool_use_id that is not a string is ignored: the step is paired by order."""
    log = Log().claude("PreToolUse", **tool(call=None, tool_use_id=7))
    log.claude("PostToolUse", **tool(call=None, tool_use_id=7))
    (step,) = log.steps()
    assert (step.paired_by, step.status, step.tool_use_id) == ("order", "succeeded", None)


def test_the_steps_view_reads_only_tool_kinds():
    """The view declares the kinds it reads, so the engine can skip the others."""
    assert {"PreToolUse", "AfterTool", "message.part.updated", "permission.replied"} <= KINDS
    assert "SessionStart" not in KINDS
    assert StepsView.kinds == KINDS


def test_step_json_has_the_contract_fields():
    """to_dict carries the DESIGN §5 field names of steps --json items."""
    (step,) = Log().claude("PreToolUse", **tool()).steps()
    fields = step.to_dict()
    for name in ("step_id", "run_id", "tool_name", "tool_use_id", "status", "start_seq"):
        assert name in fields
    assert {"end_seq", "duration_ms"} <= fields.keys()
    assert msgspec.json.decode(msgspec.json.encode(fields))["step_id"] == f"{RUN}#toolu_1"


def test_order_pairing_keeps_a_bounded_number_of_open_starts():
    """Past 64 open starts of one tool, the oldest is dropped from pairing, not the newest."""
    log = Log()
    for i in range(66):
        log.add("gemini", "BeforeTool", gemini("BeforeTool", i % 60, tool_name="ls", n=i))
    log.add("gemini", "AfterTool", gemini("AfterTool", 1, tool_name="ls"))
    steps = log.steps("gemini/g1")
    assert len(steps) == 66
    assert [s.start_seq for s in steps if s.end_seq is not None] == [3]
