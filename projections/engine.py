"""The projection engine: views folded from the log into their own LMDB environment.

The views environment (``<home>/views``) is separate from the log (``<home>/log``)
and disposable: deleting it loses nothing, the next query rebuilds it. It holds one
named database per view (``view:<name>``, the view's key-value state) and ``meta``,
which keeps per view its version, its checkpoint (the last seq folded in), the
newest ``received_at`` among records 1..checkpoint, and the record digest at the
checkpoint.

Catch-up folds the records after a view's checkpoint in batches; each batch is one
write transaction that re-reads the checkpoints, applies the records, writes the
state and the new checkpoints, and commits them together. So a crash anywhere leaves
a state that is a fold of exactly 1..checkpoint (invariant 7), and two processes
catching up at once serialise on their turns (:mod:`journal.writelock`) and never
apply a record twice; a catch-up never waits on a projector killed inside its
transaction, nor longer than the journal's ``lock_timeout`` for a live one.
A view whose version changed, or whose checkpoint no longer names the same record of
this log (the log was replaced), is emptied and rebuilt from seq 1.

The engine only reads the log. Open one :class:`Views` per home per process, after
any ``fork()``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING

import lmdb
import msgspec

from journal import home as _home
from journal.errors import JournalError, StoreError, UsageError
from journal.writelock import Writers

from .lmdb_state import ReadState, WriteBackState
from .logread import LogScan, record_at
from .view import State, View

if TYPE_CHECKING:
    from journal.records import Record
    from journal.store import LmdbJournal

__all__ = [
    "BATCH_RECORDS",
    "FORMAT",
    "MAP_SIZE",
    "ReadState",
    "ViewError",
    "ViewStatus",
    "Views",
]

FORMAT = "agent-journal-views/1"
# Address space, not disk: the file is sparse. Fixed, like the log's map.
MAP_SIZE = 64 * 1024**3
MAX_READERS = 1024
MAX_DBS = 126
#: Records applied per write transaction: large enough that a hot key (a run updated
#: by every event of its session) is written once per batch, small enough to keep
#: the dirty pages of one transaction modest.
BATCH_RECORDS = 20_000
_META = struct.Struct(">IQQ32s")  # version, checkpoint, newest received_at, record digest
_ZERO = bytes(32)
_UNREAD = object()  # the local origin, before it is read


class ViewError(JournalError, RuntimeError):
    """A view's fold raised on a record: a bug in the view, named with the seq."""


class ViewStatus(msgspec.Struct, frozen=True, kw_only=True, tag="projections.view_status"):
    """Where one view stands (``journal projections``)."""

    name: str
    version: int
    checkpoint: int
    head: int
    lag: int
    stored_version: int | None = None
    keys: int = 0

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``projections --json`` items."""
        return {f: getattr(self, f) for f in self.__struct_fields__}


class _Meta(msgspec.Struct, frozen=True):
    version: int
    checkpoint: int
    newest: int
    digest: bytes

    def pack(self) -> bytes:
        return _META.pack(self.version, self.checkpoint, self.newest, self.digest)


def _unpack(value: bytes | memoryview | None) -> _Meta | None:
    if value is None or len(value) != _META.size:
        return None
    return _Meta(*_META.unpack(value))


def _meta_key(name: str) -> bytes:
    return b"view:" + name.encode()


class Views:
    """The views' LMDB environment (``<home>/views``) over one journal, which it only reads."""

    def __init__(
        self,
        journal: LmdbJournal,
        views: Sequence[View] | None = None,
        *,
        batch: int = BATCH_RECORDS,
    ) -> None:
        if views is None:
            from .registry import VIEWS

            views = VIEWS
        names = [view.name for view in views]
        if len(set(names)) != len(names):
            raise UsageError(f"two views share a name: {names}")
        self.journal = journal
        self.views: dict[str, View] = {view.name: view for view in views}
        self.batch = batch
        self.path = os.path.join(journal.home, _home.VIEWS_DIR)
        _home.ensure_dir(self.path)
        _home.check_filesystem(self.path)
        self._pid = os.getpid()
        self._verified: dict[int, bytes] = {}
        self._local: object = _UNREAD
        try:
            self._env = lmdb.open(
                self.path,
                map_size=MAP_SIZE,
                max_dbs=MAX_DBS,
                max_readers=MAX_READERS,
                mode=0o600,
                metasync=False,  # disposable: a power cut may lose the last commit, no more
            )
        except lmdb.Error as exc:
            raise StoreError(f"cannot open views at {self.path}: {exc}") from None
        # Queries write the views, so they too take turns, waiting as long as the
        # journal's writes may, and never wait on a projector that died inside its
        # transaction (journal.writelock).
        self._writers = Writers(
            self._env, self.path, what="the views", timeout=journal.lock_timeout
        )
        try:
            self._env.reader_check()
            with self._writers.transaction() as txn:
                self._meta = self._env.open_db(b"meta", txn=txn)
                self._dbs = {
                    name: self._env.open_db(b"view:" + name.encode(), txn=txn) for name in names
                }
                found = txn.get(b"format", db=self._meta)
                if found is None:
                    txn.put(b"format", FORMAT.encode(), db=self._meta)
                elif bytes(found).decode() != FORMAT:
                    raise StoreError(
                        f"views at {self.path} have format {bytes(found).decode()}, not "
                        f"{FORMAT}; delete that directory (views rebuild from the log)"
                    )
        except lmdb.Error as exc:
            self.close()
            raise StoreError(f"cannot open views at {self.path}: {exc}") from None
        except BaseException:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        """Close the environment (not the journal); a wedged one stays open
        (see :meth:`journal.logenv.LogEnv.close`)."""
        if not self._writers.wedged:
            self._env.close()

    def __enter__(self) -> Views:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_pid(self) -> None:
        if os.getpid() != self._pid:
            raise StoreError("views must not be used across fork(); open them again")

    def _select(self, names: Sequence[str] | None) -> list[View]:
        if names is None:
            return list(self.views.values())
        unknown = [name for name in names if name not in self.views]
        if unknown:
            known = ", ".join(self.views)
            raise UsageError(f"unknown view {unknown[0]!r} (views: {known})")
        return [self.views[name] for name in dict.fromkeys(names)]

    # -- catch-up ----------------------------------------------------------------

    def catch_up(
        self,
        names: Sequence[str] | None = None,
        *,
        progress: Callable[[int], None] | None = None,
        limit: int | None = None,
    ) -> None:
        """Fold the records after each view's checkpoint, up to the log's head.

        Views caught up together share one read of the log. ``progress`` is called
        with the number of seqs each committed batch advanced; ``limit`` stops after
        applying at most that many records (tests use it to interrupt a catch-up).

        Raises:
            UsageError: an unknown view name.
            ViewError: a view's ``apply`` raised; nothing of that batch was written.
            StoreError: LMDB failed.
        """
        self._check_pid()
        views = self._select(names)
        target = self.journal.head()
        left = limit
        while left is None or left > 0:
            budget = self.batch if left is None else min(self.batch, left)
            try:
                done, applied, advanced = self._batch(views, target, budget)
            except lmdb.Error as exc:
                raise StoreError(f"updating views failed: {exc}") from None
            if progress is not None and advanced:
                progress(advanced)
            if left is not None:
                left -= applied
            if done:
                return

    def _batch(self, views: list[View], target: int, budget: int) -> tuple[bool, int, int]:
        """Apply up to ``budget`` records in one write transaction.

        Returns (reached ``target``, records applied, seqs the slowest view advanced).
        """
        with self._writers.transaction() as txn:
            metas = {view.name: self._prepare(txn, view) for view in views}
            pending = [view for view in views if metas[view.name].checkpoint < target]
            if not pending:
                return True, 0, 0
            after = min(metas[view.name].checkpoint for view in pending)
            kinds: frozenset[str] | None = frozenset()
            for view in pending:
                kinds = None if kinds is None or view.kinds is None else kinds | view.kinds
            states = {view.name: WriteBackState(txn, self._dbs[view.name]) for view in pending}
            folds = [
                (view.apply, states[view.name], view.kinds, metas[view.name].checkpoint)
                for view in pending
            ]
            scan = LogScan(self.journal, after, target, kinds)
            applied, last, reached = 0, after, True
            record: Record | None = None
            apply: Callable[[State, Record], None] | None = None
            with closing(scan):
                try:
                    for record in scan if kinds is None or kinds else ():
                        seq = record.seq
                        for apply, state, view_kinds, checkpoint in folds:
                            if seq > checkpoint and (
                                view_kinds is None or record.kind in view_kinds
                            ):
                                apply(state, record)
                        applied += 1
                        last = seq
                        if applied >= budget:
                            reached = last >= target
                            break
                except (JournalError, lmdb.Error):
                    raise
                except Exception as exc:
                    raise _failed(pending, folds, apply, record, exc) from exc
            end = target if reached else last
            found = record_at(self.journal, end)
            if found is None:
                raise StoreError(f"the log lost record {end} while views read it")
            digest, _ = found
            for view in pending:
                old = metas[view.name]
                if end <= old.checkpoint:
                    continue
                states[view.name].flush()
                meta = _Meta(view.version, end, max(old.newest, scan.newest), digest)
                txn.put(_meta_key(view.name), meta.pack(), db=self._meta)
            self._verified[end] = digest
        return reached, applied, end - after

    def _prepare(self, txn: lmdb.Transaction, view: View) -> _Meta:
        """Read a view's meta in ``txn``; empty the view if it is stale or foreign."""
        meta = _unpack(txn.get(_meta_key(view.name), db=self._meta))
        if meta is not None and meta.version == view.version and self._same_log(meta):
            return meta
        db = self._dbs[view.name]
        if txn.stat(db)["entries"]:
            txn.drop(db, delete=False)
        fresh = _Meta(view.version, 0, 0, _ZERO)
        txn.put(_meta_key(view.name), fresh.pack(), db=self._meta)
        return fresh

    def _same_log(self, meta: _Meta) -> bool:
        """Whether the log still holds the record the checkpoint was taken at."""
        if meta.checkpoint == 0:
            return True
        known = self._verified.get(meta.checkpoint)
        if known is None:
            found = record_at(self.journal, meta.checkpoint)
            if found is None:
                return False
            known = self._verified[meta.checkpoint] = found[0]
        return known == meta.digest

    def rebuild(
        self,
        names: Sequence[str] | None = None,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Empty the named views (default: all) and fold the whole log into them again."""
        self._check_pid()
        views = self._select(names)
        try:
            with self._writers.transaction() as txn:
                for view in views:
                    txn.drop(self._dbs[view.name], delete=False)
                    fresh = _Meta(view.version, 0, 0, _ZERO)
                    txn.put(_meta_key(view.name), fresh.pack(), db=self._meta)
        except lmdb.Error as exc:
            raise StoreError(f"emptying views failed: {exc}") from None
        self.catch_up([view.name for view in views], progress=progress)

    # -- reads -------------------------------------------------------------------

    @contextmanager
    def reading_many(self, names: Sequence[str]) -> Iterator[dict[str, ReadState]]:
        """Read-only states of several views, all from one read transaction."""
        self._check_pid()
        views = self._select(names)
        try:
            with self._env.begin() as txn:
                states = {}
                for view in views:
                    meta = self._current(txn, view)
                    states[view.name] = ReadState(
                        txn,
                        self._dbs[view.name],
                        None if meta is None else meta.checkpoint,
                        0 if meta is None else meta.newest,
                        self._origin(),
                    )
                yield states
        except lmdb.Error as exc:
            raise StoreError(f"reading views failed: {exc}") from None

    @contextmanager
    def reading(self, name: str) -> Iterator[ReadState]:
        """A read-only state of one view, in one read transaction."""
        with self.reading_many([name]) as states:
            yield states[name]

    def _origin(self) -> str | None:
        """The journal's own origin id, read once from the log's meta."""
        if self._local is _UNREAD:
            from journal.export import local_origin

            self._local = local_origin(self.journal)
        return self._local  # type: ignore[return-value]

    def _current(self, txn: lmdb.Transaction, view: View) -> _Meta | None:
        meta = _unpack(txn.get(_meta_key(view.name), db=self._meta))
        return meta if meta is not None and meta.version == view.version else None

    def dump(self, name: str) -> dict[bytes, bytes]:
        """The whole state of a view (for tests and debugging)."""
        with self.reading(name) as state:
            return dict(state.scan())

    def checkpoint(self, name: str) -> int:
        """The view's checkpoint (0 when it has none or was built by another version)."""
        with self.reading(name) as state:
            return state.checkpoint

    def status(self) -> list[ViewStatus]:
        """Version, checkpoint, head and lag of every view, without catching up."""
        self._check_pid()
        head = self.journal.head()
        out = []
        try:
            with self._env.begin() as txn:
                for view in self.views.values():
                    meta = _unpack(txn.get(_meta_key(view.name), db=self._meta))
                    current = meta is not None and meta.version == view.version
                    checkpoint = meta.checkpoint if meta is not None and current else 0
                    out.append(
                        ViewStatus(
                            name=view.name,
                            version=view.version,
                            checkpoint=checkpoint,
                            head=head,
                            lag=max(head - checkpoint, 0),
                            stored_version=meta.version if meta is not None else None,
                            keys=txn.stat(self._dbs[view.name])["entries"],
                        )
                    )
        except lmdb.Error as exc:
            raise StoreError(f"reading views failed: {exc}") from None
        return out


def _failed(
    views: list[View],
    folds: Sequence[tuple[Callable[[State, Record], None], WriteBackState, object, int]],
    apply: object,
    record: Record | None,
    exc: Exception,
) -> ViewError:
    """Name the view and the record on which a fold raised."""
    name = next((v.name for v, f in zip(views, folds, strict=True) if f[0] == apply), "?")
    where = f"seq {record.seq} ({record.source} {record.kind})" if record else "a record"
    return ViewError(f"view {name} failed on {where}: {type(exc).__name__}: {exc}")
