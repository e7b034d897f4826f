"""Every web form is declared: a view reads a page's fields through a ``Form`` of its area's
``forms.py`` (``market.core.forms.parse_form`` / ``submit``), never ``request.form`` itself,
so nothing undeclared reaches a service and every field's error is named beside it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The parsers of request data, and why each may read the form itself.
READERS = {
    "market/core/forms.py": "the declared forms' parser",
    "market/api/contract.py": "the API contract's parser of multipart bodies (declared models)",
    "market/core/web.py": "the request guard: refuses NUL in any key or value, declared or not",
}


def form_reads(source: str, filename: str) -> list[int]:
    """Lines that read ``request.form`` (``request.form.get``, ``request.form[…]``, passing
    ``request.form`` on), however imported (``flask.request.form`` too)."""
    lines = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Attribute) and node.attr == "form"):
            continue
        owner = node.value
        if (isinstance(owner, ast.Name) and owner.id == "request") or (
            isinstance(owner, ast.Attribute) and owner.attr == "request"
        ):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("x = request.form.get('a')", True),
        ("services.save(s, request.form)", True),
        ("v = flask.request.form['a']", True),
        ("form, errors = parse_form(NoteForm)", False),
        ("x = request.args.get('a')", False),
        ("x = form.note", False),
    ],
)
def test_the_check_sees_a_form_read(source, found):
    assert bool(form_reads(source, "<test>")) is found


def test_no_view_or_service_reads_the_request_form_itself():
    problems = []
    for path in sorted((ROOT / "market").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name in READERS:
            continue
        for line in form_reads(path.read_text(encoding="utf-8"), name):
            problems.append(f"{name}:{line} reads request.form: declare a Form in forms.py")
    assert problems == []


def test_every_area_with_web_posts_declares_its_forms():
    """An area whose views take a POST has a forms.py (core's forms are in core/forms.py)."""
    missing = []
    for views in sorted((ROOT / "market").rglob("*views.py")):
        area = views.parent
        if area.name == "api" or ".post(" not in views.read_text(encoding="utf-8"):
            continue
        if not (area / "forms.py").exists():
            missing.append(str(area.relative_to(ROOT)))
    assert missing == []
