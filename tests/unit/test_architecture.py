"""The dependency rule, kept true by reading every import in the packages:

market ──▶ matching, search, payments   (never the reverse)
matching: no Flask, no SQLAlchemy; search and payments: no Flask, no market.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLASK = ("flask", "flask_babel", "flask_login", "flask_wtf", "werkzeug", "jinja2")
FORBIDDEN = {
    "matching": ("market", *FLASK, "sqlalchemy", "alembic"),
    "search": ("market", *FLASK),
    "payments": ("market", *FLASK),
}


def imported_modules(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """Absolute module names a file imports: import statements at any depth (inside
    functions and ``if TYPE_CHECKING`` too) and literal ``importlib.import_module`` /
    ``__import__`` calls. Relative imports stay inside the package and are skipped."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def violations(package: str, source: str, filename: str) -> list[str]:
    out = []
    for line, module in imported_modules(source, filename):
        top = module.split(".")[0]
        if top in FORBIDDEN[package]:
            out.append(f"{filename}:{line} imports {module}")
    return out


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_keeps_the_dependency_rule(package):
    files = package_files(package)
    if not files:
        pytest.skip(f"{package}/ has no Python files yet")
    problems = []
    for path in files:
        problems += violations(
            package, path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
        )
    assert problems == []


@pytest.mark.parametrize(
    ("package", "source", "bad"),
    [
        ("matching", "import flask", True),
        ("matching", "from sqlalchemy.orm import Session", True),
        ("matching", "def f():\n    from market.catalog.models import Listing\n", True),
        ("matching", "import importlib\nimportlib.import_module('market.db')", True),
        (
            "matching",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import flask_login\n",
            True,
        ),
        ("search", "from market import create_app", True),
        ("payments", "import werkzeug.security", True),
        (
            "search",
            "import sqlalchemy",
            False,
        ),  # search may use SQLAlchemy, just not Flask or market
        (
            "matching",
            "from . import arcs\nimport numpy as np\nfrom ortools.graph.python import min_cost_flow",
            False,
        ),
        ("payments", "import marketing_tools", False),  # a name that merely starts with 'market'
    ],
)
def test_the_rule_check_itself_catches_forbidden_imports(package, source, bad):
    assert bool(violations(package, source, "example.py")) is bad


def test_market_is_the_one_that_imports_the_others():
    # Sanity: the walk sees real imports (a broken walk would pass everything above).
    seen = {
        m.split(".")[0]
        for p in (ROOT / "market").rglob("*.py")
        for _line, m in imported_modules(p.read_text(encoding="utf-8"))
    }
    assert {"flask", "sqlalchemy"} <= seen


# --- jobs: declared one way, each area's in its own jobs.py ---------------------------

JOB_DECORATORS = ("periodic_task", "periodic", "handler", "task")
# The queue's own task (run_job) and the mailer's job are infrastructure, not an area's;
# the search outbox's after-commit delivery is a plain huey task (no Job row per change).
JOB_EXCEPTIONS = {"market/tasks.py", "market/mail.py", "market/finder/index.py"}


def job_declarations(source: str) -> list[tuple[int, str]]:
    """(line, decorator) for each function decorated as a job: ``@tasks.periodic(…)``,
    ``@tasks.handler(…)``, ``@huey.periodic_task(…)``, ``@huey.task(…)`` and the like."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                func = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(func, ast.Attribute) and func.attr in JOB_DECORATORS:
                    out.append((deco.lineno, func.attr))
    return out


def test_every_job_is_declared_in_its_areas_jobs_module():
    misplaced = []
    for path in package_files("market"):
        rel = path.relative_to(ROOT).as_posix()
        if path.name == "jobs.py" or rel in JOB_EXCEPTIONS:
            continue
        source = path.read_text(encoding="utf-8")
        misplaced += [f"{rel}:{line} @{name}" for line, name in job_declarations(source)]
    assert misplaced == [], "declare jobs in the area's jobs.py with tasks.periodic/handler"
    raw = []
    for path in sorted((ROOT / "market").glob("*/jobs.py")):
        source = path.read_text(encoding="utf-8")
        raw += [
            f"{path.name}:{line}"
            for line, name in job_declarations(source)
            if name != "periodic" and name != "handler"
        ]
    assert raw == [], "jobs.py registers through tasks.periodic and tasks.handler only"


def test_the_job_check_itself_finds_a_job_outside_jobs_py():
    assert job_declarations(
        "@tasks.huey.periodic_task(crontab(minute='*'))\ndef tick():\n    pass\n"
    ) == [(1, "periodic_task")]
    assert job_declarations("@tasks.handler('x')\ndef body(s, j, p):\n    pass\n") == [
        (1, "handler")
    ]


# --- areas form layers: no two areas import each other, no module import cycle ---------

# Pairs not yet untangled, each with why; a pair not listed here fails the test, and a
# listed pair that is gone must be taken off the list.
KNOWN_PAIRS: set[tuple[str, str]] = set()


def _shape():
    import importlib.util

    spec = importlib.util.spec_from_file_location("shape", ROOT / "scripts" / "shape.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("shape", module)  # its dataclasses look their module up
    spec.loader.exec_module(sys.modules["shape"])
    return sys.modules["shape"]


def test_areas_form_layers_and_modules_no_cycles():
    measured = _shape().measure()
    pairs = {tuple(pair) for pair in measured.area_pairs}
    assert pairs - KNOWN_PAIRS == set(), "two areas import each other: pick one direction"
    assert KNOWN_PAIRS - pairs == set(), "untangled: take the pair off KNOWN_PAIRS"
    assert measured.area_loops == [], "areas importing each other through a third: a loop"
    assert measured.cycles == [], "a module import cycle"


def test_the_layer_check_finds_a_pair_and_a_cycle():
    shape = _shape()
    assert shape.find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert shape.area_of("market.orders.requests") == "market.orders"
    assert shape.area_of("market.orders.demo") == "app"  # demo data wires areas together
