"""Codex CLI: command hooks in ``hooks.json``, ``notify`` and hook trust in ``config.toml``.

User scope: ``$CODEX_HOME`` if set (Codex keeps its config there then), else
``~/.codex``; project scope ``<project>/.codex``. ``hooks.json`` has Claude Code's
layout; every event of Codex's hooks schema is registered but the per-model-request
pair. ``notify`` is Codex's older single program, run after each turn with the event
JSON as its last argument (``journal hook codex '<json>'``): it is written as an argv
array, and only when the user has no ``notify`` of their own. A different ``notify``
program is left alone and reported; hooks.json still delivers the events.

Codex runs only hooks it trusts and skips the others silently, so install also
writes the trust Codex's own hook review would (:mod:`._codex_trust`): one
``[hooks.state."<key>"] trusted_hash`` table per handler of ours, always in the
*user's* ``config.toml`` (Codex reads trust from nowhere else, project hooks
included). Uninstall removes exactly those tables, recognised by their key and hash;
``status`` says ``untrusted`` when any is missing or stale. A project's ``.codex`` is
loaded only once the project itself is trusted; that decision is left to the user
(status says so).

``config.toml`` is edited with tomlkit, which keeps comments, ordering and
formatting of everything we do not touch.
"""

from __future__ import annotations

import os
import re
import shlex
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from . import _codex_trust as trust
from ._command import is_hook_argv, is_hook_command
from ._core import Removal
from ._files import ConfigFileError, read_bytes
from ._jsonhooks import JsonHooksFile
from .results import FileStatus

__all__ = ["AGENT", "EVENTS", "TIMEOUT_SECONDS", "ConfigFile", "targets"]

AGENT = "codex"
TIMEOUT_SECONDS = 5
# What install wrote before Codex's caps were known: still recognised as ours.
_LEGACY_TIMEOUTS = (5,)

EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "PostCompact",
    "Stop",
    "Interrupt",
    "SessionEnd",
)

SKIPPED: dict[str, str] = {
    "PreModelRequest": "once per model request; the rollout has every response's usage",
    "PostModelRequest": "once per model request; the rollout has every response's usage",
}

_NOTIFY_EVENT = "agent-turn-complete (notify)"


def config_dir(scope: str, project_dir: str) -> str:
    """The ``.codex`` directory for ``scope``."""
    if scope == "project":
        return os.path.join(project_dir, ".codex")
    override = os.environ.get("CODEX_HOME")
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return os.path.join(os.path.expanduser("~"), ".codex")


def _key_dir(scope: str, project_dir: str) -> str:
    """The ``.codex`` directory as Codex names it in trust keys (see _codex_trust)."""
    if scope == "project":
        return os.path.join(os.path.realpath(project_dir), ".codex")
    if os.environ.get("CODEX_HOME"):
        return os.path.realpath(config_dir(scope, project_dir))
    return config_dir(scope, project_dir)


def _table(parent: Any, name: str, where: str, *, create: bool) -> Any:
    """``parent[name]`` as a TOML table (created as a super-table if asked), or None."""
    item = parent.get(name)
    if item is None:
        if not create:
            return None
        item = tomlkit.table(is_super_table=True)
        parent[name] = item
    if not isinstance(item, dict):
        raise ConfigFileError(f"{where}: {name} must be a table; it was not changed")
    return item


class Trust:
    """Codex's trust in our handlers of one ``hooks.json``.

    ``hooks`` is that file's target; ``key_path`` its path in trust keys;
    ``project`` the project whose ``.codex`` it is (project scope) or None.
    """

    def __init__(self, hooks: JsonHooksFile, key_path: str, project: str | None) -> None:
        self.hooks = hooks
        self.key_path = key_path
        self.project = project
        # Our handlers as they are before this operation writes anything: tables
        # trusting them are ours too, even once hooks.json has changed.
        try:
            seen = hooks.positions(read_bytes(hooks.path))
        except ConfigFileError:
            seen = []
        self._seen = [(group.get("matcher"), handler) for _e, _g, _h, group, handler in seen]

    def wanted(self, hooks_data: bytes | None) -> dict[str, tuple[str, str]]:
        """``{key: (event, hash)}`` for each handler of ours in ``hooks_data``."""
        found: dict[str, tuple[str, str]] = {}
        for event, g, h, group, handler in self.hooks.positions(hooks_data):
            digest = trust.trusted_hash(event, group.get("matcher"), handler)
            if digest is not None:
                found[trust.state_key(self.key_path, event, g, h)] = (event, digest)
        return found

    def planned(self) -> dict[str, tuple[str, str]]:
        """What :meth:`wanted` is once install has written ``hooks.json``."""
        return self.wanted(self.hooks.plan_install(read_bytes(self.hooks.path))[0])

    def is_ours(self, key: str, table: object) -> bool:
        """True if ``table`` at ``key`` trusts a handler of ours."""
        event = trust.parse_key(key, self.key_path)
        if event is None or not isinstance(table, dict):
            return False
        ours = self.hooks.handler_for(event)
        candidates = [(None, ours), *self._seen]
        candidates += [(None, {**ours, "timeout": t}) for t in _LEGACY_TIMEOUTS]
        hashes = {trust.trusted_hash(event, m, handler) for m, handler in candidates}
        return table.get("trusted_hash") in hashes

    def project_trusted(self, doc: Any) -> bool:
        """True unless this is a project Codex will not load (not marked trusted)."""
        if self.project is None:
            return True
        projects = doc.get("projects")
        if not isinstance(projects, dict):
            return False
        for directory in _project_roots(self.project):
            entry = projects.get(directory)
            if isinstance(entry, dict):
                return entry.get("trust_level") == "trusted"
        return False

    def project_note(self, config_path: str) -> str:
        return (
            f"Codex loads {self.project}/.codex only in a trusted project: trust the "
            f'folder when Codex asks, or add [projects."{self.project}"] trust_level = '
            f'"trusted" to {config_path}'
        )


def _project_roots(project: str) -> list[str]:
    """The project directory, then the git repository root above it (if any)."""
    roots = [project]
    directory = project
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            if directory != project:
                roots.append(directory)
            break
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return roots


class ConfigFile:
    """A Codex ``config.toml``: our ``notify``, our hooks' trust, or both (a ``Target``)."""

    owns_file = False

    def __init__(self, path: str, argv: list[str], *, notify: bool, trusts: Trust | None) -> None:
        self.path = path
        self.argv = argv
        self.notify = notify
        self.trust = trusts
        self.role = "notify" if notify else "trust"

    def _load(self, data: bytes) -> tomlkit.TOMLDocument:
        try:
            return tomlkit.parse(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigFileError(f"{self.path} is not UTF-8 text; it was not changed") from None
        except TOMLKitError as exc:
            raise ConfigFileError(
                f"{self.path} is not valid TOML ({exc}); fix it first, it was not changed"
            ) from None

    @staticmethod
    def _current(doc: tomlkit.TOMLDocument) -> Any:
        item = doc.get("notify")
        if item is None:
            return None
        return item.unwrap() if hasattr(item, "unwrap") else item

    def _state(self, doc: tomlkit.TOMLDocument, *, create: bool) -> Any:
        hooks = _table(doc, "hooks", self.path, create=create)
        return None if hooks is None else _table(hooks, "state", self.path, create=create)

    def plan_install(self, data: bytes | None) -> tuple[bytes, list[str]]:
        """Add our ``notify`` (unless another program has it) and our hooks' trust."""
        doc = self._load(data or b"")
        changed = False
        notes: list[str] = []
        if self.notify:
            current = self._current(doc)
            if current is not None and not is_hook_argv(current, AGENT):
                notes.append(_foreign_note(current))
            elif current != self.argv:
                doc["notify"] = self.argv
                changed = True
        if self.trust is not None:
            changed = self._trust_ours(doc) or changed
            if not self.trust.project_trusted(doc):
                notes.append(self.trust.project_note(self.path))
        if data is not None and not changed:
            return data, notes
        return tomlkit.dumps(doc).encode("utf-8"), notes

    def _trust_ours(self, doc: tomlkit.TOMLDocument) -> bool:
        """Write a trust table per handler of ours, drop stale ones; True if changed."""
        assert self.trust is not None
        wanted = self.trust.planned()
        state = self._state(doc, create=False)
        changed = False
        if state is not None:
            for key in list(state):
                if key not in wanted and self.trust.is_ours(key, state[key]):
                    del state[key]
                    changed = True
        for key, (_event, digest) in wanted.items():
            table = state.get(key) if state is not None else None
            if isinstance(table, dict) and table.get("trusted_hash") == digest:
                continue
            if state is None:
                state = self._state(doc, create=True)
            if isinstance(table, dict):
                table["trusted_hash"] = digest  # keeps an ``enabled`` the user set
            else:
                entry = tomlkit.table()
                entry["trusted_hash"] = digest
                state[key] = entry
            changed = True
        return changed

    def plan_uninstall(self, data: bytes) -> Removal:
        """Remove ``notify`` if it is ours and every trust table of ours."""
        doc = self._load(data)
        found = False
        if self.notify and is_hook_argv(self._current(doc), AGENT):
            del doc["notify"]
            found = True
        state = self._state(doc, create=False) if self.trust is not None else None
        if state is not None and self.trust is not None:
            ours = [key for key in state if self.trust.is_ours(key, state[key])]
            for key in ours:
                del state[key]
            if ours:
                found = True
                if not state:
                    del doc["hooks"]["state"]
                    if not doc["hooks"]:
                        del doc["hooks"]
        if not found:
            return Removal(data, found=False, empty=False)
        text = tomlkit.dumps(doc)
        if text.endswith("\n\n") and not data.endswith(b"\n\n"):
            text = text.rstrip("\n") + "\n"
        return Removal(text.encode("utf-8"), found=True, empty=not text.strip())

    def same(self, a: bytes, b: bytes) -> bool:
        """True if both parse to the same settings (empty ``hooks`` tables aside)."""
        return _normal(self._load(a).unwrap()) == _normal(self._load(b).unwrap())

    def inspect(self, data: bytes | None) -> FileStatus:
        """``notify`` (ours, another program's or none) and whether Codex trusts ours."""
        doc = self._load(data) if data is not None else tomlkit.document()
        status = self._inspect_notify(doc, exists=data is not None)
        if self.trust is None:
            return status
        wanted = self.trust.wanted(read_bytes(self.trust.hooks.path))
        if not wanted:
            return status
        state = self._state(doc, create=False) or {}
        untrusted: list[str] = []
        disabled: list[str] = []
        for key, (event, digest) in wanted.items():
            table = state.get(key)
            if not isinstance(table, dict) or table.get("trusted_hash") != digest:
                untrusted.append(event)
            elif table.get("enabled") is False:
                disabled.append(event)
        notes = list(status.notes)
        if untrusted:
            notes.append(
                "Codex skips hooks it has not trusted, without a word: run `journal hooks "
                "install codex` to trust ours (or review them in Codex's TUI: /hooks)"
            )
        if disabled:
            notes.append(
                f"disabled in Codex (enabled = false): {', '.join(disabled)}; enable them "
                "in Codex's TUI (/hooks)"
            )
        project_ok = self.trust.project_trusted(doc)
        if not project_ok:
            notes.append(self.trust.project_note(self.path))
        skipped = {*untrusted, *disabled}
        bad = list(dict.fromkeys(e for e, _ in wanted.values() if e in skipped or not project_ok))
        state_name = status.state
        if not self.notify:
            state_name = "untrusted" if bad else "installed"
        return FileStatus(
            path=status.path,
            role=status.role,
            exists=status.exists,
            state=state_name,
            events=status.events,
            missing=status.missing,
            commands=status.commands,
            notes=notes,
            trust="untrusted" if bad else "trusted",
            untrusted=bad,
        )

    def _inspect_notify(self, doc: tomlkit.TOMLDocument, *, exists: bool) -> FileStatus:
        if not self.notify:
            return FileStatus(path=self.path, role=self.role, exists=exists, state="missing")
        current = self._current(doc)
        if current is None:
            return FileStatus(
                path=self.path,
                role=self.role,
                exists=exists,
                state="missing",
                missing=[_NOTIFY_EVENT],
            )
        if not is_hook_argv(current, AGENT):
            return FileStatus(
                path=self.path,
                role=self.role,
                exists=exists,
                state="skipped",
                notes=[_foreign_note(current)],
            )
        return FileStatus(
            path=self.path,
            role=self.role,
            exists=exists,
            state="installed" if current == self.argv else "outdated",
            events=[_NOTIFY_EVENT],
            commands=[shlex.join(current)],
        )


def _normal(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without an empty ``hooks.state`` or an empty ``hooks`` table."""
    hooks = doc.get("hooks")
    if isinstance(hooks, dict):
        hooks = {k: v for k, v in hooks.items() if not (k == "state" and v == {})}
        doc = {k: v for k, v in doc.items() if k != "hooks"}
        if hooks:
            doc["hooks"] = hooks
    return doc


def _foreign_note(current: object) -> str:
    shown = re.sub(r"\s+", " ", repr(current))[:200]
    return (
        f"notify is already set to another program ({shown}); it was left as it is. "
        "Codex events still reach the journal through hooks.json"
    )


def hooks_file(scope: str, project_dir: str, argv: list[str]) -> JsonHooksFile:
    """The ``hooks.json`` target of ``scope``."""
    command = shlex.join(argv)
    handler = {"type": "command", "command": command, "timeout": TIMEOUT_SECONDS}
    return JsonHooksFile(
        path=os.path.join(config_dir(scope, project_dir), "hooks.json"),
        events=EVENTS,
        handler=handler,
        handlers={e: {**handler, "timeout": t} for e, t in trust.SHORT_TIMEOUT_MAX.items()},
        is_ours=lambda h: is_hook_command(h.get("command"), AGENT),
        grouped=True,
    )


def targets(scope: str, project_dir: str, argv: list[str]) -> list[Any]:
    """``hooks.json`` and ``config.toml`` of ``scope`` (and, for a project, the
    user's ``config.toml``, where Codex keeps the trust in project hooks)."""
    hooks = hooks_file(scope, project_dir, argv)
    key_path = os.path.join(_key_dir(scope, project_dir), "hooks.json")
    here = os.path.join(config_dir(scope, project_dir), "config.toml")
    if scope == "user":
        trusts = Trust(hooks, key_path, None)
        return [hooks, ConfigFile(here, argv, notify=True, trusts=trusts)]
    trusts = Trust(hooks, key_path, os.path.realpath(project_dir))
    user = os.path.join(config_dir("user", project_dir), "config.toml")
    return [
        hooks,
        ConfigFile(here, argv, notify=True, trusts=None),
        ConfigFile(user, argv, notify=False, trusts=trusts),
    ]
