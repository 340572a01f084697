"""f(x) = p k1/2 ||x - c1||^2 + (1-p) k2/2 ||x - c2||^2, one component sampled per step.

Written as a finite sum of n = 2 terms F_i = 2 q_i f_i (q = (p, 1-p)); its natural oracle is the
importance sampler with probabilities q, whose reweighting 1/(n q_i) turns grad F_i back into
grad f_i = k_i (x - c_i). K = p k1 + (1-p) k2, x* = (p k1 c1 + (1-p) k2 c2) / K.
"""
from __future__ import annotations

import numpy as np

from .backend import Array, check_positive
from .base import FiniteSum


class TwoQuadratics(FiniteSum):
    """The Si & Yun counterexample; ``q`` are the sampling probabilities to pass to Importance."""

    name = "two_quadratics"

    def __init__(self, p: float = 0.5, k1: float = 1.0, k2: float = 2.0, c1=-1.0, c2=1.0) -> None:
        super().__init__()
        if not 0 < p < 1:
            raise ValueError(f"p={p!r} is not allowed: must lie in (0, 1)")
        self.p = float(p)
        self.k = np.array([check_positive("k1", k1), check_positive("k2", k2)])
        self.cs = np.stack([np.atleast_1d(np.asarray(c1, float)), np.atleast_1d(np.asarray(c2, float))])
        if self.cs.shape[1] < 1 or not np.all(np.isfinite(self.cs)):
            raise ValueError("c1 and c2 must be finite and of the same dimension")
        self.n, self.d = 2, self.cs.shape[1]
        self._c1, self._c2 = self.cs[0], self.cs[1]  # persistent: backend.like caches by id()
        self.q = np.array([self.p, 1 - self.p])
        self.K = float(self.q @ self.k)
        self.L = self.K
        self.mu = self.K
        self._qkc = (self.q * self.k) @ self.cs  # persistent: backend.like caches by id()
        self.x_star = self._qkc / self.K
        self.f_star = float(self.f(self.x_star))
        self.L_i = 2 * self.q * self.k
        self.f_i_inf = np.zeros(2)

    def sam_fixed_point(self, rho: float) -> np.ndarray:
        """x_hat = x* - rho (p k1 - (1-p) k2) / K along c2 - c1 (d = 1: the scalar formula)."""
        u = (self.cs[1] - self.cs[0]) / np.linalg.norm(self.cs[1] - self.cs[0])
        return self.x_star - rho * (self.q[0] * self.k[0] - self.q[1] * self.k[1]) / self.K * u

    def sam_floor(self, rho: float) -> float:
        """f(x_hat) - f* = rho^2 (p k1 - (1-p) k2)^2 / (2K)."""
        return rho ** 2 * (self.q[0] * self.k[0] - self.q[1] * self.k[1]) ** 2 / (2 * self.K)

    def f(self, x: Array) -> Array:
        z1 = x - self.c("_c1", x)
        z2 = x - self.c("_c2", x)
        return 0.5 * (self.q[0] * self.k[0] * (z1 * z1).sum(-1) + self.q[1] * self.k[1] * (z2 * z2).sum(-1))

    def grad(self, x: Array) -> Array:
        return self.K * x - self.c("_qkc", x)

    def hvp(self, x: Array, v: Array) -> Array:
        return self.K * v

    def _F(self, x, idx):
        """Per-sample weight 2 q_i k_i and centre c_i of F_i = q_i k_i ||x - c_i||^2."""
        return self.c("L_i", x)[idx], self.c("cs", x)[idx]

    def _f_idx(self, x, idx, w):
        coef, c = self._F(x, idx)
        z = x[..., None, :] - c
        return (w * 0.5 * coef * (z * z).sum(-1)).mean(-1)

    def _grad_idx(self, x, idx, w):
        coef, c = self._F(x, idx)
        return ((w * coef)[..., None] * (x[..., None, :] - c)).mean(-2)

    def _hvp_idx(self, x, v, idx, w):
        coef, _ = self._F(x, idx)
        return (w * coef).mean(-1)[..., None] * v
