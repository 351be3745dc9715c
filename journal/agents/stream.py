"""``journal hook AGENT --stream``: one long-lived process that journals a stream of events.

An agent that emits events faster than a process per event can start (OpenCode's
plugin sees ~23 bus events a second) hands them to one process instead, as lines on
its stdin, each ``<delivery id>\\t<event JSON>`` (a plain ``<event JSON>`` line works
too). The process journals them **in arrival order**, exactly as ``journal hook AGENT``
would journal each one alone (same source, kind, key and payload bytes), and answers
on stdout with the delivery id of the last event made durable, one line per batch:
an acknowledgement covers every event sent before it. Stdout is only ever read by
the sender; nothing else is printed, nothing reaches stderr, and the exit code is 0.

- **Batches.** A reader thread drains stdin as fast as it fills; the writer takes
  everything queued (up to :data:`MAX_BATCH` events or :data:`MAX_BATCH_BYTES`) into
  one write transaction, so a burst costs one commit, not one per event.
- **Durable before acknowledged.** A batch is acknowledged once committed, or once
  spooled (:mod:`journal.agents.spool`) when the journal is busy past the hook budget
  (``AGENT_JOURNAL_HOOK_BUDGET_MS``) or unusable. Spool files are named by receive
  time and every event here gets a strictly later one than the event before it, so
  the drain keeps their order; before its next batch the stream drains the spool, and
  while its own spooled events are still waiting it spools the next batch too, so a
  spooled batch never lands after one sent later.
- **Exactly once.** Every event carries an idempotency key: its own (see
  :func:`journal.agents.hook.idempotency_key`), else one made from its delivery id
  (``<source>:delivery:<id>``; a sender that re-sends unacknowledged events after a
  restart gets one record each), else a random one made on arrival
  (``<source>:stream:<random>``, so a spooled copy and a committed one are one record).
- **Bad input** is quarantined, like the hook's.

The log environment is closed after :data:`IDLE_CLOSE_SECONDS` without events
(DESIGN §2: no process keeps it open for long). At end of input the queue is
finished, what this process spooled is drained if the journal allows it within the
budget, and the process exits.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, BinaryIO

from journal import home as _home
from journal import payload as _payload
from journal import wire
from journal.errors import InvalidPayloadError

from . import process as _process
from . import spool as _spool
from .hook import DEFAULT_BUDGET_MS, detect_source, idempotency_key
from .hook import log as _hook_log

if TYPE_CHECKING:
    from collections.abc import Callable

    from journal.store import LmdbJournal
    from journal.writer import Writer

__all__ = ["IDLE_CLOSE_SECONDS", "MAX_BATCH", "MAX_BATCH_BYTES", "main", "run"]

MAX_BATCH = 1024
MAX_BATCH_BYTES = 4 * 1024 * 1024
IDLE_CLOSE_SECONDS = 2.0
# A batch that could not be made durable at all (spool full too) is retried this often.
RETRY_SECONDS = 0.5
_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


class _Item:
    """One event as it arrived, prepared for its append."""

    __slots__ = ("data", "delivery", "key", "kind", "reason", "received_at", "source", "stored")

    def __init__(self, agent: str, delivery: str | None, data: bytes, received_at: int) -> None:
        self.delivery = delivery
        self.data = data
        self.received_at = received_at
        self.stored = b""
        self.reason: str | None = None
        parsed = None
        try:
            self.stored, self.kind, parsed = _payload.validate_parsed(data)
        except InvalidPayloadError as exc:
            self.reason = exc.reason
            self.kind = ""
        self.source = detect_source(agent, parsed)
        key = idempotency_key(self.source, self.kind, parsed) if parsed is not None else None
        if key is None or len(key.encode()) > wire.MAX_KEY_BYTES:
            if delivery is not None:
                key = f"{self.source}:delivery:{delivery}"
            else:
                key = f"{self.source}:stream:{os.urandom(16).hex()}"
        self.key = key


def _parse(line: bytes) -> tuple[str | None, bytes]:
    """(delivery id, event bytes) of one input line."""
    line = line.rstrip(b"\r\n")
    tab = line.find(b"\t")
    if tab > 0 and _ID.fullmatch(line, 0, tab):
        return line[:tab].decode("ascii"), line[tab + 1 :]
    return None, line


def _budget() -> float:
    try:
        return max(0.0, float(os.environ.get("AGENT_JOURNAL_HOOK_BUDGET_MS", "")) / 1000)
    except ValueError:
        return DEFAULT_BUDGET_MS / 1000


def _log(home: str, message: str) -> None:
    """One diagnostic line in ``hook.log`` (or the fallback's), as the hook writes them:
    never raises, never blocks on a FIFO, and falls back when the write fails."""
    _hook_log(home, f"stream: {message}")


class _Inbox:
    """Events read from stdin by a thread, waiting for the writer."""

    def __init__(self, agent: str, stream: BinaryIO) -> None:
        self.agent = agent
        self.items: deque[_Item] = deque()
        self.eof = False
        self.cond = threading.Condition()
        self._stream = stream
        self._last = 0
        threading.Thread(target=self._read, name="stream-reader", daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self._stream:
                if not line.strip():
                    continue
                delivery, data = _parse(line)
                # Strictly increasing receive times: the spool's drain order is theirs.
                now = max(time.time_ns(), self._last + 1)
                self._last = now
                item = _Item(self.agent, delivery, data, now)
                with self.cond:
                    self.items.append(item)
                    self.cond.notify()
        except (OSError, ValueError):
            pass
        finally:
            with self.cond:
                self.eof = True
                self.cond.notify()

    def take(self, timeout: float) -> list[_Item] | None:
        """The next batch; [] when nothing came within ``timeout``; None at the end."""
        with self.cond:
            if not self.items and not self.eof:
                self.cond.wait(timeout)
            if not self.items:
                return None if self.eof else []
            batch: list[_Item] = []
            size = 0
            while self.items and len(batch) < MAX_BATCH and size < MAX_BATCH_BYTES:
                item = self.items.popleft()
                batch.append(item)
                size += len(item.data)
            return batch

    def put_back(self, items: list[_Item]) -> None:
        """Return events that could not be made durable to the front of the queue."""
        with self.cond:
            self.items.extendleft(reversed(items))


class _Attempt:
    """One write attempt in its thread, and the decision between it and the budget."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.cancelled = False
        self.committing = False
        self.written = False
        self.error: BaseException | None = None

    def gate(self) -> bool:
        """Asked by each write once it holds the write lock."""
        with self.lock:
            if self.cancelled:
                return False
            self.committing = True
            return True

    def idle(self) -> None:
        """Between two writes: the budget may cancel again."""
        with self.lock:
            self.committing = False

    def give_up(self) -> bool:
        """True if no write is under way (and none will start)."""
        with self.lock:
            if not self.committing:
                self.cancelled = True
            return self.cancelled


class _Writer:
    """Makes batches durable: committed, or spooled, in order."""

    def __init__(self, home: str) -> None:
        self.home = home
        self.budget = _budget()
        self.agent = _process.agent()  # the sender's agent: this process's parent
        self.journal: LmdbJournal | None = None
        self.busy: _Attempt | None = None
        self._lock = threading.Lock()
        self._spooled: list[str] = []  # our spool files, until a drain took them
        #: A write found LMDB's lock held by a dead writer (macOS): this process must go,
        #: or its open environment keeps the journal from healing (journal.writelock).
        self.wedged = False

    def close(self) -> None:
        """Close the log environment (reopened by the next batch)."""
        if self.journal is not None and self.busy is None:
            journal, self.journal = self.journal, None
            _close(journal)

    def finish(self) -> None:
        """At the end of input: land what this process spooled, if the journal lets it."""
        with self._lock:
            ours = bool(self._spooled)
        if ours:
            if self.busy is not None:
                self.busy.done.wait(self.budget)
            self.durable([])
        self.close()

    def durable(self, batch: list[_Item]) -> int:
        """Commit or spool ``batch``; return how many of its events (a prefix) are durable."""
        if self.busy is not None:
            if not self.busy.done.is_set():
                return self._spool(batch)  # the last attempt still waits for the lock
            self.busy = None
        attempt = _Attempt()
        self.busy = attempt
        threading.Thread(target=self._attempt, args=(batch, attempt), daemon=True).start()
        if not attempt.done.wait(self.budget):
            if attempt.give_up():
                return self._spool(batch)  # its thread will find the gate shut
            # A commit is under way: that takes milliseconds, unless the disk hangs.
            if not attempt.done.wait(max(self.budget, 1.0)):
                _log(self.home, "a commit did not finish; spooling (its keys keep it once)")
                return self._spool(batch)
        self.busy = None
        if attempt.written:
            return len(batch)
        if attempt.error is not None:
            _log(self.home, f"append failed, spooling: {attempt.error}")
        return self._spool(batch)

    def _attempt(self, batch: list[_Item], attempt: _Attempt) -> None:
        try:
            if self.journal is None:
                from journal.store import LmdbJournal

                self.journal = LmdbJournal(self.home)
            journal = self.journal
            with self._lock:
                ours = bool(self._spooled)
            if ours or _spool.has_pending(self.home):
                _spool.drain(journal, gate=attempt.gate, progress=lambda _n: attempt.idle())
                attempt.idle()
                with self._lock:
                    self._spooled = [p for p in self._spooled if os.path.exists(p)]
                    if self._spooled:
                        return  # ours still wait: this batch must not overtake them
            if not batch:
                attempt.written = True
                return
            work = _batch_work(batch, self.agent)
            attempt.written = journal.write(work, gate=attempt.gate) is not None
        except BaseException as exc:
            attempt.error = exc
            journal_, self.journal = self.journal, None
            if journal_ is not None:
                self.wedged = self.wedged or journal_.wedged
                _close(journal_)
        finally:
            attempt.done.set()

    def _spool(self, batch: list[_Item]) -> int:
        for count, item in enumerate(batch):
            kind = item.kind if item.reason is None else ""
            for directory in (_spool.spool_dir(self.home), _spool.fallback_dir()):
                try:
                    path = _spool.write(
                        directory,
                        item.data,
                        source=item.source,
                        kind=kind,
                        key=item.key,
                        received_at=item.received_at,
                        home=self.home,
                        agent=self.agent,
                    )
                except OSError:
                    continue
                with self._lock:
                    self._spooled.append(path)
                break
            else:
                _log(self.home, f"cannot spool either; {len(batch) - count} events wait")
                return count
        return len(batch)


def _close(journal: LmdbJournal) -> None:
    try:
        journal.close()
    except Exception:
        pass


def _batch_work(
    batch: list[_Item], agent: tuple[int, int, bytes] | None
) -> Callable[[Writer], bool]:
    def work(w: Writer) -> bool:
        for item in batch:
            source = item.source.encode()
            if item.reason is not None:
                w.quarantine(item.data, item.reason, source, b"", item.received_at)
                continue
            kind, key = item.kind.encode(), item.key.encode()
            w.append(item.stored, source, kind, key, item.received_at, agent=agent)
        return True

    return work


def _ack(out: BinaryIO, batch: list[_Item]) -> bool:
    """Tell the sender the last delivery id made durable; False once it stopped listening."""
    ids = [item.delivery for item in batch if item.delivery is not None]
    if not ids:
        return True
    try:
        out.write(ids[-1].encode() + b"\n")
        out.flush()
    except (OSError, ValueError):
        return False
    return True


def run(agent: str, home: str | None, inp: BinaryIO, out: BinaryIO) -> None:
    """Journal every event line of ``inp`` in order, acknowledging on ``out``."""
    resolved = _home.resolve(home)
    inbox = _Inbox(agent, inp)
    writer = _Writer(resolved)
    listening = True
    while True:
        batch = inbox.take(IDLE_CLOSE_SECONDS)
        if batch is None:
            break
        if not batch:
            writer.close()
            continue
        done = writer.durable(batch)
        if done < len(batch):
            inbox.put_back(batch[done:])
            time.sleep(RETRY_SECONDS)
        if done and listening:
            listening = _ack(out, batch[:done])
        if writer.wedged:
            # What is acknowledged is spooled; the plugin re-sends the rest to a new
            # stream process, which can open the journal once the lock has healed.
            _log(resolved, "the write lock is held by a dead writer; exiting")
            return
    writer.finish()


def main(argv: list[str], home: str | None = None) -> int:
    """Entry for ``journal [--home DIR] hook AGENT --stream``; always returns 0.

    The caller must exit with ``os._exit`` afterwards (an abandoned write attempt
    may still wait for the lock).
    """
    try:
        agent = argv[0] if argv else "generic"
        run(agent, home, sys.stdin.buffer, sys.stdout.buffer)
    except BaseException as exc:  # the agent must never see a failure
        _log(_home.resolve(home), f"failed: {type(exc).__name__}: {exc}")
    return 0
