"""Concurrent appenders and readers across real processes (Jepsen-style checks).

Invariants 1 (gap-free seqs in commit order), 5 (idempotent keys) and 6 (readers see
prefixes) under real contention: many processes, each with its own LMDB environment
handle, append at once while another process polls the log. The checker is the one
from Jepsen's queue workloads: no lost acknowledged append, no duplicate, no two
records at one seq, per-writer order kept, readers never skip and never go back.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import pathlib
import subprocess
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN, REPO

pytestmark = pytest.mark.slow

SHARED_KEY = "shared:first-event"
SHARED_PAYLOAD = b'{"hook_event_name":"SessionStart","shared":true}'


def _payload(wid: int, n: int, **extra: object) -> bytes:
    body: dict[str, object] = {"writer": wid, "n": n, "hook_event_name": "mp"}
    body.update(extra)
    return json.dumps(body, separators=(",", ":")).encode()


def _key(wid: int, n: int) -> str:
    return f"w{wid}:{n}"


# -- checkers shared by the library and the CLI variants --------------------------------


def check_prefix(
    snapshot: Sequence[tuple[int, str, str]], seen: list[str], last_k: int
) -> list[str]:
    """Check one poll: ``(seq, record_digest, prev_digest)`` rows must be a prefix.

    ``seen`` holds the record digests of every earlier poll (index = seq - 1) and is
    extended in place; a record seen before must never change.
    """
    errors: list[str] = []
    seqs = [row[0] for row in snapshot]
    if seqs != list(range(1, len(seqs) + 1)):
        errors.append(f"poll is not 1..k: starts {seqs[:5]}, len {len(seqs)}")
        return errors
    if len(seqs) < last_k:
        errors.append(f"poll went back: {len(seqs)} records after {last_k}")
    prev = "0" * 64
    for seq, record_digest, prev_digest in snapshot:
        if prev_digest != prev:
            errors.append(f"seq {seq}: prev_digest does not link to seq {seq - 1}")
            break
        if seq <= len(seen) and seen[seq - 1] != record_digest:
            errors.append(f"seq {seq} changed between polls")
            break
        prev = record_digest
    seen.extend(row[1] for row in snapshot[len(seen) :])
    return errors


def check_log(
    rows: Sequence[tuple[int, str, dict[str, Any]]],
    acks: Iterable[tuple[str, int, int, int, str, bool]],
    writers: int,
    per_writer: int,
) -> None:
    """Check the final log ``(seq, digest, payload)`` against every acknowledgement.

    Acks are ``(tag, seq, writer, n, digest, duplicate)``; tag ``A`` is a first
    append, ``D`` a keyed retry (must return the original), ``S`` the shared key.
    """
    total = writers * per_writer + 1
    seqs = [row[0] for row in rows]
    assert seqs == list(range(1, total + 1)), "seqs are not exactly 1..N"
    by_seq = {seq: (digest, payload) for seq, digest, payload in rows}
    firsts: dict[tuple[int, int], tuple[int, str]] = {}
    shared: set[int] = set()
    retries = []
    for tag, seq, wid, n, digest, duplicate in acks:
        if tag == "S":
            shared.add(seq)
            continue
        if tag == "D":
            retries.append((seq, wid, n, digest, duplicate))
            continue
        assert not duplicate, f"first append of {(wid, n)} reported duplicate"
        assert (wid, n) not in firsts, f"{(wid, n)} acknowledged twice"
        firsts[(wid, n)] = (seq, digest)
        stored_digest, payload = by_seq[seq]
        assert stored_digest == digest, f"seq {seq}: digest differs from the ack"
        assert (payload["writer"], payload["n"]) == (wid, n), f"seq {seq} holds {payload}"
    # Every acknowledged append is there; together they are every record but one.
    assert len(firsts) == writers * per_writer
    assert len({seq for seq, _ in firsts.values()}) == len(firsts), "two acks at one seq"
    # The racing appends of one shared key made exactly one record, and all saw it.
    assert len(shared) == 1, f"shared key landed at {sorted(shared)}"
    (shared_seq,) = shared
    assert by_seq[shared_seq][1] == json.loads(SHARED_PAYLOAD)
    assert shared_seq not in {seq for seq, _ in firsts.values()}
    # Keyed retries returned the original seq and digest, and wrote nothing.
    assert retries, "no duplicate-key retries were made"
    for seq, wid, n, digest, duplicate in retries:
        assert duplicate, f"retry of {(wid, n)} was not reported as duplicate"
        assert (seq, digest) == firsts[(wid, n)], f"retry of {(wid, n)} got another seq"
    # Each writer's own order is kept: its seqs increase with its counter.
    for wid in range(writers):
        mine = [firsts[(wid, n)][0] for n in range(per_writer)]
        assert mine == sorted(mine), f"writer {wid}'s appends are out of order"


def _read_acks(path: pathlib.Path) -> list[tuple[str, int, int, int, str, bool]]:
    out = []
    for line in path.read_text().splitlines():
        tag, seq, wid, n, digest, dup = line.split()
        out.append((tag, int(seq), int(wid), int(n), digest, dup == "1"))
    return out


# -- (a) through the library, in spawned processes ---------------------------------------


def lib_writer(
    home: str,
    wid: int,
    count: int,
    ack_path: str,
    ready: Any,
    go: Any,
) -> None:
    """Append ``count`` payloads, logging each acknowledgement after it returns."""
    journal = LmdbJournal(home)  # opened in this process, after start
    try:
        ready.put(wid)
        if not go.wait(120):
            raise RuntimeError("never released")
        with open(ack_path, "w", encoding="ascii") as ack:

            def note(tag: str, res: Any, w: int, n: int) -> None:
                ack.write(f"{tag} {res.seq} {w} {n} {res.digest} {int(res.duplicate)}\n")

            # Every writer races to append the same keyed event: one record in total.
            note("S", journal.append(SHARED_PAYLOAD, source="shared", key=SHARED_KEY), -1, -1)
            for n in range(count):
                res = journal.append(_payload(wid, n), source=f"w{wid}", key=_key(wid, n))
                note("A", res, wid, n)
                if n % 25 == 24:  # a retry of an earlier append with the same bytes
                    m = n - 10
                    again = _payload(wid, m)
                    note("D", journal.append(again, source=f"w{wid}", key=_key(wid, m)), wid, m)
                if n % 100 == 50:  # a retry whose bytes differ: the key still wins
                    m = n - 1
                    again = _payload(wid, m, retry=True)
                    note("D", journal.append(again, source=f"w{wid}", key=_key(wid, m)), wid, m)
    finally:
        journal.close()


def lib_reader(home: str, stop: Any, result_path: str) -> None:
    """Poll ``read()`` until told to stop; record every prefix violation."""
    journal = LmdbJournal(home)
    seen: list[str] = []
    errors: list[str] = []
    polls, last_k, checked = 0, 0, 0
    try:
        while True:
            final = stop.is_set()
            records = list(journal.read())
            polls += 1
            rows = [(r.seq, r.record_digest, r.prev_digest) for r in records]
            errors += check_prefix(rows, seen, last_k)
            for record in records[checked:]:  # each payload still hashes to its digest
                if hashlib.sha256(record.payload).hexdigest() != record.digest:
                    errors.append(f"seq {record.seq}: payload does not hash to digest")
            checked = max(checked, len(records))
            last_k = max(last_k, len(records))
            if final or len(errors) > 20:
                break
    finally:
        journal.close()
        result = {"polls": polls, "last_k": last_k, "errors": errors}
        pathlib.Path(result_path).write_text(json.dumps(result))


def test_library_writers_in_eight_processes(
    home: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 spawned processes x 500 appends, with keyed retries and a polling reader."""
    writers, per_writer = 8, 500
    monkeypatch.syspath_prepend(str(REPO))  # spawned children import this module
    LmdbJournal(home).close()
    ctx = multiprocessing.get_context("spawn")
    ready, go, stop = ctx.Queue(), ctx.Event(), ctx.Event()
    acks = [tmp_path / f"acks-{w}.txt" for w in range(writers)]
    result_path = tmp_path / "reader.json"
    reader = ctx.Process(target=lib_reader, args=(home, stop, str(result_path)))
    procs = [
        ctx.Process(target=lib_writer, args=(home, w, per_writer, str(acks[w]), ready, go))
        for w in range(writers)
    ]
    reader.start()
    for proc in procs:
        proc.start()
    try:
        for _ in range(writers):  # every writer has its env open: release them at once
            ready.get(timeout=120)
        go.set()
        for proc in procs:
            proc.join(300)
        assert [p.exitcode for p in procs] == [0] * writers
    finally:
        stop.set()
        reader.join(120)
        for proc in [*procs, reader]:
            if proc.is_alive():
                proc.kill()
                proc.join()
        ready.close()
        ready.join_thread()
    assert reader.exitcode == 0
    result = json.loads(result_path.read_text())
    assert result["errors"] == []
    assert result["polls"] >= 2
    assert result["last_k"] == writers * per_writer + 1

    with LmdbJournal(home) as journal:
        records = list(journal.read())
        rows = [(r.seq, r.digest, json.loads(r.payload)) for r in records]
        check_log(rows, [a for path in acks for a in _read_acks(path)], writers, per_writer)
        keys = [r.key for r in records]
        assert len(set(keys)) == len(keys), "an idempotency key was used twice"
        assert journal.head() == writers * per_writer + 1
        report = journal.verify()
        assert report.ok, report.problem
        assert report.head_seq == writers * per_writer + 1
        assert journal.stats().records == writers * per_writer + 1


# -- (b) through the real CLI, one process per append ------------------------------------


def _cli(home: str, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [JOURNAL_BIN, "--home", home, *args], input=data, capture_output=True, timeout=120
    )


def _cli_append(home: str, data: bytes, key: str, source: str) -> Any:
    done = _cli(home, "append", "--source", source, "--key", key, "--json", data=data)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    return json.loads(done.stdout)


def test_cli_appends_from_eight_concurrent_writers(home: str) -> None:
    """8 writers x 160 ``journal append`` processes, with keyed retries and a reader.

    Every append is a fresh interpreter, so this is among the slowest tests; it checks
    that the real command keeps the guarantees the library test checks (with 8 x 500
    appends from spawned processes, above). 160 per writer still gives each writer
    eight keyed retries racing the others and the reader dozens of polls, at a third
    of the cost that made it the largest single share of CI. The home does not exist
    beforehand, so the first appends also race to create the environment.
    """
    writers, per_writer = 8, 160
    stop = threading.Event()

    def writer(wid: int) -> list[tuple[str, int, int, int, str, bool]]:
        acks = []

        def note(tag: str, out: Any, w: int, n: int) -> None:
            acks.append((tag, out["seq"], w, n, out["digest"], out["duplicate"]))

        for n in range(per_writer):
            note("A", _cli_append(home, _payload(wid, n), _key(wid, n), f"w{wid}"), wid, n)
            if n == 0:
                note("S", _cli_append(home, SHARED_PAYLOAD, SHARED_KEY, "shared"), -1, -1)
            if n % 20 == 19:
                m = n - 7
                again = _payload(wid, m) if n % 40 == 19 else _payload(wid, m, retry=True)
                note("D", _cli_append(home, again, _key(wid, m), f"w{wid}"), wid, m)
        return acks

    def reader() -> tuple[int, int, list[str]]:
        seen: list[str] = []
        errors: list[str] = []
        polls, last_k = 0, 0
        while True:
            final = stop.is_set()
            done = _cli(home, "log", "--json")
            if done.returncode != 0:
                errors.append(f"log failed: {done.stderr.decode()!r}")
                return polls, last_k, errors
            lines = [json.loads(line) for line in done.stdout.splitlines()]
            rows = [(d["seq"], d["record_digest"], d["prev_digest"]) for d in lines]
            errors += check_prefix(rows, seen, last_k)
            polls += 1
            last_k = max(last_k, len(rows))
            if final or errors:
                return polls, last_k, errors
            stop.wait(0.3)  # leave the two cores to the writers between polls

    with ThreadPoolExecutor(max_workers=writers + 1) as pool:
        polling = pool.submit(reader)
        futures = [pool.submit(writer, w) for w in range(writers)]
        try:
            acks = [a for f in futures for a in f.result()]
        finally:
            stop.set()
        polls, last_k, errors = polling.result()
    assert errors == []
    assert polls >= 2
    assert last_k == writers * per_writer + 1

    done = _cli(home, "log", "--json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    check_log([(d["seq"], d["digest"], d["payload"]) for d in lines], acks, writers, per_writer)
    verify = _cli(home, "verify")
    assert verify.returncode == 0, verify.stderr
    verify_json = json.loads(_cli(home, "verify", "--json").stdout)
    assert verify_json["ok"] is True
    assert verify_json["head_seq"] == writers * per_writer + 1
