"""``journal trace`` and ``journal links`` on a real Claude Code session, resumed once.

The real ``claude -p`` writes a file and edits it in a git repository (scripted by
the mock model); ``claude -p --resume SESSION`` edits it again; a person then changes
one of the agent's lines and adds one of their own, and commits. The Agent Trace
record of that commit validates against the spec's JSON Schema, claims the agent's
lines for the session (``related`` names it), marks the line the person changed as
``mixed``, leaves the person's own line out, and ``journal links`` shows the resume.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from typing import Any

import jsonschema
import pytest

from tests.conftest import FIXTURES
from tests.realagents import harness, npm_cache
from tests.realagents.harness import AgentRun, ToolCall
from tests.realagents.mockapi import MockModel

pytestmark = pytest.mark.slow

SCHEMA = json.loads((FIXTURES / "agent-trace__spec-v0.1.0__trace-record.schema.json").read_text())
FIRST = "def area(w, h):\n    return w * h\n"
SECOND = "def area(w, h):\n    return w * h\n\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n"


def git(repo: pathlib.Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def resume_claude(
    claude: pathlib.Path, first: AgentRun, script: list[ToolCall], prompt: str
) -> AgentRun:
    """``claude -p PROMPT --resume SESSION`` in the first run's project and homes."""
    root = first.root
    home, journal_home, proj = root / "home", root / "journal", root / "proj"
    with MockModel("true", script=script) as mock:
        env = harness.claude_env(home, mock)
        argv = [
            str(claude),
            "-p",
            prompt,
            "--resume",
            first.session_id(),
            "--output-format",
            "stream-json",
            "--verbose",
            "--dangerously-skip-permissions",
        ]
        code, out, err, seconds, pgid = harness._drive(argv, proj, env, mock, kill=False)
        harness._settle(journal_home, None, pgid)
        requests = list(mock.requests)
    return AgentRun(
        "claude-code", first.version, root, journal_home, code, out, err, seconds, requests
    )


@pytest.fixture(scope="module")
def resumed(tmp_path_factory: pytest.TempPathFactory, claude_bin: pathlib.Path) -> AgentRun:
    root = tmp_path_factory.mktemp("claude-trace")
    path = str(root / "proj" / "geometry.py")
    write = ToolCall("Write", {"file_path": path, "content": FIRST})
    first = harness.run_claude(
        claude_bin, npm_cache.CLAUDE_CODE.version, root, "true", script=[write]
    )
    assert first.returncode == 0, first.describe()
    edit = ToolCall(
        "Edit",
        {
            "file_path": path,
            "old_string": "    return w * h\n",
            "new_string": SECOND.split("\n", 1)[1],
        },
    )
    read = ToolCall("Read", {"file_path": path})
    # The resumed conversation already holds the first call's result: the mock's
    # script counts tool results over the whole history, so the resumed session gets
    # its second and third calls (Claude Code edits only a file it has read).
    second = resume_claude(claude_bin, first, [write, read, edit], "Now add a perimeter function.")
    assert second.returncode == 0, second.describe()
    proj = root / "proj"
    assert (proj / "geometry.py").read_text() == SECOND
    by_hand = SECOND.replace("return 2 * (w + h)", "return 2 * (w + h)  # checked") + "PI = 3\n"
    (proj / "geometry.py").write_text(by_hand)
    env = {**os.environ, "GIT_AUTHOR_NAME": "p", "GIT_AUTHOR_EMAIL": "p@example.com"}
    env |= {"GIT_COMMITTER_NAME": "p", "GIT_COMMITTER_EMAIL": "p@example.com"}
    for args in (["add", "geometry.py"], ["commit", "-qm", "geometry"]):
        subprocess.run(["git", "-C", str(proj), *args], env=env, check=True, timeout=60)
    return second


def test_links_show_the_resume(resumed: AgentRun) -> None:
    found: dict[str, Any] = resumed.journal("links", resumed.session_id(), "--json")
    assert found["runs"] == [f"claude-code/{resumed.session_id()}"]
    assert [(x["relation"], x["from_run_id"]) for x in found["links"]] == [
        ("resume", found["run_id"])
    ]


def test_trace_claims_the_sessions_lines_and_not_the_persons(resumed: AgentRun) -> None:
    proj = resumed.root / "proj"
    record = json.loads(
        harness.journal_text(resumed.journal_home, "trace", "HEAD", "--repo", str(proj))
    )
    jsonschema.validate(record, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert record["vcs"]["revision"] == git(proj, "rev-parse", "HEAD")
    files = {f["path"]: f for f in record["files"]}
    assert set(files) == {"geometry.py"}, record
    (conv,) = files["geometry.py"]["conversations"]
    session = resumed.session_id()
    assert [r["url"].rsplit("/", 1)[-1] for r in conv["related"]] == [session]
    assert conv["contributor"]["type"] == "ai"
    who: dict[int, str] = {}
    for span in conv["ranges"]:
        for n in range(span["start_line"], span["end_line"] + 1):
            who[n] = span.get("contributor", conv["contributor"])["type"]
    lines = (proj / "geometry.py").read_text().splitlines()
    mixed = lines.index("    return 2 * (w + h)  # checked") + 1
    mine = lines.index("PI = 3") + 1
    assert [n for n, kind in who.items() if kind == "mixed"] == [mixed]
    assert {n for n, kind in who.items() if kind == "ai"} == set(range(1, len(lines) + 1)) - {
        mixed,
        mine,
    }
