"""The one digest function: SHA-256 over exactly the stored bytes.

Digests are 32 raw bytes in storage and lowercase hex (64 characters) in text, the
same as ``sha256sum`` prints for the stored bytes. The algorithm is recorded in the
journal's ``meta`` database and never changes for a journal.

Two implementations of the *same* function are used, chosen for cost, never for
output: the builtin ``_sha256`` imports in ~0.4 ms (hook processes live for ~20 ms),
OpenSSL's ``hashlib.sha256`` imports in ~5 ms but hashes ~3x faster (batch work).
``tests/journal/test_digest.py`` checks that they agree.
"""

from __future__ import annotations

import _sha256 as _builtin  # type: ignore[import-not-found]  # no stubs; 0.4 ms to import
import sys

# typing costs ~3 ms to import; this module is on the hook path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    class _Hash(Protocol):
        def digest(self) -> bytes: ...
        def update(self, data: bytes, /) -> None: ...
        def copy(self) -> _Hash: ...


__all__ = ["ALGORITHM", "check_prefix", "digest", "from_hex", "hasher", "to_hex", "use_openssl"]

ALGORITHM = "sha256"


_sha256: Callable[[bytes], _Hash] = _builtin.sha256


def use_openssl() -> None:
    """Switch to OpenSSL's SHA-256 (faster per byte, slower to import)."""
    global _sha256
    import hashlib

    _sha256 = hashlib.sha256


if "hashlib" in sys.modules:  # someone already paid for OpenSSL; use it
    use_openssl()


def hasher() -> Callable[[bytes], _Hash]:
    """Return the current SHA-256 constructor, for hot loops that hash many records."""
    return _sha256


def digest(data: bytes) -> bytes:
    """Return the 32-byte SHA-256 digest of ``data``."""
    return _sha256(data).digest()


def to_hex(raw: bytes) -> str:
    """Render a digest as lowercase hex."""
    return raw.hex()


def check_prefix(text: str) -> str:
    """Return ``text`` lowercased if it is 4 to 64 hex digits; raise ``ValueError``."""
    text = text.lower()
    if not 4 <= len(text) <= 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"{text!r} is not a hex digest or a prefix of 4+ hex digits")
    return text


def from_hex(text: str) -> bytes:
    """Parse a full 64-character hex digest; raise ``ValueError`` otherwise."""
    if len(text) != 64:
        raise ValueError(f"a digest is 64 hex characters, got {len(text)}")
    return bytes.fromhex(text)
