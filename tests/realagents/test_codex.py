"""The real Codex CLI (npm, native binary) against the mock Responses API, hooks from the installer.

``codex exec`` runs once per scenario (module-scoped fixtures, under a second each).
Codex runs only hooks marked trusted in ``config.toml``: ``journal hooks install
codex`` writes those marks, and every scenario but ``untrusted`` (whose marks the test
removes) relies on the installer alone.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from tests.realagents import harness, npm_cache
from tests.realagents.harness import AgentRun

pytestmark = pytest.mark.slow

VERSION = npm_cache.CODEX.version
MODEL_CALL = "POST /v1/responses"


def _run(factory: pytest.TempPathFactory, codex: pathlib.Path, name: str, **kw: Any) -> AgentRun:
    root = factory.mktemp(f"codex-{name}")
    return harness.run_codex(codex, VERSION, root, kw.pop("command"), **kw)


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory, codex_bin: pathlib.Path) -> AgentRun:
    """``echo hello``, hooks trusted: runs to the end."""
    return _run(tmp_path_factory, codex_bin, "echo", command="echo hello")


@pytest.fixture(scope="module")
def missing(tmp_path_factory: pytest.TempPathFactory, codex_bin: pathlib.Path) -> AgentRun:
    """``ls /missing``: the command fails with exit code 2."""
    return _run(tmp_path_factory, codex_bin, "missing", command="ls /missing")


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory, codex_bin: pathlib.Path) -> AgentRun:
    """``echo hello``, then the answer to the tool output hangs and codex gets SIGKILL."""
    return _run(tmp_path_factory, codex_bin, "killed", command="echo hello", stall=True)


@pytest.fixture(scope="module")
def untrusted(tmp_path_factory: pytest.TempPathFactory, codex_bin: pathlib.Path) -> AgentRun:
    """``echo hello`` with the installer's hooks but their trust marks removed."""
    return _run(tmp_path_factory, codex_bin, "untrusted", command="echo hello", trust=False)


def _one_run(run: AgentRun) -> dict[str, Any]:
    (only,) = run.journal("runs", "--json")
    return dict(only)


# --- A command that succeeds -----------------------------------------------------------


def test_every_hook_event_lands(echo: AgentRun) -> None:
    """Each hook of a one-tool turn is journalled once, in order, plus notify and the rollout."""
    assert echo.returncode == 0, echo.describe()
    kinds = echo.kinds()
    # notify is started without being waited for: it lands after Stop, before or after
    # SessionEnd.
    assert [k for k in kinds if k not in ("transcript", "agent-turn-complete")] == [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "Stop",
        "SessionEnd",
    ], echo.describe()
    assert kinds.count("agent-turn-complete") == 1
    assert kinds.index("agent-turn-complete") > kinds.index("Stop")
    assert "transcript" in kinds
    assert kinds.index("transcript") > kinds.index("Stop")
    (start,) = echo.payloads("SessionStart")
    assert start["model"] == "gpt-5.5"
    assert start["transcript_path"].endswith(f"-{start['session_id']}.jsonl")


def test_agent_reaches_only_the_mock(echo: AgentRun, missing: AgentRun) -> None:
    """Codex makes two streaming Responses calls per tool turn and nothing else."""
    assert echo.paths() == [MODEL_CALL, MODEL_CALL]
    assert missing.paths() == [MODEL_CALL, MODEL_CALL]
    assert all(r.body.get("stream") is True for r in echo.requests)


def test_session_run_ended(echo: AgentRun) -> None:
    """``runs --json``: one run for the thread, ended, with its one step and prompt."""
    run = _one_run(echo)
    assert run["run_id"] == f"codex/{echo.session_id()}"
    assert run["source"] == "codex"
    assert run["status"] == "ended"
    assert run["steps"] == 1
    assert run["first_seq"] == 1


def test_shell_step_succeeded(echo: AgentRun) -> None:
    """``steps --json``: the shell call (hook tool name Bash), paired by call id, succeeded."""
    step = echo.one_step()
    (pre,) = echo.payloads("PreToolUse")
    assert pre["tool_name"] == "Bash"
    assert pre["tool_input"] == {"command": "echo hello"}
    assert step["tool_name"] == "Bash"
    assert step["tool_use_id"] == pre["tool_use_id"]
    assert step["status"] == "succeeded"
    assert step["start_seq"] == echo.seq("PreToolUse")
    assert step["end_seq"] == echo.seq("PostToolUse")
    assert step["duration_ms"] is not None
    assert step["duration_ms"] > 0


def test_golden_payloads(echo: AgentRun, missing: AgentRun) -> None:
    """The payloads keep the fields of tests/fixtures/real (one file per event)."""
    harness.check_fixtures(echo)
    harness.check_fixtures(missing, {"PostToolUse"}, suffix="failed")


# --- A command that fails --------------------------------------------------------------


def _rollout_command(run: AgentRun) -> dict[str, Any]:
    """The rollout's ``item_completed`` CommandExecution item, as journalled at Stop."""
    found = [
        r["payload"]["payload"]["item"]
        for r in run.log()
        if r["kind"] == "transcript"
        and r["payload"].get("type") == "event_msg"
        and r["payload"]["payload"].get("type") == "item_completed"
        and r["payload"]["payload"]["item"].get("type") == "CommandExecution"
    ]
    assert len(found) == 1, found
    return dict(found[0])


def test_failed_command_exit_code_is_journalled(missing: AgentRun) -> None:
    """PostToolUse has only the output text; the journalled rollout line has exit code 2."""
    assert missing.returncode == 0, missing.describe()
    (post,) = missing.payloads("PostToolUse")
    assert "No such file or directory" in post["tool_response"]
    assert not {"exit_code", "error", "duration_ms"} & set(post)
    item = _rollout_command(missing)
    assert item["exit_code"] == 2
    assert item["status"] == "failed"
    assert item["id"] == post["tool_use_id"]


def test_failed_command_step_failed(missing: AgentRun) -> None:
    """``ls /missing``: the step is ``failed``."""
    assert missing.one_step()["status"] == "failed"


# --- kill -9 mid-turn ------------------------------------------------------------------


def test_killed_mid_turn_keeps_what_was_sent(killed: AgentRun) -> None:
    """SIGKILL while the model answers: the events so far are there, no Stop, run not ended."""
    assert killed.returncode == -9, killed.describe()
    assert killed.kinds() == ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse"]
    assert _one_run(killed)["status"] != "ended"


def test_killed_run_is_listed_interrupted(killed: AgentRun) -> None:
    """``interrupted --json`` lists the killed thread with the command that resumes it."""
    session = killed.session_id()
    listed = {r["session_id"]: r for r in killed.journal("interrupted", "--json")}
    assert session in listed
    assert session in listed[session]["resume"]
    assert _one_run(killed)["status"] == "interrupted"


# --- Hook trust ------------------------------------------------------------------------


def test_trust_hashes_match_codex(echo: AgentRun, codex_bin: pathlib.Path) -> None:
    """Codex's own ``hooks/list`` reports each journal hook trusted, with our computed hash."""
    codex_home = echo.root / "home" / ".codex"
    expected = harness.codex_hook_trust(codex_home / "hooks.json")
    listed = harness.codex_app_server_hooks(codex_bin, codex_home, echo.root / "proj")
    assert {h["key"]: h["currentHash"] for h in listed} == expected
    assert {h["trustStatus"] for h in listed} == {"trusted"}


def test_untrusted_hooks_are_skipped_silently(untrusted: AgentRun) -> None:
    """Without trust marks Codex runs no hook and says nothing; only ``notify`` arrives."""
    assert untrusted.returncode == 0, untrusted.describe()
    assert untrusted.kinds() == ["agent-turn-complete"]
    assert "hook" not in untrusted.stderr.lower()


@pytest.mark.parametrize("scenario", ["echo", "untrusted"])
def test_hooks_status_tells_the_truth(scenario: str, request: pytest.FixtureRequest) -> None:
    """``hooks status`` reports installed exactly when Codex actually runs the hooks."""
    run: AgentRun = request.getfixturevalue(scenario)
    codex_home = run.root / "home" / ".codex"
    status = harness.journal_json(
        run.journal_home,
        "hooks",
        "status",
        "codex",
        "--json",
        env={"CODEX_HOME": str(codex_home)},
    )
    ran = "SessionStart" in run.kinds()
    assert ran == (scenario == "echo")
    assert (status["state"] == "installed") == ran, status


def test_installed_hooks_run_without_manual_trust(echo: AgentRun) -> None:
    """After ``journal hooks install codex`` alone, Codex runs every hook."""
    kinds = echo.kinds()
    assert {"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop"} <= set(kinds)


def test_notify_payload_names_the_turn(echo: AgentRun) -> None:
    """``notify`` (argv JSON) is journalled with the thread and turn of the hooks."""
    (notify,) = echo.payloads("agent-turn-complete")
    (stop,) = echo.payloads("Stop")
    assert notify["thread-id"] == echo.session_id()
    assert notify["turn-id"] == stop["turn_id"]
    assert json.dumps(notify["input-messages"]).find("echo hello") >= 0
