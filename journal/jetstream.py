"""Pipelined JetStream publishing with acks, for ``journal ship``.

nats-py's ``publish_async`` costs a future, a random token, a semaphore and a
dataclass per message, which caps it well below DESIGN §6's 20k records/s on two
busy cores. A chunk of records is instead written as one buffer of ``HPUB`` frames
(the NATS protocol: ``HPUB <subject> <reply> <header bytes> <total bytes>``, then the
headers and the body), each with its own reply subject ``<inbox>.<index>``, and one
subscription on ``<inbox>.*`` collects the JetStream acks, which carry the stream
sequence and whether the message was a duplicate. The server still sees ordinary
publishes with reply subjects, exactly what ``publish_async`` sends.

The frames go through the client's own outgoing buffer (``_send_command``), so
reconnection, buffering while disconnected and flushing stay nats-py's; a client
without it falls back to ``publish`` per message.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

__all__ = ["Ack", "Publisher", "header_block"]

_CRLF = b"\r\n"


class Ack:
    """What the stream answered for one message: its sequence, or an error."""

    __slots__ = ("duplicate", "error", "seq")

    def __init__(self, seq: int, duplicate: bool, error: str | None) -> None:
        self.seq = seq
        self.duplicate = duplicate
        self.error = error


class Publisher:
    """Publish chunks of messages and wait for their acks (one chunk at a time)."""

    def __init__(self, nc: Any) -> None:
        self.nc = nc
        self.prefix = f"{nc.new_inbox()}."
        self.acks: list[Ack | None] = []
        self.missing = 0
        self.generation = 0
        self.done = asyncio.Event()
        self.sub: Any = None
        self._raw = getattr(nc, "_send_command", None)
        self.max_payload: int = getattr(nc, "max_payload", 1024 * 1024)

    async def start(self) -> None:
        self.sub = await self.nc.subscribe(self.prefix + "*", cb=self._on_ack)

    async def _on_ack(self, msg: Any) -> None:
        tail = msg.subject[len(self.prefix) :]
        generation, _, index_text = tail.partition("-")
        try:
            if int(generation) != self.generation:
                return  # the answer to a chunk given up on
            index = int(index_text)
            data = json.loads(msg.data)
        except ValueError:
            return
        if not 0 <= index < len(self.acks) or self.acks[index] is not None:
            return
        error = data.get("error")
        if error is not None:
            ack = Ack(0, False, str(error.get("description", error)))
        else:
            ack = Ack(int(data.get("seq", 0)), bool(data.get("duplicate", False)), None)
        self.acks[index] = ack
        self.missing -= 1
        if self.missing == 0:
            self.done.set()

    async def publish(self, messages: list[tuple[str, bytes, bytes]]) -> None:
        """Send ``(subject, header block, body)`` messages as one pipelined chunk."""
        self.generation += 1
        self.acks = [None] * len(messages)
        self.missing = len(messages)
        self.done.clear()
        reply = f"{self.prefix}{self.generation}-"
        if self._raw is None:
            for index, (subject, headers, body) in enumerate(messages):
                await self.nc.publish(
                    subject, body, reply=f"{reply}{index}", headers=_parse_headers(headers)
                )
            return
        frames = []
        for index, (subject, headers, body) in enumerate(messages):
            frames.append(
                b"HPUB %s %s%d %d %d\r\n%s%s\r\n"
                % (
                    subject.encode(),
                    reply.encode(),
                    index,
                    len(headers),
                    len(headers) + len(body),
                    headers,
                    body,
                )
            )
        await self._raw(b"".join(frames))
        await self.nc._flush_pending()

    async def wait(self, timeout: float, dropped: Any) -> list[Ack | None]:
        """The acks of the last chunk once all came, ``timeout`` passed or ``dropped()``."""
        deadline = time.monotonic() + timeout
        while self.missing and not dropped() and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(self.done.wait(), 0.2)
            except TimeoutError:
                pass
        return self.acks

    async def close(self) -> None:
        if self.sub is not None:
            try:
                await self.sub.unsubscribe()
            except Exception:  # the connection is closing anyway
                self.sub = None


def header_block(pairs: list[tuple[str, str]]) -> bytes:
    """The NATS header block (``NATS/1.0``, ``Key: value`` lines, a blank line)."""
    return b"NATS/1.0\r\n" + b"".join(f"{k}: {v}".encode() + _CRLF for k, v in pairs) + _CRLF


def _parse_headers(block: bytes) -> dict[str, str]:
    out = {}
    for line in block.split(_CRLF)[1:]:
        if line:
            key, _, value = line.decode().partition(": ")
            out[key] = value
    return out
