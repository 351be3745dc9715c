"""``journal import claude-code PATH...``: backfill whole transcripts.

Takes transcript files and directories (a ``~/.claude/projects`` tree: every
``*.jsonl`` below it, subagent transcripts included) and captures each file with
:func:`journal.capture.capture`, the same code the hooks use. A file's cursor and
each line's idempotency key make an import safe to repeat or to run beside live
hooks: nothing is journalled twice, and only lines added since are taken.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from journal.errors import NotFoundError

from .capture import CaptureReport, capture

TYPE_CHECKING = False
if TYPE_CHECKING:
    from journal.store import LmdbJournal

__all__ = ["SOURCES", "ImportReport", "find_transcripts", "import_transcripts"]

SOURCES = ("claude-code",)


class ImportReport:
    """Totals of an import, and each file's capture."""

    def __init__(self) -> None:
        self.files: list[CaptureReport] = []

    def to_dict(self) -> dict[str, object]:
        return {
            "files": len(self.files),
            "appended": sum(f.appended for f in self.files),
            "duplicates": sum(f.duplicates for f in self.files),
            "quarantined": sum(f.quarantined for f in self.files),
            "bytes": sum(f.bytes for f in self.files),
            "per_file": [f.to_dict() for f in self.files],
        }


def find_transcripts(paths: Iterable[str]) -> list[str]:
    """Expand ``paths`` into transcript files: files as given, ``*.jsonl`` under dirs.

    Raises:
        NotFoundError: a path does not exist.
    """
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".jsonl"))
        elif os.path.exists(path):
            found.append(path)
        else:
            raise NotFoundError(f"no such file or directory: {path}")
    return found


def import_transcripts(
    journal: LmdbJournal,
    files: list[str],
    *,
    source: str = "claude-code",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Capture every file in ``files`` into ``journal``; ``progress`` gets bytes read."""
    report = ImportReport()
    for path in files:
        report.files.append(capture(journal, path, source=source, progress=progress))
    return report
