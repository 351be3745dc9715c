"""The house shows its layers (DESIGN §1): imports point down, and nothing imports in a cycle.

Every ``import`` statement of every module counts: module-level, inside functions,
and under ``if TYPE_CHECKING:``, since a type-only import still says what a module
knows about. Layers, lowest first: the log core (top-level ``journal`` modules), then
``journal.agents`` and ``projections`` (each on the core only), then ``journal.cli``.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("journal", "projections")

# What each layer may import, of the project's layers and of the third-party names
# this test knows to be layer-specific (click only in the CLI; tomlkit only in agents).
MAY_IMPORT = {
    "core": {"core"},
    "agents": {"core", "agents"},
    "projections": {"core", "projections"},
    "cli": {"core", "agents", "projections", "cli"},
}
THIRD_PARTY_LAYER = {"click": "cli", "tomlkit": "agents"}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, pathlib.Path]:
    found: dict[str, pathlib.Path] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def layer_of(module: str) -> str | None:
    """The layer a module name belongs to (None: not the project's, nor layer-specific)."""
    top = module.split(".")[0]
    if top == "projections":
        return "projections"
    if top == "journal":
        second = module.split(".")[1] if "." in module else ""
        return {"agents": "agents", "cli": "cli"}.get(second, "core")
    return THIRD_PARTY_LAYER.get(top)


def imports_of(module: str, path: pathlib.Path) -> set[str]:
    """Every module ``module`` imports anywhere in its file, resolved to full names."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                # `from pkg import name`: a submodule if one exists, else the package.
                found.add(sub if sub in MODULES else target)
    return found


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def test_the_walk_sees_lazy_and_type_only_imports() -> None:
    """The walk finds function-level and TYPE_CHECKING imports, not only module-level ones."""
    assert "journal.store" in GRAPH["journal"]  # lazy, in journal.__getattr__
    assert "journal.agents.hook" in GRAPH["journal.cli._entry"]  # inside main()
    assert "journal.logenv" in GRAPH["journal.writer"]  # under TYPE_CHECKING


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    """A module imports only its own layer and the layers below it."""
    mine = layer_of(module)
    assert mine is not None
    upward = sorted(
        target
        for target in GRAPH[module]
        if (theirs := layer_of(target)) is not None and theirs not in MAY_IMPORT[mine]
    )
    assert not upward, f"{module} ({mine}) imports {upward}"


def test_no_import_cycle() -> None:
    """The project's import graph is acyclic (a depth-first search finds no back edge)."""
    internal = {m: sorted(t for t in ts if t in MODULES and t != m) for m, ts in GRAPH.items()}
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in internal[module]:
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(internal):
        if module not in state:
            visit(module)


def test_the_core_is_only_the_log() -> None:
    """Top-level journal modules are the log core: no hook, spool, capture or CLI module."""
    core = {m for m in MODULES if layer_of(m) == "core"}
    names = {m.rpartition(".")[2] for m in core}
    assert not names & {"hook", "spool", "capture", "importer", "cli", "demo"}, sorted(names)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module: str) -> None:
    """No module holds two ideas' worth of code: 500 lines at most (STYLE 2)."""
    lines = len(MODULES[module].read_text("utf-8").splitlines())
    assert lines <= 500, f"{module}: {lines} lines"
