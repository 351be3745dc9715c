"""What every ``journal`` command module shares: JSON output, error mapping, progress."""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from journal.errors import JournalError, UsageError

if TYPE_CHECKING:
    from journal.store import LmdbJournal

__all__ = ["Context", "echo_json", "fail", "lock_timeout", "progress_bar", "table", "time_text"]


class Context:
    """``ctx.obj`` of every command: the ``--home`` given, and the journal, opened once.

    Commands that only read open it read-only, which never takes the write lock: no
    writer, not even one that died holding it, can make them wait. Commands that write
    wait at most ``AGENT_JOURNAL_LOCK_TIMEOUT`` seconds (default 10) for the other
    writers, then fail with one line; so do queries whose views need catching up.
    """

    def __init__(self, home: str | None) -> None:
        self.home = home
        self._journal: LmdbJournal | None = None

    def journal(self, *, write: bool = False) -> LmdbJournal:
        """The journal at ``home``, opened on first use (read-only unless ``write``)."""
        if self._journal is not None and write and self._journal.readonly:
            self.close()
        if self._journal is None:
            self._journal = self.open(write=write)
        return self._journal

    def open(self, *, write: bool = False) -> LmdbJournal:
        """A journal at ``home`` that the caller closes: for work that must not keep
        the log open while it idles (``log --follow`` opens one per poll)."""
        from journal.store import LmdbJournal

        return LmdbJournal(self.home, readonly=not write, lock_timeout=lock_timeout())

    def close(self) -> None:
        """Close the journal if a command opened it."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None


def lock_timeout() -> float:
    """How long a command waits for other writers: ``AGENT_JOURNAL_LOCK_TIMEOUT`` seconds."""
    from journal.writelock import DEFAULT_TIMEOUT

    text = os.environ.get("AGENT_JOURNAL_LOCK_TIMEOUT", "")
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also NaN
        raise UsageError(f"AGENT_JOURNAL_LOCK_TIMEOUT={text!r} is not a number of seconds")
    return seconds


def time_text(ns: int) -> str:
    """A nanosecond timestamp as ISO 8601 UTC with milliseconds."""
    stamp = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart; the last column is not padded."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    out = []
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.append("  ".join([*cells, row[-1]]).rstrip())
    return out


def echo_json(value: object) -> None:
    """Print ``value`` as one line of JSON on stdout."""
    # msgspec is imported on first use: `journal append` without --json never needs it.
    import msgspec

    sys.stdout.buffer.write(msgspec.json.encode(value) + b"\n")


def fail(exc: JournalError) -> click.ClickException:
    """Turn a library error into click's: usage errors exit 2, the rest exit 1."""
    if isinstance(exc, UsageError):
        return click.UsageError(str(exc))
    return click.ClickException(str(exc))


class _NoBar:
    """A progress bar that shows nothing (not a terminal, or JSON output)."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def progress_bar(total: int, label: str, *, show: bool = True) -> Any:
    """A progress bar on stderr, or one that shows nothing when ``show`` is false."""
    if not show:
        return _NoBar()
    return click.progressbar(length=total, label=label, file=sys.stderr)
