"""The log commands: ``append``, ``log``, ``show``, ``verify`` and ``stats``."""

from __future__ import annotations

import itertools
import sys
from typing import TYPE_CHECKING

import click

from journal.errors import InvalidPayloadError, JournalError
from journal.results import Appended, Quarantined

from .common import Context, echo_json, fail, progress_bar, time_text
from .follow import tail, wanted_by

if TYPE_CHECKING:
    from collections.abc import Iterator

    from journal.records import Record
    from journal.store import LmdbJournal

__all__ = ["LOG_COMMANDS"]


@click.command()
@click.option("--source", default="generic", show_default=True, help="Who sent the event.")
@click.option(
    "--kind", default=None, help="Event kind (default: the payload's hook_event_name or type)."
)
@click.option("--key", default=None, help="Idempotency key: a known key returns the original seq.")
@click.option(
    "--batch", is_flag=True, help="Read JSON Lines: one record per line, one transaction."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def append(
    obj: Context, source: str, kind: str | None, key: str | None, batch: bool, as_json: bool
) -> None:
    """Append one JSON object from stdin and print its seq and digest.

    With --batch, each stdin line is one payload; good lines land together and bad
    lines are quarantined (exit 1, naming each bad line). With --batch --key K, line
    N gets the key K:N, so re-running the same batch appends nothing twice.
    """
    data = sys.stdin.buffer.read()
    try:
        journal = obj.journal(write=True)
        if not batch:
            result = journal.append(data, source=source, kind=kind, key=key)
            _drain_spool(journal)
            if as_json:
                echo_json(result.to_dict())
            else:
                click.echo(f"{result.seq} {result.digest}")
            return
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        results = journal.append_batch(lines, source=source, kind=kind, key=key)
        _drain_spool(journal)
    except InvalidPayloadError as exc:
        raise click.ClickException(
            f"invalid payload: {exc.reason} (quarantined as #{exc.quarantine_id})"
        ) from None
    except JournalError as exc:
        raise fail(exc) from None
    _report_batch(results, as_json)


def _drain_spool(journal: LmdbJournal) -> None:
    """The journal is writable again: take in what hooks spooled meanwhile (DESIGN §3)."""
    from journal.agents import spool

    if spool.has_pending(journal.home):
        spool.drain(journal)


def _spooled(home: str) -> int:
    """Events waiting for this home (its spool and the fallback), as the drain finds them."""
    from journal.agents import spool

    return len(spool.waiting(home))


def _report_batch(results: list[Appended | Quarantined], as_json: bool) -> None:
    bad = [r for r in results if isinstance(r, Quarantined)]
    if as_json:
        echo_json([r.to_dict() for r in results])
    else:
        out = sys.stdout
        for r in results:
            if isinstance(r, Appended):
                out.write(f"{r.seq} {r.digest}\n")
    for r in bad:
        click.echo(
            f"line {r.line}: invalid payload: {r.reason} (quarantined as #{r.quarantine_id})",
            err=True,
        )
    if bad:
        good = len(results) - len(bad)
        raise click.ClickException(f"{good} appended, {len(bad)} quarantined")


def _records(
    obj: Context,
    after: int,
    limit: int | None,
    kinds: tuple[str, ...],
    sources: tuple[str, ...],
    run_ident: str | None,
    follow: bool,
) -> Iterator[Record]:
    """What ``log`` prints. Following, the log is not kept open: each poll opens it."""
    journal = obj.journal()
    if not follow:
        if run_ident is not None:
            from .views import run_log

            return run_log(
                journal, run_ident, after=after, limit=limit, kinds=kinds, sources=sources
            )
        return journal.read(after=after, limit=limit, kinds=kinds or None, sources=sources or None)
    start, keep = after, wanted_by(kinds, sources)
    if run_ident is not None:
        from .views import run_follow

        start, keep = run_follow(journal, run_ident, after=after, keep=keep)
    obj.close()
    return itertools.islice(tail(obj.open, start, keep), limit)


@click.command()
@click.option(
    "--after", type=click.IntRange(min=0), default=0, help="Only records with seq > AFTER."
)
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most LIMIT records.")
@click.option("--kind", "kinds", multiple=True, help="Only this kind (repeatable).")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option(
    "--run",
    "run_ident",
    default=None,
    metavar="ID",
    help="Only records of this run and its subagents (run id, session id, or a prefix).",
)
@click.option("--quarantine", is_flag=True, help="List quarantined input instead of records.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new records as they land.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def log(
    obj: Context,
    after: int,
    limit: int | None,
    kinds: tuple[str, ...],
    sources: tuple[str, ...],
    run_ident: str | None,
    quarantine: bool,
    follow: bool,
    as_json: bool,
) -> None:
    """Print records in seq order (or quarantined input with --quarantine)."""
    try:
        journal = obj.journal()
        if quarantine:
            for entry in journal.quarantined(after=after, limit=limit):
                if as_json:
                    echo_json(entry.to_dict())
                else:
                    preview = entry.data[:60].decode("utf-8", "replace").replace("\n", "\\n")
                    click.echo(
                        f"#{entry.id}  {time_text(entry.received_at)}  {entry.source}  "
                        f"{entry.reason}  {len(entry.data)} bytes  {preview}"
                    )
            return
        for record in _records(obj, after, limit, kinds, sources, run_ident, follow):
            if as_json:
                echo_json(record.to_dict())
            else:
                preview = record.payload[:80].decode("utf-8", "replace")
                preview = preview.replace("\r", " ").replace("\n", " ")
                click.echo(
                    f"{record.seq:>6}  {time_text(record.received_at)}  {record.source:<11}  "
                    f"{record.kind:<18}  {record.digest[:12]}  {preview}"
                )
            sys.stdout.flush()
    except JournalError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        return


@click.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: Context, ref: str, as_json: bool) -> None:
    """Show one record (REF is a seq) or one blob (REF is a digest or unique prefix)."""
    try:
        journal = obj.journal()
        if ref.isdigit():
            record = journal.get(int(ref))
            if as_json:
                echo_json(record.to_dict())
                return
            for name in (
                "seq",
                "received_at",
                "source",
                "kind",
                "key",
                "digest",
                "record_digest",
                "prev_digest",
            ):
                value = getattr(record, name)
                if name == "received_at":
                    value = f"{value} ({time_text(value)})"
                click.echo(f"{name + ':':<15}{value}")
            click.echo("payload:       erased by journal forget" if record.erased else "payload:")
            import msgspec

            sys.stdout.buffer.write(msgspec.json.format(record.payload, indent=2) + b"\n")
            return
        full = journal.resolve_digest(ref)
        data = journal.blob(full.hex())
        if as_json:
            import msgspec

            echo_json({"digest": full.hex(), "bytes": len(data), "payload": msgspec.Raw(data)})
        else:
            sys.stdout.buffer.write(data + b"\n")
    except JournalError as exc:
        raise fail(exc) from None


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def verify(obj: Context, as_json: bool) -> None:
    """Check gap-free seqs, the hash chain and every payload digest (exit 1 on a fault)."""
    try:
        journal = obj.journal()
        head = journal.head()
        show_bar = not as_json and sys.stderr.isatty() and head > 50_000
        with progress_bar(head, "verifying", show=show_bar) as bar:
            report = journal.verify(progress=bar.update)
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json(report)
    elif report.ok:
        erased = f", {report.erased} erased" if report.erased else ""
        click.echo(
            f"ok: {report.records_checked} records, {report.blobs_checked} blobs{erased}, "
            f"head {report.head_digest}"
        )
    if not report.ok:
        raise click.ClickException(f"verify failed at seq {report.first_bad_seq}: {report.problem}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def stats(obj: Context, as_json: bool) -> None:
    """Print head seq, record, blob, byte, quarantine and spool counts."""
    import msgspec

    try:
        journal = obj.journal()
        result = msgspec.structs.replace(journal.stats(), spooled=_spooled(journal.home))
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json(result)
        return
    click.echo(f"home:         {result.home}")
    click.echo(f"head_seq:     {result.head_seq}")
    click.echo(f"head_digest:  {result.head_digest}")
    click.echo(f"records:      {result.records}")
    click.echo(f"blobs:        {result.blobs}")
    click.echo(f"bytes:        {result.bytes}")
    click.echo(f"quarantined:  {result.quarantined}")
    click.echo(f"spooled:      {result.spooled}")
    click.echo(f"redacted:     {sum(result.redacted.values())}")
    for name, count in sorted(result.redacted.items()):
        click.echo(f"  {name + ':':<24}{count}")
    click.echo(f"erased:       {result.erased}")
    click.echo("sources:")
    for name, count in sorted(result.sources.items()):
        click.echo(f"  {name + ':':<13}{count}")


LOG_COMMANDS = (append, log, show, verify, stats)
