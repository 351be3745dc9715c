"""``journal serve``: a live, read-only web page of runs, steps, costs and changes.

Thin like the rest of the CLI: check the options, bind the socket, hand the app of
:mod:`journal.cli.web` to uvicorn. Starlette and uvicorn (the ``serve`` extra) are
imported only when the command runs, so no other command pays for them.

It binds 127.0.0.1 unless ``--host`` says otherwise, and then warns: anyone who can
reach the address reads every prompt, command and file the agents saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from journal.errors import JournalError

from .common import Context, fail

if TYPE_CHECKING:
    import socket

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "is_loopback", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8377


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@click.command()
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on. Anything but loopback shows the journal to the network "
    "(a warning says so).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on (0: any free port; the URL printed says which).",
)
@click.pass_obj
def serve(obj: Context, host: str, port: int) -> None:
    """Serve a live, read-only web page of runs, steps and costs.

    Pages: / (runs), /runs/RUN_ID (a run's timeline), /costs. The JSON API under
    /api/ answers what the CLI's --json prints. Ctrl-C stops it.
    """
    try:
        import uvicorn

        from .web.app import LOOPBACK_HOSTS, create_app
    except ImportError as exc:
        raise click.ClickException(
            f"journal serve needs the serve extra ({exc.name} is missing): "
            "pip install 'agent-journal[serve]'"
        ) from None
    try:
        obj.journal().head()  # a broken home fails here, with one line
    except JournalError as exc:
        raise fail(exc) from None
    finally:
        obj.close()
    loopback = is_loopback(host)
    if not loopback:
        click.echo(
            f"warning: serving on {host}, not loopback: anyone who can reach it can read "
            "every prompt, command and file in this journal",
            err=True,
        )
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    app = create_app(obj.home, hosts=LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else ["*"])
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving http://{shown}:{bound}/ (read-only; Ctrl-C stops)")
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        lifespan="on",
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises Ctrl-C again once it has shut down
        pass
    finally:
        sock.close()
