"""``journal forget RUN [--yes] [--json]``: erase a run's payload bytes, keep their digests.

Thin like the rest of the CLI: :mod:`projections.queries` finds the run (its own
records, its subagents' and its transcript lines), :func:`journal.forget.forget`
erases their payloads (DESIGN §7); this module asks first and renders the answer.
"""

from __future__ import annotations

import sys

import click

from journal.errors import JournalError

from .common import Context, echo_json, fail

__all__ = ["forget"]


@click.command()
@click.argument("run")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print what was erased as JSON.")
@click.pass_obj
def forget(obj: Context, run: str, yes: bool, as_json: bool) -> None:
    """Erase the payloads of RUN, its subagent runs and transcript lines.

    Every record and its digest stay, so the hash chain still verifies; `verify`
    counts the payloads as erased. A payload that a record outside the run shares
    stays. The erasure is itself recorded (kind journal.forget, no content), and the
    views are built again from the log on the next query.
    """
    from journal.forget import forget as forget_run
    from projections import queries

    try:
        journal = obj.journal()
        match = queries.run_match(journal, run)
        seqs = [record.seq for record in queries.run_records(journal, match)]
    except JournalError as exc:
        raise fail(exc) from None
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException(
                f"not forgetting run {match.run_id} without --yes: stdin is not a terminal"
            )
        click.confirm(
            f"Erase the payloads of {len(seqs)} records of run {match.run_id}? "
            "This cannot be undone",
            abort=True,
        )
    try:
        report = forget_run(journal, seqs, run_id=match.run_id)
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json(report)
        return
    click.echo(
        f"forgot run {report.run_id}: {len(report.seqs)} records, "
        f"{len(report.erased)} payloads erased, {len(report.kept)} kept (shared with "
        f"other runs); recorded as seq {report.forget_seq}"
    )
