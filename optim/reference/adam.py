"""Adam: m_t = b1 m + (1-b1) g_t, v_t = b2 v + (1-b2) g_t*g_t, m_{-1} = 0, v_{-1} = eps^2;
x_{t+1} = x_t - eta m_t / sqrt(v_t).

Paper: Kingma & Ba (2015). Status: confirmed (a base rule; docs/algorithms.md#base-rules lists it
without a tag). No bias correction by default (matching the SAM variants); ``bias_correction=True``
divides m_t by 1 - b1^(t+1) and v_t by 1 - b2^(t+1). ``eps_mode`` as in ``common``.
"""
from __future__ import annotations

import numpy as np

from .common import accumulator_start, denominator, value_at


def run(problem, samples, x0, T, *, lr, b1, b2, eps, eps_mode, bias_correction):
    S = samples["S"]
    x = np.array(x0, dtype=np.float64)
    m = np.zeros_like(x)  # docs/algorithms.md#adam: m_{-1} = 0
    v = np.full_like(x, accumulator_start(eps, eps_mode))  # docs/algorithms.md#adam: v_{-1} = eps^2
    xs = [x]
    for t in range(T):
        g = problem.stoch_grad(x, S[t])  # g_t = grad_S(x_t)
        m = b1 * m + (1 - b1) * g  # docs/algorithms.md#adam: m_t = b1 m + (1-b1) g_t
        v = b2 * v + (1 - b2) * g * g  # docs/algorithms.md#adam: v_t = b2 v + (1-b2) g_t*g_t
        if bias_correction:
            m_hat, v_hat = m / (1 - b1 ** (t + 1)), v / (1 - b2 ** (t + 1))  # option: bias correction
        else:
            m_hat, v_hat = m, v  # default: no bias correction
        x = x - value_at(lr, t) * m_hat / denominator(v_hat, eps, eps_mode)  # Adam: x_{t+1} = x_t - eta m_t/sqrt(v_t)
        xs.append(x)
    return {"x": np.stack(xs)}
