"""Build py-lmdb with POSIX-semaphore locking, and virtualenvs that use it.

macOS LMDB locks writers with POSIX named semaphores (``mdb.c`` picks
``MDB_USE_POSIX_SEM`` on ``__APPLE__``), and a process killed inside a write
transaction keeps that lock until every process has closed the environment
(DESIGN §2, ``shared/reference/event-store.md`` §3.3). Linux's build uses robust
mutexes, which the kernel releases. This script reproduces the macOS mode on Linux:

- ``wheel``: build a py-lmdb wheel from the sdist with ``CFLAGS=-DMDB_USE_POSIX_SEM=1``
  (the CPython extension; both bundled engines, 0.9 and 1.0, get the define), once,
  into a cache outside the repository.
- ``venv SRC``: a virtualenv (cached, keyed by the content of ``SRC``) with the project
  installed from ``SRC`` (not editable) and that lmdb build forced over the PyPI one.
- ``probe PYTHON``: prove that an interpreter's lmdb locks with semaphores. Opening an
  environment creates the named semaphores ``/MDBr<hash>`` and ``/MDBw<hash>`` (glibc:
  ``/dev/shm/sem.MDBr…``), and the last close unlinks them; the mutex build creates
  none. py-lmdb exposes no flag that tells, and ``lock.mdb`` has the same size (8 KiB)
  in both modes.

Never have one environment open from this build and the stock one at the same time:
the 0.9 engine's lock-file format carries no lock-type bit, so neither notices that
the other reads its semaphore names as a mutex. One after the other is fine (the
first open re-initialises the lock file).

The cache is ``$AGENT_JOURNAL_POSIXSEM_CACHE/<lmdb version>/`` or
``~/.cache/agent-journal-tests/lmdb-posix-sem/<lmdb version>/``; an ``fcntl`` lock on
``<cache>/.lock`` keeps parallel runs from building twice. Linux only (it needs
``/dev/shm``); on macOS the stock wheel already uses semaphores.

    python tools/lmdb_posix_sem.py wheel
    python tools/lmdb_posix_sem.py venv . [--json]
    python tools/lmdb_posix_sem.py probe PYTHON
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import tomllib
from collections.abc import Iterator

__all__ = [
    "LMDB_VERSION",
    "SEM_DIR",
    "build_wheel",
    "cache_dir",
    "ensure_venv",
    "probe",
    "semaphores",
]

LMDB_VERSION = "3.0.0"
CFLAGS = "-DMDB_USE_POSIX_SEM=1"
SEM_DIR = pathlib.Path("/dev/shm")
# Venvs kept per lmdb version; older ones (other source trees) are removed.
KEEP_VENVS = 4
# What decides the installed project: its packages and its build metadata.
_SOURCE_PARTS = ("pyproject.toml", "README.md", "journal", "projections")
_PIP_TIMEOUT = 900

PROBE = r"""
import json, os, sys, tempfile
import lmdb

def sems():
    try:
        return {n for n in os.listdir("/dev/shm") if n.startswith("sem.MDB")}
    except FileNotFoundError:
        return set()

out = {"lmdb": lmdb.__version__, "file": lmdb.__file__, "engines": {}}
for lib_version in (0, 1):
    before = sems()
    with tempfile.TemporaryDirectory() as tmp:
        env = lmdb.open(tmp, map_size=1 << 20, lib_version=lib_version)
        made = sorted(sems() - before)
        with open(os.path.join(tmp, "lock.mdb"), "rb") as fp:
            named = b"/MDBw" in fp.read(4096)
        version = ".".join(map(str, env.lib_version()))
        env.close()
        out["engines"][version] = {
            "while_open": made,
            "names_in_lock_file": named,
            "after_close": sorted(sems() - before),
        }
print(json.dumps(out))
"""


def cache_dir(version: str = LMDB_VERSION) -> pathlib.Path:
    """The cache for one py-lmdb version (created)."""
    base = os.environ.get("AGENT_JOURNAL_POSIXSEM_CACHE")
    root = (
        pathlib.Path(base)
        if base
        else pathlib.Path.home() / ".cache" / "agent-journal-tests" / "lmdb-posix-sem"
    )
    path = root / version
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked(cache: pathlib.Path) -> Iterator[None]:
    with open(cache / ".lock", "a+b") as fp:
        fcntl.flock(fp, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fp, fcntl.LOCK_UN)


def _tag() -> str:
    """The interpreter a wheel or venv is for: cpython-311-x86_64, say."""
    impl = sys.implementation
    return f"{impl.cache_tag}-{os.uname().machine}"


def semaphores() -> set[str]:
    """LMDB's named semaphores now on this machine (``sem.MDBr…``, ``sem.MDBw…``)."""
    try:
        return {n for n in os.listdir(SEM_DIR) if n.startswith("sem.MDB")}
    except FileNotFoundError:
        return set()


def _run(argv: list[str], log: pathlib.Path, env: dict[str, str] | None = None) -> None:
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        done = subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=_PIP_TIMEOUT, check=False
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{argv[:4]} failed ({done.returncode}); see {log}:\n{tail}")


def probe(python: str) -> dict[str, object]:
    """Open and close an environment with ``python``; report the semaphores it made."""
    done = subprocess.run(
        [python, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe failed: {done.stderr.strip()}")
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _uses_semaphores(report: dict[str, object]) -> bool:
    """Both engines made a reader and a writer semaphore, and removed them on close.

    (The 0.9 engine also writes the names into ``lock.mdb``; 1.0 derives them anew.)
    """
    engines = report["engines"]
    assert isinstance(engines, dict)
    return len(engines) == 2 and all(
        sorted(name[len("sem.") : len("sem.MDBx")] for name in seen["while_open"])
        == ["MDBr", "MDBw"]
        and seen["after_close"] == []
        for seen in engines.values()
    )


def build_wheel(version: str = LMDB_VERSION) -> pathlib.Path:
    """The path of a cached py-lmdb ``version`` wheel built with ``MDB_USE_POSIX_SEM``.

    Builds it first if needed (15-20 s here: two LMDB engines are compiled), with
    pip's wheel cache off so that no stock build from an earlier ``--no-binary`` can
    stand in for it. ``build.json`` beside the wheel records the flags and the time.
    """
    cache = cache_dir(version)
    wheels = cache / "wheels" / _tag()
    with _locked(cache):
        found = sorted(wheels.glob("lmdb-*.whl"))
        if found:
            return found[-1]
        tmp = pathlib.Path(tempfile.mkdtemp(prefix="build-", dir=cache))
        try:
            env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("LMDB_FORCE_CFFI", "LMDB_FORCE_SYSTEM", "LMDB_PURE", "PIP_NO_BINARY")
            }
            # A CFLAGS in the environment replaces the interpreter's own (-O3 and all)
            # rather than adding to them: keep those, so only the lock mode differs.
            own = sysconfig.get_config_var("CFLAGS") or ""
            env["CFLAGS"] = " ".join(f for f in (own, env.get("CFLAGS", ""), CFLAGS) if f)
            started = time.monotonic()
            _run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "wheel",
                    "--verbose",
                    "--no-deps",
                    "--no-cache-dir",
                    "--no-binary",
                    "lmdb",
                    "--wheel-dir",
                    str(tmp / "out"),
                    f"lmdb=={version}",
                ],
                cache / "build.log",
                env,
            )
            seconds = time.monotonic() - started
            built = sorted((tmp / "out").glob("lmdb-*.whl"))
            if len(built) != 1:
                raise RuntimeError(f"expected one lmdb wheel, got {built}")
            (tmp / "out" / "build.json").write_text(
                json.dumps(
                    {
                        "lmdb": version,
                        "cflags": env["CFLAGS"],
                        "python": sys.version,
                        "seconds": round(seconds, 1),
                        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    },
                    indent=2,
                )
                + "\n"
            )
            wheels.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / "out", wheels)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return sorted(wheels.glob("lmdb-*.whl"))[-1]


def _source_digest(src: pathlib.Path) -> str:
    """A digest of the files that decide what ``pip install SRC`` installs."""
    h = hashlib.sha256(_tag().encode())
    for part in _SOURCE_PARTS:
        root = src / part
        files = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        for path in files:
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            h.update(str(path.relative_to(src)).encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:16]


def _copy_source(src: pathlib.Path, dest: pathlib.Path) -> None:
    """Copy what the digest covers, and the top-level files, without build leftovers."""
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for path in src.iterdir():
        if path.is_file():
            shutil.copy2(path, dest / path.name)
        elif path.name in _SOURCE_PARTS:
            shutil.copytree(path, dest / path.name, ignore=junk)


def _runtime_deps(src: pathlib.Path) -> list[str]:
    """The project's runtime requirements except lmdb (that one is our build)."""
    meta = tomllib.loads((src / "pyproject.toml").read_text())
    deps: list[str] = meta["project"]["dependencies"]
    return [d for d in deps if not d.replace("-", "_").lower().startswith("lmdb")]


def ensure_venv(src: str | os.PathLike[str], version: str = LMDB_VERSION) -> pathlib.Path:
    """A cached virtualenv with the project from ``src`` and the semaphore lmdb build.

    The venv is keyed by the content of ``src`` (packages and ``pyproject.toml``), so an
    edited tree gets a fresh one; the last :data:`KEEP_VENVS` are kept. It is checked
    with :func:`probe` before it is published.
    """
    source = pathlib.Path(src).resolve()
    wheel = build_wheel(version)
    cache = cache_dir(version)
    venvs = cache / "venvs"
    target = venvs / _source_digest(source)
    with _locked(cache):
        if (target / ".ready").exists():
            os.utime(target / ".ready")
            return target
        venvs.mkdir(exist_ok=True)
        log = venvs / f"{target.name}.log"
        log.unlink(missing_ok=True)
        try:
            # The venv is built where it will live: scripts record their interpreter path.
            shutil.rmtree(target, ignore_errors=True)
            subprocess.run(
                [sys.executable, "-m", "venv", str(target)], check=True, timeout=_PIP_TIMEOUT
            )
            pip = [str(target / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
            with tempfile.TemporaryDirectory(prefix="src-", dir=cache) as copy:
                # pip builds a local tree in place: setuptools' build/ there would hold
                # modules since moved or deleted, and the wheel would ship them.
                _copy_source(source, pathlib.Path(copy))
                _run([*pip, "install", "--quiet", "--no-deps", copy], log)
            _run([*pip, "install", "--quiet", *_runtime_deps(source)], log)
            _run([*pip, "install", "--quiet", "--force-reinstall", "--no-deps", str(wheel)], log)
            report = probe(str(target / "bin" / "python"))
            if not _uses_semaphores(report):
                raise RuntimeError(f"lmdb in {target} does not lock with semaphores: {report}")
            (target / ".ready").write_text(json.dumps(report) + "\n")
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        log.unlink(missing_ok=True)
        _prune(venvs, keep=target)
        return target


def _prune(venvs: pathlib.Path, keep: pathlib.Path) -> None:
    ready = [p for p in venvs.iterdir() if (p / ".ready").exists() and p != keep]
    ready.sort(key=lambda p: (p / ".ready").stat().st_mtime, reverse=True)
    for old in ready[KEEP_VENVS - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lmdb-version", default=LMDB_VERSION)
    common.add_argument("--json", action="store_true", help="print JSON")
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("wheel", parents=[common], help="build (or find) the wheel; print its path")
    venv = sub.add_parser("venv", parents=[common], help="make (or find) a venv with SRC")
    venv.add_argument("src", nargs="?", default=".")
    check = sub.add_parser("probe", parents=[common], help="does PYTHON's lmdb use semaphores")
    check.add_argument("python")
    args = parser.parse_args(argv)
    if args.command == "wheel":
        wheel = build_wheel(args.lmdb_version)
        meta = json.loads((wheel.parent / "build.json").read_text())
        out: dict[str, object] = {"wheel": str(wheel), **meta}
    elif args.command == "venv":
        path = ensure_venv(args.src, args.lmdb_version)
        out = {"venv": str(path), **json.loads((path / ".ready").read_text())}
    else:
        report = probe(args.python)
        out = {**report, "posix_sem": _uses_semaphores(report)}
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
