"""The campaign package's module graph: no module imports a module that imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import mysms_async.campaigns

PACKAGE = Path(mysms_async.campaigns.__file__).parent


def _imports(path: Path) -> set[str]:
    """The sibling modules ``path`` imports anywhere (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_no_two_campaign_modules_import_each_other() -> None:
    graph = {path.stem: _imports(path) for path in PACKAGE.glob("*.py")}
    circles = sorted(
        (a, b) for a, deps in graph.items() for b in deps if a < b and a in graph.get(b, set())
    )
    assert circles == []
