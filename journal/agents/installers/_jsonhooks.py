"""A JSON config whose ``hooks`` object maps event names to lists of handlers.

Two layouts exist. Claude Code, Codex and Gemini CLI nest handlers in matcher
groups (``hooks.Event = [{"matcher": …, "hooks": [handler, …]}]``); Cursor lists
handlers directly (``hooks.event = [handler, …]``). We add one group (or handler)
per event with no matcher, so it sees every event of that kind, and recognise ours
by its command wherever it sits.

Parsing is strict: a file that is not JSON (including JSON with comments, which
we could not write back), has duplicate keys, or has an unexpected shape is
refused with a message and never rewritten. Writing keeps the user's key order,
indentation unit, line endings, BOM and final newline.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from ._core import Removal
from ._files import ConfigFileError
from .results import FileStatus

__all__ = ["JsonHooksFile"]

_BOM = b"\xef\xbb\xbf"


class _Style:
    __slots__ = ("bom", "crlf", "indent", "newline")

    def __init__(self, indent: int | str, *, newline: bool, crlf: bool, bom: bool) -> None:
        self.indent = indent
        self.newline = newline
        self.crlf = crlf
        self.bom = bom


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise _DuplicateKeyError(f"non-standard constant {name}")


def _indent_of(text: str) -> int | str:
    for line in text.splitlines()[1:]:
        body = line.lstrip(" \t")
        if body and len(body) < len(line):
            lead = line[: len(line) - len(body)]
            return "\t" if lead.startswith("\t") else len(lead)
    return 2


def load_json(data: bytes, path: str) -> tuple[dict[str, Any], _Style]:
    """Parse a JSON object config file; refuse anything we could not write back."""
    bom = data.startswith(_BOM)
    raw = data[len(_BOM) :] if bom else data
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigFileError(f"{path} is not UTF-8 text; it was not changed") from None
    style = _Style(
        _indent_of(text), newline=text.endswith("\n") or not text, crlf="\r\n" in text, bom=bom
    )
    if not text.strip():
        return {}, style
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        hint = " (comments are not JSON)" if "//" in text or "/*" in text else ""
        raise ConfigFileError(
            f"{path} is not valid JSON{hint}: {exc.msg} at line {exc.lineno} column "
            f"{exc.colno}; fix it first, it was not changed"
        ) from None
    except _DuplicateKeyError as exc:
        raise ConfigFileError(
            f"{path} has a duplicate key or a non-standard value ({exc}); fix it first, "
            "it was not changed"
        ) from None
    if not isinstance(doc, dict):
        raise ConfigFileError(
            f"{path} must hold a JSON object, not {type(doc).__name__}; it was not changed"
        )
    return doc, style


def dump_json(doc: dict[str, Any], style: _Style) -> bytes:
    """Serialise ``doc`` in the file's own style."""
    text = json.dumps(doc, indent=style.indent, ensure_ascii=False)
    if style.newline:
        text += "\n"
    if style.crlf:
        text = text.replace("\n", "\r\n")
    return (_BOM if style.bom else b"") + text.encode("utf-8")


def _is_handler(value: object) -> bool:
    return isinstance(value, dict)


class JsonHooksFile:
    """One agent's JSON hooks file (a :class:`~journal.installers._core.Target`).

    ``handler`` is our entry for every event, ``handlers`` replaces it for some
    (an agent that caps one event's timeout); ``is_ours`` recognises one (by its
    command) in any shape; ``grouped`` picks the layout; ``base`` is the document
    a new file starts from (keys equal to it count as empty); ``notes`` reports
    settings that stop the agent from running hooks at all.
    """

    owns_file = False

    def __init__(
        self,
        *,
        path: str,
        events: tuple[str, ...],
        handler: dict[str, Any],
        is_ours: Callable[[dict[str, Any]], bool],
        grouped: bool,
        base: dict[str, Any] | None = None,
        notes: Callable[[dict[str, Any]], list[str]] | None = None,
        handlers: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.path = path
        self.role = "hooks"
        self.events = events
        self.handler = handler
        self.handlers = handlers or {}
        self._is_ours = is_ours
        self.grouped = grouped
        self.base = base or {}
        self._notes = notes

    def handler_for(self, event: str) -> dict[str, Any]:
        """Our handler for ``event``."""
        return self.handlers.get(event, self.handler)

    def positions(
        self, data: bytes | None
    ) -> list[tuple[str, int, int, dict[str, Any], dict[str, Any]]]:
        """(event, group index, handler index, group, handler) of each of our
        handlers in ``data`` (grouped layout only; nothing if there is no file)."""
        if data is None:
            return []
        hooks = self._hooks(load_json(data, self.path)[0]) or {}
        found = []
        for name, entries in hooks.items():
            if not isinstance(entries, list):
                continue
            for g, group in enumerate(entries):
                inner = group.get("hooks") if isinstance(group, dict) else None
                if not isinstance(inner, list):
                    continue
                for h, handler in enumerate(inner):
                    if _is_handler(handler) and self._is_ours(handler):
                        found.append((name, g, h, group, handler))
        return found

    # -- the list under one event ---------------------------------------------------

    def _ours(self, entries: list[Any]) -> list[tuple[dict[str, Any] | None, dict[str, Any]]]:
        """(group, handler) for each of our handlers in an event's list."""
        found: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            if not self.grouped:
                if self._is_ours(entry):
                    found.append((None, entry))
                continue
            inner = entry.get("hooks")
            if isinstance(inner, list):
                found.extend((entry, h) for h in inner if _is_handler(h) and self._is_ours(h))
        return found

    def _without_ours(self, entries: list[Any]) -> list[Any]:
        """The list with our handlers removed, and groups we emptied dropped."""
        out: list[Any] = []
        for entry in entries:
            if not isinstance(entry, dict):
                out.append(entry)
            elif not self.grouped:
                if not self._is_ours(entry):
                    out.append(entry)
            else:
                inner = entry.get("hooks")
                if not isinstance(inner, list):
                    out.append(entry)
                    continue
                kept = [h for h in inner if not (_is_handler(h) and self._is_ours(h))]
                if len(kept) == len(inner):
                    out.append(entry)
                elif kept:
                    out.append({**entry, "hooks": kept})
        return out

    def _is_desired(self, name: str, entries: object) -> bool:
        """Exactly one handler of ours, equal to ours, seeing every event."""
        if not isinstance(entries, list):
            return False
        ours = self._ours(entries)
        if len(ours) != 1:
            return False
        group, handler = ours[0]
        if handler != self.handler_for(name):
            return False
        return group is None or group.get("matcher") in (None, "", "*")

    def _entry(self, name: str) -> dict[str, Any]:
        handler = copy.deepcopy(self.handler_for(name))
        return {"hooks": [handler]} if self.grouped else handler

    # -- documents ---------------------------------------------------------------

    def _hooks(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        hooks = doc.get("hooks")
        if hooks is None:
            return None
        if not isinstance(hooks, dict):
            raise ConfigFileError(
                f'{self.path}: "hooks" must be an object, not {type(hooks).__name__}; '
                "it was not changed"
            )
        return hooks

    def _normal(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` with empty hook lists and keys equal to ``base`` dropped."""
        out = {k: v for k, v in doc.items() if not (k in self.base and self.base[k] == v)}
        hooks = out.get("hooks")
        if isinstance(hooks, dict):
            hooks = {k: v for k, v in hooks.items() if v != []}
            if hooks:
                out["hooks"] = hooks
            else:
                del out["hooks"]
        return out

    def plan_install(self, data: bytes | None) -> tuple[bytes, list[str]]:
        """Merge our handler into every event; see :class:`JsonHooksFile`."""
        if data is None:
            original: dict[str, Any] = {}
            style = _Style(2, newline=True, crlf=False, bom=False)
        else:
            original, style = load_json(data, self.path)
        doc = copy.deepcopy(original)
        for key, value in self.base.items():
            if key not in doc:
                doc = {key: value, **doc}
            elif doc[key] != value:
                raise ConfigFileError(
                    f"{self.path}: {key} is {doc[key]!r}, agent-journal only knows {value!r}; "
                    "it was not changed"
                )
        hooks = self._hooks(doc)
        if hooks is None:
            hooks = doc["hooks"] = {}
        for name, entries in list(hooks.items()):
            if name not in self.events and isinstance(entries, list) and self._ours(entries):
                kept = self._without_ours(entries)
                if kept:
                    hooks[name] = kept
                else:
                    del hooks[name]
        for name in self.events:
            entries = hooks.get(name, [])
            if not isinstance(entries, list):
                raise ConfigFileError(
                    f'{self.path}: "hooks.{name}" must be a list; it was not changed'
                )
            if not self._is_desired(name, entries):
                hooks[name] = [*self._without_ours(entries), self._entry(name)]
        notes = self._notes(doc) if self._notes else []
        if data is not None and doc == original:
            return data, notes
        return dump_json(doc, style), notes

    def plan_uninstall(self, data: bytes) -> Removal:
        """Remove every handler of ours; drop the lists and groups that emptied."""
        doc, style = load_json(data, self.path)
        hooks = self._hooks(doc)
        found = False
        if hooks is not None:
            for name, entries in list(hooks.items()):
                if isinstance(entries, list) and self._ours(entries):
                    found = True
                    kept = self._without_ours(entries)
                    if kept:
                        hooks[name] = kept
                    else:
                        del hooks[name]
            if found and not hooks:
                del doc["hooks"]
        empty = not self._normal(doc)
        return Removal(dump_json(doc, style) if found else data, found=found, empty=empty)

    def same(self, a: bytes, b: bytes) -> bool:
        """True if both parse to the same settings, ignoring emptied containers."""
        return self._normal(load_json(a, self.path)[0]) == self._normal(load_json(b, self.path)[0])

    def inspect(self, data: bytes | None) -> FileStatus:
        """Which events carry our handler, and with which commands."""
        if data is None:
            return FileStatus(
                path=self.path,
                role=self.role,
                exists=False,
                state="missing",
                missing=[*self.events],
            )
        doc, _ = load_json(data, self.path)
        hooks = self._hooks(doc) or {}
        present: list[str] = []
        commands: list[str] = []
        exact = True
        extra = False
        for name, entries in hooks.items():
            if not isinstance(entries, list):
                continue
            ours = self._ours(entries)
            for _, handler in ours:
                command = handler.get("command")
                if isinstance(command, str) and command not in commands:
                    commands.append(command)
            if not ours:
                continue
            if name in self.events:
                present.append(name)
                exact = exact and self._is_desired(name, entries)
            else:
                extra = True
        missing = [name for name in self.events if name not in present]
        if not present and not extra:
            state = "missing"
        elif missing:
            state = "partial"
        elif exact and not extra:
            state = "installed"
        else:
            state = "outdated"
        return FileStatus(
            path=self.path,
            role=self.role,
            exists=True,
            state=state,
            events=[name for name in self.events if name in present],
            missing=missing,
            commands=commands,
            notes=self._notes(doc) if self._notes else [],
        )
