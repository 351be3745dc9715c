"""The LMDB journal against a plain-list model, driven by a Hypothesis state machine.

Any interleaving of appends (new, repeated, keyed, duplicate-keyed), batches with
and without bad lines, reads, reopens and simulated crashes must leave the journal
equal to the model: seqs 1..head with no gap (invariant 1), a verifying hash chain
(invariant 3) whose head digest equals the reference journal's, every payload
present (invariant 4), known keys writing nothing (invariant 5), and an aborted
write leaving no trace (invariant 2's other half).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from journal import wire
from journal.memory import MemoryJournal
from journal.results import Appended, Quarantined
from journal.store import LmdbJournal


@dataclasses.dataclass(frozen=True)
class Expected:
    """What the model says record ``seq`` holds."""

    payload: bytes
    source: str
    kind: str
    key: str | None
    received_at: int


_names = st.sampled_from(["PreToolUse", "PostToolUse", "Stop", "SessionStart"])
_events = st.builds(
    lambda name, n, text: json.dumps(
        {"hook_event_name": name, "n": n, "text": text}, separators=(",", ":")
    ).encode(),
    _names,
    st.integers(-(2**63), 2**64 - 1),
    st.text(max_size=12),
)
_typed = st.builds(lambda t: json.dumps({"type": t}).encode(), st.sampled_from(["idle", "diff"]))
_payloads = _events | _typed | st.just(b"{}")
_bad = st.sampled_from([b"", b"not json", b'{"a":', b"[1]", b'{"a":18446744073709551616}'])
_sources = st.sampled_from(["claude-code", "codex", "gemini"])


def _kind_of(data: bytes) -> str:
    value = json.loads(data)
    for field in ("hook_event_name", "type"):
        if isinstance(value.get(field), str) and value[field]:
            return str(value[field])
    return "generic"


class JournalMachine(RuleBasedStateMachine):
    """Drives one LmdbJournal in a fresh temporary home; the model is a list."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="journal-stateful-")
        self.home = os.path.join(self.directory, "home")
        self.journal = LmdbJournal(self.home)
        self.model: list[Expected] = []
        self.keys: dict[str, int] = {}
        self.batches: dict[str, list[bytes]] = {}
        self.quarantined = 0
        self.reference = MemoryJournal()  # gets the same appends: its head digest is the oracle
        self.clock = 0
        self.fresh = 0

    def teardown(self) -> None:
        self.journal.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    @initialize()
    def starts_empty(self) -> None:
        assert self.journal.head() == 0

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def _name(self, prefix: str) -> str:
        self.fresh += 1
        return f"{prefix}-{self.fresh}"

    def _append(self, data: bytes, source: str, key: str | None) -> Appended:
        at = self._tick()
        result = self.journal.append(data, source=source, key=key, received_at=at)
        assert result == self.reference.append(data, source=source, key=key, received_at=at)
        if key is not None and key in self.keys:
            assert result.duplicate
            assert result.seq == self.keys[key]
            return result
        assert not result.duplicate
        self.model.append(Expected(data, source, _kind_of(data), key, at))
        assert result.seq == len(self.model)
        if key is not None:
            self.keys[key] = result.seq
        return result

    # -- rules ---------------------------------------------------------------------

    @rule(data=_payloads, source=_sources)
    def append_new(self, data: bytes, source: str) -> None:
        self._append(data, source, None)

    @precondition(lambda self: self.model)
    @rule(pick=st.integers(min_value=0), source=_sources)
    def append_identical(self, pick: int, source: str) -> None:
        earlier = self.model[pick % len(self.model)]
        blobs = self.journal.stats().blobs
        result = self._append(earlier.payload, source, None)
        assert self.journal.stats().blobs == blobs
        assert self.journal.get(result.seq).payload == earlier.payload

    @rule(data=_payloads)
    def append_with_fresh_key(self, data: bytes) -> None:
        self._append(data, "codex", self._name("key"))

    @precondition(lambda self: self.keys)
    @rule(pick=st.integers(min_value=0), data=_payloads)
    def append_with_known_key(self, pick: int, data: bytes) -> None:
        key = sorted(self.keys)[pick % len(self.keys)]
        head_digest = self.journal.head_digest()
        result = self._append(data, "codex", key)
        assert result.duplicate
        assert self.journal.head_digest() == head_digest

    @rule(
        items=st.lists(_payloads, min_size=1, max_size=5),
        bad=st.none() | st.tuples(st.integers(min_value=0), _bad),
        keyed=st.booleans(),
    )
    def append_batch(self, items: list[bytes], bad: tuple[int, bytes] | None, keyed: bool) -> None:
        items = list(items)
        if bad is not None:
            items.insert(bad[0] % (len(items) + 1), bad[1])
        key = self._name("batch") if keyed else None
        if key is not None:
            self.batches[key] = items
        self._batch(items, key)

    @precondition(lambda self: self.batches)
    @rule(pick=st.integers(min_value=0))
    def rerun_batch(self, pick: int) -> None:
        key = sorted(self.batches)[pick % len(self.batches)]
        head_digest = self.journal.head_digest()
        results = self._batch(self.batches[key], key)
        assert all(r.duplicate for r in results if isinstance(r, Appended))
        assert self.journal.head_digest() == head_digest

    def _batch(self, items: list[bytes], key: str | None) -> list[Appended | Quarantined]:
        at = self._tick()
        results = self.journal.append_batch(items, source="gemini", key=key, received_at=at)
        reference = self.reference.append_batch(items, source="gemini", key=key, received_at=at)
        assert [r.to_dict() | {"reason": None} for r in results] == [
            r.to_dict() | {"reason": None} for r in reference
        ]
        assert len(results) == len(items)
        for line, (data, result) in enumerate(zip(items, results, strict=True), 1):
            if isinstance(result, Quarantined):
                assert result.line == line
                self.quarantined += 1
                assert result.quarantine_id == self.quarantined
                continue
            line_key = f"{key}:{line}" if key is not None else None
            if line_key is not None and line_key in self.keys:
                assert (result.seq, result.duplicate) == (self.keys[line_key], True)
                continue
            self.model.append(Expected(data, "gemini", _kind_of(data), line_key, at))
            assert (result.seq, result.duplicate) == (len(self.model), False)
            if line_key is not None:
                self.keys[line_key] = result.seq
        return results

    @rule(after=st.integers(min_value=0, max_value=60), limit=st.none() | st.integers(0, 8))
    def read(self, after: int, limit: int | None) -> None:
        records = list(self.journal.read(after=after, limit=limit))
        expected = self.model[after:]
        if limit is not None:
            expected = expected[:limit]
        assert len(records) == len(expected)
        for seq, (record, model) in enumerate(zip(records, expected, strict=True), after + 1):
            assert record.seq == seq
            got = Expected(
                record.payload, record.source, record.kind, record.key, record.received_at
            )
            assert got == model

    @rule()
    def reopen(self) -> None:
        self.journal.close()
        self.journal = LmdbJournal(self.home)

    @rule(garbage=st.binary(min_size=1, max_size=64))
    def crash_during_write(self, garbage: bytes) -> None:
        """A write transaction that never commits leaves nothing, even after reopen."""
        journal = self.journal
        head = len(self.model)
        stats = journal.stats()
        txn = journal._env.begin(write=True)
        txn.put(wire.seq_key(head + 1), garbage, db=journal._log)
        txn.put(b"\x00" * 32, wire.seq_key(head + 1), db=journal._blobs)
        txn.put(b"crash-key", wire.seq_key(head + 1), db=journal._idem)
        txn.put(wire.seq_key(self.quarantined + 1), garbage, db=journal._quarantine)
        journal.close()  # the process "dies": its uncommitted transaction is aborted
        del txn
        self.journal = LmdbJournal(self.home)
        after = self.journal.stats()
        assert (after.head_seq, after.blobs, after.quarantined) == (
            stats.head_seq,
            stats.blobs,
            stats.quarantined,
        )
        with self.journal._env.begin() as txn:
            assert txn.get(b"crash-key", db=self.journal._idem) is None

    # -- invariants ----------------------------------------------------------------

    @invariant()
    def head_is_the_model_length(self) -> None:
        assert self.journal.head() == len(self.model)

    @invariant()
    def seqs_are_dense(self) -> None:
        seqs = [r.seq for r in self.journal.read()]
        assert seqs == list(range(1, len(self.model) + 1))

    @invariant()
    def chain_verifies_and_matches_the_reference(self) -> None:
        report = self.journal.verify()
        assert report.ok, report.problem
        assert report.head_seq == len(self.model)
        assert report.head_digest == self.journal.head_digest() == self.reference.head_digest()

    @invariant()
    def quarantine_matches(self) -> None:
        assert self.journal.stats().quarantined == self.quarantined


JournalMachine.TestCase.settings = settings(
    JournalMachine.TestCase.settings, stateful_step_count=30, deadline=None
)
TestJournalMachine = JournalMachine.TestCase
TestJournalMachine.__doc__ = "Any sequence of operations keeps the LMDB journal equal to the model."
