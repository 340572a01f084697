"""AdaGrad-Norm: v_t = v_{t-1} + ||g_t||^2, v_{-1} = eps^2; x_{t+1} = x_t - eta g_t / sqrt(v_t).

Paper: Ward, Wu & Bottou (2019). Status: confirmed (a base rule; docs/algorithms.md#base-rules lists
it without a tag). ``eps_mode`` as in ``common``: "init" (default) or "add" (v_{-1} = 0, sqrt(v) + eps).
"""
from __future__ import annotations

import numpy as np

from .common import accumulator_start, denominator, value_at


def run(problem, samples, x0, T, *, lr, eps, eps_mode):
    S = samples["S"]
    x = np.array(x0, dtype=np.float64)
    v = accumulator_start(eps, eps_mode)  # docs/algorithms.md#adagrad-norm: v_{-1} = eps^2
    xs = [x]
    for t in range(T):
        g = problem.stoch_grad(x, S[t])  # g_t = grad_S(x_t)
        v = v + g @ g  # docs/algorithms.md#adagrad-norm: v_t = v_{t-1} + ||g_t||^2
        x = x - value_at(lr, t) * g / denominator(v, eps, eps_mode)  # AdaGrad-Norm: x_{t+1} = x_t - eta g_t/sqrt(v_t)
        xs.append(x)
    return {"x": np.stack(xs)}
