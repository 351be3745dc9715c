"""The real OpenCode (npm, native binary) against a mock Chat Completions API, plugin installed.

``opencode run`` runs once per scenario (module-scoped fixtures, a few seconds each):
one ``bash`` call, then the final answer. The plugin that ``journal hooks install
opencode`` wrote hands every bus event to one ``journal hook opencode --stream``.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from tests.realagents import harness, npm_cache
from tests.realagents.harness import AgentRun
from tests.realagents.harness_opencode import (
    MODEL,
    in_opencode_order,
    opencode_events,
    run_opencode,
)

pytestmark = pytest.mark.slow

VERSION = npm_cache.OPENCODE.version
MODEL_CALL = "POST /v1/chat/completions"


def _run(factory: pytest.TempPathFactory, opencode: pathlib.Path, name: str, **kw: Any) -> AgentRun:
    root = factory.mktemp(f"opencode-{name}")
    return run_opencode(opencode, VERSION, root, [kw.pop("command")], **kw)


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory, opencode_bin: pathlib.Path) -> AgentRun:
    """``echo hello``: runs to the end."""
    return _run(tmp_path_factory, opencode_bin, "echo", command="echo hello")


@pytest.fixture(scope="module")
def missing(tmp_path_factory: pytest.TempPathFactory, opencode_bin: pathlib.Path) -> AgentRun:
    """``ls /missing``: the command exits 2."""
    return _run(tmp_path_factory, opencode_bin, "missing", command="ls /missing")


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory, opencode_bin: pathlib.Path) -> AgentRun:
    """``echo hello``, then the answer to its output hangs and OpenCode gets SIGKILL."""
    return _run(tmp_path_factory, opencode_bin, "killed", command="echo hello", stall=True)


def _session(run: AgentRun) -> str:
    ids = {p["properties"]["info"]["id"] for p in run.payloads("session.created")}
    assert len(ids) == 1, ids
    return str(ids.pop())


def _one_run(run: AgentRun) -> dict[str, Any]:
    (only,) = run.journal("runs", "--json")
    return dict(only)


def _one_step(run: AgentRun) -> dict[str, Any]:
    (step,) = run.journal("steps", _session(run), "--json")
    return dict(step)


def _tool_parts(run: AgentRun) -> list[tuple[int, dict[str, Any]]]:
    """``(seq, part)`` of every tool part update, in log order."""
    return [
        (r["seq"], r["payload"]["properties"]["part"])
        for r in run.log()
        if r["kind"] == "message.part.updated"
        and r["payload"]["properties"]["part"].get("type") == "tool"
    ]


# --- A command that succeeds -----------------------------------------------------------


def test_agent_reaches_only_the_mock(echo: AgentRun) -> None:
    """Title, tool call, answer: three streamed Chat Completions calls and nothing else."""
    assert echo.returncode == 0, echo.describe()
    assert echo.paths() == [MODEL_CALL] * 3, echo.describe()
    assert all(r.body.get("stream") is True for r in echo.requests)


def test_every_event_lands_once_in_order(echo: AgentRun) -> None:
    """Every bus event once (ids unique), in OpenCode's order, nothing left in the spool.

    The order is checked against OpenCode's own: the sequence numbers of the events it
    stores in its database. (Its ``evt_`` ids ascend by creation time, which is almost
    always the publication order, but one loaded benchmark run of 301 events had a
    pair the other way round, so they are not the reference.)
    """
    ids = [r["payload"]["id"] for r in echo.log()]
    assert len(ids) == len(set(ids))
    stored = opencode_events(echo)
    assert stored, "OpenCode stored no events"
    assert [i for i in ids if i in set(stored)] == stored
    assert in_opencode_order(echo)
    stats = echo.journal("stats", "--json")
    assert stats["spooled"] == 0
    assert stats["quarantined"] == 0
    assert echo.kinds()[0] == "session.created"
    assert echo.seq("session.idle") > max(seq for seq, _ in _tool_parts(echo))


def test_tool_part_states_in_order(echo: AgentRun) -> None:
    """The bash part goes pending, running, completed in the log, as OpenCode sent it."""
    states = [part["state"]["status"] for _, part in _tool_parts(echo)]
    assert states[0] == "pending"
    assert states[-1] == "completed"
    assert states.index("running") < states.index("completed")


def test_run_ended(echo: AgentRun) -> None:
    """A finished ``opencode run`` is ``ended`` (``session.idle`` ends the turn)."""
    run = _one_run(echo)
    assert run["run_id"] == f"opencode/{_session(echo)}"
    assert run["source"] == "opencode"
    assert run["status"] == "ended"
    assert run["steps"] == 1
    assert run["models"] == [MODEL]
    assert run["resume"] == f"opencode --session {_session(echo)}"


def test_bash_step_succeeded(echo: AgentRun) -> None:
    """``steps --json``: the bash call, paired by callID, succeeded, with OpenCode's duration."""
    step = _one_step(echo)
    parts = _tool_parts(echo)
    (call,) = {part["callID"] for _, part in parts}
    assert step["tool_name"] == "bash"
    assert step["tool_use_id"] == call
    assert step["status"] == "succeeded"
    assert step["start_seq"] == parts[0][0]
    assert step["end_seq"] == next(s for s, p in parts if p["state"]["status"] == "completed")
    final = parts[-1][1]["state"]
    assert final["metadata"]["exit"] == 0
    assert step["duration_ms"] == final["time"]["end"] - final["time"]["start"]
    assert step["duration_source"] == "agent"


def _completed_tool(payload: dict[str, Any]) -> bool:
    part = payload["properties"].get("part") or {}
    return bool(part.get("type") == "tool" and part["state"]["status"] == "completed")


def test_golden_payloads(echo: AgentRun, missing: AgentRun) -> None:
    """The bus events keep the fields of tests/fixtures/real (one file per event type)."""
    noisy = {"plugin.added", "catalog.updated", "reference.updated", "integration.updated"}
    harness.check_fixtures(echo, kinds=set(echo.kinds()) - noisy)
    tool = {"message.part.updated"}
    harness.check_fixtures(echo, tool, suffix="tool", select=_completed_tool)
    harness.check_fixtures(missing, tool, suffix="tool_failed", select=_completed_tool)


# --- A command that fails --------------------------------------------------------------


def test_failed_command_exit_code(missing: AgentRun) -> None:
    """OpenCode reports ``ls /missing`` as a completed part with ``metadata.exit`` 2."""
    assert missing.returncode == 0, missing.describe()
    final = _tool_parts(missing)[-1][1]["state"]
    assert final["status"] == "completed"
    assert final["metadata"]["exit"] == 2


def test_failed_command_step_failed(missing: AgentRun) -> None:
    """The step is ``failed`` with the exit code, and the run still ``ended``."""
    step = _one_step(missing)
    assert step["status"] == "failed"
    assert step["error"] == "exit 2"
    assert _one_run(missing)["status"] == "ended"


# --- kill -9 mid-turn ------------------------------------------------------------------


def test_killed_mid_turn_is_interrupted(killed: AgentRun) -> None:
    """SIGKILL while the model answers: ``interrupted --json`` lists the session to resume."""
    assert killed.returncode == -9, killed.describe()
    assert "session.idle" not in killed.kinds()
    session = _session(killed)
    listed = {r["session_id"]: r for r in killed.journal("interrupted", "--json")}
    assert session in listed, killed.describe()
    assert listed[session]["resume"] == f"opencode --session {session}"
    assert _one_run(killed)["status"] == "interrupted"


def test_killed_events_before_the_kill_landed(killed: AgentRun) -> None:
    """What OpenCode published before the kill reached the journal: the finished bash part."""
    states = [part["state"]["status"] for _, part in _tool_parts(killed)]
    assert states[-1] == "completed"
    assert _one_step(killed)["status"] == "succeeded"
