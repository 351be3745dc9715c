"""LMDB's POSIX-semaphore lock mode (macOS), on Linux: a killed writer's lock stays held.

``tools/lmdb_posix_sem.py`` builds py-lmdb with ``MDB_USE_POSIX_SEM`` (what ``mdb.c``
picks on ``__APPLE__``) and a cached virtualenv with the project installed from this
tree. Everything here runs as subprocesses in that venv, with a timeout on each, so a
lock that is never released fails a test instead of hanging the suite.

- Raw LMDB: a writer SIGKILLed inside a write transaction while another process keeps
  the environment open blocks the next writer; once every process has closed it, the
  next first open resets the lock and a writer commits (DESIGN §2, event-store §3.3).
  The stock robust-mutex build is the control: there the next writer just proceeds.
- The journal through its CLI (DESIGN §2, §3; issue 16), writers killed inside their
  write transaction both as the journal's own writers (which take turns on
  ``writer.lock``) and as raw LMDB writers (which do not):

  - with ``log --follow`` running, the hooks of the next seconds exit 0 within their
    budget and reach the log while follow still runs and prints them, no query hangs,
    and after a drain every event is in the log exactly once;
  - while another process keeps the log open (so the lock stays stale), hooks spool
    within budget, queries answer, ``append`` fails in bounded time with one line;
    once nothing holds it, the next hook lands and drains;
  - killed hooks leave at most the log's two named semaphores;
  - a projector killed inside its views transaction never hangs a query.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import JOURNAL_BIN, REPO
from tools.lmdb_posix_sem import SEM_DIR, ensure_venv, semaphores

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="the semaphore build is for Linux"),
]

BUDGET_MS = 300
# A hook's whole run: interpreter start and imports, then at most the budget.
HOOK_SLACK_S = 2.0
BLOCKED_S = 2.0  # a writer still waiting after this long is blocked
ANSWER_S = 10.0  # "answered, did not hang", generous on a loaded machine
SPOOLED_HOOKS = 4

# Holds the environment open; on "close"/"open" lines closes or reopens it.
HOLDER = r"""
import sys, lmdb
path = sys.argv[1]
env = lmdb.open(path, map_size=1 << 24)
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "close":
        env.close()
    else:
        env = lmdb.open(path, map_size=1 << 24)
    print("done", flush=True)
"""

# Begins a write transaction, writes into it, says so and waits to be killed.
STUCK = r"""
import sys, time, lmdb
env = lmdb.open(sys.argv[1], map_size=1 << 24)
txn = env.begin(write=True)
txn.put(b"stuck", b"never committed")
print("in-txn", flush=True)
time.sleep(3600)
"""

WRITER = r"""
import sys, lmdb
env = lmdb.open(sys.argv[1], map_size=1 << 24)
with env.begin(write=True) as txn:
    txn.put(b"key", sys.argv[2].encode())
print("committed", flush=True)
"""

READ = r"""
import json, sys, lmdb
env = lmdb.open(sys.argv[1], map_size=1 << 24)
with env.begin() as txn:
    print(json.dumps(sorted(bytes(k).decode() for k in txn.cursor().iternext(values=False))))
"""

# The journal's own store, stuck in a write transaction on its environment. The
# attribute holding the environment is found by type, so a refactor of the store
# does not silently turn this into a writer that holds nothing.
STUCK_JOURNAL = r"""
import os, signal, sys, lmdb
from journal.store import LmdbJournal
journal = LmdbJournal(sys.argv[1])
found = [getattr(journal, "_env", None), *getattr(journal, "__dict__", {}).values()]
env = next(e for e in found if isinstance(e, lmdb.Environment))
txn = env.begin(write=True)
print("in-txn", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
"""


@pytest.fixture(scope="session")
def venv() -> pathlib.Path:
    """The cached venv: this tree installed, lmdb built with MDB_USE_POSIX_SEM."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"building py-lmdb needs a C compiler ({cc})")
    return ensure_venv(REPO)


def _env(tmp_path: pathlib.Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_JOURNAL_")}
    env["TMPDIR"] = str(tmp_path)  # the hook's fallback spool
    return env


def _start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=10)


def _tell(holder: subprocess.Popen[str], command: str) -> None:
    assert holder.stdin is not None
    holder.stdin.write(command + "\n")
    holder.stdin.flush()
    assert _line(holder) == "done"


def _kill_in_txn(python: str, path: str, script: str = STUCK) -> None:
    """Run ``script`` until it is inside a write transaction, then SIGKILL it."""
    stuck = _start([python, "-c", script, path])
    try:
        assert _line(stuck) == "in-txn", stuck.communicate(timeout=10)[1]
        os.kill(stuck.pid, signal.SIGKILL)
        stuck.wait(timeout=10)
    finally:
        _stop(stuck)


def _write(python: str, path: str, value: str) -> subprocess.Popen[str]:
    return _start([python, "-c", WRITER, path, value])


def _committed(writer: subprocess.Popen[str], timeout: float) -> bool:
    try:
        out, err = writer.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    assert writer.returncode == 0, err
    return out.strip() == "committed"


def _keys(python: str, path: str) -> list[str]:
    done = subprocess.run(
        [python, "-c", READ, path], capture_output=True, text=True, timeout=30, check=True
    )
    keys: list[str] = json.loads(done.stdout)
    return keys


def test_the_venv_locks_with_posix_semaphores(venv: pathlib.Path):
    """Opening an env in the venv makes /MDBr and /MDBw semaphores; closing removes them."""
    report = json.loads((venv / ".ready").read_text())
    for engine, seen in report["engines"].items():
        kinds = sorted(name[len("sem.") : len("sem.MDBx")] for name in seen["while_open"])
        assert kinds == ["MDBr", "MDBw"], engine
        assert seen["after_close"] == [], engine


def test_raw_lmdb_killed_writer_blocks_writers_until_every_process_closes(
    venv: pathlib.Path, tmp_path: pathlib.Path
):
    """Semaphore mode: a writer killed mid-txn blocks the next one until all have closed."""
    python = str(venv / "bin" / "python")
    path = str(tmp_path / "env")
    os.mkdir(path)
    holder = _start([python, "-c", HOLDER, path])
    blocked = None
    try:
        assert _line(holder) == "ready"
        _kill_in_txn(python, path)
        blocked = _write(python, path, "while-held")
        assert not _committed(blocked, BLOCKED_S), "the killed writer's lock was released"
        # Reopening does not heal while any other process (the blocked writer) has it open.
        _tell(holder, "close")
        _tell(holder, "open")
        assert not _committed(blocked, BLOCKED_S)
        _stop(blocked)
        # Now the holder's reopen is the first open: it resets the lock file.
        _tell(holder, "close")
        _tell(holder, "open")
        assert _committed(_write(python, path, "after-reset"), 30)
    finally:
        for proc in (holder, blocked):
            if proc is not None:
                _stop(proc)
    assert _keys(python, path) == ["key"], "the killed writer's put must not have landed"


def test_raw_lmdb_robust_mutex_build_recovers_at_once(tmp_path: pathlib.Path):
    """The control: with the stock (robust mutex) build the next writer just proceeds."""
    python = sys.executable
    path = str(tmp_path / "env")
    os.mkdir(path)
    holder = _start([python, "-c", HOLDER, path])
    try:
        assert _line(holder) == "ready"
        _kill_in_txn(python, path)
        assert _committed(_write(python, path, "at-once"), 30)
    finally:
        _stop(holder)


def test_semaphores_leak_only_when_the_last_opener_dies(venv: pathlib.Path, tmp_path: pathlib.Path):
    """Per env: two named semaphores, removed by the last close, left by a killed last opener."""
    python = str(venv / "bin" / "python")
    path = str(tmp_path / "env")
    os.mkdir(path)
    before = semaphores()
    holder = _start([python, "-c", HOLDER, path])
    try:
        assert _line(holder) == "ready"
        mine = semaphores() - before
        assert len(mine) == 2
        _kill_in_txn(python, path)  # a writer dying while others have it open adds none
        assert semaphores() - before == mine
        holder.kill()
        holder.wait(timeout=10)
        assert semaphores() - before == mine, "a killed last opener leaves both behind"
        # The next first open unlinks and recreates them; its close removes them.
        assert _committed(_write(python, path, "reset"), 30)
        assert not (semaphores() - before)
    finally:
        _stop(holder)
        for name in semaphores() - before:
            (pathlib.Path("/dev/shm") / name).unlink(missing_ok=True)


# -- the journal, through its CLI ------------------------------------------------------

# A journal writer stopped inside its write transaction (in LmdbJournal.write), to be
# killed there: it took its turn, so its pid stays in writer.lock.
IN_WRITE = r"""
import os, signal, sys
from journal.store import LmdbJournal
def work(w):
    print("in-txn", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)
LmdbJournal(sys.argv[1]).write(work)
"""

# A projector (a query catching the views up) stopped inside its write transaction.
IN_VIEWS_WRITE = r"""
import os, signal, sys
from journal.store import LmdbJournal
from projections.engine import Views
views = Views(LmdbJournal(sys.argv[1], readonly=True))
with views._writers.transaction():
    print("in-txn", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)
"""

# Keeps an environment of the journal open (as a long-lived process that does not
# reopen per unit of work would), so that a stale lock stays stale until told.
OPEN_HOLDER = r"""
import sys, lmdb
env = lmdb.open(sys.argv[1], max_dbs=128, map_size=1 << 36, readonly=True)
print("ready", flush=True)
sys.stdin.read()
"""

KILLED_WRITERS = {"journal writer": IN_WRITE, "raw LMDB writer": STUCK_JOURNAL}


def _event(n: int, run: str) -> dict[str, object]:
    return {
        "session_id": f"posixsem-{run}",
        "transcript_path": "",
        "cwd": "/tmp",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": f"echo {n}"},
        "tool_use_id": f"toolu_posixsem_{run}_{n}",
    }


@dataclass
class Hooked:
    """One ``journal hook`` run: its event, exit code, output and wall time."""

    event: dict[str, object]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def ok(self) -> None:
        """Exit 0, silent, within its budget (plus interpreter start-up)."""
        assert self.returncode == 0, self.stderr
        assert self.stdout == ""
        assert self.stderr == ""
        assert self.seconds < BUDGET_MS / 1000 + HOOK_SLACK_S, self.seconds


class Follower:
    """A running ``journal log --follow --json`` and the records it has printed."""

    def __init__(self, journal: str, home: str, env: dict[str, str]) -> None:
        self.proc = _start([journal, "--home", home, "log", "--follow", "--json"], env)
        self.printed: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.printed.append(json.loads(line))

    def seqs(self) -> list[int]:
        with self._lock:
            return [r["seq"] for r in self.printed]

    def wait_for(self, count: int, timeout: float = ANSWER_S) -> list[int]:
        """The printed seqs once there are ``count`` of them (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while len(self.seqs()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.seqs()

    def stop(self) -> None:
        """Interrupt it (as Ctrl-C would); it must still have been running."""
        running = self.proc.poll() is None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        assert running, "log --follow died"


@dataclass
class Journal:
    """The journal of this tree in a fresh home, and whether its lmdb locks with
    POSIX semaphores (``posix_sem``: a killed writer's lock stays taken)."""

    journal: str
    python: str
    home: str
    tag: str
    env: dict[str, str]
    posix_sem: bool

    def run(
        self, *args: str, timeout: float = 30, data: str = "", **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.journal, "--home", self.home, *args],
            input=data,
            capture_output=True,
            text=True,
            env={**self.env, **env},
            timeout=timeout,
        )

    def hook(self, event: dict[str, object]) -> Hooked:
        env = {**self.env, "AGENT_JOURNAL_HOOK_BUDGET_MS": str(BUDGET_MS)}
        started = time.monotonic()
        done = subprocess.run(
            [self.journal, "--home", self.home, "hook", "claude-code"],
            input=json.dumps(event),
            capture_output=True,
            text=True,
            env=env,
            timeout=BUDGET_MS / 1000 + 30,
        )
        return Hooked(event, done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def seed(self, count: int) -> list[dict[str, object]]:
        events = [_event(n, self.tag) for n in range(count)]
        for event in events:
            done = self.run("append", "--source", "claude-code", data=json.dumps(event))
            assert done.returncode == 0, done.stderr
        return events

    def kill_in_write(self, script: str, path: str | None = None) -> None:
        _kill_in_txn(self.python, path or self.home, script)

    def hold_open(self, env_dir: str) -> subprocess.Popen[str]:
        holder = _start([self.python, "-c", OPEN_HOLDER, os.path.join(self.home, env_dir)])
        assert _line(holder) == "ready"
        return holder

    def spooled(self) -> int:
        return len(list(pathlib.Path(self.home, "spool").glob("*.spool")))

    def logged(self) -> list[dict[str, Any]]:
        done = self.run("log", "--json", timeout=ANSWER_S)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    def exactly_once(self, events: list[dict[str, object]]) -> None:
        """Every event is in the log once, seqs are dense, and verify passes."""
        records = self.logged()
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        ids = [r["payload"]["tool_use_id"] for r in records]
        assert sorted(ids) == sorted(str(e["tool_use_id"]) for e in events)
        verified = self.run("verify", timeout=ANSWER_S)
        assert verified.returncode == 0, verified.stderr
        assert verified.stdout.startswith("ok: ")


@pytest.fixture(params=["posix-sem", "robust-mutex"])
def journal(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Journal:
    """The journal in the semaphore venv (macOS's locking), and the same tests against
    the dev venv's stock lmdb (Linux's robust mutexes) as the control."""
    if request.param == "posix-sem":
        venv: pathlib.Path = request.getfixturevalue("venv")
        programs = str(venv / "bin" / "journal"), str(venv / "bin" / "python")
    else:
        programs = JOURNAL_BIN, sys.executable
    home, tag = str(tmp_path / "home"), uuid.uuid4().hex[:8]
    return Journal(*programs, home, tag, _env(tmp_path), request.param == "posix-sem")


@pytest.mark.parametrize("killed", sorted(KILLED_WRITERS))
def test_with_follow_running_hooks_after_a_killed_writer_reach_the_log(
    journal: Journal, killed: str
):
    """The judged case: ``log --follow`` runs, a writer is SIGKILLed inside its write
    transaction; the hooks of the next seconds (one after another, then eight at once)
    exit 0 within budget and reach the log while follow still runs and prints them; no
    query hangs; after a drain every event is in the log exactly once."""
    events = journal.seed(2)
    follow = Follower(journal.journal, journal.home, journal.env)
    try:
        assert follow.wait_for(2) == [1, 2]
        journal.kill_in_write(KILLED_WRITERS[killed])
        sequential = [journal.hook(_event(n, journal.tag)) for n in range(2, 8)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            burst = list(pool.map(journal.hook, [_event(n, journal.tag) for n in range(8, 24)]))
        for hooked in (*sequential, *burst):
            hooked.ok()
        events += [h.event for h in (*sequential, *burst)]
        for args in (["log", "--json"], ["stats", "--json"], ["verify"], ["show", "1"]):
            done = journal.run(*args, timeout=ANSWER_S)
            assert done.returncode == 0, (args, done.stderr)
        # A late hook lands directly and takes in what was spooled meanwhile.
        late = journal.hook(_event(99, journal.tag))
        late.ok()
        events.append(late.event)
        assert journal.spooled() == 0
        assert sorted(follow.wait_for(len(events))) == list(range(1, len(events) + 1))
    finally:
        follow.stop()
    drained = journal.run("spool", "drain", "--json")
    assert drained.returncode == 0, drained.stderr
    assert json.loads(drained.stdout)["appended"] == 0
    journal.exactly_once(events)


@pytest.fixture(params=sorted(KILLED_WRITERS))
def stale(journal: Journal, request: pytest.FixtureRequest) -> Iterator[Stale]:
    """A killed writer's lock that stays stale: another process keeps the log open."""
    seeded = journal.seed(2)
    holder = journal.hold_open("log")
    try:
        journal.kill_in_write(KILLED_WRITERS[request.param])
        yield Stale(journal, holder, seeded, request.param)
    finally:
        _stop(holder)


@dataclass
class Stale:
    """A journal whose write lock a killed writer holds, kept stale by ``holder``."""

    journal: Journal
    holder: subprocess.Popen[str]
    seeded: list[dict[str, object]]
    killed: str


def test_while_the_lock_is_stale_nothing_waits_and_then_it_heals(stale: Stale):
    """Stale lock: hooks spool within budget, queries answer, ``append`` fails in bounded
    time with one line. Once no process holds the log, the next hook lands, drains, and
    every event is there once."""
    journal = stale.journal
    hooks = [journal.hook(_event(n, journal.tag)) for n in range(2, 2 + SPOOLED_HOOKS)]
    for hooked in hooks:
        hooked.ok()
    events = [*stale.seeded, *(h.event for h in hooks)]
    if journal.posix_sem:
        assert journal.spooled() == SPOOLED_HOOKS
        assert [r["seq"] for r in journal.logged()] == [1, 2]
    else:  # the control: the kernel released the killed writer's lock at once
        assert journal.spooled() == 0
        assert len(journal.logged()) == len(events)
    for args in (["stats", "--json"], ["verify"], ["show", "2"], ["log", "--quarantine"]):
        done = journal.run(*args, timeout=ANSWER_S)
        assert done.returncode == 0, (args, done.stderr)
    started = time.monotonic()
    extra = _event(50, journal.tag)
    appended = journal.run("append", data=json.dumps(extra), AGENT_JOURNAL_LOCK_TIMEOUT="3")
    assert time.monotonic() - started < ANSWER_S
    if journal.posix_sem:
        assert appended.returncode == 1
        assert appended.stderr.startswith("Error: the write lock of the journal is held by ")
        assert appended.stderr.count("\n") == 1
        if stale.killed == "journal writer":
            assert "which died inside a write transaction" in appended.stderr
    else:
        assert appended.returncode == 0, appended.stderr
        events.append(extra)
    _stop(stale.holder)
    late = journal.hook(_event(99, journal.tag))
    late.ok()
    assert journal.spooled() == 0
    if journal.posix_sem:  # it landed first, then took in the spool
        assert journal.logged()[2]["payload"]["tool_use_id"] == late.event["tool_use_id"]
    journal.exactly_once([*events, late.event])


def test_killed_hooks_leave_at_most_the_logs_two_semaphores(journal: Journal):
    """Hooks SIGKILLed at random moments, with no other process open: at any time the
    only named semaphores left are the log's two (named after its lock file), and the
    next normal open and close removes them."""
    if not journal.posix_sem:
        pytest.skip("the stock build uses no named semaphores")
    journal.seed(1)
    before = semaphores()
    leaked: set[str] = set()
    rng = random.Random(16)
    try:
        for n in range(30):
            proc = subprocess.Popen(
                [journal.journal, "--home", journal.home, "hook", "claude-code"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=journal.env,
                text=True,
            )
            assert proc.stdin is not None
            try:
                proc.stdin.write(json.dumps(_event(n, journal.tag)))
                proc.stdin.close()
            except BrokenPipeError:
                pass
            time.sleep(rng.uniform(0.0, 0.06))
            proc.kill()
            proc.wait(timeout=30)
            now = semaphores() - before
            assert len(now) <= 2, sorted(now)
            leaked |= now
        assert len(leaked) <= 2, sorted(leaked)
        assert journal.run("log", "--json", timeout=ANSWER_S).returncode == 0
        assert not semaphores() - before
    finally:
        for name in semaphores() - before:
            (SEM_DIR / name).unlink(missing_ok=True)
    drained = journal.run("spool", "drain")
    assert drained.returncode == 0, drained.stderr
    verified = journal.run("verify")
    assert verified.returncode == 0, verified.stderr


def test_a_projector_killed_inside_its_transaction_never_hangs_a_query(journal: Journal):
    """A query's catch-up SIGKILLed inside its views transaction while the views stay
    open elsewhere: the next query fails at once with one line; once nothing holds the
    views, queries answer again."""
    journal.seed(3)
    assert journal.run("runs", "--json", timeout=ANSWER_S).returncode == 0
    holder = journal.hold_open("views")
    try:
        journal.kill_in_write(IN_VIEWS_WRITE)
        started = time.monotonic()
        done = journal.run("runs", "--json", timeout=ANSWER_S, AGENT_JOURNAL_LOCK_TIMEOUT="30")
        assert time.monotonic() - started < ANSWER_S
        if journal.posix_sem:
            assert done.returncode == 1
            assert done.stderr.startswith("Error: the write lock of the views is held by process ")
            assert done.stderr.count("\n") == 1
        else:
            assert done.returncode == 0, done.stderr
        assert [r["seq"] for r in journal.logged()] == [1, 2, 3]  # the log is not involved
    finally:
        _stop(holder)
    done = journal.run("runs", "--json", timeout=ANSWER_S)
    assert done.returncode == 0, done.stderr
    (run,) = json.loads(done.stdout)
    assert run["last_seq"] == 3
