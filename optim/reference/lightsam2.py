"""LightSAM-II (AdaGrad ascent / AdaGrad descent): LightSAM-I with per-coordinate accumulators
u_t = u_{t-1} + s*s, v_t = v_{t-1} + g*g, initial eps^2 in every coordinate:
w = x_t + rho s / sqrt(u_t); g = grad_S(w); x_{t+1} = x_t - eta g / sqrt(v_t).

Paper: Cheng et al., LightSAM: Parameter-Agnostic Sharpness-Aware Minimization. Status: [third-party
code only]. Records the effective radius ||w - x_t||. rho = 0 is AdaGrad (eps_mode="init") bit for bit.
"""
from __future__ import annotations

import numpy as np

from .common import descent_samples, value_at


def run(problem, samples, x0, T, *, lr, rho, same_sample, eps):
    S, S_descent = samples["S"], descent_samples(samples, same_sample)
    x = np.array(x0, dtype=np.float64)
    u = np.full_like(x, eps * eps)  # docs/algorithms.md#lightsam-ii: u_{-1} = eps^2 in every coordinate
    v = np.full_like(x, eps * eps)  # docs/algorithms.md#lightsam-ii: v_{-1} = eps^2 in every coordinate
    xs, eff_radius = [x], []
    for t in range(T):
        s = problem.stoch_grad(x, S[t])  # docs/algorithms.md#lightsam-i: s = grad_S(x_t)
        u = u + s * s  # docs/algorithms.md#lightsam-ii: u_t = u + s*s
        w = x + value_at(rho, t) * s / np.sqrt(u)  # docs/algorithms.md#lightsam-ii: w = x_t + rho s/sqrt(u_t)
        eff_radius.append(np.linalg.norm(w - x))  # effective radius ||w - x_t||
        g = problem.stoch_grad(w, S_descent[t])  # docs/algorithms.md#lightsam-i: g = grad_S(w)
        v = v + g * g  # docs/algorithms.md#lightsam-ii: v_t = v + g*g
        x = x - value_at(lr, t) * g / np.sqrt(v)  # docs/algorithms.md#lightsam-ii: x_{t+1} = x_t - eta g/sqrt(v_t)
        xs.append(x)
    return {"x": np.stack(xs), "eff_radius": np.array(eff_radius)}
