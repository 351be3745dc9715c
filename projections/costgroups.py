"""The rows of a costs report, and the reports that need no run: by day and by model.

:class:`Group` sums aggregates into a row (or the totals) and gives its JSON shape;
:class:`Report` is what ``journal costs`` prints. :func:`summary` answers ``--by day``
(in UTC) and ``--by model`` from the view's per-day aggregates (``d:``, a few keys
per day and agent) instead of its per-run ones (``a:``, a few per run and quarter
hour): both hold the same sums, so both give the same report, and a year of history
costs a few hundred keys.

This module imports neither msgspec nor the fold: the warm read of ``journal costs``
(:mod:`projections.costfast`) uses it on a view it reads with LMDB alone.
"""

from __future__ import annotations

from journal.errors import UsageError

from .costkeys import AGG, DAY, DAY_PREFIX, SOURCES
from .pricing import FIELDS, PICO, PriceFile

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime
    from collections.abc import Iterable, Iterator
    from typing import Any, Protocol

    from .pricing import Rates

    class Scan(Protocol):
        """What :func:`summary` reads of a view's state."""

        def scan(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]: ...

else:
    # The C module ``datetime`` wraps, with the same types: the pure-Python half of
    # ``datetime`` costs a warm ``journal costs`` ~2 ms to import.
    try:
        import _datetime as datetime
    except ImportError:  # not CPython
        import datetime


__all__ = [
    "BY",
    "Filter",
    "Group",
    "Report",
    "parse_day",
    "summarises",
    "summary",
    "timezone",
]

BY = ("run", "session", "model", "day", "project", "step", "origin")
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def timezone(name: str | None) -> datetime.tzinfo:
    """The zone for day boundaries: an IANA name, ``UTC`` (default) or ``local``."""
    if not name or name.upper() == "UTC":
        return datetime.UTC
    if name == "local":
        local = datetime.datetime.now().astimezone().tzinfo
        return local or datetime.UTC
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {name!r} (use an IANA name, e.g. Europe/Paris)"
        ) from None


def parse_day(text: str | None, what: str) -> datetime.date | None:
    """``YYYY-MM-DD`` or ``YYYYMMDD`` as a date (None stays None)."""
    if text is None:
        return None
    raw = text.strip()
    if len(raw) == 8 and raw.isdigit():
        raw = f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"{what}: expected YYYY-MM-DD, not {text!r}") from None


class Group:
    """The sums of one group of aggregates (a row, or the totals)."""

    __slots__ = (
        "models",
        "pico",
        "priced",
        "responses",
        "sources",
        "tokens",
        "unknown",
        "unpriced",
    )

    def __init__(self) -> None:
        self.tokens = [0] * 6
        self.pico = 0
        self.priced = False
        self.responses = 0
        self.unknown = 0
        self.sources: set[str] = set()
        self.unpriced: set[str] = set()
        self.models: dict[str, Group] | None = None

    def add(self, values: tuple[int, ...], src: str, model: str, pico: int) -> None:
        """Add one aggregate (``values`` as :data:`~projections.costkeys.AGG` holds them)."""
        tokens = self.tokens
        for i in range(6):
            tokens[i] += values[i + 1]
        self.responses += values[0]
        self.unknown += values[8]
        self.sources.add(src)
        if src in ("c", "p"):
            self.pico += pico
            self.priced = True
        elif values[0] or any(values[1:7]):
            self.unpriced.add(model or "(no model)")

    def merge(self, other: Group) -> None:
        """Add another group's sums (not its model breakdown)."""
        for i in range(6):
            self.tokens[i] += other.tokens[i]
        self.pico += other.pico
        self.priced |= other.priced
        self.responses += other.responses
        self.unknown += other.unknown
        self.sources |= other.sources
        self.unpriced |= other.unpriced

    def cost_source(self) -> str:
        names = {SOURCES[s] for s in self.sources}
        return names.pop() if len(names) == 1 else ("mixed" if names else "computed")

    def to_dict(self, key: str | None = None) -> dict[str, Any]:
        """The JSON shape of a row (with ``key``) or of the totals."""
        out: dict[str, Any] = {} if key is None else {"key": key}
        only_unknown = self.responses == 0 and self.unknown > 0
        for name, value in zip(FIELDS, self.tokens, strict=True):
            out[name] = None if only_unknown else value
        empty = not self.sources  # nothing at all (an empty report's totals): $0, not unknown
        out["cost_usd"] = self.pico / PICO if self.priced or empty else None
        out["cost_source"] = self.cost_source()
        out["responses"] = self.responses
        out["unpriced_models"] = sorted(self.unpriced)
        out["tokens_unknown_runs"] = self.unknown
        if self.models is not None:
            out["models"] = [
                {"model": name, **group.to_dict()}
                for name, group in sorted(self.models.items(), key=lambda kv: (-kv[1].pico, kv[0]))
            ]
        return out


class Report:
    """A costs report: its rows in order and the totals."""

    def __init__(self, by: str, rows: list[tuple[str, Group, dict[str, Any]]], totals: Group):
        self.by = by
        self.rows = rows
        self.totals = totals
        self.meta: dict[str, Any] = {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``costs --json`` (DESIGN §5): ``by``, ``rows``, ``totals``, and more."""
        rows = [{**group.to_dict(key), **extra} for key, group, extra in self.rows]
        return {"by": self.by, "rows": rows, "totals": self.totals.to_dict(), **self.meta}


class Filter:
    """Which buckets and runs a report covers; bucket → local day, cached."""

    def __init__(
        self,
        tz: datetime.tzinfo,
        since: datetime.date | None,
        until: datetime.date | None,
        source: str | None,
    ) -> None:
        self.tz, self.since, self.until, self.source = tz, since, until, source
        self._days: dict[int, datetime.date] = {}

    def day(self, bucket: int) -> datetime.date:
        found = self._days.get(bucket)
        if found is None:
            stamp = datetime.datetime.fromtimestamp(bucket * 900, tz=self.tz)
            found = self._days[bucket] = stamp.date()
        return found

    def keeps_day(self, day: datetime.date) -> bool:
        return (self.since is None or day >= self.since) and (
            self.until is None or day <= self.until
        )

    def keeps(self, bucket: int, run: str) -> bool:
        if self.source is not None and not run.startswith(self.source + "/"):
            return False
        if self.since is None and self.until is None:
            return True
        return self.keeps_day(self.day(bucket))


def summarises(by: str, where: Filter) -> bool:
    """Whether :func:`summary` answers this report: by day in UTC, or by model when
    the days asked for are UTC days (or all of them)."""
    if where.source is not None and "/" in where.source:
        return False  # a run-id prefix, not an agent: only the per-run aggregates tell
    utc = where.tz is datetime.UTC
    if by == "day":
        return utc
    return by == "model" and (utc or (where.since is None and where.until is None))


def _day_aggregates(
    state: Scan, where: Filter, prices: PriceFile
) -> Iterable[tuple[datetime.date, str, str, tuple[int, ...], int]]:
    """Yield (UTC day, model, source letter, values, picodollars) of the kept days."""
    unpack, day_of = AGG.unpack, DAY.unpack_from
    days: dict[int, datetime.date] = {}
    for key, raw in state.scan(DAY_PREFIX):
        number = day_of(key, 2)[0]
        day = days.get(number)
        if day is None:
            day = days[number] = datetime.date.fromordinal(number + _EPOCH_ORDINAL)
        agent, model_b, src_b = key[6:].rsplit(b"\x00", 2)
        if where.source is not None and agent.decode("utf-8", "replace") != where.source:
            continue
        if not where.keeps_day(day):
            continue
        values = unpack(raw)
        model, src, pico = model_b.decode("utf-8", "replace"), src_b.decode(), values[7]
        if src in ("c", "u") and prices:
            rates = prices.rates(model)
            if rates is not None:
                src, pico = "c", _repriced(rates, values)
        yield day, model, src, values, pico


def _repriced(rates: Rates, values: tuple[int, ...]) -> int:
    return rates.pico(values[1:7])  # type: ignore[arg-type]


def summary(
    state: Scan, by: str, where: Filter, prices: PriceFile, *, breakdown: bool = False
) -> Report:
    """The report ``by`` day or model from the per-day aggregates (see
    :func:`summarises` for when it applies)."""
    groups: dict[str, Group] = {}
    totals = Group()
    for day, model, src, values, pico in _day_aggregates(state, where, prices):
        key = day.isoformat() if by == "day" else (model or "(no model)")
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group()
            if breakdown and by != "model":
                group.models = {}
        group.add(values, src, model, pico)
        if group.models is not None:
            per_model = group.models.setdefault(model or "(no model)", Group())
            per_model.add(values, src, model, pico)
        totals.add(values, src, model, pico)
    order = sorted(groups, key=lambda k: (-groups[k].pico, k)) if by == "model" else sorted(groups)
    out = Report(by, [(key, groups[key], {}) for key in order], totals)
    out.meta = {"tz": str(where.tz), "price_file": prices.path}
    return out
