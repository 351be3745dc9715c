"""Benchmark the views: rebuild throughput and query latency on a large journal.

Measures what docs/performance.md reports and DESIGN §6 sets targets for:

- **rebuild**: ``Views.rebuild()`` of all views over the whole journal, in this
  process, records per second (median of ``--reps``); beside it the two reads it is
  built on (``journal.read()`` and the engine's own log scan) and each view rebuilt
  alone, so the figure can be read against its parts.
- **queries**: wall time of ``journal runs --json``, ``journal steps RUN --json`` and
  ``journal interrupted --json`` as real processes on that journal with current views
  (each answer first catches up, finding nothing new), interleaved with
  ``python -c pass`` on the same interpreter; p50 and p99 of each, and the ratios.

The journal: ``--records`` (default 1,000,000) records of Claude Code sessions, twelve
running at once and interleaved, built from the shapes in ``shared/fixtures``. A
session: SessionStart; 1-12 turns, each a prompt, 1-15 Read/Edit/Bash tool calls
(PreToolUse, then PostToolUse; 7 % PostToolUseFailure; 5 % with the post never
delivered), in 15 % of turns a subagent (SubagentStart, 2-10 tool calls of its own
carrying ``agent_id``, SubagentStop), then Stop; a SessionEnd for 85 % of sessions
(the rest stay open, so older ones are interrupted). The transcript lines the hooks
capture at each stop (kind ``transcript``: an assistant line with model and usage per
model response, a user line per tool result) are records too. Written through
``LmdbJournal.write`` in transactions of 2,000 records, each ten simulated minutes
after the last. ``--home`` keeps the journal and reuses it on the next run.

    .venv/bin/python tools/bench/views.py [--records N] [--runs N] [--reps N] [--home DIR] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pathlib
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import lmdb

from journal import payload as payload_rules
from journal.store import LmdbJournal
from journal.writer import Writer
from projections.engine import Views
from projections.logread import LogScan
from projections.registry import VIEWS
from tools.bench.append import machine

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "fixtures"
JOURNAL_BIN = str(pathlib.Path(sys.executable).with_name("journal"))

CONCURRENT_SESSIONS = 12
CHUNK = 2000  # records per write transaction; each chunk is CHUNK_SECONDS later
CHUNK_SECONDS = 600
START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
MODELS = ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"]
COMMANDS = [
    "pytest tests/test_{w}.py -q -x",
    "git diff --stat HEAD~{n}",
    "ls -la src/{w}",
    "rg -n 'def {w}' src tests",
    "python -m {w} --check",
]
WORDS = ["store", "payload", "wire", "digest", "home", "views", "runs", "steps", "costs"]

# -- the journal ---------------------------------------------------------------------


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _fixture(name: str) -> dict[str, Any]:
    path = FIXTURES / f"claude-code__acf__{name}.json"
    event: dict[str, Any] = json.loads(path.read_text())
    event.pop("logged_at", None)  # added by the logger, not by Claude Code
    return event


class _Session:
    """One Claude Code session: a generator of its hook events and transcript lines."""

    def __init__(self, rng: random.Random, edit: dict[str, Any]) -> None:
        self.rng = rng
        self.id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.cwd = f"/home/dev/src/project-{rng.randint(1, 40)}"
        self.transcript = f"/home/dev/.claude/projects/-home-dev-src/{self.id}.jsonl"
        self.model = rng.choice(MODELS)
        self.edit = edit
        self.lines: list[tuple[str, dict[str, Any]]] = []
        self.events = self._events()

    def _base(self, kind: str, **extra: Any) -> dict[str, Any]:
        event = {
            "session_id": self.id,
            "transcript_path": self.transcript,
            "cwd": self.cwd,
            "permission_mode": "acceptEdits",
            "hook_event_name": kind,
        }
        event.update(extra)
        return event

    def _line(
        self, agent: str | None = None, tool: tuple[str, str, dict[str, Any]] | None = None
    ) -> None:
        """Note the transcript lines of one model response (and of the tool result it
        asked for); the hooks capture them at the next stop."""
        rng = self.rng
        common: dict[str, Any] = {
            "sessionId": self.id,
            "parentUuid": None,
            "timestamp": "2026-01-01T00:00:00.000Z",
            "cwd": self.cwd,
            "version": "2.1.38",
            "isSidechain": agent is not None,
        }
        if agent is not None:
            common["agentId"] = agent
        content: dict[str, Any] = {"type": "text", "text": "Running the tests now."}
        if tool is not None:
            content = {"type": "tool_use", "id": tool[0], "name": tool[1], "input": tool[2]}
        self.lines.append(
            (
                "transcript",
                {
                    "type": "assistant",
                    "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "requestId": f"req_{rng.getrandbits(64):016x}",
                    "message": {
                        "model": self.model,
                        "id": f"msg_{rng.getrandbits(64):016x}",
                        "type": "message",
                        "role": "assistant",
                        "content": [content],
                        "stop_reason": "tool_use" if tool else "end_turn",
                        "usage": {
                            "input_tokens": rng.randint(1, 20),
                            "output_tokens": rng.randint(20, 900),
                            "cache_creation_input_tokens": rng.randint(0, 4000),
                            "cache_read_input_tokens": rng.randint(1000, 90000),
                            "service_tier": "standard",
                        },
                    },
                    **common,
                },
            )
        )
        if tool is not None:
            result = {"type": "tool_result", "tool_use_id": tool[0], "content": "ok"}
            self.lines.append(
                (
                    "transcript",
                    {
                        "type": "user",
                        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "message": {"role": "user", "content": [result]},
                        **common,
                    },
                )
            )

    def _captured(self) -> Iterator[tuple[str, dict[str, Any]]]:
        yield from self.lines
        self.lines = []

    def _tool(self, agent: tuple[str, str] | None) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self.rng
        tool_use_id = "toolu_01" + "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefgh", k=22))
        extra = {"agent_id": agent[0], "agent_type": agent[1]} if agent else {}
        roll = rng.random()
        if roll < 0.15:
            name = "Edit"
            tool_input = dict(self.edit["tool_input"])
            response = dict(self.edit["tool_response"])
        elif roll < 0.35:
            name = "Read"
            path = f"{self.cwd}/src/{rng.choice(WORDS)}.py"
            tool_input = {"file_path": path}
            response = {
                "type": "text",
                "file": {"filePath": path, "content": "x = 1\n" * 20, "numLines": 20},
            }
        else:
            name = "Bash"
            command = rng.choice(COMMANDS).format(w=rng.choice(WORDS), n=rng.randint(1, 40))
            tool_input = {"command": command, "description": f"Run {command.split()[0]}"}
            response = {
                "stdout": "\n".join(f"{rng.choice(WORDS)}_{i}.py" for i in range(4)),
                "stderr": "",
                "interrupted": False,
                "isImage": False,
            }
        self._line(agent[0] if agent else None, (tool_use_id, name, tool_input))
        yield (
            "PreToolUse",
            self._base(
                "PreToolUse",
                tool_name=name,
                tool_input=tool_input,
                tool_use_id=tool_use_id,
                **extra,
            ),
        )
        outcome = rng.random()
        if outcome < 0.05:
            return  # the post hook never fired (it happens, see hook-sources §1.6)
        if outcome < 0.12:
            yield (
                "PostToolUseFailure",
                self._base(
                    "PostToolUseFailure",
                    tool_name=name,
                    tool_input=tool_input,
                    tool_use_id=tool_use_id,
                    error="Exit code 1",
                    **extra,
                ),
            )
            return
        yield (
            "PostToolUse",
            self._base(
                "PostToolUse",
                tool_name=name,
                tool_input=tool_input,
                tool_response=response,
                tool_use_id=tool_use_id,
                **extra,
            ),
        )

    def _events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self.rng
        yield (
            "SessionStart",
            {
                "session_id": self.id,
                "transcript_path": self.transcript,
                "cwd": self.cwd,
                "hook_event_name": "SessionStart",
                "source": rng.choice(["startup", "startup", "resume", "clear"]),
                "model": self.model,
            },
        )
        for turn in range(rng.randint(1, 12)):
            yield "UserPromptSubmit", self._base("UserPromptSubmit", prompt=f"step {turn}: go on")
            for _ in range(rng.randint(1, 15)):
                yield from self._tool(None)
            if rng.random() < 0.15:
                agent = ("".join(rng.choices("0123456789abcdef", k=7)), "general-purpose")
                yield (
                    "SubagentStart",
                    self._base("SubagentStart", agent_id=agent[0], agent_type=agent[1]),
                )
                for _ in range(rng.randint(2, 10)):
                    yield from self._tool(agent)
                yield (
                    "SubagentStop",
                    self._base(
                        "SubagentStop",
                        stop_hook_active=False,
                        agent_id=agent[0],
                        agent_type=agent[1],
                        agent_transcript_path=self.transcript.replace(
                            ".jsonl", f"/subagents/agent-{agent[0]}.jsonl"
                        ),
                    ),
                )
                yield from self._captured()
            self._line()
            yield "Stop", self._base("Stop", stop_hook_active=False)
            yield from self._captured()
        if rng.random() < 0.85:
            yield "SessionEnd", self._base("SessionEnd", reason="prompt_input_exit")


def make_events(count: int, seed: int = 11) -> Iterator[tuple[str, bytes]]:
    """Yield ``count`` (kind, payload) pairs of interleaved sessions (deterministic)."""
    rng = random.Random(seed)
    edit = _fixture("PostToolUse_Edit_structuredPatch")
    live = [_Session(rng, edit) for _ in range(CONCURRENT_SESSIONS)]
    for _ in range(count):
        while True:
            i = rng.randrange(len(live))
            item = next(live[i].events, None)
            if item is not None:
                break
            live[i] = _Session(rng, edit)
        kind, event = item
        yield kind, _compact(event)


def build(home: str, count: int) -> float:
    """Append ``count`` events to a new journal at ``home``; return the seconds taken."""
    start = time.perf_counter()
    with LmdbJournal(home) as journal:
        if journal.head():
            raise SystemExit(f"{home} already holds a journal of another size")
        chunk: list[tuple[str, bytes]] = []
        when = START_NS
        for item in make_events(count):
            chunk.append(item)
            if len(chunk) == CHUNK:
                _append(journal, chunk, when)
                chunk, when = [], when + CHUNK_SECONDS * 10**9
        if chunk:
            _append(journal, chunk, when)
    return time.perf_counter() - start


def _append(journal: LmdbJournal, chunk: list[tuple[str, bytes]], when: int) -> None:
    """Append one chunk in one transaction, each record with its own kind."""
    prepared = [(payload_rules.validate(payload), kind.encode()) for kind, payload in chunk]
    source = b"claude-code"

    def work(writer: Writer) -> None:
        for stored, kind in prepared:
            writer.append(stored, source, kind, b"", when)

    journal.write(work)


# -- measurements --------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _timed(work: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def bench_rebuild(home: str, reps: int) -> dict[str, Any]:
    """Records/s of a full rebuild of all views, of each view alone, and of the reads."""
    with LmdbJournal(home) as journal, Views(journal) as views:
        head = journal.head()
        read = _timed(lambda: sum(1 for _ in journal.read()))
        scan = _timed(lambda: sum(1 for _ in LogScan(journal, 0, head, None)))
        alone = {}
        for view in VIEWS:
            alone[view.name] = _timed(partial(views.rebuild, [view.name]))
        full = [_timed(views.rebuild) for _ in range(reps)]
        keys = {s.name: s.keys for s in views.status()}
    return {
        "records": head,
        "reps": reps,
        "seconds": full,
        "records_per_s": head / statistics.median(full),
        "read_records_per_s": head / read,
        "scan_records_per_s": head / scan,
        "alone_records_per_s": {name: head / took for name, took in alone.items()},
        "state_keys": keys,
        "views_bytes": _used_bytes(pathlib.Path(home, "views")),
    }


def _used_bytes(path: pathlib.Path) -> int:
    env = lmdb.open(str(path), readonly=True, lock=False, max_dbs=128)
    try:
        return (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    finally:
        env.close()


def _busiest_run(home: str) -> tuple[str, int]:
    """The run with the most steps (the heaviest ``steps RUN`` query) and its count."""
    from projections import queries

    with LmdbJournal(home) as journal:
        found = queries.runs(journal)
    busiest = max(found, key=lambda run: run.steps)
    return busiest.run_id, busiest.steps


def bench_queries(home: str, runs: int, workdir: pathlib.Path) -> dict[str, Any]:
    """Time query processes on current views against ``python -c pass``, interleaved.

    Child processes get a bytecode cache in ``workdir``, as a user's install has one.
    """
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(workdir / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    run_id, steps = _busiest_run(home)
    commands = {
        "runs_json": [JOURNAL_BIN, "--home", home, "runs", "--json"],
        "steps_json": [JOURNAL_BIN, "--home", home, "steps", run_id, "--json"],
        "interrupted_json": [JOURNAL_BIN, "--home", home, "interrupted", "--json"],
        "python_c_pass": [sys.executable, "-c", "pass"],
    }
    outputs: dict[str, bytes] = {}

    def once(name: str) -> float:
        start = time.perf_counter()
        done = subprocess.run(commands[name], stdout=subprocess.PIPE, env=env, check=True)
        took = time.perf_counter() - start
        outputs[name] = done.stdout
        return took

    names = list(commands)
    for name in names:  # warm-up: bytecode cache, page cache, views current
        once(name)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            times[name].append(once(name))
    ms = {
        name: {"p50": statistics.median(t) * 1e3, "p99": _percentile(t, 0.99) * 1e3}
        for name, t in times.items()
    }
    base = ms["python_c_pass"]
    ratio = {
        name: {q: ms[name][q] / base[q] for q in ("p50", "p99")}
        for name in names
        if name != "python_c_pass"
    }
    return {
        "runs": runs,
        "ms": ms,
        "ratio": ratio,
        "steps_run": run_id,
        "steps_of_that_run": steps,
        "output_bytes": {name: len(out) for name, out in outputs.items()},
        "items": {
            "runs": len(json.loads(outputs["runs_json"])),
            "interrupted": len(json.loads(outputs["interrupted_json"])),
        },
    }


# -- report --------------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    """The human-readable table."""
    m, r, q = report["machine"], report["rebuild"], report["queries"]
    lines = [
        f"machine: {m['nproc']} cpus, Python {m['python']}, LMDB {m['lmdb']}, "
        f"{m['platform']}, revision {m['revision']}, "
        f"load average {m['loadavg_1m_at_start']:.2f} at start",
        f"journal: {r['records']:,} records ({report['built']}), "
        f"{q['items']['runs']:,} runs, {q['items']['interrupted']:,} interrupted",
        "",
        f"rebuild (median of {r['reps']})                              records/s",
        f"  all views (Views.rebuild)                      {r['records_per_s']:>12,.0f}",
    ]
    for name, rate in r["alone_records_per_s"].items():
        lines.append(f"  {name + ' alone':<47}{rate:>12,.0f}")
    lines += [
        f"  engine log scan only (LogScan)                 {r['scan_records_per_s']:>12,.0f}",
        f"  journal.read() only                            {r['read_records_per_s']:>12,.0f}",
        f"  views state: {r['views_bytes']:,} bytes, keys {r['state_keys']}",
        "",
        f"queries on current views ({q['runs']} runs each, interleaved)     p50 ms    p99 ms",
    ]
    labels = {
        "runs_json": "journal runs --json",
        "steps_json": f"journal steps RUN --json ({q['steps_of_that_run']} steps)",
        "interrupted_json": "journal interrupted --json",
        "python_c_pass": "python -c pass (same venv interpreter)",
    }
    for name, label in labels.items():
        lines.append(f"  {label:<47}{q['ms'][name]['p50']:>8.1f}  {q['ms'][name]['p99']:>8.1f}")
    for name, ratio in q["ratio"].items():
        lines.append(
            f"  {labels[name].split(' (')[0] + ' / python -c pass':<47}"
            f"{ratio['p50']:>7.2f}x  {ratio['p99']:>7.2f}x"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse options, build (or reuse) the journal, run both benchmarks, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=1_000_000, help="journal size (1000000)")
    parser.add_argument("--runs", type=int, default=20, help="query processes timed (20)")
    parser.add_argument("--reps", type=int, default=3, help="full rebuilds timed (3)")
    parser.add_argument("--home", default=None, help="build the journal here, or reuse it")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.records < 1000 or args.runs < 1 or args.reps < 1:
        parser.error("--records must be >= 1000, --runs and --reps >= 1")
    info = machine()  # before the work, so the load average is the background load
    with tempfile.TemporaryDirectory(prefix="journal-views-bench-") as tmp:
        home = args.home or os.path.join(tmp, "home")
        existing = os.path.isdir(os.path.join(home, "log"))
        if existing:
            with LmdbJournal(home) as journal:
                if journal.head() != args.records:
                    parser.error(f"{home} holds {journal.head()} records, not {args.records}")
            built = "reused"
        else:
            built = f"built in {build(home, args.records):.0f} s"
        rebuild = bench_rebuild(home, args.reps)
        queries = bench_queries(home, args.runs, pathlib.Path(tmp))
    report = {
        "command": " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "machine": info,
        "built": built,
        "rebuild": rebuild,
        "queries": queries,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
