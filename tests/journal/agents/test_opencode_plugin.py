"""The installed OpenCode plugin, run for real under node.

``journal hooks install opencode`` writes the plugin with a fake ``journal`` (a
script that appends its argv and stdin to a log) as its command; a node driver
loads the file the way OpenCode's loaders do, feeds it real bus events, and the
log shows what was spawned: which events, in which order, with which bytes.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
from typing import Any

import pytest

from journal.agents.installers import _command, install
from tests.conftest import FIXTURES, JOURNAL_BIN

NODE = "/usr/bin/node"

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

FAKE_JOURNAL = f"""#!{sys.executable}
import json, os, sys, time
release = os.environ.get("FAKE_RELEASE")
deadline = time.monotonic() + 60
while release and not os.path.exists(release) and time.monotonic() < deadline:
    time.sleep(0.01)
data = sys.stdin.read()
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "stdin": data}}) + "\\n")
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

for (const event of JSON.parse(readFileSync(eventsPath, "utf8"))) await hooks.event({ event });
const report = { logged_when_hooks_returned: lines() };
if (mode === "dispose-exit") await hooks.dispose();
if (FAKE_RELEASE) writeFileSync(FAKE_RELEASE, "go");
if (mode === "wait") {
  const deadline = Date.now() + 60000;
  while (lines() < Number(expected) && Date.now() < deadline) await sleep(20);
} else if (mode === "settle") {
  await sleep(500);
}
console.log(JSON.stringify(report));
process.exit(0);
"""


@pytest.fixture
def plugin(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[pathlib.Path, pathlib.Path]:
    """The plugin installed into a temporary HOME, spawning the fake journal."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    fake = tmp_path / "fake bin" / "journal"
    fake.parent.mkdir()
    fake.write_text(FAKE_JOURNAL)
    fake.chmod(0o755)
    monkeypatch.setattr(_command, "program_argv", lambda: [str(fake)])
    (change,) = install("opencode").files
    return pathlib.Path(change.path), tmp_path / "spawned.log"


def drive(
    plugin_path: pathlib.Path,
    log: pathlib.Path,
    events: list[dict[str, Any]],
    *,
    mode: str = "wait",
    expected: int = 0,
    loader: str = "v1",
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the driver; return its report."""
    work = log.parent
    (work / "driver.mjs").write_text(DRIVER)
    (work / "events.json").write_text(json.dumps(events))
    run_env = {k: v for k, v in os.environ.items() if k != "AGENT_JOURNAL_OPENCODE_SKIP"}
    run_env.update({"FAKE_LOG": str(log), "LOADER": loader, **(env or {})})
    argv = [NODE, str(work / "driver.mjs"), str(plugin_path), str(work / "events.json")]
    done = subprocess.run(
        [*argv, mode, str(expected)],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def spawned(log: pathlib.Path) -> list[dict[str, Any]]:
    """One entry per spawned journal process: its argv and the JSON it read."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def wait_for(log: pathlib.Path, count: int) -> list[dict[str, Any]]:
    """The log once it has ``count`` entries (detached processes may still be running)."""
    deadline = time.monotonic() + 60
    while len(spawned(log)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return spawned(log)


@pytest.mark.parametrize("loader", ["v1", "legacy"], ids=["opencode>=1.3.4", "opencode<=1.3.3"])
def test_bus_events_are_forwarded_in_order_and_noise_is_skipped(
    plugin: tuple[pathlib.Path, pathlib.Path], loader: str
) -> None:
    """Real events reach `journal hook opencode` on stdin, in order; heartbeat and delta don't."""
    path, log = plugin
    drive(path, log, [HEARTBEAT, PERMISSION, DELTA, PART_UPDATED], expected=2, loader=loader)
    entries = wait_for(log, 2)
    assert [e["argv"] for e in entries] == [["hook", "opencode"], ["hook", "opencode"]]
    assert [json.loads(e["stdin"]) for e in entries] == [PERMISSION, PART_UPDATED]


def test_the_event_hook_returns_before_the_journal_finishes(
    plugin: tuple[pathlib.Path, pathlib.Path],
) -> None:
    """OpenCode never waits: the hooks return while the spawned journal is still blocked."""
    path, log = plugin
    release = log.parent / "release"
    report = drive(path, log, [PERMISSION], expected=1, env={"FAKE_RELEASE": str(release)})
    assert report["logged_when_hooks_returned"] == 0
    assert [json.loads(e["stdin"]) for e in wait_for(log, 1)] == [PERMISSION]


def test_events_queued_at_shutdown_are_started_by_dispose(
    plugin: tuple[pathlib.Path, pathlib.Path],
) -> None:
    """dispose starts every queued event at once; detached, they outlive OpenCode's exit."""
    path, log = plugin
    release = log.parent / "release"
    events = [PERMISSION, PART_UPDATED, {**PERMISSION, "id": "evt_2"}]
    drive(path, log, events, mode="dispose-exit", env={"FAKE_RELEASE": str(release)})
    entries = wait_for(log, 3)
    got = sorted(json.dumps(json.loads(e["stdin"]), sort_keys=True) for e in entries)
    assert got == sorted(json.dumps(e, sort_keys=True) for e in events)


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


def test_the_real_journal_receives_the_plugins_events(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed with --home and the real `journal`, forwarded events become records."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    journal_home = tmp_path / "journal"
    (change,) = install("opencode", home=str(journal_home)).files
    log = tmp_path / "unused.log"
    drive(
        pathlib.Path(change.path), log, [HEARTBEAT, PERMISSION, PART_UPDATED], mode="dispose-exit"
    )
    deadline = time.monotonic() + 60
    records: list[dict[str, Any]] = []
    while len(records) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        done = subprocess.run(
            [JOURNAL_BIN, "--home", str(journal_home), "log", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        records = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(r["kind"] for r in records) == ["message.part.updated", "permission.asked"]
    assert {r["source"] for r in records} == {"opencode"}
