"""Batched appends: the forked validation worker changes nothing but speed."""

from __future__ import annotations

import json
import os
import pathlib
import signal

import pytest

from journal import _prepare
from journal.results import Appended, Quarantined
from journal.store import LmdbJournal


def _payloads(count: int) -> list[bytes]:
    items = [
        json.dumps({"hook_event_name": f"E{i % 7}", "i": i % 3000, "session_id": "s"}).encode()
        for i in range(count)
    ]
    items[5] = b"not json"
    items[count // 2] = b'{"big":123456789012345678901234567890}'
    items[count // 3] = b"  " + items[1] + b"\n"  # stored stripped, a duplicate of item 2
    items[count - 1] = b'{"deep":' + b"[" * 600 + b"]" * 600 + b"}"
    return items


def _run(
    home: pathlib.Path, items: list[bytes], parallel: bool
) -> tuple[list[dict[str, object]], str, int]:
    with LmdbJournal(str(home)) as journal:
        first = journal.append_batch(
            items, source="bench", key="k", parallel=parallel, received_at=1
        )
        again = journal.append_batch(
            items, source="bench", key="k", parallel=parallel, received_at=2
        )
        assert journal.verify().ok
        assert all(r.duplicate for r in again if isinstance(r, Appended))
        return [r.to_dict() for r in first], journal.head_digest(), journal.stats().blobs


@pytest.mark.slow
def test_forked_and_serial_batches_are_identical(tmp_path: pathlib.Path) -> None:
    """The same batch through the worker and without it: same results, chain and blobs."""
    items = _payloads(3 * _prepare.CHUNK + 17)
    serial = _run(tmp_path / "serial", items, parallel=False)
    forked = _run(tmp_path / "forked", items, parallel=True)
    assert forked == serial
    reasons = [str(r["reason"]) for r in serial[0] if "reason" in r]
    assert reasons[0].startswith("not JSON")
    assert "integer beyond 64 bits" in reasons
    assert "nesting deeper than 512 levels" in reasons


@pytest.mark.slow
def test_batch_survives_a_worker_that_dies(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the worker dies mid-batch the parent finishes the chunks itself."""
    items = _payloads(3 * _prepare.CHUNK)
    real = _prepare._prepare_chunk
    calls = {"n": 0}

    def dying(*args: object, **kwargs: object) -> _prepare.Chunk:
        calls["n"] += 1
        if calls["n"] == 2 and os.getpid() != parent:  # the worker, second chunk
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    parent = os.getpid()
    monkeypatch.setattr(_prepare, "_prepare_chunk", dying)
    forked = _run(tmp_path / "forked", items, parallel=True)
    monkeypatch.setattr(_prepare, "_prepare_chunk", real)
    assert forked == _run(tmp_path / "serial", items, parallel=False)


def test_items_holding_newlines_fall_back_to_serial(tmp_path: pathlib.Path) -> None:
    """Indented payloads (newlines inside an item) still validate one by one."""
    items = [json.dumps({"type": "t", "i": i}, indent=2).encode() for i in range(50)]
    with LmdbJournal(str(tmp_path / "h")) as journal:
        results = journal.append_batch(items, parallel=True)
        assert [r.seq for r in results if isinstance(r, Appended)] == list(range(1, 51))
        assert not [r for r in results if isinstance(r, Quarantined)]
        assert journal.get(7).payload == items[6]


def test_a_refused_batch_leaves_the_gc_running(tmp_path: pathlib.Path) -> None:
    """A batch refused before it starts (used across fork) does not leave the GC paused."""
    import gc

    from journal.errors import StoreError

    with LmdbJournal(str(tmp_path / "h")) as journal:
        journal._pid = -1  # as if this object had crossed a fork()
        assert gc.isenabled()
        with pytest.raises(StoreError, match="across fork"):
            journal.append_batch([b"{}"])
        assert gc.isenabled()
