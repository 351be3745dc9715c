"""Regenerate ``journal/cli/demo-session.jsonl`` from the real payloads in shared/fixtures.

The fixtures are real Claude Code hook payloads from several sessions; this script
re-threads them into one plausible session (one session id, one transcript path) in
hook order, and writes compact JSON Lines, as Claude Code sends them.

    python tools/make_demo_session.py ../shared/fixtures > journal/cli/demo-session.jsonl
"""

from __future__ import annotations

import json
import pathlib
import sys

SESSION = "94692e6b-0ceb-4981-bb88-c31d81e9e21e"
ORDER = [
    "SessionStart_startup",
    "UserPromptSubmit",
    "PreToolUse_Bash",
    "PostToolUse_Bash",
    "PostToolUse_Edit_structuredPatch",
    "PostToolUse_Write_create",
    "SubagentStart",
    "SubagentStop",
    "Notification_idle_prompt",
    "Stop",
    "PreCompact_auto",
    "Stop",
    "SessionEnd_prompt_input_exit",
]


def main(fixtures: str) -> None:
    """Print the demo session as JSON Lines on stdout."""
    root = pathlib.Path(fixtures)
    for name in ORDER:
        payload = json.loads((root / f"claude-code__acf__{name}.json").read_text())
        payload.pop("logged_at", None)  # added by the logger, not by Claude Code
        old = payload["session_id"]
        payload["session_id"] = SESSION
        for field in ("transcript_path", "agent_transcript_path"):
            if field in payload:
                payload[field] = payload[field].replace(old, SESSION)
        sys.stdout.write(json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/fixtures")
