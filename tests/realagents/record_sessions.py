"""Record real OpenCode and Gemini CLI sessions for the golden view replays.

Not a test: a program, the companion of ``tests/projections/record_sessions.py``
(Claude Code, Codex), writing the same ``tests/projections/sessions/<agent>__<scenario>.jsonl``
format for the pinned OpenCode and Gemini CLI driven by ``harness_opencode`` and
``harness_gemini``. OpenCode's ``plugin.added``, ``catalog.updated``,
``reference.updated`` and ``integration.updated`` events (its own start-up inventory,
half of a short run's records) are dropped: the views never read them.

    .venv/bin/python -m tests.realagents.record_sessions
"""

from __future__ import annotations

import json
import pathlib
import tempfile

from tests.projections import record_sessions as base
from tests.realagents import npm_cache
from tests.realagents.harness import AgentRun
from tests.realagents.harness_gemini import run_gemini
from tests.realagents.harness_opencode import run_opencode

_INVENTORY = frozenset(
    {"plugin.added", "catalog.updated", "reference.updated", "integration.updated"}
)
SCENARIOS = (("echo", "echo hello", False), ("missing", "ls /missing", False))
KILLED = ("killed", "echo hello", True)


def _export(run: AgentRun, name: str) -> None:
    base._export(run, name)
    path = base.OUT / f"{name}.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    kept = [line for line in lines if line["kind"] not in _INVENTORY]
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in kept))


def main() -> int:
    opencode = npm_cache.install(npm_cache.OPENCODE)
    gemini = npm_cache.install(npm_cache.GEMINI)
    with tempfile.TemporaryDirectory(prefix="record-sessions-") as tmp:
        for name, command, stall in (*SCENARIOS, KILLED):
            root = pathlib.Path(tmp) / f"opencode-{name}"
            root.mkdir()
            version = npm_cache.OPENCODE.version
            _export(
                run_opencode(opencode, version, root, [command], stall=stall), f"opencode__{name}"
            )
            root = pathlib.Path(tmp) / f"gemini-{name}"
            root.mkdir()
            version = npm_cache.GEMINI.version
            _export(run_gemini(gemini, version, root, command, stall=stall), f"gemini__{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
