"""unified.importance (Oikonomou & Loizou, Sec 3.4): importance sampling for Unified SAM [reconstructed setting].

On a finite sum with very uneven component smoothness L_i, single-element sampling with p_i proportional to L_i
and the gradient reweighted by 1/(n p_i) has ABC constant A = mean_i L_i, against A = L_max for uniform sampling
(B = 0 for both). The Thm 3.2 step gamma <= (mu - L rho mu) / (2 L A) (lambda = 1, L = L_max) is therefore
L_max / mean L_i times larger. Predictions:
1. importance sampling reaches a target accuracy f(x_t) - f* <= TARGET_REL (f(x_0) - f*) in fewer steps;
2. it has no bias floor: the reweighted estimator is unbiased, its fixed point is x*, and with decreasing steps
   ||x_t - x*||^2 keeps decreasing (log-log slope of E||x_t - x*||^2 <= -1 + TOL_SLOPE over the fit window);
3. negative control: WITHOUT the reweighting (a bug in published code), E[grad_S] = grad sum_i p_i f_i, so the run
   converges to x_p = argmin sum_i p_i f_i (an exact weighted linear solve, (sum_i p_i a_i a_i^T + reg I) x_p =
   sum_i p_i a_i b_i) and f - f* stalls at the floor f(x_p) - f* > 0 (stored as theory row "floor"); its measured
   plateau must match that floor within TOL_FLOOR.

Setting: ridge, least_squares(n=100, d=5, cond=1, reg=300, row_spread=30): rows rescaled by log-spaced factors
in [1, 30], so L_i spans a factor ~29 and L_max / mean L_i ~ 8.7. reg = 300 (about a third of mean L_i) keeps
mu / L_max ~ 0.04: the theorem's uniform step, ~ mu / (2 L_max^2), then reaches the target within a quick horizon.
Algorithm: Unified SAM with lambda = 1 (SAM): with lambda = 1 the radius limit rho < mu / (L mu) = 1/L does not
depend on A, so both samplers get the SAME rho* = RHO_FRAC / L_max, and gamma* differs only through A. Schedules:
the paper's decreasing schedule (Thm 3.5), gamma_t = min(gamma*, (2t+1)/((t+1)^2 mu)), rho_t = min(rho*, 1/(2t+1)),
with gamma* the Thm 3.2 limit of each sampler's own A: constant gamma* in the first phase (where the speed
comparison happens), then ~2/(mu t), and a radius decaying like 1/(2t) so that neither the SAM neighbourhood nor
the variance neighbourhood of a constant step masks the floor comparison. The unweighted control uses the step
sizes of the reweighted importance sampler (it has no ABC constants of its own: it is biased).

Verdict rules (issue 14; quick grid, 8 seeds, before -> after):
- speed is a ratio claim with a margin on the log scale: the bias phase lasts ~ 1/(gamma* mu) steps, so the
  predicted speedup is the ratio of the samplers' own Thm 3.2 steps, r = gamma*_imp / gamma*_unif (~ 8.66,
  stored as theory row "step_ratio"); "holds" when the CI of the mean per-seed log ratio of hitting times lies
  above log(r)/2 (half the predicted effect), "violated" when below. Before, the test was "log ratio > 0",
  which the counterfeit with the mechanism off (uniform given the importance step, speedup 0.98 [0.90, 1.08])
  could not fail: inconclusive at seed 0; after: violated (10/10). The true claim's speedup 8.6-8.8 is
  far above the margin 2.94.
- no-floor fit window: from the end of the constant-step phase (``fit_start``, t ~ 2/(mu gamma*) = 472), not
  t >= T/5, so it follows the schedule's burn-in rather than the horizon.
- the quick horizon T = 2500 -> 10000: at T = 2500 the unweighted control's tail average carried a per-seed sd
  of 7.4% of the floor (first-order noise grad f(x_p).(x - x_p), correlated over the whole tail), its 8-seed CI
  about +-6% against the +-10% tolerance, so 2 of 20 repeats were inconclusive (P(expected) 18/20 = 90%);
  at T = 10000 the CI is about +-2-5%: over 20 repeats of 8 seeds every control CI lay in [0.938, 1.055],
  P(expected) 20/20. The tolerance is unchanged.
Measured after (quick, 8 seeds, 20 repeats): size 0/20, P(holds) 20/20; power 20/20 against "unweighted"
(no-floor slope CI >= -0.07 against the limit -0.5) and 20/20 against "uniform_given_importance_step"
(speedup CI <= 1.15 against the margin 2.94; the true claim's speedup CI >= 7.8).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from optim.algorithms import UNIFIED_PAPER
from optim.schedules import Schedule
from problems import Importance, Uniform, least_squares

from ..claim import Claim, Context, Counterfeit
from ..pivot import fit_dict, number, seed_matrix
from ..stats import combine_verdicts, estimate_plateau, fit_loglog_slope, mean_confidence, rate_verdict
from ..sweep import Point, run_points, theory_rows
from .unified_thm3_2_bound import step_sizes

ID = "unified.importance"
ALGO = "unified_sam"
PROBLEM = dict(n=100, d=5, cond=1.0, reg=300.0, row_spread=30.0, seed=0)
LAM = 1.0
RHO_FRAC = 0.5
TARGET_REL = 0.1
TOL_SLOPE = 0.5
TOL_FLOOR = 0.1
LEVEL = 0.95
SAMPLERS = {"uniform": Uniform(), "importance": Importance(), "importance_unweighted": Importance(reweight=False)}
GRIDS = {"quick": {"T": 10000, "n_lin": 800, "n_log": 60}, "full": {"T": 20000, "n_lin": 1600, "n_log": 80}}


def problem():
    return least_squares(**PROBLEM)


def weighted_minimiser(prob, p: np.ndarray) -> np.ndarray:
    """argmin_x sum_i p_i f_i(x) for ridge f_i = 1/2 (a_i^T x - b_i)^2 + reg/2 ||x||^2 (sum p_i = 1)."""
    Ap = prob.A * p[:, None]
    return np.linalg.solve(Ap.T @ prob.A + prob.reg * np.eye(prob.d), Ap.T @ prob.b)


def samplers(reweight: bool = True) -> dict:
    """The three samplers by role; ``reweight=False`` (a counterfeit) drops the 1/(n p_i) weights of the
    "importance" role too, which then runs the unweighted control's estimator."""
    return {**SAMPLERS, "importance": Importance(reweight=reweight)}


def run(ctx: Context, *, reweight: bool = True, uniform_steps: str = "uniform"):
    """The sweep. Counterfeits: ``reweight=False`` (importance sampling without the reweighting; its steps
    stay the reweighted sampler's), ``uniform_steps="importance"`` (the uniform sampler given the
    importance sampler's Thm 3.2 step, whose A is mean L_i instead of its own L_max)."""
    if uniform_steps not in ("uniform", "importance"):
        raise ValueError(f"uniform_steps={uniform_steps!r}: uniform or importance")
    g = GRIDS["quick" if ctx.quick else "full"]
    T = g["T"]
    prob = problem()
    L, mu = float(prob.L_max), float(prob.mu)
    if not mu > 0:
        raise ValueError("the ridge problem needs mu > 0 (reg > 0)")
    ck = np.unique(np.r_[np.linspace(0, T, g["n_lin"] + 1).round(), np.geomspace(1, T, g["n_log"]).round()]).astype(int)
    x0 = np.ones(prob.d)
    D0 = float(prob.f(x0)) - float(prob.f_star)
    A_of = {"uniform": SAMPLERS[uniform_steps].abc(prob), "importance": SAMPLERS["importance"].abc(prob)}
    A_of["importance_unweighted"] = A_of["importance"]  # same steps as the reweighted run (see docstring)
    frames = []
    for name, sampler in samplers(reweight).items():
        A, B, C = A_of[name]
        rho, gamma = step_sizes(LAM, L, mu, A, B, RHO_FRAC)
        label = f"lambda={LAM:g},sampler={name}"
        point = Point(label, {"lr": Schedule("unified_gamma", gamma, mu), "rho": Schedule("unified_rho", rho), "lam": LAM},
                      T=T, info={"gamma_star": gamma, "rho_star": rho, "A": A, "B": B, "L": L, "mu": mu,
                                 "schedule": "decreasing"})
        frames.append(run_points(ctx, ID, ALGO, prob, sampler, [point], problem_name="ridge_uneven", sampler_name=name,
                                 x0=x0, checkpoints=ck, label=name))
        frames.append(theory_rows(ID, ALGO, "ridge_uneven", name, label, T, 1, T, "target", TARGET_REL * D0))
        if name == "uniform":  # the predicted speedup: the ratio of the two samplers' OWN Thm 3.2 steps
            own = {k: step_sizes(LAM, L, mu, *SAMPLERS[k].abc(prob)[:2], RHO_FRAC)[1] for k in ("uniform", "importance")}
            frames.append(theory_rows(ID, ALGO, "ridge_uneven", name, label, T, 1, T, "step_ratio",
                                      own["importance"] / own["uniform"]))
        if name == "importance_unweighted":
            xp = weighted_minimiser(prob, sampler.probs(prob))
            frames.append(theory_rows(ID, ALGO, "ridge_uneven", name, label, T, 1, T, "floor",
                                      float(prob.f(xp)) - float(prob.f_star)))
            frames.append(theory_rows(ID, ALGO, "ridge_uneven", name, label, T, 1, T, "floor_dist",
                                      float(np.sum((xp - prob.x_star) ** 2))))
    return pd.concat(frames, ignore_index=True)


def hitting_times(t: np.ndarray, Y: np.ndarray, target: float) -> tuple[np.ndarray, np.ndarray]:
    """First crossing of ``target`` per seed, log-linearly interpolated between the bracketing checkpoints;
    (times, reached). A seed that never reaches it is censored at t_max (reached False)."""
    out, reached = np.full(Y.shape[0], float(t[-1])), np.zeros(Y.shape[0], bool)
    for s, y in enumerate(Y):
        k = np.flatnonzero(np.isfinite(y) & (y <= target))
        if k.size == 0:
            continue
        k = k[0]
        reached[s] = True
        if k == 0 or not (y[k - 1] > 0 and y[k] > 0):
            out[s] = t[k]
            continue
        a, b = np.log(y[k - 1]), np.log(y[k])
        out[s] = t[k - 1] + (t[k] - t[k - 1]) * (a - np.log(target)) / (a - b)
    return out, reached


def _theory(rows, sampler, metric) -> float:
    r = rows[(rows["seed"] < 0) & (rows["metric"] == metric) & (rows["sampler"] == sampler)]
    return float(r["value"].iloc[0])


def _params(rows, sampler) -> dict:
    r = rows[(rows["seed"] >= 0) & (rows["sampler"] == sampler)]
    return json.loads(r["params"].iloc[0])


def _gamma_star(rows, sampler) -> float:
    return float(_params(rows, sampler)["gamma_star"])


def fit_start(gamma_star: float, mu: float, T: int) -> int:
    """Burn-in of the no-floor fit: the first t at which the decreasing schedule leaves its constant phase,
    (2t+1)/((t+1)^2 mu) <= gamma* (t ~ 2/(mu gamma*)); from there the step is ~ 2/(mu t). T if never."""
    t = np.arange(T + 1, dtype=float)
    late = np.flatnonzero((2 * t + 1) / ((t + 1) ** 2 * mu) <= gamma_star)
    return int(late[0]) if late.size else int(T)


def _speed(rows: pd.DataFrame, by: dict, T: int):
    """Steps to the target, uniform against reweighted importance: the per-seed log ratio of hitting
    times, its Student-t CI, and the verdict against the margin log(step_ratio) / 2 (half the predicted
    log effect; see the module docstring). (verdict, (speedup, low, high), importance times (mean, lo, hi), reason)."""
    hits = {}
    for s in ("uniform", "importance"):
        t, Y = seed_matrix(by[s], "f_gap", axis="t", final=False)
        hits[s] = hitting_times(t, Y, _theory(rows, s, "target"))
    (tu, ru), (ti, ri) = hits["uniform"], hits["importance"]
    m = min(len(tu), len(ti))
    logratio = np.log(tu[:m]) - np.log(ti[:m])
    lr_mean, lr_lo, lr_hi = (float(v[0]) for v in mean_confidence(logratio[:, None], LEVEL))
    speed = (np.exp(lr_mean), np.exp(lr_lo), np.exp(lr_hi))
    predicted = _theory(rows, "uniform", "step_ratio")
    margin = 0.5 * np.log(predicted)
    v = "holds" if lr_lo > margin else ("violated" if lr_hi < margin else "inconclusive")
    step_ratio = _gamma_star(rows, "importance") / _gamma_star(rows, "uniform")
    cens = f" ({(~ru).sum()} uniform seeds censored at T={T}: their times are lower bounds)" if (~ru).any() else ""
    if (~ri).any():  # a seed that never reaches the target (a floor, or a diverged run) fails the claim
        v = "violated" if v != "inconclusive" or ri.sum() == 0 else v
        cens += f" ({(~ri).sum()} importance seeds never reached the target)"
    ti_m = tuple(float(x[0]) for x in mean_confidence(ti[:, None], LEVEL))
    tu_m = tuple(float(x[0]) for x in mean_confidence(tu[:, None], LEVEL))
    why = (f"steps to f-f* <= {TARGET_REL:g}(f(x0)-f*): uniform {tu_m[0]:.0f} [{tu_m[1]:.0f}, {tu_m[2]:.0f}], "
           f"importance {ti_m[0]:.0f} [{ti_m[1]:.0f}, {ti_m[2]:.0f}], speedup {speed[0]:.3g} [{speed[1]:.3g}, "
           f"{speed[2]:.3g}] vs margin sqrt(predicted {predicted:.3g}) = {np.exp(margin):.3g} (speedup/predicted "
           f"{speed[0] / predicted:.3g}; step ratio of the runs gamma*_imp/gamma*_unif {step_ratio:.3g}){cens}")
    return v, speed, ti_m, why


def _control(rows: pd.DataFrame, by: dict, t0: int):
    """The unweighted control's plateau (tail t >= T/2) against its floor f(x_p) - f*, within +-TOL_FLOOR
    (relative); its ||x-x*||^2 slope over t >= t0 is reported. (verdict, (ratio, low, high), reason)."""
    tw, Yw = seed_matrix(by["importance_unweighted"], "dist_sq", axis="t", final=False)
    fit_w = fit_loglog_slope(tw[tw >= t0], Yw[:, tw >= t0], level=LEVEL)
    t3, Y3 = seed_matrix(by["importance_unweighted"], "f_gap", axis="t", final=False)
    pl = estimate_plateau(t3, Y3, tail_fraction=0.5, level=LEVEL)
    floor = _theory(rows, "importance_unweighted", "floor")
    lo_b, hi_b = floor * (1 - TOL_FLOOR), floor * (1 + TOL_FLOOR)
    if lo_b <= pl.ci_low and pl.ci_high <= hi_b:
        v = "holds"
    elif pl.ci_high < lo_b or pl.ci_low > hi_b:
        v = "violated"
    else:
        v = "inconclusive"
    rel = (pl.level / floor, pl.ci_low / floor, pl.ci_high / floor)
    why = (f"unweighted plateau {pl.level:.4g} [{pl.ci_low:.4g}, {pl.ci_high:.4g}] vs floor f(x_p)-f* {floor:.4g} "
           f"(ratio {rel[0]:.3f} [{rel[1]:.3f}, {rel[2]:.3f}], tolerance +-{TOL_FLOOR:g}); its ||x-x*||^2 slope "
           f"{fit_w.slope:.3f} [{fit_w.ci_low:.3f}, {fit_w.ci_high:.3f}] (floor ||x_p-x*||^2 "
           f"{_theory(rows, 'importance_unweighted', 'floor_dist'):.3g})")
    return v, rel, why


def judge(rows):
    by = {s: rows[rows["sampler"] == s] for s in SAMPLERS}
    T = int(rows["T"].max())
    v_speed, speed, ti_m, why_speed = _speed(rows, by, T)
    # no floor for the reweighted run: ||x_t - x*||^2 keeps decreasing once the steps decrease
    t, Y = seed_matrix(by["importance"], "dist_sq", axis="t", final=False)
    prm = _params(rows, "importance")
    t0 = fit_start(float(prm["gamma_star"]), float(prm["mu"]), T)
    win = t >= t0
    fit = fit_loglog_slope(t[win], Y[:, win], level=LEVEL)
    v_floor, why_floor = rate_verdict(fit, -1.0, TOL_SLOPE)
    why_floor = f"t >= {t0} (end of the constant-step phase): {why_floor}"
    v_ctrl, rel, why_ctrl = _control(rows, by, t0)
    verdict = combine_verdicts([v_speed, v_floor, v_ctrl])
    regime = [
        {"point": "speed: importance vs uniform", "verdict": v_speed, "estimate": speed[0], "ci_low": speed[1],
         "ci_high": speed[2], "reason": why_speed},
        {"point": "no floor: reweighted ||x-x*||^2 slope", "verdict": v_floor, "estimate": fit.slope,
         "ci_low": fit.ci_low, "ci_high": fit.ci_high, "reason": why_floor},
        {"point": "control: unweighted plateau / floor", "verdict": v_ctrl, "estimate": rel[0], "ci_low": rel[1],
         "ci_high": rel[2], "reason": why_ctrl},
    ]
    reason = (f"[{v_speed}] {why_speed}; [{v_floor}] reweighted ||x-x*||^2 slope over {why_floor}; "
              f"[{v_ctrl}] {why_ctrl}")
    return {"verdict": verdict, "reason": reason,
            "measured": f"speedup to target {speed[0]:.3g} [{speed[1]:.3g}, {speed[2]:.3g}]; reweighted dist slope "
                        f"{fit.slope:.3f} [{fit.ci_low:.3f}, {fit.ci_high:.3f}]; unweighted plateau/floor {rel[0]:.3f} "
                        f"[{rel[1]:.3f}, {rel[2]:.3f}]",
            "estimate": speed[0], "ci_low": speed[1], "ci_high": speed[2], "fit": fit_dict(fit),
            "regime_map": regime, "bound_margin": None,
            "numbers": {"speedup_to_target": number(*speed),
                        "steps_to_target_importance": number(*ti_m),
                        "reweighted_dist_slope": number(fit.slope, fit.ci_low, fit.ci_high),
                        "unweighted_plateau_over_floor": number(*rel)}}


CLAIM = Claim(
    id=ID, paper=UNIFIED_PAPER,
    theorem="Sec 3.4 (importance sampling; steps from Thm 3.2, schedule of Thm 3.5)", status="reconstructed",
    algorithms=(ALGO,),
    problem=f"ridge with uneven rows: least_squares(n={PROBLEM['n']}, d={PROBLEM['d']}, cond={PROBLEM['cond']:g}, "
            f"reg={PROBLEM['reg']:g}, row_spread={PROBLEM['row_spread']:g})",
    assumptions="mu-strongly convex finite sum, f_i L_i-smooth with L_max / mean L_i ~ 8.7; samplers: uniform "
                "(A = L_max), importance p_i ~ L_i reweighted (A = mean L_i), unweighted control (biased)",
    schedule=f"lambda = {LAM:g}; gamma_t = min(gamma*, (2t+1)/((t+1)^2 mu)), rho_t = min(rho*, 1/(2t+1)); gamma* = Thm 3.2 "
             f"limit with the sampler's own A and L = L_max, rho* = {RHO_FRAC:g}/L_max (same for all samplers)",
    measured="f(x_t) - f* and ||x_t - x*||^2 at dense checkpoints; steps to the target per seed",
    metric="f_gap", x="t",
    prediction=f"importance reaches f-f* <= {TARGET_REL:g}(f(x0)-f*) in fewer steps than uniform, by at least "
               "sqrt(step ratio gamma*_imp/gamma*_unif) (CI of the per-seed log ratio > log(step ratio)/2); "
               "reweighted: no floor (||x-x*||^2 slope <= -1 + 0.5); unweighted control: plateau at "
               "f(x_p) - f*, x_p = argmin sum_i p_i f_i (within 10%)",
    predicted_slope=-1.0, expected="holds", figure="unified_importance", tolerance=TOL_SLOPE,
    tolerance_reason="slope tolerance 0.5: Thm 3.5 gives O(1/t); the fit window still holds the end of the bias phase "
                     "(steeper) or the transition into 1/t, and a floor gives slope ~ 0, far above -0.5. Floor "
                     "tolerance 10%: the tail average still carries the O(gamma_t) stationary noise and the O(rho_t) "
                     "SAM offset of the decreasing schedule (a few percent at the quick horizon)",
    fit_window="dist slope: checkpoints t >= fit_start (end of the constant-step phase, ~ 2/(mu gamma*)) to T "
               "(T = 10000 quick, 20000 full); plateau: t >= T/2; steps to target: first crossing, log-linear "
               "interpolation between checkpoints (spacing 12.5 steps)",
    run=run, judge=judge,
    counterfeits=(
        Counterfeit("unweighted", "importance sampling without the 1/(n p_i) reweighting (steps unchanged)",
                    "E[grad_S] = grad sum_i p_i f_i, so the run converges to x_p != x* (weighted_minimiser): "
                    "||x_t - x*||^2 -> ||x_p - x*||^2 > 0, a floor with log-log slope -> 0 > -1 + 0.5; violated",
                    run={"reweight": False}),
        Counterfeit("uniform_given_importance_step", "the uniform sampler given the importance sampler's Thm 3.2 "
                    "step (A = mean L_i instead of its own L_max), the mechanism switched off",
                    "both samplers now take the same steps with the same expected gradient grad f, so the "
                    "bias phase, whose length ~ 1 / (gamma mu) sets the steps to the target, is the same: speedup "
                    "~ 1, below the margin sqrt(L_max-driven step ratio ~ 8.7) ~ 2.9; violated",
                    run={"uniform_steps": "importance"}),
    ))
