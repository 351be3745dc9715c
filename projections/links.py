"""The links view: which runs continue one conversation, and how.

A conversation is what a person sees as one thread of work; agents spread it over
several runs, or mark turns inside one run where it was picked up again. The fold
records each such link as an edge from the run that continues to the run it
continues (the same run for a link inside one session), with its relation:

- ``resume`` — the conversation was picked up again. Claude Code 2.1.328 keeps the
  session id across ``--resume`` and sends ``SessionStart`` with ``source: resume``:
  an edge from the run to itself. Older versions start a new session id whose
  transcript continues the old one: its first line's ``parentUuid`` is a line of the
  old session's transcript, or it copies the old lines (the same ``uuid``). Either is
  an edge from the new run to the old one.
- ``fork`` — such a transcript continuation while the old run's own transcript went
  on after it (``--fork-session``): decided at query time, from the event time of the
  old run's newest transcript line against the line that made the link.
- ``clear`` and ``compact`` — ``SessionStart`` with that ``source``: an edge to the
  run the same agent process was in before (the process the record names), else to
  the last run of the same cwd that ended with ``reason: clear``; an edge to itself
  where the session id stayed.
- ``continue`` — Codex ``exec resume`` (``SessionStart`` ``source: resume`` on a
  thread that already has a run).
- ``subagent`` — child runs: read from the runs view at query time, not stored here.

State (keys are bytes; ``run`` is a run id, ``seq`` a big-endian u64):

- ``e run \\0 seq to`` → the edge ``{to, rel, time}`` (msgpack);
- ``r to \\0 run`` → ``b""``: the reverse index, for edges between two runs;
- ``x run \\0 to`` → ``b""``: that transcript lineage edge exists already;
- ``u uuid`` → the run whose transcript line first had that uuid;
- ``a pid:start:boot`` → the run that agent process was last in;
- ``c source \\0 cwd`` → the last run of that cwd that ended with ``reason: clear``;
- ``s run`` → ``b""``: the run has been seen (a ``resume`` of a new run is no edge);
- ``t run`` → the event time (u64 ns) of the run's newest transcript line.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, ClassVar

import msgspec

from .identity import MAX_ID_BYTES, TRANSCRIPT_KIND, event_of, ident, text
from .nested import DECODE_ERRORS
from .view import View

if TYPE_CHECKING:
    from journal.records import Record

    from .identity import Event
    from .view import State

__all__ = ["RELATIONS", "Edge", "LinksView", "edges_from", "edges_to", "newest_line"]

#: Every relation ``links --json`` may report (DESIGN §5).
RELATIONS = ("resume", "fork", "clear", "compact", "subagent", "continue")

_EDGE = b"e"
_REVERSE = b"r"
_LINEAGE = b"x"
_UUID = b"u"
_AGENT = b"a"
_CLEARED = b"c"
_SEEN = b"s"
_NEWEST = b"t"
_SEP = b"\x00"
_SEQ = struct.Struct(">Q")


class Edge(msgspec.Struct, array_like=True, gc=False):
    """One link: ``run`` continues ``to`` (itself for a link inside one session)."""

    to: str
    rel: str
    time: int
    run: str = ""
    seq: int = 0


class _Lineage(msgspec.Struct, gc=False):
    """The fields of a Claude Code transcript line that chain it to earlier lines."""

    uuid: object = None
    parentUuid: object = None
    logicalParentUuid: object = None
    isSidechain: object = None


_LINEAGE_DECODE = msgspec.json.Decoder(_Lineage).decode
_EDGE_ENCODE = msgspec.msgpack.Encoder().encode
_EDGE_DECODE = msgspec.msgpack.Decoder(Edge).decode


def _uuid(value: object) -> bytes | None:
    found = ident(value)
    if found is None or len(found) > MAX_ID_BYTES:
        return None
    return found.encode()


class LinksView(View):
    """Links between the runs of one conversation (see the module docstring)."""

    name: ClassVar[str] = "links"
    version: ClassVar[int] = 3
    kinds: ClassVar[frozenset[str] | None] = frozenset(
        {TRANSCRIPT_KIND, "SessionStart", "SessionEnd", "UserPromptSubmit"}
    )

    def apply(self, state: State, record: Record) -> None:
        ev = event_of(record)
        if ev is None:
            return
        if record.kind == TRANSCRIPT_KIND:
            if ev.line is not None and ev.agent_id is None:
                self._line(state, ev)
            return
        self._hook(state, ev)

    def _edge(self, state: State, ev: Event, to: bytes, rel: str) -> None:
        run = ev.run_b
        edge = Edge(to=to.decode(), rel=rel, time=ev.time)
        # One record can link its run to two others (a line copied from one session
        # whose parent is another's): the target is part of the key.
        key = _EDGE + run + _SEP + _SEQ.pack(ev.record.seq) + to
        state.put(key, _EDGE_ENCODE(edge))
        if to != run:
            state.put(_REVERSE + to + _SEP + run, b"")

    def _line(self, state: State, ev: Event) -> None:
        try:
            line = _LINEAGE_DECODE(ev.record.payload)
        except DECODE_ERRORS:
            return
        if line.isSidechain is True:
            return
        run = ev.run_b
        state.put(_SEEN + run, b"")
        uuid = _uuid(line.uuid)
        parent = _uuid(line.parentUuid) or _uuid(line.logicalParentUuid)
        for known in (uuid, parent):
            if known is None:
                continue
            owner = state.get(_UUID + known)
            if owner is not None and owner != run:
                mark = _LINEAGE + run + _SEP + owner
                if state.get(mark) is None:
                    state.put(mark, b"")
                    self._edge(state, ev, owner, "resume")
        if uuid is not None and state.get(_UUID + uuid) is None:
            state.put(_UUID + uuid, run)
        newest = state.get(_NEWEST + run)
        if newest is None or _SEQ.unpack(newest)[0] < ev.time:
            state.put(_NEWEST + run, _SEQ.pack(max(ev.time, 0)))

    def _hook(self, state: State, ev: Event) -> None:
        if ev.parent_run_id is not None:
            return
        run = ev.run_b
        record = ev.record
        agent = None
        if record.agent_pid is not None:
            boot = record.agent_boot or ""
            agent = _AGENT + f"{record.agent_pid}:{record.agent_start}:{boot}".encode()
        seen = state.get(_SEEN + run) is not None
        state.put(_SEEN + run, b"")
        full = ev.full() if record.kind in ("SessionStart", "SessionEnd") else None
        if record.kind == "SessionStart" and full is not None:
            how = text(full.source)
            if how == "resume" and seen:
                self._edge(state, ev, run, "continue" if record.source == "codex" else "resume")
            elif how in ("clear", "compact"):
                before = state.get(agent) if agent is not None else None
                if before is None and how == "clear":
                    before = state.get(self._cleared_key(ev, full.cwd))
                if before is not None and before != run:
                    self._edge(state, ev, before, how)
                elif how == "compact" and seen:
                    self._edge(state, ev, run, how)
        elif record.kind == "SessionEnd" and full is not None and text(full.reason) == "clear":
            state.put(self._cleared_key(ev, full.cwd), run)
        if agent is not None:
            state.put(agent, run)

    @staticmethod
    def _cleared_key(ev: Event, cwd: object) -> bytes:
        where = (text(cwd) or "")[:200]
        return _CLEARED + ev.record.source.encode() + _SEP + where.encode()


def edges_from(state: State, run_id: str) -> list[Edge]:
    """The links recorded on ``run_id`` (it continues their ``to``), in log order."""
    prefix = _EDGE + run_id.encode() + _SEP
    at = len(prefix)
    out = []
    for key, value in state.scan(prefix):
        edge = _EDGE_DECODE(value)
        edge.run = run_id
        edge.seq = _SEQ.unpack(key[at : at + 8])[0]
        out.append(edge)
    return out


def newest_line(state: State, run_id: str) -> int | None:
    """The event time of the newest transcript line of ``run_id`` (None: it has none)."""
    found = state.get(_NEWEST + run_id.encode())
    return None if found is None else int(_SEQ.unpack(found)[0])


def edges_to(state: State, run_id: str) -> list[str]:
    """The other runs that continue ``run_id``."""
    prefix = _REVERSE + run_id.encode() + _SEP
    return [key[len(prefix) :].decode() for key, _ in state.scan(prefix)]
