"""Spooled events keep the agent process their hook found (spool format version 2)."""

from __future__ import annotations

import json
import os
import pathlib
import struct
import subprocess
import sys
from typing import Any

from journal.agents import process, spool
from journal.store import LmdbJournal
from tests.conftest import FIXTURES, JOURNAL_BIN

AGENT = (4242, 987654, bytes(range(16)))


def _journal(home: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=True,
    )
    return done.stdout


def test_the_agent_process_round_trips(home: str) -> None:
    """What write() is given as the agent, read() gives back, beside the other fields."""
    path = spool.write(
        spool.spool_dir(home),
        b'{"hook_event_name":"Stop"}',
        source="codex",
        kind="Stop",
        key="k",
        received_at=7,
        home=home,
        agent=AGENT,
    )
    entry = spool.read(path)
    assert (entry.agent, entry.source, entry.kind, entry.key, entry.home) == (
        AGENT,
        "codex",
        "Stop",
        "k",
        home,
    )
    assert pathlib.Path(path).read_bytes().startswith(b"AJSPOOL2")


def test_drain_appends_with_the_spooled_agent(lmdb_journal: LmdbJournal) -> None:
    """The drained record names the spooled agent process; one without stays without."""
    for key, agent in (("with", AGENT), ("without", None)):
        spool.write(
            spool.spool_dir(lmdb_journal.home),
            b'{"hook_event_name":"Stop","session_id":"s"}',
            source="claude-code",
            kind="",
            key=key,
            received_at=1 if agent else 2,
            home=lmdb_journal.home,
            agent=agent,
        )
    assert spool.drain(lmdb_journal).appended == 2
    first, second = lmdb_journal.read()
    assert (first.agent_pid, first.agent_start) == AGENT[:2]
    assert first.agent_boot is not None
    assert bytes.fromhex(first.agent_boot.replace("-", "")) == AGENT[2]
    assert (second.agent_pid, second.agent_start, second.agent_boot) == (None, None, None)


def _version_1_file(directory: str, home: str, data: bytes) -> str:
    """A spool file as the version 1 hook wrote it: no agent block."""
    fields = [v.encode() for v in ("gemini", "AfterTool", "old-key", home)]
    head = b"AJSPOOL1" + struct.pack(">QHHHH", 55, *(len(f) for f in fields)) + b"".join(fields)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{55:020d}-1-abcd.spool")
    pathlib.Path(path).write_bytes(head + data)
    return path


def test_a_version_1_file_still_drains(lmdb_journal: LmdbJournal) -> None:
    """An old spool file drains: its fields as written, no agent process."""
    data = b'{"hook_event_name":"AfterTool","session_id":"g"}'
    path = _version_1_file(spool.spool_dir(lmdb_journal.home), lmdb_journal.home, data)
    assert spool.read(path).agent is None
    assert spool.drain(lmdb_journal).appended == 1
    (record,) = lmdb_journal.read()
    assert (record.source, record.kind, record.key, record.received_at) == (
        "gemini",
        "AfterTool",
        "old-key",
        55,
    )
    assert record.payload == data
    assert record.agent_pid is None
    assert not os.path.exists(path)


def test_a_version_1_file_in_the_fallback_spool_is_found_for_its_home(
    tmp_path: pathlib.Path, monkeypatch: Any
) -> None:
    """The fallback spool's home lookup reads both header versions."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    home = str(tmp_path / "home")
    path = _version_1_file(spool.fallback_dir(), home, b'{"hook_event_name":"Stop"}')
    assert spool.waiting(home) == [path]
    assert spool.waiting(str(tmp_path / "other")) == []


# A process that runs one hook and exits: the hook's agent is then gone.
_SHORT_LIVED_AGENT = """
import subprocess, sys
subprocess.run(sys.argv[1:], input=sys.stdin.buffer.read(), check=True)
"""


def _spooled_prompt(tmp_path: pathlib.Path, via: list[str]) -> tuple[str, dict[str, str]]:
    """A hook whose home is blocked spools a prompt to the fallback; the home is freed."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    home = str(blocker / "home")
    env = {"TMPDIR": str(tmp_path / "tmp")}
    data = (FIXTURES / "claude-code__acf__UserPromptSubmit.json").read_bytes()
    done = subprocess.run(
        [*via, JOURNAL_BIN, "--home", home, "hook", "claude-code"],
        input=data,
        capture_output=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, b""), done.stderr
    assert len(list((tmp_path / "tmp").glob("agent-journal-*/spool/*.spool"))) == 1
    blocker.unlink()
    _journal(home, "spool", "drain", env=env)
    return home, env


def test_a_spooled_event_of_a_live_agent_is_an_active_run(tmp_path: pathlib.Path) -> None:
    """Spooled, then drained: the record names this test (the hook's agent), still alive,
    so the run with its open turn is active, not judged by the idle clock."""
    home, env = _spooled_prompt(tmp_path, [])
    (record,) = [json.loads(line) for line in _journal(home, "log", "--json", env=env).splitlines()]
    found = process.agent(os.getpid())
    assert found is not None
    assert (record["agent_pid"], record["agent_start"]) == (os.getpid(), found[1])
    (run,) = json.loads(_journal(home, "runs", "--json", "--idle", "0", env=env))
    assert (run["status"], run["agent_alive"]) == ("active", True)


def test_a_spooled_event_of_a_dead_agent_is_an_interrupted_run(tmp_path: pathlib.Path) -> None:
    """The hook's agent exited before the drain: the run is interrupted at once (no
    idle wait), because the spooled record still names its agent process."""
    home, env = _spooled_prompt(tmp_path, [sys.executable, "-c", _SHORT_LIVED_AGENT])
    (record,) = [json.loads(line) for line in _journal(home, "log", "--json", env=env).splitlines()]
    assert record["agent_pid"] not in (None, os.getpid())
    (run,) = json.loads(_journal(home, "runs", "--json", "--idle", "600", env=env))
    assert (run["status"], run["agent_alive"]) == ("interrupted", False)
    listed = json.loads(_journal(home, "interrupted", "--json", "--idle", "600", env=env))
    assert [r["session_id"] for r in listed] == [run["session_id"]]
