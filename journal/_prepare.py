"""Validate and hash a batch, chunk by chunk, optionally on a second core.

Batch appends spend about half their time validating and hashing payloads, work
that needs no LMDB. For large batches a forked worker does it while the parent
writes the previous chunk, so the two halves overlap. The worker never touches the
LMDB environment (it is forked before the write transaction begins and leaves with
``os._exit``) and sends back, per chunk, the stored bytes, digests and kinds of valid
items and the reasons for invalid ones. If the worker cannot start or dies, the parent does the
remaining chunks itself: the results are the same either way.
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import TYPE_CHECKING

from . import digest as _digest
from . import payload as _payload
from .errors import InvalidPayloadError

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

__all__ = ["CHUNK", "PARALLEL_MIN", "Bad", "Good", "Prepared", "prepare"]

CHUNK = 4096
PARALLEL_MIN = 16384

#: (line, stored bytes, payload digest, kind) of a valid item, line counted from 1.
Good = tuple[int, bytes, bytes, bytes]
#: (line, reason) of an invalid item.
Bad = tuple[int, str]
Prepared = tuple[list[Good], list[Bad]]


def _prepare_chunk(items: Sequence[bytes], start: int, stop: int) -> Prepared:
    validate, sha = _payload.validate_fast_with_kind, _digest.digest
    kinds: dict[str, bytes] = {}
    good: list[Good] = []
    bad: list[Bad] = []
    for index in range(start, stop):
        try:
            stored, kind = validate(items[index])
        except InvalidPayloadError as exc:
            bad.append((index + 1, exc.reason))
            continue
        kind_b = kinds.get(kind)
        if kind_b is None:
            kind_b = kinds[kind] = kind.encode()
        good.append((index + 1, stored, sha(stored), kind_b))
    return good, bad


def _chunks(n: int) -> list[tuple[int, int]]:
    return [(start, min(start + CHUNK, n)) for start in range(0, n, CHUNK)]


def _serial(items: Sequence[bytes], bounds: list[tuple[int, int]]) -> Generator[Prepared]:
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


def _forked(items: Sequence[bytes], bounds: list[tuple[int, int]]) -> Generator[Prepared]:
    """Fork the worker now (before any write transaction) and return its reader."""
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
            for start, stop in bounds:
                blob = pickle.dumps(_prepare_chunk(items, start, stop), protocol=5)
                view = memoryview(len(blob).to_bytes(8, "big") + blob)
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
) -> Generator[Prepared]:
    done = 0
    try:
        for _bound in bounds:
            header = _read_exact(read_fd, 8)
            blob = _read_exact(read_fd, int.from_bytes(header, "big")) if header else None
            if blob is None:
                break
            chunk: Prepared = pickle.loads(blob)
            yield chunk
            done += 1
    finally:
        os.close(read_fd)
        if done < len(bounds):
            os.kill(pid, 9)
        os.waitpid(pid, 0)
    # The worker died early: finish the remaining chunks here.
    yield from _serial(items, bounds[done:])


def prepare(items: Sequence[bytes], *, parallel: bool | None = None) -> Generator[Prepared]:
    """Yield ``(good, bad)`` per chunk of :data:`CHUNK` items, in order.

    ``parallel=None`` uses a worker process for batches of :data:`PARALLEL_MIN` items
    or more when the platform can fork and the machine has a second core.
    """
    _digest.use_openssl()
    _payload.validate_fast(b"{}")  # import msgspec before forking, not twice
    bounds = _chunks(len(items))
    if parallel is None:
        parallel = (
            len(items) >= PARALLEL_MIN
            and hasattr(os, "fork")
            and (os.cpu_count() or 1) > 1
            and sys.platform != "darwin"
        )
    return _forked(items, bounds) if parallel else _serial(items, bounds)
