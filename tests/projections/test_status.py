"""A run's status at query time, from its facts, an injected clock and process table.

The fold records which agent process sent a run's hook events and when its last turn
started and ended; :func:`projections.runs.list_runs` and friends decide the status
from those, ``now`` and ``alive(pid, start, boot)``. Here both are injected: a
process table is a dict, the clock a number.
"""

from __future__ import annotations

from typing import Any

import pytest

from projections.runs import DEFAULT_IDLE_NS, Run, RunsView, get_run, interrupted_runs, list_runs
from projections.state import MemoryState
from tests.projections.strategies import BOOT, LogBuilder, fold

SID = "sess-1"
RUN = f"claude-code/{SID}"
AGENT = (4242, 1000, BOOT)
RESUMED = (4242, 2000, BOOT)  # the same pid reused by a later process
BOOT_TEXT = "00010203-0405-0607-0809-0a0b0c0d0e0f"
MINUTE = 60 * 1_000_000_000


class Table:
    """A process table: which (pid, start, boot) are alive; records what was asked."""

    def __init__(self, *running: tuple[int, int, bytes], known: bool = True) -> None:
        self.running = {(pid, start) for pid, start, _ in running}
        self.known = known
        self.asked: list[tuple[int, int, str]] = []

    def __call__(self, pid: int, start: int, boot: str) -> bool | None:
        self.asked.append((pid, start, boot))
        if not self.known:
            return None
        return boot == BOOT_TEXT and (pid, start) in self.running


class Log(LogBuilder):
    def state(self) -> MemoryState:
        return fold(self.records(), RunsView())

    def status(self, table: Table | None = None, *, later_ms: float = 0, **kw: Any) -> str:
        return self.run(table, later_ms=later_ms, **kw).status

    def run(self, table: Table | None = None, *, later_ms: float = 0, **kw: Any) -> Run:
        now = self.now + int(later_ms * 1e6)
        return get_run(self.state(), kw.pop("ident", RUN), now=now, alive=table, **kw)


def mid_turn(process: tuple[int, int, bytes] | None = AGENT) -> Log:
    """A Claude Code session killed mid-turn: a prompt and a tool call, no Stop."""
    log = Log(SID)
    log.process = process
    log.claude("SessionStart", source="startup", transcript_path="/t/s.jsonl")
    log.claude("UserPromptSubmit", prompt="go", prompt_id="p1")
    log.claude("PreToolUse", tool_name="Bash", tool_use_id="toolu_1")
    return log.claude("PostToolUse", tool_name="Bash", tool_use_id="toolu_1", duration_ms=9)


def finished(process: tuple[int, int, bytes] | None = AGENT) -> Log:
    """The same session after its turn finished (Stop), never sent SessionEnd."""
    return mid_turn(process).claude("Stop", stop_hook_active=False)


def test_a_dead_agent_mid_turn_is_interrupted_at_once():
    """Agent gone, last turn unfinished: interrupted now, not after the idle time."""
    run = mid_turn().run(Table())
    assert (run.status, run.turn_open, run.agent_alive) == ("interrupted", True, False)
    assert (run.agent_pid, run.agent_start, run.agent_boot) == (4242, 1000, BOOT_TEXT)
    assert run.resume == f"claude --resume {SID}"


def test_a_dead_agent_after_a_finished_turn_is_ended_without_session_end():
    """Agent gone after Stop: the run is ended, though SessionEnd never came."""
    run = finished().run(Table())
    assert (run.status, run.turn_open, run.terminal) == ("ended", False, False)


@pytest.mark.parametrize("log", [mid_turn, finished], ids=["mid-turn", "finished"])
def test_a_live_agent_is_active_however_quiet(log: Any):
    """A live agent process keeps its run active, quiet for days or not."""
    assert log().status(Table(AGENT), later_ms=3 * 24 * 3600 * 1000) == "active"


def test_a_reused_pid_is_another_process():
    """The same pid with another start time is not the agent: its run is interrupted."""
    assert mid_turn().status(Table(RESUMED)) == "interrupted"


@pytest.mark.parametrize(
    ("log", "later_ms", "status"),
    [
        (mid_turn, 0, "active"),
        (mid_turn, DEFAULT_IDLE_NS / 1e6 + 1, "interrupted"),
        (finished, 0, "active"),
        (finished, DEFAULT_IDLE_NS / 1e6 + 1, "ended"),
    ],
    ids=["open-recent", "open-quiet", "finished-recent", "finished-quiet"],
)
def test_where_liveness_is_unknown_the_clock_decides(log: Any, later_ms: float, status: str):
    """No agent recorded (old records), or a table that cannot tell: quiet past the idle
    time against now, an open turn is interrupted and a finished one ended."""
    assert log(None).status(Table(), later_ms=later_ms) == status
    assert log(AGENT).status(Table(known=False), later_ms=later_ms) == status
    assert log(AGENT).status(None, later_ms=later_ms) == status


def test_the_crashed_session_that_is_the_last_record_is_interrupted_by_the_clock():
    """Quiet is measured against now, not the newest record: the last thing that
    happened may be the crash."""
    log = mid_turn(None)
    state = log.state()
    assert get_run(state, RUN, now=log.now).status == "active"
    later = log.now + 31 * MINUTE
    assert [r.run_id for r in interrupted_runs(state, now=later)] == [RUN]
    assert [r.run_id for r in interrupted_runs(state, now=later, idle_ns=60 * MINUTE)] == []


def test_a_resumed_session_is_judged_by_its_newest_process():
    """After a resume in a new process, the old process being gone does not matter."""
    log = finished()
    log.process = RESUMED
    log.claude("SessionStart", source="resume").claude("UserPromptSubmit", prompt="more")
    assert log.status(Table(RESUMED)) == "active"
    assert log.status(Table(AGENT)) == "interrupted"  # the new one died mid-turn


def test_a_late_delivery_from_the_old_process_does_not_replace_the_new_one():
    """A spooled record of the replaced process, older than the new one's, changes nothing."""
    log = finished()
    log.process = RESUMED
    log.claude("SessionStart", source="resume")
    old = log.events[1]  # the old process's prompt, delivered again (a spool drain)
    log.add("claude-code", "UserPromptSubmit", {}, process=AGENT)
    log.events[-1] = type(old)(old.source, old.kind, old.payload, old.received_at, AGENT)
    assert log.run(Table(RESUMED)).agent_start == RESUMED[1]


def test_terminal_and_failed_runs_never_ask_the_process_table():
    """SessionEnd ends a run, StopFailure fails it, whatever the table says (not asked)."""
    table = Table(AGENT)
    assert finished().claude("SessionEnd", reason="other").status(table) == "ended"
    assert mid_turn().claude("StopFailure", error_type="rate_limit").status(table) == "failed"
    assert table.asked == []


def test_the_process_table_is_asked_once_per_process_per_query():
    """Listing many runs of one agent process asks the table about it once."""
    log = Log()
    log.process = AGENT
    for n in range(5):
        log.claude("UserPromptSubmit", session_id=f"s{n}", prompt="hi")
    table = Table()
    found = list_runs(log.state(), now=log.now, alive=table)
    assert [r.status for r in found] == ["interrupted"] * 5
    assert table.asked == [(4242, 1000, BOOT_TEXT)]


def test_a_subagent_of_a_dead_agent_is_interrupted_with_its_session():
    """A subagent cut off with its agent is interrupted too (no resume of its own)."""
    log = mid_turn()
    who: dict[str, Any] = {"agent_id": "a1", "agent_type": "Explore"}
    log.claude("PreToolUse", tool_name="Agent", tool_use_id="toolu_2")
    log.claude("SubagentStart", **who).claude("PreToolUse", tool_name="Read", **who)
    child = log.run(Table(), ident=f"{RUN}/a1")
    assert (child.status, child.resume, child.parent_run_id) == ("interrupted", None, RUN)
    log.claude("SubagentStop", agent_transcript_path="/t/s/subagents/agent-a1.jsonl", **who)
    assert log.run(Table(), ident=f"{RUN}/a1").status == "ended"


def bus(log: Log, kind: str, **props: Any) -> None:
    log.add("opencode", kind, {"type": kind, "properties": props})


def opencode_turn(idle: bool) -> Log:
    """An ``opencode run``: a user message, a tool part, and session.idle if it finished."""
    log = Log()
    log.process = AGENT
    bus(log, "session.created", info={"id": "ses_1", "directory": "/w"})
    user = {"id": "msg_1", "sessionID": "ses_1", "role": "user", "time": {"created": 1}}
    bus(log, "message.updated", info=user)
    part = {"id": "prt_1", "sessionID": "ses_1", "type": "tool", "callID": "c1", "tool": "bash"}
    bus(log, "message.part.updated", part={**part, "state": {"status": "running"}})
    if idle:
        bus(log, "session.idle", sessionID="ses_1")
    return log


def test_a_finished_opencode_run_is_ended_and_a_killed_one_interrupted():
    """session.idle ends OpenCode's turn: once opencode exits its run is ended; killed
    before it, interrupted; while it runs, active."""
    assert opencode_turn(True).status(Table(), ident="opencode/ses_1") == "ended"
    assert opencode_turn(False).status(Table(), ident="opencode/ses_1") == "interrupted"
    assert opencode_turn(False).status(Table(AGENT), ident="opencode/ses_1") == "active"


@pytest.mark.parametrize(
    ("source", "kind", "payload"),
    [
        ("codex", "Stop", {"hook_event_name": "Stop", "session_id": "t1", "turn_id": "u1"}),
        ("codex", "agent-turn-complete", {"type": "agent-turn-complete", "thread-id": "t1"}),
        ("gemini", "AfterAgent", {"hook_event_name": "AfterAgent", "session_id": "t1"}),
        ("cursor", "stop", {"hook_event_name": "stop", "conversation_id": "t1"}),
    ],
    ids=["codex-stop", "codex-notify", "gemini-after-agent", "cursor-stop"],
)
def test_each_agents_turn_end_finishes_the_turn(source: str, kind: str, payload: dict[str, Any]):
    """Every agent's turn-complete event closes the turn its prompt opened."""
    log = Log()
    log.process = AGENT
    prompt = {"BeforeAgent": "gemini", "beforeSubmitPrompt": "cursor"}
    name = next((k for k, v in prompt.items() if v == source), "UserPromptSubmit")
    ids = {"conversation_id": "t1"} if source == "cursor" else {"session_id": "t1"}
    log.add(source, name, {"hook_event_name": name, **ids})
    assert log.status(Table(), ident=f"{source}/t1") == "interrupted"
    log.add(source, kind, payload)
    assert log.status(Table(), ident=f"{source}/t1") == "ended"


def test_a_late_tool_end_after_stop_does_not_reopen_the_turn():
    """A PostToolUse committed after Stop but stamped before it leaves the turn closed."""
    log = mid_turn().claude("PreToolUse", tool_name="Read", tool_use_id="toolu_9")
    log.claude("Stop", stop_hook_active=False)
    late = {"session_id": SID, "hook_event_name": "PostToolUse", "tool_use_id": "toolu_9"}
    log.add("claude-code", "PostToolUse", late)
    # The late hook's own received_at is older than Stop's: it started first.
    last = log.events[-1]
    stop = log.events[-2]
    log.events[-1] = type(last)(
        last.source, last.kind, last.payload, stop.received_at - 1, last.agent
    )
    assert log.status(Table()) == "ended"
