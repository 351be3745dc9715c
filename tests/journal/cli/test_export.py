"""``journal export`` and ``journal origin``: envelopes, consumer checkpoints, origin ids."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess

import lmdb
import pytest

from journal.errors import LockedError, UsageError
from journal.export import consumer_lock, export, load_checkpoint, split_envelope
from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def run(home: str, *args: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, *args], input=data, capture_output=True, timeout=120
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return done


def ok(home: str, *args: str, data: bytes = b"") -> bytes:
    done = run(home, *args, data=data)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def append(home: str, n: int, start: int = 0) -> None:
    lines = b"".join(b'{"hook_event_name":"Stop","n":%d}\n' % i for i in range(start, start + n))
    ok(home, "append", "--batch", "--source", "codex", data=lines)


def lines(out: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_origin_is_made_at_creation_and_never_changes(home: str) -> None:
    """A new journal has a UUID origin at once; it stays the same, a name can be set."""
    append(home, 1)
    first = json.loads(ok(home, "origin", "--json"))
    assert UUID.fullmatch(str(first["origin"]))
    assert first["name"] is None
    assert (
        ok(home, "origin", "--name", "alice-laptop") == f"{first['origin']} alice-laptop\n".encode()
    )
    again = json.loads(ok(home, "origin", "--json"))
    assert again == {"origin": first["origin"], "name": "alice-laptop", "home": first["home"]}
    assert json.loads(ok(home, "origin", "--name", "", "--json"))["name"] is None
    other = json.loads(ok(home + "-other", "origin", "--json"))
    assert other["origin"] != first["origin"]


def test_a_journal_made_before_origins_gets_one_on_first_open(home: str) -> None:
    """A journal whose meta has no origin (made before origins) gets one, kept after."""
    append(home, 2)
    env = lmdb.open(os.path.join(home, "log"), max_dbs=10)
    meta = env.open_db(b"meta")
    with env.begin(write=True, db=meta) as txn:
        assert txn.delete(b"origin")
    env.close()
    made = json.loads(ok(home, "origin", "--json"))["origin"]
    assert UUID.fullmatch(str(made))
    assert json.loads(ok(home, "origin", "--json"))["origin"] == made
    assert lines(ok(home, "export"))[0]["origin"] == made


def test_an_origin_name_with_control_characters_is_refused(home: str) -> None:
    """``origin --name`` refuses a name it could not show on one line: exit 2."""
    done = run(home, "origin", "--name", "a\nb")
    assert done.returncode == 2
    assert b"control characters" in done.stderr


def test_export_writes_envelopes_with_the_payload(home: str) -> None:
    """Each line is the envelope (origin, origin seq, digest, names, time) and the payload."""
    append(home, 3)
    origin = json.loads(ok(home, "origin", "--json"))["origin"]
    out = lines(ok(home, "export", "--format", "jsonl"))
    assert [line["seq"] for line in out] == [1, 2, 3]
    assert [line["origin_seq"] for line in out] == [1, 2, 3]
    assert {line["origin"] for line in out} == {origin}
    assert out[1]["payload"] == {"hook_event_name": "Stop", "n": 1}
    assert (out[1]["source"], out[1]["kind"]) == ("codex", "Stop")
    log = lines(ok(home, "log", "--json"))
    assert [line["digest"] for line in out] == [line["digest"] for line in log]
    assert [line["received_at"] for line in out] == [line["received_at"] for line in log]
    assert [line["seq"] for line in lines(ok(home, "export", "--after", "2"))] == [3]


def test_a_named_consumer_resumes_after_its_checkpoint(home: str) -> None:
    """``export --consumer`` gives each record once across runs; --after overrides it."""
    append(home, 5)
    assert [line["seq"] for line in lines(ok(home, "export", "--consumer", "ch"))] == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert ok(home, "export", "--consumer", "ch") == b""
    append(home, 2, start=5)
    assert [line["seq"] for line in lines(ok(home, "export", "--consumer", "ch"))] == [6, 7]
    assert load_checkpoint(home, "export", "ch").checkpoint == 7
    assert [
        line["seq"] for line in lines(ok(home, "export", "--consumer", "ch", "--after", "5"))
    ] == [6, 7]
    assert [line["seq"] for line in lines(ok(home, "export", "--consumer", "other"))][-1] == 7


def test_a_bad_consumer_name_is_a_usage_error(home: str) -> None:
    """A consumer name that could not be a file name exits 2."""
    append(home, 1)
    done = run(home, "export", "--consumer", "../x")
    assert done.returncode == 2
    assert b"consumer name" in done.stderr


class _FailingOutput(io.BytesIO):
    """An output whose flush fails after ``ok`` successful flushes (a full disk)."""

    def __init__(self, ok: int) -> None:
        super().__init__()
        self.ok = ok

    def flush(self) -> None:
        if self.ok == 0:
            raise OSError(28, "No space left on device")
        self.ok -= 1


def test_the_checkpoint_advances_only_after_the_output_is_flushed(home: str) -> None:
    """When flushing a chunk fails, the checkpoint stays at the last flushed chunk."""
    append(home, 10)

    def open_journal() -> LmdbJournal:
        return LmdbJournal(home, readonly=True)

    with pytest.raises(OSError, match="No space"):
        export(open_journal, _FailingOutput(ok=1), consumer="c", chunk=4)
    assert load_checkpoint(home, "export", "c").checkpoint == 4
    out = io.BytesIO()
    assert export(open_journal, out, consumer="c", chunk=4).checkpoint == 10
    assert [json.loads(line)["seq"] for line in out.getvalue().splitlines()] == list(range(5, 11))


def test_one_process_at_a_time_per_consumer(home: str) -> None:
    """A consumer's lock is exclusive: a second holder is refused with LockedError."""
    append(home, 1)
    held = consumer_lock(home, "export", "c")
    second = consumer_lock(home, "export", "c")
    with held, pytest.raises(LockedError, match="another process"), second:
        pass  # pragma: no cover


def test_split_envelope_recovers_the_exact_payload_bytes(home: str) -> None:
    """A shipped envelope gives back the stored bytes exactly, newlines and all."""
    from journal.export import encode_envelope

    with LmdbJournal(home) as journal:
        journal.append(b'{"a": "x,\\"payload\\":y",\n  "b": [1, 2]}', source="codex", kind="K")
        record = journal.get(1)
    body = encode_envelope(record, "00000000-0000-4000-8000-000000000000", "n")
    envelope, payload = split_envelope(body)
    assert payload == record.payload
    assert hashlib.sha256(payload).hexdigest() == envelope.digest == record.digest
    assert json.loads(body)["payload"] == {"a": 'x,"payload":y', "b": [1, 2]}
    with pytest.raises(ValueError, match="not an agent-journal envelope"):
        split_envelope(b'{"x": 1}')
    with pytest.raises(UsageError):
        load_checkpoint(home, "export", "")
