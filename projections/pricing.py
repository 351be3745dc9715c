"""Prices: USD per token from ``genai-prices`` (offline, dated) and the user's price file.

The costs view prices every API response in its fold and stores the dollars, so a
query never prices anything. Calling ``genai_prices.calc_price`` per response would
cost ~240 µs each (and the package ~0.3 s to import), so :class:`PriceBook` asks
genai-prices once per (provider, model, UTC day) for the model's prices, turns them
into integer rates (femtodollars per token, per token field, per price tier) and
multiplies. Dollars are kept as integer **picodollars** (10⁻¹² USD): sums are exact,
so a run's steps plus its remainder equal its total to the last digit.

The rates come from probing genai-prices' own arithmetic with one-token usages, so
whatever it does (which price key covers which token, cache-write TTLs, the tier
chosen by a request's total input) is what the rates do; a test compares the two on
random usages. genai-prices counts ``input_tokens`` as *all* input, cached parts
included; the journal's token fields partition it (DESIGN §5), so a probe for a
cache read is ``Usage(input_tokens=1, cache_read_tokens=1)``.

Only bundled prices are used (never genai-prices' auto-update from the network), so
a given installed version always prices a response the same way: that version is part
of the costs view's version (:func:`prices_version`), and upgrading it rebuilds.

The **price file** (``AGENT_JOURNAL_PRICES``, else ``<home>/prices.toml``) overrides or
adds models. It is applied when a query reads the view, never folded in, so editing it
changes answers at once without a rebuild (format: ``docs/reference/views.md``).

genai-prices is imported on the first price asked for, never on the hook path.
"""

from __future__ import annotations

import os
import sys

from journal.errors import UsageError

# Not ``typing``: it costs a warm ``journal costs`` ~5 ms to import (projections.costfast).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from decimal import Decimal
    from typing import Any

__all__ = [
    "FIELDS",
    "PICO",
    "PRICE_FILE_ENV",
    "PriceBook",
    "PriceFile",
    "Rates",
    "Tokens",
    "load_price_file",
    "price_file_path",
    "prices_version",
    "total_input",
]

#: The token fields, in the order tokens are stored (DESIGN §5): uncached input, all
#: output (reasoning included), cache writes with a 5-minute and a 1-hour lifetime,
#: cache reads, and the part of the output spent reasoning.
FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
)
Tokens = tuple[int, int, int, int, int, int]
#: Picodollars per dollar.
PICO = 10**12
_FEMTO = 10**15
PRICE_FILE_ENV = "AGENT_JOURNAL_PRICES"
PRICE_FILE_NAME = "prices.toml"
_DAY_NS = 86_400 * 10**9

# What genai-prices calls each token field, as a one-token usage on top of a request
# whose total input is already some value (see PriceBook._rates).
_PROBES: tuple[dict[str, int], ...] = (
    {"input_tokens": 1},
    {"output_tokens": 1},
    {"input_tokens": 1, "cache_write_tokens": 1, "cache_write_5m_tokens": 1},
    {"input_tokens": 1, "cache_write_tokens": 1, "cache_write_1h_tokens": 1},
    {"input_tokens": 1, "cache_read_tokens": 1},
    {"output_tokens": 1, "output_reasoning_tokens": 1},
)
# Which agent's responses come from which genai-prices provider, when they do not say.
_PROVIDERS = {"claude-code": "anthropic", "codex": "openai", "gemini": "google"}


def total_input(tokens: Tokens) -> int:
    """All input of a response, cached parts included (what price tiers are chosen by)."""
    return tokens[0] + tokens[2] + tokens[3] + tokens[4]


class Rates:
    """A model's prices as integer femtodollars per token, per tier.

    ``bands`` are (threshold, per-field rates, fixed cost per response), highest
    threshold first; a band applies when a response's total input exceeds its
    threshold (the base band's is -1). The reasoning rate is what a reasoning token
    costs *beyond* the output rate (reasoning tokens are inside output tokens).
    """

    __slots__ = ("bands",)

    def __init__(self, bands: list[tuple[int, Tokens, int]]) -> None:
        self.bands = sorted(bands, key=lambda band: -band[0])

    def pico(self, tokens: Tokens) -> int:
        """The cost of one response with these tokens, in picodollars."""
        total = total_input(tokens)
        for threshold, rates, fixed in self.bands:
            if total > threshold:
                femto = fixed
                for count, rate in zip(tokens, rates, strict=True):
                    femto += count * rate
                return (femto + 500) // 1000
        return 0


def _femto(value: Decimal) -> int:
    """Dollars as femtodollars (prices have at most nine decimals per million tokens)."""
    return int((value * _FEMTO).to_integral_value())


class PriceBook:
    """genai-prices' bundled prices, resolved once per (provider, model, day) and cached.

    ``price`` returns None for a model genai-prices does not know (or prices it cannot
    compute): the response is then ``unpriced``, its tokens still counted.
    """

    def __init__(self) -> None:
        self._rates: dict[tuple[str | None, str, int], Rates | None] = {}
        self._models: dict[tuple[str | None, str], Any] = {}
        self._snapshot: Any = None
        self._failed = False

    def cost(
        self, source: str, provider: str | None, model: str, time_ns: int, tokens: Tokens
    ) -> int | None:
        """The cost of one response with ``tokens``, in picodollars; None if unpriced.

        ``provider`` is the genai-prices provider id when the agent names one
        (OpenCode ``providerID``); else the source's usual provider is tried, then any.
        """
        hint = self.hint(source, provider)
        rates = self.rates(hint, model, time_ns)
        return None if rates is None else rates.pico(tokens)

    @staticmethod
    def hint(source: str, provider: str | None) -> str | None:
        """The genai-prices provider to look a model up with: the agent's own, else
        the source's usual one (None: any)."""
        return provider or _PROVIDERS.get(source)

    def timing(self, hint: str | None, model: str) -> int | None:
        """How long one price of ``model`` holds, in ns: a UTC day (genai-prices'
        start dates), or a minute for the few models priced by time of day; None for a
        model genai-prices does not know."""
        found = self._model(hint, model)
        if found is None:
            return None
        return 60_000_000_000 if found[2] else _DAY_NS

    def rates(self, hint: str | None, model: str, time_ns: int) -> Rates | None:
        """The model's rates at ``time_ns``; None if unknown or not computable."""
        found = self._model(hint, model)
        if found is None:
            return None
        when = time_ns // (60_000_000_000 if found[2] else _DAY_NS)
        key = (hint, model, when)
        if key in self._rates:
            return self._rates[key]
        rates = self._rates[key] = self._resolve(found[1], time_ns)
        return rates

    def _model(self, hint: str | None, model: str) -> tuple[Any, Any, bool] | None:
        key = (hint, model)
        if key in self._models:
            found: tuple[Any, Any, bool] | None = self._models[key]
            return found
        found = None
        snapshot = self._load()
        if snapshot is not None and model and not model.startswith("<"):
            for provider_id in dict.fromkeys((hint, None)):
                try:
                    provider, info = snapshot.find_provider_model(model, None, provider_id, None)
                except (LookupError, ValueError):
                    continue
                found = (provider, info, _time_of_day(info))
                break
        self._models[key] = found
        return found

    def _load(self) -> Any:
        if self._snapshot is None and not self._failed:
            try:
                from genai_prices import data_snapshot
            except ImportError:
                self._failed = True
                return None
            self._snapshot = data_snapshot.get_snapshot()
        return self._snapshot

    def _resolve(self, info: Any, time_ns: int) -> Rates | None:
        """Probe the model's prices on the response's day into integer rates."""
        import datetime

        from genai_prices import Usage
        from genai_prices.types import TieredPrices

        stamp = datetime.datetime.fromtimestamp(time_ns / 1e9, tz=datetime.UTC)
        try:
            model_price = info.get_prices(stamp)
            thresholds = {-1}
            for value in vars(model_price).values():
                if isinstance(value, TieredPrices):
                    thresholds.update(tier.start for tier in value.tiers)
            bands = []
            for threshold in thresholds:
                floor = threshold + 1
                base = model_price.calc_price(Usage(input_tokens=floor))["total_price"]
                rates = []
                for probe in _PROBES:
                    usage = dict(probe)
                    usage["input_tokens"] = usage.get("input_tokens", 0) + floor
                    total = model_price.calc_price(Usage(**usage))["total_price"]
                    rates.append(total - base)
                rates[5] -= rates[1]  # reasoning: on top of the output rate
                fixed = base - rates[0] * floor
                bands.append((threshold, tuple(_femto(r) for r in rates), _femto(fixed)))
        except (ValueError, TypeError, ArithmeticError, AttributeError, KeyError):
            return None
        return Rates(bands)  # type: ignore[arg-type]


def _time_of_day(info: Any) -> bool:
    """Whether the model's prices change with the time of day (off-peak prices)."""
    from genai_prices.types import TimeOfDateConstraint

    prices = info.prices
    if not isinstance(prices, list):
        return False
    return any(isinstance(p.constraint, TimeOfDateConstraint) for p in prices)


def prices_version() -> str:
    """The installed genai-prices version ("none" if absent), without importing it.

    Read from its ``.dist-info`` directory name, because ``importlib.metadata`` alone
    costs ~40 ms and every view query asks for the costs view's version.
    """
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        if "genai_prices" not in names:
            continue
        for name in names:
            if name.startswith("genai_prices-") and name.endswith(".dist-info"):
                return name[len("genai_prices-") : -len(".dist-info")]
    return "none"


# -- the user's price file --------------------------------------------------------

_KEYS = {
    "input": 0,
    "output": 1,
    "cache_write_5m": 2,
    "cache_write_1h": 3,
    "cache_read": 4,
    "reasoning": 5,
}


class PriceFile:
    """The user's prices per million tokens, by model name or ``fnmatch`` pattern.

    Exact names win over patterns; patterns are tried in file order.
    """

    def __init__(self, path: str | None, models: Mapping[str, Rates]) -> None:
        self.path = path
        self._exact = {name: rates for name, rates in models.items() if not _is_pattern(name)}
        self._patterns = [(name, rates) for name, rates in models.items() if _is_pattern(name)]

    def __bool__(self) -> bool:
        return bool(self._exact or self._patterns)

    def rates(self, model: str) -> Rates | None:
        """The file's rates for ``model``, or None if it names no such model."""
        found = self._exact.get(model)
        if found is not None:
            return found
        if not self._patterns:
            return None
        import fnmatch

        for pattern, rates in self._patterns:
            if fnmatch.fnmatchcase(model, pattern):
                return rates
        return None


def _is_pattern(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def price_file_path(home: str) -> str:
    """``$AGENT_JOURNAL_PRICES`` if set, else ``<home>/prices.toml``."""
    return os.environ.get(PRICE_FILE_ENV) or os.path.join(home, PRICE_FILE_NAME)


def _number(model: str, key: str, value: object) -> Decimal:
    from decimal import Decimal

    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UsageError(f"price file: {model!r} {key} must be a number, not {value!r}")
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise UsageError(f"price file: {model!r} {key} must be a number, not {value!r}") from None
    if not number.is_finite() or number < 0:
        raise UsageError(f"price file: {model!r} {key} must be a non-negative number")
    return number


def _rates(model: str, table: object) -> Rates:
    """One model's table (USD per million tokens) as rates; missing caches fall back."""
    if not isinstance(table, dict):
        raise UsageError(f"price file: {model!r} must be a table of prices")
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise UsageError(f"price file: {model!r} has unknown price {unknown[0]!r}")
    if "input" not in table or "output" not in table:
        raise UsageError(f"price file: {model!r} needs at least input and output")
    per_m: dict[str, Decimal] = {key: _number(model, key, v) for key, v in table.items()}
    per_m.setdefault("cache_read", per_m["input"])
    per_m.setdefault("cache_write_5m", per_m["input"])
    per_m.setdefault("cache_write_1h", per_m["cache_write_5m"])
    per_m.setdefault("reasoning", per_m["output"])
    rates = [0] * 6
    for key, index in _KEYS.items():
        rates[index] = _femto(per_m[key] / 10**6)
    rates[5] -= rates[1]
    return Rates([(-1, tuple(rates), 0)])  # type: ignore[list-item]


def load_price_file(path: str) -> PriceFile:
    """Read a price file (TOML, or JSON when it ends in ``.json``); none there: empty.

    Raises:
        UsageError: the file is unreadable or malformed (the message says where).
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return PriceFile(None, {})
    except OSError as exc:
        raise UsageError(f"cannot read price file {path}: {exc.strerror}") from None
    try:
        if path.endswith(".json"):
            import json

            data = json.loads(raw)
        else:
            import tomllib

            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"price file {path} is not valid: {exc}") from None
    models = data.get("models", {}) if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise UsageError(f"price file {path}: expected a [models] table")
    return PriceFile(path, {str(name): _rates(str(name), t) for name, t in models.items()})
