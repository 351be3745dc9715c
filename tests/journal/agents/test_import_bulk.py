"""Bulk capture (``journal import``): what ``capture`` writes, in few big transactions."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from journal import _prepare
from journal.agents import bulk
from journal.agents.capture import capture
from journal.store import LmdbJournal
from tests.journal.agents.test_capture import transcript_line, write_lines


def _tree(root: pathlib.Path) -> list[str]:
    """Three transcripts: plain; with odd lines (bad, blank, CRLF, padded, partial); big."""
    root.mkdir()
    plain, odd, big = root / "plain.jsonl", root / "odd.jsonl", root / "big.jsonl"
    write_lines(plain, range(7))
    with odd.open("wb") as f:
        f.write(transcript_line(10))
        f.write(b"{not json\n")
        f.write(b"\n   \n")
        f.write(transcript_line(11).rstrip(b"\n") + b"\r\n")
        f.write(b"  " + transcript_line(12))
        f.write(transcript_line(13))
        f.write(b'{"type":"user","partial":')  # no newline yet: waits
    write_lines(big, range(100, 400), pad=300)
    return [str(plain), str(odd), str(big)]


def _records(journal: LmdbJournal) -> list[tuple[Any, ...]]:
    """Everything of each record that does not depend on when it was written."""
    return [(r.source, r.kind, r.key, r.digest, r.payload) for r in journal.read()]


def _quarantined(journal: LmdbJournal) -> list[tuple[str, str, bytes]]:
    return [(q.source, q.kind, q.data) for q in journal.quarantined()]


@pytest.mark.parametrize(
    ("window", "forked"),
    [(bulk.WINDOW_BYTES, False), (5000, False), (bulk.WINDOW_BYTES, True)],
    ids=["one-window", "many-windows", "forked-validator"],
)
def test_bulk_capture_writes_what_capture_writes(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, window: int, forked: bool
) -> None:
    """Same records (keys, digests, stored bytes), same quarantine, same cursors, and the
    same per-file report as one ``capture`` per file, whatever the window, whether
    a forked worker validates or this process does."""
    files = _tree(tmp_path / "tree")
    monkeypatch.setattr(bulk, "WINDOW_BYTES", window)
    monkeypatch.setattr(_prepare, "PARALLEL_MIN", 1 if forked else 10**9)
    with LmdbJournal(str(tmp_path / "a")) as one, LmdbJournal(str(tmp_path / "b")) as many:
        expected = [capture(one, path).to_dict() for path in files]
        reports = [r.to_dict() for r in bulk.capture_files(many, files, source="claude-code")]
        assert reports == expected
        assert _records(many) == _records(one)
        assert len(_records(many)) == 7 + 4 + 300
        assert (
            _quarantined(many) == _quarantined(one) == [("claude-code", "transcript", b"{not json")]
        )
        assert all(many.capture_cursor(p.encode()) == one.capture_cursor(p.encode()) for p in files)
        assert many.verify().ok


def test_bulk_capture_again_takes_only_what_was_added(tmp_path: pathlib.Path) -> None:
    """A second run adds nothing; after the files grow (and the partial line is
    finished), exactly the new lines."""
    files = _tree(tmp_path / "tree")
    with LmdbJournal(str(tmp_path / "j")) as journal:
        bulk.capture_files(journal, files, source="claude-code")
        head = journal.head()
        again = bulk.capture_files(journal, files, source="claude-code")
        assert [r.appended for r in again] == [0, 0, 0]
        assert journal.head() == head
        with open(files[1], "ab") as f:
            f.write(b'"yes"}\n')
        write_lines(pathlib.Path(files[2]), range(400, 405))
        grown = bulk.capture_files(journal, files, source="claude-code")
        assert [r.appended for r in grown] == [0, 1, 5]
        keys = [r.key for r in journal.read()]
        assert len(keys) == len(set(keys)) == head + 6
        assert journal.verify().ok


def test_a_line_a_hook_captured_meanwhile_is_journalled_once(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A capture that moves a cursor between the read and the write (a hook at Stop) makes
    that file go the usual way afterwards: every line still lands exactly once."""
    files = _tree(tmp_path / "tree")
    journal = LmdbJournal(str(tmp_path / "j"))
    real_prepare = _prepare.prepare
    raced: list[str] = []

    def prepare_after_a_hook(items: list[bytes], **kw: Any) -> Any:
        if not raced:
            write_lines(pathlib.Path(files[0]), range(7, 9))  # the agent writes on
            raced.append(files[0])
            capture(journal, files[0])  # ... and its hook captures
        return real_prepare(items, **kw)

    monkeypatch.setattr(bulk, "prepare", prepare_after_a_hook)
    reports = bulk.capture_files(journal, files, source="claude-code")
    assert raced == [files[0]]
    assert (reports[0].appended, reports[0].duplicates) == (0, 0)  # the hook took all nine
    assert reports[0].complete
    assert reports[0].offset == pathlib.Path(files[0]).stat().st_size
    cursor = journal.capture_cursor(files[0].encode())
    assert cursor is not None
    assert cursor[:8] == reports[0].offset.to_bytes(8, "big")
    uuids = [r.payload for r in journal.read()]
    assert len(uuids) == len(set(uuids)) == 9 + 4 + 300
    assert journal.verify().ok
    journal.close()
