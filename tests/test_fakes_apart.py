"""The product never imports the local stand-ins (fakes/) or the tests: they are for tests and benchmarks."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Every module the product runs: the entry module and its packages.
PRODUCT = [ROOT / "app.py", *(path for package in ("slrt", "admin_views", "tasks", "sms")
                              for path in sorted((ROOT / package).rglob("*.py")))]
TEST_ONLY = {"fakes", "tests"}


def imported_packages(source: str) -> set[str]:
    """Top-level names of every absolute import in ``source``, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_import_reader_sees_every_kind_of_import():
    source = "import fakes.twilio\nfrom tests import builders\ndef f():\n    from fakes.android import sign\n" \
             "from . import sibling\nimport os.path as p\n"

    assert imported_packages(source) == {"fakes", "tests", "os"}


def test_no_product_module_imports_the_fakes_or_the_tests():
    assert len(PRODUCT) > 50  # the scan found the product
    offenders = {str(path.relative_to(ROOT)): sorted(found)
                 for path in PRODUCT if (found := imported_packages(path.read_text()) & TEST_ONLY)}

    assert offenders == {}


def test_the_stand_ins_and_the_benchmarks_import_nothing_from_the_tests():
    support = sorted([*(ROOT / "fakes").rglob("*.py"), *(ROOT / "bench").rglob("*.py")])
    assert len(support) > 5
    offenders = {str(path.relative_to(ROOT)) for path in support if "tests" in imported_packages(path.read_text())}

    assert offenders == set()
