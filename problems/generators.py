"""Seeded generators for the problem families (every one can also be built from explicit arrays)."""
from __future__ import annotations

import numpy as np

from .backend import check_positive
from .glm import LeastSquares, Logistic, RobustRegression
from .pl_sine import PLSine
from .quadratic import Quadratic
from .two_quadratics import TwoQuadratics


def _check_size(name: str, v) -> int:
    if int(v) != v or v < 1:
        raise ValueError(f"{name}={v!r} is not allowed: must be an integer >= 1")
    return int(v)


def design_matrix(n: int, d: int, cond: float = 10.0, row_spread: float = 1.0, seed: int = 0) -> np.ndarray:
    """A: (n, d) whose Gram A^T A / n has eigenvalues log-spaced in [1/cond, 1] (n >= d), rows then
    rescaled by log-spaced factors in [1, row_spread] (uneven L_i, for importance sampling)."""
    n, d = _check_size("n", n), _check_size("d", d)
    if not cond >= 1:
        raise ValueError(f"cond={cond!r} is not allowed: the condition number must be >= 1")
    if not row_spread >= 1:
        raise ValueError(f"row_spread={row_spread!r} is not allowed: must be >= 1")
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, min(n, d))))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.sqrt(n * np.geomspace(1.0 / cond, 1.0, min(n, d)))
    A = U @ np.diag(s) @ V[:, : min(n, d)].T
    return A * rng.permutation(np.geomspace(1.0, row_spread, n))[:, None]


def least_squares(n: int = 100, d: int = 10, cond: float = 10.0, reg: float = 0.0, noise: float = 0.5,
                  row_spread: float = 1.0, seed: int = 0) -> LeastSquares:
    """Least squares / ridge with b = A x_true + noise * N(0, 1)."""
    rng = np.random.default_rng(seed + 1)
    A = design_matrix(n, d, cond, row_spread, seed)
    b = A @ rng.standard_normal(A.shape[1]) + check_positive("noise", noise, allow_zero=True) * rng.standard_normal(A.shape[0])
    return LeastSquares(A, b, reg)


def robust_regression(n: int = 100, d: int = 10, outliers: float = 0.1, seed: int = 0) -> RobustRegression:
    """Robust regression with Gaussian rows scaled to ||a_i||^2 ≈ 1 and a fraction of outlier targets."""
    n, d = _check_size("n", n), _check_size("d", d)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)) / np.sqrt(d)
    b = A @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    flip = rng.random(n) < outliers
    b[flip] += 5.0 * rng.standard_normal(flip.sum())
    return RobustRegression(A, b)


def logistic(n: int = 200, n_val: int = 200, d: int = 10, label_noise: float = 0.0, shift: float = 0.0,
             reg: float = 1e-2, seed: int = 0) -> Logistic:
    """Logistic regression with a validation set; ``label_noise`` flips that fraction of training
    labels, ``shift`` moves the validation features' mean by ``shift`` along a fixed direction."""
    if not 0 <= label_noise < 1:
        raise ValueError(f"label_noise={label_noise!r} is not allowed: must lie in [0, 1)")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w) / 2.0

    def data(m, mean_shift):
        X = rng.standard_normal((_check_size("n", m), d)) / np.sqrt(d) + mean_shift
        y = np.where(rng.random(m) < 1.0 / (1.0 + np.exp(-X @ w)), 1.0, -1.0)
        return X, y

    u = rng.standard_normal(d)
    X, y = data(n, 0.0)
    y = np.where(rng.random(n) < label_noise, -y, y)
    Xv, yv = data(n_val, shift * u / np.linalg.norm(u))
    return Logistic(X, y, reg, val=Logistic(Xv, yv, reg))


def make_problem(name: str, **kw):
    """A problem by family name with generator keywords (see each generator)."""
    makers = {"quadratic": Quadratic.with_condition, "least_squares": least_squares, "ridge": least_squares,
              "pl_sine": PLSine, "robust_regression": robust_regression, "logistic": logistic,
              "two_quadratics": TwoQuadratics}
    if name not in makers:
        raise ValueError(f"unknown problem {name!r}: choose from {', '.join(makers)}")
    if name == "ridge":
        kw.setdefault("reg", 0.1)
    return makers[name](**kw)


PROBLEMS = ("quadratic", "least_squares", "ridge", "pl_sine", "robust_regression", "logistic", "two_quadratics")
