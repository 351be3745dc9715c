"""``verify``: check invariants 1, 3 and 4 of the log, naming the first bad seq.

1. Seqs run 1..head with no gap or duplicate, and each segment is keyed by the seq
   of its first entry.
3. Every record's previous digest is the digest of the record before it, and the
   head anchor in ``meta`` (written by every append) is the digest of the last
   record, so even the newest record is covered.
4. Every payload is stored, hashes to its digest, and the blob and idempotency
   indexes point at the records that hold them, or was erased by ``journal forget``
   (its digest is in ``erased``, :mod:`journal.erasure`).

A broken link between records N-1 and N means one of the two changed. The digest of
N is checked against what its successor (or the head anchor) committed to: if N is
intact, N-1 is the record that changed and is named; otherwise N is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import digest as _digest
from . import wire
from .errors import CorruptionError, JournalError
from .logenv import reading

if TYPE_CHECKING:
    from collections.abc import Callable

    import lmdb

    from .logenv import LogEnv
    from .records import VerifyReport

__all__ = ["verify"]

_u64 = wire.seq_of_key


def _successor_link(journal: LogEnv, txn: lmdb.Transaction, seq: int) -> bytes | None:
    """What the record after ``seq`` (or the head anchor) says seq's digest is."""
    try:
        return journal._entry(txn, seq + 1).prev_digest
    except JournalError:
        anchor = journal._anchor(txn)
        return anchor[1] if anchor is not None and anchor[0] == seq else None


def verify(journal: LogEnv, progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Check the whole log, stopping at the first fault."""
    from .records import VerifyReport

    _digest.use_openssl()
    sha = _digest.digest
    expected, prev = 1, wire.ZERO_DIGEST
    blobs_checked = 0
    erased = 0

    def report(problem: str | None, bad: int | None) -> VerifyReport:
        return VerifyReport(
            ok=problem is None,
            head_seq=expected - 1,
            head_digest=prev.hex(),
            records_checked=bad - 1 if bad is not None else expected - 1,
            blobs_checked=blobs_checked,
            first_bad_seq=bad,
            problem=problem,
            erased=erased,
        )

    with reading(), journal._env.begin() as txn:
        get = txn.get
        blobs_db, idem_db, erased_db = journal._blobs, journal._idem, journal._erased
        for key, value in txn.cursor(db=journal._log):
            if _u64(key) != expected:
                return report(f"segment key {_u64(key)} where seq {expected} was due", expected)
            try:
                entries = list(wire.iter_segment(value))
            except CorruptionError as exc:
                return report(str(exc), expected)
            if not entries:
                return report("empty segment", expected)
            for entry in entries:
                seq = entry.seq
                if seq != expected:
                    return report(f"record says seq {seq} where {expected} was due", expected)
                if entry.prev_digest != prev:
                    if _successor_link(journal, txn, seq) == sha(entry.record):
                        return report(
                            f"record changed: its digest no longer matches seq {seq}'s link",
                            seq - 1,
                        )
                    return report("previous-digest link is broken", seq)
                holder = get(entry.payload_digest, db=blobs_db)
                if entry.inline is not None:
                    if sha(entry.inline) != entry.payload_digest:
                        return report("payload does not hash to its digest", seq)
                    if holder is None or _u64(holder) != seq:
                        return report("blob index does not point at this payload", seq)
                    blobs_checked += 1
                elif holder is None or _u64(holder) >= seq:
                    if get(entry.payload_digest, db=erased_db) is None:
                        return report("payload blob is missing", seq)
                    erased += 1  # journal forget erased it (invariant 4)
                if entry.key is not None:
                    known = get(entry.key.encode(), db=idem_db)
                    if known is None or _u64(known) != seq:
                        return report("idempotency index does not point here", seq)
                prev = sha(entry.record)
                expected += 1
            if progress is not None:
                progress(len(entries))
        indexed = txn.stat(blobs_db)["entries"]
        try:
            anchor = journal._anchor(txn)
        except CorruptionError as exc:
            return report(str(exc), expected - 1 or None)
    head = expected - 1
    if head and anchor is None:
        return report("the head anchor is missing", head)
    if anchor is not None and (anchor[0], anchor[1]) != (head, prev):
        if anchor[0] == head:
            return report("record changed: its digest no longer matches the head anchor", head)
        return report(f"the head anchor names seq {anchor[0]} but the log ends at {head}", head)
    if indexed != blobs_checked:
        return report(
            f"blob index has {indexed} entries but {blobs_checked} payloads are stored", None
        )
    return report(None, None)
