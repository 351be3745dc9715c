"""What a view is: a name, a version, the kinds it reads, and a pure fold.

A view never reads the clock, the environment or the log directly: ``apply`` sees
one record and the view's own key-value state, nothing else. That is what makes a
rebuild from scratch equal to any incremental catch-up (invariant 8).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from journal.records import Record

__all__ = ["State", "View"]


class State(Protocol):
    """A view's own key-value state. Keys and values are bytes; scans are key-ordered."""

    def get(self, key: bytes) -> bytes | None:
        """Return the value under ``key``, or None."""
        ...

    def put(self, key: bytes, value: bytes) -> None:
        """Set ``key`` to ``value``."""
        ...

    def delete(self, key: bytes) -> None:
        """Remove ``key`` if present."""
        ...

    def scan(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Yield (key, value) pairs whose key starts with ``prefix``, in key order."""
        ...


class View:
    """Base class of a view: subclasses set the class attributes and ``apply``.

    ``kinds`` is the set of record kinds the view reads (None: every kind); the
    engine skips other records but still advances the checkpoint past them.
    Bump ``version`` whenever ``apply`` or the state layout changes: the engine then
    rebuilds the view from seq 1.
    """

    name: ClassVar[str]
    version: ClassVar[int]
    kinds: ClassVar[frozenset[str] | None] = None

    def apply(self, state: State, record: Record) -> None:
        """Fold one record into ``state``. Pure: no clock, no environment, no I/O."""
        raise NotImplementedError
