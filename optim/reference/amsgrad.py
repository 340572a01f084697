"""AMSGrad: Adam plus vhat_t = max(vhat_{t-1}, v_t), vhat_{-1} = eps^2; x_{t+1} = x_t - eta m_t / sqrt(vhat_t).

Paper: Reddi, Kale & Kumar (2018). Status: confirmed (a base rule; docs/algorithms.md#amsgrad;
listed without a tag). No bias correction. ``v0="eps2"`` (default) starts v_{-1} = eps^2 as the
base rule says, ``v0="zero"`` starts v_{-1} = 0 as inside AdaSAM. ``eps_mode`` as in ``common``.
"""
from __future__ import annotations

import numpy as np

from .common import accumulator_start, denominator, value_at


def run(problem, samples, x0, T, *, lr, b1, b2, eps, eps_mode, v0):
    S = samples["S"]
    x = np.array(x0, dtype=np.float64)
    m = np.zeros_like(x)  # docs/algorithms.md#adam: m_{-1} = 0
    v = np.full_like(x, accumulator_start(eps, eps_mode) if v0 == "eps2" else 0.0)  # v_{-1} = eps^2 (or 0)
    vhat = np.full_like(x, accumulator_start(eps, eps_mode))  # docs/algorithms.md#amsgrad: vhat_{-1} = eps^2
    xs = [x]
    for t in range(T):
        g = problem.stoch_grad(x, S[t])  # g_t = grad_S(x_t)
        m = b1 * m + (1 - b1) * g  # docs/algorithms.md#adam: m_t = b1 m + (1-b1) g_t
        v = b2 * v + (1 - b2) * g * g  # docs/algorithms.md#adam: v_t = b2 v + (1-b2) g_t*g_t
        vhat = np.maximum(vhat, v)  # docs/algorithms.md#amsgrad: vhat_t = max(vhat_{t-1}, v_t)
        x = x - value_at(lr, t) * m / denominator(vhat, eps, eps_mode)  # AMSGrad: x_{t+1} = x_t - eta m_t/sqrt(vhat_t)
        xs.append(x)
    return {"x": np.stack(xs)}
