"""Install the real agents from npm once, into a cache outside the repository.

Each pinned package goes to ``<cache>/<scope>+<name>@<version>`` with
``npm install --prefix``, under an exclusive ``fcntl`` lock so parallel test
processes install it once. ``<cache>`` is ``$AGENT_JOURNAL_NPM_CACHE`` or
``~/.cache/agent-journal-tests/npm``. The install goes to a temporary directory
that is renamed into place, so a killed install never leaves a half-populated
cache entry behind.

Claude Code, Codex and OpenCode ship native executables, not JavaScript:
``@anthropic-ai/claude-code`` pulls ``@anthropic-ai/claude-code-<platform>`` (whose
``claude`` its postinstall copies over ``bin/claude.exe``), ``@openai/codex`` pulls
``@openai/codex-<platform>`` with ``vendor/<target triple>/bin/codex`` (``bin/codex.js``
only finds and execs it), and ``opencode-ai`` pulls ``opencode-<platform>`` whose
``bin/opencode`` its postinstall links to ``bin/opencode.exe``. The tests run the native
executable itself, so the process that spawns the hooks is the one they start and kill.
Gemini CLI is JavaScript (``bundle/gemini.js``, ``script=True``): the tests run it with
``node``, which is then the agent process.

No ``npm`` on ``PATH``: the tests are skipped. ``npm`` present but the install
failing: the tests fail, saying why (CI has the registry, so that is a real fault).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import pathlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

__all__ = ["CLAUDE_CODE", "CODEX", "GEMINI", "OPENCODE", "NpmAgent", "cache_root", "install"]

_MARKER = ".agent-journal-complete"
_INSTALL_TIMEOUT = 600
# The first bytes of the executable formats a native binary may have.
_NATIVE_MAGIC = (
    b"\x7fELF",
    b"\xcf\xfa\xed\xfe",  # Mach-O 64-bit
    b"\xca\xfe\xba\xbe",  # Mach-O universal
    b"MZ",  # Windows PE
)


@dataclasses.dataclass(frozen=True)
class NpmAgent:
    """One pinned npm package and where its native executable lives inside it."""

    package: str
    version: str
    #: Globs, relative to ``node_modules``, that match the native executable.
    native: tuple[str, ...]
    #: True when the entry point is a JavaScript file that ``node`` runs (Gemini CLI).
    script: bool = False

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def dirname(self) -> str:
        return f"{self.package.replace('/', '+')}@{self.version}"


CLAUDE_CODE = NpmAgent(
    package="@anthropic-ai/claude-code",
    version="2.1.332",
    native=("@anthropic-ai/claude-code-*/claude", "@anthropic-ai/claude-code/bin/claude.exe"),
)
CODEX = NpmAgent(
    package="@openai/codex",
    version="0.171.0",
    native=("@openai/codex-*/vendor/*/bin/codex",),
)
OPENCODE = NpmAgent(
    package="opencode-ai",
    version="1.18.33",
    # The postinstall's pick for this CPU first (it may choose a -baseline build).
    native=("opencode-ai/bin/opencode.exe", "opencode-*/bin/opencode"),
)
GEMINI = NpmAgent(
    package="@google/gemini-cli",
    version="0.61.0",
    native=("@google/gemini-cli/bundle/gemini.js",),
    script=True,
)


def cache_root() -> pathlib.Path:
    """``$AGENT_JOURNAL_NPM_CACHE`` or ``~/.cache/agent-journal-tests/npm``."""
    override = os.environ.get("AGENT_JOURNAL_NPM_CACHE")
    if override:
        return pathlib.Path(override).expanduser().resolve()
    return pathlib.Path.home() / ".cache" / "agent-journal-tests" / "npm"


@contextlib.contextmanager
def _locked(path: pathlib.Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_native(path: pathlib.Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return head.startswith(_NATIVE_MAGIC) and os.access(path, os.X_OK)


def _find_native(agent: NpmAgent, prefix: pathlib.Path) -> pathlib.Path | None:
    modules = prefix / "node_modules"
    for pattern in agent.native:
        for candidate in sorted(modules.glob(pattern)):
            if candidate.is_file() if agent.script else _is_native(candidate):
                return candidate
    return None


def _npm_install(agent: NpmAgent, npm: str, target: pathlib.Path) -> None:
    work = pathlib.Path(tempfile.mkdtemp(prefix=f".{agent.dirname}.", dir=target.parent))
    try:
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(work),
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--loglevel=error",
                agent.spec,
            ],
            capture_output=True,
            text=True,
            timeout=_INSTALL_TIMEOUT,
            check=False,
            env={**os.environ, "DISABLE_AUTOUPDATER": "1"},
        )
        if done.returncode != 0:
            pytest.fail(
                f"npm install {agent.spec} failed (exit {done.returncode}); the real-agent "
                f"tests need the npm registry:\n{done.stdout[-2000:]}{done.stderr[-2000:]}",
                pytrace=False,
            )
        if _find_native(agent, work) is None:
            pytest.fail(
                f"npm installed {agent.spec} but no native executable matched "
                f"{agent.native} under {work / 'node_modules'}",
                pytrace=False,
            )
        (work / _MARKER).write_text(agent.spec + "\n")
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def install(agent: NpmAgent) -> pathlib.Path:
    """The native executable of ``agent``, installing the package first if needed."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not on PATH: the real-agent tests install the agents with it")
    root = cache_root()
    target = root / agent.dirname
    with _locked(root / f"{agent.dirname}.lock"):
        if not (target / _MARKER).is_file() or _find_native(agent, target) is None:
            _npm_install(agent, npm, target)
    found = _find_native(agent, target)
    assert found is not None, f"{agent.spec}: native executable vanished from {target}"
    return found
