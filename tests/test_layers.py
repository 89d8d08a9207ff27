"""The architecture as tests: slrt/ imports no boundary package, has no import cycle, imports at the top.

The contracts themselves are in .importlinter (read by lint-imports); the cycle check below is
stricter than its acyclic_siblings contract: it walks every module-to-module import, a package
and its own modules included, and names each cycle it finds.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent

#: Imports inside functions that have a reason other than a cycle: (module file, imported module).
LAZY_IMPORTS: set[tuple[str, str]] = set()  # (file, module) pairs with a real reason; none today


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint_imports), "--config", str(ROOT / ".importlinter"), "--no-cache"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted, in order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(edges.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(found)


def test_cycles_finds_every_strongly_connected_group():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": {"f"}, "g": set()}
    assert cycles(edges) == [["a", "b", "c"], ["d", "e"]]


def test_slrt_has_no_import_cycle():
    graph = grimp.build_graph("slrt", cache_dir=None)
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    report = []
    for component in cycles(edges):
        report.append(" <-> ".join(component))
        for importer in component:
            for imported in sorted(edges[importer] & set(component)):
                lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                report.append(f"    {importer} -> {imported} (line {', '.join(map(str, lines))})")
    assert not report, "import cycles in slrt/:\n" + "\n".join(report)


def _nested_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of each import inside a function or class body of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for scope in ast.walk(tree):
        if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in ast.walk(scope):
            if isinstance(node, ast.Import):
                found.extend((node.lineno, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return sorted(set(found))


def test_the_product_imports_at_the_top_of_its_modules():
    nested = []
    product = [ROOT / "app.py", *(path for package in ("slrt", "admin_views", "tasks", "sms")
                                  for path in (ROOT / package).rglob("*.py"))]
    for path in sorted(product):
        name = path.relative_to(ROOT).as_posix()
        nested.extend(f"{name}:{line} imports {module}" for line, module in _nested_imports(path)
                      if (name, module) not in LAZY_IMPORTS)
    assert not nested, "imports inside functions (move them to the top):\n" + "\n".join(nested)
