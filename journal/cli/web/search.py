"""Text search over what was asked: prompts and tool inputs, by the run they belong to.

No view indexes text, so a search reads the log: every record's payload is tested
for the words as bytes first (cheap), and only the records that hold them are
decoded, the prompt and tool input taken out and tested again. The answer is the
set of session run ids (a subagent's words find its session). On a million records
it takes seconds (13-21 s measured on 2 loaded cores): a text index would be a view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from journal.store import LmdbJournal

__all__ = ["CHUNK", "search_runs"]

#: Records read per opening of the log.
CHUNK = 20_000

_DECODE = msgspec.json.Decoder()
_FIELDS = ("prompt", "tool_input")


def _texts(payload: bytes) -> list[str]:
    try:
        event = _DECODE.decode(payload)
    except msgspec.DecodeError:
        return []
    if not isinstance(event, dict):
        return []
    out = []
    for name in _FIELDS:
        value = event.get(name)
        if isinstance(value, str):
            out.append(value)
        elif value is not None:
            out.append(msgspec.json.encode(value).decode())
    return out


def search_runs(
    unit: Callable[[Callable[[LmdbJournal], Any]], Any], words: str, *, chunk: int = CHUNK
) -> set[str]:
    """The session run ids whose prompts or tool inputs contain every word of ``words``
    (case-insensitive).

    ``unit(work)`` opens the log, calls ``work(journal)`` and closes it: the log is
    read ``chunk`` records per opening, so that a long search neither keeps the log
    open nor keeps the server's other requests waiting for it.
    """
    needles = [word.lower() for word in words.split() if word]
    found: set[str] = set()
    if not needles:
        return found
    position = 0
    while True:
        after = position
        position, more = unit(lambda journal: _scan(journal, needles, after, chunk, found))  # noqa: B023
        if not more:
            return found


def _scan(
    journal: LmdbJournal, needles: list[str], after: int, limit: int, found: set[str]
) -> tuple[int, bool]:
    """Add to ``found`` the runs of the matching records of one chunk; return the last
    seq read and whether the log goes on."""
    from projections.identity import event_of

    raw = [needle.encode() for needle in needles]
    position, count = after, 0
    for record in journal.read(after=after, limit=limit):
        position, count = record.seq, count + 1
        if record.kind == "transcript":
            continue
        low = record.payload.lower()
        if not all(needle in low for needle in raw):
            continue
        texts = " ".join(_texts(record.payload)).lower()
        if not all(needle in texts for needle in needles):
            continue
        event = event_of(record)
        if event is not None:
            source, _, rest = event.run_id.partition("/")
            found.add(f"{source}/{rest.partition('/')[0]}")
    return position, count == limit
