"""``journal import claude-code|codex|gemini``: backfill session files, idempotently."""

from __future__ import annotations

import json
import pathlib
import subprocess
from typing import Any

from tests.conftest import JOURNAL_BIN
from tests.journal.agents.test_capture import transcript_line, write_lines


def run(home: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [JOURNAL_BIN, "--home", home, *args], capture_output=True, timeout=120, check=False
    )


def projects_tree(root: pathlib.Path) -> pathlib.Path:
    """A ~/.claude/projects-shaped tree: two projects, one session with a subagent."""
    projects = root / "projects"
    first = projects / "-home-dev-src-app"
    (first / "s1" / "subagents").mkdir(parents=True)
    write_lines(first / "s1.jsonl", range(5), session="s1")
    write_lines(first / "s1" / "subagents" / "agent-a1.jsonl", range(100, 103), session="s1")
    second = projects / "-home-dev-src-api"
    second.mkdir()
    write_lines(second / "s2.jsonl", range(200, 204), session="s2")
    (second / "notes.txt").write_text("not a transcript")
    return projects


def test_import_of_a_projects_tree_journals_every_transcript_line(
    home: str, tmp_path: pathlib.Path
) -> None:
    """Every *.jsonl under the tree (subagents too) lands; other files are ignored."""
    projects = projects_tree(tmp_path)
    done = run(home, "import", "claude-code", str(projects), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["files"], report["appended"], report["quarantined"]) == (3, 12, 0)
    log = run(home, "log", "--json", "--kind", "transcript")
    sessions = [json.loads(line)["payload"]["sessionId"] for line in log.stdout.splitlines()]
    assert sorted(sessions) == ["s1"] * 8 + ["s2"] * 4


def test_importing_again_takes_only_lines_added_since(home: str, tmp_path: pathlib.Path) -> None:
    """A second import of the same tree adds nothing; after growth, only the new lines."""
    projects = projects_tree(tmp_path)
    assert run(home, "import", "claude-code", str(projects)).returncode == 0
    again = json.loads(run(home, "import", "claude-code", str(projects), "--json").stdout)
    assert again["appended"] == 0
    write_lines(projects / "-home-dev-src-api" / "s2.jsonl", range(204, 206), session="s2")
    grown = json.loads(run(home, "import", "claude-code", str(projects), "--json").stdout)
    assert grown["appended"] == 2


def test_import_prints_a_summary_for_people(home: str, tmp_path: pathlib.Path) -> None:
    """Without --json: one summary line naming files and lines."""
    path = tmp_path / "one.jsonl"
    path.write_bytes(transcript_line(1) + transcript_line(2))
    done = run(home, "import", "claude-code", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("1 files (1 sessions), ")
    assert "2 lines journalled" in done.stdout.decode()


def test_import_of_a_missing_path_fails_with_one_line(home: str, tmp_path: pathlib.Path) -> None:
    """A path that does not exist: exit 1, one line on stderr naming it, nothing written."""
    done = run(home, "import", "claude-code", str(tmp_path / "missing"))
    assert done.returncode == 1
    assert done.stderr.decode().strip().count("\n") == 0
    assert "missing" in done.stderr.decode()


def test_import_of_an_unknown_agent_is_a_usage_error(home: str, tmp_path: pathlib.Path) -> None:
    """Claude Code, Codex and Gemini files are understood: another agent name exits 2."""
    assert run(home, "import", "cursor", str(tmp_path)).returncode == 2


# -- Codex rollouts ---------------------------------------------------------------------

THREAD = "01a23347-36ed-7813-ad1f-c3a6b3584b63"
TURN = "01a23347-370d-7440-9db3-a6ceb7789c28"


def rollout_lines(thread: str = THREAD) -> list[dict[str, Any]]:
    """A rollout in the shape Codex 0.171.0 writes (trimmed): session_meta first."""
    at = "2026-11-20T10:00:0{}.000Z"
    usage = {"input_tokens": 120, "cached_input_tokens": 20, "output_tokens": 15}
    return [
        {"timestamp": at.format(0), "ordinal": 0, "type": "session_meta",
         "payload": {"session_id": thread, "id": thread, "timestamp": at.format(0),
                     "cwd": "/home/dev/src/app", "originator": "codex_exec",
                     "cli_version": "0.171.0", "source": "exec", "model_provider": "openai"}},
        {"timestamp": at.format(1), "ordinal": 1, "type": "turn_context",
         "payload": {"turn_id": TURN, "cwd": "/home/dev/src/app", "model": "gpt-5.5"}},
        {"timestamp": at.format(2), "ordinal": 2, "type": "response_item",
         "payload": {"type": "function_call", "name": "exec_command", "call_id": "call_1",
                     "arguments": "{\"cmd\": \"ls /missing\"}"}},
        {"timestamp": at.format(3), "ordinal": 3, "type": "event_msg",
         "payload": {"type": "item_completed", "thread_id": thread, "turn_id": TURN,
                     "item": {"type": "CommandExecution", "id": "call_1", "status": "failed",
                              "exit_code": 2}}},
        {"timestamp": at.format(4), "ordinal": 4, "type": "event_msg",
         "payload": {"type": "token_count",
                     "info": {"total_token_usage": usage, "last_token_usage": usage}}},
    ]  # fmt: skip


def write_jsonl(path: pathlib.Path, lines: list[dict[str, Any]]) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as handle:
        for line in lines:
            handle.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")
    return path


def sessions_tree(root: pathlib.Path) -> pathlib.Path:
    """A ~/.codex/sessions tree: two rollouts, one compressed, and something else."""
    sessions = root / "sessions"
    day = sessions / "2026" / "11" / "20"
    write_jsonl(day / f"rollout-2026-11-20T10-00-00-{THREAD}.jsonl", rollout_lines())
    other = "01a23347-0000-7000-8000-000000000002"
    write_jsonl(day / f"rollout-2026-11-20T11-00-00-{other}.jsonl", rollout_lines(other)[:2])
    (day / "rollout-2026-11-19T09-00-00-x.jsonl.zst").write_bytes(b"(\xb5/\xfd")
    (sessions / "session_index.jsonl").write_text("{}\n")
    return sessions


def test_codex_rollouts_are_imported_in_file_order_and_tied_to_their_session(
    home: str, tmp_path: pathlib.Path
) -> None:
    """Every rollout line lands (source codex, kind transcript), each file's lines together
    in file order behind its session_meta; the report names each file's session."""
    sessions = sessions_tree(tmp_path)
    done = run(home, "import", "codex", str(sessions), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["files"], report["sessions"], report["appended"]) == (2, 2, 7)
    assert report["per_file"][0]["session_id"] == THREAD
    (skipped,) = report["skipped"]
    assert skipped["path"].endswith(".jsonl.zst")
    assert "zstd -d" in skipped["reason"]
    records = [json.loads(line) for line in run(home, "log", "--json").stdout.splitlines()]
    assert {(r["source"], r["kind"]) for r in records} == {("codex", "transcript")}
    types = [r["payload"]["type"] for r in records]
    assert types == [line["type"] for line in rollout_lines()] + ["session_meta", "turn_context"]


def test_a_rollout_the_hooks_captured_is_not_imported_twice(
    home: str, tmp_path: pathlib.Path
) -> None:
    """The Stop hook captured the rollout so far; import takes only the lines after it."""
    rollout = write_jsonl(
        tmp_path / f"rollout-2026-11-20T10-00-00-{THREAD}.jsonl", rollout_lines()[:3]
    )
    stop = {
        "session_id": THREAD,
        "turn_id": TURN,
        "hook_event_name": "Stop",
        "transcript_path": str(rollout),
        "model": "gpt-5.5",
    }
    subprocess.run(
        [JOURNAL_BIN, "--home", home, "hook", "codex"],
        input=json.dumps(stop).encode(),
        check=True,
        timeout=60,
    )
    write_jsonl(rollout, rollout_lines()[3:])
    report = json.loads(run(home, "import", "codex", str(rollout), "--json").stdout)
    assert report["appended"] == 2
    kinds = [json.loads(line)["kind"] for line in run(home, "log", "--json").stdout.splitlines()]
    assert kinds == ["Stop"] + ["transcript"] * 5


# -- Gemini CLI chat files --------------------------------------------------------------

GEMINI_SESSION = "5f1d3a2c-0000-4000-8000-00000000aaaa"


def gemini_messages() -> list[dict[str, Any]]:
    tokens = {"input": 1200, "output": 40, "cached": 800, "thoughts": 12, "tool": 0, "total": 1252}
    return [
        {"id": "m1", "timestamp": "2026-11-20T10:00:01.000Z", "type": "user",
         "content": [{"text": "run ls"}]},
        {"id": "m2", "timestamp": "2026-11-20T10:00:03.000Z", "type": "gemini", "content": "",
         "model": "gemini-2.5-pro", "tokens": tokens,
         "toolCalls": [{"id": "run_shell_command-1", "name": "run_shell_command",
                        "args": {"command": "ls"}, "status": "success",
                        "timestamp": "2026-11-20T10:00:02.000Z"}]},
    ]  # fmt: skip


def gemini_meta() -> dict[str, Any]:
    return {
        "sessionId": GEMINI_SESSION,
        "projectHash": "ab" * 32,
        "startTime": "2026-11-20T10:00:00.000Z",
        "lastUpdated": "2026-11-20T10:00:03.000Z",
    }


def test_gemini_jsonl_chats_and_json_documents_are_imported(
    home: str, tmp_path: pathlib.Path
) -> None:
    """session-*.jsonl: every line; an older session-*.json: its session fields and one
    record per message; a .json Gemini already migrated to .jsonl: skipped."""
    chats = tmp_path / "tmp" / ("cd" * 32) / "chats"
    write_jsonl(
        chats / "session-2026-11-20T10-00-5f1d3a2c.jsonl", [gemini_meta(), *gemini_messages()]
    )
    legacy = {**gemini_meta(), "sessionId": "old-session", "messages": gemini_messages()}
    (chats / "session-2026-11-01T09-00-old.json").write_text(json.dumps(legacy, indent=2))
    (chats / "session-2026-11-20T10-00-5f1d3a2c.json").write_text(json.dumps(legacy, indent=2))
    (tmp_path / "tmp" / "settings.json").write_text("{}")  # not under chats/: not a chat file
    done = run(home, "import", "gemini", str(tmp_path / "tmp"), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["files"], report["sessions"], report["appended"]) == (2, 2, 6)
    assert sorted(f["session_id"] for f in report["per_file"]) == [GEMINI_SESSION, "old-session"]
    assert [s["reason"].split(":")[0] for s in report["skipped"]] == ["migrated by Gemini CLI"]
    records = [json.loads(line) for line in run(home, "log", "--json").stdout.splitlines()]
    assert {(r["source"], r["kind"]) for r in records} == {("gemini", "transcript")}
    old = [r["payload"] for r in records[:3]]
    assert old == [{**gemini_meta(), "sessionId": "old-session"}, *gemini_messages()]


def test_a_grown_gemini_document_adds_only_what_changed(home: str, tmp_path: pathlib.Path) -> None:
    """Imported again after Gemini rewrote it: the new message and the updated one, no more."""
    path = tmp_path / "chats" / "session-2026-11-01T09-00-old.json"
    path.parent.mkdir()
    doc = {**gemini_meta(), "messages": gemini_messages()[:1]}
    path.write_text(json.dumps(doc, indent=2))
    assert json.loads(run(home, "import", "gemini", str(path), "--json").stdout)["appended"] == 2
    again = json.loads(run(home, "import", "gemini", str(path), "--json").stdout)
    assert (again["appended"], again["duplicates"]) == (0, 2)
    doc = {
        **gemini_meta(),
        "lastUpdated": "2026-11-20T10:00:09.000Z",
        "messages": gemini_messages(),
    }
    path.write_text(json.dumps(doc, indent=2))
    grown = json.loads(run(home, "import", "gemini", str(path), "--json").stdout)
    assert (grown["appended"], grown["duplicates"]) == (2, 1)  # new session fields, m2


def test_a_gemini_json_that_is_no_conversation_is_quarantined(
    home: str, tmp_path: pathlib.Path
) -> None:
    """A .json under chats/ that is not a conversation document is kept in quarantine."""
    path = tmp_path / "chats" / "session-broken.json"
    path.parent.mkdir()
    path.write_text('{"half": ')
    report = json.loads(run(home, "import", "gemini", str(path), "--json").stdout)
    assert (report["appended"], report["quarantined"]) == (0, 1)
    (bad,) = [json.loads(x) for x in run(home, "log", "--quarantine", "--json").stdout.splitlines()]
    assert "not a conversation document" in bad["reason"]
