"""Reading and writing an agent's config file without ever damaging it.

Writes are atomic (a temporary file in the same directory, fsync, rename, fsync of
the directory) and keep the file's mode, so a crash leaves either the old file or
the new one. A symlinked config (dotfile managers do this) is written through to
its target instead of being replaced by a regular file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from journal.errors import JournalError

__all__ = [
    "BACKUP_SUFFIX",
    "CREATED_SUFFIX",
    "ConfigFileError",
    "backup_path",
    "created_path",
    "missing_dirs",
    "prune_dirs",
    "read_bytes",
    "real_path",
    "remove_file",
    "write_atomic",
]

BACKUP_SUFFIX = ".agent-journal-backup"
CREATED_SUFFIX = ".agent-journal-dirs"


class ConfigFileError(JournalError, ValueError):
    """An agent's config file cannot be used: not valid JSON/TOML, an unexpected
    shape, or not ours to replace. The file is left untouched."""


def real_path(path: str) -> str:
    """The file a write to ``path`` should replace: symlinks resolved."""
    return os.path.realpath(path)


def backup_path(path: str) -> str:
    """Where the original bytes of ``path`` are kept while our entries are in it."""
    return path + BACKUP_SUFFIX


def created_path(path: str) -> str:
    """Where install records the directories it created for ``path`` (one per line)."""
    return path + CREATED_SUFFIX


def missing_dirs(path: str) -> list[str]:
    """The directories a write to ``path`` would create, deepest first."""
    missing: list[str] = []
    directory = os.path.dirname(real_path(path))
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return missing


def prune_dirs(directories: list[str]) -> list[str]:
    """Remove those of ``directories`` that are empty, deepest first; return them."""
    removed: list[str] = []
    for directory in sorted(set(directories), key=len, reverse=True):
        try:
            os.rmdir(directory)
        except OSError:
            continue  # not empty (the agent or the user put something there), or gone
        removed.append(directory)
    return removed


def read_bytes(path: str) -> bytes | None:
    """The bytes of ``path``, or None if there is no such file."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigFileError(f"{path} is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc.strerror}") from None


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically, keeping its mode (or ``mode``).

    Parent directories are created as needed. A new file gets the usual
    ``0666 & ~umask``.
    """
    target = real_path(path)
    directory = os.path.dirname(target) or "."
    try:
        os.makedirs(directory, exist_ok=True)
        if mode is None:
            try:
                mode = os.stat(target).st_mode & 0o7777
            except FileNotFoundError:
                mode = _default_mode()
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(target) + ".")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(directory)
    except OSError as exc:
        raise ConfigFileError(f"cannot write {target}: {exc.strerror}") from None


def remove_file(path: str) -> None:
    """Delete ``path`` (through a symlink, the target) if it exists."""
    target = real_path(path)
    try:
        os.unlink(target)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigFileError(f"cannot remove {target}: {exc.strerror}") from None
    _fsync_dir(os.path.dirname(target) or ".")


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
