"""Record the real agents' sessions that the golden view tests replay.

Not a test: a program. It drives the pinned Claude Code and Codex from npm against
the mock model API (``tests/realagents/harness.py``, hooks from ``journal hooks
install``), then writes each scenario's journal to
``tests/projections/sessions/<agent>__<scenario>.jsonl``: one line per record with
its source, kind, ``received_at``, whether it carried an agent process, and the
payload with the temporary root replaced by ``/ROOT``. Killed scenarios also keep
the transcript lines the journal had not captured when the agent died
(``<agent>__<scenario>.transcript.jsonl``). Transcript lines that only repeat what
the model API is sent (Claude Code ``attachment`` and ``api-request-blob`` lines,
Codex ``world_state`` and developer messages, and the ``base_instructions`` of
Codex's ``session_meta``) are dropped to keep the files small; the views never read
them.

    .venv/bin/python -m tests.projections.record_sessions
"""

from __future__ import annotations

import json
import pathlib
import re
import sys
import tempfile
from typing import Any

from journal.store import LmdbJournal
from tests.realagents import harness, npm_cache

OUT = pathlib.Path(__file__).with_name("sessions")
_DROPPED = frozenset({"api-request-blob", "api-request-shape", "attachment", "world_state"})


def _scrub(text: str, root: pathlib.Path) -> str:
    real = str(root)
    slug = re.sub(r"[^A-Za-z0-9]", "-", real)
    return text.replace(real, "/ROOT").replace(slug, "-ROOT")


def _keep(record_kind: str, payload: Any) -> bool:
    if record_kind != "transcript":
        return True
    inner = payload.get("payload")
    if isinstance(inner, dict) and inner.get("role") == "developer":
        return False
    return payload.get("type") not in _DROPPED


def _trim(payload: Any) -> Any:
    inner = payload.get("payload")
    if payload.get("type") == "session_meta" and isinstance(inner, dict):
        inner.pop("base_instructions", None)
    return payload


def _export(run: harness.AgentRun, name: str) -> None:
    lines = []
    with LmdbJournal(str(run.journal_home)) as journal:
        records = list(journal.read())
        captured = {r.payload for r in records if r.kind == "transcript"}
        for record in records:
            payload = json.loads(record.payload)
            if not _keep(record.kind, payload):
                continue
            lines.append(
                {
                    "source": record.source,
                    "kind": record.kind,
                    "received_at": record.received_at,
                    "agent": record.agent_pid is not None,
                    "payload": _trim(payload),
                }
            )
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n"
    (OUT / f"{name}.jsonl").write_text(_scrub(text, run.root))
    tails: list[str] = []
    for path in sorted((run.root / "home").rglob("*.jsonl")):
        if "projects" not in path.parts and ".codex" not in path.parts:
            continue
        tails.extend(
            json.dumps(_trim(json.loads(raw)), ensure_ascii=False)
            for raw in path.read_bytes().splitlines()
            if raw and raw not in captured and _keep("transcript", json.loads(raw))
        )
    if tails:
        tail = "\n".join(tails) + "\n"
        (OUT / f"{name}.transcript.jsonl").write_text(_scrub(tail, run.root))


def main() -> int:
    OUT.mkdir(exist_ok=True)
    claude = npm_cache.install(npm_cache.CLAUDE_CODE)
    codex = npm_cache.install(npm_cache.CODEX)
    with tempfile.TemporaryDirectory(prefix="record-sessions-") as tmp:
        base = pathlib.Path(tmp)
        scenarios: list[tuple[str, dict[str, Any]]] = [
            ("echo", {"command": "echo hello"}),
            ("missing", {"command": "ls /missing"}),
            ("refused", {"command": "touch made-by-agent.txt", "permission_mode": "default"}),
            ("subagent", {"command": "echo hello", "subagent": True}),
            ("killed", {"command": "echo hello", "stall": True}),
        ]
        for name, kw in scenarios:
            root = base / f"claude-{name}"
            root.mkdir()
            command = kw.pop("command")
            run = harness.run_claude(claude, npm_cache.CLAUDE_CODE.version, root, command, **kw)
            _export(run, f"claude-code__{name}")
        codex_scenarios: list[tuple[str, dict[str, Any]]] = [
            ("echo", {"command": "echo hello"}),
            ("missing", {"command": "ls /missing"}),
            ("killed", {"command": "echo hello", "stall": True}),
        ]
        for name, kw in codex_scenarios:
            root = base / f"codex-{name}"
            root.mkdir()
            command = kw.pop("command")
            run = harness.run_codex(codex, npm_cache.CODEX.version, root, command, **kw)
            _export(run, f"codex__{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
