"""SGD: x_{t+1} = x_t - gamma_t g_t with g_t = grad_S(x_t).

Paper: Robbins & Monro (1951). Status: confirmed (a base rule; docs/algorithms.md#base-rules lists it
without a tag).
"""
from __future__ import annotations

import numpy as np

from .common import value_at


def run(problem, samples, x0, T, *, lr):
    S = samples["S"]
    x = np.array(x0, dtype=np.float64)
    xs = [x]
    for t in range(T):
        g = problem.stoch_grad(x, S[t])  # docs/algorithms.md#sgd: g_t = grad_S(x_t)
        x = x - value_at(lr, t) * g  # docs/algorithms.md#sgd: x_{t+1} = x_t - gamma_t g_t
        xs.append(x)
    return {"x": np.stack(xs)}
