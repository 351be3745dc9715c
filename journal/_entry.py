"""The ``journal`` console script.

Kept tiny: it is the process entry for every command, and ``journal/__init__`` loads
nothing eagerly, so commands pay only for what they import.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> int:
    """Dispatch to the click CLI."""
    from .cli import main as cli_main

    return cli_main()
