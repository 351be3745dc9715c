"""Records leaving the journal: the origin, the envelope, consumer checkpoints, export.

**Envelope.** One record outside the journal is one JSON object, the same for
``journal export`` (one per line) and for ``journal ship`` (one per JetStream
message)::

    {"origin": ID, "origin_name": NAME|null, "origin_seq": N, "seq": N, "digest": HEX,
     "received_at": NS, "source": S, "kind": K, "key": KEY|null, "payload": {...}}

``(origin, origin_seq)`` names the record everywhere; ``seq`` is its seq in the
journal that sent it (equal to ``origin_seq`` unless that journal pulled it).
``payload`` is always the last member and, in a shipped message, is exactly the
stored payload bytes, so the receiver recovers them byte for byte and checks them
against ``digest`` (:func:`split_envelope`). An exported line must stay on one line:
where the stored bytes hold CR or LF (whitespace between JSON tokens), export
writes spaces instead, so only shipped messages are byte-exact.

**Consumer checkpoints.** A named consumer (``export --consumer``, ``ship``) keeps the
last seq it has delivered in ``<home>/consumers/<kind>.<name>.json``, replaced
atomically (temp file, fsync, rename), and only after what it accounts for is safely
elsewhere: flushed (export) or acknowledged by the stream (ship). Kept out of the
log's environment so that a consumer never takes the writers' lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from typing import IO, TYPE_CHECKING

import msgspec

from . import digest as _digest
from . import home as _home
from . import origin as _origin
from .errors import LockedError, StoreError, UsageError
from .logenv import LogEnv, reading

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .records import Record
    from .store import LmdbJournal

__all__ = [
    "CONSUMERS_DIR",
    "Checkpoint",
    "Envelope",
    "OriginInfo",
    "consumer_lock",
    "digest_ok",
    "encode_envelope",
    "export",
    "load_checkpoint",
    "local_origin",
    "origin_info",
    "origin_names",
    "read_origin",
    "save_checkpoint",
    "save_origin_names",
    "set_origin_name",
    "split_envelope",
]

CONSUMERS_DIR = "consumers"
_CONSUMER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PAYLOAD_SEP = b',"payload":'
_FLUSH_EVERY = 4096


class OriginInfo(msgspec.Struct, frozen=True, kw_only=True, tag="journal.origin"):
    """What ``journal origin`` shows: the permanent id and the optional name."""

    origin: str
    name: str | None
    home: str


class Checkpoint(msgspec.Struct, kw_only=True):
    """A consumer's position: the last seq delivered, and where it went (ship)."""

    checkpoint: int = 0
    #: The stream sequence the stream gave that record (ship only).
    stream_seq: int = 0
    target: str | None = None
    stream: str | None = None


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """The envelope's members other than the payload (see the module doc)."""

    origin: str
    origin_seq: int
    seq: int
    digest: str
    received_at: int
    source: str
    kind: str
    origin_name: str | None = None
    key: str | None = None


_encode = msgspec.json.Encoder().encode
_decode_envelope = msgspec.json.Decoder(Envelope).decode
_decode_checkpoint = msgspec.json.Decoder(Checkpoint).decode


# -- origin ------------------------------------------------------------------------


def _read_origin(journal: LogEnv) -> tuple[str | None, str | None]:
    with reading(), journal._env.begin(db=journal._meta) as txn:
        return _origin.read(txn, journal._meta)


def origin_info(journal: LogEnv) -> OriginInfo:
    """This journal's origin id and name.

    Raises:
        StoreError: the journal has no id yet (made before origins existed, never
            opened for writing since) and ``journal`` is read-only: open it for
            writing once (:func:`read_origin` does).
    """
    ident, name = _read_origin(journal)
    if ident is None and not journal.readonly:
        with journal._transaction() as txn:
            _origin.ensure(txn, journal._meta)
        ident, name = _read_origin(journal)
    if ident is None:
        raise StoreError(f"the journal at {journal.home} has no origin id yet")
    return OriginInfo(origin=ident, name=name, home=journal.home)


def read_origin(open_journal: Callable[[], LmdbJournal]) -> OriginInfo:
    """This journal's origin, opening it with ``open_journal`` (read-only is fine).

    A journal made before origins existed is opened for writing once, after the
    read-only one is closed, which gives it its id.
    """
    with open_journal() as journal:
        ident = _read_origin(journal)[0]
        home, timeout, readonly = journal.home, journal.lock_timeout, journal.readonly
        if ident is not None or not readonly:
            return origin_info(journal)
    with LogEnv(home, lock_timeout=timeout) as writable:
        return origin_info(writable)


def local_origin(journal: LogEnv) -> str | None:
    """This journal's origin id (what views show for records appended here), or None
    for a journal not opened for writing since origins exist (every hook append does)."""
    return _read_origin(journal)[0]


def set_origin_name(journal: LogEnv, name: str) -> OriginInfo:
    """Name this journal (an empty name removes it); return the origin.

    Raises:
        UsageError: the name is too long or holds control characters.
    """
    try:
        with journal._transaction() as txn:
            _origin.write_name(txn, journal._meta, name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return origin_info(journal)


ORIGIN_NAMES_FILE = "origins.json"
_decode_names = msgspec.json.Decoder(dict[str, str]).decode


def origin_names(home: str) -> dict[str, str]:
    """Names of the other journals whose records were pulled here: origin id -> name.

    ``journal pull`` keeps the name each origin last shipped with in
    ``<home>/origins.json``; a damaged or missing file reads as no names.
    """
    try:
        with open(os.path.join(home, ORIGIN_NAMES_FILE), "rb") as f:
            return _decode_names(f.read())
    except (OSError, msgspec.MsgspecError):
        return {}


def save_origin_names(home: str, names: dict[str, str]) -> None:
    """Merge ``names`` into ``<home>/origins.json`` (atomically: temp file, rename)."""
    merged = origin_names(home) | names
    path = os.path.join(home, ORIGIN_NAMES_FILE)
    try:
        _write_atomic(path, _encode(merged) + b"\n")
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc}") from None


def _write_atomic(path: str, data: bytes) -> None:
    """Replace ``path`` by ``data`` durably: a temp file beside it (mode 0600), fsync,
    rename, directory fsync. Nothing is left behind when it fails."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dfd = os.open(os.path.dirname(path), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# -- envelope ----------------------------------------------------------------------


def encode_envelope(
    record: Record, origin: str, name: str | None, *, one_line: bool = False
) -> bytes:
    """The envelope of ``record`` (``origin``/``name``: this journal's), payload last.

    ``one_line`` replaces CR and LF in the payload by spaces (export's JSON Lines).
    """
    ident, oseq = record.origin_of(origin)
    payload = record.payload
    if one_line and (b"\n" in payload or b"\r" in payload):
        payload = payload.replace(b"\r", b" ").replace(b"\n", b" ")
    head = _encode(
        {
            "origin": ident,
            "origin_name": name if record.origin is None else None,
            "origin_seq": oseq,
            "seq": record.seq,
            "digest": record.digest,
            "received_at": record.received_at,
            "source": record.source,
            "kind": record.kind,
            "key": record.key,
        }
    )
    return head[:-1] + _PAYLOAD_SEP + payload + b"}"


def split_envelope(body: bytes) -> tuple[Envelope, bytes]:
    """The envelope members and the exact payload bytes of a shipped message.

    No other member's encoding can hold ``,"payload":`` (a quote inside a JSON
    string is escaped), and the payload is last, so the first occurrence splits it.

    Raises:
        ValueError: not an envelope.
    """
    at = body.find(_PAYLOAD_SEP)
    if at < 0 or not body.endswith(b"}"):
        raise ValueError("not an agent-journal envelope")
    try:
        envelope = _decode_envelope(body[:at] + b"}")
    except msgspec.ValidationError as exc:
        raise ValueError(f"not an agent-journal envelope: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ValueError(f"not an agent-journal envelope: {exc}") from None
    return envelope, body[at + len(_PAYLOAD_SEP) : -1]


# -- consumer checkpoints ----------------------------------------------------------


def _consumer_path(home: str, kind: str, name: str, suffix: str) -> str:
    if not _CONSUMER_NAME.fullmatch(name):
        raise UsageError(
            f"consumer name {name!r}: use 1-64 letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit)"
        )
    folder = os.path.join(home, CONSUMERS_DIR)
    _home.ensure_dir(folder)
    return os.path.join(folder, f"{kind}.{name}{suffix}")


def load_checkpoint(home: str, kind: str, name: str) -> Checkpoint:
    """The consumer's checkpoint (a fresh one, at 0, if it never delivered anything)."""
    path = _consumer_path(home, kind, name, ".json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return Checkpoint()
    except OSError as exc:
        raise StoreError(f"cannot read consumer checkpoint {path}: {exc}") from None
    try:
        return _decode_checkpoint(data)
    except msgspec.MsgspecError as exc:
        raise StoreError(f"consumer checkpoint {path} is damaged: {exc}") from None


def save_checkpoint(home: str, kind: str, name: str, checkpoint: Checkpoint) -> None:
    """Replace the consumer's checkpoint atomically and durably."""
    path = _consumer_path(home, kind, name, ".json")
    try:
        _write_atomic(path, _encode(checkpoint) + b"\n")
    except OSError as exc:
        raise StoreError(f"cannot write consumer checkpoint {path}: {exc}") from None


@contextlib.contextmanager
def consumer_lock(home: str, kind: str, name: str) -> Iterator[None]:
    """Hold the consumer's lock: one process at a time delivers for one consumer.

    Raises:
        LockedError: another process holds it.
    """
    path = _consumer_path(home, kind, name, ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(f"consumer {name!r} is running in another process") from None
        yield
    finally:
        os.close(fd)


# -- export ------------------------------------------------------------------------


def _sync(out: IO[bytes]) -> None:
    """Flush ``out`` and, if it is a file, make it durable (pipes cannot be synced)."""
    out.flush()
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.fsync(out.fileno())


def export(
    open_journal: Callable[[], LmdbJournal],
    out: IO[bytes],
    *,
    after: int | None = None,
    consumer: str | None = None,
    chunk: int = _FLUSH_EVERY,
) -> Checkpoint:
    """Write the records after ``after`` (or the consumer's checkpoint) as JSON Lines.

    ``open_journal`` opens the log read-only; it is opened per chunk and closed before
    that chunk is written. A named ``consumer``'s checkpoint advances after each
    chunk is flushed (and synced, for a file), never before. Returns where it ended.
    """
    info = read_origin(open_journal)
    home = info.home
    with contextlib.ExitStack() as stack:
        if consumer is not None:
            stack.enter_context(consumer_lock(home, "export", consumer))
            state = load_checkpoint(home, "export", consumer)
            position = state.checkpoint if after is None else after
        else:
            state = Checkpoint()
            position = after or 0
        while True:
            with open_journal() as journal:
                records = list(journal.read(after=position, limit=chunk))
            if not records:
                break
            out.write(
                b"".join(
                    encode_envelope(r, info.origin, info.name, one_line=True) + b"\n"
                    for r in records
                )
            )
            _sync(out)
            position = records[-1].seq
            if consumer is not None:
                state.checkpoint = position
                save_checkpoint(home, "export", consumer, state)
            if len(records) < chunk:
                break
    return Checkpoint(checkpoint=position)


def digest_ok(envelope: Envelope, payload: bytes) -> bool:
    """Whether ``payload`` hashes to the envelope's digest."""
    return _digest.digest(payload).hex() == envelope.digest
