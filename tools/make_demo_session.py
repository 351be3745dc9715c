"""Regenerate ``journal/cli/demo-session.jsonl`` from the real payloads in shared/fixtures.

The fixtures are real Claude Code hook payloads from several sessions; this script
re-threads them into one plausible session (one session id, one transcript path) in
hook order, and writes compact JSON Lines, as Claude Code sends them.

After ``SubagentStop`` and each ``Stop`` it adds the transcript lines the hooks would
capture there (lines without ``hook_event_name``; the demo journals them as kind
``transcript``): the assistant responses with their usage, written the way Claude
Code writes them, streamed partial lines and one line per content block repeating
the response's usage, the subagent's own transcript, and the ``Task`` result whose
``usage`` summary must not be counted twice. The first response's usage is a
measured one: $0.0203313 on claude-sonnet-4-5, 1-hour cache writes included.

    python tools/make_demo_session.py ../shared/fixtures > journal/cli/demo-session.jsonl
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

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
CWD = "/Users/tomkwon/Documents/claude-agentic-framework"
MAIN = "claude-sonnet-4-5-20250929"
SUB = "claude-haiku-4-5-20251001"
AGENT = "a8c1e6f"
BASH, EDIT, WRITE = (
    "toolu_011yb45aRaG75D7qVjD6AcrQ",
    "toolu_01Mf5MkB2jBbtSFJ2xw2NFm5",
    "toolu_011gmNZELg5jR4tttKX8rr6U",
)


def _usage(inp: int, write_5m: int, write_1h: int, read: int, out: int) -> dict[str, Any]:
    return {
        "input_tokens": inp,
        "cache_creation_input_tokens": write_5m + write_1h,
        "cache_read_input_tokens": read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": write_5m,
            "ephemeral_1h_input_tokens": write_1h,
        },
        "output_tokens": out,
        "service_tier": "standard",
    }


class _Transcript:
    """Lines of one transcript file (the session's, or a subagent's)."""

    def __init__(self, agent: str | None = None) -> None:
        self.agent = agent
        self.n = 0
        self.parent: str | None = None

    def _base(self, kind: str, at: str) -> dict[str, Any]:
        self.n += 1
        uid = f"{'5' if self.agent else '4'}{self.n:07d}-demo-4000-8000-{SESSION[-12:]}"
        line: dict[str, Any] = {
            "parentUuid": self.parent,
            "isSidechain": self.agent is not None,
            "userType": "external",
            "cwd": CWD,
            "sessionId": SESSION,
            "version": "2.1.38",
            "gitBranch": "main",
        }
        if self.agent is not None:
            line["agentId"] = self.agent
        line |= {"type": kind, "uuid": uid, "timestamp": f"2025-11-14T{at}Z"}
        self.parent = uid
        return line

    def prompt(self, at: str, text: str) -> list[dict[str, Any]]:
        line = self._base("user", at)
        line["message"] = {"role": "user", "content": text}
        return [line]

    def response(
        self,
        at: str,
        model: str,
        message: str,
        blocks: list[dict[str, Any]],
        usage: dict[str, Any],
        partials: int = 0,
    ) -> list[dict[str, Any]]:
        """A response: ``partials`` streamed lines, then a line per content block."""
        request = "req_011CU" + message[-16:]
        out = []
        for i in range(partials + len(blocks)):
            partial = i < partials
            line = self._base("assistant", at)
            line["message"] = {
                "model": model,
                "id": message,
                "type": "message",
                "role": "assistant",
                "content": [blocks[0 if partial else i - partials]],
                "stop_reason": None if partial else "tool_use",
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1} if partial else usage,
            }
            line["requestId"] = request
            out.append(line)
        return out

    def results(
        self, at: str, calls: list[str], extra: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        out = []
        for call in calls:
            line = self._base("user", at)
            line["message"] = {
                "role": "user",
                "content": [{"tool_use_id": call, "type": "tool_result", "content": "ok"}],
            }
            line["toolUseResult"] = extra or {"stdout": "", "stderr": "", "interrupted": False}
            out.append(line)
        return out


def _tool(call: str, name: str, **args: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": call, "name": name, "input": args}


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def transcripts() -> dict[str, list[dict[str, Any]]]:
    """The transcript lines captured after each event: by ``subagent``, ``stop1``, ``stop2``."""
    main, sub = _Transcript(), _Transcript(AGENT)
    task = "toolu_01DemoTaskSubagent0001"
    sub_lines = sub.prompt("09:02:11.000", "List the hook scripts")
    sub_lines += sub.response(
        "09:02:13.000",
        SUB,
        "msg_01DemoSubagentResp00001",
        [_text("Listing them."), _tool("toolu_01DemoSubagentBash01", "Bash", command="ls")],
        _usage(4, 1200, 0, 9800, 96),
        partials=2,
    )
    sub_lines += sub.results("09:02:14.000", ["toolu_01DemoSubagentBash01"])
    sub_lines += sub.response(
        "09:02:16.000",
        SUB,
        "msg_01DemoSubagentResp00002",
        [_text("Three hook scripts.")],
        _usage(6, 310, 0, 11000, 140),
    )
    stop1 = main.prompt("09:00:02.000", "good")
    stop1 += main.response(
        "09:00:05.000",
        MAIN,
        "msg_01DemoMainResponse0001",
        [_text("Making it executable."), _tool(BASH, "Bash", command="chmod +x install.sh")],
        _usage(8, 0, 388, 36181, 475),  # measured: $0.0203313
        partials=5,
    )
    stop1 += main.results("09:00:07.000", [BASH])
    stop1 += main.response(
        "09:01:02.000",
        MAIN,
        "msg_01DemoMainResponse0002",
        [_tool(EDIT, "Edit", file_path=f"{CWD}/CLAUDE.md"), _tool(WRITE, "Write")],
        _usage(6, 1450, 0, 36569, 812),
        partials=3,
    )
    stop1 += main.results("09:01:04.000", [EDIT, WRITE])
    stop1 += main.response(
        "09:02:10.000",
        MAIN,
        "msg_01DemoMainResponse0003",
        [_tool(task, "Task", subagent_type="Bash", prompt="List the hook scripts")],
        _usage(4, 902, 0, 38019, 120),
    )
    summary = {"status": "completed", "agentId": AGENT, "totalTokens": 22556}
    summary["usage"] = _usage(6, 310, 0, 11000, 140)  # the subagent's: never counted again
    stop1 += main.results("09:02:17.000", [task], summary)
    stop1 += main.response(
        "09:02:20.000",
        MAIN,
        "msg_01DemoMainResponse0004",
        [_text("Done: install.sh is executable, CLAUDE.md updated.")],
        _usage(3, 640, 0, 38921, 260),
        partials=4,
    )
    stop2 = main.prompt("09:10:00.000", "thanks")
    stop2 += main.response(
        "09:10:03.000",
        MAIN,
        "msg_01DemoMainResponse0005",
        [_text("You're welcome.")],
        _usage(10, 2200, 0, 12000, 35),
    )
    return {"subagent": sub_lines, "stop1": stop1, "stop2": stop2}


def _write(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n")


def main(fixtures: str) -> None:
    """Print the demo session as JSON Lines on stdout."""
    root = pathlib.Path(fixtures)
    lines = transcripts()
    stops = 0
    for name in ORDER:
        payload = json.loads((root / f"claude-code__acf__{name}.json").read_text())
        payload.pop("logged_at", None)  # added by the logger, not by Claude Code
        old = payload["session_id"]
        payload["session_id"] = SESSION
        for field in ("transcript_path", "agent_transcript_path"):
            if field in payload:
                payload[field] = payload[field].replace(old, SESSION)
        _write(payload)
        if name == "SubagentStop":
            captured = lines["subagent"]
        elif name == "Stop":
            stops += 1
            captured = lines[f"stop{stops}"]
        else:
            captured = []
        for line in captured:
            _write(line)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/fixtures")
