"""Size limits of the reports package (issue 16): no function over 60 lines, no module over 500.

Small functions and modules keep each figure family readable on its own; the limits are checked
per module with ``ast`` (no radon needed), so a growing function fails here first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPORTS = Path(__file__).resolve().parent.parent / "reports"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500


def _params() -> list:
    return [pytest.param(p, id=p.relative_to(REPORTS).as_posix()) for p in sorted(REPORTS.rglob("*.py"))]


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """{function name: lines} of the functions (methods, nested ones) longer than ``limit``."""
    return {node.name: node.end_lineno - node.lineno + 1
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > limit}


def test_figures_is_a_package_of_small_modules():
    names = {p.relative_to(REPORTS).as_posix() for p in REPORTS.rglob("*.py")}
    assert "figures.py" not in names
    assert {"figures/__init__.py", "figures/dispatch.py", "figures/common.py"} <= names


def test_long_functions_finds_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    assert long_functions(f"def f():\n{body}\n\ndef g():\n    return 1\n") == {"f": 62}


@pytest.mark.parametrize("path", _params())
def test_reports_module_within_limits(path: Path):
    source = path.read_text(encoding="utf-8")
    n = len(source.splitlines())
    assert n <= MAX_MODULE_LINES, f"{path.name}: {n} lines > {MAX_MODULE_LINES}"
    long = long_functions(source)
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"
