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
# Over the limits when this test was written and being reworked separately (issue 18 point 3,
# the Markdown/HTML/LaTeX output); expected to fail until that work lands.
IN_REWORK = {"page.py", "tables.py"}


def _params() -> list:
    out = []
    for p in sorted(REPORTS.rglob("*.py")):
        rel = p.relative_to(REPORTS).as_posix()
        marks = [pytest.mark.xfail(reason="in rework (issue 18 point 3)")] if rel in IN_REWORK else []
        out.append(pytest.param(p, id=rel, marks=marks))
    return out


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
