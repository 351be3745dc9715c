"""Event time: the payload's own timestamp, in nanoseconds since the Unix epoch.

A view folds each record at its **event time** (DESIGN §4): when the agent says the
event happened (transcript and rollout ``timestamp``, Gemini's hook ``timestamp``,
OpenCode ``time.*`` in milliseconds), else the record's ``received_at``. So history
imported today lands on its real days with its real durations.

Parsing is pure and lenient: anything that is not a plausible time (not ISO 8601, a
year outside 2000..2199, a number that is not milliseconds) gives None and the caller
falls back to ``received_at``.
"""

from __future__ import annotations

import datetime

__all__ = ["iso_ns", "ms_ns"]

_NS = 1_000_000_000
_LOW = 946_684_800 * _NS  # 2000-01-01
_HIGH = 7_258_118_400 * _NS  # 2200-01-01
_LOW_MS, _HIGH_MS = _LOW // 1_000_000, _HIGH // 1_000_000
_DIGITS = frozenset("0123456789")


def _days(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _seconds(head: str) -> int:
    """``YYYY-MM-DDTHH:MM:SS`` as seconds since the epoch; -1 if it is not that."""
    if (
        head[4] != "-"
        or head[7] != "-"
        or head[10] not in "Tt "
        or head[13] != ":"
        or head[16] != ":"
    ):
        return -1
    digits = head[0:4] + head[5:7] + head[8:10] + head[11:13] + head[14:16] + head[17:19]
    if not _DIGITS.issuperset(digits):
        return -1
    year, month, day = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
    hour, minute, second = int(digits[8:10]), int(digits[10:12]), int(digits[12:14])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return -1
    return _days(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second


# The seconds of recent timestamps: lines of one session share them (a pure cache).
_KNOWN: dict[str, int] = {}


def _fast(text: str) -> int | None:
    """``YYYY-MM-DDTHH:MM:SS[.fraction]Z``, the shape every agent writes, exactly."""
    if len(text) < 20 or text[-1] != "Z":
        return None
    head = text[:19]
    seconds = _KNOWN.get(head)
    if seconds is None:
        if len(_KNOWN) >= 4096:
            _KNOWN.clear()
        seconds = _KNOWN[head] = _seconds(head)
    if seconds < 0:
        return None
    fraction = text[19:-1]
    if fraction:
        digits = fraction[1:]
        if fraction[0] != "." or not digits or not _DIGITS.issuperset(digits):
            return None
        return seconds * _NS + int((digits + "000000000")[:9])
    return seconds * _NS


def iso_ns(value: object) -> int | None:
    """An ISO 8601 timestamp string as ns since the epoch, or None if it is not one.

    A time without a UTC offset is taken as UTC (agents write UTC).
    """
    if type(value) is not str or not 19 <= len(value) <= 40:
        return None
    found = _fast(value)
    if found is None:
        try:
            stamp = datetime.datetime.fromisoformat(value)
        except ValueError:
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=datetime.UTC)
        delta = stamp - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        found = (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1000
    return found if _LOW <= found < _HIGH else None


def ms_ns(value: object) -> int | None:
    """A time in milliseconds since the epoch (OpenCode, Codex ``*_at_ms``) as ns, or None."""
    if type(value) is int:
        return value * 1_000_000 if _LOW_MS <= value < _HIGH_MS else None
    if type(value) is float and _LOW_MS <= value < _HIGH_MS:
        whole = int(value)  # ms since 2000 need 41 bits: keep the fraction apart
        return whole * 1_000_000 + round((value - whole) * 1_000_000)
    return None
