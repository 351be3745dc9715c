"""Codex's trust in a hook: the hash it expects and the key it files it under.

Codex runs a hook from ``hooks.json`` (or ``[hooks]`` in a ``config.toml``) only when
the user's ``config.toml`` holds ``[hooks.state."<key>"] trusted_hash = "<hash>"`` with
the hook's current hash; an untrusted hook is skipped without a word by ``codex exec``
(the TUI asks for a review first). That is what the TUI's hook review writes, and what
``codex app-server``'s ``hooks/list`` reports as ``key`` and ``currentHash``.

The algorithm, from openai/codex ``codex-rs/hooks/src/engine/discovery.rs``
(``command_hook_hash``, ``NormalizedHookIdentity``), ``codex-rs/hooks/src/lib.rs``
(``hook_key``, ``hook_event_key_label``) and ``codex-rs/core/src/config_loader/
fingerprint.rs`` (``version_for_toml``):

- the identity of a command handler is ``{"event_name": <label>, "matcher": <matcher>,
  "hooks": [<handler>]}``, the label being the event in snake case
  (``SessionStart`` → ``session_start``), the matcher left out when unset or for
  events that take none (``UserPromptSubmit``, ``Stop``);
- the handler is normalised to ``type``, ``command``, ``timeout`` (default 600, at
  least 1; ``SessionEnd`` and ``Interrupt``: default 1, clamped to 1..3) and ``async``
  (default false), plus ``statusMessage`` when set;
- the hash is ``"sha256:" + hex(sha256(compact JSON with sorted keys))``;
- the key is ``<hooks.json path>:<label>:<group index>:<handler index>``, the path as
  Codex names it: ``$CODEX_HOME`` canonicalised, ``~/.codex`` as it is, a project's
  ``.codex`` under its working directory.

Checked against ``hooks/list`` of Codex 0.171.0 (``tests/journal/agents/
test_codex_trust.py`` does it again wherever that binary is installed). Trust is read
only from user-controlled layers: a project's hooks are trusted in the user's
``config.toml``, never in the project's own.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

__all__ = [
    "LABELS",
    "SHORT_TIMEOUT_MAX",
    "label",
    "parse_key",
    "state_key",
    "trusted_hash",
]

LABELS = {
    "PreModelRequest": "pre_model_request",
    "PostModelRequest": "post_model_request",
    "PreToolUse": "pre_tool_use",
    "PermissionRequest": "permission_request",
    "PostToolUse": "post_tool_use",
    "PreCompact": "pre_compact",
    "PostCompact": "post_compact",
    "SessionStart": "session_start",
    "SessionEnd": "session_end",
    "UserPromptSubmit": "user_prompt_submit",
    "SubagentStart": "subagent_start",
    "SubagentStop": "subagent_stop",
    "Stop": "stop",
    "Interrupt": "interrupt",
}
_EVENTS = {value: key for key, value in LABELS.items()}
_NO_MATCHER = frozenset({"UserPromptSubmit", "Stop"})
#: Codex clamps these events' timeouts to 1..3 s (and warns on every run if more).
SHORT_TIMEOUT_MAX = {"SessionEnd": 3, "Interrupt": 3}
_DEFAULT_TIMEOUT = 600


def label(event: str) -> str:
    """The event's name in Codex's state keys (its snake case)."""
    return LABELS.get(event) or re.sub(r"(?<!^)(?=[A-Z])", "_", event).lower()


def _timeout(event: str, value: object) -> int:
    configured = value if isinstance(value, int) and not isinstance(value, bool) else None
    top = SHORT_TIMEOUT_MAX.get(event)
    if top is not None:
        return min(max(1 if configured is None else configured, 1), top)
    return max(_DEFAULT_TIMEOUT if configured is None else configured, 1)


def trusted_hash(event: str, matcher: object, handler: dict[str, Any]) -> str | None:
    """The ``trusted_hash`` Codex expects for ``handler`` in a group with ``matcher``
    under ``event``, or None for a handler Codex would not run as a command."""
    command = handler.get("command")
    if handler.get("type") != "command" or not isinstance(command, str) or not command.strip():
        return None
    normal: dict[str, Any] = {
        "type": "command",
        "command": command,
        "timeout": _timeout(event, handler.get("timeout")),
        "async": handler.get("async") is True,
    }
    if isinstance(handler.get("statusMessage"), str):
        normal["statusMessage"] = handler["statusMessage"]
    identity: dict[str, Any] = {"event_name": label(event), "hooks": [normal]}
    if isinstance(matcher, str) and event not in _NO_MATCHER:
        identity["matcher"] = matcher
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def state_key(hooks_path: str, event: str, group: int, index: int) -> str:
    """The ``hooks.state`` key of one handler of ``hooks_path``."""
    return f"{hooks_path}:{label(event)}:{group}:{index}"


def parse_key(key: str, hooks_path: str) -> str | None:
    """The event of a ``hooks.state`` key of ``hooks_path``, or None if it is not one."""
    if not key.startswith(hooks_path + ":"):
        return None
    parts = key[len(hooks_path) + 1 :].split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts[1:]):
        return None
    return _EVENTS.get(parts[0])
