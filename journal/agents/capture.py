"""Transcript capture: journal the new lines of an agent's transcript file.

Claude Code keeps token usage only in its transcript JSONL (``transcript_path``, and
``agent_transcript_path`` for subagents), and deletes old transcripts. On ``Stop``,
``SubagentStop``, ``SessionEnd`` and ``PreCompact`` the hook captures the lines added
since the last capture, each as its own record of kind ``transcript``; ``journal
import`` runs the same capture over whole files.

A cursor per transcript path (the ``captures`` database) holds the byte offset up
to which lines were taken, with the file's device and inode. It moves in the same
write transaction as the records it accounts for, so a capture killed at any point
either took a chunk entirely or not at all. Only complete lines are taken: a line
still being written (no trailing newline yet) waits for the next capture. Every line
also gets an idempotency key made of the path, its offset and its digest, so even a
lost cursor (or two captures racing) can never journal a line twice, and a file
that was replaced is read again from its start without duplicating unchanged lines.

Large backlogs are taken in chunks of about :data:`CHUNK_BYTES`, one short write
transaction each, so a multi-hundred-MB transcript never holds the write lock long.
A chunk's lines are laid by :meth:`journal.writer.Writer.append_many`: multi-entry
segments, packed (:mod:`journal.packing`). ``journal import`` writes the very same
records through :mod:`journal.agents.bulk`.

Claude Code often writes a turn's last assistant line after ``Stop`` has fired (2
turns of 3 measured). So the hook also starts a short detached *follow-up*
(:func:`spawn_detached` with :data:`FOLLOW_UP_WAITS`) that captures the same paths
again about 1 s and 3 s later, without the hook (or the agent) waiting for it; the
cursor and the keys make the extra captures take each line once.

Stdlib only: the hook path uses it.
"""

from __future__ import annotations

import os
import struct
import sys
import time

from journal import digest as _digest
from journal import payload as _payload
from journal import wire
from journal.errors import InvalidPayloadError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Callable

    from journal.store import LmdbJournal
    from journal.writer import Writer
else:
    import _signal  # what ``signal`` wraps, already loaded; ``signal`` imports enum (~5 ms)

__all__ = [
    "CHUNK_BYTES",
    "FOLLOW_UP_WAITS",
    "KIND",
    "CaptureReport",
    "capture",
    "follow_up_waits",
    "pending_bytes",
    "spawn_detached",
]

KIND = "transcript"
CHUNK_BYTES = 1024 * 1024
#: Seconds a follow-up sleeps before each of its captures (about 1 s and 3 s after
#: the hook). ``AGENT_JOURNAL_CAPTURE_FOLLOW_UP`` overrides it: comma-separated
#: seconds, or ``0`` for no follow-up.
FOLLOW_UP_WAITS = (1.0, 2.0)
_CURSOR = struct.Struct(">QQQ")  # offset, st_dev, st_ino
_RACED = (-1, -1, -1)


class CaptureReport:
    """What a capture did to one file."""

    __slots__ = ("appended", "bytes", "complete", "duplicates", "offset", "path", "quarantined")

    def __init__(self, path: str) -> None:
        self.path = path
        self.appended = 0
        self.duplicates = 0
        self.quarantined = 0
        self.bytes = 0
        self.offset = 0
        self.complete = False

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "appended": self.appended,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "bytes": self.bytes,
            "offset": self.offset,
            "complete": self.complete,
        }


def _cursor_name(path: str) -> bytes:
    return os.path.abspath(path).encode("utf-8", "surrogateescape")


def _decode_cursor(value: bytes | None) -> tuple[int, int, int]:
    if value is None or len(value) != _CURSOR.size:
        return 0, 0, 0
    offset, dev, ino = _CURSOR.unpack(value)
    return offset, dev, ino


def _start(value: bytes | None, stat: os.stat_result) -> int:
    """The offset to read from: 0 when the file is new, replaced or shorter."""
    offset, dev, ino = _decode_cursor(value)
    if (dev, ino) != (stat.st_dev, stat.st_ino) or offset > stat.st_size:
        return 0
    return offset


def pending_bytes(journal: LmdbJournal, path: str) -> int:
    """How many bytes of ``path`` the journal has not captured yet (0 if unreadable)."""
    try:
        stat = os.stat(path)
    except OSError:
        return 0
    return stat.st_size - _start(journal.capture_cursor(_cursor_name(path)), stat)


def _read_lines(path: str, offset: int, budget: int) -> tuple[list[tuple[int, bytes]], int]:
    """Complete lines from ``offset``: about ``budget`` bytes, at least one line.

    Returns (offset, line) pairs and the offset just past the last complete line.
    """
    with open(path, "rb") as f:
        f.seek(offset)
        buf = f.read(budget)
        while buf and b"\n" not in buf:  # one line longer than the budget
            more = f.read(budget)
            if not more:
                break
            buf += more
    end = buf.rfind(b"\n") + 1  # 0 when no complete line
    lines = []
    pos = 0
    for line in buf[:end].split(b"\n")[:-1]:
        lines.append((offset + pos, line))
        pos += len(line) + 1
    return lines, offset + end


def capture(
    journal: LmdbJournal,
    path: str,
    *,
    source: str = "claude-code",
    max_bytes: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    gate: Callable[[], bool] | None = None,
    progress: Callable[[int], None] | None = None,
) -> CaptureReport:
    """Journal the complete lines of ``path`` past its cursor; see the module doc.

    ``max_bytes`` stops after about that many bytes (the rest stays for later);
    ``gate`` is handed to every write (the hook's budget); ``progress`` gets the
    bytes consumed by each chunk. An unreadable or missing file captures nothing.
    """
    report = CaptureReport(path)
    name = _cursor_name(path)
    source_b = wire.encode_name(source, "source")
    kind_b = KIND.encode()
    while max_bytes is None or report.bytes < max_bytes:
        try:
            stat = os.stat(path)
            cursor = journal.capture_cursor(name)
            start = _start(cursor, stat)
            lines, end = _read_lines(path, start, chunk_bytes)
        except OSError:
            break
        report.offset = start
        if end == start:
            report.complete = True
            break
        prepared = [_prepare(name, offset, line) for offset, line in lines]
        new_cursor = _CURSOR.pack(end, stat.st_dev, stat.st_ino)

        received_at = time.time_ns()

        work = _chunk(name, cursor, new_cursor, prepared, source_b, kind_b, received_at)
        done = journal.write(work, gate=gate)
        if done is None:  # the gate refused: out of time, the rest waits
            break
        if done is _RACED:
            continue
        report.appended += done[0]
        report.duplicates += done[1]
        report.quarantined += done[2]
        report.bytes += end - start
        report.offset = end
        if progress is not None:
            progress(end - start)
    return report


def _chunk(
    name: bytes,
    cursor: bytes | None,
    new_cursor: bytes,
    prepared: list[tuple[bytes | None, str, bytes, bytes]],
    source: bytes,
    kind: bytes,
    received_at: int,
) -> Callable[[Writer], tuple[int, int, int]]:
    """The write of one chunk: its lines and the cursor move, if the cursor is unmoved."""

    def work(w: Writer) -> tuple[int, int, int]:
        if w.cursor(name) != cursor:
            return _RACED  # another capture moved it: read again from the new cursor
        counts = _write(w, prepared, source, kind, received_at)
        w.set_cursor(name, new_cursor)
        return counts

    return work


def _prepare(name: bytes, offset: int, line: bytes) -> tuple[bytes | None, str, bytes, bytes]:
    """Validate one line outside the write transaction.

    Returns (stored, "", key, digest) for a good line, (None, reason, b"", line) for
    a bad one.
    """
    line = line.rstrip(b"\r")
    try:
        stored = _payload.validate(line)
    except InvalidPayloadError as exc:
        return None, exc.reason, b"", line
    pdig = _digest.digest(stored)
    key = b"t:" + _digest.digest(name + b"\0%d\0" % offset + pdig).hex()[:40].encode()
    return stored, "", key, pdig


def _write(
    w: Writer,
    prepared: list[tuple[bytes | None, str, bytes, bytes]],
    source: bytes,
    kind: bytes,
    received_at: int,
) -> tuple[int, int, int]:
    quarantined = 0
    good: list[tuple[bytes, bytes, bytes]] = []
    for stored, why, key, extra in prepared:
        if stored is None:
            if extra.strip():  # blank lines are not input
                w.quarantine(extra, f"transcript line: {why}", source, kind, received_at)
                quarantined += 1
            continue
        good.append((stored, extra, key))
    appended, duplicates = w.append_many(good, source, kind, received_at)
    return appended, duplicates, quarantined


def follow_up_waits() -> tuple[float, ...]:
    """:data:`FOLLOW_UP_WAITS`, or what ``AGENT_JOURNAL_CAPTURE_FOLLOW_UP`` says."""
    value = os.environ.get("AGENT_JOURNAL_CAPTURE_FOLLOW_UP")
    if value is None:
        return FOLLOW_UP_WAITS
    try:
        waits = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        return FOLLOW_UP_WAITS
    return tuple(min(max(w, 0.0), 60.0) for w in waits if w > 0)


def spawn_detached(
    home: str, source: str, paths: list[str], *, now: bool = True, waits: tuple[float, ...] = ()
) -> None:
    """Capture ``paths`` in a new process that outlives the hook (and the agent).

    The hook hands big backlogs, the capture at ``SessionEnd`` (when agents kill
    their hooks on exit) and the follow-ups of ``Stop`` to this process: it runs in
    its own session with no terminal and no pipes back to the agent. It captures at
    once unless ``now`` is False, then again after each of ``waits`` seconds,
    opening the journal only for each capture.
    """
    flags = [] if now else ["--later"]
    for wait in waits:
        flags += ["--wait", repr(wait)]
    argv = [sys.executable, "-m", "journal.agents.capture", *flags, home, source, *paths]
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        os.posix_spawn(
            sys.executable,
            argv,
            os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)],
            setsid=True,
            setsigdef=(_signal.SIGINT,),  # the hook ignores it; the capture need not
        )
    finally:
        os.close(devnull)


def _main(argv: list[str]) -> int:
    """``python -m journal.agents.capture [--later] [--wait S]... HOME SOURCE PATH...``.

    The detached capture (:func:`spawn_detached`).
    """
    now, waits = True, []
    while argv and argv[0] in ("--later", "--wait"):
        if argv.pop(0) == "--later":
            now = False
        else:
            waits.append(float(argv.pop(0)))
    home, source, *paths = argv
    if now:
        _capture_all(home, source, paths)
    for wait in waits:
        time.sleep(wait)
        _capture_all(home, source, paths)
    return 0


def _capture_all(home: str, source: str, paths: list[str]) -> None:
    from journal.home import LOG_DIR
    from journal.store import LmdbJournal

    if not os.path.isdir(os.path.join(home, LOG_DIR)):
        return  # the journal was removed meanwhile: never create a new one behind its back
    with LmdbJournal(home) as journal:
        for path in paths:
            capture(journal, path, source=source)


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
