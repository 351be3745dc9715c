"""What install, uninstall and status return: frozen Structs with permanent tags.

``journal hooks … --json`` prints these as they are (``msgspec.to_builtins``), so the
field names and tags are part of the CLI's JSON and only ever grow.
"""

from __future__ import annotations

import msgspec

__all__ = ["FileChange", "FileStatus", "HooksChange", "HooksStatus"]


class FileChange(msgspec.Struct, frozen=True, kw_only=True, tag="journal.hooks.file-change"):
    """What one install or uninstall did to one file.

    ``action`` is one of ``created``, ``updated``, ``unchanged`` (install);
    ``restored`` (the backup's exact bytes put back), ``updated`` (our entries
    removed, the user's later edits kept), ``deleted`` (the file did not exist
    before install), ``not-installed`` (nothing of ours was there) (uninstall).
    ``backup`` is the backup file written or restored, if any.
    """

    path: str
    role: str
    action: str
    backup: str | None = None
    notes: list[str] = msgspec.field(default_factory=list)


class HooksChange(msgspec.Struct, frozen=True, kw_only=True, tag="journal.hooks.change"):
    """The outcome of ``install`` or ``uninstall`` for one agent and scope."""

    agent: str
    scope: str
    operation: str
    changed: bool
    command: str
    events: list[str]
    files: list[FileChange]


class FileStatus(msgspec.Struct, frozen=True, kw_only=True, tag="journal.hooks.file-status"):
    """Our entries in one file.

    ``state`` is ``installed`` (every event wired to the current command),
    ``outdated`` (ours, but another command or extra events: install updates it),
    ``partial`` (some events missing), ``missing`` (nothing of ours),
    ``skipped`` (deliberately left alone, e.g. Codex ``notify`` set to another
    program; ``notes`` say why), or ``untrusted`` (a file that holds only the
    agent's trust in our entries, and it is not there).

    ``trust`` is set where the agent runs only hooks it trusts (Codex): ``trusted``
    or ``untrusted``; ``untrusted`` then lists the events whose entries the agent
    would skip.
    """

    path: str
    role: str
    exists: bool
    state: str
    events: list[str] = msgspec.field(default_factory=list)
    missing: list[str] = msgspec.field(default_factory=list)
    commands: list[str] = msgspec.field(default_factory=list)
    backup: str | None = None
    notes: list[str] = msgspec.field(default_factory=list)
    trust: str | None = None
    untrusted: list[str] = msgspec.field(default_factory=list)


class HooksStatus(msgspec.Struct, frozen=True, kw_only=True, tag="journal.hooks.status"):
    """Whether the journal is wired into one agent at one scope.

    ``installed`` is true when every file is ``installed`` (or ``skipped``) and
    the agent trusts our entries; ``state`` is ``installed``, ``untrusted`` (all
    there, but the agent will skip them until they are trusted: Codex), ``outdated``
    (ours everywhere, but install would update some: another command or old
    events), ``partial`` or ``not-installed``.
    """

    agent: str
    scope: str
    installed: bool
    state: str
    command: str
    files: list[FileStatus]
