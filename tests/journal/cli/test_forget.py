"""``journal forget RUN``: through the CLI, with hooks, transcripts, subagents and views.

The run's payload bytes (its own events, its subagent's, its transcript lines, and
the views' derived copies) leave every file under the home; other runs stay
whole; ``verify`` passes and counts the erased payloads; the views rebuild; and
hooks that arrive while forget runs all land.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.conftest import JOURNAL_BIN
from tests.journal.test_redact_paths import files_holding

S1 = "aaaaaaaa-1111-4111-8111-111111111111"
S2 = "bbbbbbbb-2222-4222-8222-222222222222"


def run(home: str, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [JOURNAL_BIN, "--home", home, *args],
        input=data,
        stdin=subprocess.DEVNULL if data is None else None,
        capture_output=True,
        timeout=300,
        check=False,
    )


def ok(home: str, *args: str, data: bytes | None = None) -> bytes:
    done = run(home, *args, data=data)
    assert done.returncode == 0, done.stderr
    return done.stdout


def hook(home: str, body: dict[str, Any]) -> None:
    done = run(home, "hook", "claude-code", data=json.dumps(body).encode())
    assert (done.returncode, done.stdout) == (0, b""), done.stderr


def transcript(path: pathlib.Path, session: str, count: int) -> None:
    with path.open("wb") as handle:
        for n in range(count):
            line = {
                "type": "user",
                "sessionId": session,
                "uuid": f"{session[:8]}-0000-4000-8000-{n:012d}",
                "timestamp": f"2026-11-20T10:00:{n:02d}.000Z",
                "message": {"role": "user", "content": f"{session[:8]}-LINE-{n:04d}"},
            }
            handle.write(json.dumps(line).encode() + b"\n")


def session(home: str, tmp_path: pathlib.Path, sid: str, steps: int) -> None:
    """A session with tool calls, a subagent and a transcript, through real hooks."""
    main = tmp_path / f"{sid}.jsonl"
    sub = tmp_path / f"{sid}-agent.jsonl"
    transcript(main, sid, 5)
    transcript(sub, sid, 2)
    base = {"session_id": sid, "cwd": "/home/dev/src/app", "transcript_path": str(main)}
    hook(home, {**base, "hook_event_name": "SessionStart", "source": "startup"})
    hook(home, {**base, "hook_event_name": "UserPromptSubmit", "prompt": f"{sid[:8]}-PROMPT"})
    for n in range(steps):
        tool = {"tool_name": "Bash", "tool_use_id": f"toolu_{sid[:8]}_{n}"}
        command = {"command": f"echo {sid[:8]}-COMMAND-{n}"}
        hook(home, {**base, **tool, "hook_event_name": "PreToolUse", "tool_input": command})
        hook(
            home,
            {
                **base,
                **tool,
                "hook_event_name": "PostToolUse",
                "tool_input": command,
                "tool_response": {"stdout": f"{sid[:8]}-OUTPUT-{n}"},
            },
        )
    hook(
        home,
        {
            **base,
            "hook_event_name": "SubagentStop",
            "agent_id": "a1",
            "agent_transcript_path": str(sub),
        },
    )
    hook(home, {**base, "hook_event_name": "Stop", "stop_hook_active": False})


def lines_of(home: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ok(home, "log", "--json").splitlines()]


def test_forget_a_run_through_the_cli(home: str, tmp_path: pathlib.Path) -> None:
    """forget --yes --json: the run's bytes go from every file; the rest stays; views rebuild."""
    session(home, tmp_path, S1, 3)
    session(home, tmp_path, S2, 3)
    before = lines_of(home)
    assert {r["kind"] for r in before} >= {"transcript", "PostToolUse", "SubagentStop"}
    ok(home, "runs", "--json")
    assert files_holding(home, S1[:8].encode() + b"-LINE-")
    report = json.loads(ok(home, "forget", S1[:8], "--yes", "--json"))
    assert report["run_id"] == f"claude-code/{S1}"
    forgotten = set(report["seqs"])
    mine = {r["seq"] for r in before if S1 in json.dumps(r["payload"])}
    assert mine == forgotten
    assert sorted(report["erased"]) == sorted({r["digest"] for r in before if r["seq"] in mine})
    for needle in (b"-LINE-", b"-PROMPT", b"-COMMAND-", b"-OUTPUT-"):
        assert files_holding(home, S1[:8].encode() + needle) == [], needle
        assert files_holding(home, S2[:8].encode() + needle) != [], needle
    verify = json.loads(ok(home, "verify", "--json"))
    assert verify["ok"] is True
    assert verify["erased"] == len(forgotten)
    stats = json.loads(ok(home, "stats", "--json"))
    assert stats["erased"] == len(report["erased"])
    after = {r["seq"]: r for r in lines_of(home)}
    assert all(after[seq]["payload"] is None for seq in forgotten)
    note = after[report["forget_seq"]]
    assert note["kind"] == "journal.forget"
    assert note["payload"]["forget"]["seqs"] == report["seqs"]
    shown = ok(home, "show", str(min(forgotten))).decode()
    assert "payload:       erased by journal forget" in shown
    runs = json.loads(ok(home, "runs", "--json"))
    assert [r["session_id"] for r in runs if r["parent_run_id"] is None] == [S2]
    ok(home, "rebuild")
    assert json.loads(ok(home, "runs", "--json")) == runs
    assert files_holding(home, S1[:8].encode() + b"-LINE-") == []


def test_forget_without_yes_refuses_when_stdin_is_not_a_terminal(home: str) -> None:
    """No --yes and no terminal to ask on: exit 1, one line, nothing erased."""
    hook(home, {"session_id": S1, "hook_event_name": "UserPromptSubmit", "prompt": "hello"})
    done = run(home, "forget", S1)
    assert done.returncode == 1
    assert done.stderr.decode().strip().splitlines() == [
        f"Error: not forgetting run claude-code/{S1} without --yes: stdin is not a terminal"
    ]
    assert json.loads(ok(home, "stats", "--json"))["erased"] == 0


def test_forget_an_unknown_run_is_one_line(home: str) -> None:
    """An unknown run id fails with one line and exit 1."""
    hook(home, {"session_id": S1, "hook_event_name": "UserPromptSubmit", "prompt": "hello"})
    done = run(home, "forget", "nosuchrun", "--yes")
    assert done.returncode == 1
    assert len(done.stderr.decode().strip().splitlines()) == 1


@pytest.mark.slow
def test_hooks_that_arrive_during_forget_all_land(home: str, tmp_path: pathlib.Path) -> None:
    """Four processes keep sending hooks while forget erases and scrubs: every one lands."""
    s1 = [{"session_id": S1, "hook_event_name": "UserPromptSubmit", "prompt": "x" * 3000}]
    batch = b"\n".join(
        json.dumps({**s1[0], "prompt": f"{S1[:8]}-BULK-{n} " + "x" * 3000}).encode()
        for n in range(3000)
    )
    ok(home, "append", "--batch", "--source", "claude-code", data=batch)
    hook(home, {**s1[0], "prompt": "start"})
    script = (
        "import json, subprocess, sys\n"
        "for n in range(25):\n"
        "    body = {'session_id': sys.argv[2], 'hook_event_name': 'UserPromptSubmit',"
        " 'prompt': f'{sys.argv[3]}-{n}'}\n"
        "    done = subprocess.run([sys.argv[1], '--home', sys.argv[4], 'hook', 'claude-code'],"
        " input=json.dumps(body).encode(), capture_output=True)\n"
        "    assert done.returncode == 0 and not done.stdout, done.stderr\n"
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", script, JOURNAL_BIN, S2, f"w{i}", home])
        for i in range(4)
    ]
    time.sleep(0.2)
    forgot = run(home, "forget", S1, "--yes", "--json")
    for writer in writers:
        assert writer.wait(timeout=300) == 0
    assert forgot.returncode == 0, forgot.stderr
    ok(home, "spool", "drain")
    prompts = [
        r["payload"]["prompt"]
        for r in lines_of(home)
        if r["payload"] is not None and r["payload"].get("session_id") == S2
    ]
    assert sorted(prompts) == sorted(f"w{i}-{n}" for i in range(4) for n in range(25))
    assert files_holding(home, S1[:8].encode() + b"-BULK-") == []
    verify = json.loads(ok(home, "verify", "--json"))
    assert verify["ok"] is True
    assert verify["erased"] == 3001
