"""What ``journal trace`` reads from git: a commit, its added lines, its files' contents.

Plain ``git`` subprocesses (porcelain-free plumbing where one exists), run with a
fixed environment so a user's pager, colour or diff settings change nothing. Every
failure is a :class:`~journal.errors.NotFoundError` or
:class:`~journal.errors.UsageError` carrying git's own first line of complaint.
"""

from __future__ import annotations

import os
import re
import subprocess

from journal.errors import NotFoundError, UsageError

__all__ = ["Commit", "added_lines", "commit", "content", "revisions", "toplevel"]

_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_PAGER": "cat",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
}


def _git(repo: str, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", repo, "-c", "core.quotepath=off", *args],
            capture_output=True,
            env=_ENV,
            check=False,
            timeout=120,
        )
    except FileNotFoundError:
        raise UsageError("git is not installed: journal trace reads the repository") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise NotFoundError(f"git {args[0]} in {repo}: {why[0] if why else 'failed'}")
    return done.stdout


def toplevel(repo: str) -> str:
    """The work tree's root directory around ``repo``."""
    return _git(repo, "rev-parse", "--show-toplevel").decode().strip()


class Commit:
    """A commit: its full revision and its first parent (None for a root commit)."""

    def __init__(self, revision: str, parent: str | None) -> None:
        self.revision = revision
        self.parent = parent


def commit(repo: str, rev: str) -> Commit:
    """The commit ``rev`` names (a hash, a branch, ``HEAD``…)."""
    line = _git(repo, "rev-list", "--parents", "-n", "1", f"{rev}^{{commit}}", "--")
    parts = line.decode().split()
    if not parts:
        raise NotFoundError(f"no commit {rev!r} in {repo}")
    return Commit(parts[0], parts[1] if len(parts) > 1 else None)


def revisions(repo: str, spec: str) -> list[str]:
    """The commits of a range ``A..B``, oldest first."""
    if ".." not in spec:
        raise UsageError(f"--range wants A..B, got {spec!r}")
    return _git(repo, "rev-list", "--reverse", spec, "--").decode().split()


def added_lines(repo: str, found: Commit) -> dict[str, set[int]]:
    """Per file (relative to the root), the line numbers the commit added, at the
    commit's own numbering; against its first parent, or every line of a root commit."""
    base = ["diff-tree", "-r", "-p", "-U0", "--no-renames", "--no-color", "--no-ext-diff"]
    if found.parent is None:
        out = _git(repo, *base, "--root", found.revision, "--")
    else:
        out = _git(repo, *base, found.parent, found.revision, "--")
    files: dict[str, set[int]] = {}
    current: set[int] | None = None
    for raw in out.split(b"\n"):
        if raw.startswith(b"+++ "):
            name = raw[4:]
            if name == b"/dev/null":
                current = None
                continue
            path = name[2:] if name.startswith(b"b/") else name
            current = files.setdefault(path.decode("utf-8", "surrogateescape"), set())
            continue
        hunk = _HUNK.match(raw)
        if hunk is not None and current is not None:
            start = int(hunk.group(1))
            count = 1 if hunk.group(2) is None else int(hunk.group(2))
            current.update(range(start, start + count))
    return {path: lines for path, lines in files.items() if lines}


def content(repo: str, revision: str, path: str) -> str:
    """The file ``path`` at ``revision`` as text (undecodable bytes kept as escapes)."""
    return _git(repo, "show", f"{revision}:{path}").decode("utf-8", "surrogateescape")
