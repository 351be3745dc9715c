"""A journal's origin: its permanent id and optional human name (DESIGN §2).

The id is a random UUID (version 4) made when the journal is created and kept in the
log's ``meta`` database under ``origin``; a journal created before origins existed
gets one the first time it is opened for writing (:func:`ensure`, called by
:class:`journal.logenv.LogEnv` in the transaction that opens it). The id never
changes: a record that leaves this machine is named ``(origin, seq)``, and that pair
is its identity everywhere else (the JetStream message id, the idempotency key of a
pulled record). The name (``origin_name``) is a label for people and may change.

Stdlib only, and no import of the rest of the journal: the hook path opens the log
through :mod:`journal.logenv`, which calls :func:`ensure`.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import lmdb

__all__ = ["ID_KEY", "MAX_NAME", "NAME_KEY", "ensure", "new_id", "parse_id", "read", "write_name"]

ID_KEY = b"origin"
NAME_KEY = b"origin_name"
MAX_NAME = 64


def new_id() -> str:
    """A fresh random UUID (version 4) as text, without importing :mod:`uuid`."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def parse_id(text: str) -> bytes:
    """The 16 bytes of origin id ``text`` (UUID text, lowercase hex with dashes).

    Raises:
        ValueError: ``text`` is not a UUID in that form.
    """
    if len(text) != 36 or [len(p) for p in text.split("-")] != [8, 4, 4, 4, 12]:
        raise ValueError(f"not an origin id: {text!r}")
    raw = bytes.fromhex(text.replace("-", ""))
    if raw.hex() != text.replace("-", ""):
        raise ValueError(f"not an origin id (must be lowercase): {text!r}")
    return raw


def ensure(txn: lmdb.Transaction, meta: lmdb._Database) -> None:
    """Give the journal an origin id if it has none (inside a write transaction)."""
    if txn.get(ID_KEY, db=meta) is None:
        txn.put(ID_KEY, new_id().encode(), db=meta, overwrite=False)


def read(txn: lmdb.Transaction, meta: lmdb._Database) -> tuple[str | None, str | None]:
    """``(origin id, name)`` as recorded in ``meta`` (None where not recorded yet)."""
    ident = txn.get(ID_KEY, db=meta)
    name = txn.get(NAME_KEY, db=meta)
    return (
        bytes(ident).decode() if ident is not None else None,
        bytes(name).decode() if name is not None else None,
    )


def write_name(txn: lmdb.Transaction, meta: lmdb._Database, name: str) -> None:
    """Record the journal's human name (inside a write transaction); "" removes it.

    Raises:
        ValueError: a name longer than :data:`MAX_NAME` bytes or with control characters.
    """
    raw = name.strip().encode("utf-8")
    if len(raw) > MAX_NAME:
        raise ValueError(f"an origin name is at most {MAX_NAME} bytes")
    if any(c < 0x20 or c == 0x7F for c in raw):
        raise ValueError("an origin name must not contain control characters")
    if raw:
        txn.put(NAME_KEY, raw, db=meta)
    else:
        txn.delete(NAME_KEY, db=meta)
