"""The ``journal`` command line: parse, call the library, render.

No LMDB calls and no business logic here. Library errors become one line on stderr
and exit 1 (usage errors exit 2); nothing prints a traceback.
"""

from __future__ import annotations

import datetime
import itertools
import sys
import time
from typing import TYPE_CHECKING

import click

from . import __version__
from .cli_common import echo_json, fail, progress_bar
from .cli_hooks import hooks as hooks_group
from .cli_views import VIEW_COMMANDS, run_log
from .errors import InvalidPayloadError, JournalError
from .results import Appended, Quarantined

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from .records import Record
    from .store import LmdbJournal

__all__ = ["cli", "main"]

_FOLLOW_POLL_SECONDS = 0.2


class _Context:
    def __init__(self, home: str | None) -> None:
        self.home = home
        self._journal: LmdbJournal | None = None

    def journal(self) -> LmdbJournal:
        if self._journal is None:
            from .store import LmdbJournal

            self._journal = LmdbJournal(self.home)
        return self._journal

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None


def _time(ns: int) -> str:
    stamp = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar=None,
    help="Journal home (default: $AGENT_JOURNAL_HOME, $XDG_STATE_HOME/agent-journal, "
    "~/.local/state/agent-journal).",
)
@click.version_option(__version__, prog_name="journal")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """An append-only, content-addressed journal of what coding agents do."""
    state = _Context(home)
    ctx.obj = state
    ctx.call_on_close(state.close)


@cli.command()
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
    obj: _Context, source: str, kind: str | None, key: str | None, batch: bool, as_json: bool
) -> None:
    """Append one JSON object from stdin and print its seq and digest.

    With --batch, each stdin line is one payload; good lines land together and bad
    lines are quarantined (exit 1, naming each bad line). With --batch --key K, line
    N gets the key K:N, so re-running the same batch appends nothing twice.
    """
    data = sys.stdin.buffer.read()
    try:
        journal = obj.journal()
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
    from . import spool

    if spool.has_pending(journal.home):
        spool.drain(journal)


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


def wanted_by(kinds: Sequence[str], sources: Sequence[str]) -> Callable[[Record], bool]:
    """The ``--kind`` / ``--source`` filter of ``log`` (empty: everything passes)."""

    def wanted(record: Record) -> bool:
        return (not kinds or record.kind in kinds) and (not sources or record.source in sources)

    return wanted


def tail(journal: LmdbJournal, after: int, keep: Callable[[Record], bool]) -> Iterator[Record]:
    """Records after ``after`` that ``keep`` accepts, waiting for new ones forever.

    Every record read advances the position, filtered or not. (Taking head() as the
    position instead would skip a record committed between the last read and that
    call.)
    """
    position = after
    while True:
        for record in journal.read(after=position):
            position = record.seq
            if keep(record):
                yield record
        time.sleep(_FOLLOW_POLL_SECONDS)


def _records(
    journal: LmdbJournal,
    after: int,
    limit: int | None,
    kinds: tuple[str, ...],
    sources: tuple[str, ...],
    follow: bool,
) -> Iterator[Record]:
    if not follow:
        return journal.read(after=after, limit=limit, kinds=kinds or None, sources=sources or None)
    return itertools.islice(tail(journal, after, wanted_by(kinds, sources)), limit)


@cli.command()
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
    obj: _Context,
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
                        f"#{entry.id}  {_time(entry.received_at)}  {entry.source}  "
                        f"{entry.reason}  {len(entry.data)} bytes  {preview}"
                    )
            return
        records = (
            run_log(
                journal,
                run_ident,
                after=after,
                limit=limit,
                kinds=kinds,
                sources=sources,
                follow=follow,
            )
            if run_ident is not None
            else _records(journal, after, limit, kinds, sources, follow)
        )
        for record in records:
            if as_json:
                echo_json(record.to_dict())
            else:
                preview = record.payload[:80].decode("utf-8", "replace")
                preview = preview.replace("\r", " ").replace("\n", " ")
                click.echo(
                    f"{record.seq:>6}  {_time(record.received_at)}  {record.source:<11}  "
                    f"{record.kind:<18}  {record.digest[:12]}  {preview}"
                )
            sys.stdout.flush()
    except JournalError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        return


@cli.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: _Context, ref: str, as_json: bool) -> None:
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
                    value = f"{value} ({_time(value)})"
                click.echo(f"{name + ':':<15}{value}")
            click.echo("payload:")
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


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def verify(obj: _Context, as_json: bool) -> None:
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
        click.echo(
            f"ok: {report.records_checked} records, {report.blobs_checked} blobs, "
            f"head {report.head_digest}"
        )
    if not report.ok:
        raise click.ClickException(f"verify failed at seq {report.first_bad_seq}: {report.problem}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def stats(obj: _Context, as_json: bool) -> None:
    """Print head seq, record, blob, byte, quarantine and spool counts."""
    try:
        result = obj.journal().stats()
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
    for name, count in sorted(result.sources.items()):
        click.echo(f"  {name + ':':<13}{count}")


@cli.command()
@click.option("--keep", is_flag=True, help="Keep the demo home instead of deleting it.")
@click.pass_obj
def demo(obj: _Context, keep: bool) -> None:
    """Build a journal from a bundled realistic session in a fresh home and show it."""
    from .demo import run_demo

    try:
        run_demo(obj.home, keep=keep, echo=click.echo)
    except JournalError as exc:
        raise fail(exc) from None


def _register_ingest() -> None:
    from .cli_ingest import hook, import_, spool

    for command in (hook, import_, spool):
        cli.add_command(command)


_register_ingest()
cli.add_command(hooks_group)
for _command in VIEW_COMMANDS:
    cli.add_command(_command)


def main() -> int:
    """Run the CLI; return the exit code."""
    try:
        cli.main(prog_name="journal", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
