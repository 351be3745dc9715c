"""Writers take turns on a lock the kernel releases, and never wait on a dead one.

LMDB runs one write transaction at a time and its lock has no timeout. On Linux the
lock is a robust mutex, which the kernel releases when its holder dies. On macOS it is
a POSIX semaphore (``MDB_USE_POSIX_SEM``): a process killed inside a write transaction
leaves it taken until every process has closed the environment, and the next first
open resets it (DESIGN §2). A ``begin(write=True)`` meanwhile waits forever; no signal
or timeout gets it out.

So every write transaction of an environment (the log, the views) goes through
:class:`Writers`:

1. **A turn.** The writer takes an exclusive ``flock`` on ``writer.lock`` in the
   environment's directory. The kernel drops it when its holder dies, and a wait for
   it can have a deadline, so writers wait for each other here, never inside LMDB.
2. **A mark.** Holding the turn, the writer writes its pid into the file before it
   begins the transaction and blanks it after commit or abort. A pid found by the next
   turn's holder names a writer that died inside its transaction (or about to begin
   or end one).
3. **A test.** With the turn held, LMDB's lock is free, unless a marked writer died
   holding it or a process that does not take turns (an older journal, a raw LMDB
   tool) has it. So a helper thread begins and aborts a transaction before the writer
   begins its own, whenever a pid is found (waiting :data:`STALE_AFTER`), before the
   first write of each open (the same), and before every write that has a deadline
   (waiting what is left of it). If the helper does not come back in that time, the
   writer raises :class:`~journal.errors.LockedError` instead of waiting.

A helper stuck on a dead writer's lock is never woken, and the environment it waits
in must be neither written nor closed again (closing frees what it waits on): it is
*wedged* (:attr:`Writers.wedged`) until its process exits, which the short-lived
processes that write do at once.

4. **A gap.** Only at an instant when no process has the environment open can LMDB's
   first open reset the lock, and writers that keep arriving (hooks of agents running
   side by side), each holding it open while it tests, could chain their opens
   forever. So the writer that finds the lock stale records that in writer.lock, and
   for :data:`STALE_HOLD` seconds after, a writer that finds the record and sees the
   environment open in another process (the ``fcntl`` lock LMDB keeps on its
   ``lock.mdb`` while open) gives up before opening it (:func:`refuse_if_stale`).
   Nothing else keeps the log open across idle time either (``log --follow`` opens it
   per poll), so the gap comes and the next opener heals the lock; its first write
   finds the lock free and clears the record.

:class:`WriteGuard` lets the hook stop its journal's transactions before it leaves
with ``os._exit``: exiting inside a write transaction takes macOS's lock to the grave
just as being killed does.

Stdlib and lmdb only: the hook path uses it.
"""

from __future__ import annotations

import _thread
import fcntl
import os
import struct
import sys
import time

from .errors import LockedError, StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import lmdb

__all__ = [
    "DEFAULT_TIMEOUT",
    "LOCK_FILE",
    "STALE_AFTER",
    "STALE_HOLD",
    "Turn",
    "WriteGuard",
    "Writers",
    "marked",
    "refuse_if_stale",
]

LOCK_FILE = "writer.lock"
#: Seconds the holder of a turn waits for LMDB's lock before it calls the lock stale,
#: where nothing should hold it: a live writer takes turns, so it comes free at once.
STALE_AFTER = 0.2
#: Seconds after a writer found the lock stale during which writers stay out of an
#: environment that another process has open, so that a moment comes when none has.
STALE_HOLD = 2.0
#: Seconds a writer with a deadline waits by default (the CLI: AGENT_JOURNAL_LOCK_TIMEOUT).
DEFAULT_TIMEOUT = 10.0
# writer.lock holds two lines: the mark (16 bytes: the pid inside a write transaction),
# then the stale record (32: pid of the dead holder, 0 if unknown, and when it was found).
_MARK = b"%15d\n"
_BLANK = b" " * 15 + b"\n"
_STALE = b"%15d %15.3f\n"
_NO_STALE = b" " * 31 + b"\n"
_SIZE = len(_BLANK) + len(_NO_STALE)
_POLL_FIRST, _POLL_MAX = 0.001, 0.02
# struct flock, to ask (F_GETLK) whether another process holds a lock; 64-bit only.
_FLOCK = {"linux": "@hhqqi4x", "darwin": "@qqihh"}.get(sys.platform)
if struct.calcsize("P") != 8:
    _FLOCK = None


def _read(fd: int) -> tuple[int | None, tuple[int, float] | None]:
    """(the marked pid, the stale record) from an open writer.lock."""
    data = os.pread(fd, _SIZE, 0)
    mark = data[: len(_BLANK)].strip()
    fields = data[len(_BLANK) :].split()
    stale = None
    if len(fields) == 2 and fields[0].isdigit():
        try:
            stale = int(fields[0]), float(fields[1])
        except ValueError:
            pass
    return (int(mark) if mark.isdigit() else None), stale


def marked(directory: str) -> int | None:
    """The pid in ``directory``'s writer.lock: a writer inside a write transaction now,
    or one that died inside one; None when the last writer finished."""
    try:
        fd = os.open(os.path.join(directory, LOCK_FILE), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _read(fd)[0]
    except OSError:
        return None
    finally:
        os.close(fd)


def refuse_if_stale(directory: str, what: str) -> None:
    """Before opening the environment in ``directory`` to write: give up, without
    opening it, while its lock was lately found stale and another process has it open.

    Opening it then would only keep the environment from the moment with no process
    in it that resets the lock (see the module doc, 4.). Call it only while this
    process does not have that environment open: it opens and closes ``lock.mdb``,
    which would drop this process's own ``fcntl`` locks on it.

    Raises:
        LockedError: the lock is stale and the environment open elsewhere.
    """
    try:
        fd = os.open(os.path.join(directory, LOCK_FILE), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        stale = _read(fd)[1]
    except OSError:
        return
    finally:
        os.close(fd)
    if stale is None or not 0 <= time.time() - stale[1] < STALE_HOLD:
        return
    if not _open_elsewhere(os.path.join(directory, "lock.mdb")):
        return  # this open is the first: LMDB resets the lock
    who = f"process {stale[0]}, which" if stale[0] else "a process that"
    raise LockedError(
        f"the write lock of {what} is held by {who} died inside a write transaction; "
        f"it comes free once no process has {what} open"
    )


def _open_elsewhere(lock_file: str) -> bool:
    """Whether some process has the environment open: LMDB keeps a shared ``fcntl``
    lock on the first byte of ``lock.mdb`` while it does (True when unsure)."""
    if _FLOCK is None:
        return True
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        if sys.platform == "darwin":
            query = struct.pack(_FLOCK, 0, 1, 0, fcntl.F_WRLCK, os.SEEK_SET)
            found = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))[3]
        else:
            query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 1, 0)
            found = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))[0]
    except OSError:
        return True
    finally:
        os.close(fd)
    return bool(found != fcntl.F_UNLCK)


class WriteGuard:
    """Stops an environment's write transactions so that its process may exit.

    :meth:`stop` refuses every transaction not yet begun and waits for the one in
    flight; the hook calls it before it leaves with ``os._exit``.
    """

    __slots__ = ("_busy", "_decision", "_stopped")

    def __init__(self) -> None:
        self._decision = _thread.allocate_lock()
        self._busy = _thread.allocate_lock()
        self._stopped = False

    def enter(self) -> bool:
        """A transaction is about to begin: False once stopped."""
        with self._decision:
            if self._stopped:
                return False
            self._busy.acquire()
            return True

    def leave(self) -> None:
        """The transaction that :meth:`enter` let in has ended."""
        self._busy.release()

    def stop(self, timeout: float) -> bool:
        """Refuse later transactions; wait up to ``timeout`` s for the one in flight.

        Returns True when no transaction is in flight any more.
        """
        with self._decision:
            self._stopped = True
        if not self._busy.acquire(timeout=max(timeout, 0.001)):
            return False
        self._busy.release()
        return True


class _Probe:
    """A helper thread that begins and aborts a write transaction: is LMDB's lock free?"""

    __slots__ = ("_done",)

    def __init__(self, env: lmdb.Environment) -> None:
        self._done = _thread.allocate_lock()
        self._done.acquire()
        _thread.start_new_thread(self._run, (env,))

    def _run(self, env: lmdb.Environment) -> None:
        try:
            env.begin(write=True).abort()
        except BaseException:
            pass  # it did not block: the writer's own begin reports what is wrong
        finally:
            self._done.release()

    def came_back(self, timeout: float) -> bool:
        """Whether the helper got LMDB's lock (and let it go) within ``timeout`` s."""
        got = self._done.acquire(timeout=timeout) if timeout > 0 else self._done.acquire(False)
        if got:
            self._done.release()
        return got


class Turn:
    """One writer's turn: its write transaction, and the writer.lock it holds."""

    __slots__ = ("_fd", "_open", "_writers", "txn")

    def __init__(self, writers: Writers, fd: int, txn: lmdb.Transaction) -> None:
        self._writers = writers
        self._fd = fd
        self._open = True
        self.txn = txn

    def abort(self) -> None:
        """Abort the transaction now; :meth:`end` then only gives the turn on."""
        if self._open:
            self._open = False
            self.txn.abort()

    def end(self, commit: bool) -> None:
        """Commit (or abort) the transaction, blank writer.lock, give the turn on."""
        try:
            if self._open:
                self._open = False
                if commit:
                    self.txn.commit()
                else:
                    self.txn.abort()
        finally:
            self._writers._release(self._fd)

    def __enter__(self) -> lmdb.Transaction:
        return self.txn

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self.end(commit=exc is None)


class Writers:
    """The write transactions of one LMDB environment, in turn (see the module doc).

    ``timeout`` is how long :meth:`begin` may wait, None for as long as it takes (the
    hook, whose main thread keeps the time); ``guard`` is asked before each transaction.
    """

    def __init__(
        self,
        env: lmdb.Environment,
        directory: str,
        *,
        what: str,
        timeout: float | None,
        guard: WriteGuard | None = None,
    ) -> None:
        self.path = os.path.join(directory, LOCK_FILE)
        self.what = what
        self.timeout = timeout
        self._env = env
        self._guard = guard
        self._tested = False
        self._probe: _Probe | None = None
        self._stuck = ""

    @property
    def wedged(self) -> bool:
        """A helper still waits on LMDB's lock: do not write, and never close the env."""
        if self._probe is None:
            return False
        if not self._probe.came_back(0):
            return True
        self._probe = None  # it got the lock after all: a slow holder, not a dead one
        return False

    def begin(self) -> Turn | None:
        """Take the turn and begin a write transaction; None if the guard refused.

        Raises:
            LockedError: no turn within the timeout, or LMDB's lock stayed taken with
                the turn held (the environment is then wedged).
            StoreError: writer.lock cannot be used.
            lmdb.Error: LMDB refused the transaction.
        """
        if self.wedged:
            raise LockedError(self._stuck)
        started = time.monotonic()
        fd = self._take(started)
        try:
            txn = self._begin(fd, started)
        except BaseException:
            os.close(fd)
            raise
        if txn is None:
            os.close(fd)
            return None
        return Turn(self, fd, txn)

    def transaction(self) -> Turn:
        """A turn to use as ``with writers.transaction() as txn:`` (commits on success).

        Raises:
            LockedError: as :meth:`begin`, or the guard refused.
        """
        turn = self.begin()
        if turn is None:
            raise LockedError(f"writes to {self.what} were stopped")
        return turn

    def _take(self, started: float) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open {self.path}: {exc.strerror}") from None
        try:
            if self.timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                return fd
            pause = _POLL_FIRST
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    pass
                left = self.timeout - (time.monotonic() - started)
                if left <= 0:
                    raise LockedError(
                        f"could not write {self.what}: other writers kept it busy for "
                        f"{self.timeout:g} s"
                    )
                time.sleep(min(pause, left))
                pause = min(pause * 2, _POLL_MAX)
        except BaseException as exc:
            os.close(fd)
            if isinstance(exc, OSError) and not isinstance(exc, StoreError):
                raise StoreError(f"cannot lock {self.path}: {exc.strerror}") from None
            raise

    def _begin(self, fd: int, started: float) -> lmdb.Transaction | None:
        try:
            dead, stale = _read(fd)
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}") from None
        if dead is not None or stale is not None or not self._tested or self.timeout is not None:
            self._test(fd, dead, stale is not None, started)
        # Asked after the test: stopping never waits for a helper that may never return.
        guard = self._guard
        if guard is not None and not guard.enter():
            return None
        try:
            try:
                os.pwrite(fd, _MARK % os.getpid(), 0)
            except OSError as exc:
                raise StoreError(f"cannot write {self.path}: {exc.strerror}") from None
            try:
                return self._env.begin(write=True)
            except BaseException:
                self._blank(fd)
                raise
        except BaseException:
            if guard is not None:
                guard.leave()
            raise

    def _test(self, fd: int, dead: int | None, recorded: bool, started: float) -> None:
        """Raise LockedError (and wedge) unless LMDB's lock comes free in time."""
        if dead is not None or recorded or self.timeout is None:
            wait = STALE_AFTER
        else:
            wait = self.timeout - (time.monotonic() - started)
        probe = _Probe(self._env)
        if probe.came_back(wait):
            self._tested = True
            if recorded:
                self._record(fd, _NO_STALE)
            return
        self._probe = probe
        self._record(fd, _STALE % (dead or 0, time.time()))
        if dead is not None:
            self._stuck = (
                f"the write lock of {self.what} is held by process {dead}, which died inside "
                f"a write transaction; it comes free once no process has {self.what} open"
            )
        else:
            self._stuck = (
                f"the write lock of {self.what} is held by a process that does not take "
                "turns with its writers (another LMDB program, or one that died inside a "
                "write transaction)"
            )
        raise LockedError(self._stuck)

    def _record(self, fd: int, record: bytes) -> None:
        try:
            os.pwrite(fd, record, len(_BLANK))
        except OSError:
            pass  # only the gap (module doc, 4.) may take longer to come

    def _blank(self, fd: int) -> None:
        try:
            os.pwrite(fd, _BLANK, 0)
        except OSError:
            pass  # the next writer finds the pid, tests LMDB's lock and goes on

    def _release(self, fd: int) -> None:
        """The turn's transaction has ended: blank the mark, give the turn on."""
        try:
            self._blank(fd)
        finally:
            if self._guard is not None:
                self._guard.leave()
            os.close(fd)
