"""The docs are complete and their examples run (STYLE habit 15).

- Every command of the ``journal`` program, and every option of each, is in the CLI
  reference; a new command or option without docs fails here.
- Every shell example in README.md and the tutorial that runs ``journal`` is executed
  against a temporary home and must exit 0.
- The invariants page lists invariants 1-10, each naming a test file, and names only
  test files that exist.
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys

import click
import pytest

from journal.cli.main import cli

REPO = pathlib.Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
CLI_REFERENCE = DOCS / "reference" / "cli.md"
INVARIANTS = DOCS / "explanation" / "invariants.md"
JOURNAL_BIN = pathlib.Path(sys.executable).with_name("journal")
EXAMPLE_FILES = [REPO / "README.md", *sorted((DOCS / "tutorial").glob("*.md"))]

_FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
_JOURNAL_WORD = re.compile(r"(?:^|[|;&]\s*)(?:\.venv/bin/)?journal\b")


def _sections(markdown: str) -> dict[str, str]:
    """Map each ``## `` heading of ``markdown`` to the text up to the next one."""
    out: dict[str, str] = {}
    parts = re.split(r"^## (.+)$", markdown, flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        out[heading.strip()] = body
    return out


def _command_section(name: str) -> str:
    sections = _sections(CLI_REFERENCE.read_text(encoding="utf-8"))
    for heading, body in sections.items():
        if re.fullmatch(rf"`?journal {re.escape(name)}`?", heading):
            return body
    raise AssertionError(f"docs/reference/cli.md has no '## `journal {name}`' heading")


def _documented_names(param: click.Parameter) -> list[str]:
    if isinstance(param, click.Argument):
        return [param.human_readable_name]  # e.g. REF
    return [*param.opts, *param.secondary_opts]


def _params(command: click.Command) -> list[click.Parameter]:
    """A command's parameters; for a group, its subcommands' as well."""
    params = list(command.params)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            params.extend(_params(sub))
    return params


@pytest.mark.parametrize("name", sorted(cli.commands), ids=str)
def test_every_command_and_option_is_in_the_cli_reference(name: str) -> None:
    """Each command's section names all its options; a group's, each subcommand and theirs."""
    section = _command_section(name)
    command = cli.commands[name]
    missing = [
        opt
        for param in _params(command)
        for opt in _documented_names(param)
        if not re.search(rf"`[^`]*(?<![\w-]){re.escape(opt)}(?![\w-])[^`]*`", section)
    ]
    if isinstance(command, click.Group):
        missing += [
            f"journal {name} {sub}"
            for sub in command.commands
            if not re.search(rf"`[^`]*journal {name} {re.escape(sub)}\b[^`]*`", section)
        ]
    assert not missing, f"journal {name}: options missing from its section: {missing}"


def test_global_options_are_in_the_cli_reference() -> None:
    """The group's own options (--home, --version, --help) are documented."""
    section = _sections(CLI_REFERENCE.read_text(encoding="utf-8"))["Global options"]
    ctx = click.Context(cli)
    names = [opt for param in cli.get_params(ctx) for opt in _documented_names(param)]
    missing = [opt for opt in names if f"`{opt}" not in section]
    assert not missing, f"global options missing from docs/reference/cli.md: {missing}"


def test_the_reference_documents_no_command_that_does_not_exist() -> None:
    """Every ``## `journal X``` heading names a real command."""
    headings = _sections(CLI_REFERENCE.read_text(encoding="utf-8"))
    documented = {m.group(1) for h in headings if (m := re.fullmatch(r"`?journal ([\w-]+)`?", h))}
    assert documented == set(cli.commands)


def _examples(path: pathlib.Path) -> list[tuple[int, list[str]]]:
    """(line number, command lines) of each console/sh block in ``path`` that runs journal."""
    text = path.read_text(encoding="utf-8")
    found: list[tuple[int, list[str]]] = []
    for match in _FENCE.finditer(text):
        if match.group("lang") not in ("console", "sh"):
            continue
        lines = [line[2:] for line in match.group("body").splitlines() if line.startswith("$ ")]
        if any(_JOURNAL_WORD.search(line) for line in lines):
            found.append((text.count("\n", 0, match.start()) + 1, lines))
    return found


def _run_example_line(line: str, env: dict[str, str], cwd: pathlib.Path) -> None:
    line = line.replace(".venv/bin/journal", "journal")
    if line.startswith("journal ") and not re.search(r"[|<>;&$`]", line):
        argv = [str(JOURNAL_BIN), *shlex.split(line)[1:]]
    else:  # a pipeline such as `echo '{…}' | journal append`: let bash run it
        argv = ["bash", "-o", "pipefail", "-c", line]
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, (
        f"`{line}` exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    )


@pytest.mark.parametrize(
    "path", EXAMPLE_FILES, ids=[str(p.relative_to(REPO)) for p in EXAMPLE_FILES]
)
def test_doc_examples_run(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Every example block of the file runs, in order, against one fresh home, exit 0."""
    examples = _examples(path)
    assert examples, f"{path.relative_to(REPO)} has no runnable journal example"
    env = dict(os.environ)
    env["AGENT_JOURNAL_HOME"] = str(tmp_path / "home")
    env["PATH"] = f"{JOURNAL_BIN.parent}{os.pathsep}{env.get('PATH', '')}"
    for _line_no, lines in examples:
        for line in lines:
            _run_example_line(line, env, tmp_path)


def test_invariants_page_lists_one_to_ten_with_existing_tests() -> None:
    """docs/explanation/invariants.md has sections 1-10 (DESIGN §2), and each named
    test file exists."""
    text = INVARIANTS.read_text(encoding="utf-8")
    numbers = [int(n) for n in re.findall(r"^## (\d+)\. ", text, flags=re.MULTILINE)]
    assert numbers == list(range(1, 11))
    named = sorted(set(re.findall(r"`(tests/[\w/]+\.py)`", text)))
    assert named, "the invariants page names no test files"
    missing = [path for path in named if not (REPO / path).is_file()]
    assert not missing, f"invariants.md names test files that do not exist: {missing}"
    sections = re.split(r"^## \d+\. ", text, flags=re.MULTILINE)[1:]
    for number, body in enumerate(sections, 1):
        assert re.search(r"`tests/[\w/]+\.py`", body), f"invariant {number} names no test"


def test_every_test_the_docs_name_exists() -> None:
    """Each `test_…` function named in the explanation and how-to pages is defined."""
    defined = set()
    for path in (REPO / "tests").rglob("*.py"):
        defined.update(re.findall(r"^\s*def (test_\w+)\(", path.read_text(), re.M))
    pages = [INVARIANTS, *sorted((DOCS / "how-to").glob("*.md"))]
    named = {name for page in pages for name in re.findall(r"`(test_\w+)`", page.read_text())}
    assert named, "the pages name no tests"
    assert not named - defined, f"named but not defined: {sorted(named - defined)}"
