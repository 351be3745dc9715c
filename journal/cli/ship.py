"""``journal ship`` and ``journal pull``: records to and from NATS JetStream.

The NATS client is the optional extra ``agent-journal[ship]``, imported only when
one of these commands runs.
"""

from __future__ import annotations

import click

from journal.errors import JournalError

from .common import Context, echo_json, fail
from .export import EXPORT_COMMANDS

__all__ = ["SHIP_COMMANDS"]

_STREAM = "AGENT_JOURNAL"


@click.command()
@click.option("--to", "url", required=True, help="The NATS server: nats://HOST:PORT.")
@click.option("--stream", default=_STREAM, show_default=True, help="The JetStream stream.")
@click.option(
    "--consumer",
    default="default",
    show_default=True,
    help="Whose checkpoint to resume from and advance (kept in the journal home).",
)
@click.option("--follow", is_flag=True, help="Keep shipping as records land (until SIGTERM).")
@click.option(
    "--create-stream", "create", is_flag=True, help="Create the stream if it does not exist."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def ship(
    obj: Context,
    url: str,
    stream: str,
    consumer: str,
    follow: bool,
    create: bool,
    as_json: bool,
) -> None:
    """Ship records to NATS JetStream exactly once, resuming after the checkpoint.

    Each record is one message on agent-journal.<origin>.<source>, with the header
    Nats-Msg-Id: <origin>:<seq> and its digest; the checkpoint advances only over
    acknowledged records. Kill it at any moment and run it again: the stream holds
    every record once.
    """
    from journal.ship import ship as run_ship

    try:
        shipped, checkpoint = run_ship(
            obj.open, url, stream=stream, consumer=consumer, follow=follow, create=create
        )
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json({"shipped": shipped, "checkpoint": checkpoint})
    else:
        click.echo(f"shipped {shipped} records; checkpoint {checkpoint}")


@click.command()
@click.option("--from", "url", required=True, help="The NATS server: nats://HOST:PORT.")
@click.option("--stream", default=_STREAM, show_default=True, help="The JetStream stream.")
@click.option(
    "--consumer",
    default=None,
    help="The durable consumer on the stream (default: pull-<this journal's origin>).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def pull(obj: Context, url: str, stream: str, consumer: str | None, as_json: bool) -> None:
    """Fold shipped records of other journals into this one, keeping their origin.

    Every payload is checked against its digest; a record already here (same origin
    and origin seq) is not added again, so pulling twice adds nothing.
    """
    from journal.pull import pull as run_pull

    try:
        pulled, checkpoint = run_pull(
            lambda: obj.open(write=True), url, stream=stream, consumer=consumer
        )
    except JournalError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json({"pulled": pulled, "checkpoint": checkpoint})
    else:
        click.echo(f"pulled {pulled} records; stream checkpoint {checkpoint}")


#: Every command of records leaving or joining the journal: export, origin, ship, pull.
SHIP_COMMANDS = (*EXPORT_COMMANDS, ship, pull)
