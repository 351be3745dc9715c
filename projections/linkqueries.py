"""What ``journal links`` asks: the conversation a run belongs to.

A conversation is every run reachable from the asked one over links in either
direction (:mod:`projections.links`) and over parent/child runs (``subagent``, from
the runs view). The answer lists each link once, oldest first, as the run that
continues, the run it continues (``from_run_id``) and the relation; its
``conversation`` is the oldest run of them all, where the conversation began.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from .engine import Views
from .links import Edge, edges_from, edges_to, newest_line
from .runs import Run, child_runs, get_run

if TYPE_CHECKING:
    from journal.store import LmdbJournal

    from .runs import Alive
    from .view import State

__all__ = ["Conversation", "Link", "conversation", "links"]

_NAMES = ("runs", "links")
#: A conversation is cut off at this many runs: enough for any real one, and a bound
#: on the walk for a journal of machine-made sessions.
MAX_RUNS = 10_000


class Link(msgspec.Struct, frozen=True, kw_only=True):
    """One link of a conversation: ``run_id`` continues ``from_run_id``."""

    run_id: str
    session_id: str
    relation: str
    from_run_id: str
    seq: int
    time: int

    def to_dict(self) -> dict[str, object]:
        return msgspec.structs.asdict(self)


class Conversation(msgspec.Struct, frozen=True, kw_only=True):
    """The conversation of ``run_id``: its runs, oldest first, and their links."""

    run_id: str
    conversation: str
    runs: list[Run]
    links: list[Link]

    def to_dict(self) -> dict[str, object]:
        """The JSON of ``links --json`` (DESIGN §5), with the runs' ids in order."""
        return {
            "run_id": self.run_id,
            "conversation": self.conversation,
            "runs": [one.run_id for one in self.runs],
            "links": [link.to_dict() for link in self.links],
        }


def _relation(edge: Edge, links_state: State) -> str:
    """A transcript continuation is a fork when the run it continues went on after:
    that run has a transcript line newer than the line that made the link."""
    if edge.rel != "resume" or edge.to == edge.run:
        return edge.rel
    newest = newest_line(links_state, edge.to)
    return "fork" if newest is not None and newest > edge.time else "resume"


def _walk(
    runs_state: State, links_state: State, start: Run, clock: dict[str, object]
) -> tuple[dict[str, Run], list[Edge]]:
    found: dict[str, Run] = {start.run_id: start}
    edges: list[Edge] = []
    todo = [start]
    while todo and len(found) < MAX_RUNS:
        one = todo.pop()
        near: list[str] = []
        for edge in edges_from(links_state, one.run_id):
            edges.append(edge)
            near.append(edge.to)
        near.extend(edges_to(links_state, one.run_id))
        if one.parent_run_id is not None:
            near.append(one.parent_run_id)
        children = child_runs(runs_state, one.run_id, **clock)  # type: ignore[arg-type]
        for child in children:
            edges.append(
                Edge(
                    to=one.run_id,
                    rel="subagent",
                    time=child.first_time,
                    run=child.run_id,
                    seq=child.first_seq,
                )
            )
            found.setdefault(child.run_id, child)
            todo.append(child)
        for other in near:
            if other in found:
                continue
            try:
                run = get_run(runs_state, other, **clock)  # type: ignore[arg-type]
            except LookupError:
                continue
            if run.run_id != other:
                continue
            found[other] = run
            todo.append(run)
    return found, edges


def conversation(
    runs_state: State,
    links_state: State,
    ident: str,
    *,
    now: int,
    idle_ns: int | None = None,
    alive: Alive | None = None,
) -> Conversation:
    """The conversation of the run named by ``ident``, from the two views' states.

    Raises:
        NotFoundError: no run matches.
        AmbiguousPrefixError: several runs match.
    """
    clock: dict[str, object] = {"now": now, "alive": alive}
    if idle_ns is not None:
        clock["idle_ns"] = idle_ns
    start = get_run(runs_state, ident, **clock)  # type: ignore[arg-type]
    found, edges = _walk(runs_state, links_state, start, clock)
    ordered = sorted(found.values(), key=lambda one: (one.first_seq, one.run_id))
    seen: set[tuple[str, str, str, int]] = set()
    out = []
    for edge in sorted(edges, key=lambda e: (e.seq, e.run, e.to)):
        relation = _relation(edge, links_state)
        mark = (edge.run, edge.to, relation, edge.seq)
        if mark in seen or edge.run not in found:
            continue
        seen.add(mark)
        out.append(
            Link(
                run_id=edge.run,
                session_id=found[edge.run].session_id,
                relation=relation,
                from_run_id=edge.to,
                seq=edge.seq,
                time=edge.time,
            )
        )
    return Conversation(
        run_id=start.run_id, conversation=ordered[0].run_id, runs=ordered, links=out
    )


def links(
    journal: LmdbJournal,
    ident: str,
    *,
    idle_ns: int | None = None,
    now: int | None = None,
    alive: Alive | None = None,
) -> Conversation:
    """The conversation of the run named by ``ident`` (run id, session id, or prefix),
    after catching the runs and links views up.

    Raises:
        NotFoundError: no run matches.
        AmbiguousPrefixError: several runs match.
    """
    with Views(journal) as views:
        views.catch_up(_NAMES)
        with views.reading_many(_NAMES) as st:
            runs_state, links_state = st["runs"], st["links"]
            at = runs_state.newest_time if now is None else now
            return conversation(
                runs_state, links_state, ident, now=at, idle_ns=idle_ns, alive=alive
            )
