"""What a valid payload is (``raw-json/2``), checked on both validators.

The hook path validates with the standard library, batches with msgspec; the two
must give the same verdict on every input and, when they accept, the same stored
bytes and kind. Each bad input the journal must refuse has its own test.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from journal import payload
from journal.errors import InvalidPayloadError

Validator = Callable[[bytes], tuple[bytes, str]]

REPO = pathlib.Path(__file__).resolve().parents[2]

VALIDATORS = [
    pytest.param(payload.validate_with_kind, id="stdlib"),
    pytest.param(payload.validate_fast_with_kind, id="msgspec"),
]


def nested(depth: int, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    """An object whose containers nest ``depth`` levels deep (the object is level 1)."""
    if opener == b"{":
        inner = b'{"a":' * (depth - 1) + b"1" + b"}" * (depth - 1)
    else:
        inner = opener * (depth - 1) + closer * (depth - 1)
    return b'{"a":' + inner + b"}"


def rejects(validate: Validator, data: bytes) -> str:
    """Return the reason ``validate`` gives for refusing ``data``."""
    with pytest.raises(InvalidPayloadError) as caught:
        validate(data)
    assert caught.value.reason == str(caught.value)
    return caught.value.reason


def accepts(validate: Validator, data: bytes) -> tuple[bytes, str]:
    """Validate ``data``, checking that the stored bytes are the stripped input."""
    stored, kind = validate(data)
    assert stored == data.strip(b" \t\r\n")
    return stored, kind


@pytest.fixture(params=VALIDATORS)
def validate(request: pytest.FixtureRequest) -> Validator:
    """Each of the two validators in turn."""
    function: Validator = request.param
    return function


# -- the frame -----------------------------------------------------------------------


def test_empty_input(validate: Validator) -> None:
    """Empty input is refused as empty."""
    assert rejects(validate, b"") == "empty input"


@pytest.mark.parametrize("data", [b" ", b"\n", b" \t\r\n \n"], ids=["space", "newline", "mixed"])
def test_whitespace_only_input(validate: Validator, data: bytes) -> None:
    """Input of JSON whitespace only is refused as empty."""
    assert rejects(validate, data) == "empty input"


def test_ten_megabyte_payload(validate: Validator) -> None:
    """A 10 MB payload is refused, and the reason says it is too large."""
    data = b'{"a":"' + b"x" * (10 * 1024 * 1024) + b'"}'
    reason = rejects(validate, data)
    assert "too large" in reason
    assert str(payload.MAX_PAYLOAD_BYTES) in reason


def test_largest_payload_is_accepted(validate: Validator) -> None:
    """A payload of exactly MAX_PAYLOAD_BYTES is accepted; one byte more is not."""
    data = b'{"a":"' + b"x" * (payload.MAX_PAYLOAD_BYTES - 8) + b'"}'
    assert len(data) == payload.MAX_PAYLOAD_BYTES
    accepts(validate, b"  " + data + b"\n")
    assert "too large" in rejects(validate, data[:-2] + b'x"}')


def test_surrounding_whitespace_is_stripped(validate: Validator) -> None:
    """Only leading and trailing JSON whitespace is removed; inner bytes are kept."""
    stored, _ = accepts(validate, b'\r\n\t {"a" : [1, 2] }\n ')
    assert stored == b'{"a" : [1, 2] }'


@pytest.mark.parametrize("data", [b"\x0c{}", b"{}\x0b", b"\xc2\xa0{}"], ids=["ff", "vt", "nbsp"])
def test_non_json_whitespace_is_refused(validate: Validator, data: bytes) -> None:
    """Form feed, vertical tab and no-break space are not JSON whitespace."""
    rejects(validate, data)


# -- syntax ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"{hello}", b"{'a': 1}", b'{"a" 1}', b'{"a":1,}', b'{"a":01}', b'{"a":tru}', b'{"a":"\x01"}'],
    ids=[
        "bare-word",
        "single-quotes",
        "no-colon",
        "trailing-comma",
        "leading-zero",
        "bad-literal",
        "control-char",
    ],
)
def test_not_json(validate: Validator, data: bytes) -> None:
    """Malformed JSON is refused as not JSON."""
    assert rejects(validate, data).startswith("not JSON")


@pytest.mark.parametrize(
    "data",
    [b'{"a": [1, 2', b'{"a":', b'{"a":"tex', b"{", b'{"a":1}{"b":2}', b'{"a":1} x'],
    ids=["open-array", "no-value", "open-string", "open-object", "two-objects", "trailing-data"],
)
def test_truncated_or_trailing_json(validate: Validator, data: bytes) -> None:
    """Truncated JSON and data after the object are refused."""
    assert rejects(validate, data).startswith("not JSON")


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":"\xff"}',
        b'{"a":"\xc0\xaf"}',
        b'{"a":"\xed\xa0\x80"}',
        b'{"\xe9":1}',
        b'{"a":"\xe2\x82"}',
    ],
    ids=["ff-byte", "overlong", "encoded-surrogate", "latin1-key", "cut-sequence"],
)
def test_invalid_utf8(validate: Validator, data: bytes) -> None:
    """Bytes that are not UTF-8 are refused, naming the first bad offset."""
    reason = rejects(validate, data)
    assert reason.startswith("not UTF-8: invalid byte at offset")


def test_bom_is_refused(validate: Validator) -> None:
    """A UTF-8 byte order mark before the object is refused (RFC 8259 §8.1)."""
    rejects(validate, b"\xef\xbb\xbf{}")
    rejects(validate, b'\xef\xbb\xbf{"a":1}')


@pytest.mark.parametrize(
    "data",
    [b"1", b"-2.5", b'"text"', b"null", b"true", b"[]", b'[{"a":1}]', b' ["x"] '],
    ids=["int", "float", "string", "null", "bool", "empty-array", "array-of-object", "array"],
)
def test_top_level_must_be_an_object(validate: Validator, data: bytes) -> None:
    """A JSON scalar or array is valid JSON but not a payload."""
    assert rejects(validate, data) == "not a JSON object"


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_constants_are_refused(validate: Validator, constant: bytes) -> None:
    """NaN and Infinity are not JSON."""
    rejects(validate, b'{"a":' + constant + b"}")
    rejects(validate, b'{"a":[1,' + constant + b"]}")


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1.5e-400", b"123456789e999"])
def test_float_overflow_is_accepted(validate: Validator, number: bytes) -> None:
    """A float out of double range is valid JSON and accepted as is."""
    accepts(validate, b'{"a":' + number + b"}")


def test_duplicate_keys_are_accepted(validate: Validator) -> None:
    """Duplicate keys are accepted and the bytes kept; the last one names the kind."""
    data = b'{"type":"first","a":1,"a":2,"type":"last"}'
    assert accepts(validate, data) == (data, "last")


# -- nesting -----------------------------------------------------------------------------


@pytest.mark.parametrize("opener", [b"[", b"{"], ids=["arrays", "objects"])
def test_ten_thousand_deep_nesting(validate: Validator, opener: bytes) -> None:
    """10,000 levels of nesting are refused as too deep, never crash."""
    closer = b"]" if opener == b"[" else b"}"
    assert rejects(validate, nested(10_000, opener, closer)) == payload.TOO_DEEP


@pytest.mark.parametrize("depth", [payload.MAX_DEPTH + 1, 600, 990, 992, 995, 2_000])
@pytest.mark.parametrize(
    ("opener", "closer"), [(b"[", b"]"), (b"{", b"}")], ids=["array", "object"]
)
def test_nesting_beyond_max_depth_is_refused(
    validate: Validator, depth: int, opener: bytes, closer: bytes
) -> None:
    """One level past MAX_DEPTH is refused by both validators, including near the parsers'
    own recursion limits, where they would otherwise disagree."""
    assert rejects(validate, nested(depth, opener, closer)) == payload.TOO_DEEP


def test_deep_value_hidden_behind_a_duplicate_key_is_refused(validate: Validator) -> None:
    """A too-deep value overwritten by a later duplicate key still counts."""
    deep = b"[" * payload.MAX_DEPTH + b"]" * payload.MAX_DEPTH
    assert rejects(validate, b'{"a":' + deep + b',"a":1}') == payload.TOO_DEEP


@pytest.mark.parametrize("depth", [2, 100, 500, payload.MAX_DEPTH])
@pytest.mark.parametrize("opener", [b"[", b"{"], ids=["arrays", "objects"])
def test_deep_nesting_up_to_max_depth_is_accepted(
    validate: Validator, opener: bytes, depth: int
) -> None:
    """Nesting up to MAX_DEPTH levels (500 and more) is always accepted."""
    closer = b"]" if opener == b"[" else b"}"
    accepts(validate, nested(depth, opener, closer))


# -- integers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        *(str(n).encode() for n in (2**64, 2**64 + 1, 10**20, -(2**63) - 1, -(10**19), -(10**30))),
        b"9" * 5001,  # past int()'s 4300-digit limit
        b"-" + b"9" * 5001,
    ],
    ids=["2^64", "2^64+1", "1e20", "-2^63-1", "-1e19", "-1e30", "5001-digits", "-5001-digits"],
)
def test_integers_beyond_64_bits(validate: Validator, text: bytes) -> None:
    """Integers outside -2**63 .. 2**64-1 are refused, wherever they are."""
    for data in (
        b'{"a":' + text + b"}",
        b'{"a":[1,{"b":' + text + b"}]}",
        b'{"a":' + text + b',"a":1}',  # hidden behind a duplicate key
    ):
        assert rejects(validate, data) == "integer beyond 64 bits"


@pytest.mark.parametrize(
    "number",
    [2**64 - 1, -(2**63), 2**63, -(2**63) + 1, 0, -0, 10**19, 1234567890123456789],
    ids=["2^64-1", "-2^63", "2^63", "-2^63+1", "zero", "minus-zero", "1e19", "19-digits"],
)
def test_integers_within_64_bits(validate: Validator, number: int) -> None:
    """The boundary values 2**64-1 and -2**63, and everything between, are accepted."""
    accepts(validate, b'{"a":' + str(number).encode() + b"}")


def test_long_digit_runs_that_are_not_integers(validate: Validator) -> None:
    """Long digit runs inside strings or floats are not integers and are accepted."""
    digits = b"9" * 40
    accepts(validate, b'{"a":"' + digits + b'"}')
    accepts(validate, b'{"a":' + digits + b".5}")
    accepts(validate, b'{"a":' + digits + b"e-10}")
    accepts(validate, b'{"a":-' + digits + b"E2}")


# -- surrogates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":"\\ud800"}',
        b'{"a":"\\udc00"}',
        b'{"a":"x\\uDBFFy"}',
        b'{"a":"\\ude00\\ud83d"}',
        b'{"a":"\\ud800\\ud800"}',
        b'{"\\ud800":1}',
        b'{"a":["\\udfff"]}',
        b'{"a":"\\ud800","a":"ok"}',
    ],
    ids=[
        "high",
        "low",
        "uppercase",
        "reversed-pair",
        "two-highs",
        "in-key",
        "in-array",
        "behind-duplicate-key",
    ],
)
def test_lone_surrogate_escape_is_refused(validate: Validator, data: bytes) -> None:
    """A string holding a lone UTF-16 surrogate escape has no UTF-8 form: refused."""
    rejects(validate, data)


@pytest.mark.parametrize(
    "data",
    [b'{"a":"\\ud83d\\ude00"}', b'{"a":"\\uDBFF\\uDFFF"}', b'{"\\ud800\\udc00":1}'],
    ids=["emoji", "last-code-point", "in-key"],
)
def test_surrogate_pair_is_accepted(validate: Validator, data: bytes) -> None:
    """An escaped surrogate pair is one code point and is accepted."""
    accepts(validate, data)


def test_escaped_backslash_before_u_is_not_a_surrogate(validate: Validator) -> None:
    """A JSON "\\\\ud800" is a backslash followed by text, not a surrogate escape."""
    accepts(validate, b'{"a":"\\\\ud800"}')


# -- kinds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"hook_event_name": "Stop", "type": "t"}, "Stop"),
        ({"type": "t"}, "t"),
        ({"hook_event_name": None, "type": "t"}, "t"),
        ({"hook_event_name": ""}, "generic"),
        ({"type": {"hook_event_name": "x"}}, "generic"),
        ({}, "generic"),
    ],
    ids=["hook-name", "type", "null-name", "empty-name", "object-type", "empty"],
)
def test_kind(validate: Validator, fields: dict[str, Any], kind: str) -> None:
    """The kind is the top-level hook_event_name, else type, else "generic"."""
    assert accepts(validate, json.dumps(fields).encode())[1] == kind


def test_kind_is_capped(validate: Validator) -> None:
    """An over-long event name is cut to DEFAULT_KIND_LIMIT UTF-8 bytes, never mid-character."""
    name = "é" * 300
    _, kind = accepts(validate, json.dumps({"type": name}).encode())
    assert kind == "é" * (payload.DEFAULT_KIND_LIMIT // 2)
    assert len(kind.encode()) == payload.DEFAULT_KIND_LIMIT


def test_validate_returns_the_stored_bytes(validate: Validator) -> None:
    """validate() and validate_fast() return the same stored bytes as the _with_kind forms."""
    data = b' {"hook_event_name":"Stop"}\n'
    assert payload.validate(data) == payload.validate_fast(data) == validate(data)[0]
    assert payload.strip(data) == data.strip()


# -- the two validators agree (property) -------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["\U0001f600", "é", "\x00", "\\", '"', "\u2028", "\ud7ff\ue000"])
)
_json_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["hook_event_name", "type", "a", "b"]) | st.text(max_size=5),
            children,
            max_size=4,
        )
    ),
    max_leaves=16,
)
_objects = st.dictionaries(
    st.sampled_from(["hook_event_name", "type", "session_id"]) | st.text(max_size=6),
    _json_values,
    max_size=5,
)


_MUTATIONS = [
    "none",
    "truncate",
    "insert",
    "replace",
    "wrap",
    "huge-int",
    "pad",
    "duplicate",
    "surrogate",
    "deep",
]


@st.composite
def json_ish(draw: st.DrawFn) -> bytes:
    """JSON text as agents might send it, then perhaps damaged in one of several ways."""
    value = draw(_objects | _json_values)
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (",", ": "), (" , ", " : ")]))
    text = json.dumps(value, separators=separators, ensure_ascii=draw(st.booleans()))
    data = text.encode("utf-8")
    mutation = draw(st.sampled_from(_MUTATIONS))
    if mutation == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif mutation == "insert":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at:]
    elif mutation == "replace" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    elif mutation == "wrap":
        data = b"[" + data + b"]"
    elif mutation == "huge-int" and data.startswith(b"{"):
        number = draw(st.sampled_from([2**64, -(2**63) - 1, 2**64 - 1, -(2**63), 10**25]))
        comma = b"" if data == b"{}" else b","
        data = b'{"big":' + str(number).encode() + comma + data[1:]
    elif mutation == "pad":
        data = draw(st.sampled_from([b" ", b"\n", b"\t\r\n", b"\x0c"])) + data + b"\n"
    elif mutation == "duplicate" and data.startswith(b"{") and data != b"{}":
        data = b'{"type":"shadowed",' + data[1:]
    elif mutation == "surrogate" and b'"' in data:
        at = data.index(b'"') + 1
        escape = draw(st.sampled_from([b"\\ud800", b"\\udfff", b"\\ud83d\\ude00", b"\\\\ud800"]))
        data = data[:at] + escape + data[at:]
    elif mutation == "deep":
        depth = draw(st.integers(1, 40))
        data = b'{"d":' + b"[" * depth + data + b"]" * depth + b"}"
    return data


def _verdict(validate: Validator, data: bytes) -> tuple[bytes, str] | None:
    try:
        return validate(data)
    except InvalidPayloadError:
        return None


@given(data=json_ish())
@example(data=b'{"x":"\\ud800","x":"ok"}')
@example(data=b'{"x":99999999999999999999,"x":1}')
@example(data=b'{"x":' + b"9" * 5000 + b"}")
@example(data=b'{"x":1e400}')
def test_validators_agree(data: bytes) -> None:
    """Both validators give one verdict; accepted, the same stored bytes and kind."""
    slow = _verdict(payload.validate_with_kind, data)
    fast = _verdict(payload.validate_fast_with_kind, data)
    assert slow == fast
    if slow is not None:
        assert slow[0] == data.strip(b" \t\r\n")


def _one_by_one(items: list[bytes]) -> list[tuple[bytes, str] | str]:
    out: list[tuple[bytes, str] | str] = []
    for data in items:
        try:
            out.append(payload.validate_with_kind(data))
        except InvalidPayloadError as exc:
            out.append(exc.reason)
    return out


def _verdicts_only(results: list[tuple[bytes, str] | str]) -> list[tuple[bytes, str] | None]:
    return [None if isinstance(r, str) else r for r in results]


@given(items=st.lists(json_ish(), max_size=12))
@example(items=[b"", b"{}{}"])  # a blank item must not shift the lines that follow
@example(items=[b"{}", b'{"a":1}\n{"b":2}'])  # an item holding a newline
@example(items=[b'{"n":' + b"1" * 19 + b"}", b"{}", b'{"n":' + b"1" * 21 + b"}"])
@example(items=[b'{"a":' + b"[" * 600 + b"]" * 600 + b"}", b'{"type":"t"}'])
def test_whole_list_validation_agrees_item_by_item(items: list[bytes]) -> None:
    """validate_many gives, for every item, the verdict, bytes and kind of validate_with_kind."""
    assert _verdicts_only(payload.validate_many(items)) == _verdicts_only(_one_by_one(items))


@given(value=_objects)
def test_every_json_object_is_accepted(value: dict[str, Any]) -> None:
    """Any JSON object Python writes (ints within 64 bits) is a valid payload."""

    def fits(item: Any) -> bool:
        if isinstance(item, bool) or not isinstance(item, int | list | dict):
            return True
        if isinstance(item, int):
            return payload.INT_MIN <= item <= payload.INT_MAX
        items = item.values() if isinstance(item, dict) else item
        return all(fits(child) for child in items)

    data = json.dumps(value).encode()
    if fits(value):
        assert payload.validate_with_kind(data)[0] == data
        assert payload.validate_fast_with_kind(data)[0] == data
    else:
        assert _verdict(payload.validate_with_kind, data) is None


# -- the hook path stays light ------------------------------------------------------------


@pytest.mark.parametrize("data", [b"{}", b"{", b"[]"], ids=["valid", "truncated", "array"])
def test_hook_path_validate_does_not_import_msgspec(data: bytes) -> None:
    """validate() runs on the standard library alone, for good and bad input."""
    code = (
        "import sys, journal.payload as p\n"
        f"try:\n    p.validate({data!r})\nexcept p.InvalidPayloadError:\n    pass\n"
        "assert 'msgspec' not in sys.modules, 'msgspec was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
