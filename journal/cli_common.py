"""What every ``journal`` command module shares: JSON output, error mapping, progress."""

from __future__ import annotations

import sys
from typing import Any

import click

from .errors import JournalError, UsageError

__all__ = ["echo_json", "fail", "progress_bar"]


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
