"""What a valid payload is, and the stored bytes it becomes (payload format ``raw-json/2``).

The journal stores the agent's own bytes, not a re-encoding: agents send compact
JSON, so repeated events are byte-identical and dedupe by digest, and the journal
keeps a faithful audit copy. The only transformations are removing leading and
trailing JSON whitespace (space, tab, CR, LF) and masking known secrets inside JSON
strings (:mod:`journal.redact`; that is what ``raw-json/2`` adds to ``raw-json/1``).
The digest is SHA-256 of the stored bytes (:mod:`journal.digest`).

A payload is valid when, after stripping:

1. it is 1 byte to :data:`MAX_PAYLOAD_BYTES` long;
2. it is valid UTF-8 (no BOM, no encoded surrogates);
3. it is exactly one JSON text (RFC 8259) whose top level is an object;
4. no string holds a lone UTF-16 surrogate escape (``"\\ud800"``): such a string
   has no UTF-8 form, so the views could not decode it;
5. containers nest at most :data:`MAX_DEPTH` (512) levels deep;
6. every integer fits in 64 bits (``-2**63 .. 2**64-1``).

Floats are not range-checked: ``1e400`` is valid JSON and reads back as infinity.

Two validators implement this one definition. :func:`validate` uses only the C
scanner of the standard library (``_json``, ~0.3 ms to import) for short-lived hook
processes; :func:`validate_fast` uses msgspec (~30 ms to import, ~10x faster per
payload) for batches. They never transform bytes, so they cannot disagree on what is
stored, only on a verdict, and ``tests/journal/test_payload.py`` checks by property
that they agree on every input.
"""

from __future__ import annotations

import _json
import sys

from .errors import InvalidPayloadError
from .redact import present as _present
from .redact import redact as _redact

# typing costs ~3 ms to import; this module is on the hook path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "FORMAT",
    "INT_MAX",
    "INT_MIN",
    "MAX_DEPTH",
    "MAX_PAYLOAD_BYTES",
    "strip",
    "validate",
    "validate_fast",
    "validate_fast_with_kind",
    "validate_many",
    "validate_parsed",
    "validate_with_kind",
]

FORMAT = "raw-json/2"  # raw-json/1 with known secrets masked (journal.redact)
DEFAULT_KIND = "generic"
DEFAULT_KIND_LIMIT = 128
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 512
TOO_DEEP = f"nesting deeper than {MAX_DEPTH} levels"
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
_WHITESPACE = b" \t\r\n"
# A 64-bit integer has at most 20 digits; anything out of range needs a run of 19+.
_LONG_DIGIT_RUN = b"0" * 19  # after translating every digit to "0"
_DIGITS_TABLE = bytes(48 if 48 <= c <= 57 else 32 for c in range(256))


def strip(data: bytes) -> bytes:
    """Return the stored form of ``data``: surrounding JSON whitespace removed."""
    return data.strip(_WHITESPACE)


def _check_frame(data: bytes) -> bytes:
    data = strip(data)
    if not data:
        raise InvalidPayloadError("empty input")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise InvalidPayloadError(
            f"payload too large: {len(data)} bytes > {MAX_PAYLOAD_BYTES} bytes"
        )
    return _redact(data)


def _check_surrogates(value: Any) -> None:
    """Reject strings holding lone surrogates (rule 4); only the stdlib lets them in."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            stack.extend(item.keys())
            stack.extend(item.values())
        elif type(item) is list or type(item) is tuple:
            stack.extend(item)
        elif type(item) is str and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidPayloadError("string holds a lone UTF-16 surrogate") from None


def _parse_int(text: str) -> int:
    # JSON has no leading zeros, so 21+ characters is out of range; never int() them
    # (beyond 4300 digits int() raises a ValueError of its own).
    if len(text) > 21:
        raise InvalidPayloadError("integer beyond 64 bits")
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise InvalidPayloadError("integer beyond 64 bits")
    return value


def _reject_constant(text: str) -> Any:
    raise InvalidPayloadError(f"not JSON: {text} is not a JSON value")


class _ScannerContext:
    """The attributes ``_json.make_scanner`` reads (what ``json.JSONDecoder`` has)."""

    strict = True
    object_hook = None
    object_pairs_hook: Callable[..., Any] | None = None
    parse_float = float
    parse_int = staticmethod(_parse_int)
    parse_constant = staticmethod(_reject_constant)

    def __init__(self) -> None:
        self.memo: dict[str, str] = {}


class _PairsContext(_ScannerContext):
    """Keeps every key-value pair, so a duplicate key cannot hide a string."""

    object_pairs_hook = list


# typeshed wants a make_scanner as the context; CPython reads JSONDecoder's attributes.
_make_scanner: Any = _json.make_scanner
_context = _ScannerContext()
_scan: Callable[[str, int], tuple[Any, int]] = _make_scanner(_context)
_pairs_context = _PairsContext()
_scan_pairs: Callable[[str, int], tuple[Any, int]] = _make_scanner(_pairs_context)
_SURROGATE_ESCAPES = tuple(b"\\ud" + bytes([c]) for c in b"89abcdef")


def _scan_text(
    text: str,
    scan: Callable[[str, int], tuple[Any, int]] = _scan,
    context: _ScannerContext = _context,
) -> tuple[Any, int]:
    try:
        return scan(text, 0)
    except InvalidPayloadError:
        raise
    except RecursionError:
        raise InvalidPayloadError(TOO_DEEP) from None
    except StopIteration:
        raise InvalidPayloadError("not JSON") from None
    except SystemError:
        # CPython 3.11's scanner reports syntax errors through json.decoder, which it
        # does not import itself; import it (bad input only) and scan again.
        if "json.decoder" in sys.modules:
            raise
        import json.decoder  # noqa: F401

        return _scan_text(text, scan, context)
    except ValueError as exc:  # json.JSONDecodeError
        raise InvalidPayloadError(f"not JSON: {exc}") from None
    finally:
        context.memo.clear()


def _kind_name(name: str) -> str:
    """Cut an event name to :data:`DEFAULT_KIND_LIMIT` UTF-8 bytes."""
    if len(name) * 4 <= DEFAULT_KIND_LIMIT:
        return name
    return name.encode()[:DEFAULT_KIND_LIMIT].decode("utf-8", "ignore")


def _hint(value: Any) -> str:
    for field in ("hook_event_name", "type"):
        name = value.get(field)
        if type(name) is str and name:
            return _kind_name(name)
    return DEFAULT_KIND


def _may_be_deep(data: bytes) -> bool:
    """Cheap necessary condition for nesting deeper than :data:`MAX_DEPTH`."""
    return len(data) > 2 * MAX_DEPTH and data.count(b"[") + data.count(b"{") > MAX_DEPTH


def _check_depth(pairs: Any) -> None:
    """Walk a value scanned with pairs kept: objects are lists of (key, value) tuples."""
    stack: list[tuple[Any, int]] = [(pairs, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidPayloadError(TOO_DEEP)
        for child in item:
            if type(child) is tuple:
                child = child[1]
            if type(child) is list:
                stack.append((child, depth + 1))


def validate(data: bytes) -> bytes:
    """Return the stored bytes of ``data`` or raise :class:`InvalidPayloadError`.

    Standard library only, for processes that live a few milliseconds.
    """
    return validate_parsed(data)[0]


def validate_with_kind(data: bytes) -> tuple[bytes, str]:
    """Like :func:`validate`, also returning the payload's own event name.

    The name is the top-level ``hook_event_name`` string, else ``type``, else
    ``"generic"``: what an append without ``--kind`` records as the kind.
    """
    stored, kind, _value = validate_parsed(data)
    return stored, kind


def validate_parsed(data: bytes) -> tuple[bytes, str, dict[str, Any]]:
    """Like :func:`validate_with_kind`, also returning the parsed object.

    The hook reads the agent's own ids from it without parsing twice.
    """
    data = _check_frame(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPayloadError(f"not UTF-8: invalid byte at offset {exc.start}") from None
    if text[0] != "{":
        raise InvalidPayloadError("not a JSON object")
    value, end = _scan_text(text)
    if end != len(text):
        raise InvalidPayloadError(f"not JSON: trailing data at offset {end}")
    # A dict keeps only the last value of a duplicate key, so the rarer checks rescan
    # keeping every pair: an overwritten value must not hide a violation.
    pairs = None
    if _may_be_deep(data):
        pairs = _scan_text(text, _scan_pairs, _pairs_context)[0]
        _check_depth(pairs)
    if b"\\u" in data:
        lowered = data.lower()
        if any(escape in lowered for escape in _SURROGATE_ESCAPES):
            if pairs is None:
                pairs = _scan_text(text, _scan_pairs, _pairs_context)[0]
            _check_surrogates(pairs)
    return data, _hint(value), value


class _Fast:
    """The msgspec validator, built on first use (importing msgspec costs ~30 ms)."""

    def __init__(self) -> None:
        import msgspec

        # Only these two fields are materialised; msgspec validates and skips the rest.
        # (defstruct takes real types: this module does not import typing at run time.)
        probe_type = msgspec.defstruct(
            "Probe", [("hook_event_name", object, None), ("type", object, None)]
        )
        decoder = msgspec.json.Decoder(probe_type)
        self.probe = decoder.decode
        self.probe_lines = decoder.decode_lines
        self.errors = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
        self.decode_error = msgspec.DecodeError
        self.validation_error = msgspec.ValidationError

    @staticmethod
    def kind(fields: Any) -> str:
        name = fields.hook_event_name
        if type(name) is not str or not name:
            name = fields.type
            if type(name) is not str or not name:
                return DEFAULT_KIND
        return _kind_name(name)

    def one(self, data: bytes) -> tuple[bytes, str]:
        data = _check_frame(data)
        # UTF-8 first, as validate() does: msgspec raises a bare UnicodeDecodeError
        # when it materialises a bad string inside a probed field.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidPayloadError(f"not UTF-8: invalid byte at offset {exc.start}") from None
        try:
            fields = self.probe(data)
        except RecursionError:
            raise InvalidPayloadError(TOO_DEEP) from None
        except self.validation_error:
            raise InvalidPayloadError("not a JSON object") from None
        except self.decode_error as exc:
            raise InvalidPayloadError(f"not JSON: {exc}") from None
        if _may_be_deep(data) or _LONG_DIGIT_RUN in data.translate(_DIGITS_TABLE):
            # Maybe too deep, or an integer beyond 64 bits (possibly behind a duplicate
            # key that a decoded dict would drop): the reference validator decides.
            validate_with_kind(data)
        return data, self.kind(fields)

    def screen(
        self, items: list[bytes], joined: bytes | None = None
    ) -> tuple[list[Any], set[int]] | None:
        """Check a whole list at once; return probes and the items to re-check alone.

        Whole-list checks (one UTF-8 decode, one digit scan, one msgspec pass over
        the lines) cost a fraction of per-item calls. Anything they cannot vouch for
        is returned for the per-item validator; ``None`` means check every item.
        """
        if joined is None:
            joined = b"\n".join(items)
            if joined.count(b"\n") != len(items) - 1:
                return None  # an item holds a newline: lines do not map to items
        try:
            joined.decode("utf-8")
        except UnicodeDecodeError:
            return None
        again: set[int] = set()
        for index, data in enumerate(items):
            # Every item must be one {...} for the lines to map one to one onto items:
            # a blank item (no value) could otherwise cancel out "{}{}" (two values).
            if not (data.startswith(b"{") and data.endswith(b"}")):
                return None
            if len(data) > 2 * MAX_DEPTH and (len(data) > MAX_PAYLOAD_BYTES or _may_be_deep(data)):
                again.add(index)  # too big, or maybe nested too deep
        digits = joined.translate(_DIGITS_TABLE)
        found = digits.find(_LONG_DIGIT_RUN)
        if found >= 0:
            import bisect
            import itertools

            ends = list(itertools.accumulate(len(data) + 1 for data in items))
            while found >= 0:
                index = bisect.bisect_right(ends, found)
                again.add(index)
                found = digits.find(_LONG_DIGIT_RUN, ends[index])
        try:
            probes = self.probe_lines(joined)
        except self.errors:
            return None
        if len(probes) != len(items):
            return None  # a blank item, or two values on one line
        return probes, again

    def many(
        self, items: list[bytes], joined: bytes | None = None
    ) -> list[tuple[bytes, str] | str]:
        screened = self.screen(items, joined) if items else None
        out: list[tuple[bytes, str] | str] = []
        append, one, kind = out.append, self.one, self.kind
        rules = _present(joined if joined is not None else b"\n".join(items))  # once a batch
        for index, data in enumerate(items):
            if screened is not None and index not in screened[1]:
                append((_redact(data.strip(_WHITESPACE), rules), kind(screened[0][index])))
                continue
            try:
                append(one(data))
            except InvalidPayloadError as exc:
                append(exc.reason)
        return out


_fast: _Fast | None = None


def _get_fast() -> _Fast:
    global _fast
    if _fast is None:
        _fast = _Fast()
    return _fast


def validate_fast(data: bytes) -> bytes:
    """Same verdict and result as :func:`validate`, using msgspec (for batches)."""
    return _get_fast().one(data)[0]


def validate_fast_with_kind(data: bytes) -> tuple[bytes, str]:
    """Same verdict and result as :func:`validate_with_kind`, using msgspec."""
    return _get_fast().one(data)


def validate_many(items: list[bytes], joined: bytes | None = None) -> list[tuple[bytes, str] | str]:
    """Validate a list at once: ``(stored, kind)`` per valid item, the reason otherwise.

    Same verdicts and results as :func:`validate_with_kind` item by item, faster on
    lists of hook events (see :meth:`_Fast.screen`). ``joined``, if given, must be
    ``b"\\n".join(items)`` with no newline inside any item.
    """
    return _get_fast().many(items, joined)
