"""Benchmark secret masking (:mod:`journal.redact`): per payload, and on the hook path.

1. **Per payload, in process**: ``redact()`` on real hook payloads from
   ``shared/fixtures`` (each, and one ~5 KB), on a ~5 KB payload that holds secrets
   (the rules compiled beforehand, as in any later payload of a batch), and on a
   1 MB transcript-like payload with and without secrets; beside the baseline of
   the rest of the stored-bytes work (``payload.validate`` with masking off).
2. **The hook, as users run it** (clean non-editable venv, :mod:`tools.bench.hook`):
   interleaved runs of ``python -c pass``, ``journal hook claude-code`` with masking,
   the same with ``AGENT_JOURNAL_REDACT=0``, and with masking on payloads holding a
   secret (the path that imports ``re`` and compiles the rules it needs); p50 ratios.

    .venv/bin/python tools/bench/redact.py [--runs N] [--venv DIR] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pathlib
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from journal import payload, redact
from journal.store import LmdbJournal
from tools.bench.append import FIXTURES, machine, make_payloads
from tools.bench.hook import _child_env, _run_group, _summary, build_venv

SECRET_TEXT = (
    "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nDB_PASSWORD=correct-horse-battery\n"
    'curl -H "Authorization: Bearer 8f3c2e1d9b7a6f5e4d3c2b1a0f9e" https://api.example.com\n'
)


def _per_call_us(fn: Callable[[], object], budget_s: float = 0.3) -> float:
    """Median microseconds per call over batches filling about ``budget_s``."""
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.02:
        fn()
        calls += 1
    per_batch = max(1, calls)
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while time.perf_counter() < deadline or len(samples) < 5:
        t = time.perf_counter()
        for _ in range(per_batch):
            fn()
        samples.append((time.perf_counter() - t) / per_batch * 1e6)
    return statistics.median(samples)


def _sized(data: bytes, size: int, extra: str = "") -> bytes:
    """``data`` (a JSON object) with a ``padding`` string making it about ``size`` bytes."""
    value = json.loads(data)
    lines = [line.decode() for line in make_payloads(200)]
    text = extra
    while len(text) < size - len(data):
        text += lines[len(text) % len(lines)] + "\n"
    value["padding"] = text[: max(0, size - len(data))]
    return json.dumps(value, separators=(",", ":")).encode()


def per_payload() -> dict[str, Any]:
    """Microseconds per payload: masking, and the stored-bytes baseline."""
    os.environ["AGENT_JOURNAL_REDACT"] = "1"
    fixtures = sorted(FIXTURES.glob("claude-code__*.json"))
    real = [p.read_bytes().strip() for p in fixtures]
    biggest = max(real, key=len)
    cases = {
        "real fixtures (mean of each)": real,
        "real ~5 KB": [_sized(biggest, 5 * 1024)],
        "~5 KB with 3 secrets": [_sized(biggest, 5 * 1024, SECRET_TEXT)],
        "1 MB, no secret": [_sized(biggest, 1024 * 1024)],
        "1 MB, 3 secrets": [_sized(biggest, 1024 * 1024, SECRET_TEXT)],
    }
    for rule in redact.RULES:
        rule.compiled()  # the cost of compiling is the hook's figure below, not this one
    out: dict[str, Any] = {}
    for name, items in cases.items():
        mask = statistics.mean(_per_call_us(functools.partial(redact.redact, d)) for d in items)
        os.environ["AGENT_JOURNAL_REDACT"] = "0"
        base = statistics.mean(_per_call_us(functools.partial(payload.validate, d)) for d in items)
        os.environ["AGENT_JOURNAL_REDACT"] = "1"
        out[name] = {
            "bytes": int(statistics.mean(len(d) for d in items)),
            "redact_us": mask,
            "validate_without_us": base,
            "ratio": mask / base,
        }
    return out


def hook_runs(runs: int, workdir: pathlib.Path, bin_dir: pathlib.Path) -> dict[str, Any]:
    """Interleaved process timings of the hook with and without masking."""
    workdir.mkdir(parents=True)
    (workdir / "tmp").mkdir()
    env = _child_env(workdir)
    off = {**env, "AGENT_JOURNAL_REDACT": "0"}
    python, journal = str(bin_dir / "python"), str(bin_dir / "journal")
    inputs = workdir / "inputs"
    inputs.mkdir()
    plain = []
    for i, data in enumerate(make_payloads(3 * runs + 8)):
        path = inputs / f"{i}.json"
        path.write_bytes(data)
        plain.append(str(path))
    secret = []
    for i, data in enumerate(make_payloads(runs + 2, seed=11)):
        value = json.loads(data)
        value["tool_input"] = {"command": SECRET_TEXT + f" # {i}"}
        path = inputs / f"s{i}.json"
        path.write_bytes(json.dumps(value).encode())
        secret.append(str(path))
    empty = inputs / "empty"
    empty.write_bytes(b"")
    home = str(workdir / "home")
    LmdbJournal(home).close()
    feed, feed_secret = iter(plain), iter(secret)
    commands: dict[str, tuple[Callable[[], tuple[list[str], str]], dict[str, str]]] = {
        "python_c_pass": (lambda: ([python, "-c", "pass"], str(empty)), env),
        "hook_masking": (
            lambda: ([journal, "--home", home, "hook", "claude-code"], next(feed)),
            env,
        ),
        "hook_masking_off": (
            lambda: ([journal, "--home", home, "hook", "claude-code"], next(feed)),
            off,
        ),
        "hook_masking_a_secret": (
            lambda: ([journal, "--home", home, "hook", "claude-code"], next(feed_secret)),
            env,
        ),
    }
    names = list(commands)
    for name in names:
        make, child_env = commands[name]
        _run_group([make()], child_env)
    timings: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in names}
    for i in range(runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            make, child_env = commands[name]
            wall, cpu = _run_group([make()], child_env)
            timings[name][0].extend(wall)
            timings[name][1].extend(cpu)
    with LmdbJournal(home) as journal_:
        stats = journal_.stats()
    summary = {name: _summary(t) for name, t in timings.items()}
    base = summary["python_c_pass"]["p50"]
    return {
        "runs": runs,
        "ms": summary,
        "ratio_p50": {name: s["p50"] / base for name, s in summary.items()},
        "masking_over_off_p50": summary["hook_masking"]["p50"] / summary["hook_masking_off"]["p50"],
        "records": stats.records,
        "redacted": stats.redacted,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="runs of each hook variant")
    parser.add_argument("--venv", type=pathlib.Path, help="reuse or keep the clean venv here")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"machine": machine(), "per_payload": per_payload()}
    with tempfile.TemporaryDirectory(prefix="bench-redact-") as tmp:
        workdir = pathlib.Path(tmp)
        venv = args.venv.resolve() if args.venv else workdir / "venv"
        bin_dir = venv / "bin"
        if not (bin_dir / "journal").exists():
            bin_dir = build_venv(venv, workdir / "build")
        report["hook"] = hook_runs(args.runs, workdir / "run", bin_dir)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("per payload (µs, median):")
    for name, row in report["per_payload"].items():
        print(
            f"  {name:<30}{row['bytes']:>9} B  redact {row['redact_us']:>9.1f}  "
            f"validate w/o {row['validate_without_us']:>9.1f}  ratio {row['ratio']:.3f}"
        )
    hook = report["hook"]
    print(f"hook, {hook['runs']} runs each, interleaved (ms):")
    for name, s in hook["ms"].items():
        print(
            f"  {name:<24}p50 {s['p50']:>7.1f}  p90 {s['p90']:>7.1f}  "
            f"×pass {hook['ratio_p50'][name]:.2f}"
        )
    print(f"masking / masking off, p50: {hook['masking_over_off_p50']:.3f}")
    print(f"records {hook['records']}, redacted {hook['redacted']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
