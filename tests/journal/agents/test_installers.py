"""``journal hooks install|uninstall|status``: round trips on a temporary HOME.

Each agent, each scope, from no config and from a config with the user's own hooks
in odd formatting: install → status (installed) → install again (byte-identical, no
new backup) → uninstall (every file byte-identical to before). Then the edges: user
edits made after install survive uninstall, invalid configs are refused untouched,
a foreign Codex ``notify`` is left alone, the command is an executable absolute path.
"""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
from typing import Any

import pytest

from journal.agents.installers import (
    AGENTS,
    BACKUP_SUFFIX,
    SCOPES,
    ConfigFileError,
    _core,
    install,
    skipped_events,
    status,
    uninstall,
)
from tests.conftest import FIXTURES, JOURNAL_BIN

# The user's own configs, deliberately oddly formatted: 3-space and tab indents, no
# final newline, CRLF, one-line JSON, comments and tables in TOML, non-ASCII text.
USER_FILES: dict[str, dict[str, bytes]] = {
    "claude-code": {
        ".claude/settings.json": (
            '{"model":"opus",\n   "hooks" : {\n      "PreToolUse":[ {"matcher":"Bash",'
            '"hooks":[{"type":"command","command":"echo user-hook ✓"}]} ],\n'
            '      "Notification": []\n   },\n   "env": {"A": "1"}}'
        ).encode(),
    },
    "codex": {
        ".codex/hooks.json": (
            b'{\n\t"hooks": {\n\t\t"Stop": [\n\t\t\t{"hooks": [{"type": "command", '
            b'"command": "user-hook stop"}]}\n\t\t]\n\t}\n}\n'
        ),
        ".codex/config.toml": (
            b'# my codex config\nmodel = "gpt-5"   # fast, user-hook\n\n'
            b"[features]\ncodex_hooks = true\n\n"
            b'[mcp_servers.docs]\ncommand = "docs-server"\nargs = ["--port", "3000"]\n'
        ),
    },
    "gemini": {
        ".gemini/settings.json": (
            b'{\r\n  "hooksConfig": {"enabled": true, "disabled": []},\r\n  "hooks": {\r\n'
            b'    "BeforeTool": [{"matcher": "write_file", "hooks": [{"type": "command", '
            b'"command": "user-hook check", "timeout": 60000}]}]\r\n  }\r\n}\r\n'
        ),
    },
    "cursor": {
        ".cursor/hooks.json": (
            b'{"version": 1, "hooks": {"afterFileEdit": [{"command": "./user-hook.sh"}], '
            b'"stop": [{"command": "user-hook stop", "timeout": 9}]}}'
        ),
    },
    "opencode": {
        # Another plugin in the same directory; ours must not disturb it.
        "PLUGINS/other.js": b"export const Other = async () => ({}); // user-hook\n",
    },
}


def _plugins(scope: str) -> str:
    return ".config/opencode/plugins" if scope == "user" else ".opencode/plugins"


@pytest.fixture
def user_home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """HOME is a fresh temporary directory and no agent config override is set."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def project(tmp_path: pathlib.Path) -> pathlib.Path:
    """An empty project directory."""
    path = tmp_path / "project"
    path.mkdir()
    return path


def _scope_args(scope: str, project: pathlib.Path) -> dict[str, Any]:
    return {"scope": scope, "project_dir": str(project) if scope == "project" else None}


def _write_user_files(agent: str, base: pathlib.Path, scope: str) -> list[pathlib.Path]:
    written = []
    for rel, data in USER_FILES[agent].items():
        path = base / rel.replace("PLUGINS", _plugins(scope))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def snapshot(root: pathlib.Path) -> dict[str, bytes | None]:
    """Every file under ``root`` with its bytes, and every directory (as None)."""
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() or p.is_symlink() else None
        for p in sorted(root.rglob("*"))
    }


# Codex loads a project's .codex only once the project is trusted in the user's config.
TRUSTED_PROJECT = '# mine\n[projects."{project}"]\ntrust_level = "trusted"\n'


def trust_project(user_home: pathlib.Path, project: pathlib.Path) -> pathlib.Path:
    """The user's Codex config, marking ``project`` trusted (as Codex's own prompt does)."""
    config = user_home / ".codex/config.toml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(TRUSTED_PROJECT.format(project=project))
    return config


@pytest.mark.parametrize("start", ["no-config", "user-config"])
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("agent", AGENTS)
def test_round_trip_leaves_every_file_byte_identical(
    agent: str,
    scope: str,
    start: str,
    user_home: pathlib.Path,
    project: pathlib.Path,
    tmp_path: pathlib.Path,
) -> None:
    """install → status → install (no change) → uninstall restores every byte."""
    args = _scope_args(scope, project)
    base = user_home if scope == "user" else project
    user_files = _write_user_files(agent, base, scope) if start == "user-config" else []
    if agent == "codex" and scope == "project":
        trust_project(user_home, project)
    before = snapshot(tmp_path)

    first = install(agent, **args)
    assert first.changed
    installed = snapshot(tmp_path)
    assert installed != before
    for path in user_files:
        assert b"user-hook" in path.read_bytes(), f"{path} lost the user's hook"
    report = status(agent, **args)
    assert report.installed, report
    assert report.state == "installed"

    again = install(agent, **args)
    assert not again.changed
    assert [f.action for f in again.files] == ["unchanged"] * len(again.files)
    assert snapshot(tmp_path) == installed  # byte-identical, and no new backup

    removed = uninstall(agent, **args)
    assert removed.changed
    assert snapshot(tmp_path) == before
    assert status(agent, **args).state == "not-installed"


@pytest.mark.parametrize("agent", ["claude-code", "gemini", "cursor"])
def test_an_empty_existing_file_round_trips_to_zero_bytes(
    agent: str, user_home: pathlib.Path
) -> None:
    """A zero-byte config is treated as {} and put back as zero bytes."""
    (target,) = install(agent).files
    uninstall(agent)
    path = pathlib.Path(target.path)
    path.parent.mkdir()
    path.write_bytes(b"")
    install(agent)
    assert path.read_bytes() != b""
    uninstall(agent)
    assert path.read_bytes() == b""
    assert not pathlib.Path(target.path + BACKUP_SUFFIX).exists()


def test_installed_claude_entries_run_the_journal_hook(user_home: pathlib.Path) -> None:
    """Every registered event runs `<venv journal> hook claude-code`, synchronously, 5 s."""
    install("claude-code")
    settings = json.loads((user_home / ".claude/settings.json").read_text())
    expected = shlex.join([JOURNAL_BIN, "hook", "claude-code"])
    for event, groups in settings["hooks"].items():
        assert groups == [{"hooks": [{"type": "command", "command": expected, "timeout": 5}]}]
        argv = shlex.split(groups[0]["hooks"][0]["command"])
        assert os.path.isabs(argv[0]), event
        assert os.access(argv[0], os.X_OK), event
        assert argv[1:] == ["hook", "claude-code"]
    assert not set(skipped_events("claude-code")) & set(settings["hooks"])
    assert {"WorktreeCreate", "WorktreeRemove"} <= set(skipped_events("claude-code"))


def _log(journal_home: pathlib.Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", str(journal_home), "log", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_installed_entries_journal_real_events(
    user_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """Claude's command (run by a shell, event on stdin) and Codex notify (event as last arg)."""
    journal_home = tmp_path / "journal"
    install("claude-code", home=str(journal_home))
    install("codex", home=str(journal_home))
    settings = json.loads((user_home / ".claude/settings.json").read_text())
    command = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    event = (FIXTURES / "claude-code__acf__PreToolUse_Bash.json").read_bytes()
    ran = subprocess.run(["sh", "-c", command], input=event, capture_output=True, timeout=60)
    assert (ran.returncode, ran.stdout) == (0, b"")

    notify = tomllib.loads((user_home / ".codex/config.toml").read_text())["notify"]
    turn = {"type": "agent-turn-complete", "thread-id": "t1", "turn-id": "u1", "cwd": "/w"}
    ran = subprocess.run(
        [*notify, json.dumps(turn)], stdin=subprocess.DEVNULL, capture_output=True, timeout=60
    )
    assert (ran.returncode, ran.stdout) == (0, b"")

    records = _log(journal_home)
    assert [(r["source"], r["kind"]) for r in records] == [
        ("claude-code", "PreToolUse"),
        ("codex", "agent-turn-complete"),
    ]
    assert records[0]["payload"] == json.loads(event)
    assert records[1]["payload"] == turn


def test_an_explicit_home_is_written_into_the_command_shell_quoted(
    user_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """--home with a space and a quote survives shell quoting, as an absolute path."""
    home = tmp_path / "journal home's"
    install("cursor", home=str(home))
    hooks = json.loads((user_home / ".cursor/hooks.json").read_text())
    command = hooks["hooks"]["stop"][0]["command"]
    assert shlex.split(command) == [JOURNAL_BIN, "--home", str(home), "hook", "cursor"]
    assert hooks["version"] == 1
    assert hooks["hooks"]["stop"][0]["timeout"] == 5


def test_reinstall_with_another_home_updates_in_place(
    user_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """A changed command replaces our entry (status: outdated first), never duplicates it."""
    install("gemini", home=str(tmp_path / "a"))
    assert status("gemini", home=str(tmp_path / "b")).state == "outdated"
    install("gemini", home=str(tmp_path / "b"))
    settings = json.loads((user_home / ".gemini/settings.json").read_text())
    for groups in settings["hooks"].values():
        (group,) = groups
        (handler,) = group["hooks"]
        assert str(tmp_path / "b") in handler["command"]
        assert handler["timeout"] == 5000  # Gemini counts milliseconds
    assert status("gemini", home=str(tmp_path / "b")).installed


def test_user_edits_after_install_survive_uninstall(user_home: pathlib.Path) -> None:
    """Uninstall removes only our entries; a key and a hook added since are kept."""
    path = user_home / ".claude/settings.json"
    _write_user_files("claude-code", user_home, "user")
    install("claude-code")
    settings = json.loads(path.read_text())
    settings["theme"] = "dark"
    settings["hooks"]["Stop"].insert(0, {"hooks": [{"type": "command", "command": "say done"}]})
    path.write_text(json.dumps(settings, indent=2))

    result = uninstall("claude-code")
    (change,) = result.files
    assert change.action == "updated"
    after = json.loads(path.read_text())
    assert after["theme"] == "dark"
    assert after["hooks"]["Stop"] == [{"hooks": [{"type": "command", "command": "say done"}]}]
    assert after["hooks"]["PreToolUse"][0]["hooks"][0]["command"] == "echo user-hook ✓"
    assert "journal" not in path.read_text()
    assert not pathlib.Path(str(path) + BACKUP_SUFFIX).exists()


def test_a_file_created_by_install_and_edited_is_kept(user_home: pathlib.Path) -> None:
    """No file before install, user settings added since: uninstall keeps the file."""
    install("claude-code")
    path = user_home / ".claude/settings.json"
    settings = json.loads(path.read_text())
    settings["model"] = "sonnet"
    path.write_text(json.dumps(settings))
    uninstall("claude-code")
    assert json.loads(path.read_text()) == {"model": "sonnet"}


def test_our_entries_on_dropped_events_are_removed(user_home: pathlib.Path) -> None:
    """An entry of ours on an event we no longer register (MessageDisplay) is cleaned up."""
    install("claude-code")
    path = user_home / ".claude/settings.json"
    settings = json.loads(path.read_text())
    settings["hooks"]["MessageDisplay"] = settings["hooks"]["Stop"]
    path.write_text(json.dumps(settings))
    assert status("claude-code").state == "outdated"
    install("claude-code")
    assert "MessageDisplay" not in json.loads(path.read_text())["hooks"]
    assert status("claude-code").installed


INVALID = {
    "claude-code": (".claude/settings.json", b'{"hooks": {"Stop": []},}'),
    "gemini with comments": (".gemini/settings.json", b'{\n  // mine\n  "a": 1\n}\n'),
    "cursor duplicate keys": (".cursor/hooks.json", b'{"version": 1, "version": 2}'),
    "cursor version 2": (".cursor/hooks.json", b'{"version": 2, "hooks": {}}'),
    "claude-code hooks not an object": (".claude/settings.json", b'{"hooks": []}'),
    "codex hooks.json": (".codex/hooks.json", b"[1, 2]"),
    "codex config.toml": (".codex/config.toml", b'model = "a"\nmodel = "b"\n'),
    "opencode foreign plugin": (".config/opencode/plugins/agent-journal.js", b"// mine\n"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_config_is_refused_and_untouched(
    case: str, user_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """install refuses (ConfigFileError naming the file); install and uninstall write nothing."""
    agent = case.split()[0]
    rel, data = INVALID[case]
    path = user_home / rel
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    before = snapshot(tmp_path)
    with pytest.raises(ConfigFileError, match=str(path)) as caught:
        install(agent)
    assert "not" in str(caught.value)
    assert snapshot(tmp_path) == before
    try:
        result = uninstall(agent)
    except ConfigFileError as exc:
        message = str(exc)
    else:
        assert not result.changed
        message = str(path)
    assert str(path) in message
    assert snapshot(tmp_path) == before


def test_codex_keeps_a_foreign_notify_and_says_so(user_home: pathlib.Path) -> None:
    """Another notify program stays byte-identical; hooks.json still installs."""
    config = user_home / ".codex/config.toml"
    config.parent.mkdir()
    config.write_bytes(b'notify = ["notify-send", "Codex"]\n')
    result = install("codex")
    hooks_change, notify_change = result.files
    assert hooks_change.action == "created"
    assert notify_change.action == "updated"  # the trust in our hooks, nothing else
    assert "notify-send" in notify_change.notes[0]
    assert tomllib.loads(config.read_text())["notify"] == ["notify-send", "Codex"]
    report = status("codex")
    assert report.installed
    assert [f.state for f in report.files] == ["installed", "skipped"]
    assert report.files[1].trust == "trusted"
    uninstall("codex")
    assert config.read_bytes() == b'notify = ["notify-send", "Codex"]\n'
    assert not (user_home / ".codex/hooks.json").exists()


def test_codex_notify_is_an_argv_array_for_the_hook(user_home: pathlib.Path) -> None:
    """notify = [journal, hook, codex]: Codex appends the event JSON as the last arg."""
    install("codex")
    text = (user_home / ".codex/config.toml").read_text()
    assert text.startswith(f"notify = {json.dumps([JOURNAL_BIN, 'hook', 'codex'])}\n\n")


def test_a_bad_config_toml_stops_codex_before_anything_is_written(
    user_home: pathlib.Path,
) -> None:
    """hooks.json is not created when config.toml cannot be parsed."""
    config = user_home / ".codex/config.toml"
    config.parent.mkdir()
    config.write_bytes(b"[features\n")
    with pytest.raises(ConfigFileError):
        install("codex")
    assert not (user_home / ".codex/hooks.json").exists()


def test_a_symlinked_config_is_written_through(
    user_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """A dotfile-managed settings.json stays a symlink; its target is edited and restored."""
    real = tmp_path / "dotfiles" / "settings.json"
    real.parent.mkdir()
    real.write_bytes(b'{"model": "opus"}\n')
    link = user_home / ".claude/settings.json"
    link.parent.mkdir()
    link.symlink_to(real)
    install("claude-code")
    assert link.is_symlink()
    assert b"hook claude-code" in real.read_bytes()
    uninstall("claude-code")
    assert link.is_symlink()
    assert real.read_bytes() == b'{"model": "opus"}\n'


def test_file_mode_is_kept_for_the_file_and_its_backup(user_home: pathlib.Path) -> None:
    """A 0600 settings file stays 0600, and so is its backup."""
    path = user_home / ".gemini/settings.json"
    path.parent.mkdir()
    path.write_bytes(b"{}")
    path.chmod(0o600)
    (change,) = install("gemini").files
    assert change.backup
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(os.stat(change.backup).st_mode) == 0o600


def test_a_file_changed_under_us_is_not_overwritten(tmp_path: pathlib.Path) -> None:
    """The last check before a write refuses when the file is no longer what was read."""
    path = tmp_path / "settings.json"
    path.write_bytes(b'{"a": 2}')
    with pytest.raises(ConfigFileError, match="changed while"):
        _core._write_checked(str(path), b'{"a": 1}', b'{"ours": true}')
    assert path.read_bytes() == b'{"a": 2}'


def test_a_cursor_file_without_version_round_trips(user_home: pathlib.Path) -> None:
    """version 1 is added to a versionless hooks.json and gone again after uninstall."""
    path = user_home / ".cursor/hooks.json"
    path.parent.mkdir()
    path.write_bytes(b'{"hooks": {}}')
    install("cursor")
    assert json.loads(path.read_text())["version"] == 1
    uninstall("cursor")
    assert path.read_bytes() == b'{"hooks": {}}'


@pytest.mark.parametrize(
    ("agent", "variable", "rel"),
    [
        ("claude-code", "CLAUDE_CONFIG_DIR", "settings.json"),
        ("codex", "CODEX_HOME", "hooks.json"),
        ("opencode", "XDG_CONFIG_HOME", "opencode/plugins/agent-journal.js"),
    ],
    ids=["CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CONFIG_HOME"],
)
def test_agent_config_dir_overrides_are_honoured(
    agent: str,
    variable: str,
    rel: str,
    user_home: pathlib.Path,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """User scope follows the variable the agent itself reads for its config directory."""
    monkeypatch.setenv(variable, str(tmp_path / "elsewhere"))
    install(agent)
    assert (tmp_path / "elsewhere" / rel).is_file()
    assert status(agent).installed
    uninstall(agent)
    assert not (tmp_path / "elsewhere" / rel).exists()


# -- the CLI, through the real console script ------------------------------------------


def _cli(
    home: pathlib.Path, *args: str, cwd: pathlib.Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CLAUDE_CONFIG_DIR", "CODEX_HOME")}
    env.pop("XDG_CONFIG_HOME", None)
    env["HOME"] = str(home)
    done = subprocess.run(
        [JOURNAL_BIN, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.mark.parametrize("agent", AGENTS)
def test_cli_round_trip_with_json_output(agent: str, user_home: pathlib.Path) -> None:
    """hooks install/status/uninstall --json through the console script, HOME set."""
    done = _cli(user_home, "hooks", "install", agent, "--json")
    assert done.returncode == 0, done.stderr
    change = json.loads(done.stdout)
    assert (change["type"], change["agent"], change["operation"]) == (
        "journal.hooks.change",
        agent,
        "install",
    )
    assert change["changed"] is True
    assert all(pathlib.Path(f["path"]).is_file() for f in change["files"])
    report = json.loads(_cli(user_home, "hooks", "status", agent, "--json").stdout)
    assert report["installed"] is True
    assert report["command"] == shlex.join([JOURNAL_BIN, "hook", agent])
    again = json.loads(_cli(user_home, "hooks", "install", agent, "--json").stdout)
    assert again["changed"] is False
    gone = json.loads(_cli(user_home, "hooks", "uninstall", agent, "--json").stdout)
    assert gone["changed"] is True
    assert snapshot(user_home) == {}


def test_cli_global_home_and_project_scope(user_home: pathlib.Path, project: pathlib.Path) -> None:
    """journal --home DIR hooks install --scope project writes DIR into the project's file."""
    done = _cli(
        user_home,
        "--home",
        "rel/jhome",
        "hooks",
        "install",
        "claude-code",
        "--scope",
        "project",
        "--project-dir",
        str(project),
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    assert "installed" in done.stdout
    settings = json.loads((project / ".claude/settings.json").read_text())
    command = settings["hooks"]["Stop"][0]["hooks"][0]["command"]
    assert shlex.split(command)[1:3] == ["--home", str(project / "rel/jhome")]
    assert not (user_home / ".claude").exists()
    scope = ("--scope", "project")
    text = _cli(
        user_home, "--home", "rel/jhome", "hooks", "status", "claude-code", *scope, cwd=project
    )
    assert text.stdout.startswith("claude-code (project): installed")
    # Without the same --home, the entries are ours but not what install would write now.
    text = _cli(user_home, "hooks", "status", "claude-code", *scope, cwd=project)
    assert text.stdout.startswith("claude-code (project): outdated")
    assert "(not the current command)" in text.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["hooks", "install", "vscode"],
        ["hooks", "status", "codex", "--scope", "team"],
        ["hooks", "install", "codex", "--project-dir", "."],
    ],
    ids=["unknown agent", "unknown scope", "project-dir with user scope"],
)
def test_cli_usage_errors_exit_2(args: list[str], user_home: pathlib.Path) -> None:
    """Bad arguments are usage errors (exit 2) and write nothing."""
    done = _cli(user_home, *args)
    assert done.returncode == 2
    assert snapshot(user_home) == {}


def test_cli_invalid_config_is_one_line_exit_1(user_home: pathlib.Path) -> None:
    """A broken settings.json: exit 1, one `Error:` line naming it, file untouched."""
    path = user_home / ".claude/settings.json"
    path.parent.mkdir()
    path.write_bytes(b"{nope")
    done = _cli(user_home, "hooks", "install", "claude-code")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"Error: {path} is not valid JSON")
    assert path.read_bytes() == b"{nope"


def test_cli_agent_names_match_the_library() -> None:
    """The CLI's AGENT choices are exactly the installers' agents."""
    import click

    from journal.cli.hooks import hooks

    for command in hooks.commands.values():
        (agent,) = [p for p in command.params if p.name == "agent"]
        assert isinstance(agent.type, click.Choice)
        assert tuple(agent.type.choices) == AGENTS


def test_the_cli_loads_the_installers_only_when_hooks_runs() -> None:
    """Importing the CLI (every command pays for it) loads no installer and no tomlkit."""
    code = (
        "import sys, journal.cli.main\n"
        "print(sorted(m for m in sys.modules\n"
        "    if m == 'tomlkit' or m.startswith('journal.agents.installers')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        ["/usr/bin/python3", "-m", "journal.cli", "hook", "codex"],
        ["/usr/bin/python3", "-m", "journal", "hook", "codex"],  # written by older installs
        ["/opt/journal", "--home", "/h", "hook", "codex"],
    ],
    ids=["module", "legacy-module", "script"],
)
def test_our_hook_argv_is_recognised_in_every_form(argv: list[str]) -> None:
    """An entry we wrote, as a script or as `python -m`, is ours (uninstall finds it)."""
    from journal.agents.installers._command import is_hook_argv

    assert is_hook_argv(argv, "codex")
    assert not is_hook_argv(argv, "cursor")


def test_without_a_script_the_hook_runs_the_cli_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """No journal executable anywhere: the command is `<python> -m journal.cli`, which runs."""
    from journal.agents.installers import _command

    monkeypatch.setattr(os.path, "isfile", lambda _path: False)
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    argv = _command.program_argv()
    assert argv == [sys.executable, "-m", "journal.cli"]
    done = subprocess.run([*argv, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("journal, version")


def test_uninstall_removes_the_directories_install_created(user_home: pathlib.Path) -> None:
    """OpenCode: ~/.config/opencode/plugins made by install is gone again after uninstall."""
    (change,) = install("opencode").files
    assert any("did not exist and was created" in note for note in change.notes)
    (gone,) = uninstall("opencode").files
    assert f"removed {user_home / '.config'} (install created it)" in gone.notes
    assert snapshot(user_home) == {}


def test_directories_that_were_there_or_filled_since_are_kept(user_home: pathlib.Path) -> None:
    """An existing plugin directory stays; one the agent put files into since stays too."""
    plugins = user_home / ".config/opencode/plugins"
    plugins.mkdir(parents=True)
    install("opencode")
    uninstall("opencode")
    assert plugins.is_dir()
    plugins.rmdir()
    install("opencode")
    (plugins.parent / "opencode.json").write_text("{}")
    uninstall("opencode")
    assert sorted(snapshot(user_home)) == [
        ".config",
        ".config/opencode",
        ".config/opencode/opencode.json",
    ]
