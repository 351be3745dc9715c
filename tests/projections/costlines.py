"""Builders of the records that carry usage, in each agent's real shapes.

Claude Code transcript lines (one response as streamed partial lines and a line per
content block), Codex rollout lines (0.171's ``token_usage_record`` + ``token_count``,
and older rollouts with ``token_count`` only), OpenCode bus events (assistant
messages, step-finish and tool parts), Gemini ``AfterModel`` chunks and Cursor hooks.
Shapes follow ``tests/projections/sessions`` (recorded from the real agents) and
``/work/shared/reference/hook-sources.md``.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import msgspec

from journal.store import LmdbJournal
from projections.costreport import Report, report
from projections.costs import CostsView
from projections.engine import Views
from projections.pricing import FIELDS, PriceFile

__all__ = [
    "Log",
    "claude_response",
    "claude_usage",
    "codex_rollout_response",
    "codex_token_count",
    "gemini_chunk",
    "opencode_message",
    "opencode_part",
    "replay",
    "tokens",
]

Payload = dict[str, Any]
T0 = 1_780_000_000_000_000_000
#: Real sessions recorded from the agents (see the README there).
SESSIONS = pathlib.Path(__file__).with_name("costs_sessions")


def tokens(row: dict[str, Any]) -> tuple[int, ...]:
    """A report row's six token fields, in :data:`projections.pricing.FIELDS` order."""
    return tuple(row[f] for f in FIELDS)


def claude_usage(
    inp: int, out: int, write_5m: int = 0, write_1h: int = 0, read: int = 0, split: bool = True
) -> Payload:
    """``message.usage`` as Claude Code writes it (``cache_creation`` when ``split``)."""
    usage: Payload = {
        "input_tokens": inp,
        "cache_creation_input_tokens": write_5m + write_1h,
        "cache_read_input_tokens": read,
        "output_tokens": out,
        "service_tier": "standard",
    }
    if split:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": write_5m,
            "ephemeral_1h_input_tokens": write_1h,
        }
    return usage


def claude_response(
    session: str,
    message_id: str,
    usage: Payload,
    *,
    model: str = "claude-sonnet-4-5-20250929",
    request_id: str | None = "req_1",
    tools: tuple[str, ...] = (),
    partials: int = 0,
    agent: str | None = None,
    at: str = "2025-11-01T10:00:00.000Z",
    cwd: str = "/w/proj",
    sidechain: bool | None = None,
) -> list[Payload]:
    """One API response's transcript lines: ``partials`` streamed lines (output 1),
    then a line per content block (a text block, then a ``tool_use`` per tool id)."""
    blocks: list[Payload] = [{"type": "text", "text": "ok"}]
    blocks += [{"type": "tool_use", "id": t, "name": "Bash", "input": {}} for t in tools]
    lines = []
    for i in range(partials + len(blocks)):
        partial = i < partials
        line: Payload = {
            "parentUuid": None,
            "isSidechain": agent is not None if sidechain is None else sidechain,
            "cwd": cwd,
            "sessionId": session,
            "version": "2.1.332",
            "type": "assistant",
            "uuid": f"{message_id}-{i}",
            "timestamp": at,
            "message": {
                "model": model,
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "content": [blocks[0 if partial else i - partials]],
                "stop_reason": None if partial else "end_turn",
                "usage": {**usage, "output_tokens": 1} if partial else usage,
            },
        }
        if request_id is not None:
            line["requestId"] = request_id
        if agent is not None:
            line["agentId"] = agent
        lines.append(line)
    return lines


def codex_usage(inp: int, cached: int, out: int, reasoning: int) -> Payload:
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "cache_write_input_tokens": 0,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }


def codex_rollout_response(
    thread: str, response_id: str, usage: Payload, at: str = "2026-12-01T20:14:24.223Z"
) -> Payload:
    """Codex 0.171's ``token_usage_record`` line: one response, named, with its thread."""
    return {
        "timestamp": at,
        "type": "token_usage_record",
        "payload": {
            "thread_id": thread,
            "session_id": thread,
            "response_id": response_id,
            "usage": usage,
        },
    }


def codex_token_count(
    last: Payload | None, total: Payload | None, at: str = "2025-10-29T01:00:00.000Z"
) -> Payload:
    """An ``event_msg`` ``token_count`` line (``info`` null when both are None)."""
    info = None
    if last is not None or total is not None:
        info = {"total_token_usage": total, "last_token_usage": last}
    return {"timestamp": at, "type": "event_msg", "payload": {"type": "token_count", "info": info}}


def opencode_message(
    session: str,
    message_id: str,
    *,
    tokens: Payload,
    cost: float,
    model: str = "claude-sonnet-4-5",
    provider: str = "anthropic",
    created_ms: int = 1_761_991_200_000,
) -> Payload:
    info = {
        "id": message_id,
        "sessionID": session,
        "role": "assistant",
        "modelID": model,
        "providerID": provider,
        "cost": cost,
        "tokens": tokens,
        "time": {"created": created_ms},
        "path": {"cwd": "/w/oc", "root": "/w/oc"},
    }
    return {"type": "message.updated", "properties": {"sessionID": session, "info": info}}


def opencode_part(session: str, message_id: str, part: Payload) -> Payload:
    body = {"sessionID": session, "messageID": message_id, **part}
    return {"type": "message.part.updated", "properties": {"sessionID": session, "part": body}}


def gemini_chunk(session: str, model: str, prompt: int, candidates: int, thoughts: int) -> Payload:
    return {
        "session_id": session,
        "hook_event_name": "AfterModel",
        "timestamp": "2025-11-01T12:00:00.000Z",
        "cwd": "/w/gem",
        "llm_request": {"model": model, "contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "llm_response": {
            "candidates": [],
            "usageMetadata": {
                "promptTokenCount": prompt,
                "candidatesTokenCount": candidates,
                "thoughtsTokenCount": thoughts,
                "totalTokenCount": prompt + candidates + thoughts,
            },
        },
    }


class Log:
    """A real journal that records payloads at chosen times and reports the costs view."""

    def __init__(self, journal: LmdbJournal) -> None:
        self.journal = journal
        self.now = T0

    def add(
        self, source: str, payload: Payload, *, kind: str | None = None, same_time: bool = False
    ) -> Log:
        """Append one record, a second after the last (at the same time: one capture)."""
        if not same_time:
            self.now += 1_000_000_000
        data = msgspec.json.encode(payload)
        self.journal.append(data, source=source, kind=kind, received_at=self.now)
        return self

    def lines(self, source: str, lines: list[Payload]) -> Log:
        """Transcript lines captured together (one chunk: one ``received_at``)."""
        self.now += 1_000_000_000
        for line in lines:
            self.add(source, line, kind="transcript", same_time=True)
        return self

    def report(self, by: str = "day", **options: Any) -> Report:
        with Views(self.journal, [CostsView()]) as views:
            views.catch_up()
            with views.reading("costs") as state:
                options.setdefault("prices", PriceFile(None, {}))
                return report(state, by=by, **options)

    def rows(self, by: str = "day", **options: Any) -> dict[str, dict[str, Any]]:
        return {row["key"]: row for row in self.report(by, **options).to_dict()["rows"]}

    def totals(self, **options: Any) -> dict[str, Any]:
        totals: dict[str, Any] = self.report(**options).to_dict()["totals"]
        return totals


def replay(log: Log, name: str) -> None:
    """Append a recorded real session (``tests/projections/costs_sessions``) at its times."""
    for line in (SESSIONS / f"{name}.jsonl").read_text().splitlines():
        rec = json.loads(line)
        log.now = rec["received_at"]
        log.add(rec["source"], rec["payload"], kind=rec["kind"], same_time=True)
