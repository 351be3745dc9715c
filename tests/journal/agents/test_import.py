"""``journal import claude-code``: backfill transcript files and trees, idempotently."""

from __future__ import annotations

import json
import pathlib
import subprocess

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
    assert done.stdout.decode().startswith("1 files, ")
    assert "2 lines journalled" in done.stdout.decode()


def test_import_of_a_missing_path_fails_with_one_line(home: str, tmp_path: pathlib.Path) -> None:
    """A path that does not exist: exit 1, one line on stderr naming it, nothing written."""
    done = run(home, "import", "claude-code", str(tmp_path / "missing"))
    assert done.returncode == 1
    assert done.stderr.decode().strip().count("\n") == 0
    assert "missing" in done.stderr.decode()


def test_import_of_an_unknown_agent_is_a_usage_error(home: str, tmp_path: pathlib.Path) -> None:
    """Only claude-code transcripts are understood: another agent name exits 2."""
    assert run(home, "import", "gemini", str(tmp_path)).returncode == 2
