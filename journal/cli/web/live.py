"""Live updates: the server watches the log's head and tells every open page.

The watch is cheap: a ``stat`` of the log's data file every :data:`POLL_SECONDS`,
and only when its size or modification time moved (or every :data:`RECHECK_SECONDS`
in any case) a read-only open of the log for its head, closed straight away
(DESIGN §2: no long-lived open of the log). A new head is sent to each subscriber
(a page's server-sent event stream), which then asks the API again.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable

__all__ = ["POLL_SECONDS", "RECHECK_SECONDS", "HeadWatch", "event_stream"]

POLL_SECONDS = 0.25
RECHECK_SECONDS = 2.0
KEEPALIVE_SECONDS = 15.0


class HeadWatch:
    """The log's head as last seen, and the queues of the pages that listen."""

    def __init__(self, data_file: str, read_head: Callable[[], int]) -> None:
        """``read_head`` opens the log, returns its head and closes it (blocking)."""
        self.data_file = data_file
        self.read_head = read_head
        self.head = 0
        self._seen: tuple[int, int] | None = None
        self._checked = 0.0
        self._queues: set[asyncio.Queue[int]] = set()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.data_file)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    async def check(self) -> None:
        """Look at the log once; tell the listeners if its head moved."""
        stamp = self._stamp()
        now = time.monotonic()
        if stamp == self._seen and now - self._checked < RECHECK_SECONDS:
            return
        self._seen, self._checked = stamp, now
        head = await asyncio.to_thread(self.read_head)
        if head != self.head:
            self.head = head
            for queue in list(self._queues):
                queue.put_nowait(head)

    async def run(self) -> None:
        """Check forever (until cancelled); a failed check is tried again next poll."""
        while True:
            try:
                await self.check()
            except Exception:  # a damaged or vanished home: keep serving, keep looking
                self._seen = None
            await asyncio.sleep(POLL_SECONDS)

    def subscribe(self) -> asyncio.Queue[int]:
        """A queue that receives each new head."""
        queue: asyncio.Queue[int] = asyncio.Queue()
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[int]) -> None:
        """Stop sending to ``queue``."""
        self._queues.discard(queue)


async def event_stream(watch: HeadWatch) -> AsyncIterator[bytes]:
    """A page's ``text/event-stream``: the head now, then each new head, with a comment
    line now and then so that proxies and the browser keep the connection."""
    queue = watch.subscribe()
    try:
        yield b"retry: 1000\nevent: head\ndata: %d\n\n" % watch.head
        while True:
            try:
                head = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            yield b"event: head\ndata: %d\n\n" % head
    finally:
        watch.unsubscribe(queue)
