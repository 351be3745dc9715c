"""Which journalled edits wrote which lines of a file at a commit: the attribution that
``journal trace`` turns into an Agent Trace record.

The seed this comes from stamps each line an agent writes with its session and
carries the stamps through every later edit; here the same is done after the fact,
from the contents the changesets view kept. :func:`provenance` replays a file's
edits in log order over a list of lines, each line carrying the edit that wrote it
(or none: it was there before, or a person wrote it). An edit whose content before
is known and differs from what the replay holds (a person or a tool the journal
cannot see changed the file in between) is aligned to the replay first, so the
lines nobody journalled lose their stamp.

:func:`attribute` then aligns the replayed file with the file at the commit and
keeps only the commit's added lines:

- a line equal to a stamped line is the agent's (``ai``);
- a line in a run of replaced lines whose other side was the agent's, and similar
  to it, is ``mixed``: a person changed what the agent wrote;
- every other line is nobody's here: not claimed.

Pure functions over strings: no git, no log, no clock.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import msgspec

__all__ = ["Attributed", "Edit", "attribute", "provenance", "ranges"]

#: How alike a person's line must be to the agent's line it replaced to be ``mixed``
#: rather than the person's own (difflib's ratio).
MIXED_RATIO = 0.5


class Edit(msgspec.Struct, frozen=True, kw_only=True):
    """One journalled change of a file: what it held before and after (None: unknown)."""

    run_id: str
    seq: int
    before: str | None
    after: str | None


class Attributed(msgspec.Struct, frozen=True):
    """One line of the file at the commit: its number, the edit that wrote it, and
    whether a person changed it since (``mixed``)."""

    line: int
    edit: int
    mixed: bool = False


def _lines(content: str) -> list[str]:
    return content.splitlines()


def provenance(edits: Sequence[Edit]) -> tuple[list[str], list[int | None]]:
    """Replay ``edits``: the file's last known lines and, for each, the index in
    ``edits`` of the edit that wrote it (None: not written by any of them)."""
    lines: list[str] = []
    stamps: list[int | None] = []
    for index, edit in enumerate(edits):
        if edit.after is None:
            continue
        if edit.before is not None and _lines(edit.before) != lines:
            lines, stamps = _carry(lines, stamps, _lines(edit.before), None)
        lines, stamps = _carry(lines, stamps, _lines(edit.after), index)
    return lines, stamps


def _carry(
    old: list[str], stamps: list[int | None], new: list[str], stamp: int | None
) -> tuple[list[str], list[int | None]]:
    """``new`` with the stamps of the lines it keeps from ``old``; the rest ``stamp``."""
    out: list[int | None] = [stamp] * len(new)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, _j2 in matcher.get_opcodes():
        if tag == "equal":
            out[j1 : j1 + (i2 - i1)] = stamps[i1:i2]
    return new, out


def attribute(at_commit: str, added: set[int], edits: Sequence[Edit]) -> list[Attributed]:
    """The commit's added lines (1-based numbers in ``added``) of a file whose content
    at the commit is ``at_commit`` that ``edits`` wrote, in line order."""
    replayed, stamps = provenance(edits)
    final = _lines(at_commit)
    out: list[Attributed] = []
    matcher = difflib.SequenceMatcher(None, replayed, final, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(i2 - i1):
                stamp, number = stamps[i1 + offset], j1 + offset + 1
                if stamp is not None and number in added:
                    out.append(Attributed(number, stamp))
        elif tag == "replace":
            for j in range(j1, j2):
                number = j + 1
                if number not in added:
                    continue
                best = _closest(replayed, stamps, i1, i2, final[j])
                if best is not None:
                    out.append(Attributed(number, best, mixed=True))
    return out


def _closest(
    replayed: list[str], stamps: list[int | None], i1: int, i2: int, line: str
) -> int | None:
    """The edit of the stamped line in ``replayed[i1:i2]`` most like ``line``, if alike."""
    best, best_ratio = None, MIXED_RATIO
    for i in range(i1, i2):
        stamp = stamps[i]
        if stamp is None:
            continue
        ratio = difflib.SequenceMatcher(None, replayed[i], line, autojunk=False).ratio()
        if ratio >= best_ratio:
            best, best_ratio = stamp, ratio
    return best


def ranges(lines: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted line numbers as inclusive ``(start, end)`` runs of consecutive lines."""
    out: list[tuple[int, int]] = []
    for number in sorted(set(lines)):
        if out and out[-1][1] == number - 1:
            out[-1] = (out[-1][0], number)
        else:
            out.append((number, number))
    return out
