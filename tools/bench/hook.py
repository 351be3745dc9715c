"""Benchmark ``journal hook``: process start to exit, alone and 8 at once.

DESIGN §6 target: p50 ≤ 2.5 × ``python -c pass`` (same interpreter, same run) and
p99 ≤ 100 ms with 8 hooks firing at once. Measured:

- **alone**: one process at a time, interleaved and rotated: ``python -S -c pass``
  (bare start), ``python -c pass`` (the venv's start, the baseline), a minimal
  hand-written hook (stdlib json parse, compact dump, sha256, one LMDB write
  transaction: the floor for a Python hook, as DESIGN §6 describes it) and
  ``journal hook claude-code``.
- **8 at once**: rounds of 8 processes spawned together, each timed from its spawn
  to its own exit (reaped with ``waitpid(-1)`` as they finish), for ``python -c
  pass`` and for ``journal hook claude-code``.

Payloads are distinct real-shaped Claude Code events (``tools/bench/append.py``).
Each hook's event is checked to have landed (in the log or, if the budget ran out,
the spool) before the figures are printed.

    .venv/bin/python tools/bench/hook.py [--runs N] [--rounds N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time
from typing import Any

from journal.store import LmdbJournal
from tools.bench.append import JOURNAL_BIN, _percentile, machine, make_payloads

CONCURRENCY = 8

MINIMAL_HOOK = """
import hashlib, json, struct, sys, time
import lmdb
data = sys.stdin.buffer.read()
event = json.loads(data)
body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
digest = hashlib.sha256(body).digest()
env = lmdb.open(sys.argv[1], map_size=1 << 30, max_dbs=2)
log = env.open_db(b"log")
with env.begin(write=True) as txn:
    cur = txn.cursor(db=log)
    seq = struct.unpack(">Q", cur.key())[0] + 1 if cur.last() else 1
    txn.put(struct.pack(">Q", seq), digest + body, db=log, append=True)
"""


def _spawn(argv: list[str], stdin_path: str, env: dict[str, str]) -> int:
    return os.posix_spawn(
        argv[0],
        argv,
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, stdin_path, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        ],
    )


def _run_group(commands: list[tuple[list[str], str]], env: dict[str, str]) -> list[float]:
    """Spawn all commands at once; return each one's spawn-to-exit seconds."""
    started: dict[int, float] = {}
    for argv, stdin_path in commands:
        start = time.perf_counter()
        started[_spawn(argv, stdin_path, env)] = start
    times = []
    while started:
        pid, status = os.waitpid(-1, 0)
        end = time.perf_counter()
        if pid in started:
            if os.waitstatus_to_exitcode(status) != 0:
                raise AssertionError(f"a benchmarked process failed: {status}")
            times.append(end - started.pop(pid))
    return times


def _summary(times: list[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(times) * 1e3,
        "p90": _percentile(times, 0.9) * 1e3,
        "p99": _percentile(times, 0.99) * 1e3,
        "n": len(times),
    }


def bench(runs: int, rounds: int, workdir: pathlib.Path) -> dict[str, Any]:
    """Run both measurements; return the report."""
    home = str(workdir / "home")
    minimal_home = str(workdir / "minimal")
    os.makedirs(minimal_home)
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(workdir / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    payloads = make_payloads(runs + rounds * CONCURRENCY + 8)
    inputs = workdir / "inputs"
    inputs.mkdir()
    paths = []
    for i, data in enumerate(payloads):
        path = inputs / f"{i}.json"
        path.write_bytes(data)
        paths.append(str(path))
    empty = str(inputs / "empty")
    pathlib.Path(empty).write_bytes(b"")
    next_payload = iter(paths)

    commands = {
        "python_S_c_pass": lambda: ([sys.executable, "-S", "-c", "pass"], empty),
        "python_c_pass": lambda: ([sys.executable, "-c", "pass"], empty),
        "minimal_hook": lambda: ([sys.executable, "-c", MINIMAL_HOOK, minimal_home], paths[0]),
        "journal_hook": lambda: (
            [JOURNAL_BIN, "--home", home, "hook", "claude-code"],
            next(next_payload),
        ),
    }
    LmdbJournal(home).close()  # a hook's normal case: the journal exists
    alone: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for name in names:  # warm caches (bytecode, page cache) for every command
        _run_group([commands[name]()], env)
    for i in range(runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            alone[name] += _run_group([commands[name]()], env)

    together: dict[str, list[float]] = {"python_c_pass": [], "journal_hook": []}
    for i in range(rounds):
        for name in (
            ("python_c_pass", "journal_hook") if i % 2 else ("journal_hook", "python_c_pass")
        ):
            together[name] += _run_group([commands[name]() for _ in range(CONCURRENCY)], env)

    hooks = 1 + runs + rounds * CONCURRENCY
    with LmdbJournal(home) as journal:
        stats = journal.stats()
    if stats.records + stats.spooled != hooks:
        raise AssertionError(
            f"{hooks} hooks ran, {stats.records} records + {stats.spooled} spooled"
        )
    ms_alone = {name: _summary(t) for name, t in alone.items()}
    ms_together = {name: _summary(t) for name, t in together.items()}
    base = ms_alone["python_c_pass"]["p50"]
    return {
        "machine": machine(),
        "runs": runs,
        "rounds": rounds,
        "concurrency": CONCURRENCY,
        "alone_ms": ms_alone,
        "together_ms": ms_together,
        "ratio_p50": {name: ms_alone[name]["p50"] / base for name in ms_alone},
        "spooled": stats.spooled,
        "records": stats.records,
    }


def render(report: dict[str, Any]) -> str:
    """The human-readable table."""
    m = report["machine"]
    lines = [
        f"revision {m['revision']} · python {m['python']} · lmdb {m['lmdb']} · "
        f"{m['nproc']} cpus · load {m['loadavg_1m_at_start']:.2f}",
        f"alone ({report['runs']} runs each, interleaved):",
        f"  {'command':<18}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'× python -c pass':>19}",
    ]
    for name, s in report["alone_ms"].items():
        ratio = report["ratio_p50"][name]
        lines.append(f"  {name:<18}{s['p50']:>9.1f}{s['p90']:>9.1f}{s['p99']:>9.1f}{ratio:>19.2f}")
    lines.append(
        f"{report['concurrency']} at once ({report['rounds']} rounds, each process timed):"
    )
    for name, s in report["together_ms"].items():
        lines.append(f"  {name:<18}{s['p50']:>9.1f}{s['p90']:>9.1f}{s['p99']:>9.1f}")
    lines.append(f"every event landed: {report['records']} records, {report['spooled']} spooled")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="runs of each command alone")
    parser.add_argument("--rounds", type=int, default=50, help="rounds of 8 at once")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-hook-") as tmp:
        report = bench(args.runs, args.rounds, pathlib.Path(tmp))
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
