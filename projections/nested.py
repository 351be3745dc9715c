"""Small nested objects of payloads, decoded only when a view needs them.

A model, a tool's call id, an error's name, a tool response's text, OpenCode's
``time``: :func:`decode_raw` and :func:`times` turn the :class:`msgspec.Raw` a
payload struct kept into a struct of ``object`` leaves, or None if unusable.
"""

from __future__ import annotations

import msgspec

__all__ = ["DECODE_ERRORS", "decode_raw", "times"]

_EMPTY = msgspec.Raw()
#: What decoding a payload (or a part of one) can raise: a view skips what fails.
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError)


class _Small(msgspec.Struct, gc=False):
    """Small nested objects: a message's model, a tool's call id, an error's name."""

    model: object = None
    modelID: object = None
    providerID: object = None
    callID: object = None
    cwd: object = None
    name: object = None
    error: object = None
    status: object = None
    llmContent: object = None
    returnDisplay: object = None
    exit: object = None
    metadata: msgspec.Raw = _EMPTY


class _Times(msgspec.Struct, gc=False):
    """OpenCode ``time``: of a session, a message, a part or a tool part's state."""

    start: object = None
    end: object = None
    created: object = None
    updated: object = None
    completed: object = None
    time: msgspec.Raw = _EMPTY  # a tool part's state.time


_SMALL = msgspec.json.Decoder(_Small).decode
_TIMES = msgspec.json.Decoder(_Times).decode


def decode_raw(raw: msgspec.Raw | None) -> _Small | None:
    """Decode a small nested object (model, tool, error, response); None if unusable."""
    if not raw:
        return None
    try:
        return _SMALL(raw)
    except DECODE_ERRORS:
        return None


def times(raw: msgspec.Raw | None) -> _Times | None:
    """Decode an OpenCode ``time`` object; None if unusable."""
    if not raw:
        return None
    try:
        return _TIMES(raw)
    except DECODE_ERRORS:
        return None
