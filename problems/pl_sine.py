"""f(x) = sum_j x_j^2 + 3 sin^2(x_j): nonconvex, PL, L = 8 (f'' = 2 + 6 cos 2x), f* = 0 at x* = 0.

Two PL constants are kept apart: the value stated in the literature, 1/32, and the tight value
mu = inf_t f'(t)^2 / (2 f(t)) of the one-dimensional function (the sum is separable, so the
infimum over R^d equals the one-dimensional one), computed here to about 1e-12.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import optimize

from .backend import Array, xp
from .base import Problem

MU_LITERATURE = 1.0 / 32.0


def _g(t):
    return t * t + 3 * np.sin(t) ** 2


def _dg(t):
    return 2 * t + 3 * np.sin(2 * t)


def pl_ratio(t):
    """f'(t)^2 / (2 f(t)) for the one-dimensional f, t != 0."""
    return _dg(t) ** 2 / (2 * _g(t))


@lru_cache(maxsize=1)
def tight_pl_constant() -> float:
    """inf over t != 0 of pl_ratio(t): dense grid on (0, 50] then a bounded refinement.

    The ratio is even, tends to 8 as t -> 0 (f ~ 4 t^2, f' ~ 8 t) and to 2 as |t| -> inf, so its
    infimum (below both) is attained at a finite interior point found on the grid."""
    t = np.linspace(1e-3, 50.0, 500001)
    k = int(np.argmin(pl_ratio(t)))
    res = optimize.minimize_scalar(pl_ratio, bounds=(t[k - 1], t[k + 1]), method="bounded",
                                   options={"xatol": 1e-13})
    return float(res.fun)


class PLSine(Problem):
    """The PL sine problem in dimension d; ``mu`` is the tight constant, ``mu_literature`` = 1/32."""

    name = "pl_sine"

    def __init__(self, d: int = 10) -> None:
        super().__init__()
        if int(d) != d or d < 1:
            raise ValueError(f"d={d!r} is not allowed: the dimension must be an integer >= 1")
        self.d = int(d)
        self.L = 8.0
        self.mu = tight_pl_constant()
        self.mu_literature = MU_LITERATURE
        self.f_star = 0.0
        self.x_star = np.zeros(self.d)

    def f(self, x: Array) -> Array:
        return (x * x + 3 * xp(x).sin(x) ** 2).sum(-1)

    def grad(self, x: Array) -> Array:
        return 2 * x + 3 * xp(x).sin(2 * x)

    def hvp(self, x: Array, v: Array) -> Array:
        return (2 + 6 * xp(x).cos(2 * x)) * v

    def constants(self) -> dict:
        out = super().constants()
        out["mu_literature"] = self.mu_literature
        return out
