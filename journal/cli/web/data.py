"""What the pages and ``/api/*`` answer: the CLI's own queries, plus what a page adds.

The API answers ``/api/runs``, ``/api/runs/RUN_ID`` and ``/api/costs`` with
:func:`runs_json`, :func:`run_json` and :func:`costs_json`: the very calls and
``to_dict()`` the ``runs``, ``run`` and ``costs`` commands print with ``--json``
(:mod:`projections.queries`, :mod:`projections.costqueries`, the clock and the
process table of :mod:`journal.cli.views`). The pages ask for more: a page of runs
with their costs and projects (:func:`runs_page`), a run with its prompts, tool inputs
and costs by step and model (:func:`run_page`). Every function takes an open journal;
the app opens it for each request and closes it after (DESIGN §2).

Unlike ``journal runs``, nothing here journals an interrupted run's transcript tail:
the server never writes to the log. The next CLI query or hook does.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from journal.cli.views import idle_ns_of, run_extras, world

if TYPE_CHECKING:
    from journal.store import LmdbJournal

__all__ = [
    "PAGE_LIMIT",
    "costs_json",
    "run_json",
    "run_page",
    "runs_json",
    "runs_page",
]

#: Runs on one page of the runs list (the first screen needs no more).
PAGE_LIMIT = 100
_DECODE = msgspec.json.Decoder()
_TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
)


def runs_json(
    journal: LmdbJournal,
    *,
    status: str | None = None,
    source: str | None = None,
    idle: float | None = None,
) -> list[dict[str, object]]:
    """What ``journal runs [--status S] [--source S] [--idle MIN] --json`` prints."""
    from projections import queries

    found = queries.runs(journal, status=status, source=source, idle_ns=idle_ns_of(idle), **world())
    return [one.to_dict() for one in found]


def run_json(journal: LmdbJournal, ident: str, *, idle: float | None = None) -> dict[str, object]:
    """What ``journal run ID [--idle MIN] --json`` prints."""
    from projections import queries

    detail = queries.run(journal, ident, idle_ns=idle_ns_of(idle), **world())
    extras, _text = run_extras(journal, detail.run.run_id)
    return {**detail.to_dict(), **extras}


def costs_json(
    journal: LmdbJournal,
    *,
    by: str = "day",
    since: str | None = None,
    until: str | None = None,
    source: str | None = None,
    tz: str | None = None,
    breakdown: bool = False,
) -> dict[str, Any]:
    """What ``journal costs --by BY [--since D] [--until D] [--source S] [--tz TZ]
    [--breakdown] --json`` prints."""
    from projections.costqueries import costs

    found = costs(
        journal, by=by, tz=tz, since=since, until=until, source=source, breakdown=breakdown
    )
    return found.to_dict()


def _day(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC).strftime("%Y-%m-%d")


def _project(cwd: str | None, cache: dict[str, str]) -> str | None:
    from projections.costreport import git_root

    if not cwd:
        return None
    if cwd not in cache:
        cache[cwd] = git_root(cwd)
    return cache[cwd]


def _priced(row: dict[str, Any] | None) -> dict[str, Any]:
    """A run's tokens (all kinds together) and dollars from its ``costs --by run`` row."""
    if row is None:
        return {"tokens": None, "cost_usd": None, "cost_source": None}
    parts = [row[name] for name in _TOKEN_FIELDS]
    tokens = None if None in parts else sum(parts)
    return {"tokens": tokens, "cost_usd": row["cost_usd"], "cost_source": row["cost_source"]}


def runs_page(
    journal: LmdbJournal,
    *,
    status: str | None = None,
    source: str | None = None,
    project: str | None = None,
    day: str | None = None,
    matching: set[str] | None = None,
    offset: int = 0,
    limit: int = PAGE_LIMIT,
) -> dict[str, Any]:
    """One page of the runs list, newest session first, each with its subagent runs.

    A session's row carries its cost row of ``costs --by session`` (tokens and dollars,
    its subagents' included; a subagent's own are on its run's page), its
    project (the cwd's git root, as ``costs --by project`` has it) and its
    ``children``. ``matching`` (run ids a text search found) keeps only those
    sessions. ``total`` counts the sessions that pass the filters; ``facets`` are the
    values a filter can take.
    """
    runs = runs_json(journal, source=source)
    # By session, not by run: a session's row includes its subagents, and ``--by run``
    # costs O(runs²) in projections.costreport today (65 s at 7,800 runs).
    costs = {row["key"]: row for row in costs_json(journal, by="session")["rows"]}
    ids = {one["run_id"] for one in runs}
    children: dict[str, list[dict[str, Any]]] = {}
    top = []
    for one in runs:
        parent = one["parent_run_id"]
        if one["agent_id"] is not None and parent in ids:
            children.setdefault(str(parent), []).append(one)
        else:
            top.append(one)
    roots: dict[str, str] = {}
    facets: dict[str, set[str]] = {"status": set(), "source": set(), "project": set()}
    kept = []
    for one in reversed(top):
        where = _project(one["cwd"], roots)  # type: ignore[arg-type]
        facets["status"].add(str(one["status"]))
        facets["source"].add(str(one["source"]))
        if where:
            facets["project"].add(where)
        if status is not None and one["status"] != status:
            continue
        if project is not None and where != project:
            continue
        if day is not None and _day(one["first_time"]) != day:  # type: ignore[arg-type]
            continue
        if matching is not None and one["run_id"] not in matching:
            continue
        kept.append((one, where))
    page = []
    for one, where in kept[offset : offset + limit]:
        subs = [{**sub, **_priced(None)} for sub in children.get(str(one["run_id"]), [])]
        page.append({**one, **_priced(costs.get(str(one["session_id"]))), "project": where})
        page[-1]["children"] = subs
    return {
        "head": journal.head(),
        "total": len(kept),
        "offset": offset,
        "limit": limit,
        "runs": page,
        "facets": {name: sorted(values) for name, values in facets.items()},
    }


def _summary(tool_input: object) -> str:
    """A line that says what a tool call was asked to do (its command, path, pattern…)."""
    if not isinstance(tool_input, dict):
        return "" if tool_input is None else str(tool_input)[:300]
    for name in ("command", "file_path", "filePath", "path", "pattern", "url", "query"):
        value = tool_input.get(name)
        if isinstance(value, str) and value:
            return value[:300]
    for name in ("description", "prompt"):
        value = tool_input.get(name)
        if isinstance(value, str) and value:
            return value[:300]
    return msgspec.json.encode(tool_input).decode()[:300]


def _said(journal: LmdbJournal, ident: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The prompts of a run (and its subagents) and a summary of each tool call's input."""
    from projections.queries import run_match, run_records

    prompts: list[dict[str, Any]] = []
    inputs: dict[str, str] = {}
    for record in run_records(journal, run_match(journal, ident)):
        payload = record.payload
        if record.kind == "transcript" or (
            b'"prompt"' not in payload and b'"tool_input"' not in payload
        ):
            continue
        try:
            event = _DECODE.decode(record.payload)
        except msgspec.DecodeError:
            continue
        if not isinstance(event, dict):
            continue
        prompt = event.get("prompt")
        if isinstance(prompt, str) and "tool_input" not in event:
            prompts.append({"seq": record.seq, "received_at": record.received_at, "text": prompt})
        call = event.get("tool_use_id")
        if isinstance(call, str) and "tool_input" in event and call not in inputs:
            inputs[call] = _summary(event["tool_input"])
    return prompts, inputs


def run_changes(journal: LmdbJournal, run_id: str) -> dict[str, Any]:
    """The run's changes and their diff, from the changesets view."""
    from projections import changequeries

    return {
        "changes": changequeries.run_changes(journal, run_id),
        "diff": changequeries.run_diff(journal, run_id),
    }


def run_page(journal: LmdbJournal, ident: str) -> dict[str, Any]:
    """A run for its page: ``run --json``, its prompts, each step's input, its costs
    (per step and its subagents'; per model over its whole session), and its changes
    when the view exists."""
    from projections.costqueries import run_costs

    detail = run_json(journal, ident)
    run_id = str(detail["run_id"])
    prompts, inputs = _said(journal, run_id)
    for step in detail["step_list"]:  # type: ignore[attr-defined]
        step["input"] = inputs.get(step["tool_use_id"] or "")
    session = str(detail["session_id"])
    rows = costs_json(journal, by="session", breakdown=True)["rows"]
    models: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["key"] != session:
            continue
        for model in row.get("models") or ():
            into = {"model": model["model"], "cost_usd": model["cost_usd"] or 0.0}
            into.update({name: model[name] or 0 for name in (*_TOKEN_FIELDS, "reasoning_tokens")})
            into["unpriced"] = model["cost_usd"] is None
            models[model["model"]] = into
    return {
        "head": journal.head(),
        "run": detail,
        "prompts": prompts,
        "costs": run_costs(journal, run_id),
        "models": sorted(models.values(), key=lambda m: -m["cost_usd"]),
        "changes": run_changes(journal, run_id),
    }
