"""An in-memory :class:`~projections.view.State`: the oracle for fold tests."""

from __future__ import annotations

import bisect
from collections.abc import Iterator

__all__ = ["MemoryState"]


class MemoryState:
    """A dict-backed state with key-ordered prefix scans."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        self.data.pop(key, None)

    def scan(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        keys = sorted(self.data)
        for key in keys[bisect.bisect_left(keys, prefix) :]:
            if not key.startswith(prefix):
                break
            yield key, self.data[key]
