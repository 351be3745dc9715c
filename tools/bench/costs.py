"""Benchmark the costs view against ccusage 20.0.24 on the same Claude Code transcripts.

Measures what docs/performance.md reports and DESIGN §6 sets targets for, in one run:

- **import**: wall time of ``journal import claude-code TREE`` into a fresh home,
  beside one ``ccusage daily --json --offline`` over the same files;
- **warm report**: wall time of ``journal costs --by day --json`` on that home once
  its views are current (each query still opens the journal and checks for new
  records), interleaved with the same command through the click command group (no
  warm read; its output must be the same bytes), ``ccusage daily --json --offline``
  and ``python -c pass``: p50 of each, and the ratios;
- **equality**: per day, the input, output, cache-write and cache-read tokens of both
  reports are equal to the token, and the dollars to the cent; and both equal the
  truth the generator computed.

The tree: ``--sessions`` (default 100) generated Claude Code sessions with known usage
(``tools/bench/claude_tree.py``: streamed partial lines, a line per content block,
subagents, four models, 5-minute and 1-hour cache writes, over a week). ccusage runs
with ``CLAUDE_CONFIG_DIR=TREE`` and an empty ``HOME`` (so it finds no other agent's
files), both reports in UTC. ccusage comes from npm (``ccusage@20.0.24``, a native
binary), installed into ``~/.cache/agent-journal-tests/npm/ccusage@20.0.24`` when
missing; ``--ccusage PATH`` uses another binary.

    .venv/bin/python tools/bench/costs.py [--sessions N] [--reps N] [--tree DIR] [--json]

``--tree DIR --home HOME`` reuses a home that already holds that tree (same
``--sessions`` and ``--seed``): no import is timed, only the reports. ``--venv DIR``
times a clean virtualenv's programs (the wheel installed, not this editable venv),
as users run them.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from typing import Any

from tools.bench.append import machine
from tools.bench.claude_tree import generate

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: The programs timed: this venv's, or with ``--venv`` a clean one's.
BIN = pathlib.Path(sys.executable).parent
JOURNAL_BIN = str(BIN / "journal")
CCUSAGE = "ccusage@20.0.24"
NPM_DIR = pathlib.Path.home() / ".cache" / "agent-journal-tests" / "npm" / CCUSAGE
#: The report timed: what DESIGN §6 sets the 10x target for.
_COSTS = ("costs", "--by", "day", "--json")
#: The same command through the click command group (no warm read), for comparison.
_CLICK = "import sys; from journal.cli.main import main; sys.argv[0] = 'journal'; sys.exit(main())"
NATIVE = NPM_DIR / "node_modules" / "@ccusage" / "ccusage-linux-x64" / "bin" / "ccusage"


def ccusage_binary(given: str | None) -> str:
    """The ccusage binary: ``given``, else the npm install (made when missing)."""
    if given:
        return given
    if not NATIVE.exists():
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(NPM_DIR), CCUSAGE],
            check=True,
            capture_output=True,
            timeout=600,
        )
    NATIVE.chmod(0o755)
    return str(NATIVE)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with bytecode caches, as installed
    env.update(extra)
    return env


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=1800)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return took, done.stdout


def _cc_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "input": row["inputTokens"],
        "output": row["outputTokens"],
        "cache_write": row["cacheCreationTokens"],
        "cache_read": row["cacheReadTokens"],
        "cost": Decimal(str(row["totalCost"])),
    }


def _ccusage_rows(out: bytes, table: str) -> dict[str, dict[str, Any]]:
    """ccusage's rows per day (``daily``) or session (``session``), and ``TOTAL``."""
    data = json.loads(out)
    rows = {
        row.get("date") or row.get("period") or row["sessionId"]: _cc_row(row)
        for row in data.get(table, [])
    }
    rows["TOTAL"] = _cc_row(data["totals"])
    return rows


def _journal_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "input": row["input_tokens"],
        "output": row["output_tokens"],
        "cache_write": row["cache_write_5m_tokens"] + row["cache_write_1h_tokens"],
        "cache_read": row["cache_read_tokens"],
        "cost": Decimal(str(row["cost_usd"])),
    }


def _journal_rows(out: bytes) -> dict[str, dict[str, Any]]:
    """``journal costs --json`` rows by key, and ``TOTAL``."""
    data = json.loads(out)
    rows = {row["key"]: _journal_row(row) for row in data["rows"]}
    rows["TOTAL"] = _journal_row(data["totals"])
    return rows


def _truth_rows(table: dict[str, dict[str, Any]], totals: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {
            "input": row["input"],
            "output": row["output"],
            "cache_write": row["cache_write_5m"] + row["cache_write_1h"],
            "cache_read": row["cache_read"],
            "cost": row["cost"],
        }
        for key, row in [*table.items(), ("TOTAL", totals)]
    }


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Rows (days, sessions, ``TOTAL``) on which two reports differ: a token, or a cent."""
    out = []
    for day in sorted(set(a) | set(b)):
        x, y = a.get(day), b.get(day)
        if x is None or y is None:
            out.append(f"{day}: only in one report")
            continue
        fields = ("input", "output", "cache_write", "cache_read")
        out.extend(f"{day} {f}: {x[f]} != {y[f]}" for f in fields if x[f] != y[f])
        if round(x["cost"], 2) != round(y["cost"], 2):
            out.append(f"{day} cost: {x['cost']} != {y['cost']}")
    return out


def _du(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.stat(os.path.join(root, name)).st_blocks * 512
    return total


def run(args: argparse.Namespace) -> dict[str, Any]:
    ccusage = ccusage_binary(args.ccusage)
    work = tempfile.mkdtemp(prefix="agent-journal-costs-bench-")
    try:
        bin_dir = BIN
        if args.venv:
            from tools.bench.hook import build_venv

            venv = pathlib.Path(args.venv).resolve()
            has = (venv / "bin" / "journal").exists()
            bin_dir = venv / "bin" if has else build_venv(venv, pathlib.Path(work) / "build")
        journal_bin, python = str(bin_dir / "journal"), str(bin_dir / "python")
        tree = args.tree or os.path.join(work, "tree")
        truth = generate(tree, sessions=args.sessions, seed=args.seed)
        empty_home = os.path.join(work, "empty-home")
        os.makedirs(empty_home)
        cc_argv = [ccusage, "daily", "--json", "--offline", "--timezone", "UTC"]
        cc_env = _env(HOME=empty_home, CLAUDE_CONFIG_DIR=tree)
        j_env = _env(AGENT_JOURNAL_PRICES=os.devnull)

        imports: list[float] = []
        cc_cold: list[float] = []
        home = args.home or ""
        for rep in range(0 if args.home else args.import_reps):
            home = os.path.join(work, f"home-{rep}")
            took, _ = _timed([journal_bin, "--home", home, "import", "claude-code", tree], j_env)
            imports.append(took)
            cc_cold.append(_timed(cc_argv, cc_env)[0])
        first, first_out = _timed([journal_bin, "--home", home, *_COSTS], j_env)

        warm, cc_warm, bare, via_click = [], [], [], []
        journal_out = cc_out = b""
        for _ in range(args.reps):
            took, journal_out = _timed([journal_bin, "--home", home, *_COSTS], j_env)
            warm.append(took)
            took, click_out = _timed([python, "-c", _CLICK, "--home", home, *_COSTS], j_env)
            via_click.append(took)
            assert click_out == journal_out, "the warm read and click print different bytes"
            took, cc_out = _timed(cc_argv, cc_env)
            cc_warm.append(took)
            bare.append(_timed([python, "-c", "pass"], j_env)[0])

        ours, theirs = _journal_rows(journal_out), _ccusage_rows(cc_out, "daily")
        assert _journal_rows(first_out) == ours
        # Per session too (ccusage rolls subagent files into their session, as we do).
        cc_session = [ccusage, "session", "--json", "--offline", "--timezone", "UTC"]
        our_sessions = _journal_rows(
            _timed([journal_bin, "--home", home, "costs", "--by", "session", "--json"], j_env)[1]
        )
        their_sessions = _ccusage_rows(_timed(cc_session, cc_env)[1], "session")
        true_days = _truth_rows(truth.days, truth.totals)
        true_sessions = _truth_rows(truth.sessions, truth.totals)
        p50 = statistics.median
        return {
            "machine": machine(),
            "programs": str(bin_dir),
            "tree": {
                "sessions": args.sessions,
                "files": sum(len(f) for _, _, f in os.walk(tree)),
                "lines": truth.lines,
                "bytes": truth.bytes,
                "responses": truth.responses,
                "days": len(truth.days),
            },
            "import_s": {"p50": p50(imports), "all": imports} if imports else None,
            "ccusage_daily_s": {"p50": p50(cc_warm + cc_cold), "all": cc_cold + cc_warm},
            "first_costs_s": first,
            "warm_costs_s": {"p50": p50(warm), "all": warm},
            "warm_costs_click_s": {"p50": p50(via_click), "all": via_click},
            "python_pass_s": p50(bare),
            "ratios": {
                "import_over_ccusage": (p50(imports) / p50(cc_warm + cc_cold) if imports else None),
                "ccusage_over_warm_costs": p50(cc_warm) / p50(warm),
                "ccusage_over_warm_costs_click": p50(cc_warm) / p50(via_click),
            },
            "storage": {
                "log_bytes": _du(os.path.join(home, "log")),
                "views_bytes": _du(os.path.join(home, "views")),
                "jsonl_bytes": truth.bytes,
            },
            "equal": {
                "days_journal_vs_ccusage": _differences(ours, theirs) or "equal",
                "days_journal_vs_truth": _differences(ours, true_days) or "equal",
                "days_ccusage_vs_truth": _differences(theirs, true_days) or "equal",
                "sessions_journal_vs_ccusage": _differences(our_sessions, their_sessions)
                or "equal",
                "sessions_journal_vs_truth": _differences(our_sessions, true_sessions) or "equal",
                "sessions_ccusage_vs_truth": _differences(their_sessions, true_sessions) or "equal",
            },
            "compared": {"days": len(ours) - 1, "sessions": len(our_sessions) - 1},
            "totals": {
                "journal_usd": str(ours["TOTAL"]["cost"]),
                "ccusage_usd": str(theirs["TOTAL"]["cost"]),
                "truth_usd": str(truth.totals["cost"]),
                "journal_tokens": {k: v for k, v in ours["TOTAL"].items() if k != "cost"},
                "ccusage_tokens": {k: v for k, v in theirs["TOTAL"].items() if k != "cost"},
            },
        }
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=7, help="warm report repetitions")
    parser.add_argument("--import-reps", type=int, default=2)
    parser.add_argument("--tree", help="generate the tree here (default: a temporary dir)")
    parser.add_argument("--ccusage", help="the ccusage binary (default: install from npm)")
    parser.add_argument(
        "--venv",
        help="time a clean venv's programs (the wheel installed, as tools/bench/hook.py "
        "builds it; reused if it holds bin/journal) instead of this venv's",
    )
    parser.add_argument(
        "--home",
        help="a home that already holds the tree (with --tree): time no import, only reports",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        json.dump(result, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
        return 0
    tree, ratios = result["tree"], result["ratios"]
    print(
        f"tree: {tree['sessions']} sessions, {tree['files']} files, {tree['lines']:,} lines, "
        f"{tree['bytes'] / 1e6:.1f} MB, {tree['responses']:,} responses, {tree['days']} days"
    )
    if result["import_s"]:
        print(f"journal import claude-code       p50 {result['import_s']['p50']:.2f} s")
    print(f"ccusage daily --json --offline   p50 {result['ccusage_daily_s']['p50']:.3f} s")
    print(f"journal costs --json (first)         {result['first_costs_s']:.3f} s")
    print(f"journal costs --json (warm)      p50 {result['warm_costs_s']['p50']:.3f} s")
    print(f"  the same through click          p50 {result['warm_costs_click_s']['p50']:.3f} s")
    print(f"python -c pass                   p50 {result['python_pass_s']:.3f} s")
    if ratios["import_over_ccusage"] is not None:
        print(f"import / ccusage: {ratios['import_over_ccusage']:.1f}x (target <= 1)")
    print(f"ccusage / warm costs: {ratios['ccusage_over_warm_costs']:.1f}x (target >= 10)")
    print(f"ccusage / warm costs through click: {ratios['ccusage_over_warm_costs_click']:.1f}x")
    storage = result["storage"]
    print(
        f"storage: log {storage['log_bytes'] / 1e6:.1f} MB, views "
        f"{storage['views_bytes'] / 1e6:.1f} MB, JSONL {storage['jsonl_bytes'] / 1e6:.1f} MB"
    )
    for name, found in result["equal"].items():
        print(f"{name}: {found if found == 'equal' else '; '.join(found[:5])}")
    print(f"totals: {result['totals']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
