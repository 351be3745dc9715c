"""Secrets never reach the disk, whatever path an event takes into the journal.

Every kind of secret of :mod:`journal.redact` goes in through the real ``journal``
CLI: a hook event, its transcript (captured at ``Stop``), ``journal append``, a
batch, ``journal import claude-code`` and a spool drain. Afterwards no secret's
bytes are in any file under the home (views included), ``stats`` counts the
markers per rule, every payload is still JSON and ``verify`` passes.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import time
from typing import Any

from journal.agents import spool
from tests.conftest import JOURNAL_BIN
from tests.journal.agents.test_capture import SESSION
from tests.journal.test_redact import SECRETS

ALL_TEXT = "\n".join(text for text, _secret in SECRETS.values())


def cli(home: str, *args: str, data: bytes | None = None) -> bytes:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, *args],
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def event(kind: str, n: int, **extra: Any) -> bytes:
    """A Claude Code hook event whose tool output holds every kind of secret."""
    body = {
        "session_id": SESSION,
        "hook_event_name": kind,
        "cwd": "/home/dev/src/app",
        "tool_name": "Bash",
        "tool_use_id": f"toolu_{n:04d}",
        "tool_input": {"command": f"cat .env.{n}"},
        "tool_response": {"stdout": ALL_TEXT, "stderr": ""},
        **extra,
    }
    return json.dumps(body).encode()


def transcript_line(n: int) -> bytes:
    """A transcript line (user message) that pastes every kind of secret."""
    line = {
        "type": "user",
        "sessionId": SESSION,
        "uuid": f"00000000-0000-4000-8000-{n:012d}",
        "timestamp": "2026-11-20T10:00:00.000Z",
        "message": {"role": "user", "content": f"line {n}: {ALL_TEXT}"},
    }
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


def files_holding(home: str, needle: bytes) -> list[str]:
    """Every file under ``home`` whose raw bytes contain ``needle``."""
    found = []
    for root, _dirs, names in os.walk(home):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                if needle in handle.read():
                    found.append(path)
    return found


def wait_for_lines(home: str, count: int) -> None:
    """Wait (up to a minute) until ``count`` transcript records landed."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = cli(home, "log", "--json", "--kind", "transcript").splitlines()
        if len(got) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} transcript lines landed")


def test_no_secret_reaches_any_file_on_any_ingest_path(home: str, tmp_path: pathlib.Path) -> None:
    """Hook, capture, append, batch, import and spool drain all store masked bytes."""
    transcript = tmp_path / "session.jsonl"
    transcript.write_bytes(b"".join(transcript_line(n) for n in range(3)))
    hook = subprocess.run(
        [JOURNAL_BIN, "--home", home, "hook", "claude-code"],
        input=event("PostToolUse", 1),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (hook.returncode, hook.stdout, hook.stderr) == (0, b"", b"")
    stop = {"session_id": SESSION, "hook_event_name": "Stop", "transcript_path": str(transcript)}
    cli(home, "hook", "claude-code", data=json.dumps(stop).encode())
    wait_for_lines(home, 3)
    cli(home, "append", "--source", "claude-code", data=event("PostToolUse", 2))
    batch = b"\n".join(event("PostToolUse", n) for n in range(10, 40))
    cli(home, "append", "--batch", "--source", "claude-code", data=batch)
    projects = tmp_path / "projects" / "-home-dev-src-app"
    projects.mkdir(parents=True)
    (projects / "other.jsonl").write_bytes(b"".join(transcript_line(n) for n in range(100, 150)))
    cli(home, "import", "claude-code", str(tmp_path / "projects"))
    spool.write(
        spool.spool_dir(home),
        event("PostToolUse", 3),
        source="claude-code",
        kind="PostToolUse",
        key="spooled-3",
        received_at=time.time_ns(),
        home=home,
    )
    cli(home, "spool", "drain")
    cli(home, "runs", "--json")  # the views hold derived copies of payloads too
    records = [json.loads(line) for line in cli(home, "log", "--json").splitlines()]
    assert len(records) >= 2 + 3 + 1 + 30 + 50 + 1
    for _text, secret in SECRETS.values():
        assert files_holding(home, secret.encode()) == [], secret
    assert os.path.isdir(os.path.join(home, "views"))
    for record in records:
        if record["kind"] != "Stop":
            assert "[REDACTED:" in json.dumps(record["payload"])
    stats = json.loads(cli(home, "stats", "--json"))
    assert stats["payload_format"] == "raw-json/2"
    assert sorted(stats["redacted"]) == sorted(SECRETS)
    events = 1 + 1 + 30 + 1
    lines = 3 + 50
    for rule, count in stats["redacted"].items():
        assert count >= events + lines, rule
    verify = json.loads(cli(home, "verify", "--json"))
    assert verify["ok"] is True


def test_every_path_stores_the_same_bytes_for_the_same_input(home: str) -> None:
    """A hook event, a single append and a batch item of one input share one digest."""
    data = event("PostToolUse", 7)
    cli(home, "hook", "claude-code", data=data)
    cli(home, "append", "--source", "claude-code", data=data)
    cli(home, "append", "--batch", "--source", "claude-code", data=data + b"\n" + data)
    digests = {json.loads(line)["digest"] for line in cli(home, "log", "--json").splitlines()}
    assert len(digests) == 1
    stats = json.loads(cli(home, "stats", "--json"))
    assert stats["blobs"] == 1
    assert stats["redacted"]["aws-access-key"] == 4  # four records, one key each


def test_redaction_off_stores_the_agents_bytes(home: str) -> None:
    """With ``AGENT_JOURNAL_REDACT=0`` the secret is stored and nothing is counted."""
    data = event("PostToolUse", 8)
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "append", "--json"],
        input=data,
        capture_output=True,
        timeout=60,
        env={**os.environ, "AGENT_JOURNAL_REDACT": "0"},
        check=True,
    )
    seq = json.loads(done.stdout)["seq"]
    shown = json.loads(cli(home, "show", str(seq), "--json"))
    assert shown["payload"] == json.loads(data)
    assert json.loads(cli(home, "stats", "--json"))["redacted"] == {}


def test_a_spooled_hook_event_waits_on_disk_masked(home: str) -> None:
    """A hook past its budget spools the event: the spool file already holds the
    masked bytes (no secret waits on disk for the drain), and the drain stores them
    with the digest the hook would have given."""
    data = event("PostToolUse", 7)
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "hook", "claude-code"],
        input=data,
        capture_output=True,
        timeout=120,
        env={**os.environ, "AGENT_JOURNAL_HOOK_BUDGET_MS": "0"},
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, b"")
    spooled = sorted(pathlib.Path(home, "spool").glob("*.spool"))
    assert spooled, "the hook did not spool"
    for _text, secret in SECRETS.values():
        assert files_holding(home, secret.encode()) == []
    cli(home, "spool", "drain")
    stored = [json.loads(line) for line in cli(home, "log", "--json").splitlines()]
    assert len(stored) == 1
    assert "[REDACTED:" in json.dumps(stored[0]["payload"])
    for _text, secret in SECRETS.values():
        assert files_holding(home, secret.encode()) == []
