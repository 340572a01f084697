"""Step-size, radius and lambda schedules: values passed into a rule, never hidden inside it.

A schedule maps the step index t (from 0) and a base value c (a float, or an (R,) array/tensor for a
batch of runs) to the value used at step t. Horizon-dependent choices (c/sqrt(T), the AdaSAM
corollary) are constants per run: compute them with ``horizon_constant`` / ``adasam_corollary``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

KINDS = ("constant", "inv_sqrt_t", "inv_t", "unified_gamma", "unified_rho", "lambda_inv_t", "lambda_one_minus_inv_t")


@dataclass(frozen=True)
class Schedule:
    """value_t for base value c:

    - ``constant``: c;  ``inv_sqrt_t``: c / sqrt(t+t0);  ``inv_t``: c / (t+t0) (t0 = 1 by default);
    - ``unified_gamma``: min(c, (2t+1) / ((t+1)^2 mu)) (Unified SAM Thm 3.5, needs ``mu``);
    - ``unified_rho``: min(c, 1 / (2t+1));
    - ``lambda_inv_t``: 1/(t+1) ("1/t" with t counted from 1); ``lambda_one_minus_inv_t``: 1 - 1/(t+1).
    ``c`` is a float or an (R,) array; the lambda schedules ignore it.
    """

    kind: str
    c: float | np.ndarray = 1.0
    mu: Optional[float] = None
    t0: float = 1.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown schedule {self.kind!r}: choose from {', '.join(KINDS)}")
        if self.kind == "unified_gamma" and not (self.mu is not None and self.mu > 0):
            raise ValueError(f"schedule unified_gamma needs mu > 0, got mu={self.mu!r}")
        if not self.t0 > 0:
            raise ValueError(f"t0={self.t0!r} is not allowed: the schedule offset must be > 0")

    def factor(self, t: int):
        """The scalar part of the schedule at step t (multiplier or cap). t may be a 0-d torch tensor
        (the compiled engine's loop counter): the same float64 operations, so the same values."""
        k = self.kind
        if k == "constant":
            return 1.0
        if isinstance(t, torch.Tensor):
            t = t.to(torch.float64)
        if k == "inv_sqrt_t":
            return 1.0 / (t + self.t0).sqrt() if isinstance(t, torch.Tensor) else 1.0 / math.sqrt(t + self.t0)
        if k == "inv_t":
            return 1.0 / (t + self.t0)
        if k == "unified_gamma":
            return (2 * t + 1) / ((t + 1) ** 2 * self.mu)
        if k == "unified_rho":
            return 1.0 / (2 * t + 1)
        if k == "lambda_inv_t":
            return 1.0 / (t + 1)
        return 1.0 - 1.0 / (t + 1)

    def at(self, t: int, c):
        """Value at step t with base ``c`` (a float or an array/tensor of shape (R,))."""
        h = self.factor(t)
        if self.kind in ("unified_gamma", "unified_rho"):
            return c.clamp(max=h) if hasattr(c, "clamp") else np.minimum(c, h)
        if self.kind.startswith("lambda"):
            return c * 0 + h
        return c * h

    @property
    def values(self) -> np.ndarray:
        """The base values as a float64 array (for validation)."""
        return np.atleast_1d(np.asarray(self.c, dtype=np.float64))

    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value the schedule can take over t >= 0 and all runs."""
        v = self.values
        if self.kind == "constant":
            return float(v.min()), float(v.max())
        if self.kind.startswith("lambda"):
            return (0.0, 1.0)
        return (0.0, float(v.max()))


def value_at(v, t: int):
    """A hyperparameter's value at step t: schedules are evaluated, constants returned as they are."""
    return v.at(t, v.c) if isinstance(v, Schedule) else v


def horizon_constant(c, T, power: float = 0.5) -> np.ndarray:
    """c / T^power per run (the c/sqrt(T) schedules of the theorems): (R,) float64."""
    return np.asarray(c, dtype=np.float64) / np.asarray(T, dtype=np.float64) ** power


def adasam_corollary(c_g, c_r, b, T) -> tuple[np.ndarray, np.ndarray]:
    """AdaSAM corollary schedule [reconstructed]: gamma = c_g sqrt(b/T), rho = c_r / sqrt(b T)."""
    b = np.asarray(b, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    return np.asarray(c_g) * np.sqrt(b / T), np.asarray(c_r) / np.sqrt(b * T)
