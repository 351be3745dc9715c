"""The steps view: one step per tool call, its start and end paired across agents.

A step starts with the agent's "before" event and ends with its "after" event (or an
error or a denial). The two halves are paired by the agent's own call id where it
sends one (Claude Code and Codex ``tool_use_id``, Cursor ``tool_use_id``, OpenCode
``callID``, transcript ``tool_use`` ids, Codex rollout item ids) and otherwise by
order: the oldest open start of the same run and scope (the tool name, plus Cursor's
``generation_id``) takes the next end. Steps paired by order say so
(``paired_by="order"``). One call told by several records (a hook, the transcript
line, the rollout item) is one step: the same call id in the same run.

Several records may report one call's end; they are merged, whatever their order:
a weak end (Claude Code's ``PostToolBatch``, the only report a refused call gets)
fills in a step nothing else ended and gives way to any other end; among the others
the first sets ``end_seq``, and a later report can only make the outcome worse
(``succeeded`` < ``failed`` < ``denied``: a Codex rollout's exit code turns the
hook's "succeeded" into ``failed``) or add the agent's own duration. A
``PostToolBatch`` entry of a call whose tool was asked permission for
(``PermissionRequest``) and that nothing else ended is ``denied``.

Real agents lose and repeat hook deliveries, so every combination is kept: a start
without an end stays ``running`` (and is reported ``orphaned`` once its run is no
longer active, see :func:`list_steps`); an end without a start is a step of its own,
``orphaned``, whose ``outcome`` says what the end reported; an end that arrives
before its start (hooks run concurrently) is completed by the start. A repeated
start or end of one call id is ignored, and so is an order-paired start identical
byte for byte to a start still open in its scope, or an end identical to the last
end of its scope.

What one record says about a tool call is decided in :mod:`projections.toolevents`;
this module pairs the calls. The runs view counts a run's steps with :func:`pair`
over its own state, which makes exactly the decisions this view makes (the same
queues, and a call id indexed where this view keeps a row), so a run's step count
always equals the number of steps listed for it.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, ClassVar, Literal

import msgspec

from .identity import UNSET, event_of
from .toolevents import (
    ASK,
    END,
    KINDS,
    MARK,
    REPLY,
    START,
    UPDATE,
    WEAK,
    ToolEvent,
    tool_event,
    tools_of,
)
from .view import View

if TYPE_CHECKING:
    from collections.abc import Iterator

    from journal.records import Record

    from .view import State

__all__ = [
    "KINDS",
    "Step",
    "StepsView",
    "ToolEvent",
    "call_id",
    "iter_steps",
    "list_steps",
    "pair",
    "queue",
    "tool_event",
    "tools_of",
]

# Open order-paired starts kept per run and scope; older ones are left unpaired.
_MAX_OPEN = 64
# Longer scopes (a generation id and a tool name) are keyed by their hash.
_MAX_SCOPE = 128

_SEQ = struct.Struct(">Q")
_INDEX = b"i:"
_QUEUE = b"q:"
_PERMISSION = b"p:"
_ASKED = b"a:"
_ROWS = b"t:"
_SEVERITY = {"succeeded": 0, "failed": 1, "denied": 2}


def _scope_bytes(scope: str) -> bytes:
    raw = scope.encode()
    if len(raw) > _MAX_SCOPE:
        import hashlib

        raw = hashlib.sha256(raw).hexdigest().encode()
    return raw


def call_id(state: State, te: ToolEvent) -> str | Literal[False] | None:
    """The call id ``te`` pairs by (None: by order), or False if it changes no step.

    A permission request only records which call it is about; a rejecting reply is
    paired with that call, or changes nothing if the request was never seen.
    """
    phase = te.phase
    if phase == MARK:
        return False
    if phase == ASK:
        assert te.request is not None
        assert te.key is not None
        key = _PERMISSION + te.run_b + b"\x00" + te.request.encode()
        state.put(key, te.key.encode())
        return False
    if phase == REPLY:
        assert te.request is not None
        found = state.get(_PERMISSION + te.run_b + b"\x00" + te.request.encode())
        return False if found is None else bytes(found).decode()
    return te.key


def queue(state: State, te: ToolEvent, seq: int, digest: str) -> tuple[int, bool] | None:
    """Pair an event without call id by order; return (first seq, created) or None.

    The oldest open start of the run and scope takes the next end. None: a repeat
    (a start identical to an open one, an end identical to the scope's last end).
    """
    queue_key = _QUEUE + te.run_b + b"\x00" + _scope_bytes(te.scope)
    raw = state.get(queue_key) or bytes(16)
    mark = digest[:16].encode()
    if te.phase == START:
        for at in range(16 + 8, len(raw), 24):
            if raw[at : at + 16] == mark:
                return None
        if len(raw) >= 16 + 24 * _MAX_OPEN:
            raw = raw[:16] + raw[40:]  # the oldest open start will never be paired now
        state.put(queue_key, raw + _SEQ.pack(seq) + mark)
        return seq, True
    if raw[:16] == mark:
        return None
    if len(raw) > 16:
        state.put(queue_key, mark + raw[40:])
        return _SEQ.unpack_from(raw, 16)[0], False
    state.put(queue_key, mark)
    return seq, True


def pair(state: State, te: ToolEvent, seq: int, digest: str) -> bool | None:
    """Whether ``te`` starts a new step (True), continues one (False), or neither (None).

    This is the runs view's step count: an index of call ids seen, plus the order
    queues. The steps view makes the same decisions from its own rows (a step keyed by
    call id exists exactly when this index has the id), so the two always agree.
    """
    call = te.key if te.phase < ASK else call_id(state, te)
    if call is False:
        return None
    if call is None:
        paired = queue(state, te, seq, digest)
        return None if paired is None else paired[1]
    index = _INDEX + te.run_b + b"#" + call.encode()
    if state.get(index) is not None:
        return False
    state.put(index, b"")
    return True


class Step(msgspec.Struct, frozen=True, kw_only=True, tag="projections.step"):
    """One tool call as the steps view knows it.

    ``status`` is ``running``, ``succeeded``, ``failed``, ``denied`` or ``orphaned``;
    ``outcome`` is what the end reported (also for an orphaned end); ``duration_ms``
    comes from the agent when it reports one (``duration_source="agent"``: Claude
    Code ``duration_ms``, Cursor ``duration``, OpenCode ``state.time``, a Codex
    rollout item's ``duration``), else from the two halves' event times
    (``"received"``). Times are event times (ns).
    """

    step_id: str
    run_id: str
    tool_name: str | None
    tool_use_id: str | None
    status: str
    start_seq: int | None
    end_seq: int | None
    start_time: int | None
    end_time: int | None
    duration_ms: float | None
    agent_id: str | None
    paired_by: str
    outcome: str | None = None
    error: str | None = None
    duration_source: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``steps --json`` items (DESIGN §5 names)."""
        return msgspec.structs.asdict(self)


class _Row(msgspec.Struct, array_like=True, gc=False, tag="projections.step.row"):
    """A step as stored under its run and its call id (or its first seq)."""

    first: int
    tool_use_id: str | None = None
    tool_name: str | None = None
    status: str = "running"
    start_seq: int | None = None
    end_seq: int | None = None
    start_time: int | None = None
    end_time: int | None = None
    agent_ms: float | None = None
    agent_id: str | None = None
    paired_by: str = "id"
    outcome: str | None = None
    error: str | None = None
    end_rank: int = 0
    inferred: bool = False  # start_seq is the end's record (a final update), for now


_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE_ROW = msgspec.msgpack.Decoder(_Row).decode


def _merge(row: _Row, te: ToolEvent, seq: int, when: int, outcome: str | None) -> bool:
    """Fold one tool event into its step; return whether anything changed.

    ``when`` is the record's event time, ``outcome`` the end's outcome (``te.outcome``
    unless the steps view knows better).
    """
    changed = False
    phase = te.phase
    final = outcome is not None and phase in (END, REPLY, UPDATE)
    if (phase == START or (phase == UPDATE and not final)) and (
        row.start_seq is None or row.inferred
    ):
        row.start_seq, row.inferred = seq, False
        if row.start_time is None:
            row.start_time = te.start_time or when
        changed = True
    if row.tool_name is None and te.tool_name is not None:
        row.tool_name = te.tool_name
        changed = True
    if row.agent_id is None and te.agent_id is not None:
        row.agent_id = te.agent_id
        changed = True
    if final:
        assert outcome is not None
        rank = te.rank
        if row.end_seq is None or rank > row.end_rank:
            row.end_seq, row.end_time, row.end_rank = seq, te.end_time or when, rank
            row.outcome, row.error = outcome, te.error
            if te.duration_ms is not None:
                row.agent_ms = te.duration_ms
            if row.start_seq is None and phase == UPDATE:
                # A final update tells the whole call; a start seen later replaces it.
                row.start_seq, row.inferred = seq, True
                row.start_time = te.start_time or when
            changed = True
        elif rank == row.end_rank:
            if _SEVERITY[outcome] > _SEVERITY.get(row.outcome or "", 0):
                row.outcome, row.error = outcome, te.error or row.error
                changed = True
            if row.agent_ms is None and te.duration_ms is not None:
                row.agent_ms = te.duration_ms
                changed = True
    if changed:
        if row.end_seq is None:
            row.status = "running"
        elif row.start_seq is None:
            row.status = "orphaned"
        else:
            row.status = row.outcome or "succeeded"
    return changed


class StepsView(View):
    """One step per tool call (see the module docstring for the pairing rules)."""

    name: ClassVar[str] = "steps"
    version: ClassVar[int] = 2
    kinds: ClassVar[frozenset[str] | None] = KINDS

    def __init__(self) -> None:
        # Decoded rows by key, valid only while the state still holds the very bytes
        # object they came from (see RunsView): a step's end then skips a decode.
        self._rows: dict[bytes, tuple[bytes, _Row]] = {}

    def apply(self, state: State, record: Record) -> None:
        """Pair the record's tool events with their steps and update those steps."""
        ev = event_of(record)
        if ev is None:
            return
        found = ev.tool
        if found is UNSET:
            found = tools_of(ev)
        asked: list[bytes] = []
        for te in found:
            if te.phase == MARK:
                state.put(_asked_key(te), b"")
                continue
            outcome = te.outcome
            if te.rank == WEAK and te.tool_name is not None:
                asked_key = _asked_key(te)
                if outcome == "succeeded" and state.get(asked_key) is not None:
                    outcome = "denied"
                asked.append(asked_key)
            self._one(state, record, ev.time, te, outcome)
        for key in asked:
            state.delete(key)

    def _one(
        self, state: State, record: Record, when: int, te: ToolEvent, outcome: str | None
    ) -> None:
        call = te.key if te.phase < ASK else call_id(state, te)
        if call is False:
            return
        prefix = _ROWS + te.run_b + b"\x00"
        rows = self._rows
        row: _Row | None = None
        if call is None:
            paired = queue(state, te, record.seq, record.digest)
            if paired is None:
                return
            first, created = paired
            key = prefix + b"s" + _SEQ.pack(first)
            if created:
                row = _Row(first=first, paired_by="order")
        else:
            key = prefix + b"k" + call.encode()
        raw = None
        if row is None:
            raw = state.get(key)
            if raw is None:
                row = _Row(first=record.seq, tool_use_id=call)
            else:
                cached = rows.get(key)
                row = cached[1] if cached is not None and cached[0] is raw else _DECODE_ROW(raw)
        try:
            changed = _merge(row, te, record.seq, when, outcome)
        except BaseException:
            rows.pop(key, None)
            raise
        if changed or raw is None:
            raw = _ENCODE(row)
            state.put(key, raw)
            if len(rows) >= 4096:
                rows.clear()
            rows[key] = (raw, row)


def _asked_key(te: ToolEvent) -> bytes:
    """Where a PermissionRequest for the tool of ``te`` is remembered in its run."""
    return _ASKED + te.run_b + b"\x00" + _scope_bytes(te.tool_name or "")


def _step(run_id: str, row: _Row, live: bool) -> Step:
    tool_use_id = row.tool_use_id
    step_id = f"{run_id}#{tool_use_id}" if tool_use_id else f"{run_id}#seq{row.first}"
    duration, source = row.agent_ms, "agent" if row.agent_ms is not None else None
    start, end = row.start_time, row.end_time
    if duration is None and start is not None and end is not None and end >= start:
        duration, source = (end - start) / 1e6, "received"
    status = row.status
    if status == "running" and not live:
        status = "orphaned"
    return Step(
        step_id=step_id,
        run_id=run_id,
        tool_name=row.tool_name,
        tool_use_id=row.tool_use_id,
        status=status,
        start_seq=row.start_seq,
        end_seq=row.end_seq,
        start_time=row.start_time,
        end_time=row.end_time,
        duration_ms=duration,
        agent_id=row.agent_id,
        paired_by=row.paired_by,
        outcome=row.outcome,
        error=row.error,
        duration_source=source,
    )


def iter_steps(state: State, run_id: str, *, live: bool = True) -> Iterator[Step]:
    """Yield the steps of ``run_id`` in the order they were first seen."""
    prefix = _ROWS + run_id.encode() + b"\x00"
    rows = sorted((_DECODE_ROW(raw) for _, raw in state.scan(prefix)), key=_first)
    for row in rows:
        yield _step(run_id, row, live)


def _first(row: _Row) -> int:
    return row.first


def list_steps(state: State, run_id: str, *, live: bool = True) -> list[Step]:
    """The steps of ``run_id`` (a full run id), in the order they were first seen.

    ``live`` says whether the run is still active; when it is not, a step still
    ``running`` is reported ``orphaned`` (its end will never come). Callers pass
    ``live=run.status == "active"``.
    """
    return list(iter_steps(state, run_id, live=live))
