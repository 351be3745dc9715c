"""The ``journal costs`` table, without click: the warm read prints it too
(:mod:`journal.cli.costfast`)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from projections.costgroups import Report

__all__ = ["BY", "render_costs"]

#: The groupings (``projections.costgroups.BY``, repeated so that importing the CLI
#: does not import the views).
BY = ("run", "session", "model", "day", "project", "step", "origin")
_HEADS = {
    "run": "RUN",
    "session": "SESSION",
    "model": "MODEL",
    "day": "DAY",
    "project": "PROJECT",
    "step": "STEP",
}


def _n(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _usd(row: dict[str, Any]) -> str:
    cost = row["cost_usd"]
    if cost is None:
        return "unpriced"
    text = f"${cost:,.2f}" if cost >= 0.01 or cost == 0 else f"${cost:.4f}"
    return text + ("*" if row["cost_source"] == "mixed" else "")


def _cells(name: str, row: dict[str, Any]) -> list[str]:
    tokens = [row[f] for f in ("input_tokens", "output_tokens", "cache_read_tokens")]
    writes = (
        None
        if row["cache_write_5m_tokens"] is None
        else row["cache_write_5m_tokens"] + row["cache_write_1h_tokens"]
    )
    total = None if None in tokens else sum(tokens) + (writes or 0)
    return [
        name,
        _n(tokens[0]),
        _n(tokens[1]),
        _n(writes),
        _n(tokens[2]),
        _n(total),
        _usd(row),
    ]


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """The first column left-aligned, the numbers right-aligned, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        out.append("  ".join(cells).rstrip())
    return out


def render_costs(found: Report | dict[str, Any]) -> list[str]:
    """The ``journal costs`` table: a line per row (per model under it with
    ``--breakdown``), the totals, and what is unpriced or unknown."""
    data = found if isinstance(found, dict) else found.to_dict()
    head = [_HEADS.get(data["by"], "KEY"), "INPUT", "OUTPUT", "CACHE WRITE", "CACHE READ"]
    rows = [[*head, "TOTAL TOKENS", "COST"]]
    shown = {row["key"] for row in data["rows"]}
    for row in data["rows"]:
        name = row["key"]
        parent = row.get("parent_run_id")
        if parent in shown and name.startswith(parent + "/"):
            name = "  └ " + name[len(parent) + 1 :]
        rows.append(_cells(name, row))
        rows.extend(_cells(f"  └ {m['model']}", m) for m in row.get("models") or ())
    totals = data["totals"]
    rows.append(_cells("TOTAL", totals))
    out = _table(rows)
    if not data["rows"]:
        out.insert(1, "(no usage recorded)")
    notes = []
    if totals["unpriced_models"]:
        models = ", ".join(totals["unpriced_models"])
        notes.append(f"unpriced (tokens counted, no price known): {models}")
    if totals["tokens_unknown_runs"]:
        count = totals["tokens_unknown_runs"]
        notes.append(
            f"{count} run{'s' if count != 1 else ''} whose agent reports no tokens (Cursor)"
        )
    if any(row["cost_source"] == "mixed" for row in data["rows"]):
        notes.append("* mixes computed, provider-reported or unpriced costs")
    if data.get("price_file"):
        notes.append(f"prices from {data['price_file']} where it names the model")
    return out + notes


def render_run_costs(data: dict[str, Any]) -> list[str]:
    """The costs part of the ``journal run`` text, from
    :func:`projections.costqueries.run_costs`: the run's own usage, each child run's,
    the sum with them, and that sum per model."""
    whole = data["with_children"]
    if not whole["responses"] and not whole["tokens_unknown_runs"]:
        return ["costs:         no usage recorded"]
    run_id = data["run_id"]
    rows = [["", "INPUT", "OUTPUT", "CACHE WRITE", "CACHE READ", "TOTAL TOKENS", "COST"]]
    rows.append(_cells("this run", data["totals"]))
    for child in data["children"]:
        name = child["run_id"]
        short = name[len(run_id) + 1 :] if name.startswith(run_id + "/") else name
        rows.append(_cells(f"child {short}", child))
    if data["children"]:
        rows.append(_cells("with child runs", whole))
    rows.extend(_cells(f"  └ {m['model']}", m) for m in data["models"])
    lines = ["costs:", *("  " + line for line in _table(rows))]
    if whole["unpriced_models"]:
        models = ", ".join(whole["unpriced_models"])
        lines.append(f"  unpriced (tokens counted, no price known): {models}")
    if whole["tokens_unknown_runs"]:
        lines.append("  tokens unknown: the agent reports none (Cursor)")
    if any(row[-1].endswith("*") for row in rows):
        lines.append("  * mixes computed, provider-reported or unpriced costs")
    steps, rest = data["steps"], data["unattributed"]
    lines.append(
        f"  this run: {len(steps)} tool call{'s' if len(steps) != 1 else ''} {_usd_total(steps)}"
        f", the rest (no tool call) {_usd(rest)}"
    )
    return lines


def _usd_total(rows: list[dict[str, Any]]) -> str:
    priced = [row["cost_usd"] for row in rows if row["cost_usd"] is not None]
    if not priced:
        return "unpriced" if rows else "$0.00"
    return _usd({"cost_usd": sum(priced), "cost_source": "computed"})
