"""AdaSAM: s = grad_S(x_t); e = rho_t s / ||s||; g = grad_S(x_t + e); m_t = b1 m + (1-b1) g;
v_t = b2 v + (1-b2) g*g; vhat_t = max(vhat, v_t); x_{t+1} = x_t - gamma_t m_t / sqrt(vhat_t).

Paper: Sun et al., AdaSAM: Boosting Sharpness-Aware Minimization with Adaptive Learning Rate and
Momentum. Status: [confirmed update, Sun et al.].
m_{-1} = 0, v_{-1} = 0, vhat_{-1} = eps^2 * 1; no bias correction, no additive eps (rho = 0 is
AMSGrad with v0="zero"). ``v0="eps2"`` starts v_{-1} = eps^2 instead, as the public implementation
dimitris-oik/sam_sps does (rho = 0 is then AMSGrad with v0="eps2"). b1 = 0 is the momentum-free variant. Records the per-coordinate step
gamma_t / sqrt(vhat_t) after the update of vhat: its min and max over coordinates per step.
"""
from __future__ import annotations

import numpy as np

from .common import descent_samples, normalize, value_at


def run(problem, samples, x0, T, *, lr, rho, same_sample, norm_eps, b1, b2, eps, v0):
    S, S_descent = samples["S"], descent_samples(samples, same_sample)
    x = np.array(x0, dtype=np.float64)
    m = np.zeros_like(x)  # docs/algorithms.md#adasam: m_{-1} = 0
    v = np.full_like(x, eps * eps) if v0 == "eps2" else np.zeros_like(x)  # docs/algorithms.md#adasam: v_{-1} = 0 (v0="eps2": eps^2)
    vhat = np.full_like(x, eps * eps)  # docs/algorithms.md#adasam: vhat_{-1} = eps^2 * 1
    xs, step_min, step_max = [x], [], []
    for t in range(T):
        gamma = value_at(lr, t)
        s = problem.stoch_grad(x, S[t])  # docs/algorithms.md#adasam: s = grad_S(x_t)
        e = value_at(rho, t) * normalize(s, norm_eps)  # docs/algorithms.md#adasam: e = rho_t s/||s||
        g = problem.stoch_grad(x + e, S_descent[t])  # docs/algorithms.md#adasam: g = grad_S(x_t + e)
        m = b1 * m + (1 - b1) * g  # docs/algorithms.md#adasam: m_t = b1 m + (1-b1) g
        v = b2 * v + (1 - b2) * g * g  # docs/algorithms.md#adasam: v_t = b2 v + (1-b2) g*g
        vhat = np.maximum(vhat, v)  # docs/algorithms.md#adasam: vhat_t = max(vhat, v_t)
        step = gamma / np.sqrt(vhat)  # the per-coordinate step gamma_t / sqrt(vhat_t) (trace only)
        step_min.append(step.min())
        step_max.append(step.max())
        x = x - gamma * m / np.sqrt(vhat)  # docs/algorithms.md#adasam: x_{t+1} = x_t - gamma_t m_t/sqrt(vhat_t)
        xs.append(x)
    return {"x": np.stack(xs), "step_min": np.array(step_min), "step_max": np.array(step_max)}
