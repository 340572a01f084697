"""lets.rate (Wang et al., LETS, Thm 4) [reconstructed: the LETS rule and the theorem's statement are
reconstructed here, the paper's full text was not available].

LETS-SAM and LETS-ASAM (the lower level is SAM / ASAM with the learned radius rho_t, the upper level a
hypergradient step on rho, ALGORITHMS.md "LETS") with step eta = 1/(gamma_s sqrt(T)) and the learned radius
capped at rho_t <= kappa / sqrt(T) satisfy, for a gamma_s-smooth objective with stochastic gradients of
variance <= sigma^2 (batch b):

    (1/T) sum_{t<T} E||grad f(x_t)||^2 <= 4 gamma_s (f(x_0) - f*) / sqrt(T) + 4 sigma^2 / (b sqrt(T))
                                          + 2 gamma_s^2 kappa^2 / T + 4 gamma_s^2 kappa^2 / T^(3/2),

so the average squared gradient norm decays like T^(-1/2). For LETS-ASAM the perturbation
e = rho T*T*s/||T*s|| (T = |x| + eta_A) has ||e|| <= rho (||x||_inf + eta_A), so kappa is replaced by
kappa (M + eta_A) with M = max |x_t,j| over every run, step and coordinate (measured from the stored
trajectories; an a-priori ball containing the runs exists, ||x|| <= (max ||a_i|| + reg rho eta_A) /
(reg (1 - rho)), but it is ~20x looser than the measured M and is only reported).

Problem: logistic regression (problems.logistic, n = 200 training and 200 validation points, d = 5,
reg = 0.1, no shift: the validation set only feeds the upper level), single-element uniform sampling
(b = 1). Hypotheses, all exact:
- gamma_s = problem.L_max = max_i L_i: both SAM gradients are gradients of the sampled loss f_i, so the
  smoothness the analysis needs is that of every sample loss, not only L of f;
- sigma^2: for the uniform sampler Var[grad f_i(x)] = mean_i ||phi'_i a_i - mean_j phi'_j a_j||^2
  (the ridge term cancels) <= mean_i ||a_i||^2 since |phi'| <= 1: a bound valid at EVERY x, which is what
  the theorem assumes; used in the bound. The variance at x* (exact, smaller) is reported for tightness;
- f* and x* by Newton's method (problem.f_star), x_0 = (1, ..., 1);
- rho_0 = kappa / sqrt(T) (the engine caps rho_{t+1}, so rho_0 must start under the cap), beta = BETA,
  exact Hessian-vector hypergradient (the defaults of LETS_PARAMS otherwise).

Measured: the final "grad_sq_avg" = (1/T) sum_{t<T} ||grad f(x_t)||^2 at each horizon T of the grid (one
run per T and seed, per-run horizons in one batched call). Verdicts: the log-log slope in T (bootstrap CI
over seeds) <= -1/2 + TOL (``rate_verdict``) and the bound's upper confidence limit at or below the bound
at every T (``check_bound``), for both algorithms; per-grid-point verdicts in the regime map.

Contrast (reported, not part of the verdict): the same step with a CONSTANT radius rho = RHO_CONST (no
kappa/sqrt(T) cap; run as LETS with beta = 0, which is fixed-rho SAM / ASAM exactly, the suite's tested
reduction, and labelled "sam" / "asam"). Stochastic SAM with constant rho converges to the fixed point
x_rho of the expected SAM map, E_i grad f_i(x + rho n_i(x)) = 0, not to x* (Si & Yun), so
||grad f(x_t)||^2 has the floor ||grad f(x_rho)||^2 = O(rho^2): computed here by a deterministic fixed-point
iteration over the n components and stored as "floor" rows. The contrast is measured with the tail average
(t >= T/2) because the full average is dominated by the transient at these T; the report gives its slope
in T (the O(T^-1/2) rate should fail) and its level over the floor.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from optim.batched import run as engine_run
from optim.registry import validate
from problems import Uniform, logistic

from ..claim import Claim, Context
from ..pivot import fit_dict, number, seed_matrix, theory_curve
from ..results import trace_rows
from ..stats import check_bound, combine_verdicts, fit_loglog_slope, mean_confidence, rate_verdict
from ..sweep import Point, stack_points, theory_rows

ID = "lets.rate"
PROBLEM = dict(n=200, n_val=200, d=5, reg=0.1, seed=0)
PROBLEM_NAME = "logistic(n=200,d=5,reg=0.1)"
BATCH = 1
KAPPA = 1.0
BETA = 0.01
RHO_CONST = 1.0
TOL = 0.1
PREDICTED = -0.5
GRIDS = {"quick": {"T": (250, 1000, 4000)}, "full": {"T": (250, 1000, 4000, 16000)}}
ALGOS = {"lets_sam": "sam", "lets_asam": "asam"}   # LETS algorithm -> label of its constant-rho contrast


def run_batch(ctx: Context, claim: str, algorithm: str, problem, sampler, points: list[Point], *,
              problem_name: str, sampler_name: str, label: str = "", trajectory: bool = False,
              algo_labels=None, checkpoints=None, val_sampler=None):
    """Every point x ctx.seeds in ONE engine call, as verify.sweep.run_points does (same seed
    derivation, common random numbers across points through ``groups``), but returning the Trace too
    (final iterates, optional trajectory). Real hyperparameters may differ per point; options may not.
    ``algo_labels``: the algorithm name written in the rows, per point (default ``algorithm``)."""
    K = ctx.seeds
    hp = stack_points(points, K)
    T = np.repeat([p.T for p in points], K)
    groups = np.tile(np.arange(K), len(points))
    seed = ctx.derive_seed(claim, problem_name, algorithm, label)
    trace = engine_run(algorithm, problem, sampler, hp, T=T, R=len(T), seed=seed, device=ctx.device,
                       dtype=ctx.dtype, checkpoints=checkpoints, val_sampler=val_sampler, groups=groups,
                       trajectory=trajectory)
    names = algo_labels or [algorithm] * len(points)
    meta = pd.DataFrame({
        "claim": claim, "algorithm": np.repeat(names, K), "problem": problem_name, "sampler": sampler_name,
        "point": np.repeat([p.label for p in points], K),
        "params": np.repeat([json.dumps({**{k: v for k, v in p.hp.items()}, "b": p.b, **p.info}, sort_keys=True,
                                        default=float) for p in points], K),
        "seed": groups, "T": T, "b": np.repeat([p.b for p in points], K)})
    return trace_rows(trace, meta), trace


def direction_np(x, s, asam: bool, eta_A: float = 0.01):
    """SAM (s/||s||) or ASAM (T*T*s/||T*s||, T = |x| + eta_A) directions, row-wise, NumPy."""
    v = ((np.abs(x) + eta_A) ** 2 * s) if asam else s
    nrm = np.linalg.norm(((np.abs(x) + eta_A) * s) if asam else s, axis=-1, keepdims=True)
    return np.where(nrm > 0, v / np.where(nrm > 0, nrm, 1.0), 0.0)


def sam_fixed_point(problem, rho: float, asam: bool, eta_A: float = 0.01, iters: int = 20000):
    """x_rho with E_i grad f_i(x + rho n_i(x)) = 0 (uniform sampling, one component per step): the limit of
    stochastic constant-rho SAM / ASAM with vanishing steps. Damped fixed-point iteration from x*."""
    A, reg = problem.A, problem.reg
    x = np.array(problem.x_star, dtype=float)
    step = 0.5 / problem.L
    for _ in range(iters):
        G = problem.dphi(A @ x)[:, None] * A + reg * x                  # (n, d) component gradients
        W = x + rho * direction_np(x[None, :], G, asam, eta_A)
        g = (problem.dphi(np.einsum("ij,ij->i", A, W))[:, None] * A + reg * W).mean(0)
        x = x - step * g
        if np.linalg.norm(g) < 1e-13:
            return x
    raise RuntimeError(f"SAM fixed point not converged: residual {np.linalg.norm(g):.3g}")


def constants(problem, sampler) -> dict:
    """The theorem's constants for this problem and sampler (see the module docstring)."""
    x0 = np.ones(problem.d)
    G = problem.component_grads(problem.x_star)
    return {"gamma_s": float(problem.L_max), "L": float(problem.L),
            "sigma2_over_b": float(problem.row_sq.mean()) / sampler.batch,
            "var_at_xstar": float(((G - G.mean(0)) ** 2).sum(1).mean()) / sampler.batch,
            "D0": float(problem.f(x0) - problem.f_star), "b": sampler.batch, "kappa": KAPPA}


def bound_fn(T, gamma_s, D0, sigma2_over_b, kappa):
    T = np.asarray(T, dtype=float)
    return (4 * gamma_s * D0 / np.sqrt(T) + 4 * sigma2_over_b / np.sqrt(T)
            + 2 * gamma_s ** 2 * kappa ** 2 / T + 4 * gamma_s ** 2 * kappa ** 2 / T ** 1.5)


def run(ctx: Context):
    Ts = GRIDS["quick" if ctx.quick else "full"]["T"]
    problem = logistic(**PROBLEM)
    sampler = Uniform(batch=BATCH)
    c = constants(problem, sampler)
    frames = []
    for algo, contrast in ALGOS.items():
        asam = algo == "lets_asam"
        points, names = [], []
        for T in Ts:
            cap = KAPPA / np.sqrt(T)
            lr = 1.0 / (c["gamma_s"] * np.sqrt(T))
            points.append(Point(f"kappa={KAPPA:g},capped", {"lr": lr, "rho": cap, "rho_max": cap, "beta": BETA},
                                T=T, b=BATCH, info={"kind": "capped", "rho0": cap}))
            names.append(algo)
        for T in Ts:
            lr = 1.0 / (c["gamma_s"] * np.sqrt(T))
            points.append(Point(f"rho={RHO_CONST:g},constant", {"lr": lr, "rho": RHO_CONST, "rho_max": RHO_CONST,
                                                                "beta": 0.0}, T=T, b=BATCH,
                                info={"kind": "contrast", "run_as": algo, "rho0": RHO_CONST}))
            names.append(contrast)
        rows, trace = run_batch(ctx, ID, algo, problem, sampler, points, problem_name=PROBLEM_NAME,
                                sampler_name="uniform(b=1)", trajectory=asam, algo_labels=names)
        frames.append(rows)
        kappa_eff, extra = KAPPA, {}
        if asam:
            capped = np.repeat([p.info["kind"] == "capped" for p in points], ctx.seeds)
            M = float(np.nanmax(np.abs(trace.trajectory[:, capped, :])))
            eta_A = float(validate("lets_asam", {})["eta_A"])   # the default the runs used
            kappa_eff = KAPPA * (M + eta_A)
            ball = (float(np.sqrt(problem.row_sq.max())) + problem.reg * KAPPA / np.sqrt(min(Ts)) * eta_A) / \
                (problem.reg * (1 - KAPPA / np.sqrt(min(Ts))))
            extra = {"x_inf_max": M, "eta_A": eta_A, "kappa_eff": kappa_eff, "a_priori_ball": max(ball, np.sqrt(problem.d))}
        params = json.dumps({**c, **extra, "kappa_eff": kappa_eff}, sort_keys=True)
        for T in Ts:
            b = theory_rows(ID, algo, PROBLEM_NAME, "uniform(b=1)", f"kappa={KAPPA:g},capped", T, BATCH, T, "bound",
                            bound_fn(T, c["gamma_s"], c["D0"], c["sigma2_over_b"], kappa_eff))
            b["params"] = params
            frames.append(b)
        floor = float(np.sum(problem.grad(sam_fixed_point(problem, RHO_CONST, asam,
                                                          float(validate(algo, {}).get("eta_A", 0.0)))) ** 2))
        for T in Ts:
            fl = theory_rows(ID, contrast, PROBLEM_NAME, "uniform(b=1)", f"rho={RHO_CONST:g},constant", T, BATCH, T,
                             "floor", floor)
            fl["params"] = json.dumps({"rho": RHO_CONST, "run_as": algo}, sort_keys=True)
            frames.append(fl)
    return pd.concat(frames, ignore_index=True)


def _col(rows, algo, metric):
    r = rows[(rows["algorithm"] == algo)]
    return seed_matrix(r, metric, axis="T", final=True)


def judge(rows):
    regime, verdicts, numbers = [], [], {}
    fits, worst = {}, (np.inf, None)
    for algo, contrast in ALGOS.items():
        T, Y = _col(rows, algo, "grad_sq_avg")
        if T.size == 0:
            continue
        fit = fit_loglog_slope(T, Y)
        v, why = rate_verdict(fit, PREDICTED, TOL)
        fits[algo] = fit
        verdicts.append(v)
        regime.append({"point": f"{algo}: slope in T", "verdict": v, "estimate": fit.slope, "ci_low": fit.ci_low,
                       "ci_high": fit.ci_high, "reason": why})
        th = rows[(rows["algorithm"] == algo) & (rows["metric"] == "bound") & (rows["seed"] < 0)]
        bound = th.groupby("T")["value"].first().reindex(T).to_numpy()
        bc = check_bound(Y, bound)
        verdicts.append(bc.verdict)
        mean, lo, hi = mean_confidence(Y)
        for j, Tj in enumerate(T):
            pv = check_bound(Y[:, [j]], bound[[j]])
            regime.append({"point": f"{algo}: T={Tj:g}", "verdict": pv.verdict, "estimate": float(mean[j]),
                           "ci_low": float(lo[j]), "ci_high": float(hi[j]),
                           "reason": f"grad_sq_avg {mean[j]:.3g} [{lo[j]:.3g}, {hi[j]:.3g}] vs bound {bound[j]:.3g} "
                                     f"(ratio {mean[j] / bound[j]:.3g})"})
        k = int(np.nanargmax(hi / bound))
        rr = (mean[k] / bound[k], lo[k] / bound[k], hi[k] / bound[k])
        if worst[1] is None or rr[2] > worst[1][2]:
            worst = (bc.worst_margin, rr, f"{algo} T={T[k]:g}")
        numbers[f"slope_{algo}"] = number(fit.slope, fit.ci_low, fit.ci_high)
        # the constant-rho contrast
        Tc, Yc = _col(rows, contrast, "grad_sq_tail_avg")
        if Tc.size:
            cf = fit_loglog_slope(Tc, Yc)
            cv, cwhy = rate_verdict(cf, PREDICTED, TOL)
            floor = float(theory_curve(rows[rows["algorithm"] == contrast], "floor", axis="T")[1][-1])
            m, l, h = mean_confidence(Yc[:, [-1]])
            over = (m[0] / floor, l[0] / floor, h[0] / floor)
            numbers[f"contrast_slope_{contrast}"] = number(cf.slope, cf.ci_low, cf.ci_high)
            numbers[f"contrast_over_floor_{contrast}"] = number(*over)
            regime.append({"point": f"{contrast} (contrast, constant rho={RHO_CONST:g}): tail slope in T",
                           "verdict": cv, "estimate": cf.slope, "ci_low": cf.ci_low, "ci_high": cf.ci_high,
                           "reason": f"expected NOT to hold (O(rho^2) floor): {cwhy}; tail avg at T={Tc[-1]:g} is "
                                     f"{over[0]:.3g} [{over[1]:.3g}, {over[2]:.3g}] x the floor "
                                     f"||grad f(x_rho)||^2 = {floor:.3g}"})
    if not fits:
        return {"verdict": "inconclusive", "reason": "no LETS rows", "measured": "", "estimate": None,
                "ci_low": None, "ci_high": None, "fit": None, "regime_map": [], "bound_margin": None, "numbers": {}}
    verdict = combine_verdicts(verdicts)
    head = fits.get("lets_sam") or next(iter(fits.values()))
    numbers["bound_ratio_worst"] = number(*worst[1])
    parts = [f"{a}: slope {f.slope:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}]" for a, f in fits.items()]
    contrast_txt = "; ".join(f"{c} constant rho: tail slope {numbers[f'contrast_slope_{c}']['value']:.3f}, "
                             f"{numbers[f'contrast_over_floor_{c}']['value']:.3g}x floor"
                             for c in ALGOS.values() if f"contrast_slope_{c}" in numbers)
    bad = [r for r in regime if not r["point"].startswith(tuple(ALGOS.values())) and r["verdict"] != "holds"]
    reason = (f"{'; '.join(parts)} vs -0.5 + {TOL}; bound: worst mean/bound {worst[1][0]:.3g} (UCL/bound "
              f"{worst[1][2]:.3g}) at {worst[2]}"
              + (f"; not holding: {', '.join(r['point'] + ' ' + r['verdict'] for r in bad)}" if bad else "")
              + f" | contrast: {contrast_txt}")
    return {"verdict": verdict, "reason": reason,
            "measured": "; ".join(parts) + f"; worst mean/bound {worst[1][0]:.3g}",
            "estimate": head.slope, "ci_low": head.ci_low, "ci_high": head.ci_high, "fit": fit_dict(head),
            "regime_map": regime, "bound_margin": float(worst[0]), "numbers": numbers}


CLAIM = Claim(
    id=ID, paper="Wang et al., LETS: Learning to Schedule the Perturbation Radius of SAM",
    theorem="Thm 4 (convergence of LETS-SAM / LETS-ASAM with a capped learned radius)", status="reconstructed",
    algorithms=("lets_sam", "lets_asam"),
    problem="logistic regression, n = 200 (+ 200 validation, no shift), d = 5, reg = 0.1; uniform sampling b = 1",
    assumptions="gamma_s-smooth sample losses (gamma_s = L_max); variance <= sigma^2 = mean_i ||a_i||^2 at every x "
                "(|phi'| <= 1); f* exact (Newton); LETS-ASAM: kappa scaled by max|x| + eta_A (measured max over runs)",
    schedule=f"eta = 1/(L_max sqrt(T)); rho_0 = rho_max = kappa/sqrt(T), kappa = {KAPPA:g}; beta = {BETA:g}, exact HVP; "
             f"contrast: constant rho = {RHO_CONST:g} (beta = 0)",
    measured="final (1/T) sum_t ||grad f(x_t)||^2 (grad_sq_avg) per T, mean over seeds; contrast: tail average",
    metric="grad_sq_avg", x="T",
    prediction="slope in T <= -1/2 + tol and (1/T) sum E||grad f||^2 <= 4 gamma_s (f(x_0) - f*)/sqrt(T) + "
               "4 sigma^2/(b sqrt T) + 2 gamma_s^2 kappa^2/T + 4 gamma_s^2 kappa^2/T^(3/2) at every T; contrast: "
               "constant rho stalls at the O(rho^2) floor ||grad f(x_rho)||^2",
    predicted_slope=PREDICTED, expected="holds", figure="lets", tolerance=TOL,
    tolerance_reason="the bound's two leading terms are both exactly T^(-1/2) and so is the measured average once "
                     "t >> 1/(eta mu): the slope sits ON the predicted exponent, not below it, so the CI needs a "
                     "margin; 0.1 over the grid's T range (16x quick) is a factor 16^0.1 = 1.3 in the metric, the "
                     "size of the lower-order (1/T, transient) terms there",
    fit_window="all T of the grid, no burn-in: each run's average over its whole horizon, as the theorem states "
               "it (at the smallest T = 250, T eta mu = 1.6 with mu = reg: the transient is inside the average)",
    grids=GRIDS, run=run, judge=judge)
