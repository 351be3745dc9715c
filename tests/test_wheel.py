"""The wheel is the product: build it, install it into a fresh virtualenv outside the
source tree, and run the installed ``journal`` through a real round trip.

The editable install the rest of the suite uses would hide a package or an asset the
wheel leaves out; these tests never import from the source tree.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import FIXTURES, REPO
from tools.wheel import build_wheel, source_files

pytestmark = pytest.mark.slow

PACKAGES = ("journal", "projections")


def _package_files() -> set[str]:
    """Every file of the source packages, as a path inside the wheel."""
    return {
        str(p.relative_to(REPO))
        for p in source_files(REPO)
        if p.parts[len(REPO.parts)] in PACKAGES and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The project's wheel, built from a copy of the clean tree (the tree stays clean)."""
    return build_wheel(tmp_path_factory.mktemp("wheel"), REPO)


@pytest.fixture(scope="session")
def installed(wheel: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A fresh virtualenv with only the wheel (and its dependencies) installed; its bin/."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        timeout=600,
    )
    return venv / "bin"


@pytest.fixture
def user(tmp_path: pathlib.Path) -> dict[str, str]:
    """An environment with a temporary HOME, run from a directory outside the source tree."""
    home = tmp_path / "user"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "TMPDIR": str(tmp_path),
    }
    return env


def _run(
    bin_dir: pathlib.Path, env: dict[str, str], *args: str, data: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(bin_dir / "journal"), *args],
        input=data,
        capture_output=True,
        env=env,
        cwd=env["HOME"],
        timeout=120,
        check=False,
    )


def test_the_wheel_holds_every_file_of_the_source_packages(wheel: pathlib.Path) -> None:
    """Every module and asset of journal/ and projections/ is in the wheel (and py.typed)."""
    with zipfile.ZipFile(wheel) as archive:
        inside = {n for n in archive.namelist() if not n.startswith("agent_journal-")}
    missing = sorted(_package_files() - inside)
    assert not missing, f"left out of the wheel: {missing}"
    assert {"journal/py.typed", "projections/py.typed"} <= inside


def test_the_installed_journal_runs_from_site_packages(
    installed: pathlib.Path, user: dict[str, str]
) -> None:
    """The venv's journal imports the installed packages, not this source tree."""
    done = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import journal.agents.installers, journal.cli.main, projections.queries as q;"
            "print(q.__file__)",
        ],
        capture_output=True,
        text=True,
        env=user,
        cwd=user["HOME"],
        check=True,
    )
    assert "site-packages" in done.stdout
    assert str(REPO) not in done.stdout


def test_a_round_trip_through_the_installed_journal(
    installed: pathlib.Path, user: dict[str, str]
) -> None:
    """demo, a real hook payload, runs, and hooks install|status|uninstall on a temp HOME."""
    demo = _run(installed, user, "demo")
    assert demo.returncode == 0, demo.stderr
    assert re.search(rb"^ok: \d+ records, \d+ blobs", demo.stdout, re.M), demo.stdout

    payload = (FIXTURES / "claude-code__acf__PreToolUse_Bash.json").read_bytes()
    hook = _run(installed, user, "hook", "claude-code", data=payload)
    assert (hook.returncode, hook.stdout, hook.stderr) == (0, b"", b"")
    runs = _run(installed, user, "runs", "--json")
    assert runs.returncode == 0, runs.stderr
    (one,) = json.loads(runs.stdout)
    assert one["session_id"] == json.loads(payload)["session_id"]
    assert one["steps"] == 1

    settings = pathlib.Path(user["HOME"]) / ".claude" / "settings.json"
    before = _run(installed, user, "hooks", "status", "claude-code", "--json")
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["installed"] is False
    added = _run(installed, user, "hooks", "install", "claude-code")
    assert added.returncode == 0, added.stderr
    assert str(installed / "journal") in settings.read_text()
    now = _run(installed, user, "hooks", "status", "claude-code", "--json")
    assert json.loads(now.stdout)["installed"] is True
    removed = _run(installed, user, "hooks", "uninstall", "claude-code")
    assert removed.returncode == 0, removed.stderr
    after = _run(installed, user, "hooks", "status", "claude-code", "--json")
    assert json.loads(after.stdout)["installed"] is False


def test_the_opencode_plugin_asset_installs_from_the_wheel(
    installed: pathlib.Path, user: dict[str, str]
) -> None:
    """The plugin is package data: installing OpenCode's hook from the wheel writes it."""
    added = _run(installed, user, "hooks", "install", "opencode")
    assert added.returncode == 0, added.stderr
    plugin = pathlib.Path(user["XDG_CONFIG_HOME"]) / "opencode" / "plugins" / "agent-journal.js"
    assert "hook" in plugin.read_text()
