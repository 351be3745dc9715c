"""Benchmark ``journal hook`` as users run it: from a clean, non-editable virtualenv.

DESIGN §6 targets, both from a clean non-editable virtualenv, each hook a distinct
event (a real append): p50 ≤ 1.5 × ``python -c pass`` of the same venv's interpreter,
and with 8 hooks at once, p99 ≤ 1.5 × the p99 of 8 bare interpreters at once.

The benchmark builds the project's wheel from a copy of the source tree (the files a
clean clone holds, as ``tests/test_wheel.py`` does), installs it into a fresh
virtualenv in a temporary directory (with this interpreter's pip, so the console
script is the one a current pip writes) and times that venv's programs:

- **alone**: one process at a time, interleaved and rotated: ``python -S -c pass``
  (bare start), ``python -c pass`` (the baseline), a minimal hand-written hook
  (stdlib json parse, compact dump, sha256, one LMDB write transaction) and
  ``journal hook claude-code``.
- **8 at once**: rounds of 8 processes spawned together, each timed from its spawn
  to its own exit (reaped with ``waitpid(-1)`` as they finish), for ``python -c
  pass`` and for ``journal hook claude-code``.

Payloads are distinct real-shaped Claude Code events (``tools/bench/append.py``).
Child processes get no ``PYTHON*`` variables (the venv's own bytecode, no path
leaking in). Each hook's event is checked to have landed (in the log or, if the
budget ran out, a spool) before the figures are printed.

    .venv/bin/python tools/bench/hook.py [--runs N] [--rounds N] [--venv DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from journal.store import LmdbJournal
from tools.bench.append import ROOT, _percentile, machine, make_payloads
from tools.wheel import build_wheel

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


# -- the clean virtualenv --------------------------------------------------------------


def _quiet(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")


def build_venv(venv: pathlib.Path, work: pathlib.Path) -> pathlib.Path:
    """Build the wheel from a copy of the tree and install it into a new venv; its bin/."""
    wheel = build_wheel(work, ROOT)
    pip = [sys.executable, "-m", "pip"]
    _quiet([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _quiet([*pip, "--python", str(python), "install", "--quiet", str(wheel)])
    return venv / "bin"


def _venv_info(bin_dir: pathlib.Path) -> dict[str, Any]:
    """How the journal is installed in the venv: pip's own record of it."""
    (direct_url,) = bin_dir.parent.glob("lib/python*/site-packages/agent_journal-*/direct_url.json")
    origin = json.loads(direct_url.read_text())
    return {
        "path": str(bin_dir.parent),
        "installed_from": origin.get("url", ""),
        "editable": bool(origin.get("dir_info", {}).get("editable")),
        "console_script_imports_re": "import re" in (bin_dir / "journal").read_text(),
    }


# -- timing ---------------------------------------------------------------------------


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


Timings = tuple[list[float], list[float]]  # wall seconds, CPU seconds (user + system)


def _run_group(commands: list[tuple[list[str], str]], env: dict[str, str]) -> Timings:
    """Spawn all commands at once; return each one's spawn-to-exit and CPU seconds."""
    started: dict[int, float] = {}
    for argv, stdin_path in commands:
        start = time.perf_counter()
        started[_spawn(argv, stdin_path, env)] = start
    wall, cpu = [], []
    while started:
        pid, status, usage = os.wait4(-1, 0)
        end = time.perf_counter()
        if pid in started:
            if os.waitstatus_to_exitcode(status) != 0:
                raise AssertionError(f"a benchmarked process failed: {status}")
            wall.append(end - started.pop(pid))
            cpu.append(usage.ru_utime + usage.ru_stime)
    return wall, cpu


def _summary(times: Timings) -> dict[str, float]:
    wall, cpu = times
    return {
        "p50": statistics.median(wall) * 1e3,
        "p90": _percentile(wall, 0.9) * 1e3,
        "p99": _percentile(wall, 0.99) * 1e3,
        "cpu_p50": statistics.median(cpu) * 1e3,
        "n": len(wall),
    }


def _add(into: Timings, more: Timings) -> None:
    into[0].extend(more[0])
    into[1].extend(more[1])


def _child_env(workdir: pathlib.Path) -> dict[str, str]:
    """The environment an agent gives its hooks, minus anything that would leak in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "AGENT_JOURNAL_", "VIRTUAL_ENV"))
    }
    env["TMPDIR"] = str(workdir / "tmp")  # the fallback spool, counted below
    return env


def _spooled(home: str, workdir: pathlib.Path) -> int:
    places = [pathlib.Path(home, "spool"), *(workdir / "tmp").glob("agent-journal-*/spool")]
    return sum(1 for place in places if place.is_dir() for _ in place.glob("*.spool"))


def bench(runs: int, rounds: int, workdir: pathlib.Path, bin_dir: pathlib.Path) -> dict[str, Any]:
    """Run both measurements with the venv's programs; return the report."""
    home = str(workdir / "home")
    minimal_home = str(workdir / "minimal")
    os.makedirs(minimal_home)  # and workdir
    (workdir / "tmp").mkdir()
    env = _child_env(workdir)
    python, journal = str(bin_dir / "python"), str(bin_dir / "journal")
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
        "python_S_c_pass": lambda: ([python, "-S", "-c", "pass"], empty),
        "python_c_pass": lambda: ([python, "-c", "pass"], empty),
        "minimal_hook": lambda: ([python, "-c", MINIMAL_HOOK, minimal_home], paths[0]),
        "journal_hook": lambda: (
            [journal, "--home", home, "hook", "claude-code"],
            next(next_payload),
        ),
    }
    LmdbJournal(home).close()  # a hook's normal case: the journal exists
    alone: dict[str, Timings] = {name: ([], []) for name in commands}
    names = list(commands)
    for name in names:  # warm caches (bytecode, page cache) for every command
        _run_group([commands[name]()], env)
    for i in range(runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            _add(alone[name], _run_group([commands[name]()], env))

    together: dict[str, Timings] = {"python_c_pass": ([], []), "journal_hook": ([], [])}
    for i in range(rounds):
        for name in (
            ("python_c_pass", "journal_hook") if i % 2 else ("journal_hook", "python_c_pass")
        ):
            _add(together[name], _run_group([commands[name]() for _ in range(CONCURRENCY)], env))

    hooks = 1 + runs + rounds * CONCURRENCY
    with LmdbJournal(home) as journal_:
        records = journal_.stats().records
    spooled = _spooled(home, workdir)
    if records + spooled != hooks:
        raise AssertionError(f"{hooks} hooks ran, {records} records + {spooled} spooled")
    ms_alone = {name: _summary(t) for name, t in alone.items()}
    ms_together = {name: _summary(t) for name, t in together.items()}
    base = ms_alone["python_c_pass"]["p50"]
    return {
        "machine": machine(),
        "venv": _venv_info(bin_dir),
        "runs": runs,
        "rounds": rounds,
        "concurrency": CONCURRENCY,
        "alone_ms": ms_alone,
        "together_ms": ms_together,
        "ratio_p50": {name: ms_alone[name]["p50"] / base for name in ms_alone},
        "ratio_p99_together": ms_together["journal_hook"]["p99"]
        / ms_together["python_c_pass"]["p99"],
        "spooled": spooled,
        "records": records,
    }


def render(report: dict[str, Any]) -> str:
    """The human-readable table."""
    m, v = report["machine"], report["venv"]
    lines = [
        f"revision {m['revision']} · python {m['python']} · lmdb {m['lmdb']} · "
        f"{m['nproc']} cpus · load {m['loadavg_1m_at_start']:.2f}",
        f"clean venv {v['path']} (non-editable: {not v['editable']}, "
        f"console script imports re: {v['console_script_imports_re']})",
        f"alone ({report['runs']} runs each, interleaved):",
        f"  {'command':<18}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'cpu ms':>9}"
        f"{'× python -c pass':>19}",
    ]
    for name, s in report["alone_ms"].items():
        ratio = report["ratio_p50"][name]
        lines.append(
            f"  {name:<18}{s['p50']:>9.1f}{s['p90']:>9.1f}{s['p99']:>9.1f}{s['cpu_p50']:>9.1f}"
            f"{ratio:>19.2f}"
        )
    lines.append(
        f"{report['concurrency']} at once ({report['rounds']} rounds, each process timed):"
    )
    for name, s in report["together_ms"].items():
        lines.append(
            f"  {name:<18}{s['p50']:>9.1f}{s['p90']:>9.1f}{s['p99']:>9.1f}{s['cpu_p50']:>9.1f}"
        )
    lines.append(
        f"journal_hook / python_c_pass: p50 alone {report['ratio_p50']['journal_hook']:.2f}x, "
        f"p99 {report['concurrency']} at once {report['ratio_p99_together']:.2f}x "
        "(targets 1.5x)"
    )
    lines.append(f"every event landed: {report['records']} records, {report['spooled']} spooled")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="runs of each command alone")
    parser.add_argument("--rounds", type=int, default=50, help="rounds of 8 at once")
    parser.add_argument(
        "--venv",
        type=pathlib.Path,
        help="build the clean venv here and keep it (reused if it holds bin/journal)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-hook-") as tmp:
        workdir = pathlib.Path(tmp)
        venv = args.venv.resolve() if args.venv else workdir / "venv"
        if (venv / "bin" / "journal").exists():
            bin_dir = venv / "bin"
        else:
            bin_dir = build_venv(venv, workdir / "build")
        report = bench(args.runs, args.rounds, workdir / "run", bin_dir)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
