"""Who a record belongs to: fast, lenient payload decoding and run ids for the views.

Every view asks the same two questions of a record: what does its payload say (only
the few fields views use), and which run is it part of. This module answers both once
per record, with msgspec decoders built at import time. Payloads are the agents' own
JSON and change every release, so decoding is lenient: unknown fields are skipped,
every leaf is typed ``object`` and checked where it is used, nested objects stay
:class:`msgspec.Raw` until a view needs them, and a payload that fails to decode
yields None instead of an exception. A record without a usable session id belongs to
no run and is skipped by every view.

Decoding is most of a view's cost, so it happens in two steps: every hook event is
decoded into :class:`HookIds` (the ids and the model), and only the records that need
more (session starts and ends, prompts, failures, the first record of a run) decode
the whole :class:`HookPayload` through :meth:`Event.full`.

Run ids:

- a session: ``"<source>/<session_id>"``;
- a subagent of a session: ``"<source>/<session_id>/<agent_id>"`` (Claude Code and
  Codex ``agent_id``; Cursor ``subagent_id`` on ``subagentStart``/``subagentStop``
  fired in the parent conversation), whose parent is the session's run;
- a child session with its own id (OpenCode ``info.parentID``, Cursor
  ``parent_conversation_id`` on ``subagentStart``/``subagentStop``): its own session
  run, with ``parent_run_id`` naming the parent session's run.

Session ids per payload shape (chosen by the record, never guessed from content):
OpenCode bus events (source ``opencode``) use ``properties.sessionID``, else
``properties.info.id`` on ``session.*`` events, ``properties.info.sessionID`` on
messages and ``properties.part.sessionID`` on parts; Codex rollout lines (kind
``transcript``, source ``codex``) use ``payload.thread_id``, else ``payload.id`` of
``session_meta``; other transcript lines (Claude Code's) use ``sessionId`` and
``agentId``; every other payload is a hook event and uses ``conversation_id``
(Cursor), else ``session_id`` (Claude Code, Codex, Gemini, Cursor session events),
else ``thread-id`` (Codex ``notify``).

Every event also has its **event time** (:attr:`Event.time`, DESIGN §4): the
payload's own timestamp (transcript and rollout ``timestamp``, Gemini's hook
``timestamp``, OpenCode ``time.*`` of the session, message or part), else the
record's ``received_at`` (:mod:`projections.timestamps`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from .lines import RolloutLine, RolloutPayload, TranscriptLine, TranscriptMessage, rollout_payload
from .nested import DECODE_ERRORS, decode_raw, times
from .timestamps import iso_ns, ms_ns

if TYPE_CHECKING:
    from journal.records import Record

__all__ = [
    "MAX_ID_BYTES",
    "MAX_RUN_ID_BYTES",
    "TRANSCRIPT_KIND",
    "UNSET",
    "BusProperties",
    "Event",
    "HookIds",
    "HookPayload",
    "OcInfo",
    "OcPart",
    "RolloutPayload",
    "TranscriptLine",
    "TranscriptMessage",
    "decode_raw",
    "event_of",
    "ident",
    "text",
]

TRANSCRIPT_KIND = "transcript"
#: Longest session, agent or tool-call id a view accepts (UTF-8 bytes). Real ids are
#: under 64; the bound keeps every state key under LMDB's 511-byte key limit.
MAX_ID_BYTES = 96
MAX_RUN_ID_BYTES = 240
# A missing nested object decodes as this empty Raw (a Raw field cannot be optional).
_EMPTY = msgspec.Raw()


# Decoded payload parts are gc=False Structs: JSON values cannot form reference
# cycles, and not tracking one object per field per record is measurably cheaper.


class HookIds(msgspec.Struct, gc=False):
    """What every hook event is decoded into: ids, the tool and the model."""

    session_id: object = None
    conversation_id: object = None
    thread_id: object = msgspec.field(default=None, name="thread-id")
    agent_id: object = None
    tool_use_id: object = None
    tool_name: object = None
    generation_id: object = None
    model: object = None
    timestamp: object = None
    duration_ms: object = None


class HookPayload(msgspec.Struct, gc=False):
    """Every field views read from a hook event (Claude Code, Codex, Gemini, Cursor)."""

    cwd: object = None
    workspace_roots: object = None
    transcript_path: object = None
    agent_transcript_path: object = None
    agent_type: object = None
    subagent_id: object = None
    parent_conversation_id: object = None
    source: object = None
    reason: object = None
    status: object = None
    final_status: object = None
    error_type: object = None
    error: object = None
    prompt_id: object = None
    turn_id: object = None
    notify_turn_id: object = msgspec.field(default=None, name="turn-id")
    duration: object = None
    duration_ms: object = None
    tool_response: msgspec.Raw = _EMPTY
    llm_request: msgspec.Raw = _EMPTY
    tool_calls: msgspec.Raw = _EMPTY


class BusProperties(msgspec.Struct, gc=False):
    """``properties`` of an OpenCode bus event, nested objects still raw."""

    sessionID: object = None
    id: object = None
    requestID: object = None
    permissionID: object = None
    callID: object = None
    reply: object = None
    response: object = None
    permission: object = None
    info: msgspec.Raw = _EMPTY
    part: msgspec.Raw = _EMPTY
    tool: msgspec.Raw = _EMPTY
    error: msgspec.Raw = _EMPTY


class _Bus(msgspec.Struct, gc=False):
    properties: BusProperties | None = None


class OcInfo(msgspec.Struct, gc=False):
    """``properties.info``: an OpenCode Session or Message."""

    id: object = None
    sessionID: object = None
    parentID: object = None
    role: object = None
    modelID: object = None
    providerID: object = None
    directory: object = None
    model: msgspec.Raw = _EMPTY
    path: msgspec.Raw = _EMPTY
    time: msgspec.Raw = _EMPTY


class OcPart(msgspec.Struct, gc=False):
    """``properties.part``: an OpenCode message part."""

    id: object = None
    sessionID: object = None
    type: object = None
    callID: object = None
    tool: object = None
    state: msgspec.Raw = _EMPTY
    time: msgspec.Raw = _EMPTY


_IDS = msgspec.json.Decoder(HookIds).decode
_HOOK = msgspec.json.Decoder(HookPayload).decode
_TRANSCRIPT = msgspec.json.Decoder(TranscriptLine).decode
_ROLLOUT = msgspec.json.Decoder(RolloutLine).decode
_BUS = msgspec.json.Decoder(_Bus).decode
_INFO = msgspec.json.Decoder(OcInfo).decode
_PART = msgspec.json.Decoder(OcPart).decode
_CHILD_KINDS = frozenset({"subagentStart", "subagentStop"})


def _bus_time(event: Event) -> int | None:
    """OpenCode's own time of a bus event: its part's, message's or session's."""
    kind = event.kind
    found: int | None = None
    if kind == "message.part.updated":
        part = event.part()
        if part is not None:
            if part.state:
                state = times(part.state)
                when = times(state.time) if state is not None else None
            else:
                when = times(part.time)
            if when is not None:
                found = ms_ns(when.end) or ms_ns(when.start)
    elif kind == "message.updated" or kind.startswith("session."):
        info = event.info()
        when = times(info.time) if info is not None else None
        if when is not None:
            found = ms_ns(when.completed) or ms_ns(when.updated) or ms_ns(when.created)
    return found


def text(value: object) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if type(value) is str and value else None


def ident(value: object) -> str | None:
    """A usable id: a non-empty string without NUL, at most :data:`MAX_ID_BYTES`."""
    if type(value) is not str or not value or "\x00" in value:
        return None
    if len(value) > _SHORT and len(value.encode()) > MAX_ID_BYTES:
        return None
    return value


# Strings this long or shorter are within MAX_ID_BYTES whatever their characters.
_SHORT = MAX_ID_BYTES // 4
#: Marks an :class:`Event` attribute not computed yet.
UNSET: object = object()
_UNSET = UNSET


class Event:
    """One record, decoded: its run, its parent run if the payload says, its fields.

    Exactly one of ``hook``, ``line`` and ``props`` is set, by the payload's shape.
    Events are shared between views and must not be modified. Built once per record,
    so the builders set only what differs from the class defaults below.
    """

    record: Record
    kind: str
    session_id: str
    run_b: bytes
    #: Event time, ns: the payload's own timestamp, else ``received_at``.
    time: int
    #: False for a transcript or rollout line without a timestamp of its own (Claude
    #: Code's ``summary``, ``last-prompt`` …): its ``received_at`` is when it was
    #: captured, maybe months later (an import), not when it happened.
    timed: bool = True
    parent_run_id: str | None = None
    agent_id: str | None = None
    hook: HookIds | None = None
    line: TranscriptLine | None = None
    rollout: RolloutPayload | None = None
    props: BusProperties | None = None
    #: The record's tool event, set by :mod:`projections.steps` (until then
    #: :data:`UNSET`, as are the lazily decoded parts below).
    tool: Any = UNSET  # a ToolEvent or None (typed loosely: steps imports this module)
    _full: object = UNSET
    _info: object = UNSET
    _part: object = UNSET

    @property
    def run_id(self) -> str:
        """The run this record belongs to."""
        return self.run_b.decode()

    def full(self) -> HookPayload | None:
        """The whole hook payload (decoded once, on first use); None if undecodable."""
        full = self._full
        if full is not _UNSET:
            return full  # type: ignore[return-value]
        decoded: HookPayload | None
        try:
            decoded = _HOOK(self.record.payload)
        except DECODE_ERRORS:
            decoded = None
        self._full = decoded
        return decoded

    def info(self) -> OcInfo | None:
        """OpenCode ``properties.info`` (decoded once); None if absent or unusable."""
        if self._info is not _UNSET:
            return self._info  # type: ignore[return-value]
        info: OcInfo | None = None
        if self.props is not None and self.props.info:
            try:
                info = _INFO(self.props.info)
            except DECODE_ERRORS:
                pass
        self._info = info
        return info

    def part(self) -> OcPart | None:
        """OpenCode ``properties.part`` (decoded once); None if absent or unusable."""
        if self._part is not _UNSET:
            return self._part  # type: ignore[return-value]
        part: OcPart | None = None
        if self.props is not None and self.props.part:
            try:
                part = _PART(self.props.part)
            except DECODE_ERRORS:
                pass
        self._part = part
        return part


def _child(event: Event, agent_id: str) -> None:
    event.parent_run_id = event.run_b.decode()
    event.run_b += b"/" + agent_id.encode()
    event.agent_id = agent_id


def _cursor_child(event: Event, sid: str) -> str | None:
    """Cursor subagent events: link a child conversation, or name an inner subagent."""
    full = event.full()
    if full is None:
        return None
    parent = ident(full.parent_conversation_id)
    if parent is not None and parent != sid:
        event.parent_run_id = f"{event.record.source}/{parent}"
        return None
    return ident(full.subagent_id)


def _bus_event(record: Record) -> Event | None:
    try:
        props = _BUS(record.payload).properties
    except DECODE_ERRORS:
        return None
    if props is None:
        return None
    kind = record.kind
    event = Event()
    event.record = record
    event.kind = kind
    event.props = props
    session = kind.startswith("session.")
    sid = ident(props.sessionID)
    if sid is None:
        if session or kind == "message.updated":
            info = event.info()
            if info is not None:
                sid = ident(info.id if session else info.sessionID)
        elif kind == "message.part.updated":
            part = event.part()
            sid = ident(part.sessionID) if part is not None else None
        if sid is None:
            return None
    event.session_id = sid
    event.run_b = f"{record.source}/{sid}".encode()
    if session:
        info = event.info()
        parent = ident(info.parentID) if info is not None else None
        if parent is not None and parent != sid:
            event.parent_run_id = f"{record.source}/{parent}"
    event.time = _bus_time(event) or record.received_at
    return event


def _rollout_event(record: Record) -> Event | None:
    """A Codex rollout line: its run by ``thread_id`` (``session_meta``: ``id``)."""
    try:
        line = _ROLLOUT(record.payload)
    except DECODE_ERRORS:
        return None
    payload = rollout_payload(line.payload)
    if payload is None:
        return None
    sid = ident(payload.thread_id)
    if sid is None and line.type == "session_meta":
        sid = ident(payload.id)
    if sid is None:
        return None
    event = Event()
    event.record, event.kind, event.rollout, event.session_id = record, record.kind, payload, sid
    event.run_b = f"{record.source}/{sid}".encode()
    stamp = iso_ns(line.timestamp)
    event.time = stamp or record.received_at
    if stamp is None:
        event.timed = False
    return event


_memo: tuple[object, Event | None] = (None, None)


def event_of(record: Record) -> Event | None:
    """Decode ``record`` into an :class:`Event`, or None if it belongs to no run.

    The last answer is remembered (keyed by the record object itself, which the
    memo keeps alive) because the engine hands each record to every view in turn.
    """
    global _memo
    memo = _memo
    if memo[0] is record:
        return memo[1]
    kind = record.kind
    event: Event | None = None
    if kind == TRANSCRIPT_KIND and record.source == "codex":
        event = _rollout_event(record)
    elif kind == TRANSCRIPT_KIND:
        try:
            line = _TRANSCRIPT(record.payload)
        except DECODE_ERRORS:
            line = None
        sid = line.sessionId if line is not None else None
        if type(sid) is not str or not sid or "\x00" in sid:
            sid = None
        elif len(sid) > _SHORT:
            sid = ident(sid)
        if sid is not None:
            event = Event()
            event.record, event.kind, event.line, event.session_id = record, kind, line, sid
            event.run_b = f"{record.source}/{sid}".encode()
            stamp = iso_ns(line.timestamp)  # type: ignore[union-attr]
            event.time = stamp or record.received_at
            if stamp is None:
                event.timed = False
            if line.agentId is not None:  # type: ignore[union-attr]
                agent = ident(line.agentId)  # type: ignore[union-attr]
                if agent is not None:
                    _child(event, agent)
    elif record.source == "opencode":
        event = _bus_event(record)
    else:
        try:
            hook = _IDS(record.payload)
        except DECODE_ERRORS:
            hook = None
        if hook is not None:
            found = hook.conversation_id
            if type(found) is not str or not found:
                found = hook.session_id
                if type(found) is not str or not found:
                    found = hook.thread_id
            hook_sid = found if type(found) is str and found else None
            if hook_sid is not None and (
                "\x00" in hook_sid
                or (len(hook_sid) > _SHORT and len(hook_sid.encode()) > MAX_ID_BYTES)
            ):
                hook_sid = None
            if hook_sid is not None:
                event = Event()
                event.record, event.kind, event.hook = record, kind, hook
                event.session_id = hook_sid
                event.run_b = f"{record.source}/{hook_sid}".encode()
                own = hook.timestamp  # Gemini stamps its hook events
                event.time = (iso_ns(own) if own is not None else None) or record.received_at
                child: str | None = None
                if hook.agent_id is not None:
                    child = ident(hook.agent_id)
                elif kind in _CHILD_KINDS:
                    child = _cursor_child(event, hook_sid)
                if child is not None:
                    _child(event, child)
    if event is not None and len(event.run_b) > MAX_RUN_ID_BYTES:
        event = None
    _memo = (record, event)
    return event
