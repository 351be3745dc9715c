"""The spool: where a hook puts an event it could not append within its budget.

A spool file is written durably (temporary name, ``fsync``, ``rename``, directory
``fsync``), so once the hook exits the event survives any crash. It carries the raw
input byte for byte, with the source, kind, idempotency key and receive time the
append would have used; every spool file has a key (the agent's own, or a random
one made before the write), so draining is exactly-once even when two processes
drain at the same time or a drain is killed between commit and unlink.

File layout (version 2): ``AJSPOOL2`` magic, then ``>QHHHH`` (received_at, lengths
of source, kind, key and home), then the agent process the hook found, ``>BIQ16s``
(1 if there is one else 0, its pid, start ticks and boot id; zeros without one), then
those four UTF-8 strings, then the input bytes. An empty kind means "take it from the
payload". A drain appends the record with that agent process, so a run of spooled
events still gets its status from the agent's liveness. Version 1 (``AJSPOOL1``: no
agent block) is still read: files an older hook wrote drain as records without an
agent. Names sort by receive time, so drains keep order.

When the home itself is unusable (cannot be created, a file in the way, read-only,
full), the hook spools to a fallback directory under the temporary directory instead
(:func:`fallback_dir`); a drain of that home picks its files up from there too.

Nothing is left behind: a write that fails removes its temporary file, and a drain
removes temporary files older than :data:`STALE_TMP_SECONDS` (a writer killed between
creating and renaming one). Removing one under a live writer is safe: its rename
fails and it writes the event elsewhere.

Stdlib only: the hook path uses it.
"""

from __future__ import annotations

import os
import struct
import time

from journal import home as _home
from journal import payload as _payload
from journal import wire
from journal.errors import InvalidPayloadError, JournalError
from journal.results import Appended

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from journal.store import LmdbJournal
    from journal.writer import Writer

__all__ = [
    "MAGIC",
    "MAGIC_V1",
    "AgentProcess",
    "DrainReport",
    "SpoolEntry",
    "drain",
    "fallback_dir",
    "has_pending",
    "pending",
    "read",
    "remove_stale",
    "waiting",
    "write",
]

MAGIC = b"AJSPOOL2"
MAGIC_V1 = b"AJSPOOL1"
_HEAD = struct.Struct(">QHHHH")
_AGENT = struct.Struct(">BIQ16s")
_NO_AGENT = _AGENT.pack(0, 0, 0, bytes(16))
#: ``(pid, start ticks, 16-byte boot id)``, as :mod:`journal.agents.process` names one.
AgentProcess = tuple[int, int, bytes]
_SUFFIX = ".spool"
_TMP_SUFFIX = ".spool.tmp"
#: A temporary spool file this old belongs to a writer that died: drains remove it.
STALE_TMP_SECONDS = 60.0
# Files per write transaction while draining: short transactions keep hooks moving.
DRAIN_CHUNK = 256


class SpoolEntry:
    """One spooled input and what its append would have used."""

    __slots__ = ("agent", "data", "home", "key", "kind", "received_at", "source")

    def __init__(
        self,
        data: bytes,
        source: str,
        kind: str,
        key: str,
        received_at: int,
        home: str,
        agent: AgentProcess | None = None,
    ) -> None:
        self.data = data
        self.source = source
        self.kind = kind
        self.key = key
        self.received_at = received_at
        self.home = home
        #: The agent process the hook found (None: none, or a version 1 file).
        self.agent = agent


class DrainReport:
    """What a drain did: records appended, duplicates skipped, inputs quarantined."""

    __slots__ = ("appended", "duplicates", "failed", "quarantined", "removed")

    def __init__(self) -> None:
        self.appended = 0
        self.duplicates = 0
        self.quarantined = 0
        self.removed = 0  # stale temporary files of writers that died
        self.failed: list[str] = []

    def to_dict(self) -> dict[str, object]:
        return {
            "appended": self.appended,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "removed": self.removed,
            "failed": self.failed,
        }


def fallback_dir() -> str:
    """The per-user spool used when the journal home itself is unusable."""
    return _home.fallback_spool_dir()


def spool_dir(home: str) -> str:
    """The spool directory of a resolved home."""
    return os.path.join(home, _home.SPOOL_DIR)


def write(
    directory: str,
    data: bytes,
    *,
    source: str,
    kind: str,
    key: str,
    received_at: int,
    home: str,
    agent: AgentProcess | None = None,
) -> str:
    """Write one spool file durably and return its path.

    ``agent`` is the agent process the hook found (:func:`journal.agents.process.agent`);
    one that does not fit the format is left out. Raises OSError on failure, having
    removed what it wrote (a full disk leaves no empty temporary file behind).
    """
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fields = [v.encode("utf-8", "replace") for v in (source, kind, key, home)]
    head = (
        MAGIC
        + _HEAD.pack(received_at, *(len(f) for f in fields))
        + _agent_block(agent)
        + b"".join(fields)
    )
    name = f"{received_at:020d}-{os.getpid()}-{os.urandom(4).hex()}{_SUFFIX}"
    tmp = os.path.join(directory, f".{name}.tmp")
    final = os.path.join(directory, name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            view = memoryview(head + data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
    except BaseException:
        _unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


def _agent_block(agent: AgentProcess | None) -> bytes:
    if agent is None:
        return _NO_AGENT
    try:
        pid, start, boot = agent
        return _AGENT.pack(1, pid, start, boot) if len(boot) == 16 and pid > 0 else _NO_AGENT
    except (struct.error, TypeError, ValueError):
        return _NO_AGENT


def read(path: str) -> SpoolEntry:
    """Read one spool file. Raises ValueError if it is not one, OSError if unreadable."""
    with open(path, "rb") as f:
        return parse(f.read())


def parse(raw: bytes) -> SpoolEntry:
    """Decode the bytes of a spool file (either version). Raises ValueError if they are not one."""
    version = _version(raw)
    if version is None or len(raw) < len(MAGIC) + _HEAD.size:
        raise ValueError("not a spool file (bad header)")
    received_at, *lengths = _HEAD.unpack_from(raw, len(MAGIC))
    pos = len(MAGIC) + _HEAD.size
    agent: AgentProcess | None = None
    if version == 2:
        if len(raw) < pos + _AGENT.size:
            raise ValueError("not a spool file (truncated header)")
        has, pid, start, boot = _AGENT.unpack_from(raw, pos)
        agent = (pid, start, boot) if has == 1 else None
        pos += _AGENT.size
    fields = []
    for length in lengths:
        if pos + length > len(raw):
            raise ValueError("not a spool file (truncated header)")
        fields.append(raw[pos : pos + length].decode("utf-8", "replace"))
        pos += length
    source, kind, key, home = fields
    return SpoolEntry(raw[pos:], source, kind, key, received_at, home, agent)


def _version(raw: bytes) -> int | None:
    if raw.startswith(MAGIC):
        return 2
    if raw.startswith(MAGIC_V1):
        return 1
    return None


def pending(directory: str) -> list[str]:
    """Paths of the finished spool files in ``directory``, oldest first."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [os.path.join(directory, n) for n in sorted(names) if n.endswith(_SUFFIX)]


def has_pending(home: str) -> bool:
    """True if the home's spool or the fallback spool holds any spool or temporary file.

    Two cheap ``listdir`` calls; a drain then sorts out which files are this home's.
    """
    for directory in (spool_dir(home), fallback_dir()):
        try:
            if any(n.endswith((_SUFFIX, _TMP_SUFFIX)) for n in os.listdir(directory)):
                return True
        except OSError:
            continue
    return False


def waiting(home: str) -> list[str]:
    """Paths of the spool files waiting for ``home`` (its spool and the fallback), oldest first."""
    own = pending(spool_dir(home))
    theirs = [path for path in pending(fallback_dir()) if _home_of(path) == home]
    return sorted(own + theirs, key=os.path.basename)


def _home_of(path: str) -> str | None:
    """The home a spool file names (read from its header only), or None if unreadable."""
    try:
        with open(path, "rb") as f:
            raw = f.read(len(MAGIC) + _HEAD.size + _AGENT.size)
            version = _version(raw)
            if version is None or len(raw) < len(MAGIC) + _HEAD.size:
                return None
            _at, source, kind, key, home = _HEAD.unpack_from(raw, len(MAGIC))
            strings = len(MAGIC) + _HEAD.size + (_AGENT.size if version == 2 else 0)
            f.seek(strings + source + kind + key)
            return f.read(home).decode("utf-8", "replace")
    except OSError:
        return None


def remove_stale(home: str, *, older_than: float = STALE_TMP_SECONDS) -> int:
    """Remove temporary files dead writers left in ``home``'s spool and the fallback spool.

    Returns how many were removed. A temporary file never holds an acknowledged
    event (the hook exits only after the rename), so removing one loses nothing.
    """
    removed = 0
    limit = time.time() - older_than
    for directory in (spool_dir(home), fallback_dir()):
        try:
            names = [n for n in os.listdir(directory) if n.endswith(_TMP_SUFFIX)]
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            try:
                if os.stat(path).st_mtime < limit:
                    os.unlink(path)
                    removed += 1
            except OSError:
                continue  # gone already, or not ours to remove
    return removed


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def drain(
    journal: LmdbJournal,
    *,
    limit: int | None = None,
    gate: Callable[[], bool] | None = None,
    progress: Callable[[int], None] | None = None,
) -> DrainReport:
    """Append every spooled input of ``journal``'s home, oldest first, exactly once.

    Valid inputs are appended with their spooled key and receive time; invalid ones
    are quarantined with the reason; a file is removed only after the transaction
    that took it in has committed. ``limit`` bounds the files taken (the hook drains
    a little at a time); ``gate`` is passed to every write (see ``LmdbJournal.write``):
    when it refuses, the drain stops and the rest stays spooled.
    """
    report = DrainReport()
    report.removed = remove_stale(journal.home)
    paths = waiting(journal.home)
    if limit is not None:
        paths = paths[:limit]
    for start in range(0, len(paths), DRAIN_CHUNK):
        chunk = paths[start : start + DRAIN_CHUNK]
        entries: list[tuple[str, bytes, SpoolEntry | str]] = []
        for path in chunk:
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except OSError:
                continue  # another drain took it first
            try:
                entries.append((path, raw, parse(raw)))
            except ValueError as exc:
                entries.append((path, raw, str(exc)))
        counts = journal.write(lambda w, e=entries: _take(w, e), gate=gate)  # type: ignore[misc]
        if counts is None:
            break
        appended, duplicates, quarantined = counts
        report.appended += appended
        report.duplicates += duplicates
        report.quarantined += quarantined
        for path, _raw, _entry in entries:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                report.failed.append(f"{path}: {exc.strerror}")
        if progress is not None:
            progress(len(chunk))
    return report


def _take(
    writer: Writer, entries: list[tuple[str, bytes, SpoolEntry | str]]
) -> tuple[int, int, int]:
    appended = duplicates = quarantined = 0
    for path, raw, entry in entries:
        if isinstance(entry, str):
            reason = f"spool file {os.path.basename(path)}: {entry}"
            writer.quarantine(raw, reason, b"generic", b"", 0)
            quarantined += 1
            continue
        source = _name(entry.source, "generic")
        try:
            stored, hint = _payload.validate_with_kind(entry.data)
        except InvalidPayloadError as exc:
            writer.quarantine(
                entry.data, exc.reason, source, entry.kind.encode(), entry.received_at
            )
            quarantined += 1
            continue
        kind = _name(entry.kind, "") or _name(hint, "generic")
        key = _name(entry.key, "", wire.MAX_KEY_BYTES)
        agent = entry.agent
        try:
            wire.check_agent(agent)
        except JournalError:
            agent = None
        done: Appended = writer.append(stored, source, kind, key, entry.received_at, agent=agent)
        if done.duplicate:
            duplicates += 1
        else:
            appended += 1
    return appended, duplicates, quarantined


def _name(value: str, default: str, limit: int = wire.MAX_NAME_BYTES) -> bytes:
    """Encode a spooled name, falling back to ``default`` if it is unusable."""
    try:
        return wire.encode_name(value, "name", limit)
    except JournalError:
        return default.encode()
