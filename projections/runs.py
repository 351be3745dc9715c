"""The runs view: one run per (source, session id), subagents as child runs.

The fold keeps what a run's records say (first seq and time, cwd, models, prompts,
steps, lineage, terminal and failure facts); the status is decided at query time,
because ``interrupted`` depends on how long the run has been quiet. That is measured
against ``newest_time``, the ``received_at`` of the newest record in the log, never
the wall clock: the view stays a pure function of the log, and a journal copied
elsewhere or read a year later still says the same thing.

Status rules (``docs/reference/views.md`` has the table per agent):

- ``ended``: a terminal event and nothing since that starts a new turn. Terminal:
  ``SessionEnd`` (Claude Code, Codex, Gemini), ``sessionEnd`` (Cursor),
  ``session.deleted`` (OpenCode); for a child run ``SubagentStop`` /
  ``subagentStop``. A run known only from transcript lines (an import) is ``ended``.
- ``failed``: the last turn failed (Claude Code ``StopFailure``, Cursor ``stop`` or
  ``sessionEnd`` with status or reason ``error``, OpenCode ``session.error``) and no
  turn has started or completed since, whether or not the session then ended.
- ``active`` / ``interrupted``: no terminal event; ``interrupted`` once the run has
  been quiet for longer than ``idle_ns`` before ``newest_time``.

A run that ended becomes live again when a new turn starts with the same id
(``SessionStart``, a prompt, a tool start, an OpenCode user message): that is a
resume. Events that merely trail an end (a late ``PostToolUse``, the transcript lines
captured at ``SessionEnd``) do not revive it. A child run's records also count as
activity of its parent, so a session waiting on a long subagent stays active.
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
    bus_facts,
    decode_row,
    encode_row,
    hook_facts,
    line_facts,
)
from .steps import KINDS as STEP_KINDS
from .steps import pair, tool_of
from .view import View

if TYPE_CHECKING:
    from journal.records import Record

    from .view import State

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

#: A run with no terminal event and no record for this long is ``interrupted``.
DEFAULT_IDLE_NS = 30 * 60 * 1_000_000_000
STATUSES = ("active", "ended", "failed", "interrupted")

_RESUME = {
    "claude-code": "claude --resume {}",
    "codex": "codex resume {}",
    "gemini": "gemini --resume {}",
    "opencode": "opencode --session {}",
}
_MAX_AMBIGUOUS = 10

_LAST = struct.Struct(">QQ")
_RUNS = b"r:"
_LASTS = b"l:"
_SESSIONS = b"s:"
_CHILDREN = b"c:"
_PROMPT_KEYS = b"k:"


class Run(msgspec.Struct, frozen=True, kw_only=True, tag="projections.run"):
    """One run as the runs view knows it, with its status at query time.

    Times are ``received_at`` nanoseconds. ``terminal`` says a terminal event was the
    last word; ``error`` names the failure when ``status`` is ``failed``; ``resume``
    is the command that resumes the session (None for subagents and agents without
    one).
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

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``runs --json`` items (DESIGN §5 names, and more)."""
        return msgspec.structs.asdict(self)


class RunsView(View):
    """One run per (source, session id); see the module docstring for the rules."""

    name: ClassVar[str] = "runs"
    version: ClassVar[int] = 1
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
        if ev is None:
            return
        run_b = ev.run_b
        key = _RUNS + run_b
        raw = state.get(key)
        rows = self._rows
        cached = None
        if raw is None:
            row = _new_row(state, ev.run_id, ev.session_id, record)
            row.agent_id = ev.agent_id
            changed = new = True
        else:
            cached = rows.get(run_b)
            if cached is not None and cached[0] is raw:
                row = cached[1]
            else:
                row, cached = decode_row(raw), None
            changed = new = False
        last = _LAST.pack(record.seq, record.received_at)
        state.put(_LASTS + run_b, last)
        kind = record.kind
        try:
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
            elif row.cwd is None or (ev.line is not None and ev.line.type == "assistant"):
                changed |= line_facts(ev, row)
            if kind in STEP_KINDS:
                te = ev.tool
                if te is UNSET:
                    te = tool_of(ev)
                if te is not None and pair(state, te, record.seq, record.digest):
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

    def _touch(self, state: State, parent: str, record: Record, last: bytes) -> None:
        """A child's record is activity of its parent run, created if not seen yet."""
        parent_b = parent.encode()
        state.put(_LASTS + parent_b, last)
        if state.get(_RUNS + parent_b) is None:
            row = _new_row(state, parent, parent[len(record.source) + 1 :], record)
            raw = encode_row(row)
            state.put(_RUNS + parent_b, raw)
            self._remember(parent_b, raw, row)


def _new_row(state: State, run_id: str, session_id: str, record: Record) -> RunRow:
    """A new run; a session's run (not a subagent's) is indexed by its session id."""
    row = RunRow(
        session_id=session_id,
        source=record.source,
        first_seq=record.seq,
        first_time=record.received_at,
    )
    if not run_id.startswith(f"{record.source}/{session_id}/"):
        state.put(_SESSIONS + session_id.encode() + b"\x00" + run_id.encode(), b"")
    return row


def resume_command(source: str, session_id: str) -> str | None:
    """The shell command that resumes a session of ``source``, or None if unknown."""
    template = _RESUME.get(source)
    return template.format(shlex.quote(session_id)) if template is not None else None


def _status(row: RunRow, last_time: int, newest_time: int, idle_ns: int) -> str:
    if row.terminal:
        return "failed" if row.failure is not None else "ended"
    if row.failure is not None:
        return "failed"
    if not row.observed:
        return "ended"
    return "interrupted" if newest_time - last_time > idle_ns else "active"


def _run(run_id: str, row: RunRow, last: bytes | None, newest_time: int, idle_ns: int) -> Run:
    last_seq, last_time = _LAST.unpack(last) if last else (row.first_seq, row.first_time)
    status = _status(row, last_time, newest_time, idle_ns)
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
    )


def _one(state: State, run_id: str, newest_time: int, idle_ns: int) -> Run | None:
    run_b = run_id.encode()
    raw = state.get(_RUNS + run_b)
    if raw is None:
        return None
    return _run(run_id, decode_row(raw), state.get(_LASTS + run_b), newest_time, idle_ns)


def list_runs(
    state: State,
    *,
    newest_time: int,
    idle_ns: int = DEFAULT_IDLE_NS,
    status: str | None = None,
    source: str | None = None,
) -> list[Run]:
    """Every run, oldest first, optionally only those with ``status`` / ``source``.

    Raises:
        UsageError: ``status`` is not one of :data:`STATUSES`.
    """
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    lasts = dict(state.scan(_LASTS))
    runs = []
    prefix = _RUNS + source.encode() + b"/" if source is not None else _RUNS
    for key, raw in state.scan(prefix):
        run_b = key[len(_RUNS) :]
        run = _run(run_b.decode(), decode_row(raw), lasts.get(_LASTS + run_b), newest_time, idle_ns)
        if status is None or run.status == status:
            runs.append(run)
    runs.sort(key=lambda run: (run.first_seq, run.run_id))
    return runs


def interrupted_runs(
    state: State, *, newest_time: int, idle_ns: int = DEFAULT_IDLE_NS
) -> list[Run]:
    """Runs with no terminal event, quiet for longer than ``idle_ns``: oldest first."""
    return list_runs(state, newest_time=newest_time, idle_ns=idle_ns, status="interrupted")


def child_runs(
    state: State, run_id: str, *, newest_time: int, idle_ns: int = DEFAULT_IDLE_NS
) -> list[Run]:
    """The runs whose parent is ``run_id`` (subagents, child sessions), oldest first."""
    prefix = _CHILDREN + run_id.encode() + b"\x00"
    found = []
    for key, _ in state.scan(prefix):
        run = _one(state, key[len(prefix) :].decode(), newest_time, idle_ns)
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


def get_run(state: State, ident: str, *, newest_time: int, idle_ns: int = DEFAULT_IDLE_NS) -> Run:
    """The run named by ``ident``: a run id, a session id, or a unique prefix of either.

    An exact run id wins, then an exact session id, then prefixes.

    Raises:
        UsageError: ``ident`` is empty.
        NotFoundError: nothing matches.
        AmbiguousPrefixError: several runs match; the message lists them.
    """
    if not ident:
        raise UsageError("a run id or session id is required")
    run = _one(state, ident, newest_time, idle_ns)
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
    found = _one(state, candidates[0], newest_time, idle_ns)
    if found is None:
        raise NotFoundError(f"no run matches {ident!r}")
    return found
