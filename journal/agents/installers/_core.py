"""Install, uninstall and status for one config file, whatever its format.

A :class:`Target` knows one file's format (JSON hooks, TOML ``notify``, a plugin
file we own outright) and plans changes as bytes; this module applies the plans
with the same rules for every agent:

- **install** merges our entries into what the user has. If that changes nothing,
  nothing is written (a second install is byte-identical and makes no backup).
  Otherwise the file without our entries is kept next to it as
  ``NAME.agent-journal-backup`` (once: an existing backup is never overwritten),
  then the new bytes are written atomically with the file's mode.
- **uninstall** removes only our entries. If the result means the same as the
  backup, the backup's exact bytes are put back (a round trip is byte-identical
  even where we re-serialised the file); if there was no backup and nothing but
  our entries was left, the file is deleted (install created it); otherwise the
  user's later edits are kept and only ours are gone. The backup is then removed.
- **directories** install had to create for a file are listed next to it in
  ``NAME.agent-journal-dirs``; uninstall removes them again once every file is done,
  each only if it is empty (the agent may have put its own files there since).
- every file is planned before any is written, and a file that changed between
  reading and writing is not overwritten.
"""

from __future__ import annotations

import os
from typing import Protocol

import msgspec

from ._files import (
    ConfigFileError,
    backup_path,
    created_path,
    missing_dirs,
    read_bytes,
    real_path,
    remove_file,
    write_atomic,
)
from .results import FileChange, FileStatus

__all__ = [
    "Removal",
    "Target",
    "check_all",
    "install_target",
    "status_target",
    "uninstall_target",
]


class Removal:
    """A file's bytes with our entries taken out.

    ``found``: there was something of ours. ``empty``: what is left is nothing
    but the empty document install would have started from.
    """

    __slots__ = ("empty", "found", "new")

    def __init__(self, new: bytes, *, found: bool, empty: bool) -> None:
        self.new = new
        self.found = found
        self.empty = empty


class Target(Protocol):
    """One config file of one agent, and how our entries look in it."""

    @property
    def path(self) -> str:
        """The file (as the agent names it; may be a symlink)."""

    @property
    def role(self) -> str:
        """What the file is for us: ``hooks``, ``notify`` or ``plugin``."""

    @property
    def owns_file(self) -> bool:
        """True if the whole file is ours (no backup; uninstall deletes it)."""

    def plan_install(self, data: bytes | None) -> tuple[bytes, list[str]]:
        """The file's bytes with our entries merged in (``data`` itself if they
        are already there), and notes for the user."""

    def plan_uninstall(self, data: bytes) -> Removal:
        """The file's bytes with our entries removed."""

    def same(self, a: bytes, b: bytes) -> bool:
        """True if ``a`` and ``b`` configure the agent identically."""

    def inspect(self, data: bytes | None) -> FileStatus:
        """Our entries in ``data`` (None: no file)."""


def _mode(path: str) -> int | None:
    try:
        return os.stat(real_path(path)).st_mode & 0o7777
    except OSError:
        return None


def _check_unchanged(path: str, expected: bytes | None) -> None:
    """Refuse to go on if the file no longer holds ``expected`` (the agent, or the
    user, wrote it while we were planning)."""
    if read_bytes(path) != expected:
        raise ConfigFileError(
            f"{path} changed while agent-journal was editing it; it was left as it is, "
            "run the command again"
        )


def _write_checked(path: str, expected: bytes | None, data: bytes) -> None:
    _check_unchanged(path, expected)
    write_atomic(path, data)


def _same(target: Target, a: bytes, b: bytes) -> bool:
    # A backup someone edited into an unreadable state is simply not "the same".
    try:
        return target.same(a, b)
    except ConfigFileError:
        return False


def check_all(targets: list[Target], *, install: bool) -> None:
    """Plan every file before touching any, so that one bad file (say an invalid
    ``config.toml``) stops the whole operation instead of leaving half of it done."""
    for target in targets:
        data = read_bytes(target.path)
        if install:
            target.plan_install(data)
        elif data is not None:
            target.plan_uninstall(data)


def install_target(target: Target) -> FileChange:
    """Merge our entries into ``target``'s file; see the module docstring."""
    path = target.path
    original = read_bytes(path)
    new, notes = target.plan_install(original)
    bpath = backup_path(path)
    if original is not None and new == original:
        kept = bpath if read_bytes(bpath) is not None else None
        return FileChange(path=path, role=target.role, action="unchanged", backup=kept, notes=notes)
    created = missing_dirs(path) if original is None else []
    if created:
        notes = [*notes, f"{created[0]} did not exist and was created"]
    backup: str | None = None
    if original is not None and not target.owns_file:
        _check_unchanged(path, original)
        if read_bytes(bpath) is None:
            removal = target.plan_uninstall(original)
            # The backup is the file as it is without our entries; a file holding
            # nothing else was created by an earlier install and gets none.
            if not removal.found:
                write_atomic(bpath, original, mode=_mode(path))
                backup = bpath
            elif not removal.empty:
                write_atomic(bpath, removal.new, mode=_mode(path))
                backup = bpath
        else:
            backup = bpath
    _write_checked(path, original, new)
    if created:
        write_atomic(created_path(path), "".join(f"{d}\n" for d in created).encode())
    action = "created" if original is None else "updated"
    return FileChange(path=path, role=target.role, action=action, backup=backup, notes=notes)


def _take_created(path: str) -> list[str]:
    """The directories install created for ``path``; forgets the record."""
    record = created_path(path)
    data = read_bytes(record)
    if data is None:
        return []
    remove_file(record)
    return [line for line in data.decode("utf-8", "surrogateescape").splitlines() if line]


def uninstall_target(target: Target, created: list[str]) -> FileChange:
    """Remove our entries from ``target``'s file; see the module docstring.

    The directories install created for the file are added to ``created``: the
    caller removes those left empty once every file is done.
    """
    path = target.path
    role = target.role
    original = read_bytes(path)
    if original is None:
        created.extend(_take_created(path))
        return FileChange(path=path, role=role, action="not-installed")
    removal = target.plan_uninstall(original)
    if not removal.found:
        return FileChange(path=path, role=role, action="not-installed")
    created.extend(_take_created(path))
    if target.owns_file:
        _check_unchanged(path, original)
        remove_file(path)
        return FileChange(path=path, role=role, action="deleted")
    bpath = backup_path(path)
    backup = read_bytes(bpath)
    notes: list[str] = []
    if backup is not None and _same(target, removal.new, backup):
        _write_checked(path, original, backup)
        action = "restored"
    elif backup is None and removal.empty:
        _check_unchanged(path, original)
        remove_file(path)
        action = "deleted"
    else:
        _write_checked(path, original, removal.new)
        action = "updated"
        if backup is not None:
            notes.append("the file was edited since install: those edits were kept")
    if backup is not None:
        remove_file(bpath)
    return FileChange(
        path=path,
        role=role,
        action=action,
        backup=bpath if backup is not None else None,
        notes=notes,
    )


def status_target(target: Target) -> FileStatus:
    """Our entries in ``target``'s file, with the backup if there is one."""
    status = target.inspect(read_bytes(target.path))
    bpath = backup_path(target.path)
    if read_bytes(bpath) is None:
        return status
    return msgspec.structs.replace(status, backup=bpath)
