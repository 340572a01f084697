"""The user optimizer a claim ran with, as the report page and the figure titles name it.

``python -m verify rates --algo MODULE:NAME --as ALGO`` runs a user's optimizer in place of the
built-in ALGO and records ``"MODULE:NAME as ALGO"`` (several joined by ", ") in the verdict's
``implementation`` field (docs/results.md). A verdict without that field ran the built-in
algorithms: both texts are then empty, so such reports come out exactly as before.
"""

from __future__ import annotations


def _spec(verdict: dict) -> str:
    return str(verdict.get("implementation") or "")


def implementation_fact(verdict: dict) -> str:
    """The page's "Implementation" entry (the terminal's wording), "" for built-in algorithms."""
    spec = _spec(verdict)
    return f"{spec} (a user optimizer in place of the built-in)" if spec else ""


def implementation_title(verdict: dict) -> str:
    """The figure title's line under claim and verdict, "" for built-in algorithms: a figure
    copied out of the report still says that it shows the user's optimizer."""
    spec = _spec(verdict)
    return f"run with {spec}" if spec else ""
