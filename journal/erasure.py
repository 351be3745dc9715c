"""How an erased payload reads (``journal forget``, DESIGN §7, invariant 4).

``journal forget`` deletes a payload's bytes but keeps every record and its payload
digest, so the hash chain still verifies. The named database ``erased`` of the log
environment maps each erased payload digest to the seq of the ``journal.forget``
record that erased it; the bytes themselves are gone from the log (the entry that
held them inline is rewritten without them) and from the ``blobs`` index.

The representation does not depend on how segments are encoded (packed or not,
:mod:`journal.packing`): erasure is a fact about a digest, kept beside the blobs.

A record whose payload was erased reads with the payload :data:`ERASED_PAYLOAD`,
JSON ``null``: a stored payload is always a JSON object, so ``null`` cannot be one,
and ``log --json`` prints ``"payload": null``. The views skip such records
(:mod:`projections.logread`): to them the payload is absent.

Stdlib and lmdb only: the hook path imports it through :mod:`journal.logenv`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import lmdb

__all__ = ["DB", "ERASED_PAYLOAD", "erased_by", "is_erased"]

#: The named database of erased payload digests.
DB = b"erased"
#: What an erased payload reads as.
ERASED_PAYLOAD = b"null"


def erased_by(txn: lmdb.Transaction, db: lmdb._Database, digest: bytes) -> int | None:
    """The seq of the ``journal.forget`` record that erased ``digest``, or None."""
    value = txn.get(digest, db=db)
    return None if value is None else int.from_bytes(value, "big")


def is_erased(payload: bytes) -> bool:
    """Whether a record's payload, as read, is an erased one."""
    return payload == ERASED_PAYLOAD
