"""Finite sums of the form f_i(x) = phi(a_i^T x - b_i) + reg/2 ||x||^2 (generalised linear models).

Shared by least squares / ridge (phi = t^2/2), robust regression (phi = t^2/(1+t^2)) and logistic
regression (phi = log(1+exp(-t)) with rows a_i pre-multiplied by the labels and b = 0).
The data are explicit arrays ``A: (n, d)``, ``b: (n,)`` so that any published case can be checked.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import optimize

from .backend import Array, axpy, check_matrix, check_positive, relu, xp
from .base import FiniteSum


class GLM(FiniteSum):
    """Abstract GLM finite sum. Subclasses define ``phi``, ``dphi``, ``ddphi`` (element-wise, both
    backends) and ``curvature_max`` (sup |phi''|), from which L_i = curvature_max ||a_i||^2 + reg."""

    curvature_max: float

    def __init__(self, A, b, reg: float = 0.0) -> None:
        super().__init__()
        self.A = check_matrix("A", A, 2)
        self.b = check_matrix("b", b, 1)
        if self.A.shape[0] != self.b.shape[0]:
            raise ValueError(f"A has {self.A.shape[0]} rows but b has {self.b.shape[0]} entries: they must match")
        if self.A.shape[0] < 1 or self.A.shape[1] < 1:
            raise ValueError(f"A has shape {self.A.shape}: need at least one row and one column")
        self.reg = check_positive("reg", reg, allow_zero=True)
        self.n, self.d = self.A.shape
        self.row_sq = (self.A ** 2).sum(1)
        self.gram_eigs = np.linalg.eigvalsh(self.A.T @ self.A / self.n)
        self.L_i = self.curvature_max * self.row_sq + self.reg
        self.L = float(self.curvature_max * self.gram_eigs[-1] + self.reg)

    # phi and its derivatives, element-wise; overridden per model.
    def phi(self, t):
        raise NotImplementedError

    dphi = ddphi = phi

    def f(self, x: Array) -> Array:
        r = x @ self.c("A", x).swapaxes(-1, -2) - self.c("b", x)
        return self.phi(r).mean(-1) + 0.5 * self.reg * (x * x).sum(-1)

    def grad(self, x: Array) -> Array:
        r = x @ self.c("A", x).swapaxes(-1, -2) - self.c("b", x)
        return self.dphi(r) @ self.c("A", x) / self.n + self.reg * x

    def hvp(self, x: Array, v: Array) -> Array:
        A = self.c("A", x)
        At = A.swapaxes(-1, -2)  # not .T: torch.compile's while_loop rejects that alias of a lifted input
        r = x @ At - self.c("b", x)
        return (self.ddphi(r) * (v @ At)) @ A / self.n + self.reg * v

    def _rows(self, x, idx):
        """The sampled rows a_idx: (..., k, d) and b_idx: (..., k); for k = 1 the rows come without
        the k axis, (..., d) (fewer views and passes for single-element sampling). One index_select
        each for torch."""
        A, b = self.c("A", x), self.c("b", x)
        one = idx.shape[-1] == 1
        if not isinstance(idx, torch.Tensor):
            return (A[idx[..., 0]] if one else A[idx]), b[idx]
        flat = idx.reshape(-1)
        Ai = A.index_select(0, flat)
        return (Ai if one else Ai.view(*idx.shape, self.d)), b.index_select(0, flat).view(idx.shape)

    @staticmethod
    def _dot(Ai: Array, bi: Array, v: Array) -> Array:
        """a_j^T v for the rows ``_rows`` gave: (..., k) like b_idx (v: (d,) or batched)."""
        if Ai.ndim == bi.ndim:  # k = 1, rows without the k axis
            return (Ai * v).sum(-1)[..., None]
        return (Ai * v[..., None, :]).sum(-1)

    @staticmethod
    def _row_mean(coef: Array, Ai: Array) -> Array:
        """(1/k) sum_j coef_j a_j: (..., d); for k = 1 the product itself (the mean of one term)."""
        if Ai.ndim == coef.ndim:  # k = 1, rows without the k axis
            return coef * Ai
        return (coef[..., None] * Ai).mean(-2)

    @staticmethod
    def _w_mean(w: Array) -> Array:
        """(1/k) sum_j w_j as (..., 1); w itself for k = 1."""
        return w if w.shape[-1] == 1 else w.mean(-1)[..., None]

    def _f_idx(self, x, idx, w):
        Ai, bi = self._rows(x, idx)
        val = (w * self.phi(self._dot(Ai, bi, x) - bi)).mean(-1)
        return val + 0.5 * self.reg * self._w_mean(w)[..., 0] * (x * x).sum(-1)

    def _grad_idx(self, x, idx, w):
        Ai, bi = self._rows(x, idx)
        g = self._row_mean(w * self.dphi(self._dot(Ai, bi, x) - bi), Ai)
        return axpy(g, self.reg * self._w_mean(w), x) if self.reg else g

    def _hvp_idx(self, x, v, idx, w):
        Ai, bi = self._rows(x, idx)
        coef = w * self.ddphi(self._dot(Ai, bi, x) - bi) * self._dot(Ai, bi, v)
        return axpy(self._row_mean(coef, Ai), self.reg * self._w_mean(w), v)

    def _component_min(self, i: int) -> float:
        """min_x f_i(x): the minimiser lies on span(a_i), a one-dimensional problem in s = a_i^T x / ||a_i||.

        Solved on a dense grid then refined by a bounded scalar search (robust to non-convex phi)."""
        a = np.sqrt(self.row_sq[i])
        if a == 0.0:
            return float(self.phi(np.array([-self.b[i]]))[0])
        if self.reg == 0.0:
            return self.phi_inf(self.b[i])

        def h(s):
            return self.phi(np.atleast_1d(s * a - self.b[i]))[0] + 0.5 * self.reg * s * s
        hi = (abs(self.b[i]) + 10.0) / a + 10.0
        grid = np.linspace(-hi, hi, 4001)
        vals = self.phi(grid * a - self.b[i]) + 0.5 * self.reg * grid ** 2
        k = int(np.argmin(vals))
        lo_s, hi_s = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
        res = optimize.minimize_scalar(h, bounds=(lo_s, hi_s), method="bounded",
                                       options={"xatol": 1e-14})
        return float(min(res.fun, vals[k]))

    def phi_inf(self, b_i: float) -> float:
        """inf_t phi(t) (reg = 0, a_i != 0): attained at t = 0 for the regression losses."""
        return 0.0

    def constants(self) -> dict:
        out = super().constants()
        out.update(reg=self.reg, lambda_max=float(self.gram_eigs[-1]), lambda_min=float(self.gram_eigs[0]))
        return out


class LeastSquares(GLM):
    """Ridge / least squares: f_i = 1/2 (a_i^T x - b_i)^2 + reg/2 ||x||^2.

    L_i = ||a_i||^2 + reg, L = eig_max(A^T A)/n + reg, mu = eig_min(A^T A)/n + reg (PL and strong
    convexity; ``None`` when it is 0), x* from the normal equations, f_i^inf = reg b_i^2 / (2 (||a_i||^2 + reg))."""

    name = "least_squares"
    curvature_max = 1.0

    def __init__(self, A, b, reg: float = 0.0) -> None:
        super().__init__(A, b, reg)
        mu = float(self.gram_eigs[0] + self.reg)
        self.mu = mu if mu > 1e-12 * self.L else None
        H = self.A.T @ self.A / self.n + self.reg * np.eye(self.d)
        rhs = self.A.T @ self.b / self.n
        self.x_star = np.linalg.solve(H, rhs) if self.mu is not None else np.linalg.lstsq(H, rhs, rcond=None)[0]
        self.f_star = float(self.f(self.x_star))
        denom = self.row_sq + self.reg
        safe = np.where(denom > 0, denom, 1.0)
        self.f_i_inf = np.where(denom > 0, self.reg * self.b ** 2 / (2 * safe), 0.5 * self.b ** 2)

    def phi(self, t):
        return 0.5 * t * t

    def dphi(self, t):
        return t

    def ddphi(self, t):
        return t * 0 + 1.0


class RobustRegression(GLM):
    """f_i = phi(a_i^T x - b_i) + reg/2 ||x||^2 with phi(t) = t^2/(1+t^2): smooth, nonconvex, not PL.

    phi'' ranges over [-1/2, 2] so L_i = 2 ||a_i||^2 + reg and L = 2 eig_max(A^T A)/n + reg;
    |phi'| <= 3 sqrt(3)/8 bounds the gradients. f* is unknown: f_inf = 0 is a proven lower bound
    (phi >= 0), and f_i^inf = 0 when reg = 0."""

    name = "robust_regression"
    curvature_max = 2.0
    dphi_max = 3.0 * np.sqrt(3.0) / 8.0

    def __init__(self, A, b, reg: float = 0.0) -> None:
        super().__init__(A, b, reg)
        self.f_i_inf = np.array([self._component_min(i) for i in range(self.n)])
        if self.reg == 0.0:
            self.G_inf = float(self.dphi_max * np.abs(self.A).max())

    @property
    def f_inf(self) -> float:
        return 0.0

    def phi(self, t):
        t2 = t * t
        return t2 / (1 + t2)

    def dphi(self, t):
        return 2 * t / (1 + t * t) ** 2

    def ddphi(self, t):
        t2 = t * t
        return (2 - 6 * t2) / (1 + t2) ** 3


class Logistic(GLM):
    """Logistic regression f_i = log(1 + exp(-y_i a_i^T x)) + reg/2 ||x||^2 (rows stored as y_i a_i).

    phi'' <= 1/4 so L_i = ||a_i||^2/4 + reg, L = eig_max(A^T A)/(4n) + reg; mu = reg (strong
    convexity, a valid PL constant); x*, f* by Newton's method to machine precision (reg > 0).
    ``val`` is an optional validation problem on other data (LETS compares the two losses)."""

    name = "logistic"
    curvature_max = 0.25

    def __init__(self, A, y, reg: float = 1e-3, val: "Logistic | None" = None) -> None:
        y = check_matrix("y", y, 1)
        if not np.all(np.isin(y, (-1.0, 1.0))):
            bad = np.unique(y[~np.isin(y, (-1.0, 1.0))])[:5]
            raise ValueError(f"labels y must be -1 or +1; got {', '.join(repr(float(v)) for v in bad)}")
        A = check_matrix("A", A, 2)
        if A.shape[0] != y.shape[0]:
            raise ValueError(f"A has {A.shape[0]} rows but y has {y.shape[0]} entries: they must match")
        super().__init__(A * y[:, None], np.zeros_like(y), check_positive("reg", reg))
        self.y = y
        self.mu = self.reg
        self.val = val
        self.x_star = self._newton()
        self.f_star = float(self.f(self.x_star))
        self.f_i_inf = np.array([self._component_min(i) for i in range(self.n)])

    def _newton(self) -> np.ndarray:
        x = np.zeros(self.d)
        H0 = np.eye(self.d)
        for _ in range(100):
            g = self.grad(x)
            if np.linalg.norm(g) <= 1e-15 * max(1.0, np.linalg.norm(x)):
                break
            r = x @ self.A.T
            H = (self.A.T * self.ddphi(r)) @ self.A / self.n + self.reg * H0
            step = np.linalg.solve(H, g)
            fx, tau = self.f(x), 1.0
            while self.f(x - tau * step) > fx and tau > 1e-10:
                tau *= 0.5
            x = x - tau * step
        return x

    def phi(self, t):
        return relu(-t) + xp(t).log1p(xp(t).exp(-xp(t).abs(t)))

    def dphi(self, t):
        return -0.5 * (1 - xp(t).tanh(0.5 * t))

    def ddphi(self, t):
        th = xp(t).tanh(0.5 * t)
        return 0.25 * (1 - th * th)
