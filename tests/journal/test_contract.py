"""Both journals keep the contract; the LMDB journal's own promises are checked here too.

LMDB-only: reopening, segment boundaries, size far beyond LMDB's default map, file
modes, where the home is, refusing unsafe filesystems, recorded formats, and record
digests identical to the reference journal's.
"""

from __future__ import annotations

import os
import pathlib
import stat
import tempfile

import lmdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal import home as journal_home
from journal import payload as journal_payload
from journal import wire
from journal.errors import HomeError, InvalidPayloadError, StoreError
from journal.memory import MemoryJournal
from journal.results import Appended, Quarantined
from journal.store import DEFAULT_MAP_SIZE, FORMAT, LmdbJournal

# The contract's plain asserts get pytest's detailed messages too.
pytest.register_assert_rewrite("tests.journal.contract")

from tests.journal.contract import Journal, JournalContract, payload  # noqa: E402

DEFAULT_LMDB_MAP_SIZE = 10 * 2**20  # what lmdb.open() uses when told nothing


class TestMemoryJournal(JournalContract):
    """The in-memory reference journal keeps the contract."""

    def make_journal(self, directory: pathlib.Path) -> Journal:
        return MemoryJournal()


class TestLmdbJournal(JournalContract):
    """The LMDB journal keeps the contract."""

    def make_journal(self, directory: pathlib.Path) -> Journal:
        return LmdbJournal(str(directory / "home"))


def _mode(path: str | pathlib.Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- durability across reopen ----------------------------------------------------


def test_reopen_keeps_everything(home: str) -> None:
    """Closing and reopening keeps records, blobs, keys, quarantine and the chain."""
    with LmdbJournal(home) as journal:
        journal.append(payload(n=1), source="claude-code", key="k1")
        journal.append_batch([payload(n=2), b"bad", payload(n=1)], source="codex", key="b")
        with pytest.raises(InvalidPayloadError):
            journal.append(b"nope")
        records = list(journal.read())
        quarantine = journal.quarantined()
        stats = journal.stats()
        head_digest = journal.head_digest()
    with LmdbJournal(home) as journal:
        assert list(journal.read()) == records
        assert journal.quarantined() == quarantine
        assert journal.stats() == stats
        assert journal.head_digest() == head_digest
        assert journal.verify().ok
        again = journal.append(payload(n=99), key="k1")
        assert (again.seq, again.duplicate) == (1, True)
        rerun = journal.append_batch([payload(n=2), b"bad", payload(n=1)], key="b")
        assert [r.seq for r in rerun if isinstance(r, Appended) and r.duplicate] == [2, 3]
        new = journal.append(payload(n=3))
        assert new.seq == 4
        assert journal.get(4).prev_digest == head_digest


# -- segments ----------------------------------------------------------------------


def _mirror(lmdb_journal: LmdbJournal, memory: MemoryJournal) -> None:
    """Apply operations crossing every kind of segment boundary to both journals."""
    big = "x" * 20_000
    operations: list[tuple[str, list[bytes], str | None]] = [
        ("append", [payload(n=0)], None),
        ("batch", [payload(n=n) for n in range(1, 151)], None),  # segments of 64, 64, 22
        ("append", [payload(n=151)], "single-1"),
        ("append", [payload(n=5)], None),  # a blob first stored mid-segment
        ("batch", [payload(n=n) for n in range(200, 265)], "batch-1"),  # 64 + 1
        ("batch", [payload(n=n, pad=big) for n in range(10)], None),  # split by size
        (
            "batch",
            [payload(n=n % 40) if n != 70 else b"{bad" for n in range(130)],
            "batch-2",
        ),
        ("append", [payload(n=999)], "single-2"),
        ("batch", [payload(n=1000)], None),
        ("batch", [payload(n=n) for n in range(200, 265)], "batch-1"),  # all duplicates
    ]
    for at, (operation, items, key) in enumerate(operations, 1):
        for journal in (lmdb_journal, memory):
            if operation == "append":
                journal.append(items[0], key=key, received_at=at)
            else:
                journal.append_batch(items, key=key, received_at=at)


def test_segments_interleave_batches_and_single_appends(lmdb_journal: LmdbJournal) -> None:
    """Batches (split into segments) and single appends read back exactly, from any seq."""
    memory = MemoryJournal()
    _mirror(lmdb_journal, memory)
    head = lmdb_journal.head()
    assert head == memory.head() == 1 + 150 + 2 + 65 + 10 + 129 + 1 + 1
    expected = list(memory.read())
    assert list(lmdb_journal.read()) == expected
    with lmdb_journal._env.begin(db=lmdb_journal._log) as txn:
        starts = [wire.seq_of_key(key) for key in txn.cursor().iternext(values=False)]
    near_a_boundary = {seq + d for seq in starts for d in (-2, -1, 0, 1)}
    for after in range(head + 2):
        window = [r.seq for r in lmdb_journal.read(after=after, limit=3)]
        assert window == list(range(after + 1, min(after + 3, head) + 1))
        if after in near_a_boundary or after % 5 == 0 or after >= head - 2:
            seqs = [r.seq for r in lmdb_journal.read(after=after)]
            assert seqs == list(range(after + 1, head + 1))
    for seq in range(1, head + 1):
        assert lmdb_journal.get(seq) == expected[seq - 1]
    assert lmdb_journal.verify().ok


def test_segment_layout_is_what_the_batch_wrote(lmdb_journal: LmdbJournal) -> None:
    """A batch of 150 small items is stored as segments of 64, 64 and 22 entries."""
    lmdb_journal.append(payload(n=0))
    lmdb_journal.append_batch([payload(n=n) for n in range(1, 151)])
    env = lmdb_journal._env
    with env.begin(db=lmdb_journal._log) as txn:
        layout = [
            (wire.seq_of_key(key), len(list(wire.iter_segment(value))))
            for key, value in txn.cursor()
        ]
    assert layout == [(1, 1), (2, 64), (66, 64), (130, 22)]


def test_reads_cross_read_chunks(lmdb_journal: LmdbJournal) -> None:
    """Reads longer than one read transaction's chunk miss and repeat nothing."""
    items = [payload(n=n, hook_event_name="Hit" if n % 97 == 0 else "Miss") for n in range(1300)]
    lmdb_journal.append_batch(items)
    assert [r.seq for r in lmdb_journal.read()] == list(range(1, 1301))
    for after in (0, 1, 63, 64, 511, 512, 513, 1023, 1024, 1299, 1300):
        assert [r.seq for r in lmdb_journal.read(after=after)] == list(range(after + 1, 1301))
    hits = [r.seq for r in lmdb_journal.read(kinds=["Hit"])]
    assert hits == [n + 1 for n in range(1300) if n % 97 == 0]
    assert [r.seq for r in lmdb_journal.read(after=600, limit=700)] == list(range(601, 1301))


@pytest.mark.slow
def test_journal_far_larger_than_lmdbs_default_map(home: str) -> None:
    """30 MB of payloads (3x LMDB's default 10 MiB map) append with no resize step."""
    filler = "x" * 10_000
    with LmdbJournal(home) as journal:
        map_size = journal.stats().map_size
        for batch in range(30):
            items = [payload(batch=batch, item=item, pad=filler) for item in range(100)]
            results = journal.append_batch(items, source="import")
            assert all(isinstance(r, Appended) for r in results)
            journal.append(payload(batch=batch, single=True, pad=filler))
        stats = journal.stats()
        assert stats.head_seq == 3030
        assert stats.blobs == 3030
        assert stats.bytes > 3 * DEFAULT_LMDB_MAP_SIZE
        assert stats.map_size == map_size == DEFAULT_MAP_SIZE
        assert journal.verify().ok
    assert os.path.getsize(os.path.join(home, "log", "data.mdb")) > 3 * DEFAULT_LMDB_MAP_SIZE
    with LmdbJournal(home) as journal:
        assert journal.get(3030).payload == payload(batch=29, single=True, pad=filler)
        assert journal.head() == 3030


# -- the home ----------------------------------------------------------------------


def test_home_is_private(home: str) -> None:
    """The home and log directories are 0700 and LMDB's files 0600, whatever the umask."""
    old = os.umask(0)
    try:
        with LmdbJournal(home) as journal:
            journal.append(payload(n=1))
    finally:
        os.umask(old)
    log = os.path.join(home, "log")
    assert _mode(home) == 0o700
    assert _mode(log) == 0o700
    assert _mode(os.path.join(log, "data.mdb")) == 0o600
    assert _mode(os.path.join(log, "lock.mdb")) == 0o600


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> pytest.MonkeyPatch:
    """No journal variables set, and HOME pointing at an empty temporary directory."""
    monkeypatch.delenv("AGENT_JOURNAL_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    return monkeypatch


def test_home_argument_wins(clean_env: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """--home beats AGENT_JOURNAL_HOME and XDG_STATE_HOME."""
    clean_env.setenv("AGENT_JOURNAL_HOME", str(tmp_path / "env"))
    clean_env.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert journal_home.resolve(str(tmp_path / "arg")) == str(tmp_path / "arg")


def test_home_argument_is_made_absolute(clean_env: pytest.MonkeyPatch) -> None:
    """A relative or ~ --home is resolved to an absolute path."""
    assert journal_home.resolve("rel/j") == os.path.join(os.getcwd(), "rel", "j")
    assert journal_home.resolve("~/j") == os.path.join(os.environ["HOME"], "j")


def test_env_home_beats_xdg(clean_env: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """Without --home, AGENT_JOURNAL_HOME beats XDG_STATE_HOME."""
    clean_env.setenv("AGENT_JOURNAL_HOME", str(tmp_path / "env"))
    clean_env.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert journal_home.resolve() == str(tmp_path / "env")
    assert journal_home.resolve("") == str(tmp_path / "env")


def test_xdg_state_home(clean_env: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """Without --home or AGENT_JOURNAL_HOME, the home is $XDG_STATE_HOME/agent-journal."""
    clean_env.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert journal_home.resolve() == str(tmp_path / "state" / "agent-journal")


def test_default_home(clean_env: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """With nothing set, the home is ~/.local/state/agent-journal."""
    expected = str(tmp_path / "user" / ".local" / "state" / "agent-journal")
    assert journal_home.resolve() == expected


def test_relative_xdg_state_home_is_ignored(
    clean_env: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    """A relative XDG_STATE_HOME is invalid (XDG spec) and falls through to the default."""
    clean_env.setenv("XDG_STATE_HOME", "relative/state")
    expected = str(tmp_path / "user" / ".local" / "state" / "agent-journal")
    assert journal_home.resolve() == expected


def test_journal_opens_the_resolved_home(
    clean_env: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    """LmdbJournal() with no home opens AGENT_JOURNAL_HOME."""
    clean_env.setenv("AGENT_JOURNAL_HOME", str(tmp_path / "env"))
    with LmdbJournal() as journal:
        journal.append(payload(n=1))
        assert journal.home == str(tmp_path / "env")
    assert os.path.exists(tmp_path / "env" / "log" / "data.mdb")


@pytest.mark.parametrize("fstype", ["nfs", "nfs4", "cifs", "9p", "virtiofs", "fuse.sshfs"])
def test_unsafe_filesystem_is_refused(
    monkeypatch: pytest.MonkeyPatch, home: str, fstype: str
) -> None:
    """A home on a network or FUSE filesystem raises HomeError naming the type."""
    monkeypatch.delenv("AGENT_JOURNAL_ALLOW_ANY_FS", raising=False)
    monkeypatch.setattr(journal_home, "filesystem_type", lambda path: fstype)
    with pytest.raises(HomeError, match=f"on a {fstype} filesystem"):
        journal_home.check_filesystem(home)
    with pytest.raises(HomeError, match=f"on a {fstype} filesystem"):
        LmdbJournal(home)
    assert not os.path.exists(os.path.join(home, "log", "data.mdb"))


@pytest.mark.parametrize("fstype", ["ext4", "xfs", "btrfs", "tmpfs", "overlay", None])
def test_local_filesystem_is_accepted(
    monkeypatch: pytest.MonkeyPatch, home: str, fstype: str | None
) -> None:
    """Local filesystems (and an unknown type) are accepted."""
    monkeypatch.delenv("AGENT_JOURNAL_ALLOW_ANY_FS", raising=False)
    monkeypatch.setattr(journal_home, "filesystem_type", lambda path: fstype)
    journal_home.check_filesystem(home)


def test_unsafe_filesystem_override(monkeypatch: pytest.MonkeyPatch, home: str) -> None:
    """AGENT_JOURNAL_ALLOW_ANY_FS=1 lets a user accept the risk explicitly."""
    monkeypatch.setenv("AGENT_JOURNAL_ALLOW_ANY_FS", "1")
    monkeypatch.setattr(journal_home, "filesystem_type", lambda path: "nfs")
    with LmdbJournal(home) as journal:
        assert journal.append(payload(n=1)).seq == 1


def test_filesystem_type_reads_the_mount_table(tmp_path: pathlib.Path) -> None:
    """On Linux, filesystem_type names the filesystem a real path is on."""
    if not os.path.exists("/proc/self/mounts"):
        pytest.skip("no /proc/self/mounts")
    fstype = journal_home.filesystem_type(str(tmp_path))
    assert isinstance(fstype, str)
    assert fstype


# -- recorded formats --------------------------------------------------------------


def test_meta_records_formats_and_versions(lmdb_journal: LmdbJournal) -> None:
    """meta names the record format, payload format, digest and LMDB version."""
    with lmdb_journal._env.begin(db=lmdb_journal._meta) as txn:
        meta = {key.decode(): value.decode() for key, value in txn.cursor()}
    assert meta["format"] == FORMAT == "agent-journal/1"
    assert meta["payload_format"] == journal_payload.FORMAT == "raw-json/2"
    assert meta["digest"] == "sha256"
    assert meta["lmdb_version"] == ".".join(map(str, lmdb.version()))
    assert int(meta["created_at"]) > 0
    stats = lmdb_journal.stats()
    assert (stats.format, stats.payload_format) == (FORMAT, journal_payload.FORMAT)


def test_meta_is_written_once(home: str) -> None:
    """Reopening a journal keeps the meta written at creation."""
    with LmdbJournal(home) as journal, journal._env.begin(db=journal._meta) as txn:
        created = txn.get(b"created_at")
    with LmdbJournal(home) as journal, journal._env.begin(db=journal._meta) as txn:
        assert txn.get(b"created_at") == created


# -- the same digests as the reference journal -------------------------------------

_events = st.builds(
    lambda n, name: payload(n=n, hook_event_name=name),
    st.integers(0, 5),
    st.sampled_from(["PreToolUse", "PostToolUse", "Stop"]),
)
_inputs = _events | st.sampled_from([b"", b"[1]", b"{", b'{"a":1e999999}', b" {} "])
_operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.lists(_inputs, min_size=1, max_size=1), st.none()),
        st.tuples(
            st.just("append"), st.lists(_events, min_size=1, max_size=1), st.sampled_from("ab")
        ),
        st.tuples(
            st.just("batch"), st.lists(_inputs, max_size=6), st.none() | st.sampled_from("xy")
        ),
    ),
    max_size=8,
)


def _apply(journal: Journal, operations: list[tuple[str, list[bytes], str | None]]) -> list[object]:
    """Apply operations with fixed received_at; return what each one reported."""
    outcomes: list[object] = []
    for at, (operation, items, key) in enumerate(operations, 1):
        if operation == "batch":
            results = journal.append_batch(items, key=key, source="codex", received_at=at)
            # Reasons are advice whose wording differs between the two validators.
            outcomes.append([r.to_dict() | {"reason": None} for r in results])
            continue
        try:
            outcomes.append(journal.append(items[0], key=key, received_at=at).to_dict())
        except InvalidPayloadError as exc:
            outcomes.append(("quarantined", exc.quarantine_id))
    return outcomes


@given(operations=_operations)
def test_same_record_digests_as_the_reference_journal(
    operations: list[tuple[str, list[bytes], str | None]],
) -> None:
    """Given the same appends and received_at, LMDB and memory store identical records."""
    memory = MemoryJournal()
    with tempfile.TemporaryDirectory() as directory, LmdbJournal(directory) as journal:
        assert _apply(journal, operations) == _apply(memory, operations)
        assert list(journal.read()) == list(memory.read())
        assert journal.head_digest() == memory.head_digest()

        def kept(j: Journal) -> list[tuple[int, bytes, str, str]]:
            return [(e.id, e.data, e.source, e.kind) for e in j.quarantined()]

        assert kept(journal) == kept(memory)
        assert journal.verify().ok


def test_same_record_digests_for_a_known_sequence(lmdb_journal: LmdbJournal) -> None:
    """A fixed mix of appends gives the same head digest in both journals."""
    memory = MemoryJournal()
    operations: list[tuple[str, list[bytes], str | None]] = [
        ("append", [payload(hook_event_name="SessionStart")], None),
        ("batch", [payload(n=1), b"bad", payload(n=1)], "b"),
        ("append", [payload(n=2)], "k"),
        ("append", [payload(n=3)], "k"),
        ("batch", [payload(n=1), b"bad", payload(n=1)], "b"),
    ]
    assert _apply(lmdb_journal, operations) == _apply(memory, operations)
    assert lmdb_journal.head() == 4
    assert lmdb_journal.head_digest() == memory.head_digest()
    results = lmdb_journal.append_batch([payload(n=4)], received_at=9)
    assert results == memory.append_batch([payload(n=4)], received_at=9)
    assert not any(isinstance(r, Quarantined) for r in results)


def test_lmdb_errors_on_reads_become_store_errors(home: str) -> None:
    """An lmdb.Error while reading surfaces as StoreError, never as lmdb's own type."""
    journal = LmdbJournal(home)
    journal.append(b'{"a":1}')
    journal.close()  # every later use of the environment fails inside lmdb
    for read in (journal.head, journal.head_digest, journal.stats, journal.verify):
        with pytest.raises(StoreError, match="reading the journal failed"):
            read()
    with pytest.raises(StoreError, match="reading the journal failed"):
        journal.get(1)
    with pytest.raises(StoreError, match="reading the journal failed"):
        list(journal.read())


# -- record versions: old records still read --------------------------------------


def test_version_1_records_still_read_beside_version_2(home: str) -> None:
    """Records without an agent (version 1 bytes, as every old journal holds) read back,
    verify and chain with version 2 records, before and after a reopen."""
    boot = bytes(range(16))
    with LmdbJournal(home) as journal:
        journal.append(payload(n=1), received_at=1)
        journal.append(payload(n=2), received_at=2, agent=(77, 88, boot))
        journal.append_batch([payload(n=3), payload(n=4)], received_at=3)
    with LmdbJournal(home) as journal:
        with journal._env.begin(db=journal._log) as txn:
            versions = [
                entry.record[0] for _, value in txn.cursor() for entry in wire.iter_segment(value)
            ]
        assert versions == [1, 2, 1, 1]
        records = list(journal.read())
        assert [(r.seq, r.agent_pid, r.agent_start) for r in records] == [
            (1, None, None),
            (2, 77, 88),
            (3, None, None),
            (4, None, None),
        ]
        assert records[2].prev_digest == records[1].record_digest
        assert journal.verify().ok
        memory = MemoryJournal()
        memory.append(payload(n=1), received_at=1)
        memory.append(payload(n=2), received_at=2, agent=(77, 88, boot))
        memory.append_batch([payload(n=3), payload(n=4)], received_at=3)
        assert records == list(memory.read())
        assert journal.head_digest() == memory.head_digest()
