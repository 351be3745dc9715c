"""No command waits on a dead writer (issue 16, DESIGN §2 "platforms without robust
mutexes"), shown on the default build.

On Linux's default build LMDB's write lock is a robust mutex, so a writer killed
inside its transaction cannot leave it taken. What a process that holds LMDB's lock
without taking turns looks like to everyone else is the same, though: a raw LMDB
writer that stays alive inside a transaction. With a dead writer's pid in
``writer.lock`` besides, every writer must read it as macOS's stale lock. The real
thing, in macOS's lock mode, is in ``tests/posixsem``.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from journal import writelock
from journal.cli.follow import tail
from journal.errors import LockedError, StoreError
from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN

ANSWER_S = 10.0  # "answered, did not hang": generous on a loaded machine
BUDGET_MS = 500

# Holds LMDB's own write lock, never taking a turn: alive, so on every build it looks
# like a dead writer's lock does on macOS.
RAW_HOLDER = r"""
import sys, lmdb
env = lmdb.open(sys.argv[1], max_dbs=16, map_size=1 << 30)
txn = env.begin(write=True)
print("held", flush=True)
sys.stdin.read()
"""

# Takes a turn the way the journal's writers do, and keeps it.
TURN_HOLDER = r"""
import sys
from journal.store import LmdbJournal
def work(w):
    print("held", flush=True)
    sys.stdin.read()
LmdbJournal(sys.argv[1]).write(work)
"""

# A journal writer that stops inside its write transaction, to be killed there.
IN_WRITE = r"""
import os, signal, sys
from journal.store import LmdbJournal
def work(w):
    print("in-txn", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)
LmdbJournal(sys.argv[1]).write(work)
"""

EVENT = b'{"hook_event_name":"PreToolUse","session_id":"s","tool_use_id":"toolu_1"}'


def _start(script: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line in ("held", "in-txn"), line
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


@pytest.fixture
def journal_home(home: str) -> str:
    """A journal with two records."""
    with LmdbJournal(home) as journal:
        journal.append(b'{"hook_event_name":"Stop","n":1}', source="claude-code")
        journal.append(b'{"hook_event_name":"Stop","n":2}', source="claude-code")
    return home


@pytest.fixture
def raw_holder(journal_home: str) -> Iterator[subprocess.Popen[str]]:
    """A process inside a raw LMDB write transaction on the log."""
    proc = _start(RAW_HOLDER, os.path.join(journal_home, "log"))
    yield proc
    _stop(proc)


def _cli(home: str, *args: str, data: bytes = b"", **env: str) -> tuple[int, str, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, *args],
        input=data,
        capture_output=True,
        timeout=ANSWER_S + 30,
        env={**os.environ, **env},
        check=False,
    )
    took = time.monotonic() - started
    return done.returncode, done.stdout.decode(), done.stderr.decode(), took


def _mark_dead_writer(home: str, pid: int = 999_999) -> None:
    """What a journal writer killed inside its transaction leaves in writer.lock."""
    path = os.path.join(home, "log", writelock.LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, b"%15d\n" % pid, 0)
    finally:
        os.close(fd)


def _within(seconds: float, call: Callable[[], object]) -> object:
    """``call()``'s result, failing the test if it has not returned in ``seconds``."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # re-raised in the test's thread
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"did not return within {seconds} s"
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


# -- reads never take the write lock --------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["log", "--json"], ["stats", "--json"], ["verify"], ["show", "1"], ["log", "--quarantine"]],
    ids=lambda a: " ".join(a),
)
def test_queries_answer_while_the_write_lock_is_held(
    journal_home: str, raw_holder: subprocess.Popen[str], args: list[str]
) -> None:
    """The log commands open the log read-only: a held write lock cannot make them wait."""
    code, out, err, took = _cli(journal_home, *args)
    assert (code, err) == (0, ""), err
    assert took < ANSWER_S
    if args == ["log", "--json"]:
        assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2]


def test_a_read_only_journal_reads_while_the_write_lock_is_held(
    journal_home: str, raw_holder: subprocess.Popen[str]
) -> None:
    """LmdbJournal(readonly=True) opens its databases without a write transaction."""

    def read() -> tuple[int, int, bool]:
        with LmdbJournal(journal_home, readonly=True) as journal:
            return journal.head(), len(list(journal.read())), journal.verify().ok

    assert _within(ANSWER_S, read) == (2, 2, True)


def test_a_read_only_open_creates_a_new_home_and_refuses_writes(home: str) -> None:
    """A home that does not exist yet is created, then read; writing it read-only fails."""
    with LmdbJournal(home, readonly=True) as journal:
        assert journal.readonly
        assert journal.head() == 0
        with pytest.raises(StoreError, match="opened read-only"):
            journal.append(b"{}")
    with LmdbJournal(home) as journal:
        assert journal.append(b"{}").seq == 1
    with LmdbJournal(home, readonly=True) as journal:
        assert journal.head() == 1


# -- writers give up in bounded time -----------------------------------------------------


def test_append_gives_up_on_a_busy_turn_with_one_line(journal_home: str) -> None:
    """Another writer keeps its turn: append exits 1 after the timeout, one line, no traceback."""
    holder = _start(TURN_HOLDER, journal_home)
    try:
        code, out, err, took = _cli(
            journal_home, "append", data=EVENT, AGENT_JOURNAL_LOCK_TIMEOUT="1"
        )
    finally:
        _stop(holder)
    assert code == 1
    assert out == ""
    assert err == "Error: could not write the journal: other writers kept it busy for 1 s\n"
    assert 1 <= took < ANSWER_S


def test_append_gives_up_on_a_lock_held_outside_the_turns(
    journal_home: str, raw_holder: subprocess.Popen[str]
) -> None:
    """LMDB's lock held by a process that takes no turn: append gives up at the timeout."""
    code, _, err, took = _cli(journal_home, "append", data=EVENT, AGENT_JOURNAL_LOCK_TIMEOUT="1")
    assert code == 1
    assert err.startswith("Error: the write lock of the journal is held by a process that does")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert took < ANSWER_S


def test_a_dead_writers_mark_makes_writers_give_up_at_once(
    journal_home: str, raw_holder: subprocess.Popen[str]
) -> None:
    """writer.lock names a dead writer and LMDB's lock is taken: the stale lock of macOS.
    append fails long before its timeout; the next writer does not even open the log
    while another process has it open; the hook spools within its budget."""
    _mark_dead_writer(journal_home, 4242)
    code, _, err, took = _cli(journal_home, "append", data=EVENT, AGENT_JOURNAL_LOCK_TIMEOUT="60")
    assert code == 1
    assert err == (
        "Error: the write lock of the journal is held by process 4242, which died inside "
        "a write transaction; it comes free once no process has the journal open\n"
    )
    assert took < ANSWER_S
    with pytest.raises(LockedError, match="process 4242"):
        writelock.refuse_if_stale(os.path.join(journal_home, "log"), "the journal")
    env = {"AGENT_JOURNAL_HOOK_BUDGET_MS": str(BUDGET_MS)}
    code, out, err, took = _cli(journal_home, "hook", "claude-code", data=EVENT, **env)
    assert (code, out, err) == (0, "", "")
    assert took < BUDGET_MS / 1000 + ANSWER_S
    assert len(list(pathlib.Path(journal_home, "spool").glob("*.spool"))) == 1
    assert "died inside a write transaction" in pathlib.Path(journal_home, "hook.log").read_text()


def test_a_journal_that_met_a_dead_writers_lock_is_wedged_until_it_comes_free(
    journal_home: str,
) -> None:
    """In one process: the write fails fast, the journal is wedged (no write begins,
    close keeps the environment its helper waits in), and once LMDB's lock comes free
    the helper returns and the same journal writes again, clearing the record."""
    journal = LmdbJournal(journal_home)
    holder = _start(RAW_HOLDER, os.path.join(journal_home, "log"))
    try:
        _mark_dead_writer(journal_home, 4242)
        with pytest.raises(LockedError, match="process 4242, which died"):
            _within(ANSWER_S, lambda: journal.append(EVENT))
        assert journal.wedged
        with pytest.raises(LockedError, match="process 4242"):
            journal.append(EVENT)  # at once: no second helper
        journal.close()
        assert journal.head() == 2, "close() closed a wedged environment"
    finally:
        _stop(holder)
    deadline = time.monotonic() + ANSWER_S
    while journal.wedged and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not journal.wedged
    assert _within(ANSWER_S, lambda: journal.append(EVENT).seq) == 3
    journal.close()
    writelock.refuse_if_stale(os.path.join(journal_home, "log"), "the journal")
    assert writelock.marked(os.path.join(journal_home, "log")) is None


def test_once_the_lock_is_free_the_next_writer_clears_the_dead_mark(journal_home: str) -> None:
    """A dead writer's mark with LMDB's lock free (killed before its begin, or after its
    commit): the next writer tests the lock, writes, and clears the mark."""
    _mark_dead_writer(journal_home, 4242)
    log = os.path.join(journal_home, "log")
    assert writelock.marked(log) == 4242
    with LmdbJournal(journal_home) as journal:
        assert journal.append(EVENT).seq == 3
    assert writelock.marked(log) is None
    writelock.refuse_if_stale(log, "the journal")  # nothing recorded: no refusal


@pytest.mark.slow
def test_a_writer_killed_inside_its_transaction_leaves_its_pid(journal_home: str) -> None:
    """SIGKILL inside write(): its pid stays in writer.lock, nothing of it lands, and the
    next writer (robust mutex: the lock is free) appends and clears the mark."""
    proc = _start(IN_WRITE, journal_home)
    try:
        proc.kill()
        proc.wait(timeout=30)
    finally:
        _stop(proc)
    log = os.path.join(journal_home, "log")
    assert writelock.marked(log) == proc.pid
    code, out, err, _ = _cli(journal_home, "append", data=EVENT)
    assert (code, err) == (0, ""), err
    assert out.startswith("3 ")
    assert writelock.marked(log) is None
    with LmdbJournal(journal_home, readonly=True) as journal:
        assert journal.verify().ok


def test_open_elsewhere_sees_other_processes_with_the_log_open(journal_home: str) -> None:
    """The gap test: LMDB's fcntl lock on lock.mdb tells whether another process has it open."""
    lock = os.path.join(journal_home, "log", "lock.mdb")
    if sys.platform not in ("linux", "darwin"):
        pytest.skip("struct flock layout known for Linux and macOS only")
    assert not writelock._open_elsewhere(lock)
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from journal.store import LmdbJournal\n"
            "j = LmdbJournal(sys.argv[1], readonly=True); print('held', flush=True)\n"
            "sys.stdin.read()",
            journal_home,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "held"
        assert writelock._open_elsewhere(lock)
    finally:
        _stop(reader)
    assert not writelock._open_elsewhere(lock)


# -- the hook's guard ----------------------------------------------------------------------


def test_the_guard_waits_for_the_transaction_in_flight_then_refuses_more(home: str) -> None:
    """WriteGuard.stop returns only once the write in flight has ended; later writes
    are refused (write returns None) so that the hook never exits inside one."""
    guard = writelock.WriteGuard()
    inside, release = threading.Event(), threading.Event()
    journal = LmdbJournal(home, lock_timeout=None, guard=guard)
    try:

        def work(_w: object) -> str:
            inside.set()
            release.wait(ANSWER_S)
            return "done"

        results: list[object] = []
        writer = threading.Thread(target=lambda: results.append(journal.write(work)))
        writer.start()
        assert inside.wait(ANSWER_S)
        assert not guard.stop(0.2), "stop returned while the transaction was in flight"
        release.set()
        assert guard.stop(ANSWER_S)
        writer.join(ANSWER_S)
        assert results == ["done"]
        assert journal.write(lambda _w: "late") is None
    finally:
        journal.close()
    with LmdbJournal(home, readonly=True) as journal:
        assert journal.head() == 0


# -- long-lived readers do not keep the log open ----------------------------------------


def test_tail_closes_the_log_before_it_yields(journal_home: str) -> None:
    """log --follow's loop opens the log per poll and never yields with it open."""
    with LmdbJournal(journal_home) as journal:
        journal.append_batch([b'{"n":%d}' % n for n in range(1200)])
    opened: list[LmdbJournal] = []

    def open_journal() -> LmdbJournal:
        journal = LmdbJournal(journal_home, readonly=True)
        opened.append(journal)
        return journal

    seen = []
    for record in tail(open_journal, 0, lambda r: True):
        assert all(_is_closed(j) for j in opened)
        seen.append(record.seq)
        if len(seen) == 1202:
            break
    assert seen == list(range(1, 1203))
    assert len(opened) >= 3  # 512 records per opening


def _is_closed(journal: LmdbJournal) -> bool:
    try:
        journal._env.info()
    except Exception:
        return True
    return False


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_log_follow_keeps_the_log_closed_while_idle(journal_home: str) -> None:
    """A running ``log --follow`` has lock.mdb open only for its polls, and still prints
    what lands meanwhile."""
    follow = subprocess.Popen(
        [JOURNAL_BIN, "--home", journal_home, "log", "--follow", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        assert [json.loads(follow.stdout.readline())["seq"] for _ in range(2)] == [1, 2]
        lock = os.path.realpath(os.path.join(journal_home, "log", "lock.mdb"))
        open_samples = 0
        for _ in range(20):
            fds = pathlib.Path(f"/proc/{follow.pid}/fd")
            open_samples += any(os.path.realpath(fd) == lock for fd in fds.iterdir())
            time.sleep(0.05)
        assert open_samples <= 5, f"lock.mdb open in {open_samples} of 20 samples"
        code, _, err, _ = _cli(journal_home, "append", data=EVENT)
        assert code == 0, err
        assert json.loads(follow.stdout.readline())["seq"] == 3
    finally:
        follow.send_signal(signal.SIGINT)
        try:
            follow.wait(timeout=10)
        finally:
            _stop_follow(follow)


def _stop_follow(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


# -- the views ----------------------------------------------------------------------------


def test_queries_give_up_when_the_views_lock_is_held_outside_the_turns(journal_home: str) -> None:
    """A projector holding the views' LMDB lock without a turn: a query exits 1 within
    its timeout with one line, and answers again once it is gone."""
    code, _, err, _ = _cli(journal_home, "projections", "--json")
    assert code == 0, err  # creates the views
    holder = _start(RAW_HOLDER, os.path.join(journal_home, "views"))
    try:
        code, _, err, took = _cli(
            journal_home, "projections", "--json", AGENT_JOURNAL_LOCK_TIMEOUT="1"
        )
    finally:
        _stop(holder)
    assert code == 1
    assert err.startswith("Error: the write lock of the views is held by a process that does")
    assert err.count("\n") == 1
    assert took < ANSWER_S
    code, out, err, _ = _cli(journal_home, "projections", "--json")
    assert code == 0, err
    assert {row["head"] for row in json.loads(out)} == {2}


def test_a_bad_lock_timeout_is_a_usage_error(journal_home: str) -> None:
    """AGENT_JOURNAL_LOCK_TIMEOUT must be a number of seconds: exit 2 otherwise."""
    code, _, err, _ = _cli(journal_home, "append", data=EVENT, AGENT_JOURNAL_LOCK_TIMEOUT="soon")
    assert code == 2
    assert "AGENT_JOURNAL_LOCK_TIMEOUT='soon' is not a number of seconds" in err


def test_the_opencode_stream_exits_when_its_open_journal_meets_a_dead_writers_lock(
    journal_home: str,
) -> None:
    """A long-lived stream whose open journal meets the stale lock spools and
    acknowledges its batch, then exits by itself while its input is still open: staying
    would keep the log open and the journal from ever healing (the plugin re-sends the
    rest to a new stream)."""
    holder = None
    with subprocess.Popen(
        [JOURNAL_BIN, "--home", journal_home, "hook", "opencode", "--stream"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "AGENT_JOURNAL_HOOK_BUDGET_MS": str(BUDGET_MS)},
    ) as stream:
        assert stream.stdin is not None
        assert stream.stdout is not None
        try:
            for n in (1, 2):
                if n == 2:  # the journal is open in the stream: a writer dies in its txn
                    holder = _start(RAW_HOLDER, os.path.join(journal_home, "log"))
                    _mark_dead_writer(journal_home, 4343)
                event = b'{"id":"evt_%d","type":"session.idle","properties":{}}' % n
                stream.stdin.write(b"d%d\t%s\n" % (n, event))
                stream.stdin.flush()
                assert stream.stdout.readline() == b"d%d\n" % n
            assert stream.wait(timeout=BUDGET_MS / 1000 + ANSWER_S) == 0
        finally:
            stream.kill()
            if holder is not None:
                _stop(holder)
    assert len(list(pathlib.Path(journal_home, "spool").glob("*.spool"))) == 1
    with LmdbJournal(journal_home, readonly=True) as journal:
        assert [r.kind for r in journal.read()][-1] == "session.idle"
