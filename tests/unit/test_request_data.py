"""Request data is parsed, never spread: no ``url_for(**…)`` in the app or its templates takes
a mapping built from the request (a form's ``_scheme`` or ``endpoint`` would become
url_for's own arguments), and every JSON API view is a declared operation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def from_request(expr: ast.expr) -> bool:
    """Whether a mapping is the request's own data: ``request.form``, a copy of it
    (``to_dict()``, ``dict(…)``) or a comprehension over it. A named function that picks
    declared keys (``_search_args(request.form)``) is not."""
    if isinstance(expr, ast.Name):
        return expr.id == "request"
    if isinstance(expr, ast.Attribute):
        return from_request(expr.value)
    if isinstance(expr, ast.Call):
        func = expr.func
        if isinstance(func, ast.Name) and func.id == "dict":
            return any(from_request(a) for a in expr.args)
        if isinstance(func, ast.Attribute) and func.attr in {"to_dict", "copy", "items"}:
            return from_request(func.value)
        return False
    if isinstance(expr, ast.DictComp):
        return any(from_request(g.iter) for g in expr.generators)
    return False


def spread_url_for_calls(source: str, filename: str) -> list[str]:
    """Each ``url_for(..., **mapping)`` whose mapping is the request's own data."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "url_for"):
            continue
        if any(k.arg is None and from_request(k.value) for k in node.keywords):
            found.append(f"{filename}:{node.lineno}")
    return found


def test_the_checker_sees_a_spread_of_request_data():
    assert spread_url_for_calls("url_for('x', **request.form.to_dict())", "f") == ["f:1"]
    assert spread_url_for_calls("url_for('x', **dict(request.args))", "f") == ["f:1"]
    comprehension = "url_for('x', **{k: v for k, v in request.form.to_dict(flat=False).items()})"
    assert spread_url_for_calls(comprehension, "f") == ["f:1"]
    assert spread_url_for_calls("url_for('x', **saved.params)", "f") == []
    assert spread_url_for_calls("url_for('x', **_search_args(request.form))", "f") == []


def test_no_view_spreads_request_data_into_url_for():
    found = []
    for path in sorted((ROOT / "market").rglob("*.py")):
        found += spread_url_for_calls(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == []


def test_no_template_spreads_request_data_into_url_for():
    spread = re.compile(r"url_for\([^)]*\*\*\s*request\b")
    found = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "templates").rglob("*.html"))
        if spread.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_every_json_api_view_is_a_declared_operation():
    from market import create_app

    app = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "t", "TESTING": True})
    undeclared = [
        f"{sorted(rule.methods - {'HEAD', 'OPTIONS'})} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and rule.rule != "/api/v1/openapi.json"
        and not hasattr(app.view_functions[rule.endpoint], "api_operation")
    ]
    assert undeclared == []
