"""The installed OpenCode plugin, run for real under node.

``journal hooks install opencode`` writes the plugin with a fake ``journal`` (a
script that logs what it was given: one line per event it read, and in ``--stream``
mode an acknowledgement per line, as the real stream does) as its command; a node
driver loads the file the way OpenCode's loaders do, feeds it real bus events, and
the log shows what reached the journal: which events, in which order, with which
bytes. The last tests run the real ``journal`` behind the plugin.
"""

from __future__ import annotations

import glob
import json
import os
import pathlib
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from journal.agents.installers import _command, install
from tests.conftest import FIXTURES, JOURNAL_BIN

NODE = "/usr/bin/node"
# OpenCode is a Bun executable; BUN_BE_BUN=1 makes it the bun runtime that hosts plugins.
_NPM_CACHE = os.environ.get("AGENT_JOURNAL_NPM_CACHE") or os.path.expanduser(
    "~/.cache/agent-journal-tests/npm"
)
_OPENCODE = sorted(
    glob.glob(os.path.join(_NPM_CACHE, "opencode-ai@*/node_modules/opencode-*/bin/opencode"))
)

HEARTBEAT = json.loads((FIXTURES / "opencode-bus__v1.18.5__server.heartbeat.json").read_text())
PERMISSION = json.loads((FIXTURES / "opencode-bus__v1.18.5__permission.asked.json").read_text())
STEP_FINISH = json.loads((FIXTURES / "opencode-bus__v1.18.5__step-finish_part.json").read_text())
PART_UPDATED = {
    "type": "message.part.updated",
    "properties": {"sessionID": "ses_1", "part": STEP_FINISH, "time": 1},
}
DELTA = {
    "type": "message.part.delta",
    "properties": {"sessionID": "ses_1", "messageID": "m", "partID": "p", "field": "text"},
}

# FAKE_STREAM=refuse plays a journal without a stream mode: it exits at once.
FAKE_JOURNAL = f"""#!{sys.executable}
import json, os, sys, time
release = os.environ.get("FAKE_RELEASE")
deadline = time.monotonic() + 60
while release and not os.path.exists(release) and time.monotonic() < deadline:
    time.sleep(0.01)
log = open(os.environ["FAKE_LOG"], "a")
if sys.argv[-1] == "--stream":
    if os.environ.get("FAKE_STREAM") == "refuse":
        sys.exit(0)
    for line in sys.stdin.buffer:
        delivery, _, data = line.rstrip(b"\\n").partition(b"\\t")
        entry = {{"argv": sys.argv[1:], "id": delivery.decode(), "stdin": data.decode()}}
        log.write(json.dumps(entry) + "\\n")
        log.flush()
        try:
            sys.stdout.write(delivery.decode() + "\\n")
            sys.stdout.flush()
        except OSError:
            pass  # OpenCode is gone: keep reading, as the real stream does
else:
    log.write(json.dumps({{"argv": sys.argv[1:], "stdin": sys.stdin.read()}}) + "\\n")
"""

# The real journal's stream, killed (as by OOM) after committing its first CRASH_AFTER
# events but before passing on their acknowledgements; started again, it runs as is.
CRASHY_JOURNAL = f"""#!{sys.executable}
import os, subprocess, sys, threading
args = sys.argv[1:]
if args[-1] != "--stream" or os.path.exists(os.environ["CRASHED"]):
    os.execv({JOURNAL_BIN!r}, [{JOURNAL_BIN!r}, *args])
real = subprocess.Popen([{JOURNAL_BIN!r}, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
limit = int(os.environ["CRASH_AFTER"])
last = None
for n, line in enumerate(sys.stdin.buffer):
    real.stdin.write(line)
    last = line.split(b"\\t", 1)[0]
    if n + 1 == limit:
        break
real.stdin.close()
acks = real.stdout.read().split()
assert acks[-1] == last, (acks, last)
open(os.environ["CRASHED"], "w").close()
os._exit(9)
"""

# Loads the plugin as OpenCode does: >= 1.3.4 takes the default export's server();
# <= 1.3.3 calls every export and keeps the hook maps made before one throws.
DRIVER = """
import { pathToFileURL } from "node:url";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const [pluginPath, eventsPath, mode, expected] = process.argv.slice(2);
const { FAKE_LOG, FAKE_RELEASE, LOADER } = process.env;
const mod = await import(pathToFileURL(pluginPath).href);
let hooks;
if (LOADER === "v1") {
  if (typeof mod.default?.id !== "string") throw new Error("no default id");
  hooks = await mod.default.server({});
} else {
  const found = [];
  try {
    for (const [, fn] of Object.entries(mod)) found.push(await fn({}));
  } catch {}
  hooks = found.find((h) => h && typeof h.event === "function");
}
const lines = () =>
  existsSync(FAKE_LOG) ? readFileSync(FAKE_LOG, "utf8").split("\\n").filter(Boolean).length : 0;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const events = JSON.parse(readFileSync(eventsPath, "utf8"));
const spent = [];
for (const event of events) {
  const t0 = process.hrtime.bigint();
  await hooks.event({ event });
  spent.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const report = { logged_when_hooks_returned: lines(), hook_ms: spent };
if (mode === "dispose-exit") {
  const t0 = process.hrtime.bigint();
  await hooks.dispose();
  await hooks.dispose(); // OpenCode may call it twice
  report.dispose_ms = Number(process.hrtime.bigint() - t0) / 1e6;
}
if (FAKE_RELEASE) writeFileSync(FAKE_RELEASE, "go");
if (mode === "linger") {
  // Stay up (as OpenCode does) until the test has seen what it waits for.
  const deadline = Date.now() + 120000;
  while (!existsSync(process.env.LINGER_UNTIL) && Date.now() < deadline) await sleep(20);
  await hooks.dispose();
} else if (mode === "wait") {
  const deadline = Date.now() + 60000;
  while (lines() < Number(expected) && Date.now() < deadline) await sleep(20);
} else if (mode === "settle") {
  await sleep(500);
}
console.log(JSON.stringify(report));
process.exit(0);
"""


def _install(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, script: str
) -> tuple[pathlib.Path, pathlib.Path]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    fake = tmp_path / "fake bin" / "journal"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(script)
    fake.chmod(0o755)
    monkeypatch.setattr(_command, "program_argv", lambda: [str(fake)])
    (change,) = install("opencode").files
    return pathlib.Path(change.path), tmp_path / "spawned.log"


@pytest.fixture
def plugin(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[pathlib.Path, pathlib.Path]:
    """The plugin installed into a temporary HOME, spawning the fake journal."""
    return _install(tmp_path, monkeypatch, FAKE_JOURNAL)


def drive(
    plugin_path: pathlib.Path,
    log: pathlib.Path,
    events: list[dict[str, Any]],
    *,
    mode: str = "wait",
    expected: int = 0,
    loader: str = "v1",
    env: dict[str, str] | None = None,
    runtime: str = NODE,
) -> dict[str, Any]:
    """Run the driver under ``runtime`` (node, or OpenCode's bun); return its report."""
    work = log.parent
    (work / "driver.mjs").write_text(DRIVER)
    (work / "events.json").write_text(json.dumps(events))
    run_env = {k: v for k, v in os.environ.items() if k != "AGENT_JOURNAL_OPENCODE_SKIP"}
    run_env.update({"FAKE_LOG": str(log), "LOADER": loader, "BUN_BE_BUN": "1", **(env or {})})
    argv = [runtime, str(work / "driver.mjs"), str(plugin_path), str(work / "events.json")]
    done = subprocess.run(
        [*argv, mode, str(expected)],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def spawned(log: pathlib.Path) -> list[dict[str, Any]]:
    """One entry per event the fake journal read: its argv, delivery id and JSON."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def wait_for(log: pathlib.Path, count: int) -> list[dict[str, Any]]:
    """The log once it has ``count`` entries (detached processes may still be running)."""
    deadline = time.monotonic() + 60
    while len(spawned(log)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return spawned(log)


def numbered(n: int) -> dict[str, Any]:
    """A bus event carrying its position (no id of its own, like ``session.status``)."""
    return {"type": "session.status", "properties": {"sessionID": "ses_1", "n": n}}


@pytest.mark.parametrize("loader", ["v1", "legacy"], ids=["opencode>=1.3.4", "opencode<=1.3.3"])
def test_bus_events_reach_one_stream_in_order_and_noise_is_skipped(
    plugin: tuple[pathlib.Path, pathlib.Path], loader: str
) -> None:
    """Real events reach one `journal hook opencode --stream` in order; heartbeat, delta don't."""
    path, log = plugin
    drive(path, log, [HEARTBEAT, PERMISSION, DELTA, PART_UPDATED], expected=2, loader=loader)
    entries = wait_for(log, 2)
    assert [e["argv"] for e in entries] == [["hook", "opencode", "--stream"]] * 2
    assert [json.loads(e["stdin"]) for e in entries] == [PERMISSION, PART_UPDATED]
    first, second = (e["id"] for e in entries)
    assert first.endswith("-1")
    assert second == first[:-1] + "2"  # one plugin instance, counting


def test_the_event_hook_returns_before_the_journal_reads_anything(
    plugin: tuple[pathlib.Path, pathlib.Path],
) -> None:
    """OpenCode never waits: the hooks return while the journal is still blocked."""
    path, log = plugin
    release = log.parent / "release"
    report = drive(path, log, [PERMISSION], expected=1, env={"FAKE_RELEASE": str(release)})
    assert report["logged_when_hooks_returned"] == 0
    assert [json.loads(e["stdin"]) for e in wait_for(log, 1)] == [PERMISSION]


def test_events_queued_at_shutdown_reach_the_stream_which_outlives_opencode(
    plugin: tuple[pathlib.Path, pathlib.Path],
) -> None:
    """dispose hands the stream what is queued; detached, it finishes after OpenCode exits."""
    path, log = plugin
    release = log.parent / "release"
    events = [PERMISSION, PART_UPDATED, {**PERMISSION, "id": "evt_2"}]
    drive(path, log, events, mode="dispose-exit", env={"FAKE_RELEASE": str(release)})
    assert [json.loads(e["stdin"]) for e in wait_for(log, 3)] == events


def test_the_skip_list_can_be_emptied(plugin: tuple[pathlib.Path, pathlib.Path]) -> None:
    """AGENT_JOURNAL_OPENCODE_SKIP="" forwards heartbeats too."""
    path, log = plugin
    drive(path, log, [HEARTBEAT, PERMISSION], expected=2, env={"AGENT_JOURNAL_OPENCODE_SKIP": ""})
    assert [json.loads(e["stdin"]) for e in wait_for(log, 2)] == [HEARTBEAT, PERMISSION]


def test_a_missing_journal_does_not_break_opencode(
    plugin: tuple[pathlib.Path, pathlib.Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journal command that cannot start is swallowed: no throw, no crash, nothing logged."""
    path, log = plugin
    monkeypatch.setattr(_command, "program_argv", lambda: [str(log.parent / "no-such-journal")])
    install("opencode")
    drive(path, log, [PERMISSION, PART_UPDATED], mode="settle")
    assert spawned(log) == []


def test_without_a_stream_mode_it_falls_back_to_one_process_per_event_in_order(
    plugin: tuple[pathlib.Path, pathlib.Path],
) -> None:
    """A journal whose stream exits without acknowledging: one-shot hooks, one at a time."""
    path, log = plugin
    events = [numbered(n) for n in range(5)]
    drive(path, log, events, expected=5, env={"FAKE_STREAM": "refuse"})
    entries = wait_for(log, 5)
    assert [e["argv"] for e in entries] == [["hook", "opencode"]] * 5
    assert [json.loads(e["stdin"]) for e in entries] == events


# -- the real journal behind the plugin ---------------------------------------------------


def _journal_log(journal_home: pathlib.Path, count: int) -> list[dict[str, Any]]:
    """The journal's records once there are ``count`` (the stream may still be writing)."""
    deadline = time.monotonic() + 120
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        done = subprocess.run(
            [JOURNAL_BIN, "--home", str(journal_home), "log", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        records = [json.loads(line) for line in done.stdout.splitlines()]
        if len(records) >= count:
            break
        time.sleep(0.1)
    return records


def _real_plugin(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (change,) = install("opencode", home=str(tmp_path / "journal")).files
    return pathlib.Path(change.path)


def test_the_real_journal_receives_the_plugins_events(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed with --home and the real `journal`, forwarded events become records."""
    path = _real_plugin(tmp_path, monkeypatch)
    events = [HEARTBEAT, PERMISSION, PART_UPDATED]
    drive(path, tmp_path / "unused.log", events, mode="dispose-exit")
    records = _journal_log(tmp_path / "journal", 2)
    assert [r["kind"] for r in records] == ["permission.asked", "message.part.updated"]
    assert {r["source"] for r in records} == {"opencode"}
    assert [r["payload"] for r in records] == [PERMISSION, PART_UPDATED]


def _burst(count: int) -> list[dict[str, Any]]:
    """What a turn looks like on the bus: tool parts (keyed), messages and statuses (not)."""
    events: list[dict[str, Any]] = []
    for n in range(count):
        if n % 3 == 0:
            state = {"status": "running" if n % 2 else "completed", "input": {"n": n}}
            part = {"id": f"prt_{n}", "type": "tool", "callID": f"call_{n}", "state": state}
            events.append({"type": "message.part.updated", "properties": {"part": part, "n": n}})
        elif n % 3 == 1:
            info = {"id": f"msg_{n}", "sessionID": "ses_1", "role": "assistant"}
            events.append({"type": "message.updated", "properties": {"info": info, "n": n}})
        else:
            events.append(numbered(n))
    return events


@pytest.mark.parametrize(
    "runtime",
    [
        NODE,
        pytest.param(
            _OPENCODE[-1] if _OPENCODE else "",
            marks=pytest.mark.skipif(not _OPENCODE, reason="no opencode-ai in the npm cache"),
        ),
    ],
    ids=["node", "opencode-bun"],
)
def test_two_thousand_events_land_in_order_exactly_once(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, record_property: Any, runtime: str
) -> None:
    """2,000 events as fast as the bus can send them: all in the log, in order, once each.

    Also measures what OpenCode pays per event (the time its `event` hook takes) and
    how fast the journal takes them; printed with -s, recorded as test properties. Run
    under node and, where the real OpenCode is installed, under its own Bun runtime.
    """
    path = _real_plugin(tmp_path, monkeypatch)
    events = _burst(2000)
    started = time.monotonic()
    report = drive(path, tmp_path / "unused.log", events, mode="dispose-exit", runtime=runtime)
    records = _journal_log(tmp_path / "journal", len(events))
    landed = time.monotonic() - started
    assert [r["payload"]["properties"]["n"] for r in records] == list(range(len(events)))
    assert [r["seq"] for r in records] == list(range(1, len(events) + 1))
    hook_ms = sorted(report["hook_ms"])
    figures = {
        "event_hook_mean_ms": sum(hook_ms) / len(hook_ms),
        "event_hook_p99_ms": hook_ms[int(len(hook_ms) * 0.99)],
        "dispose_ms": report["dispose_ms"],
        "events_per_second_landed": len(events) / landed,
    }
    for name, value in figures.items():
        record_property(name, round(value, 4))
    print(f"\nOpenCode plugin under {os.path.basename(runtime)}, 2,000 events: {figures}")


def test_a_stream_killed_before_acknowledging_is_restarted_and_nothing_doubles(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream dies after committing 40 events, before they are acknowledged: the
    plugin starts it again and re-sends them; their delivery keys keep each one once."""
    path, _log = _install(tmp_path, monkeypatch, CRASHY_JOURNAL)
    (tmp_path / "journal").mkdir()
    monkeypatch.setattr(_command, "program_argv", lambda: [str(tmp_path / "fake bin/journal")])
    install("opencode", home=str(tmp_path / "journal"))
    events = [numbered(n) for n in range(100)]
    linger = tmp_path / "seen"
    env = {"CRASHED": str(tmp_path / "crashed"), "CRASH_AFTER": "40", "LINGER_UNTIL": str(linger)}
    driver = threading.Thread(
        target=drive,
        args=(path, tmp_path / "unused.log", events),
        kwargs={"mode": "linger", "env": env},
    )
    driver.start()
    try:
        records = _journal_log(tmp_path / "journal", len(events))
    finally:
        linger.touch()
        driver.join(timeout=300)
    assert (tmp_path / "crashed").exists()
    assert [r["payload"]["properties"]["n"] for r in records] == list(range(100))
    assert len(_journal_log(tmp_path / "journal", len(events))) == 100
