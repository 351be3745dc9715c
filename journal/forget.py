"""``journal forget``: erase the payload bytes of given records, keep the chain (DESIGN §7).

An append-only, hash-chained log cannot drop a record, but a record only names
its payload by digest: the bytes can go and the chain still verifies. :func:`forget`
does that for a set of seqs (the CLI finds a run's records, its subagents' and its
transcript lines through the views and passes their seqs; this module never reads
the views):

1. **One write transaction** decides and erases. A digest is erased only if no
   record outside the set still refers to it (identical payloads share one blob),
   so other runs keep their payloads. The entry that holds each erased payload
   inline is rewritten without it (record bytes unchanged, so every record digest
   and link stays), its ``blobs`` entry is deleted, and ``erased`` maps the digest
   to the seq of a new ``journal.forget`` record appended in the same transaction.
   That record names what was forgotten (the run, the seqs, the digests), never
   the content.
2. **The old bytes are overwritten** (:mod:`journal.scrub`): LMDB is
   copy-on-write, leaves stale bytes in the unused middle of pages and reuses a
   process's page buffers uncleared, so the erasing transaction runs in a new
   process, and a second new process rewrites the pages written next to the
   erased bytes and fills every free page before it returns. All of this goes
   through the ordinary write lock: hooks that arrive meanwhile wait their turn
   or spool, and nothing is copied or renamed, so no process can be left writing
   to an orphaned file.
3. **Derived copies go.** The views environment (``<home>/views``) holds folded
   copies of payload content; it is removed, and the next query (or ``journal
   rebuild``) builds it again from the log, where the erased payloads are absent.

Invariant 4 then reads: every record's payload blob exists and hashes to its
digest, or its digest is recorded as erased (:mod:`journal.verify`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import TYPE_CHECKING

import msgspec

from . import home as _home
from . import payload as _payload
from . import wire
from .errors import LockedError, NotFoundError, StoreError, UsageError
from .logenv import reading, seek
from .writer import Writer

if TYPE_CHECKING:
    from collections.abc import Iterable

    import lmdb

    from .logenv import LogEnv

__all__ = ["KIND", "SOURCE", "ForgetReport", "erased_message", "forget"]

#: The kind and source of the record that says what was forgotten.
KIND = "journal.forget"
SOURCE = "journal"
_DEFAULT_TIMEOUT = 60.0
_u64 = wire.seq_of_key
_seq_key = wire.seq_key


class ForgetReport(msgspec.Struct, frozen=True, kw_only=True, tag="journal.forget_report"):
    """What :func:`forget` did (``journal forget --json``)."""

    run_id: str
    #: The seq of the appended ``journal.forget`` record.
    forget_seq: int
    #: The records whose payloads were asked to go.
    seqs: list[int]
    #: Payload digests erased (hex).
    erased: list[str]
    #: Payload digests kept because a record outside the set still uses them.
    kept: list[str]
    #: Filler pages written to overwrite freed pages.
    scrubbed_pages: int
    #: Whether the views environment was removed (it is rebuilt on the next query).
    views_removed: bool


def forget(
    journal: LogEnv,
    seqs: Iterable[int],
    *,
    run_id: str,
    timeout: float = _DEFAULT_TIMEOUT,
) -> ForgetReport:
    """Erase the payloads of the records ``seqs``; see the module docstring.

    The erasing transaction and the scrub each run in a new process
    (:mod:`journal.scrub` says why); ``journal`` names the home and stays usable.

    Raises:
        UsageError: no seqs given.
        NotFoundError: a seq is not in the log.
        LockedError: no write turn, or readers kept old pages pinned past ``timeout``
            (the payloads are erased from the log then, but their bytes may remain in
            free pages until later writes reuse them).
        StoreError: LMDB failed.
    """
    wanted = sorted(set(seqs))
    if not wanted:
        raise UsageError("nothing to forget: the run has no records")
    journal._check_pid()
    request = json.dumps({"run_id": run_id, "seqs": wanted}).encode()
    out = json.loads(_child("journal.forget", [journal.home, repr(timeout)], request, timeout))
    rewritten: list[int] = out["rewritten"]
    pages = 0
    if rewritten:
        args = [journal.home, str(min(rewritten)), str(max(rewritten)), repr(timeout)]
        pages = int(_child("journal.scrub", args, b"", timeout) or 0)
    views = os.path.join(journal.home, _home.VIEWS_DIR)
    removed = os.path.isdir(views)
    if removed:
        shutil.rmtree(views)
    return ForgetReport(
        run_id=run_id,
        forget_seq=out["forget_seq"],
        seqs=wanted,
        erased=out["erased"],
        kept=out["kept"],
        scrubbed_pages=pages,
        views_removed=removed,
    )


_ERRORS = {
    "NotFoundError": NotFoundError,
    "UsageError": UsageError,
    "LockedError": LockedError,
}


def _child(module: str, args: list[str], stdin: bytes, timeout: float) -> bytes:
    """Run ``python -m module args`` in a new process; return its stdout.

    Its failure comes back as the error it raised (one line, no traceback).
    """
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        input=stdin,
        capture_output=True,
        timeout=timeout + 600,
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        line = lines[-1] if lines else f"{module} failed"
        name, _, message = line.partition(": ")
        raise _ERRORS.get(name, StoreError)(message or line)
    return done.stdout.strip()


def _erase_main(home: str, timeout: float, request: bytes) -> bytes:
    """The erasing transaction, in the process ``python -m journal.forget`` starts."""
    from .logenv import LogEnv

    spec = json.loads(request)
    wanted: list[int] = spec["seqs"]
    with LogEnv(home, lock_timeout=timeout) as journal:
        turn = journal._writable().begin()
        if turn is None:
            raise LockedError("writes to the journal were stopped")
        try:
            erased, kept, forget_seq, rewritten = _erase(journal, turn.txn, wanted, spec["run_id"])
        except BaseException:
            turn.end(commit=False)
            raise
        turn.end(commit=True)
    out = {
        "forget_seq": forget_seq,
        "erased": sorted(d.hex() for d in erased),
        "kept": sorted(d.hex() for d in kept),
        "rewritten": rewritten,
    }
    return json.dumps(out).encode()


def _erase(
    journal: LogEnv,
    txn: lmdb.Transaction,
    wanted: list[int],
    run_id: str,
) -> tuple[set[bytes], set[bytes], int, list[int]]:
    """Inside the forget transaction: erase, append the forget record.

    Returns (erased digests, kept digests, forget seq, keys of the rewritten segments).
    """
    wanted_set = set(wanted)
    digests: set[bytes] = set()
    for seq in wanted:
        digests.add(journal._entry(txn, seq).payload_digest)
    kept: set[bytes] = set()
    for _key, value in txn.cursor(db=journal._log):
        for entry in wire.iter_segment(value):
            if entry.seq not in wanted_set and entry.payload_digest in digests:
                kept.add(entry.payload_digest)
    # Digests already erased (or never held here) have no holder: nothing to do.
    holders: dict[int, bytes] = {}
    for pdig in digests - kept:
        holder = txn.get(pdig, db=journal._blobs)
        if holder is not None:
            holders[_u64(holder)] = pdig
    erased = set(holders.values())
    log = txn.cursor(db=journal._log)
    done: set[int] = set()
    rewritten: list[int] = []
    for seq in sorted(holders):
        if seq in done:
            continue
        if not seek(log, seq):
            raise NotFoundError(f"no record with seq {seq}")
        key = bytes(log.key())
        parts: list[bytes] = []
        for entry in wire.iter_segment(log.value()):
            inline = entry.inline or b""
            if inline and entry.payload_digest in erased:
                inline = b""
                done.add(entry.seq)
            parts += (entry.record, wire.INLINE_LENGTH.pack(len(inline)), inline)
        # Written unpacked: a segment in the plain layout is valid whatever packing does.
        txn.put(key, b"".join(parts), db=journal._log)
        rewritten.append(_u64(key))
    for pdig in erased:
        txn.delete(pdig, db=journal._blobs)
    note = {
        "forget": {
            "run_id": run_id,
            "seqs": wanted,
            "erased": sorted(d.hex() for d in erased),
            "kept": sorted(d.hex() for d in kept),
        }
    }
    stored = _payload.validate(json.dumps(note, separators=(",", ":")).encode())
    writer = Writer(journal, txn)
    done_append = writer.append(stored, SOURCE.encode(), KIND.encode(), b"", time.time_ns())
    writer.finish()
    for pdig in erased:
        txn.put(pdig, _seq_key(done_append.seq), db=journal._erased)
    return erased, kept, done_append.seq, rewritten


def erased_message(journal: LogEnv, prefix: str) -> str | None:
    """ "blob … was erased by journal forget (record N)" if a digest with ``prefix`` was."""
    low = bytes.fromhex(prefix + "0" * (len(prefix) % 2))
    with reading(), journal._env.begin(db=journal._erased) as txn:
        cur = txn.cursor()
        if cur.set_range(low) and cur.key().hex().startswith(prefix):
            return (
                f"the payload {cur.key().hex()} was erased by journal forget "
                f"(record {_u64(cur.value())})"
            )
    return None


def _main(argv: list[str]) -> int:
    """``python -m journal.forget HOME TIMEOUT`` (request on stdin): erase, print JSON."""
    import sys

    try:
        out = _erase_main(argv[0], float(argv[1]), sys.stdin.buffer.read())
    except Exception as exc:  # the parent raises it again from this one line
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(out + b"\n")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
