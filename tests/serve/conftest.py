"""A real journal behind a real ``journal serve`` on 127.0.0.1, for the API and page tests.

The journal holds the bundled demo session (``journal demo``: Claude Code with a
subagent and its transcript lines, so costs), then real payloads from
``tests/fixtures/real`` delivered by real ``journal hook`` processes: a Claude Code
session that ends, a Codex session that ends, and a Claude Code session whose
``ls /missing`` fails and which is then cut off (its agent exits mid-turn, so it is
interrupted). A transcript line of a model no price list knows makes unpriced tokens.

Each session's hooks are spawned by a short-lived "agent" process of their own (a
Python process, which the hook takes for the agent), so that a session whose agent
has exited is known to be gone.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import JOURNAL_BIN, REPO

REAL = REPO / "tests" / "fixtures" / "real"
FAILING_SESSION = "5e6ce1f3-25a"  # prefix of the session of PostToolUseFailure
UNPRICED_MODEL = "claude-unreleased-test-0"
AGENT = (
    "import subprocess, sys\n"
    "for payload in sys.argv[3:]:\n"
    "    subprocess.run([sys.argv[1], 'hook', sys.argv[2]], input=payload.encode(), check=True)\n"
)


def artifacts() -> pathlib.Path:
    """Where the page tests leave their screenshots (never inside the work tree)."""
    base = os.environ.get("AGENT_JOURNAL_ARTIFACTS") or os.path.join(
        tempfile.gettempdir(), "agent-journal-artifacts"
    )
    path = pathlib.Path(base, "serve")
    path.mkdir(parents=True, exist_ok=True)
    return path


def real(name: str) -> dict[str, Any]:
    """A real payload from ``tests/fixtures/real``."""
    found: dict[str, Any] = json.loads((REAL / f"{name}.json").read_text())
    return found


def journal(home: str, *args: str, stdin: bytes | None = None) -> str:
    """Run ``journal --home HOME ARGS…``; return its stdout."""
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def cli_json(home: str, *args: str) -> Any:
    """What ``journal ARGS… --json`` prints, decoded."""
    return json.loads(journal(home, *args, "--json"))


def agent(home: str, source: str, payloads: list[dict[str, Any]]) -> None:
    """Deliver ``payloads`` through real ``journal hook SOURCE`` processes, spawned by a
    Python process that stands for the agent and exits after them."""
    env = dict(os.environ, AGENT_JOURNAL_HOME=home)
    subprocess.run(
        [sys.executable, "-c", AGENT, JOURNAL_BIN, source, *map(json.dumps, payloads)],
        env=env,
        check=True,
        timeout=120,
    )


def failing_session() -> list[dict[str, Any]]:
    """A prompt, then ``ls /missing`` that fails: the real PostToolUseFailure, and the
    prompt and PreToolUse of the real Claude Code payloads moved into its session."""
    failure = real("claude-code__2.1.332__PostToolUseFailure")
    same = {k: failure[k] for k in ("session_id", "transcript_path", "cwd")}
    prompt = {**real("claude-code__2.1.332__UserPromptSubmit"), **same}
    prompt["prompt"] = "list the missing directory"
    prompt["prompt_id"] = "d1d2d3d4-0000-4000-8000-00000000f001"  # the hook keys on it
    pre = {**real("claude-code__2.1.332__PreToolUse"), **same}
    pre["tool_input"] = failure["tool_input"]
    # The mock API names every first call toolu_mock0001: a key the hook has seen.
    failure["tool_use_id"] = pre["tool_use_id"] = "toolu_mock_missing_dir"
    return [prompt, pre, failure]


def unpriced_line(session_id: str) -> bytes:
    """A Claude Code transcript line of a model with no known price, in ``session_id``."""
    from journal.cli.demo import demo_records

    line = next(
        json.loads(payload)
        for kind, payload in demo_records()
        if kind is not None and b'"assistant"' in payload and b'"usage"' in payload
    )
    line["sessionId"] = session_id
    line.pop("agentId", None)
    line["isSidechain"] = False
    now = datetime.datetime.now(datetime.UTC)
    line["timestamp"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    line["uuid"] = "11111111-2222-4333-8444-555555555555"
    line["requestId"] = "req_unpriced_test"
    line["message"]["id"] = "msg_unpriced_test"
    line["message"]["model"] = UNPRICED_MODEL
    return json.dumps(line).encode()


def build(home: str) -> None:
    """The journal the module docstring describes."""
    journal(home, "demo")
    claude = [
        real(f"claude-code__2.1.332__{kind}")
        for kind in (
            "SessionStart",
            "UserPromptSubmit",
            "PreToolUse",
            "PostToolUse",
            "Stop",
            "SessionEnd",
        )
    ]
    agent(home, "claude-code", claude)
    codex = [
        real(f"codex__0.171.0__{kind}")
        for kind in ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop")
    ]
    agent(home, "codex", [*codex, real("codex__0.171.0__SessionEnd")])
    agent(home, "claude-code", failing_session())
    session = claude[0]["session_id"]
    journal(
        home, "append", "--source", "claude-code", "--kind", "transcript",
        stdin=unpriced_line(session),
    )  # fmt: skip


class Server:
    """A running ``journal serve --port 0`` and the URL it printed."""

    def __init__(self, home: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [JOURNAL_BIN, "--home", home, "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().decode()
        assert first.startswith("serving http://"), first + self.stop()
        self.url = first.split()[1]
        self.port = int(self.url.rstrip("/").rsplit(":", 1)[1])

    def stop(self) -> str:
        """Stop it (Ctrl-C) and return what it wrote on stderr."""
        self.process.send_signal(2)
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err.decode()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Server]]:
    """The journal home and the server over it (shared by the API and page tests)."""
    home = str(tmp_path_factory.mktemp("serve") / "home")
    build(home)
    server = Server(home)
    yield home, server
    err = server.stop()
    assert "Traceback" not in err, err
