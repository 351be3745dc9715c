"""Where the journal lives, and refusing places where LMDB is unsafe.

Resolution order: ``--home`` > ``AGENT_JOURNAL_HOME`` > ``$XDG_STATE_HOME/agent-journal``
> ``~/.local/state/agent-journal``. The home is created ``0700``; LMDB files ``0600``.
Network and FUSE-style filesystems are refused: LMDB needs a unified buffer cache and
working locks (NFS, SMB, 9p, virtiofs, WSL1 drvfs all break one or the other).
"""

from __future__ import annotations

import os

from .errors import HomeError

__all__ = ["LOG_DIR", "SPOOL_DIR", "VIEWS_DIR", "check_filesystem", "ensure_dir", "resolve"]

LOG_DIR = "log"
VIEWS_DIR = "views"
SPOOL_DIR = "spool"

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
    """Raise :class:`HomeError` if ``path`` is on a filesystem LMDB cannot trust."""
    if os.environ.get("AGENT_JOURNAL_ALLOW_ANY_FS") == "1":
        return
    fstype = filesystem_type(path)
    if fstype is not None and (fstype in UNSAFE_FILESYSTEMS or fstype.startswith("fuse.")):
        raise HomeError(
            f"journal home {path} is on a {fstype} filesystem, where LMDB can corrupt "
            "data; use a local disk (set AGENT_JOURNAL_HOME) or "
            "AGENT_JOURNAL_ALLOW_ANY_FS=1 at your own risk"
        )
