"""``journal hook AGENT``: the agent's hook process. Silent, bounded, exit 0 always.

An agent starts one hook process per event, on its critical path. This module reads
the event (stdin to EOF; Codex ``notify`` passes it as the last argument instead),
appends it with the agent as source, the agent's event name as kind, and an
idempotency key from the agent's own ids (:func:`idempotency_key`), then exits 0
without printing anything on stdout.

It never waits long. The append runs in a thread; if it has not finished within the
budget (``AGENT_JOURNAL_HOOK_BUDGET_MS``, default :data:`DEFAULT_BUDGET_MS`), because
another process holds the write lock, the disk stalls or the home is unusable, the
raw input goes durably to the spool (:mod:`journal.spool`) and the hook exits 0. The
thread's transaction asks a gate before it writes anything, so an append that gave
up never lands as well: the spooled copy is the only one. A successful append also
drains a little of the spool, and on ``Stop``, ``SubagentStop``, ``SessionEnd``,
``PreCompact`` and ``AfterAgent`` (Gemini CLI) captures the new transcript lines
(:mod:`journal.agents.capture`); after those but ``PreCompact`` a short detached
follow-up captures them again a little later, for the lines an agent writes after
the event.

Bad input (empty, not JSON, too big) is quarantined like any bad append; it is never
dropped. Diagnostics go to ``hook.log`` in the home (or the fallback spool's parent),
never to stdout, where some agents read model context.

Faults never reach the agent: a full disk, a read-only or damaged home, an unwritable
``hook.log``, even a failure of the hook's own code end with the event spooled (or,
when every spool is unusable, a line in the log) and exit 0, nothing on stdout or
stderr. SIGINT is ignored (a Ctrl-C meant for the agent must not cut an append or a
spool write in half); the hook's whole life is bounded by its budget anyway.

Imports: stdlib (``os``, ``sys``, ``time``, ``_thread``), lmdb and the journal's own
hook-path modules; never click, msgspec or the views (a test checks).
"""

from __future__ import annotations

import _thread
import os
import sys
import time

from journal import home as _home
from journal import payload as _payload
from journal import wire
from journal.errors import InvalidPayloadError, JournalError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from typing import Any

    from journal.store import LmdbJournal
    from journal.writer import Writer
else:
    import _signal  # what ``signal`` wraps, already loaded; ``signal`` imports enum (~5 ms)

__all__ = ["DEFAULT_BUDGET_MS", "idempotency_key", "log", "main"]

DEFAULT_BUDGET_MS = 500
# Spool files a hook drains after its own append; the rest waits for the next hook.
DRAIN_PER_HOOK = 64
# Bigger transcript backlogs are captured by a detached process.
INLINE_CAPTURE_BYTES = 256 * 1024
# AfterAgent is Gemini CLI's turn end (its chat file is the transcript).
CAPTURE_EVENTS = frozenset({"Stop", "SubagentStop", "SessionEnd", "PreCompact", "AfterAgent"})
# Events after which the agent may exit at once: capture in a process that outlives it.
_DETACH_EVENTS = frozenset({"SessionEnd"})
# Events whose transcript may still get lines after the hook ran: capture again later.
_FOLLOW_UP_EVENTS = frozenset({"Stop", "SubagentStop", "SessionEnd", "AfterAgent"})


def idempotency_key(source: str, kind: str, event: dict[str, Any]) -> str | None:
    """The key that makes a repeated delivery of one event one record, or None.

    Only ids that name exactly one occurrence of the event are used: a tool call's
    id with the event name, a subagent's id with its start or stop, a prompt's id on
    its submit, a turn's id on its end, an OpenCode bus event id (or a tool part's
    call id with its state). Events without such an id get no key: two ``Stop``
    events of one session are two records.
    """
    get = event.get
    if source == "opencode":
        props = get("properties")
        if isinstance(get("id"), str):
            return f"opencode:{get('id')}"
        if isinstance(props, dict) and kind == "message.part.updated":
            part = props.get("part")
            if isinstance(part, dict) and part.get("type") == "tool":
                state = part.get("state")
                status = state.get("status") if isinstance(state, dict) else None
                if isinstance(part.get("id"), str) and isinstance(status, str):
                    return f"opencode:part:{part['id']}:{status}"
        if (
            isinstance(props, dict)
            and kind == "permission.asked"
            and isinstance(props.get("id"), str)
        ):
            return f"opencode:permission.asked:{props['id']}"
        return None
    if source == "codex" and kind == "agent-turn-complete":
        thread, turn = get("thread-id"), get("turn-id")
        if isinstance(thread, str) and isinstance(turn, (str, int)):
            return f"codex:notify:{thread}:{turn}"
        return None
    for field in ("tool_use_id", "agent_id", "subagent_id"):
        value = get(field)
        if isinstance(value, str) and value and _keyed_by(kind, field):
            return f"{source}:{kind}:{value}"
    if kind == "UserPromptSubmit":
        for field in ("prompt_id", "turn_id"):
            value = get(field)
            if isinstance(value, str) and value:
                return f"{source}:{kind}:{value}"
    if kind == "Stop" and isinstance(get("turn_id"), str):
        return f"{source}:{kind}:{get('turn_id')}"
    if kind in ("beforeSubmitPrompt", "stop") and isinstance(get("generation_id"), str):
        return f"{source}:{kind}:{get('generation_id')}"
    return None


_TOOL_EVENTS = frozenset(
    {
        "PreToolUse",
        "PostToolUse",
        "PostToolUseFailure",
        "PermissionDenied",
        "preToolUse",
        "postToolUse",
        "postToolUseFailure",
    }
)


def _keyed_by(kind: str, field: str) -> bool:
    if field == "tool_use_id":
        return kind in _TOOL_EVENTS
    # agent_id rides on every event a subagent fires; it names only its start and stop.
    return kind in ("SubagentStart", "SubagentStop", "subagentStart", "subagentStop")


def detect_source(agent: str, event: dict[str, Any] | None) -> str:
    """The record's source: the agent named on the command line, with one exception.

    Cursor runs the hooks in ``~/.claude/settings.json`` too, with Cursor-shaped
    payloads; those are Cursor's events, told apart by ``cursor_version``.
    """
    if agent == "claude-code" and event is not None and "cursor_version" in event:
        return "cursor"
    try:
        wire.encode_name(agent, "source")
    except JournalError:
        return "generic"
    return agent


class _Attempt:
    """The append thread and the decision between it and the budget."""

    def __init__(self) -> None:
        self.decision = _thread.allocate_lock()
        self.appended = _thread.allocate_lock()
        self.finished = _thread.allocate_lock()
        self.appended.acquire()
        self.finished.acquire()
        self.cancelled = False
        self.committing = False
        self.landed = False
        self.error: BaseException | None = None
        from journal.writelock import WriteGuard

        #: Stops the journal's transactions before the hook exits (see give_up).
        self.guard = WriteGuard()

    def gate(self) -> bool:
        """Called with the write lock held: go ahead unless the hook gave up."""
        with self.decision:
            if self.cancelled:
                return False
            self.committing = True
            return True

    def give_up(self) -> bool:
        """Called when the budget is spent: True if no write has started.

        The hook exits next, so this also stops the journal's later transactions and
        waits (a second at most) for the one in flight: a process that exits inside a
        write transaction leaves macOS's write lock taken (:mod:`journal.writelock`).
        """
        with self.decision:
            if not self.committing:
                self.cancelled = True
            cancelled = self.cancelled
        self.guard.stop(1.0)
        return cancelled

    def reopen(self) -> None:
        """Let later writes (drain, capture) ask the gate afresh."""
        with self.decision:
            self.committing = False


class _Event:
    __slots__ = (
        "data",
        "key",
        "kind",
        "parsed",
        "reason",
        "received_at",
        "settled",
        "source",
        "stored",
    )

    def __init__(self, data: bytes, agent: str, received_at: int) -> None:
        self.data = data
        self.received_at = received_at
        self.settled = False  # landed or spooled: nothing may spool it again
        self.parsed: dict[str, Any] | None = None
        self.stored = b""
        self.reason: str | None = None
        try:
            self.stored, self.kind, self.parsed = _payload.validate_parsed(data)
        except InvalidPayloadError as exc:
            self.reason = exc.reason
            self.kind = ""
        self.source = detect_source(agent, self.parsed)
        self.key: str | None = None
        if self.parsed is not None:
            key = idempotency_key(self.source, self.kind, self.parsed)
            if key is not None and len(key.encode()) <= wire.MAX_KEY_BYTES:
                self.key = key

    @classmethod
    def unread(cls, data: bytes, source: str, reason: str) -> _Event:
        """An event whose input was never validated (the hook failed first): spool as is."""
        event = cls.__new__(cls)
        event.data, event.received_at, event.settled = data, time.time_ns(), False
        event.parsed, event.stored, event.kind, event.reason = None, b"", "", reason
        event.source, event.key = source, None
        return event


def _budget() -> float:
    try:
        return max(0.0, float(os.environ.get("AGENT_JOURNAL_HOOK_BUDGET_MS", "")) / 1000)
    except ValueError:
        return DEFAULT_BUDGET_MS / 1000


def _append(journal: LmdbJournal, event: _Event, attempt: _Attempt) -> bool:
    """The event's own write; False if the gate refused it."""
    source = event.source.encode()
    from . import process as _process

    agent = _process.agent()  # read before the write lock is taken (~0.05 ms of /proc)

    def work(w: Writer) -> bool:
        if event.reason is not None:
            w.quarantine(event.data, event.reason, source, b"", event.received_at)
        else:
            key = event.key.encode() if event.key else b""
            kind = event.kind.encode()
            w.append(event.stored, source, kind, key, event.received_at, agent=agent)
        return True

    return journal.write(work, gate=attempt.gate) is not None


def _after(journal: LmdbJournal, event: _Event, attempt: _Attempt) -> None:
    """Work that follows a landed event: drain a little spool, capture transcripts."""
    attempt.reopen()
    if _spool_waits(journal.home):
        from . import spool as _spool

        _spool.drain(journal, limit=DRAIN_PER_HOOK, gate=attempt.gate)
    if event.parsed is None or event.kind not in CAPTURE_EVENTS:
        return
    paths = [
        p
        for p in (event.parsed.get("transcript_path"), event.parsed.get("agent_transcript_path"))
        if isinstance(p, str) and p
    ]
    if not any(os.path.exists(p) for p in paths):
        return  # nothing to capture now, nor to come back for
    from . import capture as _capture

    waits = _capture.follow_up_waits() if event.kind in _FOLLOW_UP_EVENTS else ()
    if event.kind in _DETACH_EVENTS or any(
        _capture.pending_bytes(journal, p) > INLINE_CAPTURE_BYTES for p in paths
    ):
        _capture.spawn_detached(journal.home, event.source, paths, waits=waits)
        return
    if waits:
        # Started first, so that it runs even if the budget ends the inline capture.
        _capture.spawn_detached(journal.home, event.source, paths, now=False, waits=waits)
    for path in paths:
        _capture.capture(journal, path, source=event.source, gate=attempt.gate)


def _spool_waits(home: str) -> bool:
    """Anything in the home's spool or the fallback spool? Two listdirs, and the spool
    module is loaded only when there is (it sorts out what is whose)."""
    for directory in (os.path.join(home, _home.SPOOL_DIR), _home.fallback_spool_dir()):
        try:
            if os.listdir(directory):
                return True
        except OSError:
            continue
    return False


def _work(home: str, event: _Event, attempt: _Attempt) -> None:
    try:
        from journal.store import LmdbJournal

        # LogEnv checks the data file first: a truncated one would SIGBUS before we spool.
        # No deadline for the write lock here: the main thread keeps the budget.
        journal = LmdbJournal(home, lock_timeout=None, guard=attempt.guard)
        try:
            if not _append(journal, event, attempt):
                return
            attempt.landed = True
            attempt.appended.release()
            _after(journal, event, attempt)
        finally:
            journal.close()
    except BaseException as exc:
        attempt.error = exc
    finally:
        if attempt.appended.locked() and attempt.error is not None:
            attempt.appended.release()
        attempt.finished.release()


def log(home: str, message: str) -> None:
    """Append one diagnostic line to ``hook.log``, else the fallback's; never raises.

    A full disk, a directory or FIFO where the file should be, a read-only home: the
    line goes to the next place, or nowhere.
    """
    try:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = f"{stamp} pid={os.getpid()} {message}\n".encode("utf-8", "replace")
        fallback = os.path.dirname(_home.fallback_spool_dir())
        for directory in (home, fallback):
            if directory == fallback:
                os.makedirs(fallback, mode=0o700, exist_ok=True)
            if _append_line(os.path.join(directory, "hook.log"), line):
                return
    except BaseException:
        pass


def _append_line(path: str, line: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o600)
    except OSError:
        return False
    try:
        return os.write(fd, line) == len(line)
    except OSError:
        return False
    finally:
        os.close(fd)


def _agent_or_none() -> tuple[int, int, bytes] | None:
    """The agent process, for a spooled event (its drained record gets it); never raises."""
    try:
        from . import process as _process

        return _process.agent()
    except Exception:
        return None


def _spool_event(home: str, event: _Event, why: str) -> None:
    """Write the event to the spool (or the fallback spool); log why.

    A valid event is spooled as its stored bytes, known secrets already masked, so no
    secret waits on disk for the drain (which stores the same bytes: masking is
    idempotent); an invalid one as the raw input it will be quarantined as.
    """
    from . import spool as _spool

    key = event.key or f"spool:{os.urandom(16).hex()}"
    kind = event.kind if event.reason is None else ""
    agent = _agent_or_none()
    data = event.stored if event.reason is None and event.stored else event.data
    for directory in (_spool.spool_dir(home), _spool.fallback_dir()):
        try:
            path = _spool.write(
                directory,
                data,
                source=event.source,
                kind=kind,
                key=key,
                received_at=event.received_at,
                home=home,
                agent=agent,
            )
        except OSError as exc:
            why = f"{why}; spool {directory} failed: {exc.strerror}"
            continue
        event.settled = True
        log(home, f"spooled {os.path.basename(path)} ({why})")
        return
    event.settled = True  # nowhere left to put it; say so
    log(home, f"LOST an event: {why}")


def run(agent: str, data: bytes, home: str | None) -> None:
    """Journal one hook event within the budget; never raises, never prints."""
    event = None
    try:
        event = _Event(data, agent, time.time_ns())
        _run(_home.resolve(home), event)
    except BaseException as exc:
        _rescue(home, agent, data, event, exc)


def _rescue(
    home: str | None, agent: str, data: bytes, event: _Event | None, exc: BaseException
) -> None:
    """The hook's own code failed: spool the input unless it already landed; never raise."""
    try:
        resolved = _home.resolve(home)
        why = f"hook failed: {type(exc).__name__}: {exc}"
        if event is None:
            event = _Event.unread(data, detect_source(agent, None), why)
        if event.settled:
            log(resolved, why)
        else:
            _spool_event(resolved, event, why)
    except BaseException:
        pass


def _run(resolved: str, event: _Event) -> None:
    received_at = event.received_at
    budget = _budget()
    attempt = _Attempt()
    _thread.start_new_thread(_work, (resolved, event, attempt))
    if attempt.appended.acquire(timeout=budget) and attempt.landed:
        event.settled = True
        # Landed; give the drain and capture what is left of the budget, no more.
        remaining = budget - (time.time_ns() - received_at) / 1e9
        attempt.finished.acquire(timeout=max(remaining, 0.05))
        attempt.give_up()
        return
    if attempt.error is not None:
        _spool_event(resolved, event, f"append failed: {attempt.error}")
        return
    if attempt.give_up():
        _spool_event(resolved, event, f"journal busy for {budget:.3f}s")
        return
    # The write already started when the budget ran out: a commit is seconds at worst.
    if attempt.appended.acquire(timeout=max(budget, 1.0)) and attempt.landed:
        event.settled = True
        return
    _spool_event(resolved, event, "append did not finish")


def main(argv: list[str], home: str | None = None) -> int:
    """Entry for ``journal [--home DIR] hook AGENT [PAYLOAD]``; always returns 0.

    ``PAYLOAD`` (Codex ``notify``) replaces stdin. The caller must exit with
    ``os._exit`` afterwards: an abandoned append thread must not delay the exit.
    """
    agent, data = "generic", b""
    try:
        try:
            _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        except ValueError:
            pass  # not the main thread: whoever runs us there handles signals
        agent = argv[0] if argv else "generic"
        if len(argv) > 1:
            data = argv[-1].encode("utf-8", "surrogateescape")
        else:
            try:
                data = sys.stdin.buffer.read() if sys.stdin is not None else b""
            except (OSError, ValueError):
                data = b""
    except BaseException as exc:  # the agent must never see a failure
        _rescue(home, agent, data, None, exc)
        return 0
    run(agent, data, home)
    return 0
