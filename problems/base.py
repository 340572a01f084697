"""The Problem contract: exact constants and f, gradient, Hessian-vector products, exact or sampled.

Every evaluation accepts a NumPy vector ``x: (d,)`` (float64) or a torch batch ``x: (R, d)`` on any
device, and returns ``(,)`` or ``(R,)`` for values and the shape of ``x`` for vectors.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .backend import Array, like, xp
from .sample import Sample


class Problem:
    """A smooth objective with known constants.

    Attributes: ``name``; ``d``; ``L`` (smoothness of f); ``mu`` (PL constant, ``None`` where PL
    does not hold); ``f_star`` and ``x_star`` (``None`` where unknown); ``f_inf``, the value used as
    ``inf f`` in the ABC inequality (``f_star`` where known, else a proven lower bound);
    ``G_inf`` (a bound on ``||grad f_S||_inf`` over samples where gradients are bounded, else ``None``).
    """

    name = "problem"
    d: int
    L: float
    mu: Optional[float] = None
    f_star: Optional[float] = None
    x_star: Optional[np.ndarray] = None
    G_inf: Optional[float] = None
    finite_sum = False

    def __init__(self) -> None:
        self._cache: dict = {}

    @property
    def f_inf(self) -> float:
        return self.f_star

    def c(self, name: str, x: Array) -> Array:
        """The NumPy attribute ``name`` (a constant array) in the backend of ``x``."""
        return like(getattr(self, name), x, self._cache, name)

    def refresh_cache(self, x: Array) -> None:
        """Cache every NumPy array attribute in the backend of ``x`` afresh (``backend.like``): the
        compiled engine calls this before it traces, where the cache is read without checks."""
        for key in [k for k, (arr, _) in self._cache.items() if getattr(self, k[0], None) is not arr]:
            del self._cache[key]
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
                self.c(name, x)

    # Exact evaluations, implemented by each problem.
    def f(self, x: Array) -> Array:
        raise NotImplementedError

    def grad(self, x: Array) -> Array:
        raise NotImplementedError

    def hvp(self, x: Array, v: Array) -> Array:
        raise NotImplementedError

    # Sampled evaluations: the sample loss is f_S(x) = scale * f(x) + <xi, x> for noise oracles.
    def stoch_f(self, x: Array, s: Sample) -> Array:
        """The sample loss f_S(x), whose gradient is ``stoch_grad`` (LETS compares such losses)."""
        if s.idx is not None:
            return self._f_idx(x, s.idx, s.w)
        out = self.f(x)
        if s.scale is not None:
            out = out * s.scale
        if s.noise is not None:
            out = out + (s.noise * x).sum(-1)
        return out

    def stoch_grad(self, x: Array, s: Sample) -> Array:
        """grad f_S(x): the index-set mean, or grad f(x) * (1 + zeta) + xi for noise oracles."""
        if s.idx is not None:
            return self._grad_idx(x, s.idx, s.w)
        if s.scale is None and s.noise is not None:
            return self._grad_plus(x, s.noise)
        g = self.grad(x)
        if s.scale is not None:
            g = g * s.scale[..., None]
        if s.noise is not None:
            g = g + s.noise
        return g

    def _grad_plus(self, x: Array, v: Array) -> Array:
        """grad f(x) + v (a problem may fuse the addition into its gradient)."""
        return self.grad(x) + v

    def stoch_hvp(self, x: Array, v: Array, s: Sample) -> Array:
        """Hessian of the sample loss f_S at x applied to v."""
        if s.idx is not None:
            return self._hvp_idx(x, v, s.idx, s.w)
        h = self.hvp(x, v)
        return h * s.scale[..., None] if s.scale is not None else h

    def _f_idx(self, x, idx, w):
        raise ValueError(f"{self.name} is not a finite sum: index samples are not allowed")

    _grad_idx = _f_idx

    def _hvp_idx(self, x, v, idx, w):
        return self._f_idx(x, idx, w)

    def dist_sq(self, x: Array) -> Array:
        """||x - x*||^2, NaN where x* is unknown."""
        if self.x_star is None:
            return xp(x).full_like(x[..., 0], float("nan"))
        return ((x - self.c("x_star", x)) ** 2).sum(-1)

    def constants(self) -> dict:
        """The problem's constants as a plain dict (for provenance and reports)."""
        keys = ["d", "L", "mu", "f_star", "f_inf", "G_inf"]
        return {k: _plain(getattr(self, k)) for k in keys}


class FiniteSum(Problem):
    """f = (1/n) sum_i f_i with per-component smoothness ``L_i: (n,)`` and minima ``f_i_inf: (n,)``.

    ``delta_inf = f_inf - mean_i f_i_inf`` enters the ABC constant C = 2 A delta_inf.
    """

    finite_sum = True
    n: int
    L_i: np.ndarray
    f_i_inf: np.ndarray

    @property
    def L_max(self) -> float:
        return float(self.L_i.max())

    @property
    def L_mean(self) -> float:
        return float(self.L_i.mean())

    @property
    def delta_inf(self) -> float:
        return float(self.f_inf - self.f_i_inf.mean())

    def component_grads(self, x: np.ndarray) -> np.ndarray:
        """All n component gradients at one point: (n, d). For exact expectations in tests."""
        idx = np.arange(self.n)[:, None]
        return np.stack([self._grad_idx(x, i, np.ones(1)) for i in idx])

    def component_f(self, x: np.ndarray) -> np.ndarray:
        """All n component values f_i(x): (n,)."""
        return np.array([self._f_idx(x, np.array([i]), np.ones(1)) for i in range(self.n)])

    def constants(self) -> dict:
        out = super().constants()
        out.update(n=self.n, L_max=self.L_max, L_mean=self.L_mean, delta_inf=self.delta_inf)
        return out


def _plain(v):
    if v is None:
        return None
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    return v
