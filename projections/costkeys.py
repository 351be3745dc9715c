"""Key parts of the costs view's state, shared by the view and its Codex fold."""

from __future__ import annotations

__all__ = ["UNATTRIBUTED", "key_bytes"]

#: The run of usage whose session cannot be told (``SOURCE/unattributed``).
UNATTRIBUTED = "unattributed"
# Longest key part stored as is (a run id is at most 240 bytes; 511 is LMDB's limit).
_MAX_KEY = 200


def key_bytes(key: str) -> bytes:
    """A key part as bytes, hashed when long (LMDB keys are at most 511 bytes)."""
    raw = key.encode()
    if len(raw) <= _MAX_KEY:
        return raw
    import hashlib

    return b"#" + hashlib.sha256(raw).hexdigest().encode()
