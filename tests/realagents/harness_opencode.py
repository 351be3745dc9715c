"""Run the real OpenCode (``opencode run``) against :class:`ChatModel`, plugin installed.

The same temporary layout as :mod:`tests.realagents.harness` (``home/``, ``proj/``,
``journal/``). The model is an ``@ai-sdk/openai-compatible`` provider in the
project's ``opencode.json`` whose ``baseURL`` is the mock (OpenCode bundles that SDK:
nothing is installed for it). What would reach other hosts is switched off by
OpenCode's own flags: the models.dev catalogue (``OPENCODE_DISABLE_MODELS_FETCH``),
the default auth plugins (``OPENCODE_DISABLE_DEFAULT_PLUGINS``), updates, LSP
downloads, sharing; and OpenCode's own install of ``@opencode-ai/plugin`` into its
config directories from the npm registry, at every start, is what it skips once it
finds it done (:func:`_seed_plugin_dependency`). The plugin is installed with
``journal hooks install opencode --scope project`` (``plugin=False``: not installed,
the baseline runs of ``bench_opencode``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import resource
import sqlite3
import time

from tests.realagents.harness import (
    AgentRun,
    _base_env,
    _drive,
    _git_project,
    _journal,
    _settle,
    journal_json,
)
from tests.realagents.mock_chat import ChatModel

__all__ = [
    "MODEL",
    "OpenCodeRun",
    "in_opencode_order",
    "opencode_events",
    "run_opencode",
    "settle_log",
]

#: ``provider/model`` as OpenCode names it.
MODEL = "mock/mock-model"


@dataclasses.dataclass
class OpenCodeRun(AgentRun):
    """An :class:`AgentRun` with the CPU time OpenCode used (user + system, seconds).

    Counted from the processes it waited for, its tools included; not the plugin's
    detached stream process, which outlives it.
    """

    cpu_seconds: float = 0.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def settle_log(home: pathlib.Path, quiet: float = 1.5, limit: float = 20.0) -> None:
    """Wait until the journal's head has not moved for ``quiet`` seconds.

    OpenCode's stream process is detached (its own session, outside the agent's process
    group): it finishes its input after OpenCode exits.
    """
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        head = journal_json(home, "stats", "--json")["head_seq"] if home.exists() else 0
        if head != last:
            last, since = head, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.25)


def opencode_events(run: AgentRun) -> list[str]:
    """The ids of the events OpenCode itself stored (its ``event`` table), in its order."""
    db = run.root / "home" / ".local" / "share" / "opencode" / "opencode.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT id FROM event ORDER BY aggregate_id, seq").fetchall()
    return [str(r[0]) for r in rows]


def in_opencode_order(run: AgentRun) -> bool:
    """Whether the log holds OpenCode's stored events in OpenCode's order, and every
    tool part's states in the order pending, running, completed/error."""
    ids = [r["payload"]["id"] for r in run.log()]
    stored = opencode_events(run)
    known = set(stored)
    if not stored or [i for i in ids if i in known] != stored:
        return False
    rank = {"pending": 0, "running": 1, "completed": 2, "error": 2}
    last: dict[str, int] = {}
    for record in run.log():
        part = record["payload"].get("properties", {}).get("part") or {}
        if record["kind"] != "message.part.updated" or part.get("type") != "tool":
            continue
        now = rank.get(part["state"]["status"], 0)
        if now < last.get(part["callID"], 0):
            return False
        last[part["callID"]] = now
    return True


def _seed_plugin_dependency(config_dir: pathlib.Path, version: str) -> None:
    """What OpenCode finds in a config directory after its first start there.

    At every start OpenCode installs ``@opencode-ai/plugin`` into each config directory
    (``~/.config/opencode``, ``<project>/.opencode``) from the npm registry unless
    ``node_modules`` exists and ``package-lock.json`` already lists it (its
    ``Npm.install``): the tests are offline, so they leave the lock it would have left.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "node_modules").mkdir(exist_ok=True)
    deps = {"@opencode-ai/plugin": version}
    (config_dir / "package.json").write_text(json.dumps({"dependencies": deps}))
    lock = {"lockfileVersion": 3, "packages": {"": {"dependencies": deps}}}
    (config_dir / "package-lock.json").write_text(json.dumps(lock))


def _config(mock: ChatModel) -> str:
    return json.dumps(
        {
            "$schema": "https://opencode.ai/config.json",
            "model": MODEL,
            "small_model": MODEL,
            "autoupdate": False,
            "share": "disabled",
            "permission": {"bash": "allow", "edit": "allow", "webfetch": "deny"},
            "provider": {
                "mock": {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "Mock",
                    "options": {"baseURL": f"{mock.url}/v1", "apiKey": "sk-mock-key"},
                    "models": {"mock-model": {"name": "Mock Model", "tool_call": True}},
                }
            },
        },
        indent=2,
    )


def run_opencode(
    opencode: pathlib.Path,
    version: str,
    root: pathlib.Path,
    commands: list[str],
    *,
    stall: bool = False,
    plugin: bool = True,
) -> OpenCodeRun:
    """``opencode run`` asking for ``commands`` (one shell call each), then the answer."""
    home, journal_home = root / "home", root / "journal"
    home.mkdir()
    proj = _git_project(root)
    if plugin:
        _journal(
            journal_home,
            "hooks",
            "install",
            "opencode",
            "--scope",
            "project",
            "--project-dir",
            str(proj),
            env={**os.environ, "HOME": str(home)},
        )
    for config_dir in (home / ".config" / "opencode", proj / ".opencode"):
        _seed_plugin_dependency(config_dir, version)
    with ChatModel(commands, stall=stall) as mock:
        (proj / "opencode.json").write_text(_config(mock))
        env = {
            **_base_env(home, mock),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "OPENCODE_DISABLE_AUTOUPDATE": "1",
            "OPENCODE_DISABLE_MODELS_FETCH": "1",
            "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
            "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
            "OPENCODE_DISABLE_SHARE": "1",
            "OPENCODE_DISABLE_CLAUDE_CODE": "1",
        }
        prompt = "Please run " + ", then ".join(f"`{c}`" for c in commands) + " in the shell."
        argv = [str(opencode), "run", "--model", MODEL, prompt]
        cpu = _children_cpu()
        code, out, err, seconds, pgid = _drive(argv, proj, env, mock, kill=stall)
        cpu = _children_cpu() - cpu
        _settle(journal_home, None, pgid)
        settle_log(journal_home)
        requests = list(mock.requests)
    return OpenCodeRun(
        "opencode", version, root, journal_home, code, out, err, seconds, requests, cpu
    )
