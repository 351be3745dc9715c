"""``journal trace``: one Agent Trace v0.1.0 record per commit, from the journal.

For each file the commit added lines to, the changesets view gives every journalled
change of that file (any run, its retracted changes left out), in log order;
:func:`projections.trace.attribute` replays them and keeps the commit's added lines
they wrote. Lines are grouped by conversation (the links view: the oldest run of the
conversation the writing run belongs to), and each conversation names the sessions
that wrote its lines in ``related``. The record is the same, byte for byte, every
time it is made for the same commit and journal, except ``id`` and ``timestamp``:
files, conversations, ranges and related sessions are sorted, and nothing depends on
the clock or the order runs were found in.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import urllib.parse
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .changequeries import covered
from .changesets import blob, iter_changes
from .engine import Views
from .gitcommit import Commit, added_lines, commit, content, toplevel
from .linkqueries import conversation
from .runs import list_runs
from .trace import Attributed, Edit, attribute, ranges

if TYPE_CHECKING:
    from journal.store import LmdbJournal

    from .changesets import Change
    from .runs import Run
    from .view import State

__all__ = ["SPEC_VERSION", "model_id", "trace", "traces"]

SPEC_VERSION = "0.1.0"
_NAMES = ("runs", "changesets", "links")
# models.dev providers by model name, then by agent.
_PROVIDERS = (
    ("claude", "anthropic"),
    ("gpt", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("codex", "openai"),
    ("gemini", "google"),
)
_BY_SOURCE = {"claude-code": "anthropic", "codex": "openai", "gemini": "google"}


def model_id(model: str | None, source: str) -> str | None:
    """A model in models.dev ``provider/model`` form, where the provider can be told."""
    if not model:
        return None
    if "/" in model:
        return model[:250]
    for prefix, provider in _PROVIDERS:
        if model.startswith(prefix):
            return f"{provider}/{model}"[:250]
    known = _BY_SOURCE.get(source)
    return f"{known}/{model}"[:250] if known else model[:250]


def _url(origin: str, kind: str, name: str) -> str:
    return f"agent-journal://{origin}/{kind}/{urllib.parse.quote(name, safe='/')}"


class _Journal:
    """What one trace reads of the views, read once for all the commits of a range."""

    def __init__(self, runs: State, changes: State, links: State) -> None:
        self.runs_state, self.links_state = runs, links
        now = getattr(runs, "newest_time", 0)
        self.now = now
        self.runs: dict[str, Run] = {one.run_id: one for one in list_runs(runs, now=now)}
        found: list[Change] = []
        for one in self.runs.values():
            found.extend(iter_changes(changes, one.run_id))
        found.sort(key=lambda c: (c.seq, c.index, c.run_id))
        gone_by = covered(changes, list(self.runs.values()), found)
        self.changes = [c for c, gone in zip(found, gone_by, strict=True) if not gone]
        self._changes_state = changes
        self.blobs: dict[str, str | None] = {}
        self._roots: dict[str, str] = {}
        self._dirs: dict[str, str] = {}

    def text(self, digest: str | None) -> str | None:
        if digest is None:
            return None
        if digest == "":
            return ""
        if digest not in self.blobs:
            self.blobs[digest] = blob(self._changes_state, digest)
        return self.blobs[digest]

    def conversation_of(self, run_id: str) -> str:
        if run_id not in self._roots:
            found = conversation(self.runs_state, self.links_state, run_id, now=self.now)
            for one in found.runs:
                self._roots[one.run_id] = found.conversation
        return self._roots.get(run_id, run_id)

    def _real(self, change: Change) -> str:
        """The change's absolute path with its directory's symlinks resolved."""
        path = change.path
        if not os.path.isabs(path):
            path = os.path.join(change.root or "/", path)
        head, tail = os.path.split(os.path.normpath(path))
        if head not in self._dirs:
            self._dirs[head] = os.path.realpath(head)
        return os.path.join(self._dirs[head], tail)

    def edits_in(self, root: str) -> dict[str, list[tuple[Change, Edit]]]:
        """The repository's changes by path relative to ``root``, in log order."""
        prefix = root.rstrip("/") + "/"
        out: dict[str, list[tuple[Change, Edit]]] = {}
        for change in self.changes:
            path = self._real(change)
            if not path.startswith(prefix):
                continue
            made = Edit(
                run_id=change.run_id,
                seq=change.seq,
                before=self.text(change.before),
                after=self.text(change.after),
            )
            out.setdefault(path[len(prefix) :], []).append((change, made))
        return out


def _file(
    journal: _Journal,
    origin: str,
    path: str,
    edits: list[tuple[Change, Edit]],
    lines: list[Attributed],
    at: str,
) -> dict[str, Any]:
    text_lines = at.splitlines()
    groups: dict[str, dict[tuple[str, bool, str | None], list[int]]] = {}
    sessions: dict[str, set[str]] = {}
    for one in lines:
        change, _ = edits[one.edit]
        run = journal.runs.get(change.run_id)
        session = run.run_id.split("/")[0] + "/" + run.session_id if run else change.run_id
        source = run.source if run else ""
        model = model_id(run.models[-1] if run and run.models else None, source)
        root = journal.conversation_of(change.run_id)
        groups.setdefault(root, {}).setdefault((root, one.mixed, model), []).append(one.line)
        sessions.setdefault(root, set()).add(session)
    conversations = []
    for root in sorted(groups):
        models = {model for (_, _, model) in groups[root]}
        shared = next(iter(models)) if len(models) == 1 else None
        spans = []
        for (_, mixed, model), numbers in groups[root].items():
            for start, end in ranges(numbers):
                span: dict[str, Any] = {"start_line": start, "end_line": end}
                body = "\n".join(text_lines[start - 1 : end]).encode("utf-8", "surrogateescape")
                span["content_hash"] = "sha256:" + hashlib.sha256(body).hexdigest()[:16]
                if mixed or shared is None:
                    who: dict[str, Any] = {"type": "mixed" if mixed else "ai"}
                    if model is not None:
                        who["model_id"] = model
                    span["contributor"] = who
                spans.append(span)
        spans.sort(key=lambda s: (s["start_line"], s["end_line"], str(s.get("contributor"))))
        contributor: dict[str, Any] = {"type": "ai"}
        if shared is not None:
            contributor["model_id"] = shared
        conversations.append(
            {
                "url": _url(origin, "conversations", root),
                "contributor": contributor,
                "ranges": spans,
                "related": [
                    {"type": "session", "url": _url(origin, "sessions", s)}
                    for s in sorted(sessions[root])
                ],
            }
        )
    return {"path": path, "conversations": conversations}


def _record(
    journal: _Journal, repo: str, root: str, found: Commit, origin: str, version: str
) -> dict[str, Any]:
    by_path = journal.edits_in(root)
    files = []
    for path, added in sorted(added_lines(repo, found).items()):
        edits = by_path.get(path)
        if not edits:
            continue
        at = content(repo, found.revision, path)
        lines = attribute(at, added, [made for _, made in edits])
        if lines:
            files.append(_file(journal, origin, path, edits, lines, at))
    stamp = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": SPEC_VERSION,
        "id": str(uuid.uuid4()),
        "timestamp": stamp,
        "vcs": {"type": "git", "revision": found.revision},
        "tool": {"name": "agent-journal", "version": version},
        "files": files,
        "metadata": {"dev.agent-journal": {"origin": origin}},
    }


def traces(
    journal: LmdbJournal,
    repo: str,
    revs: Sequence[str],
    *,
    origin: str = "local",
    version: str = "0",
) -> list[dict[str, Any]]:
    """One Agent Trace record per revision in ``revs`` of the git repository ``repo``.

    Raises:
        NotFoundError: ``repo`` is no git work tree, or a revision is unknown.
    """
    root = os.path.realpath(toplevel(repo))
    found = [commit(repo, rev) for rev in revs]
    with Views(journal) as views:
        views.catch_up(_NAMES)
        with views.reading_many(_NAMES) as st:
            read = _Journal(st["runs"], st["changesets"], st["links"])
            return [_record(read, repo, root, one, origin, version) for one in found]


def trace(journal: LmdbJournal, repo: str, rev: str = "HEAD", **kw: Any) -> dict[str, Any]:
    """The Agent Trace record of one commit (default ``HEAD``)."""
    return traces(journal, repo, [rev], **kw)[0]
