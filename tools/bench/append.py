"""Benchmark appends against their baselines, in one run, on the same payloads.

Measures what docs/performance.md reports and DESIGN §6 sets targets for:

- **single append process**: wall time of one ``journal --home H append --source
  claude-code`` process (payload on stdin, durable commit, exit) against ``python -c
  pass`` on the same interpreter (and ``python -S -c pass``, the bare start without
  ``site``); runs interleaved, median and p90 of each.
- **batched append**: ``LmdbJournal.append_batch`` of M payloads in one transaction
  against (a) raw LMDB sequential puts of the same bytes in one transaction, (b)
  SQLite in WAL mode with ``synchronous=FULL`` (sha256 + INSERT of seq, digest,
  payload in one transaction), (c) JSON Lines written and fsynced once. Each rep
  uses fresh files; systems are interleaved (order rotated) and the median reported.
- **storage**: the journal's used bytes (``stats().bytes``) against the JSON Lines file.

Payloads are real Claude Code hook events from ``shared/fixtures``, re-threaded into
sessions with fresh ids, commands and output so that every payload is distinct
(no dedup helps the journal), compact JSON as Claude Code sends it.

    .venv/bin/python tools/bench/append.py [--records N] [--runs N] [--reps N] [--json]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import pathlib
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import lmdb

from journal.store import DEFAULT_MAP_SIZE, LmdbJournal

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "fixtures"
JOURNAL_BIN = str(pathlib.Path(sys.executable).with_name("journal"))

# One session's hook events in the order Claude Code fires them; the Bash pair repeats.
SESSION_HEAD = ["SessionStart_startup", "UserPromptSubmit"]
TOOL_PAIR = ["PreToolUse_Bash", "PostToolUse_Bash"]
SESSION_TAIL = [
    "PostToolUse_Edit_structuredPatch",
    "PostToolUse_Write_create",
    "SubagentStart",
    "SubagentStop",
    "Notification_idle_prompt",
    "Stop",
    "UserPromptSubmit",
    "PreCompact_auto",
    "Stop",
    "SessionEnd_prompt_input_exit",
]
BASH_PAIRS_PER_SESSION = 8
COMMANDS = [
    "pytest tests/test_{w}.py -q -x",
    "git diff --stat HEAD~{n}",
    "ls -la src/{w}",
    "rg -n 'def {w}' src tests",
    "python -m {w} --check",
    "git log --oneline -n {n} -- src/{w}.py",
    "cat src/{w}/__init__.py | head -n {n}",
]
WORDS = ["store", "payload", "wire", "digest", "home", "views", "runs", "steps", "costs"]
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# -- payloads ------------------------------------------------------------------------


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _load_templates() -> dict[str, dict[str, Any]]:
    templates: dict[str, dict[str, Any]] = {}
    for path in sorted(FIXTURES.glob("claude-code__acf__*.json")):
        event: dict[str, Any] = json.loads(path.read_text())
        event.pop("logged_at", None)  # added by the logger, not by Claude Code
        templates[path.stem.removeprefix("claude-code__acf__")] = event
    if not templates:
        raise SystemExit(f"no claude-code fixtures under {FIXTURES}")
    return templates


def _session_order() -> list[str]:
    return SESSION_HEAD + TOOL_PAIR * BASH_PAIRS_PER_SESSION + SESSION_TAIL


def make_payloads(count: int, seed: int = 7) -> list[bytes]:
    """Return ``count`` distinct, compact Claude Code hook payloads (deterministic)."""
    rng = random.Random(seed)
    templates = _load_templates()
    order = _session_order()
    out: list[bytes] = []
    session = ""
    tool_use_id = ""
    command = ""
    for i in range(count):
        position = i % len(order)
        if position == 0:
            session = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        name = order[position]
        event = json.loads(json.dumps(templates[name]))  # a deep copy
        old = event["session_id"]
        event["session_id"] = session
        for field in ("transcript_path", "agent_transcript_path"):
            if field in event:
                event[field] = event[field].replace(old, session)
        if "tool_use_id" in event:
            if name != "PostToolUse_Bash":  # a Post shares its Pre's id
                tool_use_id = "toolu_01" + "".join(rng.choices(BASE62, k=22))
            event["tool_use_id"] = tool_use_id
        if name == "PreToolUse_Bash":
            template = rng.choice(COMMANDS)
            command = template.format(w=rng.choice(WORDS), n=rng.randint(1, 40))
        if name.endswith("_Bash"):
            event["tool_input"]["command"] = command
            event["tool_input"]["description"] = f"Run {command.split()[0]} (step {i})"
        if name == "PostToolUse_Bash":
            lines = [f"{rng.choice(WORDS)}_{rng.randint(0, 999)}.py" for _ in range(4)]
            event["tool_response"]["stdout"] = "\n".join(lines)
        if "agent_id" in event:
            event["agent_id"] = "".join(rng.choices("0123456789abcdef", k=7))
        if name == "UserPromptSubmit":
            event["prompt"] = f"{event['prompt']} (take {i})"
        if name == "Stop":
            event["stop_hook_active"] = position > len(order) // 2
            event["turn"] = i  # two Stops of a session would otherwise be identical
        out.append(_compact(event))
    if len(set(out)) != len(out):
        raise AssertionError("payloads must be distinct")
    return out


# -- helpers -------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _timed(work: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _used_bytes(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- single append process -----------------------------------------------------------


def bench_process(payloads: list[bytes], runs: int, workdir: pathlib.Path) -> dict[str, Any]:
    """Time ``journal append`` processes against ``python -c pass``, interleaved.

    The subprocesses get a bytecode cache in ``workdir`` (as a user's install has
    one), whatever ``PYTHONDONTWRITEBYTECODE`` says here. ``python -S -c pass`` (no
    ``site``, so no venv ``.pth`` files) is timed too, as the bare interpreter start.
    """
    home = str(workdir / "process-home")
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(workdir / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    commands = {
        "journal_append": [JOURNAL_BIN, "--home", home, "append", "--source", "claude-code"],
        "python_c_pass": [sys.executable, "-c", "pass"],
        "python_S_c_pass": [sys.executable, "-S", "-c", "pass"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}

    def run(name: str, data: bytes) -> None:
        start = time.perf_counter()
        subprocess.run(commands[name], input=data, stdout=subprocess.DEVNULL, env=env, check=True)
        times[name].append(time.perf_counter() - start)

    # The journal exists before timing (a hook's normal case); every command warms up.
    names = list(commands)
    for name in names:
        run(name, payloads[0])
        times[name].clear()
    for i in range(runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            run(name, payloads[i + 1] if name == "journal_append" else b"")
    with LmdbJournal(home) as journal:
        appended = journal.stats().records
    if appended != runs + 1:
        raise AssertionError(f"expected {runs + 1} records, found {appended}")
    ms = {
        name: {"p50": statistics.median(t) * 1e3, "p90": _percentile(t, 0.9) * 1e3}
        for name, t in times.items()
    }
    ratio = {q: ms["journal_append"][q] / ms["python_c_pass"][q] for q in ("p50", "p90")}
    ratio_bare = {q: ms["journal_append"][q] / ms["python_S_c_pass"][q] for q in ("p50", "p90")}
    return {"runs": runs, "ms": ms, "ratio": ratio, "ratio_to_python_S": ratio_bare}


# -- batched appends -----------------------------------------------------------------


def run_journal(payloads: list[bytes], where: pathlib.Path) -> tuple[float, int]:
    """append_batch in a fresh home; return (seconds, used bytes per stats())."""
    return _run_journal(payloads, where, parallel=None)


def run_journal_serial(payloads: list[bytes], where: pathlib.Path) -> tuple[float, int]:
    """append_batch without the validation worker (parallel=False), for comparison."""
    return _run_journal(payloads, where, parallel=False)


def _run_journal(
    payloads: list[bytes], where: pathlib.Path, parallel: bool | None
) -> tuple[float, int]:
    with LmdbJournal(str(where)) as journal:

        def work() -> None:
            results = journal.append_batch(payloads, source="claude-code", parallel=parallel)
            if len(results) != len(payloads):
                raise AssertionError("append_batch lost items")

        seconds = _timed(work)
        used = journal.stats().bytes
    return seconds, used


def _in_lmdb(where: pathlib.Path, work: Callable[[lmdb.Environment], None]) -> tuple[float, int]:
    """Time ``work`` on a fresh environment; return (seconds, bytes of pages in use)."""
    env = lmdb.open(str(where), map_size=DEFAULT_MAP_SIZE, max_dbs=8, mode=0o600)
    try:
        seconds = _timed(lambda: work(env))
        used = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    finally:
        env.close()
    return seconds, used


def run_raw_lmdb(payloads: list[bytes], where: pathlib.Path) -> tuple[float, int]:
    """Sequential ``append=True`` puts under 8-byte big-endian keys, one transaction."""

    def work(env: lmdb.Environment) -> None:
        db = env.open_db(b"log")
        with env.begin(write=True) as txn:
            put = txn.cursor(db=db).put
            for seq, payload in enumerate(payloads, 1):
                if not put(seq.to_bytes(8, "big"), payload, append=True):
                    raise AssertionError("raw put refused")

    return _in_lmdb(where, work)


def run_sqlite(payloads: list[bytes], where: pathlib.Path) -> tuple[float, int]:
    """SQLite WAL, synchronous=FULL: sha256 + INSERT (seq, digest, payload), one txn."""
    where.mkdir()
    conn = sqlite3.connect(where / "events.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, digest BLOB NOT NULL, "
            "payload BLOB NOT NULL)"
        )

        def rows() -> Iterator[tuple[int, bytes, bytes]]:
            sha = hashlib.sha256
            for seq, payload in enumerate(payloads, 1):
                yield seq, sha(payload).digest(), payload

        def work() -> None:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO events VALUES (?, ?, ?)", rows())
            conn.execute("COMMIT")

        seconds = _timed(work)
    finally:
        conn.close()
    return seconds, _used_bytes(where)


PER_EVENT_SAMPLE = 10_000


def run_sqlite_per_event(payloads: list[bytes], where: pathlib.Path) -> tuple[float, int]:
    """SQLite WAL as the hook collectors use it: one INSERT, one commit per event.

    synchronous=NORMAL (the usual WAL setting: no fsync per commit). Timed on the
    first ``PER_EVENT_SAMPLE`` payloads and scaled to the whole batch, so the bench
    stays short; the rate is what matters.
    """
    sample = payloads[:PER_EVENT_SAMPLE]
    where.mkdir()
    conn = sqlite3.connect(where / "events.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, digest BLOB NOT NULL, "
            "payload BLOB NOT NULL)"
        )

        def work() -> None:
            sha = hashlib.sha256
            insert = conn.execute
            for seq, payload in enumerate(sample, 1):
                insert("INSERT INTO events VALUES (?, ?, ?)", (seq, sha(payload).digest(), payload))

        seconds = _timed(work) * len(payloads) / len(sample)
    finally:
        conn.close()
    return seconds, _used_bytes(where)


def run_floor(payloads: list[bytes], where: pathlib.Path) -> tuple[float, int]:
    """The work every record needs, each step already one C call, and nothing else.

    Per record: whole-chunk validation (``validate_many``), SHA-256 of the payload,
    SHA-256 of a 120-byte record, and one digest-index insert (``putmulti``), with the
    raw payload put of the baseline. No chain bookkeeping, segments, results or
    Python glue: a lower bound on what a content-addressed, hash-chained, validated
    log costs here, to read the journal's figure against.
    """
    from journal import payload as journal_payload

    record = bytes(120)

    def work(env: lmdb.Environment) -> None:
        log, index = env.open_db(b"log"), env.open_db(b"blobs")
        sha = hashlib.sha256
        with env.begin(write=True) as txn:
            put = txn.cursor(db=log).put
            for start in range(0, len(payloads), 4096):
                chunk = payloads[start : start + 4096]
                journal_payload.validate_many(chunk)
                digests = [sha(p).digest() for p in chunk]
                for _ in chunk:
                    sha(record).digest()
                txn.cursor(db=index).putmulti(
                    [(d, start.to_bytes(8, "big")) for d in digests], overwrite=False
                )
                for seq, p in enumerate(chunk, start + 1):
                    put(seq.to_bytes(8, "big"), p, append=True)

    return _in_lmdb(where, work)


def run_jsonl(payloads: list[bytes], where: pathlib.Path) -> tuple[float, int]:
    """Each payload and a newline written to one file, fsynced once at the end."""
    where.mkdir()
    path = where / "events.jsonl"

    def work() -> None:
        with open(path, "wb") as out:
            write = out.write
            for payload in payloads:
                write(payload)
                write(b"\n")
            out.flush()
            os.fsync(out.fileno())

    seconds = _timed(work)
    return seconds, path.stat().st_size


SYSTEMS: dict[str, Callable[[list[bytes], pathlib.Path], tuple[float, int]]] = {
    "journal": run_journal,
    "journal_serial": run_journal_serial,
    "raw_lmdb": run_raw_lmdb,
    "floor": run_floor,
    "sqlite_wal": run_sqlite,
    "sqlite_wal_per_event": run_sqlite_per_event,
    "jsonl": run_jsonl,
}


def bench_batch(payloads: list[bytes], reps: int, workdir: pathlib.Path) -> dict[str, Any]:
    """Run every system ``reps`` times on fresh files, rotating the order each rep."""
    # Warm-up: import msgspec and OpenSSL once, outside the timings.
    with LmdbJournal(str(workdir / "warmup")) as journal:
        journal.append_batch(payloads[:100], source="claude-code")
    shutil.rmtree(workdir / "warmup")
    names = list(SYSTEMS)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    sizes: dict[str, int] = {}
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            where = workdir / f"{name}-{rep}"
            took, used = SYSTEMS[name](payloads, where)
            seconds[name].append(took)
            sizes[name] = used
            shutil.rmtree(where)
    rate = {name: len(payloads) / statistics.median(seconds[name]) for name in names}
    return {
        "records": len(payloads),
        "reps": reps,
        "records_per_s": rate,
        "seconds": seconds,
        "ratio": {
            "journal_to_raw_lmdb": rate["journal"] / rate["raw_lmdb"],
            "journal_to_sqlite_wal": rate["journal"] / rate["sqlite_wal"],
            "journal_to_sqlite_wal_per_event": rate["journal"] / rate["sqlite_wal_per_event"],
            "journal_serial_to_raw_lmdb": rate["journal_serial"] / rate["raw_lmdb"],
            "floor_to_raw_lmdb": rate["floor"] / rate["raw_lmdb"],
        },
        "storage_bytes": sizes,
        "storage_ratio_journal_to_jsonl": sizes["journal"] / sizes["jsonl"],
    }


# -- report --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Describe where the figures come from."""
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "lmdb": ".".join(map(str, lmdb.version())),
        "sqlite": sqlite3.sqlite_version,
        "revision": _revision(),
        "loadavg_1m_at_start": os.getloadavg()[0],
    }


def _revision() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def render(report: dict[str, Any]) -> str:
    """The human-readable table."""
    m, p, b = report["machine"], report["process"], report["batch"]
    mean = report["payload_mean_bytes"]
    rate, size = b["records_per_s"], b["storage_bytes"]
    to_raw, to_sqlite = b["ratio"]["journal_to_raw_lmdb"], b["ratio"]["journal_to_sqlite_wal"]
    lines = [
        f"machine: {m['nproc']} cpus, Python {m['python']}, LMDB {m['lmdb']}, "
        f"SQLite {m['sqlite']}, {m['platform']}, revision {m['revision']}, "
        f"load average {m['loadavg_1m_at_start']:.2f} at start",
        f"payloads: {b['records']} distinct Claude Code hook events, mean {mean:.0f} bytes",
        "",
        f"single append process ({p['runs']} runs each, interleaved)   p50 ms    p90 ms",
        f"  journal append --source claude-code            "
        f"{p['ms']['journal_append']['p50']:>8.1f}  {p['ms']['journal_append']['p90']:>8.1f}",
        f"  python -c pass (same venv interpreter)         "
        f"{p['ms']['python_c_pass']['p50']:>8.1f}  {p['ms']['python_c_pass']['p90']:>8.1f}",
        f"  python -S -c pass (no site: bare start)        "
        f"{p['ms']['python_S_c_pass']['p50']:>8.1f}  {p['ms']['python_S_c_pass']['p90']:>8.1f}",
        f"  journal / python -c pass                       "
        f"{p['ratio']['p50']:>7.2f}x  {p['ratio']['p90']:>7.2f}x",
        f"  journal / python -S -c pass                    "
        f"{p['ratio_to_python_S']['p50']:>7.2f}x  {p['ratio_to_python_S']['p90']:>7.2f}x",
        "",
        f"batched append, {b['records']} records in one transaction "
        f"(median of {b['reps']} reps)   records/s",
        f"  journal append_batch                           {rate['journal']:>12,.0f}",
        f"  journal append_batch, no worker (serial)       {rate['journal_serial']:>12,.0f}",
        f"  raw LMDB put(append=True)                      {rate['raw_lmdb']:>12,.0f}",
        f"  floor: validate + 2 SHA-256 + index + raw put  {rate['floor']:>12,.0f}",
        f"  SQLite WAL synchronous=FULL, sha256 + INSERT   {rate['sqlite_wal']:>12,.0f}",
        f"  SQLite WAL as collectors use it (commit/event) {rate['sqlite_wal_per_event']:>12,.0f}",
        f"  JSON Lines, one fsync                          {rate['jsonl']:>12,.0f}",
        f"  journal / raw LMDB                             {to_raw:>12.2f}",
        f"  journal serial / raw LMDB                      "
        f"{b['ratio']['journal_serial_to_raw_lmdb']:>12.2f}",
        f"  floor / raw LMDB                               "
        f"{b['ratio']['floor_to_raw_lmdb']:>12.2f}",
        f"  journal / SQLite WAL, one transaction          {to_sqlite:>11.2f}x",
        f"  journal / SQLite WAL, commit per event         "
        f"{b['ratio']['journal_to_sqlite_wal_per_event']:>11.2f}x",
        "",
        "storage                                                bytes",
        f"  journal (stats().bytes)                        {size['journal']:>12,}",
        f"  raw LMDB (used pages)                          {size['raw_lmdb']:>12,}",
        f"  SQLite WAL (db + wal files)                    {size['sqlite_wal']:>12,}",
        f"  JSON Lines file                                {size['jsonl']:>12,}",
        f"  journal / JSON Lines                           "
        f"{b['storage_ratio_journal_to_jsonl']:>11.2f}x",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse options, run both benchmarks, print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000, help="batch size (100000)")
    parser.add_argument("--runs", type=int, default=40, help="append processes timed (40)")
    parser.add_argument("--reps", type=int, default=5, help="batch repetitions (5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.records < 100 or args.runs < 1 or args.reps < 1:
        parser.error("--records must be >= 100, --runs and --reps >= 1")
    info = machine()  # before the work, so the load average is the background load
    payloads = make_payloads(max(args.records, args.runs + 1))
    batch_payloads = payloads[: args.records]
    with tempfile.TemporaryDirectory(prefix="journal-bench-") as tmp:
        workdir = pathlib.Path(tmp)
        process = bench_process(payloads, args.runs, workdir)
        batch = bench_batch(batch_payloads, args.reps, workdir)
    report = {
        "command": " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "machine": info,
        "payload_mean_bytes": sum(map(len, batch_payloads)) / len(batch_payloads),
        "process": process,
        "batch": batch,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
