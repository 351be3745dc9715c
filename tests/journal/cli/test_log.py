"""The ``journal`` command line through real processes (DESIGN.md §5, the stable contract).

Every test runs the installed console script, so what is checked is what users and
outside tests see: exit codes (0 success, 1 operational error, 2 usage error), one
line on stderr and never a traceback, and the JSON field names that are fixed.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import queue
import re
import subprocess
import threading
from typing import IO, Any, cast

import pytest

from tests.conftest import FIXTURES, JOURNAL_BIN

HEX64 = re.compile(r"[0-9a-f]{64}")


def run(home: str, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``journal --home HOME ARGS`` with ``data`` on stdin (empty if None)."""
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, *args],
        input=data if data is not None else b"",
        capture_output=True,
        timeout=120,
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    assert b"Traceback" not in done.stdout
    return done


def ok(home: str, *args: str, data: bytes | None = None) -> bytes:
    done = run(home, *args, data=data)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def append_json(home: str, data: bytes, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(ok(home, "append", "--json", *args, data=data))
    return out


def log_json(home: str, *args: str) -> list[dict[str, Any]]:
    """``log --json``: one JSON object per line, nothing else."""
    out = ok(home, "log", "--json", *args)
    return [json.loads(line) for line in out.splitlines()]


def one_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert text.endswith("\n")
    assert text.count("\n") == 1, text
    return text.rstrip("\n")


# -- append -------------------------------------------------------------------------------


def test_append_prints_seq_and_digest(home: str) -> None:
    out = ok(home, "append", data=b'{"hook_event_name":"Stop","session_id":"s1"}\n')
    seq, digest = out.decode().split()
    assert seq == "1"
    assert HEX64.fullmatch(digest)
    # The digest is the content address of exactly the bytes stored for the payload.
    stored = ok(home, "show", digest)
    assert stored == b'{"hook_event_name":"Stop","session_id":"s1"}\n'
    assert digest == hashlib.sha256(stored[:-1]).hexdigest()
    out = ok(home, "append", data=b'{"second":true}')
    assert out.decode().split()[0] == "2"


def test_append_json_shape(home: str) -> None:
    out = append_json(home, b'{"a":1}', "--source", "codex", "--kind", "custom")
    assert {"seq", "digest", "duplicate", "record_digest"} <= out.keys()
    assert out["seq"] == 1
    assert out["duplicate"] is False
    assert HEX64.fullmatch(out["digest"])
    assert HEX64.fullmatch(out["record_digest"])
    (record,) = log_json(home)
    assert (record["source"], record["kind"]) == ("codex", "custom")
    assert record["digest"] == out["digest"]
    assert record["record_digest"] == out["record_digest"]


def test_append_with_a_known_key_returns_the_original_seq(home: str) -> None:
    first = append_json(home, b'{"tool_use_id":"t1"}', "--key", "t1:PreToolUse")
    append_json(home, b'{"other":1}')
    again = append_json(home, b'{"tool_use_id":"t1"}', "--key", "t1:PreToolUse")
    assert again["seq"] == first["seq"] == 1
    assert again["duplicate"] is True
    assert again["digest"] == first["digest"]
    assert again["record_digest"] == first["record_digest"]
    # Different bytes under a known key: still the original, nothing written.
    other = append_json(home, b'{"tool_use_id":"t1","retry":2}', "--key", "t1:PreToolUse")
    assert (other["seq"], other["duplicate"]) == (1, True)
    text = ok(home, "append", "--key", "t1:PreToolUse", data=b'{"x":1}').decode()
    assert text.split() == ["1", first["digest"]]
    assert [r["seq"] for r in log_json(home)] == [1, 2]


BAD_INPUTS = {
    "empty stdin": (b"", "empty"),
    "whitespace only": (b" \n\t\r\n", "empty"),
    "plain text": (b"hello, world", "JSON"),
    "not JSON": (b"{hello: world}", "not JSON"),
    "truncated JSON": (b'{"hook_event_name":"Stop","session_id":"s', "not JSON"),
    "invalid UTF-8": (b'{"a":"caf\xe9"}', "UTF-8"),
    "10 MB payload": (b'{"a":"' + b"x" * (10 * 1024 * 1024) + b'"}', "too large"),
    "10,000-deep nesting": (
        b'{"a":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        "deep",
    ),
    "integer beyond 64 bits": (b'{"a":18446744073709551616}', "64 bits"),
    "negative integer beyond 64 bits": (b'{"a":-9223372036854775809}', "64 bits"),
    "a JSON scalar": (b"42", "not a JSON object"),
    "a JSON array": (b'[{"a":1}]', "not a JSON object"),
    "two JSON objects": (b'{"a":1}{"b":2}', "not JSON"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_quarantined_with_one_clear_line(home: str, case: str) -> None:
    data, reason_part = BAD_INPUTS[case]
    ok(home, "append", data=b'{"n":1}')
    ok(home, "append", data=b'{"n":2}')
    before = log_json(home)
    assert [r["seq"] for r in before] == [1, 2]

    done = run(home, "append", data=data)
    assert done.returncode == 1
    assert done.stdout == b""
    line = one_line(done.stderr)
    assert line.startswith("Error: invalid payload:"), line
    assert "quarantine" in line
    assert reason_part in line

    (entry,) = [json.loads(x) for x in ok(home, "log", "--quarantine", "--json").splitlines()]
    assert reason_part in entry["reason"]
    assert entry["reason"] in line
    assert f"#{entry['id']}" in line
    assert entry["bytes"] == len(data)
    if len(data) < 1000:
        assert entry["data"] == data.decode("utf-8", "replace")

    assert log_json(home) == before  # head and every earlier record unchanged
    stats = json.loads(ok(home, "stats", "--json"))
    assert (stats["head_seq"], stats["quarantined"]) == (2, 1)


def test_batch_with_a_bad_line_lands_the_good_lines(home: str) -> None:
    ok(home, "append", data=b'{"first":true}')
    lines = [b'{"n":1}', b'{"n":2}', b'{"n":3', b'{"n":4}', b"", b'{"n":5}']
    done = run(home, "append", "--batch", data=b"\n".join(lines) + b"\n")
    assert done.returncode == 1
    err = done.stderr.decode()
    assert "line 3" in err
    assert "line 5" in err  # an empty line is bad input too, never skipped silently
    assert "quarantine" in err
    printed = [line.split() for line in done.stdout.decode().splitlines()]
    assert [seq for seq, _ in printed] == ["2", "3", "4", "5"]
    records = log_json(home, "--after", "1")
    assert [r["seq"] for r in records] == [2, 3, 4, 5]
    assert [r["payload"]["n"] for r in records] == [1, 2, 4, 5]
    reasons = [json.loads(x) for x in ok(home, "log", "--quarantine", "--json").splitlines()]
    assert [q["data"] for q in reasons] == ['{"n":3', ""]
    ok(home, "verify")


def test_batch_json_prints_a_list(home: str) -> None:
    data = b'{"n":1}\n{"n":2}\nnope\n{"n":3}\n'
    done = run(home, "append", "--batch", "--json", data=data)
    assert done.returncode == 1
    results = json.loads(done.stdout)
    assert isinstance(results, list)
    assert len(results) == 4
    assert [r.get("seq") for r in results] == [1, 2, None, 3]
    assert results[2]["line"] == 3
    assert "quarantined" in results[2]
    good = json.loads(ok(home, "append", "--batch", "--json", data=b'{"n":4}\n{"n":5}\n'))
    assert [(r["seq"], r["duplicate"]) for r in good] == [(4, False), (5, False)]
    assert all({"seq", "digest", "duplicate"} <= r.keys() for r in good)


def test_batch_with_a_key_appends_nothing_twice(home: str) -> None:
    data = b'{"n":1}\n{"n":2}\n{"n":3}\n'
    first = json.loads(ok(home, "append", "--batch", "--json", "--key", "imp", data=data))
    again = json.loads(ok(home, "append", "--batch", "--json", "--key", "imp", data=data))
    assert [r["seq"] for r in again] == [r["seq"] for r in first] == [1, 2, 3]
    assert all(r["duplicate"] for r in again)
    assert len(log_json(home)) == 3


# -- log ----------------------------------------------------------------------------------


def test_log_json_fields(home: str) -> None:
    payload = {"hook_event_name": "PreToolUse", "tool_name": "Bash", "n": [1, 2.5, None]}
    appended = append_json(home, json.dumps(payload).encode(), "--source", "claude-code")
    (record,) = log_json(home)
    assert {"seq", "digest", "received_at", "source", "kind", "payload"} <= record.keys()
    assert record["seq"] == 1
    assert record["digest"] == appended["digest"]
    assert isinstance(record["received_at"], int)
    assert record["received_at"] > 1_600_000_000 * 10**9  # nanoseconds
    assert record["source"] == "claude-code"
    assert record["kind"] == "PreToolUse"
    assert record["payload"] == payload  # the JSON object itself, not a string


def test_log_filters(home: str) -> None:
    kinds = ["SessionStart", "PreToolUse", "PostToolUse", "PreToolUse", "Stop"]
    for n, kind in enumerate(kinds):
        ok(home, "append", data=json.dumps({"hook_event_name": kind, "n": n}).encode())
    assert [r["seq"] for r in log_json(home)] == [1, 2, 3, 4, 5]
    assert [r["seq"] for r in log_json(home, "--after", "2")] == [3, 4, 5]
    assert [r["seq"] for r in log_json(home, "--limit", "2")] == [1, 2]
    assert [r["seq"] for r in log_json(home, "--after", "1", "--limit", "2")] == [2, 3]
    assert [r["seq"] for r in log_json(home, "--kind", "PreToolUse")] == [2, 4]
    assert [r["seq"] for r in log_json(home, "--kind", "PreToolUse", "--after", "2")] == [4]
    assert [r["seq"] for r in log_json(home, "--kind", "Stop", "--kind", "SessionStart")] == [
        1,
        5,
    ]
    assert log_json(home, "--after", "5") == []
    assert log_json(home, "--kind", "Nope") == []
    text = ok(home, "log").decode().splitlines()
    assert len(text) == 5
    assert text[0].split()[0] == "1"


def _lines(stream: IO[bytes]) -> queue.Queue[bytes]:
    """Feed the lines of ``stream`` into a queue from a daemon thread."""
    lines: queue.Queue[bytes] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(b"")

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_log_follow_prints_records_appended_after_it_started(home: str) -> None:
    ok(home, "append", data=b'{"n":1}')
    follower = subprocess.Popen(
        [JOURNAL_BIN, "--home", home, "log", "--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout = cast(IO[bytes], follower.stdout)
    lines = _lines(stdout)
    try:
        # Timeouts guard against a hang; they are not timing assertions.
        assert json.loads(lines.get(timeout=60))["seq"] == 1  # running, caught up
        ok(home, "append", data=b'{"n":2}')
        ok(home, "append", data=b'{"n":3}')
        second = json.loads(lines.get(timeout=60))
        third = json.loads(lines.get(timeout=60))
        assert (second["seq"], second["payload"]) == (2, {"n": 2})
        assert third["seq"] == 3
        assert follower.poll() is None  # still following
    finally:
        follower.terminate()
        follower.wait(30)
        stdout.close()
        stderr = cast(IO[bytes], follower.stderr).read()
        cast(IO[bytes], follower.stderr).close()
    assert b"Traceback" not in stderr


def test_log_follow_with_a_filter_prints_only_matching_new_records(home: str) -> None:
    """--follow --kind skips other kinds, before and after it caught up, in seq order."""
    ok(home, "append", data=b'{"type":"a","n":1}')
    ok(home, "append", data=b'{"type":"b","n":2}')
    follower = subprocess.Popen(
        [JOURNAL_BIN, "--home", home, "log", "--follow", "--json", "--kind", "b"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout = cast(IO[bytes], follower.stdout)
    lines = _lines(stdout)
    try:
        assert json.loads(lines.get(timeout=60))["seq"] == 2
        for n, kind in enumerate("aab", start=3):
            ok(home, "append", data=b'{"type":"%s","n":%d}' % (kind.encode(), n))
        assert json.loads(lines.get(timeout=60))["seq"] == 5  # 3 and 4 are kind a
    finally:
        follower.terminate()
        follower.wait(30)
        stdout.close()
        cast(IO[bytes], follower.stderr).close()


def test_log_of_indented_payloads_keeps_one_record_per_line(home: str) -> None:
    indented = b'{\n  "hook_event_name": "Stop",\r\n  "text": "a\\nb"\n}\n'
    ok(home, "append", data=indented)
    ok(home, "append", data=b'{"n":2}')
    out = ok(home, "log", "--json")
    lines = out.splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["payload"] == {"hook_event_name": "Stop", "text": "a\nb"}
    assert len(ok(home, "log").splitlines()) == 2
    # The stored bytes are untouched: show DIGEST gives them back exactly.
    digest = json.loads(lines[0])["digest"]
    assert ok(home, "show", digest) == indented.strip() + b"\n"


# -- show, stats, verify --------------------------------------------------------------


def test_show_by_seq_digest_prefix_and_json(home: str) -> None:
    payload = b'{"hook_event_name":"UserPromptSubmit","prompt":"hi"}'
    appended = append_json(home, payload, "--source", "claude-code")
    append_json(home, b'{"n":2}')

    text = ok(home, "show", "1").decode()
    assert re.search(r"^seq:\s+1$", text, re.M)
    assert re.search(r"^source:\s+claude-code$", text, re.M)
    assert re.search(r"^kind:\s+UserPromptSubmit$", text, re.M)
    assert appended["digest"] in text
    assert '"prompt": "hi"' in text

    record = json.loads(ok(home, "show", "1", "--json"))
    assert record["seq"] == 1
    assert record["digest"] == appended["digest"]
    assert record["payload"] == json.loads(payload)

    prefix = appended["digest"][:10]
    assert ok(home, "show", prefix) == payload + b"\n"
    blob = json.loads(ok(home, "show", prefix, "--json"))
    assert blob["digest"] == appended["digest"]
    assert blob["payload"] == json.loads(payload)

    for missing in ("99", "ffffffffff"):
        done = run(home, "show", missing)
        assert done.returncode == 1
        assert one_line(done.stderr).startswith("Error:")


def test_stats_json(home: str) -> None:
    ok(home, "append", "--source", "claude-code", data=b'{"n":1}')
    ok(home, "append", "--source", "claude-code", data=b'{"n":1}')  # same blob
    ok(home, "append", "--source", "codex", data=b'{"n":2}')
    assert run(home, "append", data=b"not json").returncode == 1
    stats = json.loads(ok(home, "stats", "--json"))
    assert {"head_seq", "records", "blobs", "quarantined", "spooled"} <= stats.keys()
    assert stats["head_seq"] == 3
    assert stats["records"] == 3
    assert stats["blobs"] == 2
    assert stats["quarantined"] == 1
    assert stats["spooled"] == 0
    text = ok(home, "stats").decode()
    assert re.search(r"^head_seq:\s+3$", text, re.M)


def test_verify_passes_on_a_good_journal(home: str) -> None:
    for n in range(3):
        ok(home, "append", data=json.dumps({"n": n}).encode())
    out = ok(home, "verify").decode()
    assert out.startswith("ok: 3 records")
    report = json.loads(ok(home, "verify", "--json"))
    assert report["ok"] is True
    assert report["head_seq"] == 3
    assert report["first_bad_seq"] is None


def test_verify_on_an_empty_journal(home: str) -> None:
    assert json.loads(ok(home, "verify", "--json"))["ok"] is True
    assert json.loads(ok(home, "stats", "--json"))["head_seq"] == 0


# -- usage and operational errors --------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["log", "--no-such-option"],
        ["log", "--limit", "many"],
        ["log", "--after", "-1"],
        ["show"],
        ["append", "--source"],
    ],
)
def test_usage_errors_exit_2(home: str, args: list[str]) -> None:
    done = run(home, *args)
    assert done.returncode == 2
    assert b"Error" in done.stderr


def test_empty_key_is_a_usage_error(home: str) -> None:
    done = run(home, "append", "--key", "", data=b'{"a":1}')
    assert done.returncode == 2
    assert b"Error" in done.stderr


def test_uncreatable_home_fails_with_one_line(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    home = str(blocker / "home")
    for args in (["stats"], ["append"], ["log"], ["verify"]):
        done = run(home, *args, data=b'{"a":1}')
        assert done.returncode == 1, args
        line = one_line(done.stderr)
        assert line.startswith("Error:")
        assert str(blocker) in line
    assert blocker.read_text() == "not a directory\n"


# -- golden: real Claude Code payloads -----------------------------------------------


def test_golden_claude_code_fixtures(home: str) -> None:
    fixtures = sorted(FIXTURES.glob("claude-code__*.json"))
    assert len(fixtures) >= 10
    for path in fixtures:
        appended = append_json(home, path.read_bytes(), "--source", "claude-code")
        assert appended["duplicate"] is False
    records = log_json(home)
    assert len(records) == len(fixtures)
    for record, path in zip(records, fixtures, strict=True):
        expected = json.loads(path.read_bytes())
        assert record["source"] == "claude-code"
        assert record["kind"] == expected["hook_event_name"], path.name
        assert record["payload"] == expected, path.name
        # Stored as sent: the digest addresses the file's bytes (outer whitespace aside).
        assert record["digest"] == hashlib.sha256(path.read_bytes().strip()).hexdigest()
    ok(home, "verify")
