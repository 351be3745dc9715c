"""The project's wheel, built the way a clean clone would build it.

Shared by ``tests/test_wheel.py`` and ``tools/bench/hook.py``: both must run what users
install, never the source tree, and neither may leave ``build/`` behind in it.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

__all__ = ["ROOT", "build_wheel", "source_files"]

ROOT = pathlib.Path(__file__).resolve().parent.parent


def source_files(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """What a clean clone holds: tracked and untracked-but-not-ignored files."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    names = [n for n in listed.decode().split("\0") if n]
    return [root / n for n in names if (root / n).is_file()]


def build_wheel(work: pathlib.Path, root: pathlib.Path = ROOT) -> pathlib.Path:
    """Build the wheel from a copy of ``root``'s clean tree under ``work``; its path."""
    src = work / "src"
    for path in source_files(root):
        target = src / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    dist = work / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the wheel failed:\n{done.stdout}{done.stderr}")
    (wheel,) = dist.glob("agent_journal-*.whl")
    return wheel
