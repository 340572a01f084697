"""The pieces every reference rule shares, one copy each.

Conventions, applied identically in every file of ``optim/reference``:

- Normalisation (docs/algorithms.md#sam): ``normalize(s, norm_eps) = s / (||s|| + norm_eps)`` with the
  global L2 norm, and exactly 0 when ||s|| = 0 (so the perturbation vanishes with the gradient).
- ASAM direction (docs/algorithms.md#asam): ``T*T*s / (||T*s|| + norm_eps)``, computed as
  ``T * normalize(T*s)``; with ``operator="identity"`` (T = 1) it is ``normalize(s)`` bit for bit.
- ``eps_mode`` (docs/algorithms.md#conventions): ``"init"`` (default) puts eps only in the initial
  accumulator, v_{-1} = eps^2, and divides by sqrt(v_t); ``"add"`` starts that accumulator at 0 and
  divides by sqrt(v_t) + eps (the Kingma & Ba / PyTorch convention). Every accumulator that "init"
  starts at eps^2 starts at 0 under "add" (AdaGrad-Norm's v, AdaGrad's v, Adam's v, AMSGrad's v and
  vhat), so under "add" AMSGrad's ``v0`` option makes no difference.
- Same sample (docs/algorithms.md#conventions): the ascent gradient always uses S_t; the descent gradient
  uses S_t, or the independent stream "S2" (S'_t) when ``same_sample=False``.
- ``value_at`` (from ``optim.schedules``): a hyperparameter's value at step t, schedules evaluated.
"""
from __future__ import annotations

import numpy as np

from ..schedules import value_at

__all__ = ["accumulator_start", "asam_direction", "denominator", "descent_samples", "normalize", "value_at"]


def normalize(s: np.ndarray, norm_eps: float) -> np.ndarray:
    """s / (||s|| + norm_eps), and 0 when ||s|| = 0 (docs/algorithms.md#sam)."""
    nrm = np.linalg.norm(s)
    return s / (nrm + norm_eps) if nrm > 0 else np.zeros_like(s)


def asam_direction(x: np.ndarray, s: np.ndarray, eta_A: float, operator: str, norm_eps: float) -> np.ndarray:
    """T*T*s / ||T*s|| with T = |x| + eta_A ("abs_plus_eta"), |x| ("abs") or 1 ("identity")."""
    if operator == "abs_plus_eta":
        op = np.abs(x) + eta_A  # docs/algorithms.md#asam: T = |x_t| + eta_A (official form)
    elif operator == "abs":
        op = np.abs(x)  # docs/algorithms.md#asam: the variant T = |x_t|
    else:
        op = np.ones_like(x)  # T = 1: ASAM reduces to SAM
    return op * normalize(op * s, norm_eps)  # docs/algorithms.md#asam: T*T*s/||T*s||


def accumulator_start(eps: float, eps_mode: str) -> float:
    """v_{-1}: eps^2 under eps_mode="init", 0 under "add"."""
    return eps * eps if eps_mode == "init" else 0.0


def denominator(v, eps: float, eps_mode: str):
    """sqrt(v) under eps_mode="init", sqrt(v) + eps under "add"."""
    return np.sqrt(v) if eps_mode == "init" else np.sqrt(v) + eps


def descent_samples(samples: dict, same_sample: bool) -> list:
    """The samples of the descent gradient: S_t, or the independent S'_t (stream "S2")."""
    return samples["S"] if same_sample else samples["S2"]
