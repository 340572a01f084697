"""AdaGrad: per-coordinate v_t = v_{t-1} + g_t*g_t, v_{-1} = eps^2 * 1; x_{t+1} = x_t - eta g_t / sqrt(v_t).

Paper: Duchi, Hazan & Singer (2011). Status: confirmed (a base rule; docs/algorithms.md#adagrad;
listed without a tag). ``eps_mode`` as in ``common``: "init" (default) or "add".
"""
from __future__ import annotations

import numpy as np

from .common import accumulator_start, denominator, value_at


def run(problem, samples, x0, T, *, lr, eps, eps_mode):
    S = samples["S"]
    x = np.array(x0, dtype=np.float64)
    v = np.full_like(x, accumulator_start(eps, eps_mode))  # docs/algorithms.md#adagrad: v_{-1} = eps^2 * 1
    xs = [x]
    for t in range(T):
        g = problem.stoch_grad(x, S[t])  # g_t = grad_S(x_t)
        v = v + g * g  # docs/algorithms.md#adagrad: v_t = v_{t-1} + g_t*g_t
        x = x - value_at(lr, t) * g / denominator(v, eps, eps_mode)  # AdaGrad: x_{t+1} = x_t - eta g_t/sqrt(v_t)
        xs.append(x)
    return {"x": np.stack(xs)}
