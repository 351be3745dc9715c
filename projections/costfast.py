"""The warm read of ``journal costs``: a report from a current costs view, LMDB alone.

A query through :func:`projections.costqueries.costs` opens the views engine, which
imports msgspec, every view's fold and the engine's write path (~60 ms of imports
before it reads a key). When the costs view already holds every record of the log,
none of that is needed: :func:`warm_report` checks that (the view's version, and its
checkpoint naming the log's last record by seq and digest: what the engine's
catch-up checks before it finds nothing to do), then reads the per-day aggregates
in one read-only transaction (:func:`projections.costgroups.summary`). The answer is
the one the engine path gives, from the same keys.

It answers what :func:`~projections.costgroups.summarises` covers (``--by day`` in
UTC, ``--by model``) and returns None for everything else: another grouping, a view
that must catch up first, a home without a journal or views yet, anything LMDB does
not open. The caller then takes the full path, which also says what is wrong.

This reads the engine's ``meta`` layout (:mod:`projections.engine`: ``format``, and
``view:NAME`` → version, checkpoint, newest time, record digest); a test checks
that both agree.
"""

from __future__ import annotations

import os
import struct

import lmdb

from journal import home as _home

from .costgroups import BY, Filter, Report, parse_day, summarises, summary, timezone
from .costkeys import view_version
from .pricing import PriceFile, load_price_file, price_file_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["warm_report"]

#: What :mod:`projections.engine` keeps per view in ``meta``, and its format name.
_META = struct.Struct(">IQQ32s")
_FORMAT = b"agent-journal-views/1"
_META_KEY = b"view:costs"
# As the engine opens the views (the lock file's reader table is sized by the first
# opener; a read-only open never grows the map).
_MAP_SIZE = 64 * 1024**3
_MAX_DBS = 126
_MAX_READERS = 1024


class _Scan:
    """A view's keys in one read transaction (what :func:`summary` reads)."""

    __slots__ = ("_db", "_txn")

    def __init__(self, txn: lmdb.Transaction, db: lmdb._Database) -> None:
        self._txn, self._db = txn, db

    def scan(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        cur = self._txn.cursor(db=self._db)
        if not cur.set_range(prefix):
            return
        # py-lmdb yields bytes here (buffers=False); the stubs also allow memoryview.
        items: Iterator[tuple[bytes, bytes]] = cur.iternext()  # type: ignore[assignment]
        for key, value in items:
            if not key.startswith(prefix):
                return
            yield key, value


def _prices(root: str, path: str | None) -> PriceFile:
    """The price file as :func:`projections.pricing.load_price_file` reads it; an empty
    file (``AGENT_JOURNAL_PRICES=/dev/null``) without importing the TOML parser."""
    path = path if path is not None else price_file_path(root)
    try:
        with open(path, "rb") as f:
            empty = not f.read().strip()
    except OSError:
        empty = False
    found = None if empty else load_price_file(path)
    # What the engine path reports too: a file that names no model is no price file.
    return found or PriceFile(None, {})


def _log_head(root: str) -> tuple[int, bytes] | None:
    """The log's last seq and record digest, or None without a journal there."""
    from journal.store import LmdbJournal

    if not os.path.exists(os.path.join(root, _home.LOG_DIR, "data.mdb")):
        return None
    journal = LmdbJournal(root, readonly=True)
    try:
        digest = journal.head_digest()
        return journal.head(), bytes.fromhex(digest)
    finally:
        journal.close()


def warm_report(
    home: str | None,
    *,
    by: str = "day",
    tz: str | None = None,
    since: str | None = None,
    until: str | None = None,
    source: str | None = None,
    breakdown: bool = False,
    price_file: str | None = None,
) -> Report | None:
    """The report :func:`projections.costqueries.costs` would give, if the costs view
    is current and the report is one of the per-day aggregates'; else None.

    Raises:
        UsageError: a bad time zone, date or price file (as the full path would).
        JournalError: the home or the journal cannot be used.
    """
    if by not in BY:
        return None
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    where = Filter(timezone(tz), first, last, source)
    if not summarises(by, where):
        return None
    root = _home.resolve(home)
    views = os.path.join(root, _home.VIEWS_DIR)
    if not os.path.exists(os.path.join(views, "data.mdb")):
        return None
    prices = _prices(root, price_file)
    # Head digest before head: a record appended in between makes them disagree with
    # any checkpoint, never agree with a stale one.
    head = _log_head(root)
    if head is None:
        return None
    _home.check_filesystem(views)
    try:
        env = lmdb.open(
            views,
            readonly=True,
            create=False,
            map_size=_MAP_SIZE,
            max_dbs=_MAX_DBS,
            max_readers=_MAX_READERS,
        )
    except lmdb.Error:
        return None
    try:
        with env.begin() as txn:
            meta = env.open_db(b"meta", txn=txn, create=False)
            if txn.get(b"format", db=meta) != _FORMAT:
                return None
            raw = txn.get(_META_KEY, db=meta)
            if raw is None or len(raw) != _META.size:
                return None
            version, checkpoint, _, digest = _META.unpack(raw)
            if version != view_version() or (checkpoint, digest) != head:
                return None
            state = _Scan(txn, env.open_db(_META_KEY, txn=txn, create=False))
            out = summary(state, by, where, prices, breakdown=breakdown)
    except lmdb.Error:
        return None
    finally:
        env.close()
    out.meta["since"] = first.isoformat() if first else None
    out.meta["until"] = last.isoformat() if last else None
    out.meta["source"] = source
    return out
