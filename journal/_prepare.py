"""Validate and hash a batch, chunk by chunk, optionally on a second core.

A batch append spends most of its time validating and hashing payloads, work that
needs no LMDB. Each chunk is checked as a whole where possible
(:func:`journal.payload.validate_many`). For large batches a forked worker does this
while the parent writes the previous chunk, so the two overlap (+29–37 % batch
throughput in the default runs of docs/performance.md). The worker never touches
the LMDB environment: it is forked before the write transaction begins, reads only
one joined copy of the input (so it does not write to the pages of the parent's
objects), sends back digests, kinds and verdicts, and leaves with ``os._exit``. If
it cannot start or dies, the parent does the remaining chunks itself: the results
are the same either way.
"""

from __future__ import annotations

import itertools
import os
import pickle
import sys
from typing import TYPE_CHECKING

from . import digest as _digest
from . import payload as _payload

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

__all__ = ["CHUNK", "PARALLEL_MIN", "Chunk", "prepare"]

CHUNK = 4096
PARALLEL_MIN = 16384

#: One chunk's verdicts: ``(lines, digests, kinds, stripped, bad)``. ``lines`` are
#: the 1-based positions of the valid items, with their payload ``digests`` and
#: ``kinds`` at the same index; ``stripped`` maps a line to its stored bytes where
#: they differ from the input (surrounding whitespace); ``bad`` is (line, reason).
Chunk = tuple[list[int], list[bytes], list[bytes], dict[int, bytes], list[tuple[int, str]]]


def _prepare_chunk(
    items: Sequence[bytes], start: int, stop: int, joined: bytes | None = None
) -> Chunk:
    """Validate and hash ``items[start:stop]`` (or the lines of ``joined``, if given)."""
    part = joined.split(b"\n") if joined is not None else list(items[start:stop])
    sha = _digest.digest
    kinds_seen: dict[str, bytes] = {}
    lines: list[int] = []
    digests: list[bytes] = []
    kinds: list[bytes] = []
    stripped: dict[int, bytes] = {}
    bad: list[tuple[int, str]] = []
    line = start
    for data, verdict in zip(part, _payload.validate_many(part, joined), strict=True):
        line += 1
        if isinstance(verdict, str):
            bad.append((line, verdict))
            continue
        stored, kind = verdict
        if stored is not data:
            stripped[line] = stored
        kind_b = kinds_seen.get(kind)
        if kind_b is None:
            kind_b = kinds_seen[kind] = kind.encode()
        lines.append(line)
        digests.append(sha(stored))
        kinds.append(kind_b)
    return lines, digests, kinds, stripped, bad


def _serial(items: Sequence[bytes], bounds: list[tuple[int, int]]) -> Generator[Chunk]:
    for start, stop in bounds:
        yield _prepare_chunk(items, start, stop)


def _read_exact(fd: int, size: int) -> bytes | None:
    parts, remaining = [], size
    while remaining:
        part = os.read(fd, min(remaining, 1 << 20))
        if not part:
            return None
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _forked(items: Sequence[bytes], bounds: list[tuple[int, int]]) -> Generator[Chunk]:
    """Fork the worker now (before any write transaction) and return its reader."""
    blob = b"\n".join(items)
    if blob.count(b"\n") != len(items) - 1:  # an item holds a newline
        return _serial(items, bounds)
    ends = list(itertools.accumulate(len(data) + 1 for data in items))
    spans = [(ends[start - 1] if start else 0, ends[stop - 1] - 1) for start, stop in bounds]
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return _serial(items, bounds)
    if pid == 0:  # the worker: compute, send, and leave without running any cleanup
        status = 0
        try:
            os.close(read_fd)
            for (start, stop), (low, high) in zip(bounds, spans, strict=True):
                out = pickle.dumps(_prepare_chunk(items, start, stop, blob[low:high]))
                view = memoryview(len(out).to_bytes(8, "big") + out)
                while view:
                    view = view[os.write(write_fd, view) :]
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    return _collect(items, bounds, pid, read_fd)


def _collect(
    items: Sequence[bytes], bounds: list[tuple[int, int]], pid: int, read_fd: int
) -> Generator[Chunk]:
    done = 0
    try:
        for _bound in bounds:
            header = _read_exact(read_fd, 8)
            blob = _read_exact(read_fd, int.from_bytes(header, "big")) if header else None
            if blob is None:
                break
            chunk: Chunk = pickle.loads(blob)
            yield chunk
            done += 1
    finally:
        os.close(read_fd)
        if done < len(bounds):
            os.kill(pid, 9)
        os.waitpid(pid, 0)
    # The worker died early: finish the remaining chunks here.
    yield from _serial(items, bounds[done:])


def prepare(items: Sequence[bytes], *, parallel: bool | None = None) -> Generator[Chunk]:
    """Yield one :data:`Chunk` per :data:`CHUNK` items, in order.

    ``parallel=None`` uses a worker process for batches of :data:`PARALLEL_MIN` items
    or more when the platform can fork and the machine has a second core.
    """
    _digest.use_openssl()
    _payload.validate_fast(b"{}")  # import msgspec before forking, not twice
    bounds = [(start, min(start + CHUNK, len(items))) for start in range(0, len(items), CHUNK)]
    if parallel is None:
        parallel = (
            len(items) >= PARALLEL_MIN
            and hasattr(os, "fork")
            and (os.cpu_count() or 1) > 1
            and sys.platform != "darwin"
        )
    return _forked(items, bounds) if parallel else _serial(items, bounds)
