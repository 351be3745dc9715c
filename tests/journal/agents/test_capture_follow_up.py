"""The follow-up capture: a turn's last transcript line, written after Stop, still lands once.

Claude Code often writes a turn's last assistant line after the Stop hook fired. The
hook does not wait for it: a short detached follow-up captures the transcript again
a little later (``journal.agents.capture.FOLLOW_UP_WAITS``).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import time

import pytest

from journal.agents import capture
from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN
from tests.journal.agents.test_capture import stop_event, transcript_line, uuids, write_lines

DID_NOT_HANG_S = 60.0


def _follow_ups(home: str) -> list[int]:
    """Pids of the detached captures working for ``home``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"journal.agents.capture" in argv and home.encode() in argv:
            pids.append(int(entry))
    return pids


def _hook(home: str, data: bytes, **env: str) -> float:
    """Run the Stop hook; return the time it returned."""
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "hook", "claude-code"],
        input=data,
        capture_output=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    return time.monotonic()


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the follow-up through /proc")
@pytest.mark.parametrize("kind", ["Stop", "SubagentStop"])
def test_a_last_line_written_after_stop_is_captured_once(
    home: str, tmp_path: pathlib.Path, kind: str
) -> None:
    """The transcript's last line reaches the disk 0.5 s after the Stop hook returned:
    the follow-up captures it without the hook having waited, and every line of the
    transcript is journalled exactly once."""
    path = tmp_path / "session.jsonl"
    write_lines(path, range(5))
    returned = _hook(home, stop_event(path, kind, agent_id="a1"))
    with LmdbJournal(home) as journal:
        assert len(uuids(journal)) == 5, "the inline capture took what was there"
    assert _follow_ups(home), "no follow-up was started"
    time.sleep(max(0.0, returned + 0.5 - time.monotonic()))
    write_lines(path, range(5, 6))  # the turn's last assistant line, late
    deadline = time.monotonic() + DID_NOT_HANG_S
    while _follow_ups(home):
        assert time.monotonic() < deadline, "the follow-up did not finish"
        time.sleep(0.05)
    with LmdbJournal(home) as journal:
        got = uuids(journal)
        kinds = [r.kind for r in journal.read()]
    assert got == [json.loads(transcript_line(n))["uuid"] for n in range(6)]
    assert kinds == [kind] + ["transcript"] * 6


def test_no_follow_up_when_turned_off_or_without_a_transcript(
    home: str, tmp_path: pathlib.Path
) -> None:
    """AGENT_JOURNAL_CAPTURE_FOLLOW_UP=0 starts none; nor does a transcript that does
    not exist (yet): nothing to come back for."""
    path = tmp_path / "session.jsonl"
    write_lines(path, range(2))
    _hook(home, stop_event(path), AGENT_JOURNAL_CAPTURE_FOLLOW_UP="0")
    assert _follow_ups(home) == []
    _hook(home, stop_event(tmp_path / "missing.jsonl"))
    assert _follow_ups(home) == []


@pytest.mark.parametrize(
    ("value", "waits"),
    [
        (None, capture.FOLLOW_UP_WAITS),
        ("0", ()),
        ("", ()),
        ("0.5,2", (0.5, 2.0)),
        ("not a number", capture.FOLLOW_UP_WAITS),
        ("999", (60.0,)),
    ],
)
def test_follow_up_waits_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str | None, waits: tuple[float, ...]
) -> None:
    """AGENT_JOURNAL_CAPTURE_FOLLOW_UP: seconds between captures, 0 or empty for none,
    nonsense falls back to the default, at most a minute each."""
    if value is None:
        monkeypatch.delenv("AGENT_JOURNAL_CAPTURE_FOLLOW_UP", raising=False)
    else:
        monkeypatch.setenv("AGENT_JOURNAL_CAPTURE_FOLLOW_UP", value)
    assert capture.follow_up_waits() == waits


def test_a_follow_up_never_recreates_a_removed_journal(tmp_path: pathlib.Path) -> None:
    """The journal's home was removed while the follow-up slept: it gives up instead
    of creating a new, empty journal there."""
    home = tmp_path / "gone"
    path = tmp_path / "session.jsonl"
    write_lines(path, range(2))
    assert capture._main(["--later", "--wait", "0.01", str(home), "claude-code", str(path)]) == 0
    assert not home.exists()
