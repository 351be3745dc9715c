"""``journal hook AGENT`` through a real subprocess: silent, exit 0, nothing lost.

Golden inputs are every payload in ``shared/fixtures`` plus the synthetic Codex,
Gemini and Cursor payloads in ``tests/fixtures`` (shapes from hook-sources.md).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from journal.store import LmdbJournal
from tests.conftest import FIXTURES, JOURNAL_BIN, REPO, lmdb_verify

SYNTHETIC = REPO / "tests" / "fixtures"


def hook(
    home: str,
    agent: str,
    data: bytes | None,
    *args: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run one hook process the way an agent does: stdin in, nothing expected out."""
    return subprocess.run(
        [JOURNAL_BIN, "--home", home, "hook", agent, *args],
        input=data,
        stdin=subprocess.DEVNULL if data is None else None,
        capture_output=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def silent_ok(done: subprocess.CompletedProcess[bytes]) -> None:
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""


def log(home: str, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "log", "--json", *args],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def _kind(path: pathlib.Path, field: str) -> str:
    value: str = json.loads(path.read_bytes())[field]
    return value


def _golden_cases() -> list[tuple[str, pathlib.Path, str]]:
    claude = [
        ("claude-code", p, _kind(p, "hook_event_name"))
        for p in sorted(FIXTURES.glob("claude-code__*.json"))
    ]
    opencode = [("opencode", p, _kind(p, "type")) for p in sorted(FIXTURES.glob("opencode-bus__*"))]
    synthetic = [
        (p.name.split("__")[0], p, _kind(p, "hook_event_name"))
        for p in sorted(SYNTHETIC.glob("*.json"))
        if "__notify__" not in p.name
    ]
    return claude + opencode + synthetic


GOLDEN = _golden_cases()


@pytest.mark.parametrize(("agent", "path", "kind"), GOLDEN, ids=[c[1].stem for c in GOLDEN])
def test_golden_payload_lands_with_source_and_kind(
    home: str, agent: str, path: pathlib.Path, kind: str
) -> None:
    """Every real or synthetic payload: exit 0, empty stdout, one record, right source/kind."""
    silent_ok(hook(home, agent, path.read_bytes()))
    records = log(home)
    assert [(r["source"], r["kind"]) for r in records] == [(agent, kind)]
    assert records[0]["payload"] == json.loads(path.read_bytes())


def test_golden_session_lands_in_delivery_order(home: str) -> None:
    """All Claude Code fixtures, one hook each: seqs 1..N in delivery order, chain verifies."""
    paths = sorted(FIXTURES.glob("claude-code__*.json"))
    for path in paths:
        silent_ok(hook(home, "claude-code", path.read_bytes()))
    records = log(home)
    assert [r["seq"] for r in records] == list(range(1, len(paths) + 1))
    with LmdbJournal(home) as journal:
        assert journal.verify().ok


def test_codex_notify_passes_the_event_as_the_last_argument(home: str) -> None:
    """Codex notify: JSON in argv, stdin null; it lands as kind agent-turn-complete."""
    payload = (SYNTHETIC / "codex__notify__agent-turn-complete.json").read_text()
    silent_ok(hook(home, "codex", None, payload))
    (record,) = log(home)
    assert (record["source"], record["kind"]) == ("codex", "agent-turn-complete")
    assert record["key"] == "codex:notify:019a8f3c-6d2e-7b41-9c55-2f0e4b8d1a77:turn_7"


def test_codex_notify_delivered_twice_is_one_record(home: str) -> None:
    """The notify id (thread, turn) makes a repeated notify one record."""
    payload = (SYNTHETIC / "codex__notify__agent-turn-complete.json").read_text()
    silent_ok(hook(home, "codex", None, payload))
    silent_ok(hook(home, "codex", None, payload))
    assert len(log(home)) == 1


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        ("claude-code", "claude-code__acf__PreToolUse_Bash.json"),
        ("claude-code", "claude-code__acf__PostToolUse_Bash.json"),
        ("claude-code", "claude-code__acf__SubagentStart.json"),
        ("codex", "codex__PreToolUse.json"),
        ("codex", "codex__UserPromptSubmit.json"),
        ("cursor", "cursor__beforeSubmitPrompt.json"),
    ],
)
def test_a_repeated_delivery_of_one_event_is_one_record(home: str, agent: str, name: str) -> None:
    """Events with their own ids (tool_use_id, agent_id, turn_id...) dedupe on redelivery."""
    path = FIXTURES / name if (FIXTURES / name).exists() else SYNTHETIC / name
    silent_ok(hook(home, agent, path.read_bytes()))
    silent_ok(hook(home, agent, path.read_bytes()))
    (record,) = log(home)
    assert record["key"] is not None


def test_two_identical_stops_are_two_records_sharing_one_blob(home: str) -> None:
    """A Stop has no id of its own: two deliveries are two occurrences, one payload blob."""
    data = (FIXTURES / "claude-code__acf__Stop.json").read_bytes()
    silent_ok(hook(home, "claude-code", data))
    silent_ok(hook(home, "claude-code", data))
    records = log(home)
    assert [r["seq"] for r in records] == [1, 2]
    assert records[0]["digest"] == records[1]["digest"]
    assert records[0]["key"] is None


def test_cursor_running_claude_hooks_is_recorded_as_cursor(home: str) -> None:
    """Cursor runs ~/.claude/settings.json hooks too; cursor_version tells its events apart."""
    silent_ok(hook(home, "claude-code", (SYNTHETIC / "cursor__stop.json").read_bytes()))
    (record,) = log(home)
    assert (record["source"], record["kind"]) == ("cursor", "stop")


def test_an_unknown_event_name_is_kept_as_it_is(home: str) -> None:
    """A Claude Code event that does not exist yet lands with its own name as kind."""
    data = b'{"session_id":"s1","hook_event_name":"PostModelSwitch2099","model":"x"}'
    silent_ok(hook(home, "claude-code", data))
    assert log(home)[0]["kind"] == "PostModelSwitch2099"


@pytest.mark.parametrize(
    ("case", "data", "reason"),
    [
        ("garbage", b"\x00\xffnot json at all", "not UTF-8"),
        ("empty", b"", "empty"),
        ("not-an-object", b"[1, 2, 3]", "not a JSON object"),
        ("truncated", b'{"hook_event_name": "Stop", "session_id": ', "not JSON"),
        ("ten-megabytes", b'{"x":"' + b"a" * (10 * 1024 * 1024) + b'"}', "too large"),
    ],
)
def test_bad_input_is_quarantined_never_dropped(
    home: str, case: str, data: bytes, reason: str
) -> None:
    """Bad input: exit 0, empty stdout, no record, kept byte for byte with its reason."""
    silent_ok(hook(home, "claude-code", data))
    assert log(home) == []
    with LmdbJournal(home) as journal:
        (entry,) = journal.quarantined()
    assert reason in entry.reason, entry.reason
    assert entry.data == data
    assert entry.source == "claude-code"


def test_a_home_that_cannot_be_created_spools_to_the_fallback(tmp_path: pathlib.Path) -> None:
    """A file where the home should be: exit 0, the event waits in the fallback spool,
    and lands once the home is usable and the spool is drained."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    home = str(blocker / "home")
    env = {"TMPDIR": str(tmp_path / "tmp")}
    data = (FIXTURES / "claude-code__acf__UserPromptSubmit.json").read_bytes()
    silent_ok(hook(home, "claude-code", data, env=env))
    spooled = list((tmp_path / "tmp").glob("agent-journal-*/spool/*.spool"))
    assert len(spooled) == 1
    assert "spooled" in next((tmp_path / "tmp").glob("agent-journal-*/hook.log")).read_text()
    blocker.unlink()
    drained = subprocess.run(
        [JOURNAL_BIN, "--home", home, "spool", "drain", "--json"],
        capture_output=True,
        env={**os.environ, **env},
        check=True,
    )
    assert json.loads(drained.stdout)["appended"] == 1
    (record,) = log(home)
    assert record["kind"] == "UserPromptSubmit"
    assert not list((tmp_path / "tmp").glob("agent-journal-*/spool/*.spool"))


_HOLD_LOCK = """
import sys, time
from journal.store import LmdbJournal
journal = LmdbJournal(sys.argv[1])
with journal._env.begin(write=True):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.mark.slow
def test_a_write_lock_held_for_ten_seconds_spools_then_lands_exactly_once(home: str) -> None:
    """Another process holds the write lock for 10 s: the hook exits 0 while it is still
    held, its event is spooled, and lands exactly once after the lock is released."""
    LmdbJournal(home).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, home, "10"], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        data = (FIXTURES / "claude-code__acf__PreToolUse_Bash.json").read_bytes()
        silent_ok(hook(home, "claude-code", data))
        assert holder.poll() is None, "the hook waited for the lock holder to finish"
        assert len(list(pathlib.Path(home, "spool").glob("*.spool"))) == 1
    finally:
        holder.wait(timeout=60)
        assert holder.stdout is not None
        holder.stdout.close()
    # The next hook drains the spool after its own append.
    silent_ok(hook(home, "claude-code", (FIXTURES / "claude-code__acf__Stop.json").read_bytes()))
    kinds = [r["kind"] for r in log(home)]
    assert sorted(kinds) == ["PreToolUse", "Stop"]
    assert not list(pathlib.Path(home, "spool").glob("*.spool"))
    # Delivering the same PreToolUse again changes nothing: its key is known.
    silent_ok(hook(home, "claude-code", data))
    assert len(log(home)) == 2


def test_an_event_without_an_id_spooled_while_busy_lands_once(home: str) -> None:
    """A spooled Stop (no agent id) gets a spool key: draining twice appends it once."""
    LmdbJournal(home).close()
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, home, "3"], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        data = (FIXTURES / "claude-code__acf__Stop.json").read_bytes()
        silent_ok(hook(home, "claude-code", data, env={"AGENT_JOURNAL_HOOK_BUDGET_MS": "100"}))
        (spooled,) = pathlib.Path(home, "spool").glob("*.spool")
        copy = spooled.read_bytes()
    finally:
        holder.wait(timeout=60)
        assert holder.stdout is not None
        holder.stdout.close()
    for _ in range(2):
        spooled.write_bytes(copy)  # as if a drain died between commit and unlink
        subprocess.run([JOURNAL_BIN, "--home", home, "spool", "drain"], check=True)
    (record,) = log(home)
    assert record["key"].startswith("spool:")


@pytest.mark.slow
def test_kill_9_of_hooks_mid_append_never_breaks_the_journal(home: str) -> None:
    """Hooks killed with SIGKILL at random points: the log verifies, no event is doubled,
    and every hook that exited on its own left its event in the log or the spool."""
    LmdbJournal(home).close()
    big = b'{"hook_event_name":"PostToolUse","session_id":"s","tool_use_id":"%d","x":"%s"}'
    finished = set()
    for i in range(40):
        data = big % (i, b"y" * (i * 20_000))
        proc = subprocess.Popen(
            [JOURNAL_BIN, "--home", home, "hook", "claude-code"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        time.sleep((i % 10) * 0.004)
        proc.send_signal(signal.SIGKILL)
        if proc.wait(timeout=30) == 0:
            finished.add(str(i))
    subprocess.run([JOURNAL_BIN, "--home", home, "spool", "drain"], check=True)
    keys = [r["key"] for r in log(home)]
    assert len(keys) == len(set(keys))
    landed = {k.rsplit(":", 1)[1] for k in keys}
    assert finished <= landed
    with LmdbJournal(home) as journal:
        report = journal.verify()
    assert report.ok, report.problem
    lmdb_verify(home)


def test_the_hook_never_prints_even_when_everything_fails(tmp_path: pathlib.Path) -> None:
    """Unusable home and unusable fallback: still exit 0 and an empty stdout."""
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    env = {"TMPDIR": str(blocker)}  # the fallback is under a file as well
    silent_ok(hook(str(blocker / "home"), "claude-code", b'{"hook_event_name":"Stop"}', env=env))


_IMPORTS = """
import sys
sys.argv = ["journal", "--home", sys.argv[1], "hook", "claude-code"]
from journal.cli._entry import _hook_argv
from journal.agents.hook import main
main(*_hook_argv(sys.argv[1:]))
loaded = sorted(sys.modules)
import json as _report
print(_report.dumps(loaded), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "data",
    [
        b'{"hook_event_name":"PreToolUse","session_id":"s","tool_use_id":"t1"}',
        b"not json",
    ],
    ids=["good", "bad"],
)
def test_the_hook_imports_only_what_an_append_needs(home: str, data: bytes) -> None:
    """journal hook loads no click, msgspec, projections, json package or hashlib."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS, home], input=data, capture_output=True, check=True
    )
    loaded = set(json.loads(done.stderr.splitlines()[-1]))
    tops = {m.split(".")[0] for m in loaded}
    assert not tops & {"click", "msgspec", "projections", "hashlib", "typing"}, sorted(tops)
    assert "json.decoder" not in loaded or data == b"not json"
    assert not {m for m in loaded if m.startswith("journal.cli.")} - {"journal.cli._entry"}


@pytest.mark.slow
def test_eight_hooks_at_once_lose_nothing_and_double_nothing(home: str) -> None:
    """8 concurrent streams of hooks (tool events redelivered, Stops without ids): every
    event lands exactly once (after a final drain), seqs are gap-free, the chain verifies."""
    LmdbJournal(home).close()
    script = """
import json, subprocess, sys
home, worker = sys.argv[1], sys.argv[2]
for i in range(40):
    pre = {"hook_event_name": "PreToolUse", "session_id": worker, "tool_use_id": f"{worker}-{i}"}
    for event in (pre, pre, {"hook_event_name": "Stop", "session_id": worker, "n": i}):
        done = subprocess.run([sys.argv[3], "--home", home, "hook", "claude-code"],
                              input=json.dumps(event).encode(), capture_output=True)
        assert (done.returncode, done.stdout) == (0, b""), done
"""
    workers = [
        subprocess.Popen([sys.executable, "-c", script, home, f"w{w}", JOURNAL_BIN])
        for w in range(8)
    ]
    assert [w.wait(timeout=600) for w in workers] == [0] * 8
    subprocess.run([JOURNAL_BIN, "--home", home, "spool", "drain"], check=True)
    records = log(home)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    pres = [r["key"] for r in records if r["kind"] == "PreToolUse"]
    stops = [
        (r["payload"]["session_id"], r["payload"]["n"]) for r in records if r["kind"] == "Stop"
    ]
    assert sorted(pres) == sorted(
        f"claude-code:PreToolUse:w{w}-{i}" for w in range(8) for i in range(40)
    )
    assert sorted(stops) == sorted((f"w{w}", i) for w in range(8) for i in range(40))
    with LmdbJournal(home) as journal:
        assert journal.verify().ok
