"""Bulk capture: the complete lines of many transcript files, in few big transactions.

``journal import`` runs this instead of :func:`journal.agents.capture.capture` per
file. It writes exactly what ``capture`` writes: the same records (kind
``transcript``, the same stored bytes, the same per-line idempotency keys made of
the path, the offset and the digest), the same quarantine entries, and each file's
cursor moved in the transaction that appends its lines. What differs is the cost:

- lines are validated with msgspec and hashed with OpenSSL, a whole window at once,
  in a forked worker while this process writes (:func:`journal._prepare.prepare`);
- a window of about :data:`WINDOW_BYTES` of input (many small files, or part of a
  big one) is one write transaction, so the random-keyed indexes (blobs,
  idempotency keys) are rewritten once per window rather than once per megabyte,
  and there are few commits (each one fsyncs);
- records are laid with :meth:`journal.writer.Writer.append_many`: packed
  segments, sorted ``putmulti`` for the indexes.

Exactly once, as ``capture``: a file's cursor is read before the window and checked
inside its transaction; if another capture (a hook) moved it meanwhile, nothing of
that file is written there and the file is captured again afterwards with
``capture`` itself, from wherever the cursor then stands. The per-line keys make
even that race harmless.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from hashlib import sha256 as _sha256
from itertools import accumulate
from typing import cast

from journal import digest as _digest
from journal import wire
from journal._prepare import prepare

from .capture import _CURSOR, KIND, CaptureReport, _cursor_name, _start, capture

TYPE_CHECKING = False
if TYPE_CHECKING:
    from journal.store import LmdbJournal
    from journal.writer import Writer

__all__ = ["WINDOW_BYTES", "capture_files"]

#: Input bytes per write transaction (and per validation pass).
WINDOW_BYTES = 32 * 1024 * 1024
_KIND = KIND.encode()


class _Piece:
    """Complete lines of one file from ``start`` to ``end``, as read."""

    __slots__ = ("after", "before", "end", "index", "lines", "name", "offsets", "start")

    def __init__(
        self,
        index: int,
        name: bytes,
        before: bytes | None,
        after: bytes,
        start: int,
        end: int,
        lines: list[bytes],
        offsets: list[int],
    ) -> None:
        self.index = index  # the file's position in the list
        self.name = name  # its cursor name
        self.before = before  # the cursor value this piece starts from
        self.after = after  # the cursor value once this piece is in
        self.start = start
        self.end = end
        self.lines = lines  # non-blank lines, \r removed
        self.offsets = offsets  # the byte offset of each line in the file


def _pieces(journal: LmdbJournal, index: int, path: str, report: CaptureReport) -> Iterator[_Piece]:
    """Read ``path`` past its cursor in pieces of at most about a window."""
    name = _cursor_name(path)
    try:
        stat = os.stat(path)
        before = journal.capture_cursor(name)
        start = _start(before, stat)
        report.offset = start
        with open(path, "rb") as handle:
            handle.seek(start)
            while True:
                # read() allocates what it is asked for: ask for about what is there.
                buf = handle.read(min(WINDOW_BYTES, max(stat.st_size - start, 0) + 65536))
                while buf and b"\n" not in buf:  # one line longer than the window
                    more = handle.read(WINDOW_BYTES)
                    if not more:
                        break
                    buf += more
                cut = buf.rfind(b"\n") + 1
                if cut == 0:
                    report.complete = True
                    return
                if cut < len(buf):
                    handle.seek(start + cut)
                lines, offsets = _split(buf[:cut], start)
                end = start + cut
                after = _CURSOR.pack(end, stat.st_dev, stat.st_ino)
                yield _Piece(index, name, before, after, start, end, lines, offsets)
                before, start = after, end
    except OSError:
        return


def _split(data: bytes, start: int) -> tuple[list[bytes], list[int]]:
    """The non-blank lines of ``data`` (complete lines, read at ``start``), without
    a trailing CR, and the file offset of each."""
    raw = data.split(b"\n")
    raw.pop()  # after the last newline
    if data[:1] == b"{" and data.count(b"\n{") == len(raw) - 1 and b"\r" not in data:
        # Every line is an object as written: no blank lines, nothing to trim.
        return raw, list(accumulate((len(line) + 1 for line in raw[:-1]), initial=start))
    lines, offsets, pos = [], [], start
    for line in raw:
        if line.strip():
            lines.append(line.rstrip(b"\r"))
            offsets.append(pos)
        pos += len(line) + 1
    return lines, offsets


def _windows(
    journal: LmdbJournal, files: list[str], reports: list[CaptureReport]
) -> Iterator[list[_Piece]]:
    window: list[_Piece] = []
    size = 0
    for index, path in enumerate(files):
        for piece in _pieces(journal, index, path, reports[index]):
            window.append(piece)
            size += piece.end - piece.start
            if size >= WINDOW_BYTES:
                yield window
                window, size = [], 0
    if window:
        yield window


def capture_files(
    journal: LmdbJournal,
    files: list[str],
    *,
    source: str,
    progress: Callable[[int], None] | None = None,
) -> list[CaptureReport]:
    """Capture the complete lines of every file; one :class:`CaptureReport` each."""
    _digest.use_openssl()
    source_b = wire.encode_name(source, "source")
    reports = [CaptureReport(path) for path in files]
    raced: set[int] = set()
    # A window keeps many new objects alive that hold no cycles: the cyclic GC would
    # scan them again and again, and in a forked worker's parent touch (copy) every
    # page it scans.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="journal-pack") as packer:
            for window in _windows(journal, files, reports):
                _write_window(journal, window, reports, raced, source_b, progress, packer)
    finally:
        if gc_was_enabled:
            gc.enable()
    for index in sorted(raced):  # another capture moved a cursor: do it the usual way
        again = capture(journal, files[index], source=source, progress=progress)
        report = reports[index]
        report.appended += again.appended
        report.duplicates += again.duplicates
        report.quarantined += again.quarantined
        report.bytes += again.bytes
        report.offset, report.complete = again.offset, again.complete
    return reports


def _write_window(
    journal: LmdbJournal,
    window: list[_Piece],
    reports: list[CaptureReport],
    raced: set[int],
    source: bytes,
    progress: Callable[[int], None] | None,
    packer: Executor,
) -> None:
    items = [line for piece in window for line in piece.lines]
    chunks = prepare(items)  # forks the validating worker (if at all) before the txn
    received_at = time.time_ns()

    def work(w: Writer) -> None:
        # Verdicts arrive chunk by chunk; a piece is written once all its lines have
        # one. ``digests`` is aligned with ``items`` (None for a rejected line); the
        # exceptions (rejected, or stored without surrounding whitespace) are rare.
        digests: list[bytes | None] = []
        odd = _Odd()
        pieces = iter(window)
        piece = next(pieces, None)
        first = 0  # index in ``items`` of the current piece's first line
        for lines, chunk_digests, _kinds, stripped, bad in chunks:
            if bad:
                base = len(digests)
                digests.extend([None] * (len(lines) + len(bad)))
                for line, pdig in zip(lines, chunk_digests, strict=True):
                    digests[line - 1] = pdig
                odd.bad.update((line - 1, reason) for line, reason in bad)
                odd.low = min(odd.low, base)
            else:
                digests.extend(chunk_digests)
            if stripped:
                odd.stripped.update((line - 1, data) for line, data in stripped.items())
                odd.low = min(odd.low, min(stripped) - 1)
            while piece is not None and first + len(piece.lines) <= len(digests):
                end = first + len(piece.lines)
                verdicts = _Verdicts(items, digests, odd, first, end)
                _write_piece(w, packer, piece, verdicts, reports, raced, source, received_at)
                first, piece = end, next(pieces, None)
        while piece is not None:  # pieces of blank lines only
            verdicts = _Verdicts(items, digests, odd, first, first)
            _write_piece(w, packer, piece, verdicts, reports, raced, source, received_at)
            piece = next(pieces, None)

    try:
        journal.write(work)
    finally:
        chunks.close()
    if progress is not None:
        for piece in window:
            if piece.index not in raced:
                progress(piece.end - piece.start)


class _Odd:
    """The lines of a window whose verdict is not simply "valid, stored as read"."""

    __slots__ = ("bad", "low", "stripped")

    def __init__(self) -> None:
        self.bad: dict[int, str] = {}  # index in the window -> why it was rejected
        self.stripped: dict[int, bytes] = {}  # index -> stored bytes, when not the line
        self.low = 1 << 62  # no index below this is odd


class _Verdicts:
    """The verdicts of the lines ``first:end`` of a window."""

    __slots__ = ("digests", "end", "first", "items", "odd")

    def __init__(
        self, items: list[bytes], digests: list[bytes | None], odd: _Odd, first: int, end: int
    ) -> None:
        self.items, self.digests, self.odd, self.first, self.end = items, digests, odd, first, end

    def plain(self) -> bool:
        """Whether every line is valid and stored exactly as read."""
        odd = self.odd
        if self.end <= odd.low:
            return True
        return not any(self.first <= i < self.end for i in (*odd.bad, *odd.stripped))


def _write_piece(
    w: Writer,
    packer: Executor,
    piece: _Piece,
    verdicts: _Verdicts,
    reports: list[CaptureReport],
    raced: set[int],
    source: bytes,
    received_at: int,
) -> None:
    if piece.index in raced or w.cursor(piece.name) != piece.before:
        raced.add(piece.index)
        return
    name, kind, first, end = piece.name, _KIND, verdicts.first, verdicts.end
    found = verdicts.digests[first:end]
    quarantined = 0
    if verdicts.plain():  # no None among the digests
        stored: list[bytes] = piece.lines
        offsets = piece.offsets
        digests = cast("list[bytes]", found)
    else:
        odd, stored, offsets, digests = verdicts.odd, [], [], []
        for i, (offset, line) in enumerate(zip(piece.offsets, piece.lines, strict=True)):
            why = odd.bad.get(first + i)
            if why is not None:
                w.quarantine(line, f"transcript line: {why}", source, kind, received_at)
                quarantined += 1
                continue
            pdig = found[i]
            assert pdig is not None  # a line without a reason has a digest
            stored.append(odd.stripped.get(first + i, line))
            offsets.append(offset)
            digests.append(pdig)
    sha = _sha256
    keys = [
        b"t:" + sha(b"%b\0%d\0%b" % (name, offset, pdig)).hexdigest()[:40].encode()
        for offset, pdig in zip(offsets, digests, strict=True)
    ]
    good = list(zip(stored, digests, keys, strict=True))
    appended, duplicates = w.append_many(good, source, kind, received_at, packer=packer)
    w.set_cursor(name, piece.after)
    report = reports[piece.index]
    report.appended += appended
    report.duplicates += duplicates
    report.quarantined += quarantined
    report.bytes += piece.end - piece.start
    report.offset = piece.end
