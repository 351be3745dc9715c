"""Benchmark storage: what transcripts and hook events take on disk, packed and plain.

Measures what DESIGN §6 sets targets for ("transcripts <= 1.0x their JSONL size, hook
events <= 1.5x compact JSON Lines") and what packing costs, in one run:

- **transcripts**: a generated Claude Code tree (``tools/bench/claude_tree.py``,
  ``--sessions``, default 100) imported into a fresh home with ``journal import
  claude-code`` (the CLI, a real process), beside one ``ccusage daily --json
  --offline`` over the same files (``tools/bench/costs.py`` installs it), interleaved
  ``--reps`` times: p50 of each and the ratio. Then the same import in this process
  with segments packed (the default) and plain (``journal.packing.LEVEL = 0``): the
  log's bytes on disk over the JSONL bytes, the import's seconds, and the read of the
  whole log both ways (the engine's scan, ``projections.logread.LogScan``, records/s)
  and a rebuild of all views (``Views.rebuild()``, records/s);
- **hook events**: ``--events`` (default 50,000) hook events of the views bench's
  sessions (``tools/bench/views.py``, transcript lines left out), each appended as a
  hook appends it (a one-entry segment, never packed): log bytes over the bytes of
  the same events as compact JSON Lines.

Log bytes are the allocated blocks of ``<home>/log`` (``du``), as in costs.py.

    .venv/bin/python tools/bench/storage.py [--sessions N] [--events N] [--reps N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from journal import packing
from journal.agents.importer import import_transcripts, plan
from journal.store import LmdbJournal
from journal.writer import Writer
from projections.engine import Views
from projections.logread import LogScan
from tools.bench.append import machine
from tools.bench.claude_tree import generate
from tools.bench.costs import JOURNAL_BIN, ccusage_binary
from tools.bench.views import make_events


def _du(path: str) -> int:
    """Bytes allocated on disk under ``path``."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.stat(os.path.join(root, name)).st_blocks * 512
    return total


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with bytecode caches, as installed
    env.update(extra)
    return env


def _timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=1800, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return took


def _import_in_process(home: str, tree: str, level: int) -> dict[str, Any]:
    """Import ``tree`` into a new ``home`` with segments packed at ``level`` (0: plain)."""
    saved = packing.LEVEL
    packing.LEVEL = level
    try:
        start = time.perf_counter()
        with LmdbJournal(home) as journal:
            report = import_transcripts(journal, plan("claude-code", [tree]).files)
        took = time.perf_counter() - start
    finally:
        packing.LEVEL = saved
    with LmdbJournal(home, readonly=True) as journal:
        head = journal.head()
        start = time.perf_counter()
        scan = LogScan(journal, 0, head, None)
        count = sum(1 for _ in scan)
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        verified = journal.verify().ok
        verify_s = time.perf_counter() - start
    with LmdbJournal(home, readonly=True) as journal:
        views = Views(journal)
        start = time.perf_counter()
        views.rebuild()
        rebuild_s = time.perf_counter() - start
        views.close()
    return {
        "import_s": took,
        "records": report.to_dict()["appended"],
        "log_bytes": _du(os.path.join(home, "log")),
        "scan_records_per_s": count / read_s,
        "rebuild_records_per_s": head / rebuild_s,
        "verify_s": verify_s,
        "verify_ok": verified,
    }


def _hook_events(home: str, count: int) -> dict[str, Any]:
    """Append ``count`` hook events one per segment, as hooks do; compare to JSONL."""
    events = [payload for kind, payload in make_events(count * 2) if kind != "transcript"]
    events = events[:count]
    source = b"claude-code"

    def work(writer: Writer) -> None:
        for payload in events:
            kind = json.loads(payload)["hook_event_name"].encode()
            writer.append(payload, source, kind, b"", time.time_ns())

    with LmdbJournal(home) as journal:
        journal.write(work)
    jsonl = sum(len(e) + 1 for e in events)
    used = _du(os.path.join(home, "log"))
    return {"events": len(events), "jsonl_bytes": jsonl, "log_bytes": used, "ratio": used / jsonl}


def run(args: argparse.Namespace) -> dict[str, Any]:
    ccusage = ccusage_binary(args.ccusage)
    work = tempfile.mkdtemp(prefix="agent-journal-storage-bench-")
    try:
        tree = os.path.join(work, "tree")
        truth = generate(tree, sessions=args.sessions, seed=args.seed)
        empty_home = os.path.join(work, "empty-home")
        os.makedirs(empty_home)
        cc_argv = [ccusage, "daily", "--json", "--offline", "--timezone", "UTC"]
        cc_env = _env(HOME=empty_home, CLAUDE_CONFIG_DIR=tree)
        imports, cc = [], []
        for rep in range(args.reps):
            home = os.path.join(work, f"cli-{rep}")
            imports.append(
                _timed([JOURNAL_BIN, "--home", home, "import", "claude-code", tree], _env())
            )
            cc.append(_timed(cc_argv, cc_env))
            shutil.rmtree(home)
        packed = _import_in_process(os.path.join(work, "packed"), tree, packing.LEVEL)
        plain = _import_in_process(os.path.join(work, "plain"), tree, 0)
        hooks = _hook_events(os.path.join(work, "hooks"), args.events)
        p50 = statistics.median
        return {
            "machine": machine(),
            "tree": {"sessions": args.sessions, "lines": truth.lines, "bytes": truth.bytes},
            "cli_import_s": {"p50": p50(imports), "all": imports},
            "ccusage_daily_s": {"p50": p50(cc), "all": cc},
            "import_over_ccusage": p50(imports) / p50(cc),
            "packed": {**packed, "ratio": packed["log_bytes"] / truth.bytes},
            "plain": {**plain, "ratio": plain["log_bytes"] / truth.bytes},
            "hook_events": hooks,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=3, help="CLI import / ccusage pairs")
    parser.add_argument("--ccusage", help="the ccusage binary (default: install from npm)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    tree = result["tree"]
    print(
        f"tree: {tree['sessions']} sessions, {tree['lines']:,} lines, {tree['bytes'] / 1e6:.1f} MB"
    )
    print(
        f"journal import claude-code  p50 {result['cli_import_s']['p50']:.2f} s; "
        f"ccusage daily p50 {result['ccusage_daily_s']['p50']:.2f} s; "
        f"ratio {result['import_over_ccusage']:.2f}x (target <= 1)"
    )
    for name in ("packed", "plain"):
        r = result[name]
        print(
            f"{name:6}: log {r['log_bytes'] / 1e6:.1f} MB = {r['ratio']:.2f}x JSONL; "
            f"import {r['import_s']:.2f} s; scan {r['scan_records_per_s']:,.0f} rec/s; "
            f"rebuild {r['rebuild_records_per_s']:,.0f} rec/s; verify {r['verify_s']:.2f} s"
        )
    hooks = result["hook_events"]
    print(
        f"hook events: {hooks['events']:,}, log {hooks['log_bytes'] / 1e6:.1f} MB = "
        f"{hooks['ratio']:.2f}x compact JSONL (target <= 1.5)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
