"""The runs view: one run per (source, session id), subagents as child runs.

The fold keeps what a run's records say (first seq and time, cwd, models, prompts,
steps, lineage, terminal and failure facts, the agent process that sent its hook
events, and when its last turn started and ended); the status is decided at query
time, from those facts, the wall clock and the process table, both handed in by
the caller (``now`` and ``alive``): the view stays a pure function of the log.
Times are event times (:mod:`projections.timestamps`): a run imported today from
last month's transcripts starts last month.

Status rules (``docs/reference/views.md`` has the table per agent):

- ``failed``: the last turn failed (Claude Code ``StopFailure``, Cursor ``stop`` or
  ``sessionEnd`` with status or reason ``error``, OpenCode ``session.error``) and no
  turn has started or completed since, whether or not the session then ended.
- ``ended``: a terminal event and nothing since that starts a new turn. Terminal:
  ``SessionEnd`` (Claude Code, Codex, Gemini), ``sessionEnd`` (Cursor),
  ``session.deleted`` (OpenCode); for a child run ``SubagentStop`` /
  ``subagentStop``. A run known only from transcript lines (an import) is ``ended``.
  So is a run whose last turn finished and whose agent process is gone.
- ``active``: its agent process is alive; or, where that cannot be known (no agent
  process recorded: old records, other platforms), quiet for at most ``idle_ns``.
- ``interrupted``: the last turn did not finish (a prompt or tool call after the last
  turn end: ``Stop``, ``AfterAgent``, ``agent-turn-complete``, Cursor ``stop``,
  OpenCode ``session.idle``) and the agent process is gone, or, where that cannot be
  known, the run has been quiet for longer than ``idle_ns`` before ``now``.

A run that ended becomes live again when a new turn starts with the same id
(``SessionStart``, a prompt, a tool start, an OpenCode user message): that is a
resume. Events that merely trail an end (a late ``PostToolUse``, the transcript lines
captured at ``SessionEnd``) do not revive it. A child run's records also count as
activity of its parent, so a session waiting on a long subagent stays active.

Gemini CLI's chat lines name their session only in the file's first line; the models
of the others go to the Gemini run whose record immediately precedes them
(:func:`projections.runfacts.gemini_chat_line`).
"""

from __future__ import annotations

import shlex
import struct
from typing import TYPE_CHECKING, ClassVar

import msgspec

from journal.errors import AmbiguousPrefixError, NotFoundError, UsageError

from .identity import UNSET, event_of
from .runfacts import (
    BUS_FACT_KINDS,
    HOOK_ACTIONS,
    RunRow,
    agent_facts,
    bus_facts,
    decode_row,
    encode_row,
    gemini_chat_line,
    gemini_seen,
    hook_facts,
    line_facts,
    rollout_facts,
    turn_role,
)
from .runstatus import Clock, status_of
from .steps import KINDS as STEP_KINDS
from .steps import pair, tools_of
from .view import View

if TYPE_CHECKING:
    from collections.abc import Callable

    from journal.records import Record

    from .view import State

    #: ``alive(pid, start, boot) -> bool | None``: is that exact process running
    #: (None: cannot tell). :func:`journal.agents.process.alive` in the CLI.
    Alive = Callable[[int, int, str], bool | None]

__all__ = [
    "DEFAULT_IDLE_NS",
    "STATUSES",
    "Run",
    "RunsView",
    "child_runs",
    "get_run",
    "interrupted_runs",
    "list_runs",
    "resume_command",
]

#: Where an agent's liveness cannot be known, a run quiet this long is no longer active.
DEFAULT_IDLE_NS = 30 * 60 * 1_000_000_000
STATUSES = ("active", "ended", "failed", "interrupted")

_RESUME = {
    "claude-code": "claude --resume {}",
    "codex": "codex resume {}",
    "gemini": "gemini --resume {}",
    "opencode": "opencode --session {}",
}
_MAX_AMBIGUOUS = 10

# Last seq, last event time, and the event times of the last turn's start and end:
# written on every record, so the facts row is rewritten only when a fact changes.
_LAST = struct.Struct(">QQQQ")
_RUNS = b"r:"
_LASTS = b"l:"
_SESSIONS = b"s:"
_CHILDREN = b"c:"
_PROMPT_KEYS = b"k:"


class Run(msgspec.Struct, frozen=True, kw_only=True, tag="projections.run"):
    """One run as the runs view knows it, with its status at query time.

    Times are event times in nanoseconds. ``terminal`` says a terminal event was
    the last word; ``error`` names the failure when ``status`` is ``failed``;
    ``resume`` is the command that resumes the session (None for subagents and
    agents without one). ``agent_pid``/``agent_start``/``agent_boot`` name the agent
    process of its newest hook event, ``agent_alive`` what the process table said of
    it at query time (None: not asked, or cannot tell); ``turn_open`` says the last
    turn started and did not finish. ``origin`` is the journal its records were first
    appended to (DESIGN §2): another journal's id for a run pulled into a team journal,
    else this journal's own id (None where it has none yet).
    """

    run_id: str
    session_id: str
    source: str
    status: str
    parent_run_id: str | None
    first_seq: int
    last_seq: int
    first_time: int
    last_time: int
    cwd: str | None
    models: list[str]
    prompts: int
    steps: int
    agent_id: str | None
    agent_type: str | None
    transcript_path: str | None
    start_sources: list[str]
    end_reason: str | None
    terminal: bool
    resume: str | None
    error: str | None = None
    turn_open: bool = False
    agent_pid: int | None = None
    agent_start: int | None = None
    agent_boot: str | None = None
    agent_alive: bool | None = None
    origin: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``runs --json`` items (DESIGN §5 names, and more)."""
        return msgspec.structs.asdict(self)


class RunsView(View):
    """One run per (source, session id); see the module docstring for the rules."""

    name: ClassVar[str] = "runs"
    version: ClassVar[int] = 4
    kinds: ClassVar[frozenset[str] | None] = None

    def __init__(self) -> None:
        # Decoded rows by run id, valid only while the state still holds the very
        # bytes object they were decoded from (bytes are immutable, so identity
        # implies equal content): it saves a decode per record, never changes one.
        self._rows: dict[bytes, tuple[bytes, RunRow]] = {}

    def _remember(self, run_b: bytes, raw: bytes, row: RunRow) -> None:
        rows = self._rows
        if len(rows) >= 4096:
            rows.clear()
        rows[run_b] = (raw, row)

    def apply(self, state: State, record: Record) -> None:
        """Fold one record into its run (and touch its parent run, if any)."""
        ev = event_of(record)
        if record.source == "gemini":
            if ev is None:
                # A chat line without its session: its model goes to the run before it.
                self._rows.pop(gemini_chat_line(state, record, _RUNS) or b"", None)
                return
            gemini_seen(state, ev.run_b, record.seq)
        if ev is None:
            return
        run_b = ev.run_b
        key = _RUNS + run_b
        raw = state.get(key)
        rows = self._rows
        cached = None
        if raw is None:
            row = _new_row(state, ev.run_id, ev.session_id, record, ev.time if ev.timed else 0)
            row.agent_id = ev.agent_id
            changed = new = True
        else:
            cached = rows.get(run_b)
            if cached is not None and cached[0] is raw:
                row = cached[1]
            else:
                row, cached = decode_row(raw), None
            changed = new = False
        when = ev.time if ev.timed else 0
        last = _last(state, run_b, record.seq, when, turn_role(ev))
        kind = record.kind
        if ev.timed and (when < row.first_time or not row.first_time):
            row.first_time, changed = when, True
        try:
            if record.agent_pid is not None:
                changed |= agent_facts(row, record, when)
            if ev.parent_run_id is not None and row.parent_run_id is None:
                row.parent_run_id = ev.parent_run_id
                state.put(_CHILDREN + ev.parent_run_id.encode() + b"\x00" + run_b, b"")
                changed = True
            hook = ev.hook
            if hook is not None:
                if (
                    new
                    or not row.observed
                    or hook.model is not None
                    or kind in HOOK_ACTIONS
                    or row.cwd is None
                ):
                    changed |= hook_facts(state, ev, row, run_b, new)
            elif ev.props is not None:
                if new or not row.observed or kind in BUS_FACT_KINDS:
                    changed |= bus_facts(state, ev, row, run_b)
            elif ev.line is not None:
                if row.cwd is None or ev.line.type in ("assistant", "user"):
                    changed |= line_facts(state, ev, row, run_b)
            elif ev.rollout is not None:
                changed |= rollout_facts(state, ev, row, run_b)
            if kind in STEP_KINDS:
                found = ev.tool
                if found is UNSET:
                    found = tools_of(ev)
                for te in found:
                    if pair(state, te, record.seq, record.digest):
                        row.steps += 1
                        changed = True
        except BaseException:
            rows.pop(run_b, None)
            raise
        if changed or raw is None:
            raw = encode_row(row)
            state.put(key, raw)
            cached = None
        if cached is None:
            self._remember(run_b, raw, row)
        if row.parent_run_id is not None:
            self._touch(state, row.parent_run_id, record, last)

    def _touch(self, state: State, parent: str, record: Record, when: int) -> None:
        """A child's record is activity of its parent run, created if not seen yet."""
        parent_b = parent.encode()
        _last(state, parent_b, record.seq, when, 0)
        if state.get(_RUNS + parent_b) is None:
            row = _new_row(state, parent, parent[len(record.source) + 1 :], record, when)
            raw = encode_row(row)
            state.put(_RUNS + parent_b, raw)
            self._remember(parent_b, raw, row)


def _last(state: State, run_b: bytes, seq: int, when: int, role: int) -> int:
    """Move a run's last seq and time (the newest event time) and its turn times.

    ``role`` is 1 for a turn's activity (a prompt, a tool call), -1 for a turn's end,
    0 for neither (:func:`projections.runfacts.turn_role`); ``when`` 0 is a record
    without a time of its own, which moves only the seq. Returns ``when``.
    """
    key = _LASTS + run_b
    old = state.get(key)
    if old is None:
        last_time = turn_start = turn_end = 0
    else:
        _, last_time, turn_start, turn_end = _LAST.unpack(old)
    if role > 0 and when > turn_start:
        turn_start = when
    elif role < 0 and when > turn_end:
        turn_end = when
    state.put(key, _LAST.pack(seq, max(last_time, when), turn_start, turn_end))
    return when


def _new_row(state: State, run_id: str, session_id: str, record: Record, when: int) -> RunRow:
    """A new run; a session's run (not a subagent's) is indexed by its session id."""
    row = RunRow(
        session_id=session_id,
        source=record.source,
        first_seq=record.seq,
        first_time=when,
        origin=record.origin,
    )
    if not run_id.startswith(f"{record.source}/{session_id}/"):
        state.put(_SESSIONS + session_id.encode() + b"\x00" + run_id.encode(), b"")
    return row


def resume_command(source: str, session_id: str) -> str | None:
    """The shell command that resumes a session of ``source``, or None if unknown."""
    template = _RESUME.get(source)
    return template.format(shlex.quote(session_id)) if template is not None else None


def _run(run_id: str, row: RunRow, last: bytes | None, clock: Clock) -> Run:
    if last:
        last_seq, last_time, turn_start, turn_end = _LAST.unpack(last)
    else:
        last_seq, last_time, turn_start, turn_end = row.first_seq, row.first_time, 0, 0
    turn_open = turn_start > turn_end
    status, live = status_of(row, last_time, turn_open, clock)
    child = row.parent_run_id is not None or row.agent_id is not None
    return Run(
        run_id=run_id,
        session_id=row.session_id,
        source=row.source,
        status=status,
        parent_run_id=row.parent_run_id,
        first_seq=row.first_seq,
        last_seq=last_seq,
        first_time=row.first_time,
        last_time=last_time,
        cwd=row.cwd,
        models=list(row.models),
        prompts=row.prompts,
        steps=row.steps,
        agent_id=row.agent_id,
        agent_type=row.agent_type,
        transcript_path=row.transcript_path,
        start_sources=list(row.start_sources),
        end_reason=row.end_reason,
        terminal=row.terminal,
        resume=None if child else resume_command(row.source, row.session_id),
        error=row.failure if status == "failed" else None,
        turn_open=turn_open,
        agent_pid=row.agent_pid,
        agent_start=row.agent_start,
        agent_boot=row.agent_boot,
        agent_alive=live,
        origin=row.origin or clock.origin,
    )


def _one(state: State, run_id: str, clock: Clock) -> Run | None:
    run_b = run_id.encode()
    raw = state.get(_RUNS + run_b)
    if raw is None:
        return None
    return _run(run_id, decode_row(raw), state.get(_LASTS + run_b), clock)


def list_runs(
    state: State,
    *,
    now: int,
    idle_ns: int = DEFAULT_IDLE_NS,
    alive: Alive | None = None,
    status: str | None = None,
    source: str | None = None,
) -> list[Run]:
    """Every run, oldest first, optionally only those with ``status`` / ``source``.

    ``now`` (ns) and ``alive`` (the process table; None: liveness unknown) decide
    each status, see the module docstring.

    Raises:
        UsageError: ``status`` is not one of :data:`STATUSES`.
    """
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    clock = Clock(state, now, idle_ns, alive)
    lasts = dict(state.scan(_LASTS))
    runs = []
    prefix = _RUNS + source.encode() + b"/" if source is not None else _RUNS
    for key, raw in state.scan(prefix):
        run_b = key[len(_RUNS) :]
        run = _run(run_b.decode(), decode_row(raw), lasts.get(_LASTS + run_b), clock)
        if status is None or run.status == status:
            runs.append(run)
    runs.sort(key=lambda run: (run.first_seq, run.run_id))
    return runs


def interrupted_runs(
    state: State, *, now: int, idle_ns: int = DEFAULT_IDLE_NS, alive: Alive | None = None
) -> list[Run]:
    """Runs whose last turn was cut off (see the module docstring), oldest first."""
    return list_runs(state, now=now, idle_ns=idle_ns, alive=alive, status="interrupted")


def child_runs(
    state: State,
    run_id: str,
    *,
    now: int,
    idle_ns: int = DEFAULT_IDLE_NS,
    alive: Alive | None = None,
) -> list[Run]:
    """The runs whose parent is ``run_id`` (subagents, child sessions), oldest first."""
    clock = Clock(state, now, idle_ns, alive)
    prefix = _CHILDREN + run_id.encode() + b"\x00"
    found = []
    for key, _ in state.scan(prefix):
        run = _one(state, key[len(prefix) :].decode(), clock)
        if run is not None:
            found.append(run)
    found.sort(key=lambda run: (run.first_seq, run.run_id))
    return found


def _candidates(state: State, ident: str) -> list[str]:
    ident_b = ident.encode()
    exact = [key.split(b"\x00", 1)[1] for key, _ in state.scan(_SESSIONS + ident_b + b"\x00")]
    if exact:
        return sorted(run_b.decode() for run_b in exact)
    found = {key[len(_RUNS) :].decode() for key, _ in state.scan(_RUNS + ident_b)}
    for key, _ in state.scan(_SESSIONS + ident_b):
        found.add(key.split(b"\x00", 1)[1].decode())
    # A prefix of a session's run id also prefixes its subagents' ids: the session wins.
    return sorted(c for c in found if not any(c.startswith(p + "/") for p in found))


def get_run(
    state: State,
    ident: str,
    *,
    now: int,
    idle_ns: int = DEFAULT_IDLE_NS,
    alive: Alive | None = None,
) -> Run:
    """The run named by ``ident``: a run id, a session id, or a unique prefix of either.

    An exact run id wins, then an exact session id, then prefixes.

    Raises:
        UsageError: ``ident`` is empty.
        NotFoundError: nothing matches.
        AmbiguousPrefixError: several runs match; the message lists them.
    """
    if not ident:
        raise UsageError("a run id or session id is required")
    clock = Clock(state, now, idle_ns, alive)
    run = _one(state, ident, clock)
    if run is not None:
        return run
    candidates = _candidates(state, ident)
    if not candidates:
        raise NotFoundError(f"no run matches {ident!r}")
    if len(candidates) > 1:
        shown = ", ".join(candidates[:_MAX_AMBIGUOUS])
        more = len(candidates) - _MAX_AMBIGUOUS
        tail = f" and {more} more" if more > 0 else ""
        raise AmbiguousPrefixError(f"{ident!r} matches {len(candidates)} runs: {shown}{tail}")
    found = _one(state, candidates[0], clock)
    if found is None:
        raise NotFoundError(f"no run matches {ident!r}")
    return found
