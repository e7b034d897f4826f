"""payments stays pure: no Flask, no SQLAlchemy, no market models (docs/payments.md)."""

import ast
from pathlib import Path

import payments

FORBIDDEN = ("flask", "sqlalchemy", "market", "flask_login", "flask_wtf")


def test_payments_imports_nothing_from_the_app_or_the_web_framework():
    offenders = []
    for path in Path(payments.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
