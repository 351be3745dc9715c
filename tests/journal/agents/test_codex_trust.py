"""``journal hooks install codex`` trusts its hooks the way Codex's own review does.

Codex skips an untrusted hook without a word, so the installer writes
``[hooks.state."<key>"] trusted_hash`` for each handler of ours, status says
``untrusted`` when one is missing or stale, and uninstall removes exactly those
tables. The hashes are checked against vectors ``codex app-server`` (0.171.0)
reported, and, where the real Codex binary is installed, against ``hooks/list``.
"""

from __future__ import annotations

import glob
import json
import os
import pathlib
import shlex
import subprocess
import tomllib
from typing import Any

import pytest

from journal.agents.installers import _codex_trust, codex, install, status, uninstall
from tests.conftest import JOURNAL_BIN
from tests.journal.agents.test_installers import snapshot, trust_project


@pytest.fixture
def user_home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """HOME is a fresh temporary directory; CODEX_HOME is unset."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CODEX_HOME", raising=False)
    return home


def state(config: pathlib.Path) -> dict[str, Any]:
    """``hooks.state`` of a Codex config.toml."""
    doc = tomllib.loads(config.read_text())
    result: dict[str, Any] = doc.get("hooks", {}).get("state", {})
    return result


# What `codex app-server` 0.171.0 reported as `currentHash` for these handlers.
OURS = {"type": "command", "command": "/usr/bin/journal hook codex", "timeout": 5}
VECTORS = [
    ("PreToolUse", None, OURS,
     "sha256:85bc449a41a5ffcdde65dde8e00de2f4c0f48b607275cd5c68a009fe998c14db"),
    ("SessionEnd", None, OURS,
     "sha256:302f29707de0dcbe7b4f616b3c92d94313a382c04937664a2f653cb24e5ca393"),
    ("Stop", None, OURS,
     "sha256:78d6f75756684907860a36d5e68916338c486d2b30d6687c700f76037553978c"),
    ("PreToolUse", "*", {"type": "command", "command": "x", "statusMessage": "hi", "async": True},
     "sha256:8b7254e47c422"),
    ("Stop", "abc", {"type": "command", "command": "x", "timeout": 0}, "sha256:11fd1bf6c8c77"),
    ("SessionEnd", None, {"type": "command", "command": "x"}, "sha256:f3041eae9d0be"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "matcher", "handler", "expected"),
    VECTORS,
    ids=["PreToolUse", "SessionEnd clamped", "Stop", "matcher+async+status", "Stop no matcher",
         "SessionEnd default"],
)  # fmt: skip
def test_the_hash_is_the_one_codex_computes(
    event: str, matcher: str | None, handler: dict[str, Any], expected: str
) -> None:
    """trusted_hash reproduces Codex's currentHash (timeouts normalised, Stop's matcher dropped)."""
    digest = _codex_trust.trusted_hash(event, matcher, handler)
    assert digest is not None
    assert digest.startswith(expected)


def test_install_trusts_every_handler_of_ours_at_its_position(user_home: pathlib.Path) -> None:
    """One trust table per event, keyed by our group's index behind the user's own groups."""
    hooks_json = user_home / ".codex/hooks.json"
    hooks_json.parent.mkdir()
    user = {"hooks": [{"type": "command", "command": "user-hook stop"}]}
    hooks_json.write_text(json.dumps({"hooks": {"Stop": [user]}}))
    install("codex")
    trusted = state(user_home / ".codex/config.toml")
    command = shlex.join([JOURNAL_BIN, "hook", "codex"])
    expected = {}
    for event in codex.EVENTS:
        group = 1 if event == "Stop" else 0
        timeout = 3 if event in ("SessionEnd", "Interrupt") else 5
        handler = {"type": "command", "command": command, "timeout": timeout}
        key = f"{hooks_json}:{_codex_trust.label(event)}:{group}:0"
        expected[key] = {"trusted_hash": _codex_trust.trusted_hash(event, None, handler)}
    assert trusted == expected  # the user's own Stop hook is not trusted by us
    report = status("codex")
    assert (report.state, report.installed) == ("installed", True)
    assert report.files[1].trust == "trusted"


def test_timeouts_stay_within_codexs_caps(user_home: pathlib.Path) -> None:
    """SessionEnd and Interrupt get 3 s (Codex clamps and warns above that); the rest 5 s."""
    install("codex")
    hooks = json.loads((user_home / ".codex/hooks.json").read_text())["hooks"]
    timeouts = {event: groups[0]["hooks"][0]["timeout"] for event, groups in hooks.items()}
    assert timeouts == {e: 3 if e in ("SessionEnd", "Interrupt") else 5 for e in codex.EVENTS}


def test_a_missing_or_stale_trust_is_reported_with_the_way_out(user_home: pathlib.Path) -> None:
    """status says untrusted, names the events, says how to trust them; install fixes it."""
    install("codex")
    config = user_home / ".codex/config.toml"
    doc = tomllib.loads(config.read_text())
    keys = list(doc["hooks"]["state"])
    text = config.read_text()
    text = text.replace(f'[hooks.state."{keys[0]}"]\n', "[hooks.state.gone]\n")
    text = text.replace(doc["hooks"]["state"][keys[-1]]["trusted_hash"], "sha256:0")
    config.write_text(text)
    report = status("codex")
    assert (report.state, report.installed) == ("untrusted", False)
    assert report.files[1].untrusted == ["SessionStart", "SessionEnd"]
    assert any("journal hooks install codex" in note for note in report.files[1].notes)
    install("codex")
    assert status("codex").installed


def test_the_cli_says_installed_but_untrusted(user_home: pathlib.Path) -> None:
    """`journal hooks status codex` prints the verdict, the events and the command to run."""
    install("codex")
    notify = json.dumps([JOURNAL_BIN, "hook", "codex"])
    (user_home / ".codex/config.toml").write_text(f"notify = {notify}\n")  # no trust
    env = {k: v for k, v in os.environ.items() if k != "CODEX_HOME"}
    env["HOME"] = str(user_home)
    done = subprocess.run(
        [JOURNAL_BIN, "hooks", "status", "codex"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("codex (user): untrusted\n")
    assert "untrusted: SessionStart, UserPromptSubmit," in done.stdout
    assert "run: journal hooks install codex --scope user" in done.stdout


def test_uninstall_removes_the_trust_codex_wrote_for_an_older_install(
    user_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """The 12 tables Codex's review wrote for our timeout-5 hooks go; the user's stay."""
    config = user_home / ".codex/config.toml"
    config.parent.mkdir()
    mine = '[hooks.state."/elsewhere/hooks.json:stop:0:0"]\ntrusted_hash = "sha256:1"\n'
    hooks_json = user_home / ".codex/hooks.json"
    command = shlex.join([JOURNAL_BIN, "hook", "codex"])
    old = {"type": "command", "command": command, "timeout": 5}
    hooks_json.write_text(json.dumps({"hooks": {e: [{"hooks": [old]}] for e in codex.EVENTS}}))
    reviewed = "".join(
        f'\n[hooks.state."{hooks_json}:{_codex_trust.label(e)}:0:0"]\n'
        f'trusted_hash = "{_codex_trust.trusted_hash(e, None, old)}"\n'
        for e in codex.EVENTS
    )
    notify = f"notify = {json.dumps([JOURNAL_BIN, 'hook', 'codex'])}\n"
    config.write_text(notify + mine + reviewed)
    assert status("codex").state == "outdated"  # SessionEnd and Interrupt: 5 s is over the cap
    install("codex")
    assert status("codex").installed
    uninstall("codex")
    assert config.read_text() == mine
    assert not hooks_json.exists()


def test_project_hooks_are_trusted_in_the_users_config(
    user_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """Project scope: trust goes to ~/.codex/config.toml (Codex reads it nowhere else)."""
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    result = install("codex", scope="project", project_dir=str(project))
    paths = [f.path for f in result.files]
    user_config = user_home / ".codex/config.toml"
    assert paths == [
        str(project / ".codex/hooks.json"),
        str(project / ".codex/config.toml"),
        str(user_config),
    ]
    assert all(k.startswith(f"{project}/.codex/hooks.json:") for k in state(user_config))
    assert "state" not in tomllib.loads((project / ".codex/config.toml").read_text()).get(
        "hooks", {}
    )
    # Codex loads the project's .codex only once the project is trusted: status says so.
    report = status("codex", scope="project", project_dir=str(project))
    assert report.state == "untrusted"
    assert any("trusted project" in note for note in report.files[2].notes)
    assert any("trusted project" in note for note in result.files[2].notes)


def test_project_round_trip_with_a_trusted_project(
    user_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """With the project trusted: installed; uninstall puts the user's config back byte for byte."""
    project = tmp_path / "project"
    project.mkdir()
    trust_project(user_home, project)
    before = snapshot(tmp_path)
    install("codex", scope="project", project_dir=str(project))
    report = status("codex", scope="project", project_dir=str(project))
    assert (report.state, report.installed) == ("installed", True)
    uninstall("codex", scope="project", project_dir=str(project))
    assert snapshot(tmp_path) == before


def test_a_symlinked_codex_home_is_keyed_by_its_real_path(
    user_home: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Codex canonicalises $CODEX_HOME, so the trust keys name the real directory."""
    real = tmp_path / "real-codex"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.setenv("CODEX_HOME", str(link))
    install("codex")
    assert all(k.startswith(f"{real}/hooks.json:") for k in state(real / "config.toml"))
    assert status("codex").installed


# -- the real Codex, where the real-agent tests installed it ---------------------------


# Read before any test moves HOME.
_NPM_CACHE = os.environ.get("AGENT_JOURNAL_NPM_CACHE") or os.path.expanduser(
    "~/.cache/agent-journal-tests/npm"
)


def _codex_binary() -> str | None:
    root = _NPM_CACHE
    pattern = "@openai+codex@*/node_modules/@openai/codex-*/vendor/*/bin/codex"
    found = sorted(glob.glob(os.path.join(root, pattern)))
    return found[-1] if found else None


def hooks_list(codex_bin: str, codex_home: pathlib.Path, cwd: pathlib.Path) -> dict[str, Any]:
    """What ``codex app-server``'s ``hooks/list`` says about the hooks seen from ``cwd``."""
    requests = [
        {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "t", "version": "0"}}},
        {"method": "initialized"},
        {"id": 2, "method": "hooks/list", "params": {"cwds": [str(cwd)]}},
    ]
    features = ("plugins", "apps", "remote_plugin", "plugin_sharing", "tool_suggest")
    argv = [codex_bin, "app-server", *(a for f in features for a in ("--disable", f))]
    env = {**os.environ, "CODEX_HOME": str(codex_home), "HOME": str(codex_home.parent)}
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=env,
    )  # fmt: skip
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        for request in requests:
            proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        for line in proc.stdout:
            message = json.loads(line)
            if message.get("id") == 2:
                result: dict[str, Any] = message["result"]["data"][0]
                return result
        raise AssertionError("codex app-server closed without answering hooks/list")
    finally:
        proc.kill()
        proc.communicate(timeout=30)


@pytest.mark.slow
def test_the_real_codex_trusts_every_installed_hook(
    user_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """hooks/list of the real Codex: our hooks trusted (user and project), no clamping warning."""
    codex_bin = _codex_binary()
    if codex_bin is None:
        pytest.skip("no @openai/codex in the real-agent npm cache")
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    trust_project(user_home, project)
    install("codex")
    install("codex", scope="project", project_dir=str(project))
    listed = hooks_list(codex_bin, user_home / ".codex", project)
    ours = [h for h in listed["hooks"] if h["command"].endswith("hook codex")]
    assert sorted({(h["source"], h["trustStatus"]) for h in ours}) == [
        ("project", "trusted"),
        ("user", "trusted"),
    ]
    assert len(ours) == 2 * len(codex.EVENTS)
    assert listed["warnings"] == []
    config = user_home / ".codex/config.toml"
    assert {h["key"]: h["currentHash"] for h in ours} == {
        k: v["trusted_hash"] for k, v in state(config).items()
    }
