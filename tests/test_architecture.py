"""The layout keeps its shape: dependencies point one way, no import cycles, modules and
functions small enough to read, and a command line that starts without the crawler.

Imports are read from the source (``ast``), every import counted, those inside functions
too; only imports under ``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crawler", "scheduler", "storage", "replica")
#: Code around the runtime packages, held to the same sizes: the tests (not their fixture
#: pages), the benchmarks, the scripts.
SUPPORT = ("tests", "bench", "scripts")

#: The crawler reaches storage in its storing components only: the storing pipeline (and
#: its inputs and spool), the extension that loads the archive state, the stats collector
#: that records the run.
CRAWLER_STORAGE_USERS = {
    "crawler.pipelines.store",
    "crawler.pipelines.inputs",
    "crawler.pipelines.spool",
    "crawler.extensions.archive",
    "crawler.statscollectors",
}
#: The only runtime module that uses the rebuilt copy of the sites: ``kcna-monitor demo``.
SCHEDULER_REPLICA_USERS = {"scheduler.demo"}

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules(packages: tuple[str, ...] = PACKAGES) -> Iterator[tuple[str, Path]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            parts = list(relative.parts)
            if "versions" in parts:  # Alembic migrations: generated, frozen in time
                continue
            if parts[:2] == ["tests", "fixtures"]:  # extraction fixtures: data
                continue
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(module: str, tree: ast.AST, is_package: bool) -> set[str]:
    names: set[str] = set()
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            skip.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


@cache
def graph() -> dict[str, set[str]]:
    """Each project module and the project modules it imports."""
    modules = dict(_modules())
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = _imported(module, tree, path.name == "__init__.py")
        edges[module] = {t for t in targets if t in modules and t != module}
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    cycle = _cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_storage_imports_no_other_project_code() -> None:
    wrong = {
        (module, target)
        for module, targets in graph().items()
        if module.startswith("storage")
        for target in targets
        if not target.startswith("storage")
    }
    assert not wrong


def test_the_crawler_reaches_storage_only_in_its_storing_components() -> None:
    edges = graph()
    upward = {
        (module, target)
        for module, targets in edges.items()
        if module.startswith("crawler")
        for target in targets
        if target.startswith(("scheduler", "replica"))
    }
    assert not upward
    users = {
        module
        for module, targets in edges.items()
        if module.startswith("crawler") and any(t.startswith("storage") for t in targets)
    }
    assert users == CRAWLER_STORAGE_USERS


def test_only_the_demo_uses_the_rebuilt_sites() -> None:
    edges = graph()
    users = {
        module
        for module, targets in edges.items()
        if module.startswith("scheduler") and any(t.startswith("replica") for t in targets)
    }
    assert users <= SCHEDULER_REPLICA_USERS
    replica_up = {
        t
        for module, targets in edges.items()
        if module.startswith("replica")
        for t in targets
        if not t.startswith("replica")
    }
    assert not replica_up


def test_modules_and_functions_stay_small() -> None:
    too_long: list[str] = []
    for module, path in _modules((*PACKAGES, *SUPPORT)):
        source = path.read_text(encoding="utf-8")
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{module}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{module}.{node.name}: {length} lines")
    assert not too_long


@pytest.mark.parametrize("module", ["scheduler.cli.main", "scheduler.config", "crawler.sources"])
def test_the_command_line_starts_without_loading_the_crawler(module: str) -> None:
    """``kcna-monitor --help``, a config check or a read command must not pay for Scrapy,
    Twisted, Alembic or Apprise: they load when a crawl, a migration or an Apprise target
    needs them."""
    code = (
        f"import sys, {module}\n"
        "loaded = {name.split('.')[0] for name in sys.modules}\n"
        "print(','.join(sorted(loaded & {'scrapy', 'twisted', 'alembic', 'apprise'})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == ""
