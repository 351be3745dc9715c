"""``journal links`` through the real program, on a journal in a real LMDB home."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN

T0 = time.time_ns() - 3600 * 10**9
AGENT = (4242, 1000, bytes(range(16)))


def _stamp(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns / 1e9)) + ".000Z"


def build(home: str) -> None:
    """Session ``old`` (two turns), cleared into ``mid`` by the same agent process,
    then a later process resumes ``mid`` as ``new``, whose transcript chains on."""
    events: list[tuple[str, dict[str, Any], bool]] = []

    def hook(sid: str, name: str, **more: Any) -> None:
        body = {"session_id": sid, "cwd": "/w", "hook_event_name": name, **more}
        events.append((name, body, True))

    def line(sid: str, uuid: str, parent: str | None) -> None:
        body = {"type": "user", "sessionId": sid, "uuid": uuid, "parentUuid": parent}
        events.append(("transcript", body, False))

    hook("old", "SessionStart", source="startup")
    line("old", "o1", None)
    hook("old", "SessionEnd", reason="clear")
    hook("mid", "SessionStart", source="clear")
    line("mid", "m1", None)
    line("mid", "m2", "m1")
    hook("mid", "SessionEnd", reason="other")
    line("new", "n1", "m2")
    with LmdbJournal(home) as journal:
        for i, (kind, body, from_agent) in enumerate(events):
            at = T0 + i * 10**9
            if kind == "transcript":
                body["timestamp"] = _stamp(at)
            journal.append(
                json.dumps(body).encode(),
                source="claude-code",
                kind=kind,
                received_at=at,
                agent=AGENT if from_agent else None,
            )


def journal(home: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, *args], capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_links_json_names_every_run_of_the_conversation(tmp_path: Any) -> None:
    home = str(tmp_path / "home")
    build(home)
    for ident in ("old", "claude-code/mid", "ne"):
        done = journal(home, "links", ident, "--json")
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        assert found["conversation"] == "claude-code/old"
        assert found["runs"] == ["claude-code/old", "claude-code/mid", "claude-code/new"]
        assert [(x["run_id"], x["session_id"], x["relation"]) for x in found["links"]] == [
            ("claude-code/mid", "mid", "clear"),
            ("claude-code/new", "new", "resume"),
        ]
        assert [x["from_run_id"] for x in found["links"]] == [
            "claude-code/old",
            "claude-code/mid",
        ]


def test_links_text_and_errors(tmp_path: Any) -> None:
    home = str(tmp_path / "home")
    build(home)
    done = journal(home, "links", "mid")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "conversation claude-code/old (3 runs)"
    assert "clear" in done.stdout
    assert "claude-code/new continues claude-code/mid" in done.stdout
    missing = journal(home, "links", "nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: ")
    assert len(missing.stderr.splitlines()) == 1
