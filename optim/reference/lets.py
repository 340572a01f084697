"""LETS: a learned perturbation radius for SAM (LETS-SAM) or ASAM (LETS-ASAM).

Paper: Wang, Jiang, Fu & Zhang, LETS (arXiv 2408.08222, titled "Enhancing Sharpness-Aware Minimization by
Learning Perturbation Radius"). Status:
[reconstructed]: the paper's full text was unavailable, so the whole rule below (docs/algorithms.md#lets) is
derived here, and every choice in it is an option.

Bilevel: the lower level is a SAM (``direction="sam"``) or ASAM (``direction="asam"``) step with
radius rho_t; the upper level minimises J = 1/2 (L_val(x) - L_train(x))^2 over rho with step beta.
One iteration, order "lower_first" (default):
 1. s = grad_S(x_t); n_t = s/||s|| (SAM) or T*T*s/||T*s|| (ASAM); w = x_t + rho_t n_t;
    g = grad_S(w); x_{t+1} = x_t - eta_t g.
 2. Delta = L_val(x_{t+1}; V_t) - L_train(x_{t+1}; S'_t), S'_t = S_t (default) or the fresh batch of
    stream "S2" (``fresh_train_batch=True``); L_val is evaluated on ``problem.val`` when the problem
    has one, else on the problem itself.
 3. dJ/drho = Delta (grad L_val(x_{t+1}; V_t) - grad L_train(x_{t+1}; S'_t))^T dx_{t+1}/drho,
    dx_{t+1}/drho = -eta_t H n_t with H n_t: "exact" (default) the sample HVP at w; "diag_gn"
    (g*g)*n_t; "identity" n_t; "hutchinson" (z * H z)*n_t, z the Rademacher probe of stream "Z".
 4. rho_{t+1} = project(rho_t - beta dJ/drho): "clamp0" (default) max(., 0); "none"; "softplus"
    rho = softplus(theta), theta_0 = log(expm1(rho_0)), theta -= beta dJ/drho sigmoid(theta).
    Then the optional cap rho_{t+1} = min(rho_{t+1}, rho_max_{t+1}) (default: no cap). With
    "softplus", a binding cap also resets theta = log(expm1(rho_{t+1})) so that rho = softplus(theta).
Order "upper_first": steps 1-4 as above (step 1 is then a tentative step), followed by the real
lower step with rho_{t+1}: w and g recomputed, n_t unchanged.

Entry point: ``run(problem, samples, x0, T, direction="sam"|"asam", **hp)`` serves both lets_sam and
lets_asam (``eta_A`` and ``operator`` only for "asam"). Returns the iterates and rho_0 .. rho_T.
beta = 0 is fixed-radius SAM / ASAM bit for bit (with rho_constraint "clamp0" or "none").
"""
from __future__ import annotations

import numpy as np

from .common import asam_direction, normalize, value_at


def _lower_step(problem, x, n, rho, eta, S_t):
    w = x + rho * n  # LETS step 1: w = x_t + rho_t n_t
    g = problem.stoch_grad(w, S_t)  # LETS step 1: g = grad_S(w)
    return w, g, x - eta * g  # LETS step 1: x_{t+1} = x_t - eta_t g


def _hypergradient(problem, val, x_next, w, g, n, eta, S_t, V_t, train_t, z, hessian):
    delta = val.stoch_f(x_next, V_t) - problem.stoch_f(x_next, train_t)  # LETS step 2: Delta = L_val - L_train
    dJ_dx = delta * (val.stoch_grad(x_next, V_t) - problem.stoch_grad(x_next, train_t))  # step 3: dJ/dx_{t+1}
    if hessian == "exact":
        Hn = problem.stoch_hvp(w, n, S_t)  # LETS step 3: H n_t, exact Hessian-vector product at w
    elif hessian == "diag_gn":
        Hn = (g * g) * n  # LETS step 3: H = diag(g*g), g the perturbed gradient
    elif hessian == "identity":
        Hn = n  # LETS step 3: H = I
    else:
        Hn = (z * problem.stoch_hvp(w, z, S_t)) * n  # LETS step 3: H = diag(z * H z), Hutchinson
    return dJ_dx @ (-eta * Hn)  # LETS step 3: dJ/drho = dJ/dx_{t+1}^T dx_{t+1}/drho, dx_{t+1}/drho = -eta_t H n_t


def run(problem, samples, x0, T, *, direction, lr, rho, beta, hessian, rho_constraint, rho_max, order,
        fresh_train_batch, norm_eps, eta_A=None, operator=None):
    if rho_constraint == "softplus" and not rho > 0:
        raise ValueError(f"rho={rho!r} is not allowed with rho_constraint='softplus': rho_0 must be > 0")
    val = problem.val if getattr(problem, "val", None) is not None else problem  # L_val: validation problem
    S, V = samples["S"], samples["V"]
    train = samples["S2"] if fresh_train_batch else S  # LETS step 2: S'_t = S_t, or a fresh batch
    Z = samples.get("Z")
    x = np.array(x0, dtype=np.float64)
    theta = np.log(np.expm1(rho)) if rho_constraint == "softplus" else None  # softplus: theta_0 = log(expm1(rho_0))
    xs, rhos = [x], [float(rho)]
    for t in range(T):
        eta = value_at(lr, t)
        s = problem.stoch_grad(x, S[t])  # LETS step 1: s = grad_S(x_t)
        if direction == "sam":
            n = normalize(s, norm_eps)  # LETS step 1: n_t = s/||s|| (SAM)
        else:
            n = asam_direction(x, s, eta_A, operator, norm_eps)  # LETS step 1: n_t = T*T*s/||T*s|| (ASAM)
        w, g, x_next = _lower_step(problem, x, n, rho, eta, S[t])  # LETS step 1 with rho_t
        z = Z[t].noise if hessian == "hutchinson" else None  # Rademacher probe z
        dJ = _hypergradient(problem, val, x_next, w, g, n, eta, S[t], V[t], train[t], z, hessian)  # steps 2-3
        if rho_constraint == "softplus":
            theta = theta - beta * dJ / (1 + np.exp(-theta))  # LETS step 4: theta -= beta dJ/drho sigmoid(theta)
            rho = np.logaddexp(0.0, theta)  # LETS step 4: rho_{t+1} = softplus(theta)
        elif rho_constraint == "clamp0":
            rho = max(rho - beta * dJ, 0.0)  # LETS step 4: rho_{t+1} = max(rho_t - beta dJ/drho, 0)
        else:
            rho = rho - beta * dJ  # LETS step 4: rho_{t+1} = rho_t - beta dJ/drho (no projection)
        if rho_max is not None and rho > value_at(rho_max, t + 1):
            rho = value_at(rho_max, t + 1)  # LETS step 4: cap rho_{t+1} = min(rho_{t+1}, rho_max_{t+1})
            if rho_constraint == "softplus":
                theta = np.log(np.expm1(rho))  # keep rho_{t+1} = softplus(theta_{t+1}) under the cap
        if order == "upper_first":
            _, _, x_next = _lower_step(problem, x, n, rho, eta, S[t])  # upper_first: real lower step with rho_{t+1}
        x = x_next
        xs.append(x)
        rhos.append(float(rho))
    return {"x": np.stack(xs), "rho": np.array(rhos)}
