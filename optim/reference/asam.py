"""ASAM: T = |x_t| + eta_A (element-wise); e = rho_t T*T*s / ||T*s||; x_{t+1} = x_t - gamma_t grad_S(x_t + e).

Paper: Kwon et al., ASAM: Adaptive Sharpness-Aware Minimization (ICML 2021). Status: [confirmed,
official form]. ``operator``: "abs_plus_eta" (official, default eta_A = 0.01), "abs" (T = |x_t|),
"identity" (T = 1, ASAM = SAM bit for bit). e = 0 when ||T*s|| = 0; ``norm_eps`` is added to ||T*s||.
"""
from __future__ import annotations

import numpy as np

from .common import asam_direction, descent_samples, value_at


def run(problem, samples, x0, T, *, lr, rho, same_sample, norm_eps, eta_A, operator):
    S, S_descent = samples["S"], descent_samples(samples, same_sample)
    x = np.array(x0, dtype=np.float64)
    xs = [x]
    for t in range(T):
        s = problem.stoch_grad(x, S[t])  # docs/algorithms.md#sam: s = grad_S(x_t)
        e = value_at(rho, t) * asam_direction(x, s, eta_A, operator, norm_eps)  # ASAM: e = rho_t T*T*s/||T*s||
        x = x - value_at(lr, t) * problem.stoch_grad(x + e, S_descent[t])  # x_{t+1} = x_t - gamma_t grad_S(x_t + e)
        xs.append(x)
    return {"x": np.stack(xs)}
