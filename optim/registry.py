"""One registry for both backends: name -> paper, status tag, hyperparameter schema, implementations.

Validation (``validate``) is shared: the reference and the batched engine both call it, so a bad
value is rejected with the same one-line ValueError whichever backend runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .schedules import Schedule

STATUSES = ("confirmed", "reconstructed", "third-party")


@dataclass(frozen=True)
class Param:
    """One hyperparameter: ``kind`` is "real" (float, (R,) array, or Schedule when ``schedulable``),
    "choice" (one of ``choices``), "bool", or "optional_real" (None or real)."""

    name: str
    default: Any
    doc: str
    kind: str = "real"
    lo: float = -np.inf
    hi: float = np.inf
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple = ()
    schedulable: bool = False

    def allowed(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "bool":
            return "True or False"
        lo = "(" if self.lo_open else "["
        hi = ")" if self.hi_open or self.hi == np.inf else "]"
        rng = f"in {lo}{self.lo:g}, {self.hi:g}{hi}"
        return rng + (" (a constant, an array of length R, or a Schedule)" if self.schedulable else "")


@dataclass(frozen=True)
class Algorithm:
    """An algorithm of docs/algorithms.md: ``base`` names the method that rho = 0 reduces it to. The batched
    engine composes it from the parts ``perturbation`` and ``descent`` (keys of
    ``optim.batched.parts``), or runs the rule ``rule`` names when it is not "composed" ("lets");
    ``extras`` are the per-step quantities the rule records."""

    name: str
    title: str
    paper: str
    status: str
    params: tuple[Param, ...]
    doc: str
    base: Optional[str] = None
    equations: str = ""
    extras: tuple[str, ...] = field(default=())
    perturbation: str = "none"
    descent: str = "sgd"
    rule: str = "composed"

    def param(self, name: str) -> Param:
        return {p.name: p for p in self.params}[name]


def _real_values(p: Param, v, R: Optional[int]) -> np.ndarray:
    if isinstance(v, Schedule):
        if not p.schedulable:
            raise ValueError(f"{p.name} cannot be a Schedule: must be {p.allowed()}")
        lo, hi = v.bounds()
        vals = v.values
        if v.kind.startswith("lambda"):
            return np.array([lo, hi])
    else:
        try:
            vals = np.atleast_1d(np.asarray(v, dtype=np.float64))
        except (TypeError, ValueError):
            raise ValueError(f"{p.name}={v!r} is not a number: must be {p.allowed()}") from None
        if vals.ndim != 1:
            raise ValueError(f"{p.name} has shape {vals.shape}: must be a scalar or an (R,) array")
    if vals.size != 1 and R is not None and vals.size != R:
        raise ValueError(f"{p.name} has {vals.size} values but the batch has R={R} runs: give a scalar or R values")
    return vals


def check_value(p: Param, v, R: Optional[int] = None) -> None:
    """Raise a one-line ValueError naming ``p`` and the offending value if ``v`` is not allowed."""
    if p.kind == "choice":
        if v not in p.choices:
            raise ValueError(f"{p.name}={v!r} is not allowed: must be {p.allowed()}")
        return
    if p.kind == "bool":
        if not isinstance(v, (bool, np.bool_)):
            raise ValueError(f"{p.name}={v!r} is not allowed: must be {p.allowed()}")
        return
    if p.kind == "optional_real" and v is None:
        return
    vals = _real_values(p, v, R)
    bad_lo = vals <= p.lo if p.lo_open else vals < p.lo
    bad_hi = vals >= p.hi if p.hi_open else vals > p.hi
    bad = ~np.isfinite(vals) | bad_lo | bad_hi
    if bad.any():
        shown = float(vals[bad][0]) if vals.size > 1 else v
        raise ValueError(f"{p.name}={shown!r} is not allowed: must be {p.allowed()}")


ALGORITHMS: dict[str, Algorithm] = {}


def register(algo: Algorithm) -> Algorithm:
    if algo.status not in STATUSES:
        raise ValueError(f"status {algo.status!r} must be one of {STATUSES}")
    ALGORITHMS[algo.name] = algo
    return algo


def get(name: str) -> Algorithm:
    """The registered algorithm ``name``, or a one-line ValueError listing the known names."""
    from . import algorithms  # noqa: F401  (fills the registry)
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}: choose from {', '.join(sorted(ALGORITHMS))}")
    return ALGORITHMS[name]


def validate(name: str, hp: Optional[dict] = None, R: Optional[int] = None) -> dict:
    """Defaults filled in and every value checked; unknown keys rejected. Returns a new dict."""
    algo = get(name)
    hp = dict(hp or {})
    known = {p.name for p in algo.params}
    unknown = sorted(set(hp) - known)
    if unknown:
        raise ValueError(f"unknown hyperparameter {unknown[0]!r} for {name}: allowed are {', '.join(sorted(known))}")
    out = {}
    for p in algo.params:
        v = hp.get(p.name, p.default)
        check_value(p, v, R)
        out[p.name] = v
    return out
