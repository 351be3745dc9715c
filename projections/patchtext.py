"""Text edits the changesets view replays, and the unified diffs it renders.

Agents report a file mutation in one of four ways, and each can be replayed on the
file's previous content to give its new content: string replacements (Claude Code
``Edit``/``MultiEdit``, Cursor ``afterFileEdit``, Gemini ``replace``, OpenCode
``edit``), unified-diff hunks with line numbers (Claude Code ``structuredPatch``),
and Codex's ``apply_patch`` text (its "V4A" format: ``*** Add File``, ``*** Update
File`` with ``@@`` chunks of context, removed and added lines, ``*** Delete File``,
``*** Move to``). Every replay returns None when the edit does not fit the content
(the content it was made on is not the one we know): nothing is ever guessed.

Text is handled as a list of lines without their ``\\n`` (``"a\\nb\\n"`` is
``["a", "b", ""]``), so a missing final newline survives every replay. :func:`render`
writes a git-style unified diff (``a/`` ``b/`` prefixes, creation and deletion
headers, ``\\ No newline at end of file``) that ``git apply`` accepts.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

__all__ = [
    "PatchFile",
    "apply_hunks",
    "apply_v4a",
    "count_changes",
    "parse_v4a",
    "render",
    "replace",
]

#: One unified hunk: (old start, old count, new start, new count, lines " x"/"-x"/"+x").
Hunk = tuple[int, int, int, int, list[str]]


def replace(text: str, edits: Sequence[tuple[str, str, bool]]) -> str | None:
    """Apply string replacements ``(old, new, replace_all)`` in order; None if one misses.

    An empty ``old`` on empty text writes ``new`` (how Claude Code's ``Edit`` creates a
    file); otherwise the first occurrence is replaced, or every one with ``replace_all``.
    """
    for old, new, every in edits:
        if old == "":
            if text:
                return None
            text = new
            continue
        if old not in text:
            return None
        text = text.replace(old, new) if every else text.replace(old, new, 1)
    return text


def apply_hunks(text: str, hunks: Sequence[Hunk]) -> str | None:
    """Apply unified hunks to ``text``; None if one does not match where it says.

    Each hunk is looked for at its line number, shifted by what the hunks before it
    added or removed, then anywhere after the previous hunk (like ``patch``'s offset).
    """
    lines = text.split("\n")
    out: list[str] = []
    at = 0
    shift = 0
    for old_start, _old_count, _new_start, _new_count, body in hunks:
        old = [line[1:] for line in body if line[:1] in (" ", "-")]
        new = [line[1:] for line in body if line[:1] in (" ", "+")]
        want = max(old_start - 1, 0) + shift if old else max(old_start, 0) + shift
        found = _find(lines, old, at, want)
        if found is None:
            return None
        out.extend(lines[at:found])
        out.extend(new)
        at = found + len(old)
        shift += len(new) - len(old)
    out.extend(lines[at:])
    return "\n".join(out)


def _find(lines: list[str], old: list[str], start: int, want: int) -> int | None:
    size = len(old)
    if not size:
        return min(max(want, start), len(lines))
    if start <= want and lines[want : want + size] == old:
        return want
    for i in range(start, len(lines) - size + 1):
        if lines[i : i + size] == old:
            return i
    return None


class PatchFile:
    """One file of a Codex ``apply_patch`` text: ``add``, ``delete`` or ``update``."""

    __slots__ = ("action", "chunks", "move_to", "path")

    def __init__(self, action: str, path: str) -> None:
        self.action = action
        self.path = path
        self.move_to: str | None = None
        #: add: the added lines; update: (anchor, lines, at end of file) per ``@@`` chunk.
        self.chunks: list[tuple[str, list[str], bool]] = []


def parse_v4a(patch: str) -> list[PatchFile] | None:
    """The files of an ``apply_patch`` text, or None if it is not one."""
    lines = patch.strip().split("\n")
    if not lines or lines[0].strip() != "*** Begin Patch":
        return None
    files: list[PatchFile] = []
    current: PatchFile | None = None
    for line in lines[1:]:
        if line.startswith("*** End Patch"):
            return files
        for action, head in (
            ("add", "*** Add File: "),
            ("delete", "*** Delete File: "),
            ("update", "*** Update File: "),
        ):
            if line.startswith(head):
                current = PatchFile(action, line[len(head) :].strip())
                files.append(current)
                if action != "update":
                    current.chunks.append(("", [], False))
                break
        else:
            if current is None:
                return None
            if line.startswith("*** Move to: "):
                current.move_to = line[len("*** Move to: ") :].strip()
            elif line.startswith("*** End of File"):
                if current.chunks:
                    anchor, body, _eof = current.chunks[-1]
                    current.chunks[-1] = (anchor, body, True)
            elif line.startswith("@@") and current.action == "update":
                current.chunks.append((line[2:].strip(), [], False))
            elif current.action == "update":
                if not current.chunks:
                    current.chunks.append(("", [], False))
                current.chunks[-1][1].append(line if line else " ")
            elif current.action == "add" and line.startswith("+"):
                current.chunks[0][1].append(line)
    return files if files else None


def _seek(lines: list[str], pattern: list[str], start: int, eof: bool) -> int | None:
    """Where ``pattern`` starts at or after ``start``: exact, then ignoring trailing
    and then surrounding whitespace (Codex's own matching); at the end first if ``eof``."""
    size = len(pattern)
    if size > len(lines):
        return None
    first = len(lines) - size if eof else start
    for norm in (lambda s: s, str.rstrip, str.strip):
        want = [norm(p) for p in pattern]
        for begin in (first, start) if eof else (start,):
            for i in range(begin, len(lines) - size + 1):
                if [norm(x) for x in lines[i : i + size]] == want:
                    return i
    return None


def apply_v4a(text: str, part: PatchFile) -> str | None:
    """The new content of one ``apply_patch`` file given its old ``text`` (None: no fit).

    An added file is its ``+`` lines; an updated one ends with a newline, as Codex
    writes it.
    """
    if part.action == "add":
        return "".join(line[1:] + "\n" for line in part.chunks[0][1])
    if part.action == "delete":
        return ""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    at = 0
    for anchor, body, eof in part.chunks:
        if anchor:
            found = _seek(lines, [anchor], at, False)
            if found is None:
                return None
            at = found + 1
        old = [line[1:] for line in body if line[:1] in (" ", "-")]
        new = [line[1:] for line in body if line[:1] in (" ", "+")]
        if not old:
            lines[len(lines) : len(lines)] = new
            at = len(lines)
            continue
        found = _seek(lines, old, at, eof)
        if found is None:
            return None
        lines[found : found + len(old)] = new
        at = found + len(new)
    return "\n".join(lines) + "\n"


def _common_head(a: str, b: str) -> int:
    """Length of the longest common prefix (slice compares run at memcmp speed)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_tail(a: str, b: str, most: int) -> int:
    """Length of the longest common suffix, at most ``most``."""
    lo, hi = 0, min(most, len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def count_changes(before: str, after: str) -> tuple[int, int]:
    """Lines added and removed from ``before`` to ``after``.

    Only the lines between the common head and tail are compared: most edits are
    local, so a one-line edit of a large file costs a few slice compares.
    """
    if before == after:
        return 0, 0
    head = _common_head(before, after)
    head = before.rfind("\n", 0, head) + 1  # back to a line start
    tail = _common_tail(before, after, min(len(before), len(after)) - head)
    start, other = len(before) - tail, len(after) - tail
    if tail and (
        (start > 0 and before[start - 1] != "\n") or (other > 0 and after[other - 1] != "\n")
    ):
        # Forward to the next line start inside the common tail (one in both texts).
        found = before.find("\n", start)
        tail = 0 if found < 0 else len(before) - (found + 1)
    a = _lines(before[head : len(before) - tail])
    b = _lines(after[head : len(after) - tail])
    if not a or not b:
        return len(b), len(a)
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


def _lines(text: str) -> list[str]:
    """Lines with their ``\n`` (only ``\n`` ends a line, as for git)."""
    parts = text.split("\n")
    out = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def _range(start: int, length: int) -> str:
    """A hunk header range as git writes it (difflib's rule: an empty range names the
    line before it)."""
    begin = start + 1
    if length == 1:
        return str(begin)
    if not length:
        begin -= 1
    return f"{begin},{length}"


def render(path: str, before: str | None, after: str | None, *, context: int = 3) -> str:
    """The git-style unified diff of one file from ``before`` to ``after``.

    None stands for "no file": a None ``before`` is a creation, a None ``after`` a
    deletion. Empty when nothing changed.
    """
    if before == after:
        return ""
    head = [f"diff --git a/{path} b/{path}\n"]
    old_name, new_name = f"a/{path}", f"b/{path}"
    if before is None:
        head.append("new file mode 100644\n")
        old_name = "/dev/null"
    elif after is None:
        head.append("deleted file mode 100644\n")
        new_name = "/dev/null"
    a, b = _lines(before or ""), _lines(after or "")
    if a == b:
        return "".join(head)  # an empty file created or deleted
    out = [*head, f"--- {old_name}\n", f"+++ {new_name}\n"]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        old_range = _range(first[1], last[2] - first[1])
        new_range = _range(first[3], last[4] - first[3])
        out.append(f"@@ -{old_range} +{new_range} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(_mark(" ", line) for line in a[i1:i2])
                continue
            out.extend(_mark("-", line) for line in a[i1:i2])
            out.extend(_mark("+", line) for line in b[j1:j2])
    return "".join(out)


def _mark(sign: str, line: str) -> str:
    if line.endswith("\n"):
        return sign + line
    return f"{sign}{line}\n\\ No newline at end of file\n"
