"""Payload builders for the changesets tests: each agent's edit records, as they send them."""

from __future__ import annotations

import json
import pathlib
import subprocess
from typing import Any

from journal.store import LmdbJournal

ROOT = "/work/repo"
SID = "sess-1"


def claude(tool: str, response: dict[str, Any], call: str, **extra: Any) -> tuple[str, str, Any]:
    """A Claude Code PostToolUse of an edit tool."""
    payload = {
        "session_id": SID,
        "cwd": ROOT,
        "hook_event_name": "PostToolUse",
        "tool_name": tool,
        "tool_input": {"file_path": response.get("filePath")},
        "tool_response": response,
        "tool_use_id": call,
        **extra,
    }
    return "claude-code", "PostToolUse", payload


def write(path: str, content: str, call: str, original: str | None = None) -> tuple[str, str, Any]:
    """Claude Code ``Write``: a creation (``original`` None) or an overwrite."""
    kind = "create" if original is None else "update"
    response: dict[str, Any] = {
        "type": kind,
        "filePath": path,
        "content": content,
        "structuredPatch": [],
        "originalFile": original,
    }
    return claude("Write", response, call)


def edit(
    path: str, old: str, new: str, call: str, original: str | None, *, every: bool = False
) -> tuple[str, str, Any]:
    """Claude Code ``Edit``; ``original`` None: a version that sends no ``originalFile``."""
    response: dict[str, Any] = {
        "filePath": path,
        "oldString": old,
        "newString": new,
        "structuredPatch": [],
        "userModified": False,
        "replaceAll": every,
    }
    if original is not None:
        response["originalFile"] = original
    return claude("Edit", response, call)


def codex_pre(patch: str, call: str, sid: str = SID) -> tuple[str, str, Any]:
    return (
        "codex",
        "PreToolUse",
        {
            "session_id": sid,
            "cwd": ROOT,
            "hook_event_name": "PreToolUse",
            "tool_name": "apply_patch",
            "tool_input": {"command": patch},
            "tool_use_id": call,
        },
    )


def codex_post(patch: str, call: str, output: str, sid: str = SID) -> tuple[str, str, Any]:
    source, _kind, payload = codex_pre(patch, call, sid)
    payload = {**payload, "hook_event_name": "PostToolUse", "tool_response": output}
    return source, "PostToolUse", payload


SUCCESS = "Exit code: 0\nWall time: 0 seconds\nOutput:\nSuccess. Updated the following files:\n"


def codex_item(call: str, changes: dict[str, Any], status: str, sid: str = SID) -> Any:
    """A Codex rollout ``item_completed`` line of a ``FileChange``."""
    return (
        "codex",
        "transcript",
        {
            "timestamp": "2026-12-02T00:57:14.890Z",
            "type": "event_msg",
            "payload": {
                "type": "item_completed",
                "thread_id": sid,
                "item": {"type": "FileChange", "id": call, "changes": changes, "status": status},
            },
        },
    )


def retraction(run_id: str, path: str | None = None) -> tuple[str, str, Any]:
    return "journal", "changes.retract", {"run_id": run_id, "path": path}


def append_all(journal: LmdbJournal, events: list[tuple[str, str, Any]]) -> None:
    for source, kind, payload in events:
        journal.append(json.dumps(payload).encode(), source=source, kind=kind)


def git(
    repo: pathlib.Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git in ``repo`` (no user config needed)."""
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def applies(repo: pathlib.Path, files: dict[str, str], patch: str) -> dict[str, str]:
    """Write ``files`` into a fresh git repo, ``git apply`` ``patch``; return the files after."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q")
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
    check = git(repo, "apply", "--check", "-", stdin=patch)
    assert check.returncode == 0, check.stderr + patch
    done = git(repo, "apply", "-", stdin=patch)
    assert done.returncode == 0, done.stderr
    return {
        str(p.relative_to(repo)): p.read_text()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }
