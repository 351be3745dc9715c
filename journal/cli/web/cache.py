"""The pages' answers, kept while nothing they depend on can have moved.

A page's answer is a fold of the log up to its head, plus a run's status, which
also moves with the clock (a quiet run turns interrupted). So an answer is kept
while the head the server last saw is the one it was computed at, and for at most
:data:`TTL_SECONDS`. Only the pages' own endpoints are kept: ``/api/runs`` and the
other CLI-equal answers are computed for each request.
"""

from __future__ import annotations

import time

__all__ = ["TTL_SECONDS", "PageCache"]

TTL_SECONDS = 5.0
_MAX_ENTRIES = 64


class PageCache:
    """Encoded answers by request key, each with the head it was computed at."""

    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[int, float, bytes]] = {}

    def get(self, key: str, head: int) -> bytes | None:
        """The answer kept for ``key`` if it was computed at ``head`` and is fresh."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != head or time.monotonic() - entry[1] > self.ttl:
            return None
        return entry[2]

    def put(self, key: str, head: int, body: bytes) -> None:
        """Keep ``body`` as the answer for ``key`` at ``head``."""
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (head, time.monotonic(), body)
