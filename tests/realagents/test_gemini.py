"""The real Gemini CLI (npm, run by node) against a mock Gemini API, hooks from the installer.

``gemini -p`` runs once per scenario (module-scoped fixtures): one
``run_shell_command`` call, then the final answer. Gemini's hook payloads carry no
tool call id and no model: steps pair in order, the model comes from the chat file
(``transcript_path``) the hooks capture.
"""

from __future__ import annotations

import datetime
import json
import pathlib
from typing import Any

import pytest

from tests.realagents import harness, npm_cache
from tests.realagents.harness import AgentRun
from tests.realagents.harness_gemini import run_gemini
from tests.realagents.mock_chat import GEMINI_MODEL

pytestmark = pytest.mark.slow

VERSION = npm_cache.GEMINI.version
MODEL_CALL = f"POST /v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse"
HOOKS = [
    "SessionStart",
    "BeforeAgent",
    "PreCompress",
    "BeforeTool",
    "AfterTool",
    "PreCompress",
    "AfterAgent",
    "SessionEnd",
]


def _run(factory: pytest.TempPathFactory, gemini: pathlib.Path, name: str, **kw: Any) -> AgentRun:
    root = factory.mktemp(f"gemini-{name}")
    return run_gemini(gemini, VERSION, root, kw.pop("command"), **kw)


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory, gemini_js: pathlib.Path) -> AgentRun:
    """``echo hello``: runs to the end."""
    return _run(tmp_path_factory, gemini_js, "echo", command="echo hello")


@pytest.fixture(scope="module")
def missing(tmp_path_factory: pytest.TempPathFactory, gemini_js: pathlib.Path) -> AgentRun:
    """``ls /missing``: the command exits 2."""
    return _run(tmp_path_factory, gemini_js, "missing", command="ls /missing")


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory, gemini_js: pathlib.Path) -> AgentRun:
    """``echo hello``, then the answer to its output hangs and node gets SIGKILL."""
    return _run(tmp_path_factory, gemini_js, "killed", command="echo hello", stall=True)


def _one_run(run: AgentRun) -> dict[str, Any]:
    (only,) = run.journal("runs", "--json")
    return dict(only)


def _ms(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000


def _hooks(run: AgentRun) -> list[str]:
    return [k for k in run.kinds() if k != "transcript"]


# --- A command that succeeds -----------------------------------------------------------


def test_agent_reaches_only_the_mock(echo: AgentRun) -> None:
    """Two streamed generateContent calls (tool call, answer) and nothing else."""
    assert echo.returncode == 0, echo.describe()
    assert echo.paths() == [MODEL_CALL, MODEL_CALL], echo.describe()


def test_every_hook_event_lands_once(echo: AgentRun) -> None:
    """Each hook of a one-tool turn once, in order; every chat file line journalled once."""
    assert _hooks(echo) == HOOKS, echo.describe()
    (start,) = echo.payloads("SessionStart")
    chat = pathlib.Path(start["transcript_path"])
    lines = [json.loads(line) for line in chat.read_text().splitlines() if line.strip()]
    assert echo.payloads("transcript") == lines
    stats = echo.journal("stats", "--json")
    assert stats["spooled"] == 0
    assert stats["quarantined"] == 0


def test_run_ended_with_its_model(echo: AgentRun) -> None:
    """``runs --json``: one run, ended, one step, the model from the chat file."""
    run = _one_run(echo)
    assert run["run_id"] == f"gemini/{echo.session_id()}"
    assert run["source"] == "gemini"
    assert run["status"] == "ended"
    assert run["steps"] == 1
    assert run["models"] == [GEMINI_MODEL]


def test_shell_step_succeeded(echo: AgentRun) -> None:
    """The shell call pairs BeforeTool with AfterTool, succeeded, timed by Gemini's stamps."""
    step = echo.one_step()
    (before,) = echo.payloads("BeforeTool")
    (after,) = echo.payloads("AfterTool")
    assert step["tool_name"] == "run_shell_command"
    assert step["status"] == "succeeded"
    assert step["start_seq"] == echo.seq("BeforeTool")
    assert step["end_seq"] == echo.seq("AfterTool")
    assert step["duration_ms"] == pytest.approx(_ms(after["timestamp"]) - _ms(before["timestamp"]))
    assert "Exit Code: 0" not in json.dumps(after["tool_response"])


def test_golden_payloads(echo: AgentRun, missing: AgentRun) -> None:
    """The payloads keep the fields of tests/fixtures/real (one file per event)."""
    harness.check_fixtures(echo)
    harness.check_fixtures(missing, {"AfterTool"}, suffix="failed")


# --- A command that fails --------------------------------------------------------------


def test_failed_command_exit_code_only_in_text(missing: AgentRun) -> None:
    """AfterTool has no exit status field: only ``Exit Code: 2`` in the model's text."""
    assert missing.returncode == 0, missing.describe()
    (after,) = missing.payloads("AfterTool")
    response = after["tool_response"]
    assert "error" not in response
    assert "Exit Code: 2" in response["llmContent"]
    assert "Exit Code" not in response["returnDisplay"]


def test_failed_command_step_failed(missing: AgentRun) -> None:
    """The step is ``failed`` with the exit code; the run still ``ended``."""
    step = missing.one_step()
    assert step["status"] == "failed"
    assert step["error"] == "Exit Code: 2"
    assert _one_run(missing)["status"] == "ended"


# --- kill -9 mid-turn ------------------------------------------------------------------


def test_killed_mid_turn_is_interrupted(killed: AgentRun) -> None:
    """SIGKILL while the model answers: no AfterAgent, listed by ``interrupted --json``."""
    assert killed.returncode == -9, killed.describe()
    assert _hooks(killed) == [*HOOKS[:5], "PreCompress"], killed.describe()
    session = killed.session_id()
    listed = {r["session_id"]: r for r in killed.journal("interrupted", "--json")}
    assert session in listed, killed.describe()
    assert session in listed[session]["resume"]
    assert _one_run(killed)["status"] == "interrupted"
