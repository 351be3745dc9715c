"""Leave no copy of erased bytes in the log's data file (``journal forget``, step 2).

LMDB never overwrites a page in place: a write copies the page, and the old one
goes to the free list with its bytes intact until a later write reuses it. Two
more places keep stale bytes, both found by reading a data file after a forget:

- **the unused middle of a live page.** Shrinking or deleting a value moves the
  page's nodes together and leaves their old bytes between the node index and the
  nodes; copying a page copies only its used parts.
- **recycled page buffers.** LMDB reuses the page buffers of a process's earlier
  write transactions (and pages freed inside one transaction) without clearing
  them, so a page written from such a buffer can carry, in its unused middle, bytes
  of another page from before the erasure. A process's fresh buffers are zeroed.

So :func:`journal.forget.forget` runs the erasing transaction in one new process
and this module's :func:`touch` and :func:`scrub` in a second one (whose buffers
hold nothing from before): :func:`touch` rewrites, unchanged, every value the
erasing transaction may have laid next to stale bytes (the log around the
rewritten segments and the small indexes), so each of those pages is copied,
used parts only, into a clean buffer; :func:`scrub` then writes one-page filler
values until LMDB has reused every free page, which it does for single pages
before it grows the file, and drops the filler. Pages freed by transaction T are
reusable from transaction T + 2 on, once no reader holds a snapshot from T or
earlier; readers are waited for, within a timeout.

Every step is an ordinary write transaction through the journal's write lock:
hooks arriving meanwhile wait their turn (or spool past their budget) and land.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from . import wire
from .errors import LockedError
from .logenv import reading, seek

if TYPE_CHECKING:
    import lmdb

    from .logenv import LogEnv

__all__ = ["SCRUB_DB", "scrub", "touch"]

#: The named database that holds filler while a scrub runs (empty otherwise).
SCRUB_DB = b"scrub"
_MARGIN = 64  # log values touched on each side of the rewritten ones
_CHUNK_BYTES = 16 * 1024 * 1024
_u64 = wire.seq_of_key
_seq_key = wire.seq_key


def touch(journal: LogEnv, low: int, high: int) -> int:
    """Rewrite, unchanged, log values ``low``..``high`` (keys) with a margin, and
    every value of ``blobs``, ``counts``, ``meta`` and ``erased``; return the id of
    the last transaction."""
    with reading(), journal._env.begin(db=journal._log) as txn:
        cur = txn.cursor()
        start = low
        if seek(cur, low):
            for _ in range(_MARGIN):
                if not cur.prev():
                    cur.first()
                    break
            start = _u64(cur.key())
    last = _touch_db(journal, journal._log, _seq_key(start), _seq_key(high), _MARGIN)
    for db in (journal._blobs, journal._counts, journal._meta, journal._erased):
        last = max(last, _touch_db(journal, db, b"", None, 0))
    return last


def _touch_db(
    journal: LogEnv, db: lmdb._Database, start: bytes, stop: bytes | None, margin: int
) -> int:
    """Re-put the values of ``db`` from key ``start`` to ``stop`` (+ ``margin``), in chunks."""
    last, position = 0, start
    while True:
        with journal._transaction() as txn:
            last = txn.id()
            cur = txn.cursor(db=db)
            if not (cur.set_range(position) if position else cur.first()):
                return last
            batch: list[tuple[bytes, bytes]] = []
            size, beyond, more = 0, 0, False
            for key, value in cur:
                batch.append((bytes(key), bytes(value)))
                size += len(key) + len(value) + 16
                if stop is not None and bytes(key) > stop:
                    beyond += 1
                    if beyond > margin:
                        break
                if size >= _CHUNK_BYTES:
                    more = True
                    break
            for key, value in batch:
                txn.put(key, value, db=db)
        if not more:
            return last
        position = batch[-1][0] + b"\x00"


def scrub(journal: LogEnv, after_txnid: int, *, timeout: float) -> int:
    """Overwrite every page freed up to transaction ``after_txnid``; return filler pages.

    Raises:
        LockedError: readers kept pages of transaction ``after_txnid`` or earlier
            pinned for ``timeout`` seconds, or the writes were stopped.
    """
    env = journal._env
    deadline = time.monotonic() + timeout
    filler = bytes(env.stat()["psize"] - 16)  # one overflow page each (16: page header)
    with journal._transaction() as txn:
        scrub_db = env.open_db(SCRUB_DB, txn=txn)
        txn.drop(scrub_db, delete=False)
    written, next_key = 0, 0
    while True:
        turn = journal._writable().begin()
        if turn is None:
            raise LockedError("writes to the journal were stopped")
        try:
            txn = turn.txn
            if txn.id() < after_txnid + 2:
                txn.put(b"tick", b"", db=scrub_db)  # pages freed by T are reused from T + 2
                turn.end(commit=True)
                continue
            if _pinned(env, after_txnid):
                turn.end(commit=False)
                if time.monotonic() > deadline:
                    raise LockedError(
                        f"readers kept old pages of the journal for {timeout:g} s: the "
                        "payloads are erased from the log, but their bytes may remain in "
                        "free pages until later writes reuse them"
                    )
                time.sleep(0.02)
                continue
            before = env.info()["last_pgno"]
            count = _free_pages(journal, txn, scrub_db) + 16
            put = txn.put
            for _ in range(count):
                put(_seq_key(next_key), filler, db=scrub_db)
                next_key += 1
        except BaseException:
            turn.end(commit=False)
            raise
        turn.end(commit=True)
        written += count
        if env.info()["last_pgno"] > before:
            break  # the file grew: no reusable free page was left
        if time.monotonic() > deadline:
            raise LockedError(f"free pages of the journal were not all reused in {timeout:g} s")
    with journal._transaction() as txn:
        txn.drop(scrub_db, delete=False)
    return written


def _pinned(env: lmdb.Environment, txnid: int) -> bool:
    """Whether a reader holds a snapshot from transaction ``txnid`` or earlier."""
    for line in env.readers().splitlines()[1:]:
        fields = line.split()
        if len(fields) == 3 and fields[2].isdigit() and int(fields[2]) <= txnid:
            return True
    return False


def _free_pages(journal: LogEnv, txn: lmdb.Transaction, scrub_db: lmdb._Database) -> int:
    """Pages of the data file that no database uses (the free list's own included)."""
    env = journal._env
    main = env.stat()
    used = 2 + main["branch_pages"] + main["leaf_pages"] + main["overflow_pages"]
    for db in (
        journal._log,
        journal._blobs,
        journal._idem,
        journal._counts,
        journal._quarantine,
        journal._meta,
        journal._captures,
        journal._erased,
        scrub_db,
    ):
        stat = txn.stat(db)
        used += stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]
    return max(0, env.info()["last_pgno"] + 1 - used)


def main(argv: list[str]) -> int:
    """``python -m journal.scrub HOME LOW HIGH TIMEOUT``: touch, scrub, print the pages."""
    from .logenv import LogEnv

    try:
        home, low, high, timeout = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
        with LogEnv(home, lock_timeout=timeout) as journal:
            last = touch(journal, low, high)
            pages = scrub(journal, last, timeout=timeout)
    except Exception as exc:  # the parent reports it as one line
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(pages)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
