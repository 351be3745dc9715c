"""Hypothesis strategies for realistic logs of several agents' sessions.

A log is a list of :class:`LogEvent` (source, kind, payload bytes, received_at). Each
session is generated in its agent's own shapes (``/work/shared/reference/
hook-sources.md``): Claude Code with parallel subagents and transcript lines, Codex
with ``notify`` turns, Gemini (tools without ids), Cursor (generation ids, shell and
MCP pairs, subagents), OpenCode bus events (tool parts, permissions, child sessions).
Sessions are interleaved at random, then hook delivery faults are applied: lost
events, repeated deliveries and neighbours committed out of order. Unknown kinds,
junk fields, wrongly typed fields and payloads without a session id are mixed in.
Gaps between records are sometimes longer than the idle time, so every run status
occurs. Hook records carry one of a few agent processes (or none, as old records
do), so the agent facts change under the fold too. Transcript lines (Claude Code
``tool_use``/``tool_result`` and prompts, Codex rollout items) carry their own
timestamps, sometimes unparseable ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Self

import msgspec
from hypothesis import strategies as st

from journal import wire
from journal.records import Record
from projections.state import MemoryState
from projections.view import View

__all__ = ["BOOT", "T0", "LogBuilder", "LogEvent", "fold", "logs", "records_of", "session_logs"]

Draw = Callable[[st.SearchStrategy[Any]], Any]
Payload = dict[str, Any]
Raw = tuple[str, str, Payload]  # source, kind, payload


class LogEvent(msgspec.Struct, frozen=True):
    """One record-to-be: what a hook would append."""

    source: str
    kind: str
    payload: bytes
    received_at: int
    agent: tuple[int, int, bytes] | None = None


_MS = 1_000_000
_GAPS = st.sampled_from([1 * _MS, 250 * _MS, 5_000 * _MS, 45 * 60_000 * _MS])
_JUNK_VALUES = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.text(max_size=5),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["a", "model", "callID"]), st.integers(0, 3), max_size=2),
)


def _tool_calls(draw: Draw, prefix: str, count_max: int = 3) -> list[tuple[str, str | None, str]]:
    """(tool name, call id or None for a legacy payload, how it ends) per call."""
    calls = []
    for k in range(draw(st.integers(0, count_max))):
        name = draw(st.sampled_from(["Bash", "Read", "Edit"]))
        legacy = draw(st.integers(0, 9)) == 0
        end = draw(st.sampled_from(["ok", "ok", "ok", "fail", "deny", "none"]))
        calls.append((name, None if legacy else f"toolu_{prefix}{k}", end))
    return calls


def _merge(draw: Draw, streams: list[list[Raw]]) -> list[Raw]:
    """Interleave streams at random, keeping each stream's own order."""
    streams = [s for s in streams if s]
    total = sum(len(s) for s in streams)
    if len(streams) < 2:
        return [e for s in streams for e in s]
    picks = draw(st.lists(st.integers(0, len(streams) - 1), min_size=total, max_size=total))
    at = [0] * len(streams)
    out: list[Raw] = []
    for pick in picks:
        while at[pick] >= len(streams[pick]):
            pick = (pick + 1) % len(streams)
        out.append(streams[pick][at[pick]])
        at[pick] += 1
    return out


def _claude(draw: Draw, sid: str, source: str) -> list[Raw]:
    """A Claude Code (or, with ``source="codex"``, Codex) session."""
    codex = source == "codex"
    base: Payload = {"session_id": sid, "transcript_path": f"/t/{sid}.jsonl", "cwd": "/w/proj"}
    if codex:
        base["model"] = draw(st.sampled_from(["gpt-5", "gpt-5-codex"]))
    out: list[Raw] = []

    def hook(kind: str, **fields: Any) -> Raw:
        return (source, kind, {**base, "hook_event_name": kind, **fields})

    if draw(st.booleans()):
        start = draw(st.sampled_from(["startup", "resume", "clear", "compact"]))
        model = base["model"] if codex else "claude-sonnet-4-5-20250929"
        out.append(hook("SessionStart", source=start, model=model))
    for turn in range(draw(st.integers(1, 3))):
        ids: dict[str, Any] = {}
        if draw(st.booleans()):
            ids = {"turn_id": f"turn-{sid}-{turn}"} if codex else {"prompt_id": f"p-{turn}"}
        out.append(hook("UserPromptSubmit", prompt="go on", **ids))
        if not codex and draw(st.booleans()):
            prompt: Payload = {"type": "user", "sessionId": sid, "uuid": f"u-{sid}-{turn}"}
            prompt |= {"timestamp": draw(_STAMPS), "message": {"role": "user", "content": "go"}}
            if "prompt_id" in ids:
                prompt["promptId"] = ids["prompt_id"]
            out.append(("claude-code", "transcript", prompt))
        streams = [_claude_tools(draw, hook, f"{sid}{turn}", {}, sid)]
        if not codex:
            for a in range(draw(st.integers(0, 2))):
                agent = f"a{turn}{a}{draw(st.sampled_from(['f', 'e']))}"
                who = {"agent_id": agent, "agent_type": "Explore"}
                child = [hook("SubagentStart", **who)]
                child += _claude_tools(draw, hook, f"{sid}{agent}", who, sid)
                child.append(_line(sid, "claude-haiku-4-5", agent))
                path = f"/t/{sid}/subagents/agent-{agent}.jsonl"
                child.append(hook("SubagentStop", agent_transcript_path=path, **who))
                streams.append(child)
        out += _merge(draw, streams)
        if draw(st.integers(0, 5)) == 0:
            out.append(hook("StopFailure", error_type="rate_limit"))
        else:
            out.append(hook("Stop", stop_hook_active=False, **ids))
        if codex:
            notify = {"type": "agent-turn-complete", "thread-id": sid, "cwd": "/w/proj"}
            notify["turn-id"] = ids.get("turn_id", turn)
            out.append(("codex", "agent-turn-complete", notify))
            out += _rollout(draw, sid, ids.get("turn_id"), f"{sid}{turn}")
        else:
            out.append(_line(sid, "claude-sonnet-4-5-20250929", None))
    if draw(st.booleans()):
        out.append(hook("SessionEnd", reason=draw(st.sampled_from(["prompt_input_exit", "other"]))))
        if not codex:
            out.append(_line(sid, "claude-sonnet-4-5-20250929", None))
    return out


def _claude_tools(
    draw: Draw, hook: Callable[..., Raw], prefix: str, who: dict[str, Any], sid: str = "s"
) -> list[Raw]:
    out: list[Raw] = []
    batch = []
    for name, call, end in _tool_calls(draw, prefix):
        ids = {"tool_use_id": call} if call else {}
        args = {"tool_name": name, "tool_input": {"command": "ls"}, **ids, **who}
        out.append(hook("PreToolUse", **args))
        refused = end == "deny" and draw(st.booleans())
        if refused:  # -p cannot ask: PermissionRequest, then only PostToolBatch
            out.append(hook("PermissionRequest", tool_name=name, tool_input={}, **who))
        response: Any = "hello"
        if end == "ok":
            duration = draw(st.sampled_from([{}, {"duration_ms": 69}, {"duration_ms": "x"}]))
            out.append(hook("PostToolUse", tool_response={"stdout": ""}, **args, **duration))
        elif end == "fail":
            out.append(hook("PostToolUseFailure", error="exit 1", **args))
        elif end == "deny" and not refused:
            out.append(hook("PermissionDenied", reason="classifier", **args))
        elif refused:
            response = "touch in '/w' needs approval." if draw(st.booleans()) else "no"
        if call and end != "none":
            batch.append({"tool_name": name, "tool_use_id": call, "tool_response": response})
        if call and draw(st.integers(0, 2)) == 0:
            out += _tool_lines(draw, sid, who.get("agent_id"), name, call, end)
    if batch and draw(st.booleans()):
        out.append(hook("PostToolBatch", tool_calls=batch, **who))
    return out


_STAMPS = st.sampled_from(
    ["2026-05-28T10:00:01.250Z", "2026-05-28T10:00:03Z", "2026-05-28T11:59:59.999Z", "soon", None]
)


def _tool_lines(
    draw: Draw, sid: str, agent: str | None, name: str, call: str, end: str
) -> list[Raw]:
    """The transcript lines of one tool call: its tool_use, maybe its tool_result."""
    base: Payload = {"sessionId": sid, "isSidechain": agent is not None}
    if agent is not None:
        base["agentId"] = agent
    use = {"type": "tool_use", "id": call, "name": name, "input": {}}
    lines: list[Raw] = [
        (
            "claude-code",
            "transcript",
            {
                **base,
                "type": "assistant",
                "timestamp": draw(_STAMPS),
                "message": {"id": f"msg_{call}", "model": "claude-opus-5-5", "content": [use]},
            },
        )
    ]
    if end != "none":
        result: Payload = {"type": "tool_result", "tool_use_id": call, "content": "out"}
        result["is_error"] = end in ("fail", "deny")
        line: Payload = {**base, "type": "user", "timestamp": draw(_STAMPS)}
        line["message"] = {"role": "user", "content": [result]}
        if end == "deny":
            line["toolDenialKind"] = "user-rejected"
        lines.append(("claude-code", "transcript", line))
    return lines


def _rollout(draw: Draw, sid: str, turn: str | None, prefix: str) -> list[Raw]:
    """Codex rollout lines captured at Stop: items with the thread id, others without."""
    out: list[Raw] = []

    def line(kind: str, **payload: Any) -> Raw:
        return (
            "codex",
            "transcript",
            {"timestamp": draw(_STAMPS), "type": kind, "payload": payload},
        )

    if draw(st.booleans()):
        out.append(line("session_meta", id=sid, cwd="/w/proj"))
    if draw(st.booleans()):
        out.append(
            line(
                "event_msg",
                type="thread_settings_applied",
                thread_id=sid,
                thread_settings={"model": "gpt-5.5"},
            )
        )
    if draw(st.booleans()):
        user = {"type": "UserMessage", "id": f"um-{prefix}", "content": []}
        out.append(line("event_msg", type="item_completed", thread_id=sid, turn_id=turn, item=user))
    for k, (_name, call, end) in enumerate(_tool_calls(draw, prefix, 2)):
        status = {"ok": "completed", "fail": "failed", "deny": "declined"}.get(end, "in_progress")
        item: Payload = {"type": "CommandExecution", "id": call or f"c{k}", "status": status}
        item |= {"exit_code": 2 if end == "fail" else 0, "duration": {"secs": 0, "nanos": 5_000}}
        out.append(
            line(
                "event_msg",
                type="item_completed",
                thread_id=sid,
                item=item,
                started_at_ms=1_780_000_000_000,
                completed_at_ms=1_780_000_000_400,
            )
        )
    out.append(line("response_item", type="function_call", call_id="x", name="exec_command"))
    return out


def _line(sid: str, model: str, agent: str | None) -> Raw:
    line: Payload = {
        "type": "assistant",
        "sessionId": sid,
        "uuid": f"u-{sid}",
        "isSidechain": agent is not None,
        "message": {"id": "msg_1", "model": model, "usage": {"input_tokens": 3}},
    }
    if agent is not None:
        line["agentId"] = agent
    return ("claude-code", "transcript", line)


def _gemini(draw: Draw, sid: str) -> list[Raw]:
    out: list[Raw] = []
    stamp = iter(range(10_000))

    def hook(kind: str, **fields: Any) -> Raw:
        base = {"session_id": sid, "transcript_path": f"/g/{sid}.json", "cwd": "/w/gem"}
        at = f"2026-02-01T10:00:{next(stamp):05d}Z"
        return ("gemini", kind, {**base, "hook_event_name": kind, "timestamp": at, **fields})

    out.append(hook("SessionStart", source=draw(st.sampled_from(["startup", "resume"]))))
    for _turn in range(draw(st.integers(1, 2))):
        out.append(hook("BeforeAgent", prompt="fix it"))
        out.append(hook("BeforeModel", llm_request={"model": "gemini-2.5-pro", "messages": []}))
        for name, _call, end in _tool_calls(draw, sid):
            tool = "run_shell_command" if name == "Bash" else "read_file"
            out.append(hook("BeforeTool", tool_name=tool, tool_input={}))
            if end != "none":
                response: Payload = {"llmContent": "", "returnDisplay": ""}
                if end == "fail" and draw(st.booleans()):
                    response["llmContent"] = "Command: ls\nOutput: no\nExit Code: 2"
                elif end in ("fail", "deny"):
                    response["error"] = {"message": "boom"}
                out.append(hook("AfterTool", tool_name=tool, tool_response=response))
        out.append(hook("AfterAgent", prompt="fix it", prompt_response="done"))
    if draw(st.booleans()):
        out.append(hook("SessionEnd", reason="exit"))
    return out


def _cursor(draw: Draw, cid: str, parent: str | None) -> list[Raw]:
    out: list[Raw] = []
    state = {"generation": "gen-0"}

    def hook(kind: str, **fields: Any) -> Raw:
        base = {
            "conversation_id": cid,
            "generation_id": state["generation"],
            "model": "gpt-5",
            "cursor_version": "2.0.77",
            "workspace_roots": ["/w/cur"],
        }
        return ("cursor", kind, {**base, "hook_event_name": kind, **fields})

    out.append(hook("sessionStart", session_id=cid, composer_mode="agent"))
    if parent is not None:
        out.append(hook("subagentStart", parent_conversation_id=parent, subagent_id=cid))
    for turn in range(draw(st.integers(1, 2))):
        state["generation"] = f"gen-{cid}-{turn}"
        out.append(hook("beforeSubmitPrompt", prompt="hi", attachments=[]))
        for k, (_name, call, end) in enumerate(_tool_calls(draw, f"{cid}{turn}")):
            family = k % 3
            if family == 0:
                out.append(hook("beforeShellExecution", command="make", cwd="/w/cur"))
                if end != "none":
                    out.append(hook("afterShellExecution", command="make", output="", duration=12))
            elif family == 1:
                mcp = {"tool_name": "query", "tool_input": "{}"}
                out.append(hook("beforeMCPExecution", **mcp))
                if end != "none":
                    out.append(hook("afterMCPExecution", result_json="{}", duration=7, **mcp))
            else:
                ids = {"tool_name": "Read", **({"tool_use_id": call} if call else {})}
                out.append(hook("preToolUse", **ids))
                if end == "fail":
                    out.append(hook("postToolUseFailure", error="no such file", **ids))
                elif end != "none":
                    out.append(hook("postToolUse", **ids))
        status = draw(st.sampled_from(["completed", "completed", "aborted", "error"]))
        out.append(hook("stop", status=status, loop_count=0))
    if draw(st.booleans()):
        out.append(hook("sessionEnd", session_id=cid, reason="completed"))
    return out


def _opencode(draw: Draw, sid: str, parent: str | None) -> list[Raw]:
    out: list[Raw] = []

    def bus(kind: str, **props: Any) -> Raw:
        return ("opencode", kind, {"type": kind, "properties": props})

    info: Payload = {"id": sid, "directory": "/w/oc", "title": "t"}
    if parent is not None:
        info["parentID"] = parent
    out.append(bus("session.created", info=info))
    for turn in range(draw(st.integers(1, 2))):
        user: Payload = {"id": f"msg_u{sid}{turn}", "sessionID": sid, "role": "user"}
        user["model"] = {"providerID": "anthropic", "modelID": "claude-sonnet-4-5"}
        out.append(bus("message.updated", info=user))
        if draw(st.booleans()):
            out.append(bus("message.updated", sessionID=sid, info=user))  # an update, not a prompt
        assistant = {
            "id": f"msg_a{sid}{turn}",
            "sessionID": sid,
            "role": "assistant",
            "providerID": "anthropic",
            "modelID": "claude-sonnet-4-5",
            "path": {"cwd": "/w/oc", "root": "/w/oc"},
        }
        out.append(bus("message.updated", info=assistant))
        out.append(bus("message.part.delta", sessionID=sid, partID="prt_x", delta="hel"))
        for k, (name, _call, end) in enumerate(_tool_calls(draw, f"{sid}{turn}")):
            call = f"call_{sid}{turn}{k}"
            part: Payload = {"id": f"prt_{call}", "sessionID": sid, "messageID": "m"}
            part |= {"type": "tool", "callID": call, "tool": name.lower()}
            out.append(bus("message.part.updated", part={**part, "state": {"status": "pending"}}))
            running = {"status": "running", "time": {"start": 1000}}
            out.append(bus("message.part.updated", part={**part, "state": running}))
            if end == "deny":
                ask = {"id": f"per_{call}", "sessionID": sid, "permission": "bash"}
                out.append(bus("permission.asked", tool={"messageID": "m", "callID": call}, **ask))
                out.append(
                    bus(
                        "permission.replied", sessionID=sid, requestID=f"per_{call}", reply="reject"
                    )
                )
            if end in ("ok", "fail", "deny"):
                status = "completed" if end == "ok" else "error"
                done = {"status": status, "time": {"start": 1000, "end": 1450}, "error": "x"}
                if end == "ok" and draw(st.booleans()):
                    done["metadata"] = {"exit": draw(st.sampled_from([0, 2]))}
                out.append(bus("message.part.updated", part={**part, "state": done}))
        if draw(st.integers(0, 4)) == 0:
            out.append(bus("session.error", sessionID=sid, error={"name": "APIError"}))
        out.append(bus("session.idle", sessionID=sid))
    if draw(st.integers(0, 3)) == 0:
        out.append(bus("session.deleted", info={"id": sid}))
    return out


def _noise(draw: Draw, sids: list[str]) -> list[Raw]:
    """Unknown kinds, payloads without a session id, wrongly typed fields."""
    sid = draw(st.sampled_from(sids)) if sids else "s0"
    options: list[Raw] = [
        ("claude-code", "FutureEvent", {"hook_event_name": "FutureEvent", "session_id": sid}),
        ("claude-code", "Notification", {"hook_event_name": "Notification", "session_id": sid}),
        ("claude-code", "PreToolUse", {"hook_event_name": "PreToolUse", "session_id": 5}),
        ("claude-code", "PostToolUse", {"hook_event_name": "PostToolUse", "tool_use_id": "t"}),
        ("claude-code", "PreToolUse", {"session_id": sid, "tool_use_id": 7, "model": {"a": 1}}),
        ("claude-code", "SubagentStop", {"hook_event_name": "SubagentStop", "session_id": sid}),
        ("generic", "generic", {"session_id": sid, "cwd": ["x"]}),
        ("opencode", "message.part.updated", {"type": "message.part.updated", "properties": []}),
        ("opencode", "server.heartbeat", {"type": "server.heartbeat", "properties": {}}),
        ("claude-code", "transcript", {"type": "user", "sessionId": sid, "message": "hi"}),
        ("cursor", "stop", {"hook_event_name": "stop", "conversation_id": sid, "status": []}),
    ]
    return [draw(st.sampled_from(options))]


@st.composite
def session_logs(draw: Draw, max_sessions: int = 4) -> list[Raw]:
    """Several sessions of several agents, interleaved, noise included (no faults)."""
    count = draw(st.integers(1, max_sessions))
    streams: list[list[Raw]] = []
    sids: list[str] = []
    for i in range(count):
        agent = draw(st.sampled_from(["claude-code", "codex", "gemini", "cursor", "opencode"]))
        sid = f"{i}{draw(st.sampled_from(['ab', 'ac', 'b7']))}-{agent[:2]}"
        sids.append(sid)
        if agent in ("claude-code", "codex"):
            streams.append(_claude(draw, sid, agent))
        elif agent == "gemini":
            streams.append(_gemini(draw, sid))
        elif agent == "cursor":
            child = draw(st.booleans())
            streams.append(_cursor(draw, sid, None))
            if child:
                streams.append(_cursor(draw, f"{sid}-sub", sid))
        else:
            streams.append(_opencode(draw, sid, None))
            if draw(st.booleans()):
                streams.append(_opencode(draw, f"{sid}-child", sid))
    streams.extend(_noise(draw, sids) for _ in range(draw(st.integers(0, 3))))
    events = _merge(draw, streams)
    junk = draw(st.lists(st.tuples(st.integers(0, 10_000), _JUNK_VALUES), max_size=3))
    for at, value in junk:
        if events:
            source, kind, payload = events[at % len(events)]
            events[at % len(events)] = (source, kind, {**payload, "x_junk": value})
    return events


def _faults(draw: Draw, events: list[Raw]) -> list[Raw]:
    """Lost deliveries, repeated deliveries, neighbours committed out of order."""
    events = list(events)
    faults = draw(
        st.lists(
            st.tuples(st.integers(0, 10_000), st.sampled_from(["drop", "dup", "swap"])),
            max_size=4,
        )
    )
    for at, fault in faults:
        if not events:
            break
        i = at % len(events)
        if fault == "drop":
            del events[i]
        elif fault == "dup":
            later = draw(st.integers(i, len(events)))
            events.insert(later, events[i])
        elif i + 1 < len(events):
            events[i], events[i + 1] = events[i + 1], events[i]
    return events


@st.composite
def logs(draw: Draw, max_sessions: int = 4) -> list[LogEvent]:
    """A realistic log: interleaved sessions with delivery faults and timestamps."""
    events = _faults(draw, draw(session_logs(max_sessions)))
    gaps = draw(st.lists(_GAPS, min_size=len(events), max_size=len(events)))
    agents = draw(st.lists(_AGENTS, min_size=len(events), max_size=len(events)))
    now = 1_780_000_000 * 1_000_000_000
    out = []
    for (source, kind, payload), gap, agent in zip(events, gaps, agents, strict=True):
        now += gap
        process = None if kind == "transcript" else agent
        out.append(LogEvent(source, kind, msgspec.json.encode(payload), now, process))
    return out


#: The agent processes hook records carry: a few processes, or none (old records).
BOOT = bytes(range(16))
_AGENTS = st.sampled_from([None, (4100, 900, BOOT), (4100, 901, BOOT), (4200, 77, BOOT)])


def records_of(events: list[LogEvent]) -> list[Record]:
    """The records a journal would hold for ``events`` (seq from 1, real digests)."""
    records = []
    prev = "0" * 64
    for seq, event in enumerate(events, 1):
        digest = hashlib.sha256(event.payload).hexdigest()
        own = hashlib.sha256(f"{seq}:{digest}:{prev}".encode()).hexdigest()
        records.append(
            Record(
                seq=seq,
                received_at=event.received_at,
                source=event.source,
                kind=event.kind,
                digest=digest,
                prev_digest=prev,
                record_digest=own,
                payload=event.payload,
                agent_pid=event.agent[0] if event.agent else None,
                agent_start=event.agent[1] if event.agent else None,
                agent_boot=wire.boot_text(event.agent[2]) if event.agent else None,
            )
        )
        prev = own
    return records


def fold(records: list[Record], view: View, state: MemoryState | None = None) -> MemoryState:
    """Fold ``records`` into ``state`` (a new one by default) as the engine would.

    Like the engine, records of kinds the view does not read are not applied.
    """
    state = MemoryState() if state is None else state
    kinds = view.kinds
    for record in records:
        if kinds is None or record.kind in kinds:
            view.apply(state, record)
    return state


T0 = 1_780_000_000_000_000_000


class LogBuilder:
    """Builds a log by hand, one event at a time, each ``gap_ms`` after the previous."""

    def __init__(self, session_id: str = "sess-1") -> None:
        self.events: list[LogEvent] = []
        self.now = T0
        self.session_id = session_id
        #: The agent process hook events are sent by (None: not recorded).
        self.process: tuple[int, int, bytes] | None = None

    def add(
        self,
        agent: str,
        event: str,
        payload: Payload,
        gap_ms: float = 1000,
        process: tuple[int, int, bytes] | None = None,
    ) -> Self:
        """Append ``payload`` as a record of source ``agent`` and kind ``event``, sent by
        the agent process ``process`` (default: this builder's ``process``)."""
        self.now += int(gap_ms * 1_000_000)
        data = msgspec.json.encode(payload)
        sender = process if process is not None else self.process
        self.events.append(LogEvent(agent, event, data, self.now, sender))
        return self

    def claude(self, event: str, gap_ms: float = 1000, **fields: Any) -> Self:
        """Append a Claude Code hook event of this builder's session."""
        base = {"session_id": self.session_id, "cwd": "/w", "hook_event_name": event}
        return self.add("claude-code", event, {**base, **fields}, gap_ms)

    def line(self, payload: Payload, gap_ms: float = 1000, source: str = "claude-code") -> Self:
        """Append a transcript line (no agent process: capture journals it)."""
        self.now += int(gap_ms * 1_000_000)
        data = msgspec.json.encode(payload)
        self.events.append(LogEvent(source, "transcript", data, self.now))
        return self

    def again(self, index: int = -1, gap_ms: float = 1000) -> Self:
        """Deliver an earlier event again, byte for byte."""
        event = self.events[index]
        self.now += int(gap_ms * 1_000_000)
        self.events.append(LogEvent(event.source, event.kind, event.payload, self.now))
        return self

    def records(self) -> list[Record]:
        """The log's records."""
        return records_of(self.events)
