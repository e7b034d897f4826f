"""search/ stays pure: no Flask, no market models (the app depends on search, never the
reverse)."""

import ast
from pathlib import Path

FORBIDDEN = ("flask", "market", "matching", "payments")


def test_search_imports_nothing_from_the_app():
    package = Path(__file__).resolve().parents[3] / "search"
    offending = []
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            offending += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offending == []
