"""Where the journal lives, and refusing places where LMDB is unsafe.

Resolution order: ``--home`` > ``AGENT_JOURNAL_HOME`` > ``$XDG_STATE_HOME/agent-journal``
> ``~/.local/state/agent-journal``. The home is created ``0700``; LMDB files ``0600``.

Before an environment is opened, :func:`check_filesystem` refuses what LMDB cannot be
trusted with:

- **network and FUSE-style filesystems**: LMDB needs a unified buffer cache and
  working locks (NFS, SMB, 9p, virtiofs, WSL1 drvfs all break one or the other). The
  verdict comes from the mount table, which costs a hook ~0.2–1.4 ms to read, so a
  local verdict is kept in a small file in the directory (:data:`VERDICT_FILE`) keyed
  by the directory's ``(st_dev, st_ino)``: the table is read again only when the
  directory is another one (re-created, copied, moved to another filesystem, or a
  filesystem mounted over it). Checking only when the environment is created would
  be cheaper still, but would never notice a journal copied or mounted somewhere
  unsafe later.
- **a lock file LMDB would crash on**: LMDB writes its lock file through a memory
  map, and makes it a sparse file; on a full disk the first write to an unallocated
  page kills the process with SIGBUS (a new journal on a full disk: the hook could
  not even spool its event). So a new lock file is created with its pages allocated,
  and holes in an old one are filled when there is room.

:func:`check_data_file` refuses a log data file that LMDB would crash on: it reads
its data file through a memory map too, so a file shorter than its own meta pages
say (a bad copy or restore, a damaged filesystem) is a SIGBUS at the first read of a
missing page. The hook checks before it opens the log.
"""

from __future__ import annotations

import os
import struct
import time

from .errors import CorruptionError, HomeError

__all__ = [
    "LOG_DIR",
    "SPOOL_DIR",
    "VERDICT_FILE",
    "VIEWS_DIR",
    "check_data_file",
    "check_filesystem",
    "ensure_dir",
    "fallback_spool_dir",
    "resolve",
]

LOG_DIR = "log"
VIEWS_DIR = "views"
SPOOL_DIR = "spool"
#: The cached "this directory is on a local filesystem" verdict (see the module doc).
VERDICT_FILE = ".filesystem"

# Filesystem types from /proc/mounts on which LMDB is known to misbehave.
UNSAFE_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "virtiofs",
        "drvfs",
        "fuse",
        "fuse.sshfs",
        "fuse.gcsfuse",
        "fuse.s3fs",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
    }
)

# An LMDB meta page (lmdb/mdb.c, native layout): the page header (pgno, pad, flags,
# lower/upper), then MDB_meta: magic, version, address, mapsize, the free and main
# MDB_db (pad, flags, depth, branch, leaf and overflow pages, entries, root; the free
# DB's pad holds the page size), last page number, txnid.
_META = struct.Struct("@NHHI" + "IIPN" + "IHHNNNNN" * 2 + "NN")
_MAGIC = 0xBEEFC0DE
_MAGIC_AT, _PSIZE, _LAST_PG, _TXNID = 4, 8, 24, 25
# LMDB does not write a page it allocated and freed again in the same transaction
# ("loose" pages), so the last few pages of a healthy file can be missing: the log
# never deletes and has none in practice; this much is tolerated.
_LOOSE_PAGES = 16
# What LMDB 0.9 sizes a lock file for 1024 readers (logenv.MAX_READERS) on 64-bit
# Linux: sizeof(MDB_txninfo) 192 + 1023 reader slots of 64 bytes. A file of another
# size still works: LMDB grows a smaller one and takes the readers a larger one holds.
_LOCK_BYTES = 192 + 1023 * 64


def resolve(home: str | None = None) -> str:
    """Return the absolute journal home following the resolution order."""
    if home:
        return os.path.abspath(os.path.expanduser(home))
    env = os.environ.get("AGENT_JOURNAL_HOME")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    state = os.environ.get("XDG_STATE_HOME")
    if state and os.path.isabs(state):
        return os.path.join(state, "agent-journal")
    return os.path.join(os.path.expanduser("~"), ".local", "state", "agent-journal")


def fallback_spool_dir() -> str:
    """Where a hook spools when a home is unusable: per user, under the temporary directory.

    The spool itself is :mod:`journal.agents.spool`; its place is here so that a hook
    can look for waiting files without loading it.
    """
    base = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(base, f"agent-journal-{os.getuid()}", SPOOL_DIR)


def ensure_dir(path: str) -> None:
    """Create ``path`` (and parents) with mode 0700; refuse a non-directory."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise HomeError(f"cannot create journal home {path}: {exc.strerror}") from None
    if not os.path.isdir(path):
        raise HomeError(f"journal home {path} is not a directory")


def filesystem_type(path: str) -> str | None:
    """Return the filesystem type of the mount holding ``path`` (Linux), or None."""
    try:
        with open("/proc/self/mounts", "rb") as mounts:
            table = mounts.read().decode("utf-8", "replace")
    except OSError:
        return None
    real = os.path.realpath(path)
    best, best_type = "", None
    for line in table.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1].replace("\\040", " ")
        if (real == mount or real.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
            best, best_type = mount, parts[2]
    return best_type


def check_filesystem(path: str) -> None:
    """Raise :class:`HomeError` if LMDB cannot be trusted with the directory ``path``.

    A network or FUSE filesystem (unless ``AGENT_JOURNAL_ALLOW_ANY_FS=1``), or no
    room for a new lock file's pages; see the module doc.
    """
    if os.environ.get("AGENT_JOURNAL_ALLOW_ANY_FS") != "1":
        _check_type(path)
    _allocate_lock(path)


def _check_type(path: str) -> None:
    try:
        st = os.stat(path)
    except OSError:
        st = None
    tag = f"{st.st_dev} {st.st_ino} " if st is not None else None
    verdict = os.path.join(path, VERDICT_FILE)
    if tag is not None and _read_small(verdict).startswith(tag.encode()):
        return
    fstype = filesystem_type(path)
    if fstype is not None and (fstype in UNSAFE_FILESYSTEMS or fstype.startswith("fuse.")):
        raise HomeError(
            f"journal home {path} is on a {fstype} filesystem, where LMDB can corrupt "
            "data; use a local disk (set AGENT_JOURNAL_HOME) or "
            "AGENT_JOURNAL_ALLOW_ANY_FS=1 at your own risk"
        )
    if tag is not None:
        _write_small(verdict, f"{tag}{fstype or 'unknown'}\n".encode())


def _read_small(path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return b""
    try:
        return os.read(fd, 256)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _write_small(path: str, data: bytes) -> None:
    """Best effort: a read-only or full disk just means the check runs again next time."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return
    try:
        written = os.write(fd, data)
    except OSError:
        written = -1
    finally:
        os.close(fd)
    if written != len(data):
        try:
            os.unlink(path)  # an empty or short verdict would only be read again
        except OSError:
            pass


def check_data_file(path: str) -> None:
    """Raise :class:`CorruptionError` if LMDB would crash reading ``path/data.mdb``.

    That is: it is not an LMDB file, or it is shorter than its newest meta page says
    (truncated), beyond the few unwritten pages a healthy file may end with. Only
    for the log's environment, which never deletes: the views' deletes can leave
    more pages unwritten at the end. A missing or empty file is a new environment.
    Costs an open, a stat and two small reads.
    """
    data = os.path.join(path, "data.mdb")
    try:
        fd = os.open(data, os.O_RDONLY)
    except OSError:
        return  # missing (a new environment) or unreadable: LMDB says which
    try:
        problem = _data_problem(fd)
        if problem is not None:
            # Another process may be writing a new environment's meta pages right now.
            time.sleep(0.01)
            problem = _data_problem(fd)
    finally:
        os.close(fd)
    if problem is not None:
        raise CorruptionError(f"{data} {problem}")


def _data_problem(fd: int) -> str | None:
    """Why LMDB would fault on this data file, or None."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None  # new: LMDB writes its meta pages when it opens it
    first = os.pread(fd, _META.size, 0)
    if len(first) < _META.size or _META.unpack(first)[_MAGIC_AT] != _MAGIC:
        return "is not an LMDB file"
    psize = _META.unpack(first)[_PSIZE]
    second = os.pread(fd, _META.size, psize) if 512 <= psize <= 65536 else b""
    if len(second) < _META.size or _META.unpack(second)[_MAGIC_AT] != _MAGIC:
        return "is not an LMDB file (its second meta page is damaged)"
    newest = max((_META.unpack(first), _META.unpack(second)), key=lambda m: m[_TXNID])
    needed = (newest[_LAST_PG] + 1 - _LOOSE_PAGES) * psize
    if size < needed:
        return f"is truncated: {size} bytes, its pages need {needed + _LOOSE_PAGES * psize}"
    return None


def _allocate_lock(path: str) -> None:
    lock = os.path.join(path, "lock.mdb")
    if not hasattr(os, "posix_fallocate"):
        return  # macOS: LMDB creates it, sparse
    try:
        st = os.stat(lock)
    except FileNotFoundError:
        st = None
    except OSError:
        return
    if st is not None:
        if st.st_blocks * 512 < st.st_size:
            _fill_holes(lock, st.st_size)
        return
    # Create it fully allocated and link it in whole: LMDB may open it at any moment,
    # and must never see it half made; an anonymous file leaves nothing if killed.
    try:
        fd = os.open(path, os.O_TMPFILE | os.O_RDWR, 0o600)
    except (OSError, AttributeError):
        return  # no O_TMPFILE here, or the directory is read-only: LMDB decides
    try:
        try:
            os.posix_fallocate(fd, 0, _LOCK_BYTES)
        except OSError as exc:
            raise HomeError(
                f"no room for the journal's lock file in {path}: {exc.strerror}"
            ) from None
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            # linkat(AT_SYMLINK_FOLLOW) names the anonymous file; a plain link() would not.
            os.link(f"/proc/self/fd/{fd}", "lock.mdb", dst_dir_fd=dir_fd, follow_symlinks=True)
        except OSError:
            pass  # another process made it first, or no /proc: LMDB creates it
        finally:
            os.close(dir_fd)
    finally:
        os.close(fd)


def _fill_holes(lock: str, size: int) -> None:
    """Allocate the pages of a sparse lock file; leave it as it is if there is no room.

    Only readers beyond the first ~60 at once touch the pages past the first, so an
    old sparse file on a full disk is a small risk, not a reason to refuse it.
    """
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError:
        pass
    finally:
        os.close(fd)
