"""The changesets view and its queries, per agent payload shape, on a real LMDB journal.

Each test appends one agent's edit records the way that agent sends them (shapes
measured with the real agents, see tests/projections/changelogs.py), then asks
``run_changes`` / ``run_diff`` / ``retract``; diffs are checked with the real
``git apply`` in a real repository.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any

import pytest

from journal.errors import NotFoundError
from journal.store import LmdbJournal
from projections.changequeries import changes_summary, retract, run_changes, run_diff
from tests.conftest import FIXTURES
from tests.projections.changelogs import (
    ROOT,
    SID,
    SUCCESS,
    append_all,
    applies,
    codex_item,
    codex_post,
    codex_pre,
    edit,
    retraction,
    write,
)

RUN = f"claude-code/{SID}"
CODEX = f"codex/{SID}"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def journal(tmp_path: pathlib.Path) -> Any:
    with LmdbJournal(str(tmp_path / "home")) as found:
        yield found


def test_claude_edit_fixture_is_a_modify_with_both_digests(journal: LmdbJournal) -> None:
    """The real Claude Code Edit payload: one modify, digests of originalFile and its result."""
    event = json.loads(
        (FIXTURES / "claude-code__acf__PostToolUse_Edit_structuredPatch.json").read_text()
    )
    journal.append(json.dumps(event).encode(), source="claude-code")
    (change,) = run_changes(journal, event["session_id"])
    response = event["tool_response"]
    after = response["originalFile"].replace(response["oldString"], response["newString"], 1)
    assert change["operation"] == "modify"
    assert change["path"] == "CLAUDE.md"
    assert change["before_digest"] == sha(response["originalFile"])
    assert change["after_digest"] == sha(after)
    assert (change["additions"], change["deletions"]) == (1, 0)
    assert change["step_id"] == f"claude-code/{event['session_id']}#{event['tool_use_id']}"
    assert change["retracted"] is False


def test_write_then_edits_compose_into_one_file_diff_git_applies(
    journal: LmdbJournal, tmp_path: pathlib.Path
) -> None:
    """Create, two edits, and an overwrite of another file: one net diff per file, in
    order of first change, that git apply takes on the state before the run."""
    new = f"{ROOT}/src/app.py"
    old = f"{ROOT}/README.md"
    readme = "# Project\n\nText.\n"
    v1 = "def main():\n    return 1\n"
    v2 = v1.replace("return 1", "return 2")
    v3 = v2 + "\n\nmain()\n"
    append_all(
        journal,
        [
            write(new, v1, "t1"),
            edit(new, "return 1", "return 2", "t2", v1),
            write(old, readme + "More.\n", "t3", original=readme),
            edit(new, "return 2\n", "return 2\n\n\nmain()\n", "t4", v2),
        ],
    )
    items = run_changes(journal, SID)
    assert [(c["path"], c["operation"]) for c in items] == [
        ("src/app.py", "create"),
        ("src/app.py", "modify"),
        ("README.md", "modify"),
        ("src/app.py", "modify"),
    ]
    patch = run_diff(journal, SID)
    assert patch.index("a/src/app.py") < patch.index("a/README.md")
    assert patch.count("diff --git a/src/app.py") == 1
    assert "new file mode 100644\n--- /dev/null\n+++ b/src/app.py" in patch
    after = applies(tmp_path / "repo", {"README.md": readme}, patch)
    assert after == {"README.md": readme + "More.\n", "src/app.py": v3}
    undo = run_diff(journal, SID, reverse=True)
    assert "deleted file mode 100644" in undo
    back = applies(tmp_path / "undo", {"README.md": readme + "More.\n", "src/app.py": v3}, undo)
    assert back == {"README.md": readme}
    assert changes_summary(journal, SID) == {
        "files": 2,
        "additions": 6,
        "deletions": 0,
        "changes": 4,
        "unknown": 0,
    }


def test_a_missing_final_newline_survives_the_diff(
    journal: LmdbJournal, tmp_path: pathlib.Path
) -> None:
    """Content without a final newline gets git's marker, and the patch still applies."""
    path = f"{ROOT}/a.txt"
    append_all(journal, [edit(path, "one", "uno", "t1", "one\ntwo")])
    patch = run_diff(journal, SID)
    assert "\\ No newline at end of file" in patch
    assert applies(tmp_path / "r", {"a.txt": "one\ntwo"}, patch) == {"a.txt": "uno\ntwo"}


def test_multiedit_and_replace_all(journal: LmdbJournal) -> None:
    """MultiEdit applies its edits in order; Edit with replaceAll replaces every one."""
    path = f"{ROOT}/m.py"
    multi = {
        "filePath": path,
        "edits": [
            {"old_string": "a", "new_string": "b", "replace_all": False},
            {"old_string": "b = 1", "new_string": "c = 1", "replace_all": False},
        ],
        "originalFileContents": "a = 1\nx = a\n",
        "structuredPatch": [],
    }
    from tests.projections.changelogs import claude

    append_all(
        journal,
        [claude("MultiEdit", multi, "t1"), edit(path, "a", "z", "t2", None, every=True)],
    )
    first, second = run_changes(journal, SID)
    assert first["after_digest"] == sha("c = 1\nx = a\n")
    assert second["before_digest"] == first["after_digest"]
    assert second["after_digest"] == sha("c = 1\nx = z\n")


def test_an_edit_without_original_is_named_not_diffed(journal: LmdbJournal) -> None:
    """Where the first content before is unknown the diff says so instead of a bad patch."""
    append_all(journal, [edit(f"{ROOT}/x.py", "a", "b", "t1", None)])
    (change,) = run_changes(journal, SID)
    assert change["before_digest"] is None
    assert change["after_digest"] is None
    assert change["content_known"] is False
    patch = run_diff(journal, SID)
    assert "diff --git" not in patch
    assert patch.startswith(
        "# x.py: not in this diff: its content before its first change is unknown"
    )


def test_failed_refused_and_repeated_edits_are_no_extra_changes(journal: LmdbJournal) -> None:
    """PostToolUseFailure and an error text response are no change; a repeat is one."""
    path = f"{ROOT}/f.py"
    source, _kind, ok = write(path, "x\n", "t1")
    failed = {**ok, "hook_event_name": "PostToolUseFailure", "tool_use_id": "t2"}
    refused = {**ok, "tool_use_id": "t3", "tool_response": "Permission to use Write denied"}
    append_all(
        journal,
        [
            (source, "PostToolUse", ok),
            (source, "PostToolUse", ok),
            (source, "PostToolUseFailure", failed),
            (source, "PostToolUse", refused),
        ],
    )
    assert [c["tool_use_id"] for c in run_changes(journal, SID)] == ["t1"]


def test_subagent_changes_are_included_and_marked(journal: LmdbJournal) -> None:
    """A subagent's edit is listed under its session, marked as a child run's."""
    source, kind, payload = write(f"{ROOT}/sub.py", "y\n", "t9")
    append_all(
        journal,
        [write(f"{ROOT}/main.py", "x\n", "t1"), (source, kind, {**payload, "agent_id": "ag1"})],
    )
    items = run_changes(journal, SID)
    assert [(c["path"], c["child"], c["run_id"]) for c in items] == [
        ("main.py", False, RUN),
        ("sub.py", True, f"{RUN}/ag1"),
    ]
    assert "b/sub.py" in run_diff(journal, SID)


PATCH_ADD = "*** Begin Patch\n*** Add File: hello.py\n+def hello():\n+    return 1\n*** End Patch\n"
PATCH_UPDATE = (
    "*** Begin Patch\n*** Update File: hello.py\n@@\n def hello():\n-    return 1\n"
    "+    return 2\n*** End Patch\n"
)


def test_codex_patches_count_once_they_applied(
    journal: LmdbJournal, tmp_path: pathlib.Path
) -> None:
    """Codex apply_patch: PreToolUse has the patch, PostToolUse (or the rollout) says it
    applied; an update is replayed on the content the add made; a patch that never
    applied (no PostToolUse, no completed item) is no change."""
    failed = "*** Begin Patch\n*** Update File: gone.py\n@@\n-x\n+y\n*** End Patch\n"
    append_all(
        journal,
        [
            codex_pre(PATCH_ADD, "c1"),
            codex_post(PATCH_ADD, "c1", SUCCESS + "A hello.py\n"),
            codex_pre(PATCH_UPDATE, "c2"),
            codex_pre(failed, "c3"),
            codex_item("c1", {f"{ROOT}/hello.py": {"type": "add", "content": "x"}}, "completed"),
            codex_item("c2", {}, "completed"),
        ],
    )
    items = run_changes(journal, CODEX)
    assert [(c["path"], c["operation"], c["tool_use_id"]) for c in items] == [
        ("hello.py", "create", "c1"),
        ("hello.py", "modify", "c2"),
    ]
    assert items[1]["after_digest"] == sha("def hello():\n    return 2\n")
    after = applies(tmp_path / "r", {}, run_diff(journal, CODEX))
    assert after == {"hello.py": "def hello():\n    return 2\n"}


def test_codex_failed_item_and_rollout_only_changes(journal: LmdbJournal) -> None:
    """A failed FileChange drops its patch; without a PreToolUse the item's own changes
    count: an add with its content, an update with hunks only (no content before)."""
    append_all(
        journal,
        [
            codex_pre(PATCH_ADD, "c1"),
            codex_item("c1", {}, "failed"),
            codex_item(
                "c2",
                {
                    f"{ROOT}/new.txt": {"type": "add", "content": "n\n"},
                    f"{ROOT}/old.txt": {
                        "type": "update",
                        "unified_diff": "@@ -1,2 +1,2 @@\n a\n-b\n+c\n",
                        "move_path": None,
                    },
                },
                "completed",
            ),
        ],
    )
    items = run_changes(journal, CODEX)
    assert [(c["path"], c["operation"], c["content_known"]) for c in items] == [
        ("new.txt", "create", True),
        ("old.txt", "modify", False),
    ]
    assert (items[1]["additions"], items[1]["deletions"]) == (1, 1)
    assert "-b\n+c\n" in str(items[1]["hunks"])
    patch = run_diff(journal, CODEX)
    assert patch.startswith("# old.txt: not in this diff")
    assert "+++ b/new.txt" in patch


def test_cursor_after_file_edit_keeps_its_edits(journal: LmdbJournal) -> None:
    """Cursor afterFileEdit carries no content: the change keeps its edits, relative to
    its workspace root, and the diff names it as unknown."""
    event = json.loads(
        (pathlib.Path(__file__).parents[1] / "fixtures" / "cursor__afterFileEdit.json").read_text()
    )
    journal.append(json.dumps(event).encode(), source="cursor")
    (change,) = run_changes(journal, event["conversation_id"])
    assert change["path"] == "app/util.py"
    assert change["operation"] == "modify"
    assert change["hunks"] == "<<< 'return a+b'\n>>> 'return a + b'\n"
    assert run_diff(journal, event["conversation_id"]).startswith("# app/util.py: not in this diff")


def test_gemini_write_file_and_replace(journal: LmdbJournal, tmp_path: pathlib.Path) -> None:
    """Gemini AfterTool write_file/replace: the file diff's contents; an error is no change."""

    def after_tool(tool: str, given: dict[str, Any], response: dict[str, Any]) -> Any:
        payload = {
            "session_id": SID,
            "cwd": ROOT,
            "hook_event_name": "AfterTool",
            "timestamp": "2026-11-20T09:15:09.402Z",
            "tool_name": tool,
            "tool_input": given,
            "tool_response": response,
        }
        return "gemini", "AfterTool", payload

    path = f"{ROOT}/g.txt"
    display = {"fileName": "g.txt", "originalContent": None, "newContent": "a\n", "fileDiff": ""}
    append_all(
        journal,
        [
            after_tool(
                "write_file",
                {"file_path": path, "content": "a\n"},
                {"llmContent": "ok", "returnDisplay": display},
            ),
            after_tool(
                "replace",
                {"file_path": path, "old_string": "a", "new_string": "b"},
                {
                    "llmContent": "ok",
                    "returnDisplay": {
                        "fileName": "g.txt",
                        "originalContent": "a\n",
                        "newContent": "b\n",
                    },
                },
            ),
            after_tool(
                "replace",
                {"file_path": path, "old_string": "b", "new_string": "c"},
                {"llmContent": "no", "error": {"message": "0 occurrences"}},
            ),
        ],
    )
    items = run_changes(journal, f"gemini/{SID}")
    assert [c["operation"] for c in items] == ["create", "modify"]
    assert applies(tmp_path / "r", {}, run_diff(journal, f"gemini/{SID}")) == {"g.txt": "b\n"}


def test_opencode_write_and_edit_parts(journal: LmdbJournal) -> None:
    """OpenCode tool parts count once completed, once per call id, with filediff contents."""

    def part(call: str, tool: str, status: str, given: dict[str, Any], meta: dict[str, Any]) -> Any:
        state = {"status": status, "input": given, "metadata": meta, "time": {"start": 1, "end": 2}}
        props = {
            "part": {
                "id": f"p{call}",
                "sessionID": "ses_1",
                "type": "tool",
                "callID": call,
                "tool": tool,
                "state": state,
            }
        }
        return (
            "opencode",
            "message.part.updated",
            {"type": "message.part.updated", "properties": props},
        )

    path = "/p/o.ts"
    append_all(
        journal,
        [
            part("k1", "write", "running", {"filePath": path, "content": "x\n"}, {}),
            part(
                "k1", "write", "completed", {"filePath": path, "content": "x\n"}, {"exists": False}
            ),
            part(
                "k1", "write", "completed", {"filePath": path, "content": "x\n"}, {"exists": False}
            ),
            part(
                "k2",
                "edit",
                "completed",
                {"filePath": path, "oldString": "x", "newString": "y"},
                {"filediff": {"file": path, "before": "x\n", "after": "y\n"}},
            ),
            part("k3", "edit", "error", {"filePath": path, "oldString": "q", "newString": "r"}, {}),
        ],
    )
    items = run_changes(journal, "ses_1")
    assert [(c["operation"], c["tool_use_id"]) for c in items] == [
        ("create", "k1"),
        ("modify", "k2"),
    ]
    assert items[1]["after_digest"] == sha("y\n")


def test_retract_marks_and_diff_leaves_out_only_earlier_changes(journal: LmdbJournal) -> None:
    """A retraction is a record: changes before it are marked retracted and leave the
    diff; a later change to the same file counts again."""
    a, b = f"{ROOT}/a.py", f"{ROOT}/b.py"
    append_all(journal, [write(a, "1\n", "t1"), write(b, "2\n", "t2")])
    done = retract(journal, SID, "a.py")
    assert (done.path, done.changes, done.run_id) == (a, 1, RUN)
    assert journal.get(done.seq).kind == "changes.retract"
    assert [c["retracted"] for c in run_changes(journal, SID)] == [True, False]
    assert "a.py" not in run_diff(journal, SID)
    with pytest.raises(NotFoundError, match=r"no change to 'a\.py' left"):
        retract(journal, SID, "a.py")
    append_all(journal, [edit(a, "1", "3", "t3", "1\n"), retraction(RUN)])
    assert [c["retracted"] for c in run_changes(journal, SID)] == [True, True, True]
    assert run_diff(journal, SID) == ""
    with pytest.raises(NotFoundError, match="changed no file 'nope'"):
        run_diff(journal, SID, path="nope")


def test_a_long_path_is_retracted_too(journal: LmdbJournal) -> None:
    """A path too long for a state key is still retracted (keyed by its digest)."""
    path = f"{ROOT}/{'d' * 300}/{'f' * 300}.txt"  # a key of it would pass LMDB's 511 bytes
    append_all(journal, [write(path, "x\n", "t1")])
    assert retract(journal, SID, path).changes == 1
    assert [c["retracted"] for c in run_changes(journal, SID)] == [True]
    assert run_diff(journal, SID) == ""


def test_codex_move_and_delete(journal: LmdbJournal, tmp_path: pathlib.Path) -> None:
    """A Codex patch that moves a file deletes the old path and creates the new one with
    the updated content; deleting a file of the first commit needs its content."""
    move = (
        "*** Begin Patch\n*** Update File: hello.py\n*** Move to: lib/hi.py\n@@\n"
        " def hello():\n-    return 1\n+    return 3\n*** End Patch\n"
    )
    drop = "*** Begin Patch\n*** Delete File: lib/hi.py\n*** End Patch\n"
    events = [codex_pre(PATCH_ADD, "c1"), codex_post(PATCH_ADD, "c1", SUCCESS)]
    events += [codex_pre(move, "c2"), codex_post(move, "c2", SUCCESS)]
    append_all(journal, events)
    items = run_changes(journal, CODEX)
    assert [(c["path"], c["operation"]) for c in items] == [
        ("hello.py", "create"),
        ("hello.py", "delete"),
        ("lib/hi.py", "create"),
    ]
    patch = run_diff(journal, CODEX)
    assert "hello.py b/hello.py" not in patch  # created and moved away: no net change
    assert applies(tmp_path / "r", {}, patch) == {"lib/hi.py": "def hello():\n    return 3\n"}
    append_all(journal, [codex_pre(drop, "c3"), codex_post(drop, "c3", SUCCESS)])
    assert run_changes(journal, CODEX)[-1]["operation"] == "delete"
    assert run_diff(journal, CODEX) == ""
