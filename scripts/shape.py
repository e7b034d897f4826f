"""The code's shape, measured: pairs of areas that import each other, longer loops between
areas, module import cycles, long modules and functions, and imports inside functions.

    .venv/bin/python scripts/shape.py            # the figures and every offender
    .venv/bin/python scripts/shape.py --json     # the same as JSON (tests read it)

An *area* is a package of market/ (market.orders, market.catalog, …), market's own
top-level modules taken together (market.db, market.tasks, …: the app's infrastructure), the
composition root (``create_app`` in market/__init__.py, the CLI, the demo data — market/demo*
and each area's ``demo.py``, which only market/demo imports — market.models, the list of
every table, and market.i18n_terms, the list of every area's translated enum values: they
wire or gather the areas together and no area imports them), or one of the pure packages
(matching, search, payments). Demo-data modules are exempt from the length limits: they
are data written as code.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("market", "matching", "search", "payments")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
EXEMPT_FROM_LENGTH = ("market/demo",)


@dataclass
class Shape:
    area_pairs: list[list[str]] = field(default_factory=list)
    area_loops: list[list[str]] = field(default_factory=list)  # of three areas or more
    cycles: list[list[str]] = field(default_factory=list)
    long_modules: list[list] = field(default_factory=list)
    long_functions: list[list] = field(default_factory=list)
    inner_imports: list[list] = field(default_factory=list)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


COMPOSITION_ROOT = {
    "market",
    "market.cli",
    "market.demo",
    "market.demo_history",
    "market.models",
    "market.i18n_terms",
}


def area_of(module: str) -> str:
    if module in COMPOSITION_ROOT or module.startswith("market.demo"):
        return "app"  # market/demo*, the demo data
    if module.startswith("market.") and module.endswith(".demo"):
        return "app"  # an area's demo data, imported only by market/demo
    parts = module.split(".")
    if parts[0] != "market":
        return parts[0]
    if len(parts) >= 2 and (ROOT / "market" / parts[1]).is_dir():
        return f"market.{parts[1]}"
    return "market"


def resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(tree: ast.Module, module: str, is_package: bool, known: set[str]):
    """(imported module, line, at module level?) for every import of our own code."""
    top_level = {id(n) for n in tree.body} | {
        id(n)
        for stmt in tree.body
        if isinstance(stmt, ast.If | ast.Try)
        for n in ast.walk(stmt)
        if isinstance(n, ast.Import | ast.ImportFrom)
    }
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node, module, is_package)
            # ``from market.orders import services`` imports the submodule when it is one.
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name.split(".")[0] in PACKAGES:
                yield name, node.lineno, id(node) in top_level


def long_functions(tree: ast.Module, rel: str):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                yield [f"{rel}:{node.lineno}", node.name, length]


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def measure() -> Shape:
    files = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    known = {module_name(p) for p in files}
    shape = Shape()
    graph: dict[str, set[str]] = defaultdict(set)
    area_edges: dict[str, set[str]] = defaultdict(set)
    for path in files:
        rel = str(path.relative_to(ROOT))
        source = path.read_text()
        tree = ast.parse(source, rel)
        module = module_name(path)
        exempt = rel.startswith(EXEMPT_FROM_LENGTH)
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES and not exempt:
            shape.long_modules.append([rel, lines])
        if not exempt:
            shape.long_functions += list(long_functions(tree, rel))
        for target, line, top in imports_of(tree, module, path.name == "__init__.py", known):
            if target == module:
                continue
            if not top:
                shape.inner_imports.append([f"{rel}:{line}", target])
            graph[module].add(target)
            if area_of(target) != area_of(module):
                area_edges[area_of(module)].add(area_of(target))
    shape.area_pairs = sorted(
        [a, b] for a in area_edges for b in area_edges[a] if a < b and a in area_edges.get(b, ())
    )
    shape.area_loops = [
        loop
        for loop in find_cycles({a: area_edges.get(a, set()) for a in area_edges})
        if len(loop) > 2
    ]
    shape.cycles = find_cycles(graph)
    return shape


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    shape = measure()
    if args.json:
        print(json.dumps(asdict(shape), ensure_ascii=False, indent=1))
        return 0
    print(f"pairs of areas importing each other: {len(shape.area_pairs)}")
    for a, b in shape.area_pairs:
        print(f"  {a} <-> {b}")
    print(f"longer loops between areas: {len(shape.area_loops)}")
    for loop in shape.area_loops:
        print("  " + " -> ".join(loop))
    print(f"module import cycles: {len(shape.cycles)}")
    for cycle in shape.cycles:
        print("  " + " -> ".join(cycle))
    print(f"modules over {MAX_MODULE_LINES} lines: {len(shape.long_modules)}")
    for rel, lines in shape.long_modules:
        print(f"  {rel} {lines}")
    print(f"functions over {MAX_FUNCTION_LINES} lines: {len(shape.long_functions)}")
    for where, name, length in shape.long_functions:
        print(f"  {where} {name} {length}")
    print(f"imports inside functions: {len(shape.inner_imports)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
