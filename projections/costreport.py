"""What ``journal costs`` asks of the costs view: rows grouped by run, session, model,
day, project or step, and the totals.

Reads only the view's aggregates (a few per run and quarter-hour), so a report costs
about the same on a year of history as on a day. Days are taken in ``tz`` at query
time: the aggregates are kept per 15 minutes of UTC, and every real time zone's day
starts on a quarter hour. The user's price file (:mod:`projections.pricing`) reprices
the computed and unpriced parts of the models it names, here, at query time.

Every row, and the totals, has the token fields of DESIGN §5, ``cost_usd`` (the sum of
the priced parts; null when nothing in the group is priced), ``cost_source``
(``computed``, ``provider``, ``unpriced``, or ``mixed``), and more: ``responses``,
``unpriced_models`` (models whose tokens have no price) and ``tokens_unknown_runs``
(runs whose agent reports no tokens, e.g. Cursor). Summing the rows gives the totals.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from journal.errors import UsageError

from .costgroups import BY, Filter, Group, Report, parse_day, summarises, summary, timezone
from .costkeys import AGG, BUCKET, BUCKET_NS, split
from .costs import RunInfo, decode_response, decode_run
from .pricing import PriceFile, Rates

if TYPE_CHECKING:
    from .view import State

__all__ = [
    "BY",
    "UNKNOWN_ORIGIN",
    "Group",
    "Report",
    "git_root",
    "parent_of",
    "parse_day",
    "remainder",
    "report",
    "run_infos",
    "run_report",
    "session_of",
    "timezone",
]

UNKNOWN_PROJECT = "(unknown)"


def git_root(cwd: str) -> str:
    """The git work tree containing ``cwd`` (where ``.git`` is), else ``cwd`` itself."""
    path = os.path.abspath(cwd)
    while True:
        if os.path.exists(os.path.join(path, ".git")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return cwd
        path = parent


def session_of(run: str) -> str:
    parts = run.split("/", 2)
    return parts[1] if len(parts) > 1 else run


def parent_of(run: str, infos: dict[str, RunInfo]) -> str | None:
    """A run's parent run: a subagent's session, or an OpenCode child's parent session."""
    info = infos.get(run)
    if info is not None and info.parent is not None:
        return info.parent
    parts = run.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else None


def run_infos(state: State) -> dict[str, RunInfo]:
    return {k[2:].decode("utf-8", "replace"): decode_run(v) for k, v in state.scan(b"w:")}


def _aggregates(
    state: State, where: Filter, prices: PriceFile
) -> Iterable[tuple[int, str, str, str, tuple[int, ...], int]]:
    """Yield (bucket, run, model, source letter, values, picodollars) of kept aggregates."""
    unpack, bucket_of = AGG.unpack, BUCKET.unpack_from
    for key, raw in state.scan(b"a:"):
        bucket = bucket_of(key, 2)[0]
        run_b, model_b, src_b = key[6:].rsplit(b"\x00", 2)
        run = run_b.decode("utf-8", "replace")
        if not where.keeps(bucket, run):
            continue
        values = unpack(raw)
        model, src, pico = model_b.decode("utf-8", "replace"), src_b.decode(), values[7]
        if src in ("c", "u") and prices:
            rates = prices.rates(model)
            if rates is not None:
                src, pico = "c", _repriced(rates, values)
        yield bucket, run, model, src, values, pico


def _repriced(rates: Rates, values: tuple[int, ...]) -> int:
    return rates.pico(values[1:7])  # type: ignore[arg-type]


def report(
    state: State,
    *,
    by: str = "day",
    tz: datetime.tzinfo = datetime.UTC,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    source: str | None = None,
    breakdown: bool = False,
    prices: PriceFile | None = None,
    project_of: Callable[[str], str] = git_root,
    origin_of: Callable[[str], str] | None = None,
) -> Report:
    """Group the costs view's aggregates ``by`` one of :data:`BY`; ``by="origin"``
    groups runs by ``origin_of(run_id)`` (the journal each run was first appended to).

    Raises:
        UsageError: ``by`` is not one of :data:`BY`.
    """
    if by not in BY:
        raise UsageError(f"--by must be one of {', '.join(BY)}, not {by!r}")
    prices = prices or PriceFile(None, {})
    where = Filter(tz, since, until, source)
    if summarises(by, where):
        return summary(state, by, where, prices, breakdown=breakdown)
    if by == "step":
        return _steps(state, where, prices, breakdown)
    infos = run_infos(state) if by in ("project", "run") else {}
    projects: dict[str, str] = {}
    groups: dict[str, Group] = {}
    first: dict[str, int] = {}
    totals = Group()
    for bucket, run, model, src, values, pico in _aggregates(state, where, prices):
        if by == "run":
            key = run
        elif by == "session":
            key = session_of(run)
        elif by == "model":
            key = model or "(no model)"
        elif by == "day":
            key = where.day(bucket).isoformat()
        elif by == "origin":
            key = origin_of(run) if origin_of is not None else UNKNOWN_ORIGIN
        else:
            key = _project(run, infos, projects, project_of)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group()
            if breakdown and by != "model":
                group.models = {}
            first[key] = bucket
        group.add(values, src, model, pico)
        if group.models is not None:
            per_model = group.models.setdefault(model or "(no model)", Group())
            per_model.add(values, src, model, pico)
        totals.add(values, src, model, pico)
    if by == "model":
        order = sorted(groups, key=lambda k: (-groups[k].pico, k))
    elif by == "day":
        order = sorted(groups)
    else:
        order = sorted(groups, key=lambda k: (first[k], k))
    if by == "run":
        order = _parents_first(order, infos)
    rows: list[tuple[str, Group, dict[str, Any]]] = []
    children = _children_of(groups, infos) if by == "run" else {}
    for key in order:
        extra: dict[str, Any] = {}
        if by == "run":
            extra = _run_extra(key, groups, infos, children.get(key, []))
        rows.append((key, groups[key], extra))
    out = Report(by, rows, totals)
    out.meta = {"tz": str(tz), "price_file": prices.path}
    return out


#: The origin key of runs whose journal is not known (a journal without an origin yet).
UNKNOWN_ORIGIN = "(this journal)"


def _project(
    run: str, infos: dict[str, RunInfo], cache: dict[str, str], project_of: Callable[[str], str]
) -> str:
    """The project of a run: its (or its parent's) cwd's git root, or the cwd."""
    found = cache.get(run)
    if found is not None:
        return found
    cwd = None
    seen = run
    for _ in range(8):  # a child without a cwd of its own is in its parent's project
        info = infos.get(seen)
        if info is not None and info.cwd is not None:
            cwd = info.cwd
            break
        up = parent_of(seen, infos)
        if up is None:
            break
        seen = up
    found = cache[run] = project_of(cwd) if cwd is not None else UNKNOWN_PROJECT
    return found


def _parents_first(order: list[str], infos: dict[str, RunInfo]) -> list[str]:
    """Runs in ``order``, each run's child runs right after it."""
    present = set(order)
    children: dict[str, list[str]] = {}
    top = []
    for run in order:
        parent = parent_of(run, infos)
        if parent is not None and parent in present and parent != run:
            children.setdefault(parent, []).append(run)
        else:
            top.append(run)
    out: list[str] = []

    def visit(run: str, depth: int) -> None:
        out.append(run)
        for child in children.get(run, []) if depth < 8 else []:
            visit(child, depth + 1)

    for run in top:
        visit(run, 0)
    return out if len(out) == len(order) else order


def _children_of(groups: dict[str, Group], infos: dict[str, RunInfo]) -> dict[str, list[str]]:
    """Each run's child runs among ``groups``, found in one pass."""
    out: dict[str, list[str]] = {}
    for key in groups:
        parent = parent_of(key, infos)
        if parent is not None and parent != key:
            out.setdefault(parent, []).append(key)
    return out


def _run_extra(
    run: str, groups: dict[str, Group], infos: dict[str, RunInfo], children: list[str]
) -> dict[str, Any]:
    extra: dict[str, Any] = {"parent_run_id": parent_of(run, infos)}
    if children:
        whole = Group()
        whole.merge(groups[run])
        for child in children:
            whole.merge(groups[child])
        extra["child_runs"] = sorted(children)
        extra["with_children"] = whole.to_dict()
    return extra


def _step_groups(
    state: State, where: Filter, prices: PriceFile, runs: set[str] | None = None
) -> tuple[dict[str, Group], dict[str, str]]:
    """Each step's share of the responses that issued it; the step ids' runs."""
    steps: dict[str, Group] = {}
    run_of: dict[str, str] = {}
    prefixes = [f"s:{run}\x00".encode() for run in sorted(runs)] if runs is not None else [b"s:"]
    for prefix in prefixes:
        for key, _ in state.scan(prefix):
            rkey = key[2:].partition(b"\x00")[2]
            raw = state.get(b"r:" + rkey)
            if raw is None:
                continue
            row = decode_response(raw)
            bucket = max(row.time_ns, 0) // BUCKET_NS
            if not where.keeps(bucket, row.run) or not row.tool_ids:
                continue
            src, pico = row.src, row.pico
            if src in ("c", "u") and prices:
                rates = prices.rates(row.model)
                if rates is not None:
                    src, pico = "c", rates.pico(row.tokens)
            parts = len(row.tool_ids)
            shares = [split(t, parts) for t in row.tokens]
            picos = split(pico, parts)
            for i, call in enumerate(row.tool_ids):
                step_id = f"{row.run}#{call}"
                values = (1 if i == 0 else 0, *(s[i] for s in shares), picos[i], 0)
                group = steps.setdefault(step_id, Group())
                group.add(values, src, row.model, picos[i])
                run_of[step_id] = row.run
    return steps, run_of


def _steps(state: State, where: Filter, prices: PriceFile, breakdown: bool) -> Report:
    """Rows per step, and per run the remainder no step accounts for (``RUN#-``)."""
    steps, run_of = _step_groups(state, where, prices)
    runs: dict[str, Group] = {}
    first: dict[str, int] = {}
    totals = Group()
    for bucket, run, model, src, values, pico in _aggregates(state, where, prices):
        runs.setdefault(run, Group()).add(values, src, model, pico)
        first[run] = min(first.get(run, bucket), bucket)
        totals.add(values, src, model, pico)
    rows: list[tuple[str, Group, dict[str, Any]]] = []
    by_run: dict[str, list[str]] = {}
    for step_id, run in run_of.items():
        by_run.setdefault(run, []).append(step_id)
    for run in sorted(runs, key=lambda r: (first[r], r)):
        rows.extend(
            (step_id, steps[step_id], {"run_id": run, "unattributed": False})
            for step_id in by_run.get(run, [])
        )
        rest = remainder(runs[run], [steps[s] for s in by_run.get(run, [])])
        if rest.responses or rest.unknown or any(rest.tokens) or rest.pico:
            rows.append((f"{run}#-", rest, {"run_id": run, "unattributed": True}))
    out = Report("step", rows, totals)
    out.meta = {"tz": str(where.tz), "price_file": prices.path}
    return out


def remainder(total: Group, steps: list[Group]) -> Group:
    """What a run's steps leave of its total: the responses that issued no tool call."""
    rest = Group()
    rest.merge(total)
    for step in steps:
        for i in range(6):
            rest.tokens[i] -= step.tokens[i]
        rest.pico -= step.pico
        rest.responses -= step.responses
    return rest


def run_report(
    state: State,
    run: str,
    children: list[str],
    *,
    prices: PriceFile | None = None,
) -> dict[str, Any]:
    """One run's costs: its own total, with its child runs (and per model), per step,
    and the remainder."""
    prices = prices or PriceFile(None, {})
    where = Filter(datetime.UTC, None, None, None)
    wanted = {run, *children}
    own: dict[str, Group] = {name: Group() for name in wanted}
    models: dict[str, Group] = {}
    for _, agg_run, model, src, values, pico in _aggregates(state, where, prices):
        if agg_run in wanted:
            own[agg_run].add(values, src, model, pico)
            models.setdefault(model or "(no model)", Group()).add(values, src, model, pico)
    steps, run_of = _step_groups(state, where, prices, wanted)
    infos = run_infos(state) if children else {}
    parents = {child: parent_of(child, infos) for child in children}
    whole = Group()
    for name in wanted:
        whole.merge(own[name])
    mine = [s for s, r in run_of.items() if r == run]
    return {
        "run_id": run,
        "totals": own[run].to_dict(),
        "with_children": whole.to_dict(),
        "models": [
            {"model": name, **group.to_dict()}
            for name, group in sorted(models.items(), key=lambda kv: (-kv[1].pico, kv[0]))
        ],
        "steps": [{"step_id": s, **steps[s].to_dict()} for s in mine],
        "unattributed": remainder(own[run], [steps[s] for s in mine]).to_dict(),
        "children": [
            {"run_id": c, "parent_run_id": parents.get(c), **own[c].to_dict()}
            for c in sorted(children)
        ],
    }
