"""``journal hook AGENT --stream``: one process journals a stream of events in order.

Driven through the real console script with pipes: events go in as lines, the
acknowledgements come back on stdout, and the log is read with ``journal log``.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN

# Holds the log's write lock for argv[2] seconds, like another writer would.
_HOLD_LOCK = """
import sys, time
from journal.store import LmdbJournal
journal = LmdbJournal(sys.argv[1])
with journal._env.begin(write=True):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def event(n: int, **extra: Any) -> bytes:
    """An OpenCode bus event without an id of its own (like ``session.status``)."""
    return json.dumps(
        {"type": "session.status", "properties": {"sessionID": "s", "n": n}, **extra}
    ).encode()


def start(home: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [JOURNAL_BIN, "--home", home, "hook", "opencode", "--stream"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def finish(proc: subprocess.Popen[bytes]) -> list[str]:
    """Close the input; return the acknowledgements; the process exits 0 silently."""
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (0, b"")
    return out.decode().split()


def log(home: str, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "log", "--json", *args],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def numbers(home: str) -> list[int]:
    return [r["payload"]["properties"]["n"] for r in log(home)]


def test_events_land_in_order_once_each_and_the_last_one_is_acknowledged(home: str) -> None:
    """1,000 lines in one go: one record each, in input order, keyed by delivery id."""
    proc = start(home)
    assert proc.stdin is not None
    proc.stdin.write(b"".join(b"d-%d\t%s\n" % (n, event(n)) for n in range(1000)))
    acks = finish(proc)
    assert acks[-1] == "d-999"
    assert acks == sorted(acks, key=lambda a: int(a.split("-")[1]))
    assert len(acks) < 1000  # batched: one acknowledgement per transaction, not per event
    records = log(home)
    assert [r["payload"]["properties"]["n"] for r in records] == list(range(1000))
    assert records[0]["key"] == "opencode:delivery:d-0"
    assert {(r["source"], r["kind"]) for r in records} == {("opencode", "session.status")}


def test_the_payload_is_byte_for_byte_what_the_one_shot_hook_stores(
    home: str, tmp_path: pathlib.Path
) -> None:
    """The same event through --stream and through `journal hook opencode`: one digest."""
    data = b'{"type": "file.edited", "properties": {"file": "a \\u00e9.txt"}}'
    proc = start(home)
    assert proc.stdin is not None
    proc.stdin.write(b"x\t" + data + b"\n")
    finish(proc)
    other = str(tmp_path / "other")
    subprocess.run([JOURNAL_BIN, "--home", other, "hook", "opencode"], input=data, check=True)
    assert log(home)[0]["digest"] == log(other)[0]["digest"]


def test_a_resent_event_is_one_record(home: str) -> None:
    """A sender that re-sends unacknowledged events (same delivery ids) gets one record each."""
    for _ in range(2):
        proc = start(home)
        assert proc.stdin is not None
        proc.stdin.write(b"".join(b"p-%d\t%s\n" % (n, event(n)) for n in range(5)))
        finish(proc)
    assert numbers(home) == list(range(5))


def test_own_ids_win_and_plain_lines_are_accepted(home: str) -> None:
    """An event id of its own is the key; a line without a delivery id still lands."""
    proc = start(home)
    assert proc.stdin is not None
    proc.stdin.write(b"a\t" + event(0, id="evt_1") + b"\n" + event(1) + b"\n")
    assert finish(proc) == ["a"]
    first, second = log(home)
    assert first["key"] == "opencode:evt_1"
    assert second["key"].startswith("opencode:stream:")


def test_bad_lines_are_quarantined_and_the_rest_lands(home: str) -> None:
    """A line that is not a JSON object is quarantined; its neighbours land in order."""
    proc = start(home)
    assert proc.stdin is not None
    proc.stdin.write(b"1\t" + event(0) + b"\n2\tnot json\n3\t" + event(1) + b"\n")
    assert finish(proc)[-1] == "3"
    assert numbers(home) == [0, 1]
    (bad,) = log(home, "--quarantine")
    assert bad["data"] == "not json"


def test_each_event_is_durable_before_it_is_acknowledged(home: str) -> None:
    """When an acknowledgement arrives, every event up to it is in the log."""
    proc = start(home)
    assert proc.stdin is not None
    assert proc.stdout is not None
    for n in range(3):
        proc.stdin.write(b"e-%d\t%s\n" % (n, event(n)))
        proc.stdin.flush()
        assert proc.stdout.readline() == b"e-%d\n" % n
        assert numbers(home) == list(range(n + 1))
    finish(proc)


@pytest.mark.slow
def test_a_busy_journal_spools_and_order_survives_the_drain(home: str) -> None:
    """Events sent while another process holds the write lock are spooled, acknowledged,
    and land before the events sent after it, in order, once each."""
    LmdbJournal(home).close()
    proc = start(home, {"AGENT_JOURNAL_HOOK_BUDGET_MS": "100"})
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(b"a\t" + event(0) + b"\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == b"a\n"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, home, "3"], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        for n in range(1, 4):
            proc.stdin.write(b"b-%d\t%s\n" % (n, event(n)))
            proc.stdin.flush()
            assert proc.stdout.readline() == b"b-%d\n" % n  # spooled: durable, acknowledged
            assert holder.poll() is None
        assert len(list(pathlib.Path(home, "spool").glob("*.spool"))) == 3
    finally:
        holder.wait(timeout=60)
        assert holder.stdout is not None
        holder.stdout.close()
    proc.stdin.write(b"c\t" + event(4) + b"\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == b"c\n"
    finish(proc)  # at the latest, the end of input drains what the stream spooled
    assert numbers(home) == [0, 1, 2, 3, 4]
    assert not list(pathlib.Path(home, "spool").glob("*.spool"))


def test_nothing_reaches_stderr_when_the_home_is_unusable(tmp_path: pathlib.Path) -> None:
    """A home under a file: the events go to the fallback spool, acknowledged; exit 0."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    env = {"TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    proc = start(str(blocker / "home"), env)
    assert proc.stdin is not None
    proc.stdin.write(b"".join(b"f-%d\t%s\n" % (n, event(n)) for n in range(3)))
    assert finish(proc)[-1] == "f-2"
    spooled = sorted((tmp_path / "tmp").glob("agent-journal-*/spool/*.spool"))
    assert len(spooled) == 3
