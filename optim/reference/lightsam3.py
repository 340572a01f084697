"""LightSAM-III (Adam ascent / Adam descent): r_t = b1 r + (1-b1) s; u_t = b2 u + (1-b2) s*s;
w = x_t + rho r_t / sqrt(u_t); g = grad_S(w); m_t = b1 m + (1-b1) g; v_t = b2 v + (1-b2) g*g;
x_{t+1} = x_t - eta m_t / sqrt(v_t); r_{-1} = m_{-1} = 0, u_{-1} = v_{-1} = eps^2.

Paper: Cheng et al., LightSAM: Parameter-Agnostic Sharpness-Aware Minimization. Status:
[reconstructed]. Perturbing along the first moment r_t (``perturb_with="momentum"``, default) rather
than the raw gradient s (``perturb_with="gradient"``: w = x_t + rho s / sqrt(u_t)) is the unverified
point. No bias correction. Records the effective radius ||w - x_t||. rho = 0 is Adam (eps_mode="init",
no bias correction) bit for bit.
"""
from __future__ import annotations

import numpy as np

from .common import descent_samples, value_at


def run(problem, samples, x0, T, *, lr, rho, same_sample, b1, b2, eps, perturb_with):
    S, S_descent = samples["S"], descent_samples(samples, same_sample)
    x = np.array(x0, dtype=np.float64)
    r = np.zeros_like(x)  # docs/algorithms.md#lightsam-iii: r_{-1} = 0
    m = np.zeros_like(x)  # docs/algorithms.md#lightsam-iii: m_{-1} = 0
    u = np.full_like(x, eps * eps)  # docs/algorithms.md#lightsam-iii: u_{-1} = eps^2
    v = np.full_like(x, eps * eps)  # docs/algorithms.md#lightsam-iii: v_{-1} = eps^2
    xs, eff_radius = [x], []
    for t in range(T):
        s = problem.stoch_grad(x, S[t])  # docs/algorithms.md#lightsam-i: s = grad_S(x_t)
        r = b1 * r + (1 - b1) * s  # docs/algorithms.md#lightsam-iii: r_t = b1 r + (1-b1) s
        u = b2 * u + (1 - b2) * s * s  # docs/algorithms.md#lightsam-iii: u_t = b2 u + (1-b2) s*s
        p = r if perturb_with == "momentum" else s  # docs/algorithms.md#lightsam-iii: perturb_with="momentum"|"gradient"
        w = x + value_at(rho, t) * p / np.sqrt(u)  # docs/algorithms.md#lightsam-iii: w = x_t + rho r_t/sqrt(u_t)
        eff_radius.append(np.linalg.norm(w - x))  # effective radius ||w - x_t||
        g = problem.stoch_grad(w, S_descent[t])  # docs/algorithms.md#lightsam-iii: g = grad_S(w)
        m = b1 * m + (1 - b1) * g  # docs/algorithms.md#lightsam-iii: m_t = b1 m + (1-b1) g
        v = b2 * v + (1 - b2) * g * g  # docs/algorithms.md#lightsam-iii: v_t = b2 v + (1-b2) g*g
        x = x - value_at(lr, t) * m / np.sqrt(v)  # docs/algorithms.md#lightsam-iii: x_{t+1} = x_t - eta m_t/sqrt(v_t)
        xs.append(x)
    return {"x": np.stack(xs), "eff_radius": np.array(eff_radius)}
