"""The agent process of a hook: the nearest ancestor that is not a shell, and its liveness."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from journal import wire
from journal.agents import process
from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self") or process.boot_id() is None, reason="no /proc"
)

_PRINT_AGENT = "from journal.agents import process; print(process.agent())"


def test_stat_reads_this_process() -> None:
    """stat() gives this process's parent and a start time that does not change."""
    found = process.stat(os.getpid())
    assert found is not None
    _comm, state, ppid, _start = found
    assert (state in "RS", ppid) == (True, os.getppid())
    assert process.stat(os.getpid()) == found
    assert process.stat(2**22 + 12345) is None  # above pid_max: no such process


def test_the_agent_is_the_nearest_ancestor_that_is_not_a_shell() -> None:
    """Run through two shells and env, a program's agent is this test process."""
    done = subprocess.run(
        ["sh", "-c", f"bash -c 'env {sys.executable} -c \"{_PRINT_AGENT}\"; true'; true"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    me = process.stat(os.getpid())
    assert me is not None
    assert done.stdout.strip() == repr((os.getpid(), me[3], process.boot_id()))


def test_a_hook_run_by_a_shell_records_its_agent(tmp_path: pathlib.Path) -> None:
    """``sh -c 'journal hook …'`` records this process (the shell's parent) as its agent."""
    home = str(tmp_path / "home")
    event = json.dumps({"session_id": "s1", "hook_event_name": "Stop"})
    subprocess.run(
        ["sh", "-c", f"{JOURNAL_BIN} --home {home} hook claude-code; true"],
        input=event,
        text=True,
        timeout=60,
        check=True,
    )
    me = process.stat(os.getpid())
    assert me is not None
    with LmdbJournal(home) as journal:
        (record,) = journal.read()
    assert (record.agent_pid, record.agent_start) == (os.getpid(), me[3])
    boot = process.boot_id()
    assert boot is not None
    assert record.agent_boot is not None
    assert bytes.fromhex(record.agent_boot.replace("-", "")) == boot


def test_alive_tells_a_running_process_from_a_dead_one_and_a_reused_pid() -> None:
    """alive() is True for the very process, False once it is killed (zombie or reaped),
    for another start time (a reused pid) and for another boot."""
    child = subprocess.Popen(["sleep", "600"])
    try:
        found = process.stat(child.pid)
        boot = process.boot_id()
        assert found is not None
        assert boot is not None
        start = found[3]
        assert process.alive(child.pid, start, boot) is True
        assert process.alive(child.pid, start, wire.boot_text(boot)) is True
        assert process.alive(child.pid, start + 1, boot) is False
        assert process.alive(child.pid, start, bytes(16)) is False
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # a zombie, not reaped
        assert process.alive(child.pid, start, boot) is False
    finally:
        child.kill()
        child.wait()
    assert process.alive(child.pid, start, boot) is False


def test_an_orphan_has_no_agent() -> None:
    """A chain that reaches init names no agent: nobody is waiting for the hook."""
    assert process.agent(1) is None
