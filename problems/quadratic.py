"""f(x) = 1/2 (x - x*)^T H (x - x*) with H = Q diag(spectrum) Q^T: L = max eig, mu = min eig, f* = 0."""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import ortho_group

from .backend import Array, check_matrix
from .base import Problem


class Quadratic(Problem):
    """A quadratic with an explicit symmetric PSD Hessian ``H: (d, d)`` and minimiser ``x_star: (d,)``.

    Its oracles are the full gradient or a noise model (additive Gaussian, affine variance)."""

    name = "quadratic"

    def __init__(self, H, x_star=None) -> None:
        super().__init__()
        H = check_matrix("H", H, 2)
        if H.shape[0] != H.shape[1]:
            raise ValueError(f"H has shape {H.shape}: it must be square")
        if not np.allclose(H, H.T, rtol=0, atol=1e-12 * max(1.0, np.abs(H).max())):
            raise ValueError("H is not symmetric: a quadratic's Hessian must be symmetric")
        self.H = 0.5 * (H + H.T)
        self.d = H.shape[0]
        self.eigs = np.linalg.eigvalsh(self.H)
        if self.eigs[0] < -1e-12 * max(1.0, self.eigs[-1]):
            raise ValueError(f"H has eigenvalue {self.eigs[0]:.3g} < 0: it must be positive semidefinite")
        self.L = float(self.eigs[-1])
        self.mu = float(self.eigs[0]) if self.eigs[0] > 1e-12 * self.L else None
        self.x_star = np.zeros(self.d) if x_star is None else check_matrix("x_star", x_star, 1)
        if self.x_star.shape != (self.d,):
            raise ValueError(f"x_star has shape {self.x_star.shape}: expected ({self.d},)")
        self.f_star = 0.0
        self._centred = not np.any(self.x_star)  # x* = 0: x - x* is x itself, skip that pass

    @classmethod
    def from_spectrum(cls, spectrum, seed: int = 0, x_star=None) -> "Quadratic":
        """H = Q diag(spectrum) Q^T with Q Haar-distributed (seeded); spectrum >= 0."""
        s = check_matrix("spectrum", spectrum, 1)
        if np.any(s < 0):
            raise ValueError(f"spectrum has a negative entry {s.min():.3g}: eigenvalues must be >= 0")
        Q = ortho_group.rvs(s.size, random_state=seed) if s.size > 1 else np.ones((1, 1))
        return cls(Q @ np.diag(s) @ Q.T, x_star)

    @classmethod
    def with_condition(cls, d: int = 10, L: float = 1.0, cond: float = 10.0, seed: int = 0) -> "Quadratic":
        """Log-spaced spectrum from L/cond to L (cond >= 1), Haar eigenvectors."""
        if not cond >= 1:
            raise ValueError(f"cond={cond!r} is not allowed: the condition number must be >= 1")
        return cls.from_spectrum(np.geomspace(L / cond, L, d), seed=seed)

    def _shift(self, x: Array) -> Array:
        """x - x*, bit for bit (x - 0 is x)."""
        return x if self._centred else x - self.c("x_star", x)

    def f(self, x: Array) -> Array:
        z = self._shift(x)
        return 0.5 * ((z @ self.c("H", x)) * z).sum(-1)

    def grad(self, x: Array) -> Array:
        return self._shift(x) @ self.c("H", x)

    def _grad_plus(self, x: Array, v: Array) -> Array:
        """(x - x*) H + v, the addition fused into the matrix product for a torch batch (addmm)."""
        if isinstance(x, torch.Tensor) and x.ndim == 2:
            return torch.addmm(v, self._shift(x), self.c("H", x))
        return super()._grad_plus(x, v)

    def hvp(self, x: Array, v: Array) -> Array:
        return v @ self.c("H", x)
