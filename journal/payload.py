"""What a valid payload is, and the stored bytes it becomes (payload format ``raw-json/1``).

The journal stores the agent's own bytes, not a re-encoding: agents send compact
JSON, so repeated events are byte-identical and dedupe by digest, and the journal
keeps a faithful audit copy. The only transformation is removing leading and
trailing JSON whitespace (space, tab, CR, LF). The digest is SHA-256 of the stored
bytes (:mod:`journal.digest`).

A payload is valid when, after stripping:

1. it is 1 byte to :data:`MAX_PAYLOAD_BYTES` long;
2. it is valid UTF-8 (no BOM, no encoded surrogates);
3. it is exactly one JSON text (RFC 8259) whose top level is an object;
4. no string holds a lone UTF-16 surrogate escape (``"\\ud800"``): such a string
   has no UTF-8 form, so the views could not decode it;
5. containers nest no deeper than the decoders can recurse: CPython's default
   recursion limit allows about 900 levels (:data:`MAX_DEPTH` levels are always
   accepted; 10,000 never are); deeper input is rejected, never truncated;
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

from typing import TYPE_CHECKING, Any

import _json
import sys

from .errors import InvalidPayloadError

if TYPE_CHECKING:
    from collections.abc import Callable

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
    "validate_with_kind",
]

FORMAT = "raw-json/1"
DEFAULT_KIND = "generic"
DEFAULT_KIND_LIMIT = 128
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 512
TOO_DEEP = "nesting too deep to decode"
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
    data = data.strip(_WHITESPACE)
    if not data:
        raise InvalidPayloadError("empty input")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise InvalidPayloadError(
            f"payload too large: {len(data)} bytes > {MAX_PAYLOAD_BYTES} bytes"
        )
    return data


def _check_integers(value: Any) -> None:
    """Walk a decoded value for integers outside 64 bits (rule 6)."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        for child in item.values() if type(item) is dict else item:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append(child)
            elif kind is int and not INT_MIN <= child <= INT_MAX:
                raise InvalidPayloadError("integer beyond 64 bits")


def _check_surrogates(value: Any) -> None:
    """Reject strings holding lone surrogates (rule 4); only the stdlib lets them in."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            stack.extend(item.keys())
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
        elif type(item) is str and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidPayloadError(
                    "string holds a lone UTF-16 surrogate"
                ) from None


def _parse_int(text: str) -> int:
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
    object_pairs_hook = None
    parse_float = float
    parse_int = staticmethod(_parse_int)
    parse_constant = staticmethod(_reject_constant)

    def __init__(self) -> None:
        self.memo: dict[str, str] = {}


_context = _ScannerContext()
_scan: Callable[[str, int], tuple[Any, int]] = _json.make_scanner(_context)


def _scan_text(text: str) -> tuple[Any, int]:
    try:
        return _scan(text, 0)
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

        return _scan_text(text)
    except ValueError as exc:  # json.JSONDecodeError
        raise InvalidPayloadError(f"not JSON: {exc}") from None
    finally:
        _context.memo.clear()


def _hint(value: Any) -> str:
    for field in ("hook_event_name", "type"):
        name = value.get(field)
        if type(name) is str and name:
            return name[:DEFAULT_KIND_LIMIT]
    return DEFAULT_KIND


def validate(data: bytes) -> bytes:
    """Return the stored bytes of ``data`` or raise :class:`InvalidPayloadError`.

    Standard library only, for processes that live a few milliseconds.
    """
    return validate_with_kind(data)[0]


def validate_with_kind(data: bytes) -> tuple[bytes, str]:
    """Like :func:`validate`, also returning the payload's own event name.

    The name is the top-level ``hook_event_name`` string, else ``type``, else
    ``"generic"``: what an append without ``--kind`` records as the kind.
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
    if b"\\u" in data:
        _check_surrogates(value)
    return data, _hint(value)


_fast: Callable[[bytes], tuple[bytes, str]] | None = None


def _make_fast() -> Callable[[bytes], tuple[bytes, str]]:
    import msgspec

    class Probe(msgspec.Struct):
        # Only these two fields are materialised; msgspec validates and skips the rest.
        hook_event_name: Any = None
        type: Any = None

    probe = msgspec.json.Decoder(Probe).decode
    full = msgspec.json.Decoder(float_hook=float).decode
    decode_error = msgspec.DecodeError
    validation_error = msgspec.ValidationError

    def fast(data: bytes) -> tuple[bytes, str]:
        data = _check_frame(data)
        try:
            fields = probe(data)
        except RecursionError:
            raise InvalidPayloadError(TOO_DEEP) from None
        except validation_error:
            raise InvalidPayloadError("not a JSON object") from None
        except decode_error as exc:
            raise InvalidPayloadError(f"not JSON: {exc}") from None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidPayloadError(
                f"not UTF-8: invalid byte at offset {exc.start}"
            ) from None
        if _LONG_DIGIT_RUN in data.translate(_DIGITS_TABLE):
            _check_integers(full(data))
        name = fields.hook_event_name
        if type(name) is not str or not name:
            name = fields.type
            if type(name) is not str or not name:
                return data, DEFAULT_KIND
        return data, name[:DEFAULT_KIND_LIMIT]

    return fast


def validate_fast(data: bytes) -> bytes:
    """Same verdict and result as :func:`validate`, using msgspec (for batches)."""
    return validate_fast_with_kind(data)[0]


def validate_fast_with_kind(data: bytes) -> tuple[bytes, str]:
    """Same verdict and result as :func:`validate_with_kind`, using msgspec."""
    global _fast
    if _fast is None:
        _fast = _make_fast()
    return _fast(data)
