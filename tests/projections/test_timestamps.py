"""Event time: the payloads' own timestamps, parsed exactly, or not at all."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.timestamps import iso_ns, ms_ns

_UTC = datetime.UTC


@given(
    st.datetimes(
        min_value=datetime.datetime(2000, 1, 1),
        max_value=datetime.datetime(2199, 12, 31),
        timezones=st.just(_UTC),
    )
)
def test_agents_iso_timestamps_parse_to_the_exact_nanosecond(when: datetime.datetime) -> None:
    """``…T…Z`` with milliseconds (Claude Code, Codex) or microseconds is exact."""
    seconds = int(when.replace(microsecond=0).timestamp())
    text = when.strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert iso_ns(text + "Z") == seconds * 10**9 + when.microsecond * 1000
    assert iso_ns(text[:-3] + "Z") == seconds * 10**9 + when.microsecond // 1000 * 10**6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T20:00:26.865Z", 1_796_155_226_865_000_000),
        ("2026-12-01T20:00:26Z", 1_796_155_226_000_000_000),
        ("2026-12-01T21:00:26.865+01:00", 1_796_155_226_865_000_000),
        ("2026-12-01T20:00:26.865", 1_796_155_226_865_000_000),
        ("2026-02-01T10:00:00001Z", None),
        ("1999-12-31T23:59:59Z", None),
        ("2026-13-01T00:00:00Z", None),
        ("yesterday at noon, roughly", None),
        (1_796_155_226, None),
    ],
    ids=[
        "ms",
        "seconds",
        "offset",
        "naive-is-utc",
        "bad-seconds",
        "too-old",
        "month-13",
        "words",
        "not-a-string",
    ],
)
def test_iso_timestamps(text: object, expected: int | None) -> None:
    """Offsets are honoured, naive times are UTC, anything implausible is None."""
    assert iso_ns(text) == expected


def test_milliseconds() -> None:
    """OpenCode and Codex ``*_ms`` times are ms since the epoch; others are refused."""
    assert ms_ns(1_796_156_065_394) == 1_796_156_065_394_000_000
    assert ms_ns(1_796_156_065_394.5) == 1_796_156_065_394_500_000
    assert ms_ns(1000) is None
    assert ms_ns(True) is None
    assert ms_ns("1796156065394") is None
