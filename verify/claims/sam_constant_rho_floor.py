"""sam.constant_rho_floor (Si & Yun): a negative control the suite must call "violated".

Stochastic SAM with a constant radius rho and decaying steps gamma_t = c/(t+1) on two_quadratics
converges to x_hat = x* - rho (p k1 - (1-p) k2)/K, not to x*, so f(x_t) - f* tends to the floor
rho^2 (p k1 - (1-p) k2)^2 / (2K) > 0. An "O(1/T) to f*" claim (slope in t <= -1) must therefore be
violated, and the measured plateau must match the floor formula.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from optim.schedules import Schedule
from problems import Importance, TwoQuadratics

from ..claim import Claim, Context
from ..pivot import fit_dict, number, seed_matrix, theory_curve
from ..stats import estimate_plateau, fit_loglog_slope, rate_verdict
from ..sweep import Point, run_points, theory_rows

ID = "sam.constant_rho_floor"
PROBLEM = dict(p=0.5, k1=1.0, k2=2.0, c1=-1.0, c2=1.0)
RHO, C_GAMMA = 0.2, 1.0
TOL = 0.1
GRIDS = {"quick": {"T": 20000}, "full": {"T": 200000}}


def run(ctx: Context):
    problem = TwoQuadratics(**PROBLEM)
    T = GRIDS["quick" if ctx.quick else "full"]["T"]
    point = Point(f"rho={RHO:g}", {"lr": Schedule("inv_t", C_GAMMA), "rho": RHO}, T=T)
    rows = run_points(ctx, ID, "sam", problem, Importance(p=problem.q), [point], problem_name="two_quadratics",
                      sampler_name="natural(p)", x0=np.array([1.0]),
                      checkpoints=np.unique(np.geomspace(1, T, 40).astype(int)))
    floor = theory_rows(ID, "sam", "two_quadratics", "natural(p)", point.label, T, 1, 0, "floor",
                        problem.sam_floor(RHO))
    return pd.concat([rows, floor], ignore_index=True)


def judge(rows):
    r = rows[rows["metric"] == "f_gap"]
    t, Y = seed_matrix(r, "f_gap", axis="t", final=False)
    T = int(rows["T"].max())
    window = t >= T / 100
    fit = fit_loglog_slope(t[window], Y[:, window])
    verdict, reason = rate_verdict(fit, -1.0, TOL)
    plateau = estimate_plateau(t, Y, tail_fraction=0.5)
    floor = float(theory_curve(rows, "floor")[1][0])
    rel = plateau.level / floor - 1
    matches = plateau.ci_low <= floor * 1.05 and plateau.ci_high >= floor * 0.95
    return {"verdict": verdict,
            "reason": f"{reason}; plateau {plateau.level:.3g} [{plateau.ci_low:.3g}, {plateau.ci_high:.3g}] vs "
                      f"floor formula {floor:.3g} ({rel:+.1%}, {'matches' if matches else 'does NOT match'} within 5%)",
            "measured": f"slope in t {fit.slope:.3f} [{fit.ci_low:.3f}, {fit.ci_high:.3f}]; plateau {plateau.level:.3g}",
            "estimate": fit.slope, "ci_low": fit.ci_low, "ci_high": fit.ci_high, "fit": fit_dict(fit),
            "floor": floor, "floor_matches": bool(matches),
            "numbers": {"slope": number(fit.slope, fit.ci_low, fit.ci_high),
                        "plateau_over_floor": number(plateau.level / floor, plateau.ci_low / floor,
                                                     plateau.ci_high / floor)}}


CLAIM = Claim(
    id=ID, paper="Si & Yun, Practical Sharpness-Aware Minimization Cannot Converge All the Way to Optima (NeurIPS 2023)",
    theorem="constant-rho stochastic SAM counterexample", status="confirmed", algorithms=("sam",),
    problem="two_quadratics p=0.5, k1=1, k2=2, c1=-1, c2=1 (d=1)",
    assumptions="smooth, strongly convex; one component sampled per step (prob. p, 1-p)",
    schedule=f"gamma_t = {C_GAMMA:g}/(t+1), constant rho = {RHO:g}",
    measured="E[f(x_t) - f*] over seeds at log-spaced t",
    metric="f_gap", x="t",
    prediction="(negative control) O(1/t) convergence to f*: slope in t <= -1 + tol; the suite must find it violated, "
               "with a plateau at rho^2 (p k1 - (1-p) k2)^2 / (2K)",
    predicted_slope=-1.0, expected="violated", figure="floor", tolerance=TOL,
    tolerance_reason="0.1 absorbs the curvature of log f near the transition into the floor",
    fit_window="t >= T/100 (the last two decades)", grids=GRIDS, run=run, judge=judge)
