"""The journal contract: what every store promises, whatever it is built on.

``JournalContract`` is a plain base class (pytest does not collect it); each backend
subclasses it as ``Test…`` and says how to make an empty journal. The in-memory
journal is the reference: anything the LMDB journal does differently fails here.
"""

from __future__ import annotations

import abc
import hashlib
import itertools
import json
import pathlib
from collections.abc import Iterator

import pytest

from journal import wire
from journal.errors import (
    AmbiguousPrefixError,
    InvalidPayloadError,
    NotFoundError,
    UsageError,
)
from journal.memory import MemoryJournal
from journal.results import Appended, Quarantined
from journal.store import LmdbJournal

__all__ = ["Journal", "JournalContract", "colliding_payloads", "payload"]

Journal = LmdbJournal | MemoryJournal
ZERO = "0" * 64


def payload(**fields: object) -> bytes:
    """Encode ``fields`` as compact JSON, the way agents send their events."""
    return json.dumps(fields, separators=(",", ":")).encode()


def sha256_hex(data: bytes) -> str:
    """Hash with OpenSSL, independently of :mod:`journal.digest`."""
    return hashlib.sha256(data).hexdigest()


def colliding_payloads() -> tuple[bytes, bytes]:
    """Two payloads whose digests share 4 hex digits and differ at the 5th.

    The first returned has the smaller digest. Found by brute force (a few hundred
    hashes), so prefix lookups can be tested for ambiguity and for odd lengths.
    """
    seen: dict[str, bytes] = {}
    n = 0
    while True:
        data = payload(n=n)
        digest = sha256_hex(data)
        other = seen.get(digest[:4])
        if other is not None and sha256_hex(other)[4] != digest[4]:
            low, high = sorted((other, data), key=sha256_hex)
            return low, high
        seen.setdefault(digest[:4], data)
        n += 1


class JournalContract(abc.ABC):
    """Behaviour every journal backend must share (invariants 1, 3, 4 and 5)."""

    @abc.abstractmethod
    def make_journal(self, directory: pathlib.Path) -> Journal:
        """Return a new, empty journal (``directory`` is free for it to use)."""

    @pytest.fixture
    def journal(self, tmp_path: pathlib.Path) -> Iterator[Journal]:
        """An empty journal of this backend, closed after the test."""
        journal = self.make_journal(tmp_path)
        yield journal
        journal.close()

    # -- appends and sequence numbers (invariant 1) ------------------------------

    def test_empty_journal(self, journal: Journal) -> None:
        """A new journal has head 0, the zero head digest, no records, and verifies."""
        assert journal.head() == 0
        assert journal.head_digest() == ZERO
        assert list(journal.read()) == []
        assert journal.quarantined() == []
        report = journal.verify()
        assert report.ok
        assert report.head_seq == 0

    def test_append_returns_dense_seqs_from_one(self, journal: Journal) -> None:
        """Appends get seqs 1, 2, 3, … in order, and head is the last of them."""
        results = [journal.append(payload(n=n)) for n in range(5)]
        assert [r.seq for r in results] == [1, 2, 3, 4, 5]
        assert not any(r.duplicate for r in results)
        assert journal.head() == 5
        assert [r.seq for r in journal.read()] == [1, 2, 3, 4, 5]

    def test_appended_matches_stored_record(self, journal: Journal) -> None:
        """The result of an append names the digests of the record it stored."""
        result = journal.append(payload(n=1), source="codex", received_at=123)
        record = journal.get(result.seq)
        assert record.digest == result.digest
        assert record.record_digest == result.record_digest
        assert record.source == "codex"
        assert record.received_at == 123
        assert record.key is None
        assert journal.head_digest() == result.record_digest

    def test_identical_payloads_are_two_records_sharing_one_blob(self, journal: Journal) -> None:
        """Two byte-identical payloads make two records with one digest and one blob."""
        event = payload(hook_event_name="Stop", session_id="s1")
        first = journal.append(event)
        second = journal.append(event)
        assert (first.seq, second.seq) == (1, 2)
        assert first.digest == second.digest == sha256_hex(event)
        assert first.record_digest != second.record_digest
        assert not second.duplicate
        stats = journal.stats()
        assert stats.records == 2
        assert stats.blobs == 1
        assert journal.get(1).payload == journal.get(2).payload == event

    def test_stats_count_records_per_source(self, journal: Journal) -> None:
        """stats() counts records, blobs and records per source."""
        journal.append(payload(n=1), source="claude-code")
        journal.append(payload(n=2), source="claude-code")
        journal.append(payload(n=1), source="codex")
        stats = journal.stats()
        assert stats.head_seq == stats.records == 3
        assert stats.blobs == 2
        assert stats.quarantined == 0
        assert stats.sources == {"claude-code": 2, "codex": 1}

    # -- idempotency (invariant 5) -----------------------------------------------

    def test_known_key_returns_original_seq_and_writes_nothing(self, journal: Journal) -> None:
        """A known idempotency key returns the original append and writes nothing."""
        original = journal.append(payload(n=1), key="tool-1:PreToolUse")
        journal.append(payload(n=2))
        head, head_digest = journal.head(), journal.head_digest()
        again = journal.append(payload(n=3), key="tool-1:PreToolUse")
        assert again.duplicate
        assert again.seq == original.seq == 1
        assert again.digest == original.digest
        assert again.record_digest == original.record_digest
        assert journal.head() == head
        assert journal.head_digest() == head_digest
        assert journal.stats().blobs == 2  # payload n=3 was not stored
        with pytest.raises(NotFoundError):
            journal.blob(sha256_hex(payload(n=3)))

    def test_key_is_kept_on_the_record(self, journal: Journal) -> None:
        """A keyed record carries its key; an unkeyed one carries None."""
        journal.append(payload(n=1), key="k1")
        journal.append(payload(n=2))
        assert journal.get(1).key == "k1"
        assert journal.get(2).key is None

    def test_distinct_keys_append_identical_payloads(self, journal: Journal) -> None:
        """Different keys are different occurrences, even of one payload."""
        a = journal.append(payload(n=1), key="a")
        b = journal.append(payload(n=1), key="b")
        assert (a.seq, b.seq) == (1, 2)
        assert not b.duplicate

    # -- the agent process (record version 2) -----------------------------------

    AGENT = (4242, 1_234_567, bytes.fromhex("37617def08b74ab0a1a0d3e1e6086ea1"))

    def test_agent_process_is_kept_on_the_record(self, journal: Journal) -> None:
        """An append with an agent process reads back with its pid, start and boot id."""
        journal.append(payload(n=1), source="claude-code", agent=self.AGENT, received_at=5)
        journal.append(payload(n=2), source="claude-code")
        with_agent, without = journal.get(1), journal.get(2)
        assert (with_agent.agent_pid, with_agent.agent_start) == (4242, 1_234_567)
        assert with_agent.agent_boot == "37617def-08b7-4ab0-a1a0-d3e1e6086ea1"
        assert (without.agent_pid, without.agent_start, without.agent_boot) == (None, None, None)
        assert list(journal.read()) == [with_agent, without]
        shown = with_agent.to_dict()
        assert (shown["agent_pid"], shown["agent_start"]) == (4242, 1_234_567)
        assert shown["agent_boot"] == with_agent.agent_boot
        assert journal.verify().ok

    def test_the_record_digest_covers_the_agent(self, journal: Journal) -> None:
        """The record digest is SHA-256 of the version 2 bytes, agent fields included."""
        done = journal.append(
            payload(n=1), source="codex", kind="Stop", agent=self.AGENT, received_at=9
        )
        expected = wire.encode_record(
            1, 9, bytes.fromhex(done.digest), bytes(32), b"codex", b"Stop", b"", self.AGENT
        )
        assert done.record_digest == sha256_hex(expected)
        other = (self.AGENT[0], self.AGENT[1] + 1, self.AGENT[2])
        assert (
            sha256_hex(
                wire.encode_record(
                    1, 9, bytes.fromhex(done.digest), bytes(32), b"codex", b"Stop", b"", other
                )
            )
            != done.record_digest
        )

    @pytest.mark.parametrize(
        "agent",
        [(0, 1, bytes(16)), (1, -1, bytes(16)), (1, 1, b"short")],
        ids=["pid-zero", "negative-start", "short-boot"],
    )
    def test_malformed_agent_is_a_usage_error_and_writes_nothing(
        self, journal: Journal, agent: tuple[int, int, bytes]
    ) -> None:
        """An agent that does not fit a record is refused before anything is written."""
        with pytest.raises(UsageError, match="agent"):
            journal.append(payload(n=1), agent=agent)
        assert journal.head() == 0
        assert journal.quarantined() == []

    # -- reads -------------------------------------------------------------------

    @pytest.fixture
    def mixed(self, journal: Journal) -> Journal:
        """A journal of six records from two sources with three kinds."""
        for n, (source, kind) in enumerate(
            [
                ("claude-code", "PreToolUse"),
                ("codex", "notify"),
                ("claude-code", "PostToolUse"),
                ("claude-code", "PreToolUse"),
                ("codex", "PreToolUse"),
                ("claude-code", "Stop"),
            ],
            1,
        ):
            journal.append(payload(n=n, hook_event_name=kind), source=source)
        return journal

    def test_read_yields_all_records_in_order(self, mixed: Journal) -> None:
        """read() yields every record in seq order with its payload."""
        records = list(mixed.read())
        assert [r.seq for r in records] == [1, 2, 3, 4, 5, 6]
        assert [json.loads(r.payload)["n"] for r in records] == [1, 2, 3, 4, 5, 6]

    @pytest.mark.parametrize("after", [0, 1, 3, 5, 6, 7, 100])
    def test_read_after(self, mixed: Journal, after: int) -> None:
        """read(after=n) yields exactly the records with seq > n."""
        assert [r.seq for r in mixed.read(after=after)] == list(range(after + 1, 7))

    @pytest.mark.parametrize(
        ("after", "limit", "expected"),
        [(0, 0, []), (0, 1, [1]), (0, 2, [1, 2]), (2, 3, [3, 4, 5]), (4, 10, [5, 6]), (6, 1, [])],
        ids=["zero", "one", "two", "middle", "past-head", "at-head"],
    )
    def test_read_limit(self, mixed: Journal, after: int, limit: int, expected: list[int]) -> None:
        """read(after, limit) yields at most limit records, the first ones after after."""
        assert [r.seq for r in mixed.read(after=after, limit=limit)] == expected

    def test_read_filters_by_kind(self, mixed: Journal) -> None:
        """read(kinds=…) yields only records of those kinds."""
        assert [r.seq for r in mixed.read(kinds=["PreToolUse"])] == [1, 4, 5]
        assert [r.seq for r in mixed.read(kinds=["Stop", "notify"])] == [2, 6]
        assert list(mixed.read(kinds=["SessionEnd"])) == []

    def test_read_filters_by_source(self, mixed: Journal) -> None:
        """read(sources=…) yields only records from those sources."""
        assert [r.seq for r in mixed.read(sources=["codex"])] == [2, 5]
        assert [r.seq for r in mixed.read(sources=["codex", "claude-code"])] == [1, 2, 3, 4, 5, 6]

    def test_read_filters_combine_with_after_and_limit(self, mixed: Journal) -> None:
        """Filters, after and limit combine: limit counts matching records only."""
        selected = mixed.read(after=1, limit=2, kinds=["PreToolUse"], sources=["claude-code"])
        assert [r.seq for r in selected] == [4]
        assert [r.seq for r in mixed.read(limit=2, kinds=["PreToolUse"])] == [1, 4]

    def test_get_returns_the_record_read_returns(self, mixed: Journal) -> None:
        """get(seq) returns the same record read() yields for that seq."""
        for record in mixed.read():
            assert mixed.get(record.seq) == record

    @pytest.mark.parametrize("where", ["zero", "head+1"])
    def test_get_outside_the_log_is_not_found(self, mixed: Journal, where: str) -> None:
        """get(0) and get(head + 1) raise NotFoundError naming the seq."""
        seq = 0 if where == "zero" else mixed.head() + 1
        with pytest.raises(NotFoundError, match=f"no record with seq {seq}"):
            mixed.get(seq)

    def test_get_on_empty_journal_is_not_found(self, journal: Journal) -> None:
        """get(1) on an empty journal raises NotFoundError."""
        with pytest.raises(NotFoundError):
            journal.get(1)

    # -- blobs and digest lookup (invariant 4) -----------------------------------

    def test_blob_by_full_digest(self, journal: Journal) -> None:
        """blob(digest) returns exactly the stored bytes, upper- or lowercase."""
        event = payload(hook_event_name="Stop")
        digest = journal.append(event).digest
        assert journal.blob(digest) == event
        assert journal.blob(digest.upper()) == event

    def test_blob_by_unique_prefix(self, journal: Journal) -> None:
        """blob(prefix) returns the one blob whose digest starts with the prefix."""
        event = payload(n=1)
        digest = journal.append(event).digest
        journal.append(payload(n=2))
        for length in (4, 5, 12, 63):
            assert journal.blob(digest[:length]) == event
        assert journal.resolve_digest(digest[:8]) == bytes.fromhex(digest)

    def test_prefix_lookup_of_near_neighbours(self, journal: Journal) -> None:
        """Two digests sharing 4 hex digits: the 4-prefix is ambiguous, 5 resolves each."""
        low, high = colliding_payloads()
        journal.append(low)
        journal.append(high)
        low_digest, high_digest = sha256_hex(low), sha256_hex(high)
        with pytest.raises(AmbiguousPrefixError, match="ambiguous"):
            journal.blob(low_digest[:4])
        # Odd-length prefixes: the larger digest must not be hidden by the smaller one.
        assert journal.blob(high_digest[:5]) == high
        assert journal.blob(low_digest[:5]) == low
        assert journal.blob(high_digest[:6]) == high

    def test_blob_unknown_digest_is_not_found(self, journal: Journal) -> None:
        """A well-formed digest or prefix that matches nothing raises NotFoundError."""
        stored = journal.append(payload(n=1)).digest
        missing = sha256_hex(payload(n=2))
        with pytest.raises(NotFoundError, match="no blob"):
            journal.blob(missing)
        other = "0000" if not stored.startswith("0000") else "ffff"
        with pytest.raises(NotFoundError, match="no blob"):
            journal.blob(other)

    @pytest.mark.parametrize("text", ["", "abc", "xyz1", "12g4", "abcd-ef"])
    def test_blob_malformed_digest_is_usage_error(self, journal: Journal, text: str) -> None:
        """A prefix shorter than 4 or with non-hex characters raises UsageError."""
        journal.append(payload(n=1))
        with pytest.raises(UsageError, match="hex"):
            journal.blob(text)

    # -- stored bytes and kinds --------------------------------------------------

    @pytest.mark.parametrize(
        ("fields", "kind"),
        [
            ({"hook_event_name": "PreToolUse", "type": "x"}, "PreToolUse"),
            ({"type": "session.idle"}, "session.idle"),
            ({"hook_event_name": "", "type": "turn"}, "turn"),
            ({"hook_event_name": 7, "type": "turn"}, "turn"),
            ({"type": ["not", "a", "string"]}, "generic"),
            ({"session_id": "s"}, "generic"),
            ({}, "generic"),
        ],
        ids=["hook-name", "type", "empty-name", "non-string-name", "non-string-type", "none", "{}"],
    )
    def test_kind_defaults_to_the_payload_event_name(
        self, journal: Journal, fields: dict[str, object], kind: str
    ) -> None:
        """Without kind=, the kind is hook_event_name, else type, else "generic"."""
        seq = journal.append(payload(**fields)).seq
        assert journal.get(seq).kind == kind

    def test_explicit_kind_wins(self, journal: Journal) -> None:
        """kind= overrides the payload's own event name."""
        seq = journal.append(payload(hook_event_name="Stop"), kind="custom").seq
        assert journal.get(seq).kind == "custom"

    def test_nested_event_name_is_not_a_kind(self, journal: Journal) -> None:
        """Only top-level fields name the kind."""
        seq = journal.append(payload(data={"hook_event_name": "Stop", "type": "t"})).seq
        assert journal.get(seq).kind == "generic"

    def test_surrounding_whitespace_is_stripped(self, journal: Journal) -> None:
        """Leading and trailing JSON whitespace is dropped; the digest covers what is kept."""
        event = payload(hook_event_name="Stop")
        result = journal.append(b" \t\r\n" + event + b"\n\n")
        record = journal.get(result.seq)
        assert record.payload == event
        assert result.digest == record.digest == sha256_hex(event)
        assert journal.blob(result.digest) == event
        journal.append(event)
        assert journal.stats().blobs == 1

    def test_stored_bytes_are_the_agents_own(self, journal: Journal) -> None:
        """Inner formatting, key order and escapes are kept byte for byte."""
        event = b'{"b": 1,  "a": "caf\\u00e9",\n "c": [1.50, 1e2]}'
        result = journal.append(event)
        assert journal.get(result.seq).payload == event
        assert result.digest == sha256_hex(event)
        assert journal.append(payload(b=1, a="café", c=[1.5, 100.0])).digest != result.digest

    # -- quarantine --------------------------------------------------------------

    @pytest.mark.parametrize(
        "data",
        [b"", b"  \n", b"not json", b'{"a": [1, 2', b"[1, 2]", b'{"a":"\xff"}', b'{"a":NaN}'],
        ids=["empty", "blank", "not-json", "truncated", "array", "bad-utf8", "nan"],
    )
    def test_bad_input_is_quarantined_and_changes_nothing(
        self, journal: Journal, data: bytes
    ) -> None:
        """Bad input raises InvalidPayloadError, is kept byte for byte, and appends nothing."""
        first = journal.append(payload(n=1), key="k")
        before = journal.get(1)
        with pytest.raises(InvalidPayloadError) as caught:
            journal.append(data, source="cursor", kind="afterFileEdit")
        error = caught.value
        assert error.reason
        assert error.quarantine_id is not None
        entries = journal.quarantined()
        assert [e.id for e in entries] == [error.quarantine_id]
        assert entries[0].reason == error.reason
        assert entries[0].data == data
        assert entries[0].source == "cursor"
        assert entries[0].kind == "afterFileEdit"
        assert journal.head() == 1
        assert journal.head_digest() == first.record_digest
        assert journal.get(1) == before
        assert journal.stats().quarantined == 1
        assert journal.verify().ok

    def test_quarantine_ids_count_up(self, journal: Journal) -> None:
        """Each rejected input gets the next quarantine id; quarantined() pages by id."""
        ids = []
        for data in (b"x", b"y", b"z"):
            with pytest.raises(InvalidPayloadError) as caught:
                journal.append(data)
            ids.append(caught.value.quarantine_id)
        assert ids == [1, 2, 3]
        assert [e.data for e in journal.quarantined()] == [b"x", b"y", b"z"]
        assert [e.id for e in journal.quarantined(after=1)] == [2, 3]
        assert [e.id for e in journal.quarantined(after=1, limit=1)] == [2]

    def test_bad_input_with_known_key_is_still_quarantined(self, journal: Journal) -> None:
        """Validation comes first: bad input under a known key is quarantined, not deduped."""
        journal.append(payload(n=1), key="k")
        with pytest.raises(InvalidPayloadError):
            journal.append(b"{", key="k")
        assert journal.head() == 1
        assert [e.data for e in journal.quarantined()] == [b"{"]

    # -- batches -----------------------------------------------------------------

    def test_batch_results_in_order(self, journal: Journal) -> None:
        """append_batch returns one Appended per item, in order, with consecutive seqs."""
        journal.append(payload(n=0))
        items = [payload(n=n, hook_event_name=f"E{n}") for n in range(1, 6)]
        results = journal.append_batch(items, source="claude-code", received_at=5)
        assert all(isinstance(r, Appended) for r in results)
        assert [r.seq for r in results if isinstance(r, Appended)] == [2, 3, 4, 5, 6]
        records = list(journal.read(after=1))
        assert [r.payload for r in records] == items
        assert [r.kind for r in records] == ["E1", "E2", "E3", "E4", "E5"]
        assert {r.source for r in records} == {"claude-code"}
        assert {r.received_at for r in records} == {5}
        assert [r.digest for r in records] == [r.digest for r in results if isinstance(r, Appended)]

    def test_batch_bad_line_is_quarantined_and_good_lines_land(self, journal: Journal) -> None:
        """A bad line in a batch is Quarantined with its 1-based line; good lines land in order."""
        journal.append(payload(n=0))
        items = [payload(n=1), b"{oops", payload(n=3), payload(n=4)]
        results = journal.append_batch(items, source="codex")
        assert [type(r) for r in results] == [Appended, Quarantined, Appended, Appended]
        bad = results[1]
        assert isinstance(bad, Quarantined)
        assert bad.line == 2
        assert bad.reason.startswith("not JSON")
        good = [r for r in results if isinstance(r, Appended)]
        assert [r.seq for r in good] == [2, 3, 4]
        assert [r.payload for r in journal.read(after=1)] == [items[0], items[2], items[3]]
        (entry,) = journal.quarantined()
        assert (entry.id, entry.reason, entry.data, entry.source) == (
            bad.quarantine_id,
            bad.reason,
            b"{oops",
            "codex",
        )
        assert journal.verify().ok

    def test_batch_of_only_bad_lines_appends_nothing(self, journal: Journal) -> None:
        """A batch with no valid line appends nothing and quarantines every line."""
        results = journal.append_batch([b"", b"[]"])
        assert all(isinstance(r, Quarantined) for r in results)
        assert [r.line for r in results if isinstance(r, Quarantined)] == [1, 2]
        assert journal.head() == 0
        assert journal.stats().quarantined == 2

    def test_empty_batch(self, journal: Journal) -> None:
        """An empty batch returns no results and changes nothing."""
        assert journal.append_batch([]) == []
        assert journal.head() == 0

    def test_batch_dedupes_blobs(self, journal: Journal) -> None:
        """Identical payloads within and across batches share one blob."""
        event = payload(hook_event_name="Stop")
        journal.append(event)
        results = journal.append_batch([event, payload(n=1), event])
        assert [r.seq for r in results if isinstance(r, Appended)] == [2, 3, 4]
        assert journal.stats().blobs == 2
        assert [r.payload for r in journal.read()] == [event, event, payload(n=1), event]

    def test_batch_with_key_gives_line_keys_and_rerun_appends_nothing(
        self, journal: Journal
    ) -> None:
        """A batch keyed K gives item N the key "K:N"; re-running it is all duplicates."""
        items = [payload(n=1), payload(n=2), payload(n=1)]
        first = journal.append_batch(items, key="import-1")
        assert [journal.get(r.seq).key for r in first if isinstance(r, Appended)] == [
            "import-1:1",
            "import-1:2",
            "import-1:3",
        ]
        head, head_digest = journal.head(), journal.head_digest()
        again = journal.append_batch(items, key="import-1")
        assert all(isinstance(r, Appended) and r.duplicate for r in again)
        assert [r.seq for r in again if isinstance(r, Appended)] == [1, 2, 3]
        assert [r.to_dict() | {"duplicate": False} for r in again] == [r.to_dict() for r in first]
        assert journal.head() == head
        assert journal.head_digest() == head_digest

    def test_keyed_batch_lines_count_bad_lines(self, journal: Journal) -> None:
        """Line keys count every input line, so a bad line keeps its number."""
        results = journal.append_batch([payload(n=1), b"bad", payload(n=3)], key="K")
        keys = [journal.get(r.seq).key for r in results if isinstance(r, Appended)]
        assert keys == ["K:1", "K:3"]

    def test_batch_key_matches_single_append_key(self, journal: Journal) -> None:
        """A batch item whose line key was used by a single append is a duplicate."""
        single = journal.append(payload(n=9), key="K:2")
        results = journal.append_batch([payload(n=1), payload(n=2)], key="K")
        assert [(r.seq, r.duplicate) for r in results if isinstance(r, Appended)] == [
            (2, False),
            (single.seq, True),
        ]
        assert journal.head() == 2

    def test_batch_explicit_kind(self, journal: Journal) -> None:
        """kind= on a batch applies to every item."""
        journal.append_batch([payload(hook_event_name="Stop"), payload(n=1)], kind="imported")
        assert [r.kind for r in journal.read()] == ["imported", "imported"]

    # -- the hash chain (invariant 3) --------------------------------------------

    def test_hash_chain_links_every_record(self, journal: Journal) -> None:
        """Record i's prev_digest is record i-1's record_digest; seq 1's is all zeros."""
        journal.append(payload(n=1))
        journal.append_batch([payload(n=2), payload(n=3)])
        journal.append(payload(n=1), key="k")
        records = list(journal.read())
        assert records[0].prev_digest == ZERO
        for before, after in itertools.pairwise(records):
            assert after.prev_digest == before.record_digest
        assert len({r.record_digest for r in records}) == len(records)
        assert journal.head_digest() == records[-1].record_digest

    def test_verify_reports_ok_and_the_head(self, journal: Journal) -> None:
        """verify() passes on a sound journal and reports its head and head digest."""
        journal.append(payload(n=1))
        journal.append_batch([payload(n=2), b"bad", payload(n=1)], key="b")
        report = journal.verify()
        assert report.ok
        assert report.problem is None
        assert report.first_bad_seq is None
        assert report.head_seq == report.records_checked == 3
        assert report.head_digest == journal.head_digest()

    # -- usage errors ------------------------------------------------------------

    @pytest.mark.parametrize(
        "arguments",
        [
            {"source": ""},
            {"kind": ""},
            {"key": ""},
            {"source": "s" * 129},
            {"kind": "k" * 129},
            {"key": "k" * 257},
        ],
        ids=["source", "kind", "key", "long-source", "long-kind", "long-key"],
    )
    def test_bad_names_are_usage_errors(self, journal: Journal, arguments: dict[str, str]) -> None:
        """An empty or over-long source, kind or key raises UsageError and writes nothing."""
        source = arguments.get("source", "generic")
        kind, key = arguments.get("kind"), arguments.get("key")
        with pytest.raises(UsageError, match=r"must not be empty|longer than"):
            journal.append(payload(n=1), source=source, kind=kind, key=key)
        with pytest.raises(UsageError, match=r"must not be empty|longer than"):
            journal.append_batch([payload(n=1)], source=source, kind=kind, key=key)
        assert journal.head() == 0
        assert journal.quarantined() == []
