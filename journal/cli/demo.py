"""``journal demo``: a fresh journal from a bundled, real-shaped Claude Code session.

The session (``journal/cli/demo-session.jsonl``) is real hook payloads re-threaded
into one session by ``tools/make_demo_session.py``, with the transcript lines the
hooks capture after ``SubagentStop`` and ``Stop`` (the lines without
``hook_event_name``). Each event is appended the way a hook appends it (one
process-style append each, with an idempotency key where Claude Code gives an id),
each transcript line as a record of kind ``transcript``; then the demo prints the
log, stats and verify, and the views.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from journal.errors import InvalidPayloadError, JournalError

from .common import Context, fail

if TYPE_CHECKING:
    from collections.abc import Callable

    from journal.store import LmdbJournal

# Every `journal` command imports this module to register `demo`: the session file,
# tempfile (random, hashlib) and the store are loaded only when the demo runs.

__all__ = ["demo", "demo_events", "demo_records", "receive_times", "run_demo"]

TRANSCRIPT = "transcript"


def demo_records() -> list[tuple[str | None, bytes]]:
    """The bundled session in journal order: (kind, payload) per record.

    The kind is ``transcript`` for a transcript line, None for a hook event (its
    kind is its ``hook_event_name``).
    """
    from importlib import resources

    text = resources.files("journal.cli").joinpath("demo-session.jsonl").read_bytes()
    return [
        (None if b'"hook_event_name"' in line else TRANSCRIPT, line)
        for line in text.split(b"\n")
        if line
    ]


def demo_events() -> list[bytes]:
    """Return the bundled session's hook payloads, one compact JSON object each."""
    return [payload for kind, payload in demo_records() if kind is None]


def receive_times(records: list[tuple[str | None, bytes]]) -> list[int]:
    """A plausible ``received_at`` (ns) for each record of the bundled session.

    Its transcript lines carry the times they were written; its hook events carry
    none, and appended now they would sit a year after their own transcript lines.
    The hooks of a turn come just before the lines captured at its end, so each run of
    hook events is spread over the span of the transcript lines that follow it (the
    last ones, after the final capture, a second apart).
    """
    import datetime
    import json

    def stamp(payload: bytes) -> int:
        text = json.loads(payload)["timestamp"].replace("Z", "+00:00")
        return int(datetime.datetime.fromisoformat(text).timestamp() * 1e9)

    times: list[int] = [0] * len(records)
    last = 0
    i = 0
    while i < len(records):
        if records[i][0] is not None:
            last = times[i] = stamp(records[i][1])
            i += 1
            continue
        hooks = i
        while i < len(records) and records[i][0] is None:
            i += 1
        lines = i
        while i < len(records) and records[i][0] is not None:
            i += 1
        if lines < len(records):
            span = [stamp(payload) for _kind, payload in records[lines:i]]
            low, high = max(last, min(span) - 1_000_000_000), max(span)
        else:
            low, high = last + 1_000_000_000, last + (lines - hooks) * 1_000_000_000
        count = lines - hooks
        for n in range(count):
            times[hooks + n] = low + (high - low) * n // max(count - 1, 1)
        i = lines
    return times


def _key(payload: bytes) -> str | None:
    import json

    event = json.loads(payload)
    tool_use_id = event.get("tool_use_id")
    if tool_use_id:
        return f"claude-code:{tool_use_id}:{event['hook_event_name']}"
    return None


def _show_views(journal: LmdbJournal, echo: Callable[[str], None]) -> None:
    """Print the runs and steps views of the demo journal, as their commands do."""
    from projections import queries

    from .views import render_runs, render_steps, short_run_id

    runs = queries.runs(journal)
    echo("")
    echo("$ journal runs")
    for line in render_runs(runs):
        echo(line)
    session = next(run for run in runs if run.parent_run_id is None)
    echo("")
    echo(f"$ journal steps {short_run_id(session.run_id)}")
    for line in render_steps(queries.steps(journal, session.run_id)):
        echo(line)
    echo("")
    echo("$ journal interrupted")
    stopped = queries.interrupted(journal)
    echo(f"{len(stopped)} interrupted runs" if stopped else "no interrupted runs")
    _show_costs(journal, echo)
    _show_changes(journal, short_run_id(session.run_id), echo)


def _show_changes(journal: LmdbJournal, run: str, echo: Callable[[str], None]) -> None:
    """Print what the demo session changed in files, and its diff, as their commands do."""
    from projections.changequeries import run_changes, run_diff

    from .changes import render_changes

    echo("")
    echo(f"$ journal changes {run}")
    for line in render_changes(run_changes(journal, run)):
        echo(line)
    echo("")
    echo(f"$ journal diff {run}")
    echo(run_diff(journal, run).rstrip("\n"))


def _show_costs(journal: LmdbJournal, echo: Callable[[str], None]) -> None:
    """Print the costs of the demo session by run and by model, as ``journal costs``."""
    from projections.costqueries import costs

    from .costs import render_costs

    for by in ("run", "model"):
        echo("")
        echo(f"$ journal costs --by {by}")
        for line in render_costs(costs(journal, by=by, price_file=os.devnull)):
            echo(line)


def run_demo(home: str | None, *, keep: bool, echo: Callable[[str], None]) -> str:
    """Build the demo journal under ``home`` (a new temporary one if None)."""
    import shutil
    import tempfile

    from journal.store import LmdbJournal

    target = home or tempfile.mkdtemp(prefix="agent-journal-demo-")
    records = demo_records()
    events = demo_events()
    lines = len(records) - len(events)
    echo(f"journal home: {target}")
    echo(
        f"appending {len(events)} events and {lines} transcript lines "
        "of a real-shaped Claude Code session…"
    )
    try:
        with LmdbJournal(target) as journal:
            for (kind, payload), at in zip(records, receive_times(records), strict=True):
                if kind is None:
                    journal.append(payload, source="claude-code", key=_key(payload), received_at=at)
                else:
                    journal.append(payload, source="claude-code", kind=kind, received_at=at)
            # A repeated delivery of a tool event is one record (idempotency key) ...
            journal.append(events[3], source="claude-code", key=_key(events[3]))
            # ... and bad input is never dropped: it is quarantined with its reason.
            try:
                journal.append(b'{"hook_event_name": "Stop", ', source="claude-code")
            except InvalidPayloadError as exc:
                echo(f"bad input quarantined as #{exc.quarantine_id}: {exc.reason}")
            echo("")
            echo("$ journal log")
            for record in journal.read():
                preview = record.payload[:60].decode("utf-8", "replace")
                echo(
                    f"{record.seq:>4}  {record.source}  {record.kind:<18} "
                    f"{record.digest[:12]}  {preview}…"
                )
            stats = journal.stats()
            echo("")
            echo("$ journal stats")
            echo(
                f"head_seq {stats.head_seq}  records {stats.records}  blobs {stats.blobs}  "
                f"quarantined {stats.quarantined}  spooled {stats.spooled}  "
                f"sources {stats.sources}"
            )
            report = journal.verify()
            echo("")
            echo("$ journal verify")
            echo(
                f"{'ok' if report.ok else 'FAILED'}: {report.records_checked} records, "
                f"{report.blobs_checked} blobs, head {report.head_digest}"
            )
            _show_views(journal, echo)
    finally:
        if home is None and not keep:
            shutil.rmtree(target, ignore_errors=True)
    if home is None and keep:
        echo(f"kept: journal --home {target} log")
    return target


@click.command()
@click.option("--keep", is_flag=True, help="Keep the demo home instead of deleting it.")
@click.pass_obj
def demo(obj: Context, keep: bool) -> None:
    """Build a journal from a bundled realistic session in a fresh home and show it."""
    try:
        run_demo(obj.home, keep=keep, echo=click.echo)
    except JournalError as exc:
        raise fail(exc) from None
