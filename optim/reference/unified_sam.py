"""Unified SAM: s = grad_S(x_t); e = rho_t ((1 - lambda) + lambda / ||s||) s;
x_{t+1} = x_t - gamma_t grad_S(x_t + e). lambda = 0 is USAM, lambda = 1 is SAM.

Paper: Oikonomou & Loizou, Sharpness-Aware Minimization: General Analysis and Improved Rates
(ICLR 2025). Status: [confirmed, Oikonomou & Loizou].
e is written rho_t ((1 - lambda) s + lambda s/||s||), with s/||s|| the safe normalisation of
``common`` (0 when s = 0, ``norm_eps`` added to ||s||): lambda = 0 and lambda = 1 then give USAM and
SAM bit for bit. lambda may be a schedule (Schedule("lambda_inv_t") = 1/t, Schedule("lambda_one_minus_inv_t")
= 1 - 1/t, t counted from 1); the theorems assume a constant lambda.
"""
from __future__ import annotations

import numpy as np

from .common import descent_samples, normalize, value_at


def run(problem, samples, x0, T, *, lr, rho, same_sample, norm_eps, lam):
    S, S_descent = samples["S"], descent_samples(samples, same_sample)
    x = np.array(x0, dtype=np.float64)
    xs = [x]
    for t in range(T):
        s = problem.stoch_grad(x, S[t])  # docs/algorithms.md#sam: s = grad_S(x_t)
        lam_t = value_at(lam, t)  # docs/algorithms.md#unified-sam: lambda (constant or schedule)
        e = value_at(rho, t) * ((1 - lam_t) * s + lam_t * normalize(s, norm_eps))  # e = rho_t((1-lam) + lam/||s||) s
        x = x - value_at(lr, t) * problem.stoch_grad(x + e, S_descent[t])  # x_{t+1} = x_t - gamma_t grad_S(x_t + e)
        xs.append(x)
    return {"x": np.stack(xs)}
