"""The crawler reaches storage only through its storing components."""

from __future__ import annotations

import ast
from pathlib import Path

CRAWLER = Path(__file__).resolve().parent.parent / "crawler"

#: The storing pipeline (and its spool), the archive-state extension, the stats collector.
DOORS = {
    "pipelines/store.py",
    "pipelines/spool.py",
    "extensions/archive.py",
    "statscollectors.py",
}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_only_the_storing_components_import_storage() -> None:
    reaching = {
        path.relative_to(CRAWLER).as_posix()
        for path in CRAWLER.rglob("*.py")
        if any(name == "storage" or name.startswith("storage.") for name in imported(path))
    }
    assert reaching == DOORS
