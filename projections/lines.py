"""The shapes of transcript lines the views read: Claude Code transcripts, Codex rollouts.

Records of kind ``transcript`` are lines of an agent's own files, journalled by the
hooks' capture and by ``journal import``. Claude Code lines (``~/.claude/projects``)
name their session (``sessionId``) and subagent (``agentId``); their ``message``
holds the content blocks that give steps (``tool_use`` in assistant lines,
``tool_result`` in user lines) and prompts. Codex rollout lines
(``~/.codex/sessions/…/rollout-*.jsonl``) are ``{timestamp, type, payload}``; the
session id is not on every line, but the lines the views use carry it:
``session_meta`` (``payload.id``) and the ``event_msg`` items (``payload.thread_id``:
``item_completed`` with ``CommandExecution``, ``FileChange`` and ``UserMessage``
items, ``thread_settings_applied`` with the model).

Decoding is lenient like :mod:`projections.identity`: unknown fields are skipped,
leaves are ``object``, nested objects stay :class:`msgspec.Raw` until used, and
anything unusable decodes to None.
"""

from __future__ import annotations

import msgspec

from .nested import DECODE_ERRORS

__all__ = [
    "Block",
    "RolloutItem",
    "RolloutLine",
    "RolloutPayload",
    "TranscriptLine",
    "TranscriptMessage",
    "blocks",
    "rollout_item",
    "rollout_payload",
]

_EMPTY = msgspec.Raw()


class TranscriptMessage(msgspec.Struct, gc=False):
    """A Claude Code transcript line's ``message``: its model and content blocks."""

    model: object = None
    content: msgspec.Raw = _EMPTY


class TranscriptLine(msgspec.Struct, gc=False):
    """The fields views read from a Claude Code transcript line."""

    type: object = None
    sessionId: object = None
    agentId: object = None
    cwd: object = None
    timestamp: object = None
    uuid: object = None
    promptId: object = None
    isMeta: object = None
    isSidechain: object = None
    isCompactSummary: object = None
    toolDenialKind: object = None
    message: TranscriptMessage | str | None = None


class Block(msgspec.Struct, gc=False):
    """One content block: ``text``, ``tool_use`` (id, name) or ``tool_result``."""

    type: object = None
    id: object = None
    name: object = None
    tool_use_id: object = None
    is_error: object = None
    content: object = None
    text: object = None


class RolloutLine(msgspec.Struct, gc=False):
    """A Codex rollout line."""

    timestamp: object = None
    type: object = None
    payload: msgspec.Raw = _EMPTY


class RolloutPayload(msgspec.Struct, gc=False):
    """A rollout line's ``payload``: what the views read of its many shapes."""

    type: object = None
    id: object = None
    thread_id: object = None
    turn_id: object = None
    cwd: object = None
    item: msgspec.Raw = _EMPTY
    thread_settings: msgspec.Raw = _EMPTY
    started_at_ms: object = None
    completed_at_ms: object = None


class _Duration(msgspec.Struct, gc=False):
    secs: object = None
    nanos: object = None


class RolloutItem(msgspec.Struct, gc=False):
    """An ``item_completed`` item: a command, a file change, a user message, …"""

    type: object = None
    id: object = None
    status: object = None
    exit_code: object = None
    duration: _Duration | None = None
    model: object = None


_BLOCKS = msgspec.json.Decoder(list[Block]).decode
_PAYLOAD = msgspec.json.Decoder(RolloutPayload).decode
_ITEM = msgspec.json.Decoder(RolloutItem).decode


def blocks(raw: msgspec.Raw) -> list[Block] | None:
    """The content blocks of a message (None: plain-text content or unusable)."""
    if not raw or memoryview(raw)[0] != ord("["):
        return None
    try:
        return _BLOCKS(raw)
    except DECODE_ERRORS:
        return None


def rollout_payload(raw: msgspec.Raw) -> RolloutPayload | None:
    """A rollout line's payload, or None."""
    if not raw or memoryview(raw)[0] != ord("{"):
        return None
    try:
        return _PAYLOAD(raw)
    except DECODE_ERRORS:
        return None


def rollout_item(raw: msgspec.Raw) -> RolloutItem | None:
    """An ``item_completed`` item (or ``thread_settings``), or None."""
    if not raw or memoryview(raw)[0] != ord("{"):
        return None
    try:
        return _ITEM(raw)
    except DECODE_ERRORS:
        return None
