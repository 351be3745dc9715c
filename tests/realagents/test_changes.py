"""``journal diff`` of real agent sessions applies with ``git apply`` and undoes with ``--reverse``.

In a real git repository (one commit before the session), the real Claude Code and
the real Codex each create a file, edit it (and a file of the first commit) and
commit, scripted by the mock model: Claude Code with ``Write``, ``Edit`` and
``Bash``, Codex with two ``apply_patch`` calls and its shell. The journal's diff of
the session must ``git apply --check`` on the commit before, give exactly the
committed files, and ``--reverse`` must apply on the commit after.
"""

from __future__ import annotations

import pathlib
import subprocess

import pytest

from tests.realagents import harness, npm_cache
from tests.realagents.harness import AgentRun, ToolCall

pytestmark = pytest.mark.slow

COMMIT = "git add -A && git commit -qm 'agent work'"
README = "A scratch project for an agent-journal test.\n"  # what harness._git_project writes


def git(
    repo: pathlib.Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def first_commit(proj: pathlib.Path) -> None:
    """Commit the project as the session finds it (the agent commits with this identity)."""
    git(proj, "config", "user.email", "agent@example.com")
    git(proj, "config", "user.name", "Agent")
    git(proj, "add", "-A")
    done = git(proj, "commit", "-qm", "before the session")
    assert done.returncode == 0, done.stderr


def check_diff(run: AgentRun, tmp: pathlib.Path) -> None:
    """The session's diff applies on HEAD~1 and gives HEAD; reversed, on HEAD it gives HEAD~1."""
    assert run.returncode == 0, run.describe()
    proj = run.root / "proj"
    log = git(proj, "log", "--format=%s").stdout.split("\n")
    assert log[:2] == ["agent work", "before the session"], run.describe()
    session = run.session_id()
    patch = harness.journal_text(run.journal_home, "diff", session)
    undo = harness.journal_text(run.journal_home, "diff", session, "--reverse")
    assert "#" not in patch.split("diff --git", 1)[0], patch
    before, after = (git(proj, "rev-parse", ref).stdout.strip() for ref in ("HEAD~1", "HEAD"))
    for name, start, patch_text, target in (
        ("forward", before, patch, after),
        ("reverse", after, undo, before),
    ):
        tree = tmp / name
        assert git(proj, "worktree", "add", "-q", "--detach", str(tree), start).returncode == 0
        check = git(tree, "apply", "--check", "-", stdin=patch_text)
        assert check.returncode == 0, f"{name}: {check.stderr}\n{patch_text}"
        assert git(tree, "apply", "-", stdin=patch_text).returncode == 0
        git(tree, "add", "-A")
        same = git(tree, "diff", "--cached", "--stat", target)
        assert same.returncode == 0
        assert same.stdout == "", f"{name}: differs from {target}:\n{same.stdout}\n{patch_text}"


@pytest.fixture(scope="module")
def claude_session(tmp_path_factory: pytest.TempPathFactory, claude_bin: pathlib.Path) -> AgentRun:
    """Claude Code: Write a new file, Edit it, Edit README.md, commit with Bash."""
    root = tmp_path_factory.mktemp("claude-changes")
    proj = root / "proj"
    new = str(proj / "src" / "hello.py")
    script = [
        ToolCall("Write", {"file_path": new, "content": "def hello():\n    return 1\n"}),
        ToolCall("Edit", {"file_path": new, "old_string": "return 1", "new_string": "return 2"}),
        ToolCall(
            "Edit",
            {"file_path": str(proj / "README.md"), "old_string": "scratch", "new_string": "tiny"},
        ),
        ToolCall("Bash", {"command": COMMIT, "description": "Commit the work"}),
    ]
    return harness.run_claude(
        claude_bin, npm_cache.CLAUDE_CODE.version, root, COMMIT, script=script, setup=first_commit
    )


@pytest.fixture(scope="module")
def codex_session(tmp_path_factory: pytest.TempPathFactory, codex_bin: pathlib.Path) -> AgentRun:
    """Codex: apply_patch adds a file, apply_patch updates it, the shell commits.

    (A Codex patch never carries the content of a file it did not create, so an
    existing file's first change cannot be diffed: see test_changesets.py.)"""
    root = tmp_path_factory.mktemp("codex-changes")
    add = (
        "*** Begin Patch\n*** Add File: src/hello.py\n+def hello():\n+    return 1\n*** End Patch\n"
    )
    update = (
        "*** Begin Patch\n*** Update File: src/hello.py\n@@\n def hello():\n-    return 1\n"
        "+    return 2\n+\n+\n+print(hello())\n*** End Patch\n"
    )
    script = [
        ToolCall("apply_patch", add),
        ToolCall("apply_patch", update),
        ToolCall("shell", COMMIT),
    ]
    return harness.run_codex(
        codex_bin, npm_cache.CODEX.version, root, COMMIT, script=script, setup=first_commit
    )


def test_claude_code_session_diff_applies_and_reverses(
    claude_session: AgentRun, tmp_path: pathlib.Path
) -> None:
    """Claude Code's Write + Edits: the diff reproduces the agent's commit, and undoes it."""
    check_diff(claude_session, tmp_path)


def test_claude_code_session_changes(claude_session: AgentRun) -> None:
    """``changes --json``: three changes in order, paths relative to the repository."""
    items = claude_session.journal("changes", claude_session.session_id(), "--json")
    assert [(c["path"], c["operation"], c["tool"]) for c in items] == [
        ("src/hello.py", "create", "Write"),
        ("src/hello.py", "modify", "Edit"),
        ("README.md", "modify", "Edit"),
    ]
    assert all(c["content_known"] and not c["retracted"] for c in items)
    steps = {
        s["tool_use_id"]: s["step_id"]
        for s in claude_session.journal("steps", claude_session.session_id(), "--json")
    }
    assert [c["step_id"] for c in items] == [steps[c["tool_use_id"]] for c in items]


def test_codex_session_diff_applies_and_reverses(
    codex_session: AgentRun, tmp_path: pathlib.Path
) -> None:
    """Codex's apply_patch calls: the diff reproduces the agent's commit, and undoes it."""
    check_diff(codex_session, tmp_path)


def test_codex_session_changes(codex_session: AgentRun) -> None:
    """``changes --json``: the add and the update, paired with the apply_patch steps."""
    items = codex_session.journal("changes", codex_session.session_id(), "--json")
    assert [(c["path"], c["operation"], c["tool"]) for c in items] == [
        ("src/hello.py", "create", "apply_patch"),
        ("src/hello.py", "modify", "apply_patch"),
    ]
    steps = codex_session.journal("steps", codex_session.session_id(), "--json")
    patches = [s["step_id"] for s in steps if s["tool_name"] == "apply_patch"]
    assert [c["step_id"] for c in items] == patches


def test_retract_leaves_the_file_out_of_the_diff(claude_session: AgentRun) -> None:
    """``retract --path`` (after the tests above): README.md leaves the diff, and
    ``changes`` marks it retracted."""
    home, session = claude_session.journal_home, claude_session.session_id()
    done = claude_session.journal("retract", session, "--path", "README.md", "--json")
    assert done["changes"] == 1
    patch = harness.journal_text(home, "diff", session)
    assert "README.md" not in patch
    assert "b/src/hello.py" in patch
    items = claude_session.journal("changes", session, "--json")
    assert [(c["path"], c["retracted"]) for c in items] == [
        ("src/hello.py", False),
        ("src/hello.py", False),
        ("README.md", True),
    ]
