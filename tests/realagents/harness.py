"""Run a real agent headless against :class:`MockModel`, with the journal's hooks installed.

Everything happens in a temporary root: ``home/`` is the agent's ``HOME`` (so no real
user config is read or written), ``proj/`` a fresh git repository the agent works in,
``journal/`` the journal home. The journal is driven only through its installed CLI
(the ``journal`` executable next to ``sys.executable``), as a user would:
``journal --home … hooks install``, then the views.

The agent's environment is built from scratch (``PATH`` and what the run needs), and
``HTTPS_PROXY``/``HTTP_PROXY`` point at the mock: a request for any host but 127.0.0.1
arrives there as a ``CONNECT`` and is refused and recorded, so a test can assert that
the agent reached nothing but the mock.

Codex skips hooks that ``config.toml`` does not mark trusted. ``journal hooks install
codex`` writes those marks; :func:`untrust_codex_hooks` takes them away again for the
scenario of a user whose hooks are untrusted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import tomlkit

from journal.agents.installers import _codex_trust
from tests.realagents.goldens import FIXTURES, check_fixtures
from tests.realagents.mockapi import MockModel, Recorded, ToolCall

__all__ = [
    "FIXTURES",
    "JOURNAL",
    "AgentRun",
    "ToolCall",
    "check_fixtures",
    "codex_app_server_hooks",
    "codex_hook_trust",
    "journal_json",
    "journal_lines",
    "journal_text",
    "run_claude",
    "run_codex",
    "untrust_codex_hooks",
]

JOURNAL = pathlib.Path(sys.executable).with_name("journal")

AGENT_TIMEOUT = 90
# After the agent exits, its last hooks (SessionEnd) may still be appending.
SETTLE_SECONDS = 10


@dataclasses.dataclass
class AgentRun:
    """One agent invocation and what the journal made of it."""

    agent: str
    version: str
    root: pathlib.Path
    #: The journal home (the agent's own HOME is ``root / "home"``).
    journal_home: pathlib.Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    requests: list[Recorded]

    def journal(self, *args: str) -> Any:
        return journal_json(self.journal_home, *args)

    def log(self) -> list[dict[str, Any]]:
        return journal_lines(self.journal_home, "log", "--json")

    def kinds(self) -> list[str]:
        return [r["kind"] for r in self.log()]

    def payloads(self, kind: str) -> list[Any]:
        return [r["payload"] for r in self.log() if r["kind"] == kind]

    def session_id(self) -> str:
        ids = {p["session_id"] for p in self.payloads("SessionStart")}
        assert len(ids) == 1, f"expected one session, the SessionStart hooks name {ids}"
        return str(ids.pop())

    def one_step(self) -> dict[str, Any]:
        """The session's only step, from ``steps --json``."""
        steps = self.journal("steps", self.session_id(), "--json")
        assert len(steps) == 1, steps
        return dict(steps[0])

    def seq(self, kind: str) -> int:
        """The seq of the one record of ``kind``."""
        seqs = [r["seq"] for r in self.log() if r["kind"] == kind]
        assert len(seqs) == 1, f"{kind}: {seqs}"
        return int(seqs[0])

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    def describe(self) -> str:
        """What to show when an assertion fails."""
        return (
            f"{self.agent} exit {self.returncode} after {self.seconds:.1f}s\n"
            f"requests: {self.paths()}\nkinds: {self.kinds()}\n"
            f"stderr: {self.stderr[-3000:]}\nstdout: {self.stdout[-3000:]}"
        )


def _journal(home: pathlib.Path, *args: str, env: dict[str, str] | None = None) -> str:
    if not JOURNAL.is_file():
        pytest.fail(f"no journal executable next to the interpreter: {JOURNAL}", pytrace=False)
    done = subprocess.run(
        [str(JOURNAL), "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, f"journal {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    return done.stdout


def journal_text(home: pathlib.Path, *args: str) -> str:
    """``journal --home HOME ARGS…``'s stdout (``diff``)."""
    return _journal(home, *args)


def journal_json(home: pathlib.Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """``journal --home HOME ARGS…`` (which should include ``--json``), parsed.

    ``env`` is added to this process's environment.
    """
    return json.loads(_journal(home, *args, env={**os.environ, **env} if env else None))


def journal_lines(home: pathlib.Path, *args: str) -> list[dict[str, Any]]:
    """A JSON-lines query (``log --json``), parsed."""
    return [json.loads(line) for line in _journal(home, *args).splitlines() if line]


def _git_project(root: pathlib.Path) -> pathlib.Path:
    proj = root / "proj"
    proj.mkdir()
    subprocess.run(["git", "init", "-q", str(proj)], check=True, timeout=30)
    (proj / "README.md").write_text("A scratch project for an agent-journal test.\n")
    return proj


def _base_env(home: pathlib.Path, mock: MockModel) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "HTTPS_PROXY": mock.url,
        "HTTP_PROXY": mock.url,
        "https_proxy": mock.url,
        "http_proxy": mock.url,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def _drive(
    argv: list[str], cwd: pathlib.Path, env: dict[str, str], mock: MockModel, kill: bool
) -> tuple[int, str, str, float, int]:
    """Run the agent to its end, or (``kill``) SIGKILL it once the mock has stalled."""
    started = time.monotonic()
    # Its own session: whatever it spawns can be cleaned up with it, and only that.
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        if kill:
            if not mock.stalled.wait(AGENT_TIMEOUT):
                proc.kill()
                out, err = proc.communicate(timeout=30)
                _reap(proc.pid)
                pytest.fail(f"the agent never reached the stalled response:\n{err[-3000:]}")
            os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=AGENT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=30)
        _reap(proc.pid)
        pytest.fail(f"{argv[0]} did not finish in {AGENT_TIMEOUT}s:\n{err[-3000:]}")
    return proc.returncode, out, err, time.monotonic() - started, proc.pid


def _settle(home: pathlib.Path, until: str | None, pgid: int) -> None:
    """Wait (briefly) until a record of kind ``until`` has landed, then end what is left.

    Hooks still running when the agent exits are in its process group: they get
    :data:`SETTLE_SECONDS` to finish before the group is killed.
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    while until is not None and time.monotonic() < deadline:
        if any(r["kind"] == until for r in journal_lines(home, "log", "--json")):
            break
        time.sleep(0.2)
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    _reap(pgid)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _reap(pgid: int) -> None:
    """Kill what is left of the process group this test started (only that group)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- Claude Code ---------------------------------------------------------------------


def claude_env(home: pathlib.Path, mock: MockModel) -> dict[str, str]:
    """What ``claude -p`` needs to reach only ``mock`` (and to skip permissions as root)."""
    return {
        **_base_env(home, mock),
        "ANTHROPIC_BASE_URL": mock.url,
        "ANTHROPIC_API_KEY": "sk-ant-mock-key",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "IS_SANDBOX": "1",
    }


def run_claude(
    claude: pathlib.Path,
    version: str,
    root: pathlib.Path,
    command: str,
    *,
    stall: bool = False,
    subagent: bool = False,
    permission_mode: str | None = None,
    script: list[ToolCall] | None = None,
    setup: Callable[[pathlib.Path], None] | None = None,
) -> AgentRun:
    """``claude -p`` asking for ``command``; hooks installed at project scope.

    ``permission_mode=None`` runs with ``--dangerously-skip-permissions`` (which as
    root needs ``IS_SANDBOX=1``); otherwise ``--permission-mode MODE``, where ``-p``
    refuses what would need a prompt. ``script`` replaces the one ``Bash`` call by
    these tool calls (:class:`~tests.realagents.mockapi.ToolCall`); ``setup`` gets the
    project directory once the hooks are installed, before the agent starts.
    """
    home, journal_home = root / "home", root / "journal"
    home.mkdir()
    proj = _git_project(root)
    (proj / "CLAUDE.md").write_text("# Project notes\n\nRun what the user asks.\n")
    _journal(
        journal_home,
        "hooks",
        "install",
        "claude-code",
        "--scope",
        "project",
        "--project-dir",
        str(proj),
        env={**os.environ, "HOME": str(home)},
    )
    if setup is not None:
        setup(proj)
    with MockModel(command, stall=stall, subagent=subagent, script=script) as mock:
        env = claude_env(home, mock)
        permissions = (
            ["--dangerously-skip-permissions"]
            if permission_mode is None
            else ["--permission-mode", permission_mode]
        )
        argv = [
            str(claude),
            "-p",
            f"Please run `{command}` in the shell.",
            "--output-format",
            "stream-json",
            "--verbose",
            *permissions,
        ]
        code, out, err, seconds, pgid = _drive(argv, proj, env, mock, kill=stall)
        _settle(journal_home, None if stall else "SessionEnd", pgid)
        requests = list(mock.requests)
    return AgentRun("claude-code", version, root, journal_home, code, out, err, seconds, requests)


# --- Codex -----------------------------------------------------------------------------


def codex_hook_trust(hooks_json: pathlib.Path) -> dict[str, str]:
    """``{state key: trusted_hash}`` of each command hook in ``hooks_json``, computed by
    the installer's own :mod:`journal.agents.installers._codex_trust`, so that
    ``test_codex.py`` checks the product's algorithm against what ``codex app-server``'s
    ``hooks/list`` reports as ``currentHash``.
    """
    events = json.loads(hooks_json.read_text())["hooks"]
    trust: dict[str, str] = {}
    for event, groups in events.items():
        for g, group in enumerate(groups):
            for h, handler in enumerate(group.get("hooks") or []):
                digest = _codex_trust.trusted_hash(event, group.get("matcher"), handler)
                if digest is not None:
                    trust[_codex_trust.state_key(str(hooks_json.resolve()), event, g, h)] = digest
    return trust


def untrust_codex_hooks(codex_home: pathlib.Path) -> int:
    """Remove every ``[hooks.state]`` trust mark from ``config.toml``; return how many.

    What a user has whose trust was revoked in the TUI, or who installed before the
    installer wrote trust: ``codex exec`` then silently skips every hook.
    """
    config = codex_home / "config.toml"
    doc = tomlkit.parse(config.read_text())
    hooks = doc.get("hooks")
    state = hooks.pop("state", None) if hooks is not None else None
    config.write_text(tomlkit.dumps(doc))
    return len(state) if state is not None else 0


def _codex_config(mock: MockModel, proj: pathlib.Path) -> str:
    # plugins/apps/remote_plugin/plugin_sharing/tool_suggest and analytics call
    # OpenAI's hosts; the provider is the mock. gpt-5.5 is a slug Codex knows, so it
    # gets its real tool set (an unknown slug gets no apply_patch tool).
    return f"""\
model = "gpt-5.5"
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.mock]
name = "mock"
base_url = "{mock.url}/v1"
wire_api = "responses"
env_key = "MOCK_API_KEY"

[features]
plugins = false
apps = false
remote_plugin = false
plugin_sharing = false
tool_suggest = false

[analytics]
enabled = false

[projects."{proj}"]
trust_level = "trusted"
"""


def run_codex(
    codex: pathlib.Path,
    version: str,
    root: pathlib.Path,
    command: str,
    *,
    stall: bool = False,
    trust: bool = True,
    script: list[ToolCall] | None = None,
    setup: Callable[[pathlib.Path], None] | None = None,
) -> AgentRun:
    """``codex exec`` asking for ``command``; hooks and ``notify`` installed at user scope.

    ``script`` and ``setup`` as for :func:`run_claude`.
    """
    home, journal_home = root / "home", root / "journal"
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True)
    proj = _git_project(root)
    if setup is not None:
        setup(proj)
    with MockModel(command, stall=stall, script=script) as mock:
        (codex_home / "config.toml").write_text(_codex_config(mock, proj))
        base = _base_env(home, mock)
        _journal(
            journal_home,
            "hooks",
            "install",
            "codex",
            env={**os.environ, "HOME": str(home), "CODEX_HOME": str(codex_home)},
        )
        if not trust:
            assert untrust_codex_hooks(codex_home) > 0, "the installer wrote no trust"
        env = {
            **base,
            "CODEX_HOME": str(codex_home),
            "MOCK_API_KEY": "sk-mock-key",
        }
        argv = [
            str(codex),
            "exec",
            "--json",
            "--dangerously-bypass-approvals-and-sandbox",
            f"Please run `{command}` in the shell.",
        ]
        code, out, err, seconds, pgid = _drive(argv, proj, env, mock, kill=stall)
        _settle(journal_home, None if stall else "SessionEnd" if trust else None, pgid)
        requests = list(mock.requests)
    return AgentRun("codex", version, root, journal_home, code, out, err, seconds, requests)


def codex_app_server_hooks(
    codex: pathlib.Path, codex_home: pathlib.Path, cwd: pathlib.Path
) -> list[dict[str, Any]]:
    """Codex's own view of its hooks: ``codex app-server``'s ``hooks/list`` (JSON-RPC on stdio).

    Each entry has ``key``, ``eventName``, ``command``, ``currentHash`` and
    ``trustStatus`` (``trusted``, ``untrusted``, ``modified``, ``managed``).
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(codex_home.parent),
        "CODEX_HOME": str(codex_home),
    }
    requests = [
        {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "t", "version": "1"}}},
        {"method": "initialized"},
        {"id": 2, "method": "hooks/list", "params": {"cwds": [str(cwd)]}},
    ]
    proc = subprocess.Popen(
        [str(codex), "app-server"],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None
    assert stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        stdin.write("".join(json.dumps(r) + "\n" for r in requests))
        stdin.flush()
        deadline = time.monotonic() + 60
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = json.loads(lines.get(timeout=left))
            except queue.Empty:
                break
            if message.get("id") == 2:
                assert "result" in message, message
                return [h for entry in message["result"]["data"] for h in entry["hooks"]]
        pytest.fail("codex app-server did not answer hooks/list in 60 s")
    finally:
        proc.kill()
        proc.wait(timeout=30)
        _reap(proc.pid)
        reader.join(timeout=30)
        for pipe in (stdin, stdout):
            try:
                pipe.close()
            except OSError:
                pass
