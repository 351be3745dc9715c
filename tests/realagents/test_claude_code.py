"""The real Claude Code (npm, native binary) on the mock Messages API, hooks from the installer.

Each scenario runs ``claude -p`` once (module-scoped fixtures, ~1-2 s each) and the
tests assert on what ``journal log|runs|steps|interrupted --json`` make of it: the
outcome, duration and status Claude Code itself saw.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from tests.realagents import harness, npm_cache
from tests.realagents.harness import AgentRun

pytestmark = pytest.mark.slow

VERSION = npm_cache.CLAUDE_CODE.version
MODEL_CALL = "POST /v1/messages?beta=true"


def _run(factory: pytest.TempPathFactory, claude: pathlib.Path, name: str, **kw: Any) -> AgentRun:
    root = factory.mktemp(f"claude-{name}")
    return harness.run_claude(claude, VERSION, root, kw.pop("command"), **kw)


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory, claude_bin: pathlib.Path) -> AgentRun:
    """``echo hello`` with every permission granted: runs to the end."""
    return _run(tmp_path_factory, claude_bin, "echo", command="echo hello")


@pytest.fixture(scope="module")
def missing(tmp_path_factory: pytest.TempPathFactory, claude_bin: pathlib.Path) -> AgentRun:
    """``ls /missing``: the command fails with exit code 2."""
    return _run(tmp_path_factory, claude_bin, "missing", command="ls /missing")


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory, claude_bin: pathlib.Path) -> AgentRun:
    """``touch`` in ``--permission-mode default``: ``-p`` cannot ask, so it refuses."""
    return _run(
        tmp_path_factory,
        claude_bin,
        "refused",
        command="touch made-by-agent.txt",
        permission_mode="default",
    )


@pytest.fixture(scope="module")
def subagent(tmp_path_factory: pytest.TempPathFactory, claude_bin: pathlib.Path) -> AgentRun:
    """The ``Agent`` tool in the foreground; the subagent runs ``echo hello``."""
    return _run(tmp_path_factory, claude_bin, "subagent", command="echo hello", subagent=True)


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory, claude_bin: pathlib.Path) -> AgentRun:
    """``echo hello``, then the answer to the tool result hangs and claude gets SIGKILL."""
    return _run(tmp_path_factory, claude_bin, "killed", command="echo hello", stall=True)


def _one_run(run: AgentRun) -> dict[str, Any]:
    runs = [r for r in run.journal("runs", "--json") if r["parent_run_id"] is None]
    assert len(runs) == 1, runs
    return dict(runs[0])


# --- A command that succeeds -----------------------------------------------------------


def test_every_hook_event_lands(echo: AgentRun) -> None:
    """Each event of a one-tool turn is journalled once, in order, then the transcript."""
    assert echo.returncode == 0, echo.describe()
    kinds = echo.kinds()
    hooks = [k for k in kinds if k != "transcript"]
    assert [k for k in hooks if k != "InstructionsLoaded"] == [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "PostToolBatch",
        "Stop",
        "SessionEnd",
    ], echo.describe()
    assert hooks.count("InstructionsLoaded") == 1
    assert "transcript" in kinds
    assert kinds.index("transcript") > kinds.index("Stop")


def test_agent_reaches_only_the_mock(echo: AgentRun, missing: AgentRun) -> None:
    """Claude Code makes two streaming Messages calls per tool turn and nothing else."""
    assert echo.paths() == [MODEL_CALL, MODEL_CALL]
    assert missing.paths() == [MODEL_CALL, MODEL_CALL]
    assert all(r.body.get("stream") is True for r in echo.requests)


def test_session_run_ended(echo: AgentRun) -> None:
    """``runs --json``: one run for the session, ended, with its one step and prompt."""
    run = _one_run(echo)
    assert run["run_id"] == f"claude-code/{echo.session_id()}"
    assert run["session_id"] == echo.session_id()
    assert run["source"] == "claude-code"
    assert run["status"] == "ended"
    assert run["steps"] == 1
    assert run["first_seq"] == 1
    assert run["last_seq"] == len(echo.log())


def test_bash_step_succeeded(echo: AgentRun) -> None:
    """``steps --json``: the Bash call, paired PreToolUse → PostToolUse, succeeded."""
    step = echo.one_step()
    (pre,) = echo.payloads("PreToolUse")
    assert step["tool_name"] == "Bash"
    assert step["tool_use_id"] == pre["tool_use_id"]
    assert step["status"] == "succeeded"
    assert step["start_seq"] == echo.seq("PreToolUse")
    assert step["end_seq"] == echo.seq("PostToolUse")
    assert step["duration_ms"] is not None
    assert step["duration_ms"] > 0


def test_bash_step_duration_is_claude_codes_own(echo: AgentRun) -> None:
    """The step's ``duration_ms`` is the one PostToolUse reports (the agent's own timing)."""
    (post,) = echo.payloads("PostToolUse")
    assert isinstance(post["duration_ms"], int)
    assert echo.one_step()["duration_ms"] == post["duration_ms"]


def test_golden_payloads(
    echo: AgentRun, missing: AgentRun, refused: AgentRun, subagent: AgentRun
) -> None:
    """The payloads keep the fields of tests/fixtures/real (one file per event)."""
    harness.check_fixtures(echo)
    harness.check_fixtures(missing, {"PostToolUseFailure"})
    harness.check_fixtures(refused, {"PermissionRequest"})
    harness.check_fixtures(subagent, {"SubagentStart", "SubagentStop"})
    harness.check_fixtures(
        subagent,
        {"PreToolUse", "PostToolUse", "PostToolBatch"},
        suffix="Agent",
        select=lambda p: p.get("tool_name") == "Agent" or "agent_id" not in p,
    )


# --- A command that fails --------------------------------------------------------------


def test_failed_command_step_failed(missing: AgentRun) -> None:
    """``ls /missing``: PostToolUseFailure ends the step, failed, with the error and duration."""
    assert missing.returncode == 0, missing.describe()
    kinds = missing.kinds()
    assert "PostToolUseFailure" in kinds
    assert "PostToolUse" not in kinds
    (failure,) = missing.payloads("PostToolUseFailure")
    step = missing.one_step()
    assert step["tool_name"] == "Bash"
    assert step["status"] == "failed"
    assert step["end_seq"] == missing.seq("PostToolUseFailure")
    assert "No such file or directory" in step["error"]
    assert step["duration_ms"] == failure["duration_ms"]
    assert _one_run(missing)["status"] == "ended"


# --- A command refused for want of permission ------------------------------------------


def test_refused_command_events(refused: AgentRun) -> None:
    """A refusal: PreToolUse, PermissionRequest (no tool_use_id), then only PostToolBatch."""
    assert refused.returncode == 0, refused.describe()
    kinds = refused.kinds()
    assert "PermissionRequest" in kinds
    assert "PostToolUse" not in kinds
    assert "PostToolUseFailure" not in kinds
    (request,) = refused.payloads("PermissionRequest")
    assert "tool_use_id" not in request
    (batch,) = refused.payloads("PostToolBatch")
    (call,) = batch["tool_calls"]
    assert "needs approval" in call["tool_response"]
    assert not (refused.root / "proj" / "made-by-agent.txt").exists()


def test_refused_command_step_denied(refused: AgentRun) -> None:
    """The refused call's step is ``denied``."""
    assert refused.one_step()["status"] == "denied"


# --- A subagent ------------------------------------------------------------------------


def test_subagent_is_a_child_run_with_its_step(subagent: AgentRun) -> None:
    """The Agent tool's subagent is a child run; its Bash call is its own step."""
    assert subagent.returncode == 0, subagent.describe()
    kinds = subagent.kinds()
    assert "SubagentStart" in kinds
    assert "SubagentStop" in kinds
    (start,) = subagent.payloads("SubagentStart")
    runs = subagent.journal("runs", "--json")
    parent = next(r for r in runs if r["parent_run_id"] is None)
    (child,) = [r for r in runs if r["parent_run_id"] == parent["run_id"]]
    assert child["run_id"] == f"{parent['run_id']}/{start['agent_id']}"
    assert child["status"] == "ended"
    steps = {s["tool_name"]: s for s in subagent.journal("steps", parent["run_id"], "--json")}
    assert steps["Agent"]["run_id"] == parent["run_id"]
    assert steps["Agent"]["status"] == "succeeded"
    assert steps["Bash"]["run_id"] == child["run_id"]
    assert steps["Bash"]["agent_id"] == start["agent_id"]
    assert steps["Bash"]["status"] == "succeeded"


# --- kill -9 mid-turn ------------------------------------------------------------------


def test_killed_mid_turn_keeps_what_was_sent(killed: AgentRun) -> None:
    """SIGKILL while the model answers: the events so far are there, no Stop, run not ended."""
    assert killed.returncode == -9, killed.describe()
    assert [k for k in killed.kinds() if k != "InstructionsLoaded"] == [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "PostToolBatch",
    ]
    assert _one_run(killed)["status"] != "ended"


def test_killed_run_is_listed_interrupted(killed: AgentRun) -> None:
    """``interrupted --json`` lists the killed session with the command that resumes it."""
    session = killed.session_id()
    listed = {r["session_id"]: r for r in killed.journal("interrupted", "--json")}
    assert session in listed
    assert session in listed[session]["resume"]
    assert _one_run(killed)["status"] == "interrupted"
