"""lets.rate (Wang et al., LETS, Thm 4) [reconstructed: the LETS rule and the theorem's statement are
reconstructed here, the paper's full text was not available].

LETS-SAM and LETS-ASAM (the lower level is SAM / ASAM with the learned radius rho_t, the upper level a
hypergradient step on rho, docs/algorithms.md#lets) with step eta = 1/(gamma_s sqrt(T)) and the learned radius
capped at rho_t <= kappa / sqrt(T) satisfy, for a gamma_s-smooth objective with stochastic gradients of
variance <= sigma^2 (batch b):

    (1/T) sum_{t<T} E||grad f(x_t)||^2 <= 4 gamma_s (f(x_0) - f*) / sqrt(T) + 4 sigma^2 / (b sqrt(T))
                                          + 2 gamma_s^2 kappa^2 / T + 4 gamma_s^2 kappa^2 / T^(3/2),

so the average squared gradient norm decays like T^(-1/2). For LETS-ASAM the perturbation
e = rho T*T*s/||T*s|| (T = |x| + eta_A) has ||e|| <= rho (||x||_inf + eta_A), so kappa is replaced by
kappa (M + eta_A) with M = max |x_t,j| over every run, step and coordinate (measured from the stored
trajectories; an a-priori ball containing the runs exists, ||x|| <= (max ||a_i|| + reg rho eta_A) /
(reg (1 - rho)), but it is far looser than the measured M and is only reported).

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
run per T and seed, per-run horizons in one batched call). Verdict rule (issue 14, "verdicts that can fail"):
- slope: the log-log slope in T over all horizons AND over the last half of them (``last_half``, at least 2,
  where the asymptotic rate must already show), each with its bootstrap CI; the verdict interval is their hull,
  so lack of fit between the two (a floor appearing at the large T) widens it instead of hiding behind a
  confident 3-point fit; the p of "slope > -1/2 + TOL" is the larger of the two (intersection-union);
- bound: ``check_bound`` at every T, one-sided Student-t p per T;
- divergence: a diverged run is a failure of the convergence claim (p = 0), never dropped;
- Holm at family-wise 5% over all these tests (2 algorithms x (slope + 3 bounds) + 2 divergence tests on the
  quick grid): any rejection -> violated; all slopes and bounds decisively holding -> holds; else inconclusive.
The verdict's "measured" gives each number its own interval (slope: the hull; mean/bound: the mean's CI / bound);
the old text paired the bound ratio with the slope's CI.

Counterfeits (``COUNTERFEITS``): a slower step eta = 1/(gamma_s T^(3/4)) (first: rejected on the quick grid), and
the uncapped constant radius rho = RHO_CONST (the old "contrast", now a counterfeit run through the same code;
its floor ||grad f(x_rho)||^2 is computed by a deterministic fixed-point iteration and stored as "floor" rows).
Finding: the quick grid cannot reject uncapped_radius (never violated): at T <= 4000 the average has not
come close enough to its floor F (ASAM's much less: its radius scales with |x|, a tiny floor).
Derived: the average ~ F + C T^(-1/2) has the local slope -1/2 (1 - F/mean), above -0.4 once mean < 5 F:
SAM needs T ~ 16000 (the full grid's largest T), ASAM ~ 2e5 (beyond a CPU's quick grid). Not tuned away:
reported (its power: README, "Error rates of the verdicts"). A tail average (t >= T/2, <= 2x the full one,
so bounded by twice the bound) was tried as a second measurement and dropped: its CIs over seeds were
several times wider and it made the true claim inconclusive at seed 0.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from optim.algorithms import LETS_PAPER
from optim.registry import validate
from problems import Uniform, logistic

from ..claim import Claim, Context, Counterfeit
from ..pivot import fit_dict, number, seed_matrix, theory_curve
from ..stats import ROUND_OFF, check_bound, fit_loglog_slope, holm, mean_confidence, slope_pvalue
from ..sweep import Point, run_points, theory_rows

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
ALGOS = ("lets_sam", "lets_asam")
METRICS = {"grad_sq_avg": "full average"}   # the theorem's quantity (a tail average was tried: see the docstring)


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


def _points(Ts, gamma_s: float, step_exponent: float, radius: str) -> list[Point]:
    """One point per horizon T: eta = 1/(gamma_s T^step_exponent); radius "capped" (the theorem: rho_0 =
    rho_max = kappa/sqrt(T), learned with beta = BETA) or "constant" (rho = RHO_CONST, no cap, beta = 0)."""
    points = []
    for T in Ts:
        lr = 1.0 / (gamma_s * T ** step_exponent)
        if radius == "capped":
            cap = KAPPA / np.sqrt(T)
            points.append(Point(f"kappa={KAPPA:g},capped", {"lr": lr, "rho": cap, "rho_max": cap, "beta": BETA},
                                T=T, b=BATCH, info={"kind": "capped", "rho0": cap, "step_exponent": step_exponent}))
        elif radius == "constant":
            points.append(Point(f"rho={RHO_CONST:g},constant", {"lr": lr, "rho": RHO_CONST, "rho_max": RHO_CONST,
                                                                "beta": 0.0}, T=T, b=BATCH,
                                info={"kind": "constant", "rho0": RHO_CONST, "step_exponent": step_exponent}))
        else:
            raise ValueError(f"radius {radius!r}: choose capped or constant")
    return points


def _asam_kappa(problem, rows: pd.DataFrame, Ts) -> tuple[float, dict]:
    """kappa scaled by M + eta_A (M = max |x| over every run, step and coordinate: the runs' "x_inf_max"
    rows, diverged runs excluded) and what it came from."""
    M = float(np.nanmax(rows.loc[rows["metric"] == "x_inf_max", "value"]))
    eta_A = float(validate("lets_asam", {})["eta_A"])   # the default the runs used
    ball = (float(np.sqrt(problem.row_sq.max())) + problem.reg * KAPPA / np.sqrt(min(Ts)) * eta_A) / \
        (problem.reg * (1 - KAPPA / np.sqrt(min(Ts))))
    return KAPPA * (M + eta_A), {"x_inf_max": M, "eta_A": eta_A, "a_priori_ball": max(ball, np.sqrt(problem.d))}


def run(ctx: Context, *, step_exponent: float = 0.5, radius: str = "capped"):
    """Rows of LETS-SAM and LETS-ASAM at every T of the grid with eta = 1/(gamma_s T^step_exponent) and the
    ``radius`` rule of ``_points``, the bound rows (kappa = KAPPA, scaled for ASAM) and, for a constant radius,
    the floor rows ||grad f(x_rho)||^2."""
    Ts = GRIDS["quick" if ctx.quick else "full"]["T"]
    problem = logistic(**PROBLEM)
    sampler = Uniform(batch=BATCH)
    c = constants(problem, sampler)
    frames = []
    for algo in ALGOS:
        asam = algo == "lets_asam"
        points = _points(Ts, c["gamma_s"], step_exponent, radius)
        rows = run_points(ctx, ID, algo, problem, sampler, points, problem_name=PROBLEM_NAME,
                          sampler_name="uniform(b=1)", finals=("x_inf_max",) if asam else ())
        frames.append(rows)
        kappa_eff, extra = _asam_kappa(problem, rows, Ts) if asam else (KAPPA, {})
        params = json.dumps({**c, **extra, "kappa_eff": kappa_eff, "step_exponent": step_exponent,
                             "radius": radius}, sort_keys=True)
        label = points[0].label
        for T in Ts:
            b = theory_rows(ID, algo, PROBLEM_NAME, "uniform(b=1)", label, T, BATCH, T, "bound",
                            bound_fn(T, c["gamma_s"], c["D0"], c["sigma2_over_b"], kappa_eff))
            frames.append(b.assign(params=params))
        if radius == "constant":
            x_rho = sam_fixed_point(problem, RHO_CONST, asam, float(validate(algo, {}).get("eta_A", 0.0)))
            fl = theory_rows(ID, algo, PROBLEM_NAME, "uniform(b=1)", label, max(Ts), BATCH, max(Ts), "floor",
                             float(np.sum(problem.grad(x_rho) ** 2)))
            frames.append(fl.assign(params=json.dumps({"rho": RHO_CONST}, sort_keys=True)))
    return pd.concat(frames, ignore_index=True)


def last_half(T: np.ndarray) -> np.ndarray:
    """Mask of the last half of the horizons (at least 2): where the asymptotic rate must already show."""
    k = max(2, int(np.ceil(T.size / 2)))
    return np.arange(T.size) >= T.size - k


def slope_test(T: np.ndarray, Y: np.ndarray) -> dict:
    """The slope in T over all horizons and over the last half, each with its bootstrap CI; the verdict interval
    is their hull (lack of fit between the two widens it) and the p of "slope > limit" is the larger of the two
    one-sided p-values (an intersection-union test: both fits must exceed the limit)."""
    whole, tail = fit_loglog_slope(T, Y), fit_loglog_slope(T[last_half(T)], Y[:, last_half(T)])
    lo, hi = min(whole.ci_low, tail.ci_low), max(whole.ci_high, tail.ci_high)
    limit = PREDICTED + TOL
    p = max(slope_pvalue(whole, limit), slope_pvalue(tail, limit))
    v = "holds" if hi <= limit + ROUND_OFF else "violated" if lo > limit + ROUND_OFF else "inconclusive"
    why = (f"slope {whole.slope:.3f} [{whole.ci_low:.3f}, {whole.ci_high:.3f}] over all T, {tail.slope:.3f} "
           f"[{tail.ci_low:.3f}, {tail.ci_high:.3f}] over T >= {T[last_half(T)][0]:g}; hull [{lo:.3f}, {hi:.3f}] "
           f"vs {PREDICTED:.3f} + {TOL:.3f}")
    return {"fit": whole, "tail": tail, "lo": lo, "hi": hi, "p": p, "verdict": v, "reason": why}


def _bound_tests(Y: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """(n_T,) one-sided p-values of "E metric <= bound" at each horizon (Student-t over seeds)."""
    n = np.isfinite(Y).sum(0)
    m, lo, hi = mean_confidence(Y)
    se = (hi - m) / student_t.ppf(0.975, n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, student_t.sf((m - bound) / se, n - 1), np.where(m > bound, 0.0, 1.0))


def _judge_metric(rows, algo, metric, regime, numbers, tests):
    """Slope, bound and divergence tests of one algorithm and metric (METRICS): regime entries, numbers, and
    (name, p) in ``tests``; returns (slope test, all parts hold, worst (UCL/bound, mean/bound, LCL/bound), n_div)."""
    r = rows[rows["algorithm"] == algo]
    T, Y = seed_matrix(r, metric, axis="T", final=True)
    runs = r[(r["seed"] >= 0) & (r["t"] == r["T"])].drop_duplicates(["seed", "T"])
    n_div = int(runs["diverged"].sum())
    Y = np.where(np.isfinite(Y), Y, np.nan)
    st = slope_test(T, Y)
    tag = f"{algo} {METRICS[metric]}"
    regime.append({"point": f"{tag}: slope in T", "verdict": st["verdict"], "estimate": st["fit"].slope,
                   "ci_low": st["lo"], "ci_high": st["hi"], "reason": st["reason"]})
    bound = theory_curve(r, "bound", axis="T")[1]
    bc = check_bound(Y, bound)
    mean, lo, hi = mean_confidence(Y)
    for j, Tj in enumerate(T):
        regime.append({"point": f"{tag}: T={Tj:g}", "verdict": check_bound(Y[:, [j]], bound[[j]]).verdict,
                       "estimate": float(mean[j]), "ci_low": float(lo[j]), "ci_high": float(hi[j]),
                       "reason": f"{metric} {mean[j]:.3g} [{lo[j]:.3g}, {hi[j]:.3g}] vs bound {bound[j]:.3g}: "
                                 f"ratio {mean[j] / bound[j]:.3g} [{lo[j] / bound[j]:.3g}, {hi[j] / bound[j]:.3g}]"})
    tests += [(f"{tag} slope", st["p"])] + [(f"{tag} bound T={Tj:g}", p) for Tj, p in zip(T, _bound_tests(Y, bound))]
    k = int(np.nanargmax(hi / bound))
    key = "" if metric == "grad_sq_avg" else f"{metric}_"
    numbers[f"slope_{key}{algo}"] = number(st["fit"].slope, st["lo"], st["hi"])
    numbers[f"bound_ratio_{key}{algo}"] = number(mean[k] / bound[k], lo[k] / bound[k], hi[k] / bound[k])
    fl = theory_curve(r, "floor", axis="T")[1]
    if fl.size:   # constant radius: the level at the largest T over the floor ||grad f(x_rho)||^2
        numbers[f"over_floor_{key}{algo}"] = number(mean[-1] / fl[0], lo[-1] / fl[0], hi[-1] / fl[0])
    ok = st["verdict"] == "holds" and bc.verdict == "holds" and n_div == 0
    return st, ok, (hi[k] / bound[k], mean[k] / bound[k], lo[k] / bound[k]), n_div


def _text(algo, metric, st, numbers, n_div):
    key = "" if metric == "grad_sq_avg" else f"{metric}_"
    b, fl = numbers[f"bound_ratio_{key}{algo}"], numbers.get(f"over_floor_{key}{algo}")
    return (f"{algo} {METRICS[metric]}: {st['reason']}; mean/bound at the tightest T {b['value']:.3g} "
            f"[{b['ci_low']:.3g}, {b['ci_high']:.3g}]" + (f"; {fl['value']:.3g}x the rho floor" if fl else "")
            + (f"; {n_div} runs diverged" if n_div else ""))


def _judge_algorithms(rows) -> tuple:
    """Every algorithm's metric tests (``_judge_metric``) and divergence test: (regime entries, numbers,
    tests (name, p), slope tests per algorithm, worst bound ratios, all parts hold, reason parts)."""
    regime, numbers, tests, fits, worst, ok_all, parts = [], {}, [], {}, None, True, []
    for algo in (a for a in ALGOS if not rows[(rows["algorithm"] == a) & (rows["seed"] >= 0)].empty):
        for metric in METRICS:
            st, ok, w, n_div = _judge_metric(rows, algo, metric, regime, numbers, tests)
            fits.setdefault(algo, st)
            ok_all = ok_all and ok
            worst = w if metric == "grad_sq_avg" and (worst is None or w[0] > worst[0]) else worst
            parts.append(_text(algo, metric, st, numbers, n_div))
        tests.append((f"{algo}: {n_div} diverged runs", 0.0 if n_div else 1.0))   # a diverged run is a failure
    return regime, numbers, tests, fits, worst, ok_all, parts


def _measured(numbers: dict, algo: str) -> str:
    """One algorithm's slope and mean/bound with their intervals (the full average)."""
    sl, br = numbers[f"slope_{algo}"], numbers[f"bound_ratio_{algo}"]
    return (f"{algo}: slope {sl['value']:.3f} [{sl['ci_low']:.3f}, {sl['ci_high']:.3f}] (full average), mean/bound "
            f"{br['value']:.3g} [{br['ci_low']:.3g}, {br['ci_high']:.3g}]")


def judge(rows, *, alpha: float = 0.05):
    """Verdict: Holm at family-wise ``alpha`` over every test (slope and bound of each algorithm and metric at
    each T, and divergence): any rejection -> violated; every slope and bound decisively holding -> holds; else
    inconclusive."""
    regime, numbers, tests, fits, worst, ok_all, parts = _judge_algorithms(rows)
    if not fits:
        return {"verdict": "inconclusive", "reason": "no LETS rows", "measured": "", "estimate": None,
                "ci_low": None, "ci_high": None, "fit": None, "regime_map": [], "bound_margin": None, "numbers": {}}
    rejected = holm([p for _, p in tests], alpha)
    fired = [name for (name, _), r in zip(tests, rejected) if r]
    verdict = "violated" if fired else "holds" if ok_all else "inconclusive"
    head = fits.get("lets_sam") or next(iter(fits.values()))
    numbers["bound_ratio_worst"] = number(worst[1], worst[2], worst[0])
    reason = (" | ".join(parts) + (f" | Holm (alpha {alpha:g}, {len(tests)} tests) rejects: {', '.join(fired)}"
                                   if fired else f" | Holm rejects none of {len(tests)} tests"))
    return {"verdict": verdict, "reason": reason, "measured": "; ".join(_measured(numbers, a) for a in fits),
            "estimate": head["fit"].slope, "ci_low": head["lo"], "ci_high": head["hi"], "fit": fit_dict(head["fit"]),
            "regime_map": regime, "bound_margin": float(1 - worst[0]), "numbers": numbers}


COUNTERFEITS = (
    Counterfeit("slower_step", "eta = 1/(gamma_s T^(3/4)) instead of 1/(gamma_s sqrt(T))",
                "gradient descent dissipates f(x_0) - f* = sum_t eta ||grad f(x_t)||^2 (to O(eta)), so the average is "
                "at least ~ D0/(eta T) = gamma_s D0 T^(-1/4) while the transient lasts (T eta mu = mu T^(1/4)/gamma_s "
                "< 3 on the grid): slope -1/4 at best, above -1/2 + tol -> violated",
                run={"step_exponent": 0.75}),
    Counterfeit("uncapped_radius", f"constant radius rho = {RHO_CONST:g} at every T (no kappa/sqrt(T) cap, beta = 0: "
                "fixed-rho SAM / ASAM, LETS's tested reduction)",
                "stochastic SAM with constant rho converges to the fixed point x_rho of the expected SAM map, not to "
                "x* (Si & Yun), so (1/T) sum_t ||grad f(x_t)||^2 -> ||grad f(x_rho)||^2 > 0 (the 'floor' rows, by a "
                "deterministic fixed-point iteration) as T -> inf: the slope in T tends to 0, flatter over the last "
                "half of the horizons than over all, above -1/2 + tol -> violated",
                run={"radius": "constant"}),
)


CLAIM = Claim(
    id=ID, paper=LETS_PAPER,
    theorem="Thm 4 (convergence of LETS-SAM / LETS-ASAM with a capped learned radius)", status="reconstructed",
    algorithms=("lets_sam", "lets_asam"),
    problem="logistic regression, n = 200 (+ 200 validation, no shift), d = 5, reg = 0.1; uniform sampling b = 1",
    assumptions="gamma_s-smooth sample losses (gamma_s = L_max); variance <= sigma^2 = mean_i ||a_i||^2 at every x "
                "(|phi'| <= 1); f* exact (Newton); LETS-ASAM: kappa scaled by max|x| + eta_A (measured max over runs)",
    schedule=f"eta = 1/(L_max sqrt(T)); rho_0 = rho_max = kappa/sqrt(T), kappa = {KAPPA:g}; beta = {BETA:g}, exact HVP",
    measured="final (1/T) sum_t ||grad f(x_t)||^2 (grad_sq_avg) per T, mean over seeds",
    metric="grad_sq_avg", x="T",
    prediction="slope in T <= -1/2 + tol and (1/T) sum E||grad f||^2 <= 4 gamma_s (f(x_0) - f*)/sqrt(T) + "
               "4 sigma^2/(b sqrt T) + 2 gamma_s^2 kappa^2/T + 4 gamma_s^2 kappa^2/T^(3/2) at every T (Holm over the "
               "tests); the slope's CI is the hull of the all-T and last-half fits",
    predicted_slope=PREDICTED, expected="holds", figure="lets", tolerance=TOL,
    tolerance_reason="the bound's two leading terms are both exactly T^(-1/2) and so is the measured average once "
                     "t >> 1/(eta mu): the slope sits ON the predicted exponent, not below it, so the CI needs a "
                     "margin; 0.1 over the grid's T range (16x quick) is a factor 16^0.1 = 1.3 in the metric, the "
                     "size of the lower-order (1/T, transient) terms there",
    fit_window="all T of the grid and the last half of the horizons (both must pass): each run's average over its "
               "whole horizon, as the theorem states it (at the smallest T = 250, T eta mu = 1.6 with mu = reg: the "
               "transient is inside the average)",
    run=run, judge=judge, counterfeits=COUNTERFEITS)
