"""Benchmark the changesets view: its fold cost per record, and ``diff`` of a 1,000-edit run.

- **fold**: on the journal of ``tools/bench/views.py`` (``--records``, default
  200,000: interleaved Claude Code sessions whose Edit calls carry the real
  ``PostToolUse`` Edit payload of shared/fixtures, ``originalFile`` and all), the
  rebuild of every view with and without ``changesets``, and ``changesets`` alone:
  records per CPU second, and the view's cost per record in CPU microseconds
  (alone, and as the difference it makes to the full rebuild).
- **diff**: a journal holding one run that writes a file of ``--lines`` lines and
  edits it 1,000 times (Claude Code ``Write`` + ``Edit`` payloads, each with its
  ``originalFile``): the fold of those records, ``run_diff`` (warm views, median of
  ``--reps``), and ``journal diff`` as a process beside ``python -c pass``.

    .venv/bin/python tools/bench/changes.py [--records N] [--lines N] [--reps N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from typing import Any

from journal.store import LmdbJournal
from projections.changequeries import run_diff
from projections.changesets import ChangesetsView
from projections.engine import Views
from projections.registry import VIEWS
from tools.bench.views import JOURNAL_BIN, _timed, build

EDITS = 1000


def _cpu(work: Any) -> float:
    """CPU seconds of ``work()`` in this process: steadier than wall time on a machine
    other work shares (LMDB's page cache is warm, so the rebuild is CPU-bound)."""
    start = time.process_time()
    work()
    return time.process_time() - start


def bench_fold(home: str, reps: int) -> dict[str, Any]:
    """Full rebuilds with and without changesets, and changesets alone."""
    others = [view.name for view in VIEWS if view.name != "changesets"]
    full: list[float] = []
    without: list[float] = []
    alone: list[float] = []
    with LmdbJournal(home) as journal, Views(journal) as views:
        head = journal.head()
        views.rebuild()  # warm the page cache before anything is timed
        for _ in range(reps):  # interleaved: the machine's load drifts
            without.append(_cpu(partial(views.rebuild, others)))
            full.append(_cpu(views.rebuild))
            alone.append(_cpu(partial(views.rebuild, ["changesets"])))
        keys = {s.name: s.keys for s in views.status()}["changesets"]
    t_full, t_without, t_alone = (statistics.median(x) for x in (full, without, alone))
    return {
        "records": head,
        "all_views_records_per_cpu_s": head / t_full,
        "without_changesets_records_per_cpu_s": head / t_without,
        "changesets_alone_records_per_cpu_s": head / t_alone,
        "changesets_alone_us_per_record": t_alone / head * 1e6,
        "changesets_marginal_us_per_record": (t_full - t_without) / head * 1e6,
        "changesets_keys": keys,
    }


def _edit_run(journal: LmdbJournal, lines: int) -> str:
    """One Claude Code run: a Write of ``lines`` lines, then 1,000 Edits of one line each.

    The Edits carry an empty ``structuredPatch``: their line counts come from
    comparing the contents, the view's costlier path."""
    path = "/work/repo/big.py"
    text = "".join(f"value_{i} = {i}\n" for i in range(lines))
    sid = "bench-1000-edits"

    def post(call: str, tool: str, response: dict[str, Any]) -> bytes:
        return json.dumps(
            {
                "session_id": sid,
                "cwd": "/work/repo",
                "hook_event_name": "PostToolUse",
                "tool_name": tool,
                "tool_input": {"file_path": path},
                "tool_response": response,
                "tool_use_id": call,
            }
        ).encode()

    response: dict[str, Any] = {
        "type": "create",
        "filePath": path,
        "content": text,
        "originalFile": None,
    }
    journal.append(post("w0", "Write", response), source="claude-code")
    for n in range(EDITS):
        i = n * 7 % lines
        old, new = f"value_{i} = ", f"value_{i} = {n} + "
        response = {
            "filePath": path,
            "oldString": old,
            "newString": new,
            "originalFile": text,
            "structuredPatch": [],
            "replaceAll": False,
            "userModified": False,
        }
        journal.append(post(f"e{n}", "Edit", response), source="claude-code")
        text = text.replace(old, new, 1)
    return sid


def _process(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench_diff(home: str, lines: int, reps: int) -> dict[str, Any]:
    with LmdbJournal(home) as journal:
        sid = _edit_run(journal, lines)
        records = journal.head()
        with Views(journal, [ChangesetsView()]) as views:
            fold = _timed(views.rebuild)
        with Views(journal) as views:
            views.catch_up()
        patch = run_diff(journal, sid)
        warm = [_timed(partial(run_diff, journal, sid)) for _ in range(reps)]
    cli, bare = [], []
    for _ in range(reps):
        cli.append(_process([JOURNAL_BIN, "--home", home, "diff", sid]))
        bare.append(_process([sys.executable, "-c", "pass"]))
    return {
        "edits": EDITS,
        "file_lines": lines,
        "records": records,
        "fold_seconds": fold,
        "fold_us_per_edit_record": fold / records * 1e6,
        "run_diff_ms": statistics.median(warm) * 1e3,
        "diff_bytes": len(patch),
        "journal_diff_ms": statistics.median(cli) * 1e3,
        "python_pass_ms": statistics.median(bare) * 1e3,
        "journal_diff_over_python_pass": statistics.median(cli) / statistics.median(bare),
    }


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks; print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=200_000, help="journal size (200000)")
    parser.add_argument("--lines", type=int, default=2000, help="lines of the edited file (2000)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions, median taken (5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        fold_home, diff_home = os.path.join(tmp, "fold"), os.path.join(tmp, "diff")
        build(fold_home, args.records)
        report = {
            "fold": bench_fold(fold_home, args.reps),
            "diff": bench_diff(diff_home, args.lines, args.reps),
        }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for part, values in report.items():
            for name, value in values.items():
                shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
                print(f"{part:5} {name:40} {shown:>14}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
