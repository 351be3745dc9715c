"""``journal trace`` in a real git repository, from edits that went through real hooks.

A session writes and edits a file through ``journal hook claude-code`` (the payload
shapes of the real Claude Code fixtures), is resumed by a second session whose
transcript chains onto the first, and a person changes one line before the commit.
The record validates against the Agent Trace v0.1.0 JSON Schema in shared/fixtures,
names the sessions, claims the lines the agents wrote, and not the person's.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import time
from typing import Any

import jsonschema
import pytest

from tests.conftest import FIXTURES, JOURNAL_BIN

SCHEMA_PATH = FIXTURES / "agent-trace__spec-v0.1.0__trace-record.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
MODEL = "claude-sonnet-4-5-20250929"


def git(repo: pathlib.Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "HOME": str(repo.parent),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def journal(home: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


class Session:
    """One Claude Code session sending hook events through the real hook program."""

    def __init__(self, home: str, repo: pathlib.Path, sid: str) -> None:
        self.home, self.repo, self.sid, self.n = home, repo, sid, 0

    def hook(self, name: str, **more: Any) -> None:
        body = {"session_id": self.sid, "cwd": str(self.repo), "hook_event_name": name, **more}
        done = journal(self.home, "hook", "claude-code", stdin=json.dumps(body))
        assert done.returncode == 0
        assert done.stdout == ""

    def line(self, uuid: str, parent: str | None) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        body = {
            "type": "assistant",
            "sessionId": self.sid,
            "uuid": uuid,
            "parentUuid": parent,
            "timestamp": stamp,
            "message": {"model": MODEL, "role": "assistant", "content": []},
        }
        done = journal(
            self.home, "append", "--source", "claude-code", "--kind", "transcript",
            stdin=json.dumps(body),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def write(self, name: str, content: str) -> None:
        path = str(self.repo / name)
        (self.repo / name).write_text(content)
        self.n += 1
        self.hook(
            "PostToolUse",
            tool_name="Write",
            tool_use_id=f"toolu_{self.sid}_{self.n}",
            tool_input={"file_path": path, "content": content},
            tool_response={
                "type": "create",
                "filePath": path,
                "content": content,
                "structuredPatch": [],
                "originalFile": None,
            },
        )

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.repo / name
        before = path.read_text()
        after = before.replace(old, new, 1)
        path.write_text(after)
        self.n += 1
        self.hook(
            "PostToolUse",
            tool_name="Edit",
            tool_use_id=f"toolu_{self.sid}_{self.n}",
            tool_input={"file_path": str(path), "old_string": old, "new_string": new},
            tool_response={
                "filePath": str(path),
                "oldString": old,
                "newString": new,
                "originalFile": before,
                "structuredPatch": [],
                "userModified": False,
                "replaceAll": False,
            },
        )


@pytest.fixture
def worked(tmp_path: pathlib.Path) -> tuple[str, pathlib.Path]:
    """A repo with a base commit; two sessions of one conversation edit app.py; a
    person changes one line; the result is committed."""
    home, repo = str(tmp_path / "home"), tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("base\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    first = Session(home, repo, "sess-one")
    first.hook("SessionStart", source="startup")
    first.line("u1", None)
    first.write("app.py", "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n")
    first.hook("Stop")
    first.hook("SessionEnd", reason="other")
    second = Session(home, repo, "sess-two")
    second.hook("SessionStart", source="resume")
    second.line("u2", "u1")
    second.edit("app.py", "print(add(1, 2))\n", "def sub(a, b):\n    return a - b\n")
    second.hook("SessionEnd", reason="other")
    app = repo / "app.py"
    app.write_text(app.read_text().replace("return a - b", "return a - b  # by hand"))
    (repo / "notes.txt").write_text("a person's file\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "work")
    return home, repo


def test_trace_attributes_the_agents_lines_and_not_the_persons(
    worked: tuple[str, pathlib.Path],
) -> None:
    home, repo = worked
    done = journal(home, "trace", "HEAD", "--repo", str(repo))
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    jsonschema.validate(record, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert record["version"] == "0.1.0"
    assert record["vcs"] == {"type": "git", "revision": git(repo, "rev-parse", "HEAD")}
    assert record["tool"]["name"] == "agent-journal"
    assert [f["path"] for f in record["files"]] == ["app.py"]
    (conv,) = record["files"][0]["conversations"]
    assert conv["url"].endswith("/conversations/claude-code/sess-one")
    assert [r["url"].rsplit("/", 2)[-2:] for r in conv["related"]] == [
        ["claude-code", "sess-one"],
        ["claude-code", "sess-two"],
    ]
    lines = (repo / "app.py").read_text().splitlines()
    by_line = {}
    for span in conv["ranges"]:
        for n in range(span["start_line"], span["end_line"] + 1):
            by_line[n] = span.get("contributor", conv["contributor"])["type"]
    assert lines[5] == "    return a - b  # by hand"
    assert by_line[6] == "mixed"
    assert all(by_line[n] == "ai" for n in (1, 2, 5))
    assert 3 not in by_line or lines[2] == ""


def test_trace_is_byte_identical_but_for_id_and_timestamp(
    worked: tuple[str, pathlib.Path],
) -> None:
    home, repo = worked
    outputs = []
    for _ in range(2):
        record = json.loads(journal(home, "trace", "--repo", str(repo)).stdout)
        record.pop("id")
        record.pop("timestamp")
        outputs.append(json.dumps(record))
    assert outputs[0] == outputs[1]


def test_trace_of_a_range_gives_one_record_per_commit(
    worked: tuple[str, pathlib.Path],
) -> None:
    home, repo = worked
    done = journal(home, "trace", "--repo", str(repo), "--range", "HEAD~1..HEAD")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["vcs"]["revision"] for r in records] == [git(repo, "rev-parse", "HEAD")]
    base = json.loads(journal(home, "trace", "HEAD~1", "--repo", str(repo)).stdout)
    assert base["files"] == []


def test_trace_errors_are_one_line(tmp_path: pathlib.Path) -> None:
    home = str(tmp_path / "home")
    done = journal(home, "trace", "--repo", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ")
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize("name", ["example", "minimal"])
def test_the_schema_takes_the_specs_examples_and_refuses_a_bad_version(name: str) -> None:
    """The validator the tests use is not vacuous: the spec's examples pass, and the
    same record with the reference implementation's ``"1.0"`` version does not."""
    fixtures = pathlib.Path(SCHEMA_PATH).parent
    example = json.loads(
        (fixtures / f"agent-trace__spec-v0.1.0__{name}_trace_record.json").read_text()
    )
    jsonschema.validate(example, SCHEMA, format_checker=jsonschema.FormatChecker())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**example, "version": "1.0"}, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**example, "id": "not a uuid"}, SCHEMA, format_checker=jsonschema.FormatChecker()
        )
