"""The views the journal keeps, by name.

A new view is one line here; the engine, ``journal projections`` and ``journal
rebuild`` pick it up from :data:`VIEWS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from journal.errors import UsageError

from .changesets import ChangesetsView
from .costs import CostsView
from .links import LinksView
from .runs import RunsView
from .steps import StepsView
from .view import View

__all__ = ["VIEWS", "by_name", "names"]

VIEWS: tuple[View, ...] = (RunsView(), StepsView(), CostsView(), LinksView(), ChangesetsView())


def names() -> list[str]:
    """The names of all views, in registry order."""
    return [view.name for view in VIEWS]


def by_name(wanted: Sequence[str] | None) -> list[View]:
    """Return the named views (all of them for None), in the order asked.

    Raises:
        UsageError: a name that is not a view.
    """
    if wanted is None:
        return list(VIEWS)
    known = {view.name: view for view in VIEWS}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise UsageError(f"unknown view {unknown[0]!r} (views: {', '.join(known)})")
    return [known[name] for name in dict.fromkeys(wanted)]
