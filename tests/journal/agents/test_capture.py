"""Transcript capture: new lines only, once each, partial lines wait, big files chunk."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import threading
import time
from typing import Any

import pytest

from journal.agents.capture import CHUNK_BYTES, capture, pending_bytes
from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN

SESSION = "3f9c1a52-7d4e-4b1a-9e0f-5c2d8a6b7e11"


def transcript_line(n: int, *, session: str = SESSION, pad: int = 0) -> bytes:
    """One Claude Code transcript line in the real shape (assistant lines carry usage)."""
    common: dict[str, Any] = {
        "parentUuid": f"00000000-0000-4000-8000-{n - 1:012d}" if n else None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/dev/src/app",
        "sessionId": session,
        "version": "2.1.38",
        "gitBranch": "main",
        "uuid": f"00000000-0000-4000-8000-{n:012d}",
        "timestamp": f"2026-11-20T10:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
    }
    if n % 3 == 0:
        line = {
            **common,
            "type": "user",
            "message": {"role": "user", "content": "go on" + "." * pad},
        }
    elif n % 3 == 1:
        line = {
            **common,
            "type": "assistant",
            "requestId": f"req_{n:08d}",
            "message": {
                "model": "claude-sonnet-4-5-20250929",
                "id": f"msg_{n:08d}",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": "Working on it" + "." * pad}],
                "stop_reason": "end_turn",
                "usage": {
                    "input_tokens": 4,
                    "output_tokens": 120 + n,
                    "cache_creation_input_tokens": 512,
                    "cache_read_input_tokens": 20480,
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": 512,
                        "ephemeral_1h_input_tokens": 0,
                    },
                    "service_tier": "standard",
                },
            },
        }
    else:
        line = {
            **common,
            "type": "progress",
            "data": {"type": "hook_progress", "hookEvent": "PostToolUse"},
        }
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


def write_lines(path: pathlib.Path, numbers: range, **kw: Any) -> None:
    with path.open("ab") as f:
        for n in numbers:
            f.write(transcript_line(n, **kw))


def transcript_records(journal: LmdbJournal) -> list[dict[str, Any]]:
    return [json.loads(r.payload) for r in journal.read(kinds=["transcript"])]


def uuids(journal: LmdbJournal) -> list[str]:
    return [line["uuid"] for line in transcript_records(journal)]


def test_capture_takes_every_complete_line_once(
    lmdb_journal: LmdbJournal, tmp_path: pathlib.Path
) -> None:
    """A first capture journals all lines as kind transcript; a second one adds nothing."""
    path = tmp_path / "t.jsonl"
    write_lines(path, range(5))
    report = capture(lmdb_journal, str(path))
    assert (report.appended, report.complete) == (5, True)
    assert uuids(lmdb_journal) == [json.loads(transcript_line(n))["uuid"] for n in range(5)]
    again = capture(lmdb_journal, str(path))
    assert (again.appended, again.duplicates) == (0, 0)
    assert lmdb_journal.head() == 5


def test_a_partial_last_line_waits_for_the_next_capture(
    lmdb_journal: LmdbJournal, tmp_path: pathlib.Path
) -> None:
    """A line still being written (no newline yet) is left; once finished it is taken."""
    path = tmp_path / "t.jsonl"
    write_lines(path, range(2))
    line = transcript_line(2)
    with path.open("ab") as f:
        f.write(line[:40])
    assert capture(lmdb_journal, str(path)).appended == 2
    assert pending_bytes(lmdb_journal, str(path)) == 40
    with path.open("ab") as f:
        f.write(line[40:])
    assert capture(lmdb_journal, str(path)).appended == 1
    assert uuids(lmdb_journal)[-1] == json.loads(line)["uuid"]
    assert lmdb_journal.quarantined() == []


def test_a_bad_line_is_quarantined_and_does_not_stop_the_capture(
    lmdb_journal: LmdbJournal, tmp_path: pathlib.Path
) -> None:
    """A corrupt transcript line goes to quarantine; the lines after it still land."""
    path = tmp_path / "t.jsonl"
    write_lines(path, range(1))
    with path.open("ab") as f:
        f.write(b"{oops\n")
    write_lines(path, range(1, 2))
    report = capture(lmdb_journal, str(path))
    assert (report.appended, report.quarantined) == (2, 1)
    (entry,) = lmdb_journal.quarantined()
    assert entry.data == b"{oops"
    assert entry.reason.startswith("transcript line:")


def test_a_replaced_file_is_read_again_without_duplicating_unchanged_lines(
    lmdb_journal: LmdbJournal, tmp_path: pathlib.Path
) -> None:
    """A new inode at the same path restarts at offset 0; identical lines at identical
    offsets are known by their keys, changed ones are new."""
    path = tmp_path / "t.jsonl"
    write_lines(path, range(3))
    capture(lmdb_journal, str(path))
    replacement = tmp_path / "new.jsonl"
    write_lines(replacement, range(3))
    write_lines(replacement, range(3, 4))
    os.replace(replacement, path)
    report = capture(lmdb_journal, str(path))
    assert (report.appended, report.duplicates) == (1, 3)


def test_a_big_backlog_is_taken_in_short_transactions(
    lmdb_journal: LmdbJournal, tmp_path: pathlib.Path
) -> None:
    """A multi-chunk file is captured chunk by chunk, each moving the cursor."""
    path = tmp_path / "big.jsonl"
    write_lines(path, range(600), pad=10_000)
    size = path.stat().st_size
    assert size > 3 * CHUNK_BYTES
    chunks: list[int] = []
    report = capture(lmdb_journal, str(path), progress=chunks.append)
    assert report.appended == 600
    assert len(chunks) >= 3
    assert sum(chunks) == size
    assert max(chunks) <= CHUNK_BYTES + 20_000


def test_max_bytes_leaves_the_rest_for_later(
    lmdb_journal: LmdbJournal, tmp_path: pathlib.Path
) -> None:
    """A bounded capture stops early and the next one continues where it stopped."""
    path = tmp_path / "t.jsonl"
    write_lines(path, range(100), pad=1000)
    first = capture(lmdb_journal, str(path), max_bytes=10_000, chunk_bytes=8_000)
    assert 0 < first.appended < 100
    assert not first.complete
    rest = capture(lmdb_journal, str(path))
    assert first.appended + rest.appended == 100
    assert len(set(uuids(lmdb_journal))) == 100


def test_racing_captures_journal_each_line_once(home: str, tmp_path: pathlib.Path) -> None:
    """Four captures of one growing file at once: every line exactly once, in file order."""
    path = tmp_path / "t.jsonl"
    write_lines(path, range(300))
    journal = LmdbJournal(home)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            capture(journal, str(path), chunk_bytes=2_000)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = uuids(journal)
    assert got == [json.loads(transcript_line(n))["uuid"] for n in range(300)]
    journal.close()


def stop_event(path: pathlib.Path, kind: str = "Stop", **extra: Any) -> bytes:
    event = {
        "session_id": SESSION,
        "transcript_path": str(path),
        "cwd": "/home/dev/src/app",
        "hook_event_name": kind,
        "stop_hook_active": False,
        **extra,
    }
    return json.dumps(event).encode()


def run_hook(home: str, data: bytes, **env: str) -> None:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "hook", "claude-code"],
        input=data,
        capture_output=True,
        check=False,
        timeout=60,
        env={**os.environ, **env},
    )
    assert (done.returncode, done.stdout) == (0, b""), done.stderr


def wait_for(home: str, count: int) -> list[str]:
    """Wait (up to a minute) for a detached capture to journal ``count`` lines."""
    deadline = time.monotonic() + 60
    while True:
        with LmdbJournal(home) as journal:
            got = uuids(journal)
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_a_transcript_growing_between_two_stops_is_captured_incrementally(
    home: str, tmp_path: pathlib.Path
) -> None:
    """Stop, more lines (one half-written), Stop: each line once, the half line later."""
    path = tmp_path / "session.jsonl"
    write_lines(path, range(4))
    # Inline captures only: a follow-up could take the new lines before the next Stop.
    no_follow_up = {"AGENT_JOURNAL_CAPTURE_FOLLOW_UP": "0"}
    run_hook(home, stop_event(path), **no_follow_up)
    with LmdbJournal(home) as journal:
        kinds = [r.kind for r in journal.read()]
    assert kinds == ["Stop"] + ["transcript"] * 4
    write_lines(path, range(4, 7))
    partial = transcript_line(7)
    with path.open("ab") as f:
        f.write(partial[:25])
    run_hook(home, stop_event(path), **no_follow_up)
    with LmdbJournal(home) as journal:
        assert [r.kind for r in journal.read()][5:] == ["Stop"] + ["transcript"] * 3
        assert len(uuids(journal)) == 7
    with path.open("ab") as f:
        f.write(partial[25:])
    run_hook(home, stop_event(path, "PreCompact", trigger="auto"))
    with LmdbJournal(home) as journal:
        assert uuids(journal) == [json.loads(transcript_line(n))["uuid"] for n in range(8)]


def test_subagent_stop_captures_the_subagent_transcript(home: str, tmp_path: pathlib.Path) -> None:
    """SubagentStop takes agent_transcript_path as well as the session's transcript."""
    main = tmp_path / "session.jsonl"
    sub = tmp_path / "agent-a1.jsonl"
    write_lines(main, range(2))
    write_lines(sub, range(100, 103), session=SESSION)
    run_hook(home, stop_event(main, "SubagentStop", agent_id="a1", agent_transcript_path=str(sub)))
    with LmdbJournal(home) as journal:
        assert len(uuids(journal)) == 5


@pytest.mark.parametrize("case", ["session-end", "big-backlog"])
def test_heavy_or_final_captures_run_in_a_detached_process(
    home: str, tmp_path: pathlib.Path, case: str
) -> None:
    """SessionEnd, and a backlog over the inline limit, are captured by a detached process
    that outlives the hook; the hook itself returns with its event journalled."""
    path = tmp_path / "session.jsonl"
    if case == "session-end":
        write_lines(path, range(6))
        run_hook(home, stop_event(path, "SessionEnd", reason="prompt_input_exit"))
        expected = 6
    else:
        write_lines(path, range(120), pad=4_000)
        assert path.stat().st_size > 256 * 1024
        run_hook(home, stop_event(path))
        expected = 120
    with LmdbJournal(home) as journal:
        assert journal.get(1).kind in ("SessionEnd", "Stop")
    assert len(wait_for(home, expected)) == expected


def test_a_missing_transcript_captures_nothing(home: str, tmp_path: pathlib.Path) -> None:
    """A transcript_path that does not exist (yet) is not an error: the event still lands."""
    run_hook(home, stop_event(tmp_path / "nope.jsonl"))
    with LmdbJournal(home) as journal:
        assert [r.kind for r in journal.read()] == ["Stop"]
