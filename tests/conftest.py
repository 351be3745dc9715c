"""Shared fixtures: temporary journal homes, both stores, Hypothesis profiles."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from journal.memory import MemoryJournal
from journal.store import LmdbJournal

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures"
JOURNAL_BIN = str(pathlib.Path(sys.executable).with_name("journal"))


@pytest.fixture
def home(tmp_path: pathlib.Path) -> str:
    """A fresh, not-yet-created journal home inside a temporary directory."""
    return str(tmp_path / "home")


@pytest.fixture
def lmdb_journal(home: str) -> Iterator[LmdbJournal]:
    """An open LMDB journal in a temporary home, closed after the test."""
    journal = LmdbJournal(home)
    yield journal
    journal.close()


@pytest.fixture
def memory_journal() -> MemoryJournal:
    """The in-memory reference journal."""
    return MemoryJournal()


def lmdb_verify(home: str) -> None:
    """py-lmdb 3.x's offline structural audit of the log's data file must pass."""
    done = subprocess.run(
        [sys.executable, "-m", "lmdb", "verify", "-e", os.path.join(home, "log")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
