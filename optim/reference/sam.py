"""SAM: s = grad_S(x_t); e = rho_t s / ||s||; x_{t+1} = x_t - gamma_t grad_S(x_t + e).

Paper: Foret et al., Sharpness-Aware Minimization (ICLR 2021). Status: [confirmed].
e = 0 when ||s|| = 0; ``norm_eps`` (default 0) is added to ||s||. The descent gradient uses S_t, or
an independent S'_t when ``same_sample=False``.
"""
from __future__ import annotations

import numpy as np

from .common import descent_samples, normalize, value_at


def run(problem, samples, x0, T, *, lr, rho, same_sample, norm_eps):
    S, S_descent = samples["S"], descent_samples(samples, same_sample)
    x = np.array(x0, dtype=np.float64)
    xs = [x]
    for t in range(T):
        s = problem.stoch_grad(x, S[t])  # docs/algorithms.md#sam: s = grad_S(x_t)
        e = value_at(rho, t) * normalize(s, norm_eps)  # docs/algorithms.md#sam: e = rho_t s/||s|| (0 when s = 0)
        x = x - value_at(lr, t) * problem.stoch_grad(x + e, S_descent[t])  # x_{t+1} = x_t - gamma_t grad_S(x_t + e)
        xs.append(x)
    return {"x": np.stack(xs)}
