"""The hook survives every fault (DESIGN §3, invariant 9), with real faults where we can.

Full disks are small tmpfs mounts, read-only homes are read-only bind mounts: both
need root (CI runs as root) and are skipped with the reason otherwise. Damaged data
files, an unwritable ``hook.log`` and failures inside the hook need no privileges.
Every fault test checks the same promise: exit 0, nothing on stdout or stderr, no
temporary file left behind, and every event in the log exactly once after the fault
is gone.
"""

from __future__ import annotations

import _thread
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from journal import home as journal_home
from journal import payload
from journal.agents import hook as hook_module
from journal.agents import spool
from journal.errors import CorruptionError
from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN, lmdb_verify

# Generous: a hook that takes this long has hung (its budget is 0.5 s).
DID_NOT_HANG_S = 20.0


def run_hook(
    home: str, data: bytes, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[bytes]:
    start = time.monotonic()
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, "hook", "claude-code", *args],
        input=data,
        capture_output=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )
    assert time.monotonic() - start < DID_NOT_HANG_S
    return done


def quiet(done: subprocess.CompletedProcess[bytes]) -> None:
    """The hook's promise to the agent: exit 0, silent on both streams."""
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b""), done


def event(n: int, *, keyed: bool, pad: int = 0) -> bytes:
    """A distinct hook event: a keyed tool call, or a Stop that has no id of its own."""
    if keyed:
        body: dict[str, Any] = {
            "hook_event_name": "PreToolUse",
            "session_id": "s-faults",
            "tool_use_id": f"toolu_{n:06d}",
            "tool_input": {"command": "x" * pad},
        }
    else:
        body = {"hook_event_name": "Stop", "session_id": "s-faults", "n": n, "pad": "y" * pad}
    return json.dumps(body).encode()


def landed(home: str, env: dict[str, str]) -> list[tuple[str, int]]:
    """Every event in the log as (kind, n), after draining what waits in any spool."""
    drained = subprocess.run(
        [JOURNAL_BIN, "--home", home, "spool", "drain", "--json"],
        capture_output=True,
        env={**os.environ, **env},
        check=False,
    )
    assert drained.returncode == 0, drained.stderr
    out = []
    with LmdbJournal(home) as journal:
        assert journal.verify().ok
        for record in journal.read():
            body = json.loads(record.payload)
            if record.kind == "PreToolUse":
                out.append(("PreToolUse", int(body["tool_use_id"].split("_")[1])))
            elif record.kind == "Stop":
                out.append(("Stop", body["n"]))
    return sorted(out)


def expected(sent: list[tuple[int, bool]]) -> list[tuple[str, int]]:
    return sorted(("PreToolUse" if keyed else "Stop", n) for n, keyed in sent)


def debris(*directories: pathlib.Path) -> list[str]:
    """Temporary spool files anywhere under the given directories."""
    return [str(p) for d in directories if d.exists() for p in d.rglob("*.tmp")]


@pytest.fixture
def fallback(tmp_path: pathlib.Path) -> dict[str, str]:
    """A TMPDIR of the test's own, so the fallback spool and log are inspectable."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    return {"TMPDIR": str(tmp)}


def _fallback_root(env: dict[str, str]) -> pathlib.Path:
    return pathlib.Path(env["TMPDIR"]) / f"agent-journal-{os.getuid()}"


# -- real faults: mounts (root only) ------------------------------------------------


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(done.stderr.strip() or f"mount {' '.join(args)} failed")


def _umount(path: pathlib.Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True, check=False)
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def _needs_root_mounts() -> None:
    if os.geteuid() != 0:
        pytest.skip("real disk faults need root (tmpfs and read-only bind mounts)")
    if shutil.which("mount") is None:
        pytest.skip("no mount(8) here")


@pytest.fixture
def tmpfs(tmp_path: pathlib.Path) -> Iterator[Callable[[str], pathlib.Path]]:
    """Mount a tmpfs of a given size (a disk that fills up); unmounted afterwards."""
    _needs_root_mounts()
    mounted: list[pathlib.Path] = []

    def make(size: str) -> pathlib.Path:
        target = tmp_path / f"disk{len(mounted)}"
        target.mkdir()
        try:
            _mount("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(target))
        except OSError as exc:
            pytest.skip(f"cannot mount a tmpfs here: {exc}")
        mounted.append(target)
        return target

    yield make
    for target in reversed(mounted):
        _umount(target)


class ReadOnly:
    """Read-only bind mounts of paths over themselves, and undoing them."""

    def __init__(self) -> None:
        self.mounted: list[pathlib.Path] = []

    def __call__(self, path: pathlib.Path) -> None:
        try:
            _mount("--bind", str(path), str(path))
        except OSError as exc:
            pytest.skip(f"cannot bind-mount here: {exc}")
        self.mounted.append(path)
        try:
            _mount("-o", "remount,ro,bind", str(path))
        except OSError as exc:
            pytest.skip(f"cannot remount read-only here: {exc}")

    def undo(self) -> None:
        while self.mounted:
            _umount(self.mounted.pop())


@pytest.fixture
def read_only() -> Iterator[ReadOnly]:
    """Make a file or directory read-only (a read-only bind mount); undone afterwards."""
    _needs_root_mounts()
    mounts = ReadOnly()
    yield mounts
    mounts.undo()


@pytest.mark.slow
def test_a_disk_that_fills_up_loses_nothing_and_leaves_nothing(
    tmpfs: Callable[[str], pathlib.Path], fallback: dict[str, str]
) -> None:
    """300 hooks of ~5 KB into a 2 MB home: every hook exits 0 in silence, also once
    the disk is full (LMDB, the home spool and hook.log all failing); no temporary
    file is left; once there is room again every event is in the log exactly once."""
    disk = tmpfs("2m")
    home = str(disk / "home")
    sent = [(n, n % 2 == 0) for n in range(300)]
    for n, keyed in sent:
        quiet(run_hook(home, event(n, keyed=keyed, pad=5000), fallback))
    assert shutil.disk_usage(disk).free < 64 * 1024, "the disk never filled up"
    assert debris(disk, pathlib.Path(fallback["TMPDIR"])) == []
    assert list(_fallback_root(fallback).glob("spool/*.spool")), "nothing was spooled"
    _mount("-o", "remount,size=64m", str(disk))
    assert landed(home, fallback) == expected(sent)
    assert debris(disk, pathlib.Path(fallback["TMPDIR"])) == []
    lmdb_verify(home)


def test_a_new_journal_on_a_full_disk_spools_instead_of_crashing(
    tmpfs: Callable[[str], pathlib.Path], fallback: dict[str, str]
) -> None:
    """A first hook on a full disk: LMDB's sparse lock file would be a SIGBUS when
    mapped; the hook spools to the fallback instead, and the first hook after space
    is freed appends its own event and drains the spooled one."""
    disk = tmpfs("1m")
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    home = str(disk / "home")
    quiet(run_hook(home, event(1, keyed=False), fallback))
    assert len(list(_fallback_root(fallback).glob("spool/*.spool"))) == 1
    filler.unlink()
    quiet(run_hook(home, event(2, keyed=True), fallback))
    assert not list(_fallback_root(fallback).glob("spool/*.spool")), "the hook did not drain"
    assert landed(home, fallback) == expected([(1, False), (2, True)])
    assert debris(disk, pathlib.Path(fallback["TMPDIR"])) == []


@pytest.mark.parametrize("journal_exists", [True, False], ids=["existing", "new"])
def test_a_read_only_home_spools_to_the_fallback_and_lands_once_writable(
    tmp_path: pathlib.Path,
    read_only: ReadOnly,
    fallback: dict[str, str],
    journal_exists: bool,
) -> None:
    """A home on a read-only mount (existing journal, or one not yet created): hooks
    exit 0 in silence, their events wait in the fallback spool, and the first hook
    after the mount is writable again lands them all, each once."""
    parent = tmp_path / "ro"
    parent.mkdir()
    home = str(parent / "home")
    sent = [(0, True)]
    if journal_exists:
        quiet(run_hook(home, event(0, keyed=True), fallback))
    else:
        sent = []
    read_only(parent)
    for n in range(1, 5):
        quiet(run_hook(home, event(n, keyed=n % 2 == 0), fallback))
        sent.append((n, n % 2 == 0))
    assert len(list(_fallback_root(fallback).glob("spool/*.spool"))) == 4
    read_only.undo()
    quiet(run_hook(home, event(5, keyed=False), fallback))
    sent.append((5, False))
    assert not list(_fallback_root(fallback).glob("spool/*.spool")), "the hook did not drain"
    assert landed(home, fallback) == expected(sent)
    assert debris(parent, pathlib.Path(fallback["TMPDIR"])) == []


def test_hook_log_on_a_read_only_mount_is_not_a_failure(
    tmp_path: pathlib.Path, read_only: ReadOnly, fallback: dict[str, str]
) -> None:
    """hook.log on a read-only bind mount (the rest of the home writable): the hook
    still spools silently and its diagnostic goes to the fallback log."""
    home = tmp_path / "home"
    quiet(run_hook(str(home), event(0, keyed=True), fallback))
    (home / "hook.log").write_bytes(b"")
    read_only(home / "hook.log")
    quiet(run_hook(str(home), event(1, keyed=False), {**fallback, **_BROKEN}))
    assert "spooled" in (_fallback_root(fallback) / "hook.log").read_text()
    read_only.undo()
    assert landed(str(home), fallback) == expected([(0, True), (1, False)])


# -- damaged journal, unwritable log, the hook's own failures (no root needed) -----


# Forces a spool and a hook.log line without touching the disk: the append fails.
_BROKEN = {"AGENT_JOURNAL_HOOK_BUDGET_MS": "0"}


def _journal_of(home: str, count: int) -> None:
    with LmdbJournal(home) as journal:
        for n in range(count):
            journal.append(event(n, keyed=True, pad=3000), source="claude-code", key=f"k{n}")


@pytest.mark.parametrize(
    "damage",
    ["truncated-to-half", "truncated-to-one-page", "garbage", "garbage-after-the-metas"],
)
def test_a_damaged_data_file_spools_and_lands_once_restored(
    home: str, fallback: dict[str, str], damage: str
) -> None:
    """A data.mdb truncated (LMDB would die of SIGBUS) or overwritten with garbage:
    hooks exit 0 in silence with their events spooled; with the file restored they
    land, each once, next to the records that were there."""
    _journal_of(home, 300)
    data = pathlib.Path(home, "log", "data.mdb")
    backup = data.read_bytes()
    size = len(backup)
    if damage == "truncated-to-half":
        os.truncate(data, size // 2)
    elif damage == "truncated-to-one-page":
        os.truncate(data, 4096)
    elif damage == "garbage":
        data.write_bytes(os.urandom(size))
    else:
        with data.open("r+b") as f:
            f.seek(8192)
            f.write(os.urandom(size - 8192))
    sent = [(1000 + n, n % 2 == 0) for n in range(4)]
    for n, keyed in sent:
        done = run_hook(home, event(n, keyed=keyed), fallback)
        assert done.returncode == 0, f"the hook died: {done.returncode} {done.stderr!r}"
        quiet(done)
    assert len(list(pathlib.Path(home, "spool").glob("*.spool"))) == len(sent)
    data.write_bytes(backup)
    got = landed(home, fallback)
    assert [e for e in got if e[1] >= 1000] == expected(sent)
    assert len(got) == 300 + len(sent)


@pytest.mark.parametrize("blocker", ["directory", "fifo"])
def test_an_unwritable_hook_log_is_not_a_failure(
    home: str, fallback: dict[str, str], blocker: str
) -> None:
    """A directory (or a FIFO nobody reads) where hook.log should be: the hook still
    exits 0 in silence, and its diagnostic goes to the fallback log instead."""
    os.makedirs(home)
    log_path = pathlib.Path(home, "hook.log")
    if blocker == "directory":
        log_path.mkdir()
    else:
        os.mkfifo(log_path)
    quiet(run_hook(home, event(1, keyed=False), {**fallback, **_BROKEN}))
    assert "spooled" in (_fallback_root(fallback) / "hook.log").read_text()
    assert landed(home, fallback) == expected([(1, False)])


@pytest.mark.parametrize("broken", ["thread-start", "validation"])
def test_a_failure_inside_the_hook_spools_the_event(
    home: str,
    fallback: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    broken: str,
) -> None:
    """The hook's own code failing (no thread can be started; a bug in validation)
    still ends with the raw input spooled, exit 0 and nothing printed."""
    monkeypatch.setenv("TMPDIR", fallback["TMPDIR"])

    def fails(*args: object) -> Any:
        raise RuntimeError(f"{broken} is broken")

    if broken == "thread-start":
        monkeypatch.setattr(_thread, "start_new_thread", fails)
    else:
        monkeypatch.setattr(payload, "validate_parsed", fails)
    previous = signal.getsignal(signal.SIGINT)
    try:
        assert hook_module.main(["claude-code", event(7, keyed=False).decode()], home) == 0
    finally:
        signal.signal(signal.SIGINT, previous)
    assert capsys.readouterr() == ("", "")
    (path,) = spool.pending(spool.spool_dir(home))
    assert spool.read(path).data == event(7, keyed=False)
    assert f"{broken} is broken" in pathlib.Path(home, "hook.log").read_text()
    monkeypatch.undo()
    assert landed(home, fallback) == expected([(7, False)])


def _ignores_sigint(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_ctrl_c_does_not_cut_a_hook_short(home: str, fallback: dict[str, str]) -> None:
    """SIGINT (a Ctrl-C meant for the agent) reaching a hook mid-event: no traceback,
    exit 0, and the event lands."""
    proc = subprocess.Popen(
        [JOURNAL_BIN, "--home", home, "hook", "claude-code"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **fallback},
    )
    deadline = time.monotonic() + DID_NOT_HANG_S
    while not _ignores_sigint(proc.pid):
        assert time.monotonic() < deadline, "the hook never got to ignore SIGINT"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(event(3, keyed=True), timeout=60)
    assert (proc.returncode, out, err) == (0, b"", b"")
    assert landed(home, fallback) == expected([(3, True)])


def test_a_new_lock_file_is_born_allocated_and_an_old_sparse_one_is_filled(
    tmp_path: pathlib.Path,
) -> None:
    """LMDB's lock file gets every page before LMDB maps it (a write to a hole of a
    mapped file on a full disk is a SIGBUS): a new one is linked in whole, an old
    sparse one has its holes filled; LMDB still sees its 1024 readers."""
    if not hasattr(os, "posix_fallocate"):
        pytest.skip("no posix_fallocate here (macOS): LMDB makes its own sparse lock file")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    journal_home.check_filesystem(str(fresh))
    st = (fresh / "lock.mdb").stat()
    assert st.st_size > 0
    assert st.st_blocks * 512 >= st.st_size
    sparse = tmp_path / "sparse"
    sparse.mkdir()
    with (sparse / "lock.mdb").open("wb") as f:
        f.truncate(65664)
    journal_home.check_filesystem(str(sparse))
    st = (sparse / "lock.mdb").stat()
    assert st.st_blocks * 512 >= st.st_size == 65664
    home = tmp_path / "home"
    (home / "log").mkdir(parents=True)
    journal_home.check_filesystem(str(home / "log"))
    with LmdbJournal(str(home)) as journal:
        assert journal._env.max_readers() == 1024
        assert journal.append(b"{}").seq == 1


@pytest.mark.parametrize("cut", ["to-a-quarter", "by-64-pages"])
def test_check_data_file_tells_truncated_from_healthy(home: str, cut: str) -> None:
    """A healthy log data file passes; one cut short of its meta pages' last page is
    CorruptionError naming the sizes."""
    _journal_of(home, 300)
    log_dir = os.path.join(home, "log")
    journal_home.check_data_file(log_dir)
    data = os.path.join(log_dir, "data.mdb")
    size = os.path.getsize(data)
    os.truncate(data, size // 4 if cut == "to-a-quarter" else size - 64 * 4096)
    with pytest.raises(CorruptionError, match="is truncated"):
        journal_home.check_data_file(log_dir)


# -- the spool itself ---------------------------------------------------------------


def test_a_spool_write_that_fails_leaves_no_temporary_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills up in the middle of a spool write: OSError, and nothing left."""
    directory = tmp_path / "spool"

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        spool.write(
            str(directory), b"{}", source="codex", kind="", key="k", received_at=1, home="h"
        )
    assert list(directory.iterdir()) == []


def test_a_drain_removes_stale_temporary_files_only(home: str, fallback: dict[str, str]) -> None:
    """Temporary files of writers that died (old ones, in the home's spool and in the
    fallback) are removed by the next drain; a fresh one, maybe being written, stays."""
    own = pathlib.Path(home, "spool")
    shared = _fallback_root(fallback) / "spool"
    for directory in (own, shared):
        directory.mkdir(parents=True)
        stale = directory / ".00000000000000000001-1-aaaaaaaa.spool.tmp"
        stale.write_bytes(b"")
        old = time.time() - spool.STALE_TMP_SECONDS - 5
        os.utime(stale, (old, old))
    fresh = own / ".00000000000000000002-2-bbbbbbbb.spool.tmp"
    fresh.write_bytes(b"AJSPOOL1")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", fallback["TMPDIR"])
        with LmdbJournal(home) as journal:
            report = spool.drain(journal)
    assert report.removed == 2
    assert [p.name for p in own.iterdir()] == [fresh.name]
    assert list(shared.iterdir()) == []


def test_the_next_hook_drains_the_fallback_spool_of_its_own_home(
    home: str, fallback: dict[str, str]
) -> None:
    """The next hook after a fault drains the fallback spool too (not only the home's):
    fallback files of this home land once, another home's stay where they are."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", fallback["TMPDIR"])
        for home_of, n in ((home, 1), (home + "-other", 2)):
            spool.write(
                spool.fallback_dir(),
                event(n, keyed=False),
                source="claude-code",
                kind="",
                key=f"spool:{n}",
                received_at=n,
                home=home_of,
            )
    quiet(run_hook(home, event(3, keyed=True), fallback))
    (left,) = (_fallback_root(fallback) / "spool").glob("*.spool")
    assert spool.read(str(left)).home == home + "-other"
    with LmdbJournal(home) as journal:
        assert [r.kind for r in journal.read()] == ["PreToolUse", "Stop"]
    assert landed(home, fallback) == expected([(1, False), (3, True)])


def test_the_hook_path_still_avoids_heavy_imports() -> None:
    """The fault handling adds no import: the hook module loads no signal, enum or typing."""
    code = (
        "import sys\n"
        "import journal.agents.hook\n"
        "print(' '.join(sorted(m for m in ('signal', 'enum', 'typing') if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
