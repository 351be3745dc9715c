"""``journal pull``: shipped records of other journals, folded into this one.

A durable JetStream pull consumer (``pull-<this origin>`` unless named) reads the
stream; each message's envelope (:func:`journal.export.split_envelope`) gives the
record's origin, origin seq, source, kind, event time and exact payload bytes, which
must hash to the digest in the envelope and in the ``Agent-Journal-Digest`` header.
A batch is appended in one write transaction as version 3 records
(:mod:`journal.wire`) under the idempotency key ``<origin>:<origin seq>``, and acked
(ack-all: the last message acks the batch) only after it committed. A message
delivered again (a pull killed between commit and ack, a second pull, the same record
shipped twice) finds its key and adds nothing. A message whose bytes fail the check is
quarantined with the reason, and acked so that it does not block the rest. Records of
this journal's own origin are skipped: they are already here. The name each origin
shipped with is kept in ``<home>/origins.json`` (:func:`journal.export.origin_names`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from . import digest as _digest
from . import origin as _origin
from . import wire
from .erasure import ERASED_PAYLOAD
from .errors import JournalError, LockedError
from .export import consumer_lock, digest_ok, read_origin, save_origin_names, split_envelope
from .ship import DEFAULT_STREAM, DIGEST_HEADER, SUBJECT_PREFIX, ShipError, connect

if TYPE_CHECKING:
    from collections.abc import Callable

    from .store import LmdbJournal
    from .writer import Writer

__all__ = ["pull"]

BATCH = 2048
_FETCH_TIMEOUT = 1.0
_IDLE_ROUNDS = 3


def _lay(
    writer: Writer, messages: list[Any], local: str, now: int, names: dict[str, str]
) -> tuple[int, list[tuple[int, str]]]:
    """Append a batch of messages in ``writer``'s transaction; (added, rejected).

    ``names`` collects the name each origin shipped with."""
    added = 0
    rejected: list[tuple[int, str]] = []
    for index, msg in enumerate(messages):
        body: bytes = msg.data
        try:
            envelope, payload = split_envelope(body)
            ident = _origin.parse_id(envelope.origin)
            if payload == ERASED_PAYLOAD:
                # Its journal forgot it (`journal forget`): nothing of it is left to
                # keep, and the team journal must not hold what its owner erased.
                continue
            header = (msg.headers or {}).get(DIGEST_HEADER)
            if header != envelope.digest or not digest_ok(envelope, payload):
                raise ValueError("its payload does not hash to its digest")
            source = wire.encode_name(envelope.source, "source")
            kind = wire.encode_name(envelope.kind, "kind")
            origin = wire.check_origin((ident, envelope.origin_seq))
        except (ValueError, JournalError) as exc:
            reason = f"pulled message {msg.metadata.sequence.stream}: {exc}"
            writer.quarantine(body, reason, b"pull", b"", now)
            rejected.append((index, reason))
            continue
        if envelope.origin == local:
            continue  # this journal's own record, shipped and pulled back
        if envelope.origin_name is not None:
            names[envelope.origin] = envelope.origin_name
        key = f"{envelope.origin}:{envelope.origin_seq}".encode()
        done = writer.append(
            payload,
            source,
            kind,
            key,
            envelope.received_at,
            _digest.from_hex(envelope.digest),
            origin=origin,
        )
        if not done.duplicate:
            added += 1
    return added, rejected


def _batch_work(
    messages: list[Any], local: str, now: int, names: dict[str, str]
) -> Callable[[Writer], tuple[int, list[tuple[int, str]]]]:
    return lambda writer: _lay(writer, messages, local, now, names)


async def _pull(
    open_journal: Callable[[], LmdbJournal], url: str, stream: str, consumer: str
) -> tuple[int, int]:
    mine = read_origin(open_journal)
    local = mine.origin
    names: dict[str, str] = {}
    nc = await connect(url)  # before the imports: it names the extra if nats-py is absent
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js import api

    pulled, position = 0, 0
    try:
        js = nc.jetstream()
        try:
            sub = await js.pull_subscribe(
                f"{SUBJECT_PREFIX}.>",
                durable=consumer,
                stream=stream,
                config=api.ConsumerConfig(
                    ack_policy=api.AckPolicy.ALL, ack_wait=60.0, max_ack_pending=-1
                ),
            )
        except Exception as exc:
            raise ShipError(f"stream {stream}: {exc}") from None
        idle = 0
        while idle < _IDLE_ROUNDS:
            try:
                messages = await sub.fetch(BATCH, timeout=_FETCH_TIMEOUT)
            except (TimeoutError, NatsTimeout):
                info = await sub.consumer_info()
                if not info.num_pending and not info.num_ack_pending:
                    break
                idle += 1
                continue
            idle = 0
            with open_journal() as journal:
                done = journal.write(_batch_work(messages, local, time.time_ns(), names))
            if done is None:
                raise LockedError("writes to the journal were stopped")
            pulled += done[0]
            await messages[-1].ack_sync()
            if len(messages) < BATCH:
                info = await sub.consumer_info()
                if not info.num_pending and not info.num_ack_pending:
                    break
        if names:
            save_origin_names(mine.home, names)
        floor = (await sub.consumer_info()).ack_floor
        position = floor.stream_seq if floor is not None else 0
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
    return pulled, position


def pull(
    open_journal: Callable[[], LmdbJournal],
    url: str,
    *,
    stream: str = DEFAULT_STREAM,
    consumer: str | None = None,
) -> tuple[int, int]:
    """Pull what the stream holds for this journal's consumer; ``(pulled, stream seq)``.

    ``open_journal`` opens the journal for writing; it is opened per batch.

    Raises:
        ShipError: no server, no stream.
        LockedError: another process pulls for this consumer.
    """
    info = read_origin(open_journal)
    name = consumer or f"pull-{info.origin}"
    with consumer_lock(info.home, "pull", name):
        return asyncio.run(_pull(open_journal, url, stream, name))
