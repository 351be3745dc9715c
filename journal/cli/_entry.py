"""The ``journal`` console script.

Kept tiny: it is the process entry for every command, and ``journal/__init__`` loads
nothing eagerly, so commands pay only for what they import. ``journal hook`` never
reaches click: it is the agents' hook, started once per event (:mod:`journal.agents.hook`),
and ``journal hook AGENT --stream`` the long-lived process a plugin hands a stream of
events to (:mod:`journal.agents.stream`). A warm ``journal costs`` is answered without
click either (:mod:`journal.cli.costfast`), with the click command's exact output;
whatever that cannot answer goes on to click.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
else:
    import _signal  # what ``signal`` wraps, already loaded; ``signal`` imports enum (~5 ms)

__all__ = ["main"]


def _hook_argv(argv: list[str]) -> tuple[list[str], str | None] | None:
    """Split ``[--home DIR] hook ARGS...`` into (ARGS, home), or None if not a hook."""
    home = None
    if argv[:1] == ["--home"] and len(argv) >= 2:
        home, argv = argv[1], argv[2:]
    elif argv and argv[0].startswith("--home="):
        home, argv = argv[0][len("--home=") :], argv[1:]
    if argv[:1] != ["hook"] or any(a in ("-h", "--help") for a in argv[1:2]):
        return None
    return argv[1:], home


def main() -> int:
    """Dispatch: the hook fast path, the warm costs read, else the click CLI."""
    hook = _hook_argv(sys.argv[1:])
    if hook is not None:
        # Ctrl-C reaches the agent's whole process group: a hook must finish its event,
        # and a KeyboardInterrupt during the imports below would print a traceback.
        _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        args, home = hook
        if args[1:] == ["--stream"]:
            from journal.agents.stream import main as stream_main

            stream_main(args[:1], home)
        else:
            from journal.agents.hook import main as hook_main

            hook_main(args, home)
        # Exit now: an append thread that gave up must not hold the process open.
        os._exit(0)
    if "costs" in sys.argv[1:4]:
        from .costfast import main as costs_main

        if costs_main(sys.argv[1:]):
            return 0
    from .main import main as cli_main

    return cli_main()
