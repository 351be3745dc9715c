"""What the CLI (and ``journal serve``) asks of the changesets view: changes, diffs, retractions.

Like :mod:`projections.queries`, every function catches the views it needs up first,
then answers from one read transaction. A run is named by its run id, its session
id, or a unique prefix of either (:func:`projections.runs.get_run`); its child runs
(subagents, child sessions) are included and marked.

Paths: a change keeps the absolute path the agent named and the directory the agent
worked in; a path is shown relative to the git repository around that directory
when one exists on this machine (found by looking for ``.git`` upwards, never
running git), else relative to that directory, else absolute. A diff needs nothing
else from the working tree: contents come from the view's blobs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from journal.errors import NotFoundError, UsageError

from .changesets import (
    RETRACT_KIND,
    RETRACT_SOURCE,
    Change,
    blob,
    iter_changes,
    retract_name,
    retractions,
)
from .engine import Views
from .patchtext import count_changes, render
from .runs import child_runs, get_run

if TYPE_CHECKING:
    from journal.store import LmdbJournal

    from .runs import Run
    from .view import State

__all__ = ["Retracted", "changes_summary", "covered", "retract", "run_changes", "run_diff"]

_NAMES = ("runs", "changesets")


class _Found(msgspec.Struct, frozen=True):
    run: Run
    runs: list[Run]
    changes: list[Change]
    retracted: list[bool]
    #: The contents the changes name, by digest (None: the view lacks it).
    blobs: dict[str, str | None]


class Retracted(msgspec.Struct, frozen=True, kw_only=True, tag="projections.retracted"):
    """What ``journal retract`` appended: the record's seq and the changes it covers."""

    seq: int
    run_id: str
    path: str | None
    changes: int

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``retract --json``."""
        return msgspec.structs.asdict(self)


def _root(change: Change, cache: dict[str, str | None]) -> str | None:
    """The git work tree around the change's directory (else that directory); a
    change whose record names no directory (a Codex rollout item) takes its run's."""
    start = change.root or cache.get("\x00" + change.run_id)
    if start is None:
        return None
    if start not in cache:
        found: str | None = None
        here = start
        while True:
            if os.path.exists(os.path.join(here, ".git")):
                found = here
                break
            up = os.path.dirname(here)
            if up == here:
                break
            here = up
        cache[start] = found or start
    return cache[start]


def _cwds(found: _Found) -> dict[str, str | None]:
    """A path cache seeded with each run's working directory (keys ``"\0" + run id``)."""
    return {"\x00" + one.run_id: one.cwd for one in found.runs}


def _display(change: Change, cache: dict[str, str | None]) -> str:
    """The change's path relative to its root when it lies inside it, else as given."""
    root = _root(change, cache)
    path = change.path
    if root is not None and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path


def covered(state: State, runs: Sequence[Run], changes: list[Change]) -> list[bool]:
    """Which changes a retraction covers: one on the change's run or an ancestor of
    it, for every path (``""``) or the change's path, recorded after the change."""
    marks = {one.run_id: retractions(state, one.run_id) for one in runs}
    out = []
    for change in changes:
        hit = False
        for run_id, found in marks.items():
            if found and (change.run_id == run_id or change.run_id.startswith(run_id + "/")):
                seq = max(found.get("", 0), found.get(retract_name(change.path), 0))
                hit = hit or seq > change.seq
        out.append(hit)
    return out


def _find(journal: LmdbJournal, ident: str, *, contents: bool = False) -> _Found:
    """The run, its family, their changes in order, which are retracted, and (with
    ``contents``) the contents a net diff needs: each file's first "before" and last
    "after" among its live changes, not every version in between."""
    views = Views(journal)
    try:
        views.catch_up(_NAMES)
        with views.reading_many(_NAMES) as states:
            runs_state, state = states["runs"], states["changesets"]
            now = runs_state.newest_time
            top = get_run(runs_state, ident, now=now)
            family = [top, *child_runs(runs_state, top.run_id, now=now)]
            changes = [c for one in family for c in iter_changes(state, one.run_id)]
            changes.sort(key=lambda c: (c.seq, c.index, c.run_id))
            retracted = covered(state, family, changes)
            blobs: dict[str, str | None] = {}
            if contents:
                ends: dict[str, list[str | None]] = {}
                for change, gone in zip(changes, retracted, strict=True):
                    if not gone:
                        ends.setdefault(change.path, [change.before, None])[1] = change.after
                for first, last in ends.values():
                    for found in (first, last):
                        if found and found not in blobs:
                            blobs[found] = blob(state, found)
            return _Found(top, family, changes, retracted, blobs)
    finally:
        views.close()


def run_changes(journal: LmdbJournal, run_id: str) -> list[dict[str, object]]:
    """The ``changes --json`` items of a run and its child runs, in the order made.

    Each item: ``change_id``, ``run_id``, ``step_id``, ``path``, ``operation``,
    ``before_digest``, ``after_digest``, ``additions``, ``deletions``, ``retracted``
    (DESIGN §5), and ``child`` (the change is a child run's), ``seq``, ``time``,
    ``tool``, ``tool_use_id``, ``abs_path``, ``content_known`` (both contents are
    known: a diff can show it), ``hunks`` (the edit's own text when they are not).

    Raises:
        NotFoundError / AmbiguousPrefixError: as for ``journal run``.
    """
    found = _find(journal, run_id)
    cache = _cwds(found)
    out: list[dict[str, object]] = []
    for change, retracted in zip(found.changes, found.retracted, strict=True):
        run = change.run_id
        out.append(
            {
                "change_id": f"{run}@{change.seq}.{change.index}",
                "run_id": run,
                "step_id": f"{run}#{change.tool_use_id}" if change.tool_use_id else None,
                "path": _display(change, cache),
                "operation": change.operation,
                "before_digest": change.before or None,
                "after_digest": change.after or None,
                "additions": change.additions,
                "deletions": change.deletions,
                "retracted": retracted,
                "child": run != found.run.run_id,
                "seq": change.seq,
                "time": change.time,
                "tool": change.tool,
                "tool_use_id": change.tool_use_id,
                "abs_path": change.path,
                "content_known": change.before is not None and change.after is not None,
                "hunks": change.hunks,
            }
        )
    return out


def _files(found: _Found, path: str | None) -> tuple[list[tuple[str, list[Change]]], bool]:
    """The live changes by file, in order of first change (``path``: only that file)."""
    cache = _cwds(found)
    files: dict[str, tuple[str, list[Change]]] = {}
    matched = False
    for change, retracted in zip(found.changes, found.retracted, strict=True):
        shown = _display(change, cache)
        if path is not None and path not in (shown, change.path):
            continue
        matched = True
        if retracted:
            continue
        files.setdefault(change.path, (shown, []))[1].append(change)
    return list(files.values()), matched


def _content(found: str | None, blobs: dict[str, str | None]) -> tuple[bool, str | None]:
    """(known, text) of a digest: ``""`` is no file (text None)."""
    if found is None:
        return False, None
    if found == "":
        return True, None
    text = blobs.get(found)
    return text is not None, text


def run_diff(
    journal: LmdbJournal, run_id: str, path: str | None = None, reverse: bool = False
) -> str:
    """One unified diff of the run's net effect per file (``git apply`` takes it).

    Files in order of their first change; several changes to one file are one file
    diff from the content before the first to the content after the last. A file
    whose content before the first change (or after the last) is unknown is left
    out, with a ``#`` line saying so at the top (``git apply`` skips such lines).
    ``reverse`` gives the undo patch. Retracted changes are left out.

    Raises:
        NotFoundError: ``path`` names no file the run changed.
    """
    found = _find(journal, run_id, contents=True)
    files, matched = _files(found, path)
    if path is not None and not matched:
        raise NotFoundError(f"run {found.run.run_id} changed no file {path!r}")
    notes: list[str] = []
    parts: list[str] = []
    for shown, changes in files:
        known_before, before = _content(changes[0].before, found.blobs)
        known_after, after = _content(changes[-1].after, found.blobs)
        if not known_before or not known_after:
            which = "before its first change" if not known_before else "after its last change"
            notes.append(
                f"# {shown}: not in this diff: its content {which} is unknown "
                f"(the agent's record carries no full content; see `journal changes`)\n"
            )
            continue
        if reverse:
            before, after = after, before
        parts.append(render(shown, before, after))
    return "".join(notes) + "".join(parts)


def changes_summary(journal: LmdbJournal, run_id: str) -> dict[str, object]:
    """``{"files", "additions", "deletions", "changes", "unknown"}`` of a run's live
    changes, net per file where both contents are known (for ``journal run ID``)."""
    found = _find(journal, run_id, contents=True)
    files, _matched = _files(found, None)
    added = removed = count = unknown = 0
    for _shown, changes in files:
        count += len(changes)
        known_before, before = _content(changes[0].before, found.blobs)
        known_after, after = _content(changes[-1].after, found.blobs)
        if known_before and known_after:
            plus, minus = count_changes(before or "", after or "")
        else:
            unknown += 1
            plus = sum(c.additions for c in changes)
            minus = sum(c.deletions for c in changes)
        added += plus
        removed += minus
    return {
        "files": len(files),
        "additions": added,
        "deletions": removed,
        "changes": count,
        "unknown": unknown,
    }


def retract(journal: LmdbJournal, run_id: str, path: str | None = None) -> Retracted:
    """Append a retraction of the run's changes (of ``path`` only, if given).

    Nothing is deleted: the record says that the run's changes up to it no longer
    count, and ``changes`` marks them ``retracted`` while ``diff`` leaves them out.
    ``journal`` must be writable.

    Raises:
        NotFoundError: the run (or ``path`` in it) has no live change to retract.
        UsageError: ``path`` names several files.
    """
    found = _find(journal, run_id)
    files, _matched = _files(found, path)
    if not files:
        what = f" to {path!r}" if path is not None else ""
        raise NotFoundError(f"run {found.run.run_id} has no change{what} left to retract")
    target: str | None = None
    if path is not None:
        paths = {c.path for _shown, changes in files for c in changes}
        if len(paths) > 1:
            raise UsageError(f"{path!r} names several files: {', '.join(sorted(paths))}")
        target = paths.pop()
    body = msgspec.json.encode({"run_id": found.run.run_id, "path": target})
    done = journal.append(body, source=RETRACT_SOURCE, kind=RETRACT_KIND)
    count = sum(len(changes) for _shown, changes in files)
    return Retracted(seq=done.seq, run_id=found.run.run_id, path=target, changes=count)
