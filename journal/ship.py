"""``journal ship``: every record to NATS JetStream, exactly once (invariant 10).

Each record becomes one message on ``agent-journal.<origin>.<source>`` whose body is
the record's envelope (:mod:`journal.export`, payload bytes exact) with headers
``Nats-Msg-Id: <origin>:<origin seq>`` (JetStream drops a second message with a known
id inside the stream's duplicate window) and ``Agent-Journal-Digest`` (the payload
digest, which the receiver checks). Why this is exactly once whatever kills the
shipper when is argued in ``docs/explanation/exactly-once-shipping.md``; in short:

1. Messages are published in seq order, a chunk at a time (:mod:`journal.jetstream`:
   publish the chunk, then await its acks), and the consumer's checkpoint
   (:func:`journal.export.save_checkpoint`) moves only over a prefix of acked records,
   with the stream sequence of the last one. So every record at or below the
   checkpoint is in the stream.
2. Records above it may be in the stream too (acked, or stored with the ack lost, when
   the shipper died or the server went away). Before the first chunk, and after every
   failure, the shipper flushes its connection (the server has then processed all it
   was sent), reads this origin's messages stored after the checkpoint's stream
   sequence (``next_by_subj``) and does not publish those again. Only a message still
   in flight from a killed process can slip past that look; the restart publishes it
   again at once, well inside the stream's duplicate window, which drops it.
3. One process ships per consumer (a lock file).

nats-py is imported only here, and this module only by ``journal ship``/``pull``:
the optional extra ``agent-journal[ship]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from typing import TYPE_CHECKING, Any

from . import home as _home
from .errors import JournalError
from .export import (
    Checkpoint,
    consumer_lock,
    encode_envelope,
    load_checkpoint,
    read_origin,
    save_checkpoint,
)
from .jetstream import Ack, Publisher, header_block

if TYPE_CHECKING:
    from collections.abc import Callable

    from .records import Record
    from .store import LmdbJournal

__all__ = [
    "DEFAULT_STREAM",
    "DIGEST_HEADER",
    "SUBJECT_PREFIX",
    "ShipError",
    "connect",
    "ship",
    "subject_of",
]

SUBJECT_PREFIX = "agent-journal"
DEFAULT_STREAM = "AGENT_JOURNAL"
DIGEST_HEADER = "Agent-Journal-Digest"
MSG_ID_HEADER = "Nats-Msg-Id"
#: Records read per opening of the log, and published before their acks are awaited.
CHUNK = 4096
ACK_TIMEOUT = 10.0
#: How long ``ship`` (without ``--follow``) keeps retrying without any progress.
GIVE_UP_SECONDS = 60.0
_FOLLOW_POLL_SECONDS = 0.25
_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


class ShipError(JournalError, ConnectionError):
    """The stream could not be reached or refused what was shipped or pulled."""

    exit_code = 1


def _nats() -> Any:
    try:
        import nats
    except ImportError:
        raise ShipError(
            "shipping needs the NATS client: pip install 'agent-journal[ship]'"
        ) from None
    return nats


def subject_of(origin: str, source: str) -> str:
    """The subject of a record: ``agent-journal.<origin>.<source>`` (one token each)."""
    return f"{SUBJECT_PREFIX}.{origin}.{_TOKEN.sub('_', source) or '_'}"


class Link:
    """Counts disconnections, so an ack wait ends at once when the server goes away."""

    def __init__(self) -> None:
        self.disconnects = 0

    async def disconnected(self) -> None:
        self.disconnects += 1


async def connect(url: str, link: Link | None = None) -> Any:
    """A connection to ``nats://HOST:PORT`` that reconnects forever once established.

    Raises:
        ShipError: the URL is not a NATS URL, or no server answers.
    """
    if not re.fullmatch(r"(nats|tls)://[^\s/]+", url):
        raise ShipError(f"not a NATS URL: {url!r} (expected nats://HOST:PORT)")
    nats = _nats()

    async def quiet(exc: Exception) -> None:
        return None

    try:
        return await nats.connect(
            url,
            name="agent-journal",
            connect_timeout=5,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,
            error_cb=quiet,
            disconnected_cb=link.disconnected if link is not None else None,
        )
    except Exception as exc:
        raise ShipError(f"cannot reach {url}: {exc or type(exc).__name__}") from None


async def ensure_stream(js: Any, stream: str, *, create: bool) -> None:
    """Check that ``stream`` exists, creating it (file storage) when ``create``."""
    from nats.js import api
    from nats.js.errors import NotFoundError

    try:
        await js.stream_info(stream)
        return
    except NotFoundError:
        if not create:
            raise ShipError(
                f"stream {stream} does not exist (create it, or pass --create-stream)"
            ) from None
    await js.add_stream(
        api.StreamConfig(
            name=stream,
            subjects=[f"{SUBJECT_PREFIX}.>"],
            storage=api.StorageType.FILE,
            duplicate_window=120.0,
        )
    )


class _Retry(Exception):
    """The pipeline stopped at an unacked record; start again from the checkpoint."""


class _Shipper:
    def __init__(
        self,
        open_journal: Callable[[], LmdbJournal],
        js: Any,
        home: str,
        consumer: str,
        stream: str,
        origin: str,
        name: str | None,
        state: Checkpoint,
        link: Link,
        nc: Any,
        publisher: Publisher,
    ) -> None:
        self.link = link
        self.nc = nc
        self.publisher = publisher
        self.open_journal = open_journal
        self.js = js
        self.home = home
        self.consumer = consumer
        self.stream = stream
        self.origin = origin
        self.name = name
        self.state = state
        self.shipped = 0
        #: Origin seqs of this journal already in the stream above the checkpoint.
        self.present: dict[int, int] = {}
        self.scanned = False

    async def scan(self) -> None:
        """Find this origin's messages stored after the checkpoint (see the module doc)."""
        from nats.js.errors import NotFoundError

        subject = f"{SUBJECT_PREFIX}.{self.origin}.>"
        seq = self.state.stream_seq + 1
        prefix = f"{self.origin}:"
        self.present.clear()
        while True:
            try:
                msg = await self.js.get_msg(self.stream, seq=seq, subject=subject, next=True)
            except NotFoundError:
                self.scanned = True
                return
            ident = (msg.headers or {}).get(MSG_ID_HEADER, "")
            if ident.startswith(prefix):
                with contextlib.suppress(ValueError):
                    self.present[int(ident[len(prefix) :])] = msg.seq
            seq = msg.seq + 1

    def _advance(self, seq: int, stream_seq: int) -> None:
        self.state.checkpoint = seq
        self.state.stream_seq = max(self.state.stream_seq, stream_seq)

    async def chunk(self) -> int:
        """Ship the next chunk of records; return how many records it held.

        After a failure the stream is scanned again first: records stored without
        an ack (a server restart, a lost connection) are then not published twice.
        """
        if not self.scanned:
            await self.nc.flush(timeout=5)  # what a failed chunk sent is processed first
            await self.scan()
        with self.open_journal() as journal:
            records = list(journal.read(after=self.state.checkpoint, limit=CHUNK))
        if not records:
            return 0
        # Per record: the stream sequence it already has, or its index in the chunk.
        slots: list[tuple[Record, int, bool]] = []
        messages: list[tuple[str, bytes, bytes]] = []
        limit = self.publisher.max_payload
        for record in records:
            ident, oseq = record.origin_of(self.origin)
            known = self.present.get(oseq) if ident == self.origin else None
            if known is not None:
                slots.append((record, known, True))
                continue
            body = encode_envelope(record, self.origin, self.name)
            if len(body) > limit:
                raise ShipError(
                    f"record {record.seq} is {len(body)} bytes, more than the server's "
                    f"max_payload ({limit}): raise max_payload in the server's configuration"
                )
            headers = header_block(
                [(MSG_ID_HEADER, f"{ident}:{oseq}"), (DIGEST_HEADER, record.digest)]
            )
            slots.append((record, len(messages), False))
            messages.append((subject_of(ident, record.source), headers, body))
        acks: list[Ack | None] = []
        try:
            if messages:
                await self.publisher.publish(messages)
                seen = self.link.disconnects
                acks = await self.publisher.wait(ACK_TIMEOUT, lambda: self.link.disconnects != seen)
        except Exception as exc:
            self.scanned = False
            self._settle(slots, acks)
            raise _Retry(str(exc)) from None
        if not self._settle(slots, acks):
            self.scanned = False
            raise _Retry("a publish was not acknowledged")
        return len(records)

    def _settle(self, slots: list[tuple[Record, int, bool]], acks: list[Ack | None]) -> bool:
        """Advance over the acked prefix and save it; True if every record was acked."""
        complete = True
        before = self.state.checkpoint
        for record, value, known in slots:
            if known:
                self._advance(record.seq, value)
                continue
            ack = acks[value] if value < len(acks) else None
            if ack is None or ack.error is not None:
                complete = False
                break
            if not ack.duplicate:
                self.shipped += 1
            self._advance(record.seq, ack.seq)
        if self.state.checkpoint != before:
            save_checkpoint(self.home, "ship", self.consumer, self.state)
        return complete


def _log_mark(home: str) -> tuple[int, int]:
    """What changes when a write commits (LMDB writes its data file with write())."""
    try:
        st = os.stat(os.path.join(home, _home.LOG_DIR, "data.mdb"))
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


async def _run(
    open_journal: Callable[[], LmdbJournal],
    url: str,
    stream: str,
    consumer: str,
    follow: bool,
    create: bool,
    stop: asyncio.Event | None,
) -> tuple[int, int]:
    info = read_origin(open_journal)
    home = info.home
    link = Link()
    nc = await connect(url, link)
    try:
        js = nc.jetstream()
        try:
            await ensure_stream(js, stream, create=create)
        except JournalError:
            raise
        except Exception as exc:
            raise ShipError(f"stream {stream}: {exc}") from None
        state = load_checkpoint(home, "ship", consumer)
        target = (url, stream)
        if state.target is not None and (state.target, state.stream) != target:
            raise ShipError(
                f"consumer {consumer!r} ships to {state.target} stream {state.stream}; "
                "name another with --consumer"
            )
        state.target, state.stream = target
        publisher = Publisher(nc)
        await publisher.start()
        shipper = _Shipper(
            open_journal,
            js,
            home,
            consumer,
            stream,
            info.origin,
            info.name,
            state,
            link,
            nc,
            publisher,
        )
        mark = (-1, -1)
        while stop is None or not stop.is_set():
            count = await _retrying(shipper.chunk, follow, stop)
            if count == CHUNK:
                continue
            if not follow:
                break
            while stop is None or not stop.is_set():  # wait for a commit, not for a timer
                now = _log_mark(home)
                if now != mark:
                    mark = now
                    break
                await asyncio.sleep(_FOLLOW_POLL_SECONDS)
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
    return shipper.shipped, state.checkpoint


async def _retrying(work: Callable[[], Any], follow: bool, stop: asyncio.Event | None) -> Any:
    """Run ``work`` until it succeeds: after a failure wait a little and run it again."""
    from nats.errors import Error as NatsError

    started = time.monotonic()
    delay = 0.05
    while True:
        try:
            return await work()
        except (TimeoutError, _Retry, NatsError, OSError) as exc:
            if isinstance(exc, JournalError):
                raise
            if not follow and time.monotonic() - started > GIVE_UP_SECONDS:
                raise ShipError(f"the stream did not acknowledge for a minute: {exc}") from None
            if stop is not None and stop.is_set():
                raise ShipError("stopped before the stream acknowledged") from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def ship(
    open_journal: Callable[[], LmdbJournal],
    url: str,
    *,
    stream: str = DEFAULT_STREAM,
    consumer: str = "default",
    follow: bool = False,
    create: bool = False,
) -> tuple[int, int]:
    """Ship records after the consumer's checkpoint; return ``(shipped, checkpoint)``.

    ``open_journal`` opens the log read-only; it is opened per chunk of records and
    closed before they are published. With ``follow`` it keeps shipping as records
    land, until SIGTERM or SIGINT. ``shipped`` counts records the stream did not
    already hold.

    Raises:
        ShipError: no server, no stream (without ``create``), no acks for a minute.
        LockedError: another process ships for this consumer.
    """
    with open_journal() as journal:
        home = journal.home
    with consumer_lock(home, "ship", consumer):
        return asyncio.run(_main(open_journal, url, stream, consumer, follow, create))


async def _main(
    open_journal: Callable[[], LmdbJournal],
    url: str,
    stream: str,
    consumer: str,
    follow: bool,
    create: bool,
) -> tuple[int, int]:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if follow:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    return await _run(open_journal, url, stream, consumer, follow, create, stop)
