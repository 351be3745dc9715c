"""``journal changes``, ``diff`` and ``retract`` through the installed CLI (real subprocesses)."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from journal.store import LmdbJournal
from tests.journal.cli.test_views import ok, run
from tests.projections.changelogs import ROOT, SID, append_all, applies, edit, write

CHANGE_FIELDS = {
    "change_id",
    "run_id",
    "step_id",
    "path",
    "operation",
    "before_digest",
    "after_digest",
    "additions",
    "deletions",
    "retracted",
}


@pytest.fixture
def built(home: str) -> str:
    """A home with one Claude Code session: a file created and edited, another edited."""
    with LmdbJournal(home) as journal:
        append_all(
            journal,
            [
                write(f"{ROOT}/new.py", "x = 1\n", "t1"),
                edit(f"{ROOT}/new.py", "1", "2", "t2", "x = 1\n"),
                edit(f"{ROOT}/old.txt", "b", "c", "t3", "a\nb\n"),
            ],
        )
    return home


def test_changes_json_has_the_design_fields_in_order(built: str) -> None:
    """``changes --json``: one item per change with the DESIGN §5 fields, in order."""
    items: list[dict[str, Any]] = json.loads(ok(built, "changes", SID[:4], "--json"))
    assert all(set(item) >= CHANGE_FIELDS for item in items)
    assert [(i["path"], i["operation"], i["retracted"]) for i in items] == [
        ("new.py", "create", False),
        ("new.py", "modify", False),
        ("old.txt", "modify", False),
    ]
    assert items[0]["before_digest"] is None
    assert items[1]["before_digest"] == items[0]["after_digest"]


def test_changes_table_and_empty_run(built: str, home: str) -> None:
    """The table names each change; a run without changes says so."""
    text = ok(built, "changes", SID)
    assert text.splitlines()[0].split() == ["#", "OP", "LINES", "TOOL", "SEQ", "NOTE", "PATH"]
    assert "create  +1 -0  Write" in text
    with LmdbJournal(home) as journal:
        journal.append(b'{"session_id": "other", "hook_event_name": "Stop"}', source="claude-code")
    assert ok(home, "changes", "other") == "no changes\n"


def test_diff_applies_reverses_and_filters_by_path(built: str, tmp_path: pathlib.Path) -> None:
    """``diff`` applies on the state before; ``--reverse`` undoes; ``--path`` keeps one file."""
    patch = ok(built, "diff", SID)
    assert applies(tmp_path / "a", {"old.txt": "a\nb\n"}, patch) == {
        "new.py": "x = 2\n",
        "old.txt": "a\nc\n",
    }
    undo = ok(built, "diff", SID, "--reverse")
    assert applies(tmp_path / "b", {"new.py": "x = 2\n", "old.txt": "a\nc\n"}, undo) == {
        "old.txt": "a\nb\n"
    }
    only = ok(built, "diff", SID, "--path", "old.txt")
    assert only.startswith("diff --git a/old.txt b/old.txt\n")
    assert "new.py" not in only


def test_retract_appends_a_record_and_diff_leaves_the_change_out(built: str) -> None:
    """``retract --path`` appends one record; ``changes`` marks, ``diff`` omits the file."""
    head = len(ok(built, "log").splitlines())
    done = json.loads(ok(built, "retract", SID, "--path", "old.txt", "--json"))
    assert done == {
        "seq": head + 1,
        "run_id": f"claude-code/{SID}",
        "path": f"{ROOT}/old.txt",
        "changes": 1,
    }
    assert [i["retracted"] for i in json.loads(ok(built, "changes", SID, "--json"))] == [
        False,
        False,
        True,
    ]
    assert "old.txt" not in ok(built, "diff", SID)
    assert "retracted 2 changes of" in ok(built, "retract", SID)
    assert ok(built, "diff", SID) == ""


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (("diff", "nope"), "Error: no run matches 'nope'", 1),
        (("changes", "nope", "--json"), "Error: no run matches 'nope'", 1),
        (("diff", SID, "--path", "x.py"), "changed no file 'x.py'", 1),
        (("retract", SID, "--path", "x.py"), "has no change to 'x.py' left to retract", 1),
        (("diff",), "Missing argument 'RUN'", 2),
    ],
    ids=[
        "diff-unknown-run",
        "changes-unknown-run",
        "diff-unknown-path",
        "retract-unknown-path",
        "usage",
    ],
)
def test_errors_are_one_line_with_their_exit_code(
    built: str, args: tuple[str, ...], message: str, code: int
) -> None:
    """Unknown runs and paths exit 1 with one line on stderr; usage errors exit 2."""
    done = run(built, *args)
    assert done.returncode == code
    assert message in done.stderr
    if code == 1:
        assert len(done.stderr.splitlines()) == 1


def test_demo_shows_the_sessions_changes_and_diff(tmp_path: pathlib.Path) -> None:
    """journal demo prints the bundled session's changes and a diff of its Edit and Write."""
    out = ok(str(tmp_path / "demo"), "demo")
    assert "$ journal changes claude-code/94692e6b" in out
    assert "$ journal diff claude-code/94692e6b" in out
    assert "diff --git a/CLAUDE.md b/CLAUDE.md" in out
    assert "+++ b/global-hooks/framework/validators/run_tests.py" in out
