"""kill -9 crash loops: acknowledged appends survive any process crash (invariant 2).

Writers append through the library in a loop and note every acknowledged append in
an ack file (one ``write(2)`` per line, only after ``append`` returned); a long-lived
reader keeps the environment open and reads throughout. Every round SIGKILLs the
writers at a random moment. Afterwards a fresh :class:`LmdbJournal` must open (its
open runs ``reader_check()``), ``verify()`` must pass, seqs must be dense, and every
acknowledged record must be present with its payload. A writer can leave at most one
committed-but-unacknowledged record (the append it was killed after): the reason
idempotency keys exist.

SIGKILL keeps the OS page cache, so this tests process crashes, not power loss
(``shared/reference/event-store.md`` §6.6).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO, cast

import lmdb
import pytest

from journal.store import DEFAULT_MAP_SIZE, MAX_READERS, LmdbJournal
from tests.conftest import JOURNAL_BIN, lmdb_verify

pytestmark = pytest.mark.slow

ROUNDS = 20
ATTEMPTS = 5  # batch runs: one to the end, then four killed
SHARED = b'{"hook_event_name":"Stop","stop_hook_active":false}'

# A writer: append forever; ack each append after it returns; a read now and then.
WRITER = r"""
import json, os, sys
from journal.store import LmdbJournal

home, ack_path, tag = sys.argv[1], sys.argv[2], sys.argv[3]
shared = sys.argv[4].encode()
journal = LmdbJournal(home)
fd = os.open(ack_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
sys.stdout.write("ready\n")
sys.stdout.flush()
n = 0
while True:
    if n % 5 == 4:  # byte-identical payloads share one blob
        data = shared
    else:
        body = {"writer": tag, "n": n, "pad": "x" * (n % 300)}
        data = json.dumps(body, separators=(",", ":")).encode()
    res = journal.append(data, source="crash", key=f"{tag}:{n}")
    os.write(fd, f"{res.seq} {tag} {n} {res.digest}\n".encode())
    if n % 7 == 0:
        journal.head()
    n += 1
"""

# Holds the environment open without reading or running reader_check(), so that the
# lock file (and the slots dead processes left in it) outlives every other process.
HOLDER = r"""
import sys, time
import lmdb
from journal.store import DEFAULT_MAP_SIZE, MAX_READERS

env = lmdb.open(sys.argv[1], map_size=DEFAULT_MAP_SIZE, max_dbs=8, max_readers=MAX_READERS)
sys.stdout.write("ready\n")
sys.stdout.flush()
time.sleep(3600)
"""

# The long-lived reader: holds the env open and one read transaction pinned, reads new
# records in a loop, and checks that it only ever sees a growing, linked prefix;
# problems go to its error file.
READER = r"""
import hashlib, os, sys
from journal.store import LmdbJournal

home, err_path = sys.argv[1], sys.argv[2]
journal = LmdbJournal(home)
fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
sys.stdout.write("ready\n")
sys.stdout.flush()
position, prev, polls = 0, "0" * 64, 0
pin = None
while True:
    if polls % 20 == 0:  # a snapshot held across many polls, renewed now and then
        old, pin = pin, journal._env.begin()  # never without one: always in the table
        if old is not None:
            old.abort()
    for record in journal.read(after=position):
        problem = None
        if record.seq != position + 1:
            problem = f"skipped from {position} to {record.seq}"
        elif record.prev_digest != prev:
            problem = f"seq {record.seq} does not link to the record before"
        elif hashlib.sha256(record.payload).hexdigest() != record.digest:
            problem = f"seq {record.seq}: payload does not hash to its digest"
        if problem:
            os.write(fd, (problem + "\n").encode())
            sys.exit(1)
        position, prev = record.seq, record.record_digest
    polls += 1
    if polls % 10 == 0 and journal.head() < position:
        os.write(fd, b"head went back\n")
        sys.exit(1)
"""


@dataclass
class Acks:
    """Every acknowledged append so far: key -> (seq, payload digest)."""

    by_key: dict[str, tuple[int, str]] = field(default_factory=dict)
    writers: set[str] = field(default_factory=set)

    def load(self, path: pathlib.Path) -> None:
        if not path.exists():
            return
        text = path.read_text()
        lines = text.split("\n")[:-1]  # a line without its newline was never written
        for line in lines:
            seq, tag, n, digest = line.split()
            self.by_key[f"{tag}:{n}"] = (int(seq), digest)
            self.writers.add(tag)


def _start(src: str, *args: str, log: pathlib.Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-c", src, *args], stdout=subprocess.PIPE, stderr=stderr
        )


def _wait_ready(proc: subprocess.Popen[bytes], log: pathlib.Path) -> None:
    line = cast(IO[bytes], proc.stdout).readline()
    assert line == b"ready\n", log.read_text()


def _kill(proc: subprocess.Popen[bytes], log: pathlib.Path) -> None:
    alive = proc.poll() is None
    proc.kill()
    proc.wait(30)
    cast(IO[bytes], proc.stdout).close()
    assert alive, f"process {proc.pid} died before it was killed: {log.read_text()}"
    assert proc.returncode == -signal.SIGKILL


def _check(home: str, acks: Acks, seed: int) -> int:
    """Open fresh, verify, and find every acknowledged append; return head."""
    with LmdbJournal(home) as journal:
        report = journal.verify()
        assert report.ok, f"seed {seed}: {report.problem} at seq {report.first_bad_seq}"
        records = list(journal.read())
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert len(records) == report.head_seq == journal.head()
    by_key = {r.key: r for r in records}
    assert len(by_key) == len(records), "an idempotency key is on two records"
    for key, (seq, digest) in acks.by_key.items():
        record = records[seq - 1]
        assert record.key == key, f"seed {seed}: ack {key} at seq {seq} found {record.key}"
        assert record.digest == digest
        assert hashlib.sha256(record.payload).hexdigest() == digest
        tag, n = key.rsplit(":", 1)
        if int(n) % 5 == 4:
            assert record.payload == SHARED
        else:
            assert json.loads(record.payload)["writer"] == tag
            assert json.loads(record.payload)["n"] == int(n)
    # Committed but never acknowledged: at most the one append each writer was
    # killed after, and it must be exactly the next one it would have acked.
    extra: dict[str, list[int]] = {}
    for unacked in by_key.keys() - acks.by_key.keys():
        assert unacked is not None
        writer, count = unacked.rsplit(":", 1)
        extra.setdefault(writer, []).append(int(count))
    for writer, ns in extra.items():
        acked = [int(k.rsplit(":", 1)[1]) for k in acks.by_key if k.rsplit(":", 1)[0] == writer]
        assert ns == [max(acked, default=-1) + 1], f"writer {writer}: unacked records {ns}"
    return len(records)


def _reader_pids(env: lmdb.Environment) -> set[int]:
    return {int(m.group(1)) for m in re.finditer(r"^\s*(\d+)\s", env.readers(), re.M)}


def test_kill_9_writers_and_reader_loses_no_acknowledged_append(
    home: str, tmp_path: pathlib.Path
) -> None:
    seed = int(os.environ.get("CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    LmdbJournal(home).close()
    acks = Acks()
    logs = tmp_path / "logs"
    logs.mkdir()
    reader_err = tmp_path / "reader.err"
    reader_log = logs / "reader.log"
    reader_err.write_text("")
    holder_log = logs / "holder.log"
    holder = _start(HOLDER, os.path.join(home, "log"), log=holder_log)
    _wait_ready(holder, holder_log)
    reader = _start(READER, home, str(reader_err), log=reader_log)
    _wait_ready(reader, reader_log)
    heads = []
    started = [holder, reader]
    try:
        for rnd in range(ROUNDS + 1):
            final = rnd == ROUNDS
            writers = []
            for w in range(rng.choice((2, 3))):
                tag = f"r{rnd}w{w}"
                log = logs / f"{tag}.log"
                args = (home, str(tmp_path / f"{tag}.ack"), tag, SHARED.decode())
                writers.append((tag, log, _start(WRITER, *args, log=log)))
                started.append(writers[-1][2])
            early = None
            if rnd % 4 == 1:  # one more, killed wherever it is: start, open, first append
                tag = f"r{rnd}early"
                log = logs / f"{tag}.log"
                args = (home, str(tmp_path / f"{tag}.ack"), tag, SHARED.decode())
                early = (tag, log, _start(WRITER, *args, log=log))
                started.append(early[2])
                time.sleep(rng.uniform(0.0, 0.15))
                early[2].kill()
                early[2].wait(30)
                cast(IO[bytes], early[2].stdout).close()
            for _tag, log, proc in writers:
                _wait_ready(proc, log)
            time.sleep(rng.uniform(0.2, 0.6))  # after start-up: they are appending now
            for _tag, log, proc in writers:
                _kill(proc, log)
            killed = {proc.pid for _tag, _log, proc in writers}
            if early:
                killed.add(early[2].pid)
            if final:  # the reader dies too, inside its pinned read transaction
                _kill(reader, reader_log)
                assert reader_err.read_text() == ""
                _reclaim_stale_readers(home, killed, reader.pid)
            else:
                _reclaim_stale_readers(home, killed, None)
            for tag, _log, _proc in [*writers, *([early] if early else [])]:
                acks.load(tmp_path / f"{tag}.ack")
            heads.append(_check(home, acks, seed))
            assert reader_err.read_text() == "", f"reader saw: {reader_err.read_text()}"
            assert reader.poll() is None or final, f"reader died: {reader_log.read_text()}"
    finally:
        for proc in started:  # whatever is still running after a failure
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
            cast(IO[bytes], proc.stdout).close()
    assert heads == sorted(heads)
    assert len(acks.by_key) > ROUNDS, f"seed {seed}: too few appends to mean anything"
    lmdb_verify(home)


def _reclaim_stale_readers(home: str, killed: set[int], dead_reader: int | None) -> None:
    """Slots of killed processes are reclaimed by ``reader_check()`` (what open runs).

    A live process (the holder) keeps the lock file from being reset, so the slots
    the killed processes held are still in the table when this looks.
    """
    path = os.path.join(home, "log")
    env = lmdb.open(path, map_size=DEFAULT_MAP_SIZE, max_dbs=8, max_readers=MAX_READERS)
    try:
        before = _reader_pids(env)
        if dead_reader is not None:
            # A py-lmdb reader keeps its slot between transactions until it exits.
            assert dead_reader in before, env.readers()
            killed = killed | {dead_reader}
        cleared = env.reader_check()
        assert cleared >= len(killed & before)
        assert not killed & _reader_pids(env), env.readers()
    finally:
        env.close()
    with LmdbJournal(home) as journal:  # opening runs reader_check() and reads work
        assert journal.head() >= 1
        assert journal.get(1).seq == 1


def _batch_lines(tag: str, count: int) -> bytes:
    body = (
        json.dumps(
            {"hook_event_name": "PostToolUse", "batch": tag, "n": n, "pad": "y" * 300},
            separators=(",", ":"),
        )
        for n in range(count)
    )
    return ("\n".join(body) + "\n").encode()


def test_kill_9_during_batch_append_is_all_or_nothing(home: str, tmp_path: pathlib.Path) -> None:
    """``journal append --batch`` killed mid-flight leaves all of the batch or none."""
    seed = int(os.environ.get("CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    count = 20_000
    with LmdbJournal(home) as journal:
        journal.append(b'{"before":true}', source="setup")
    head = 1
    outcomes = []
    elapsed = 0.0
    for attempt in range(ATTEMPTS):
        tag = f"b{attempt}"
        feed = tmp_path / f"{tag}.jsonl"
        feed.write_bytes(_batch_lines(tag, count))
        started = time.monotonic()
        with open(feed, "rb") as stdin:
            proc = subprocess.Popen(
                [JOURNAL_BIN, "--home", home, "append", "--batch", "--key", tag, "--source", "b"],
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own group: a forked helper dies with it
            )
        if attempt == 0:  # the first runs to the end: how long a whole batch takes
            proc.wait(300)
            elapsed = time.monotonic() - started
            assert proc.returncode == 0
        else:  # the others die anywhere from start-up to after the commit
            time.sleep(rng.uniform(0.3, 1.4) * elapsed)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(60)
        stderr = cast(IO[bytes], proc.stderr).read()
        cast(IO[bytes], proc.stderr).close()
        assert b"Traceback" not in stderr
        with LmdbJournal(home) as journal:
            report = journal.verify()
            assert report.ok, f"seed {seed}: {report.problem}"
            new = list(journal.read(after=head))
            assert journal.quarantined() == []
        assert len(new) in (0, count), f"seed {seed}: a partial batch of {len(new)} landed"
        if new:
            assert [r.seq for r in new] == list(range(head + 1, head + count + 1))
            assert [json.loads(r.payload)["n"] for r in new] == list(range(count))
            assert {r.key for r in new} == {f"{tag}:{n}" for n in range(1, count + 1)}
        outcomes.append(bool(new))
        head += len(new)
    # Retrying every batch with its key completes the killed ones and adds nothing twice.
    for attempt in range(1, ATTEMPTS):
        tag = f"b{attempt}"
        with open(tmp_path / f"{tag}.jsonl", "rb") as stdin:
            done = subprocess.run(
                [JOURNAL_BIN, "--home", home, "append", "--batch", "--key", tag, "--source", "b"],
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=300,
            )
        assert done.returncode == 0, done.stderr
    with LmdbJournal(home) as journal:
        assert journal.head() == 1 + ATTEMPTS * count, f"outcomes {outcomes}"
        assert journal.verify().ok
