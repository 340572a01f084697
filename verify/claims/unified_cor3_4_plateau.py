"""unified.cor3_4_plateau (Oikonomou & Loizou, Cor 3.4, deterministic) [reconstructed].

Thm 3.2 with full-batch gradients (A = 0, B = 1, C = 0): with constant steps inside the theorem's limits,

    f(x_t) - f* <= (1 - gamma mu)^t (f(x_0) - f*) + N(lambda),   N(lambda) = L rho lambda^2 (1 + 2 L^2 gamma rho) / mu.

So lambda = 0 (USAM) converges linearly to f* (N(0) = 0), while every lambda > 0 may stall at a plateau
no higher than N(lambda), and the plateau grows with lambda (the normalised part lambda rho s/||s|| of the
perturbation keeps length lambda rho however close x is to x*).

Step sizes: ONE (rho, gamma) for every lambda, the Thm 3.2 values of lambda = 0 (rho = RHO_FRAC x its strict
limit 1/(L (1 + 2)), gamma = its limit at that rho). Both limits grow with lambda, so this pair satisfies the
hypotheses for every lambda in [0, 1] (checked in ``run``), and the plateau's dependence on lambda is not
confounded by lambda-dependent steps. L is the smoothness of f (``problem.L``): with full-batch gradients the
finite sum is one component f, whose smoothness is L (Thm 3.2's L_max over components of the one-component sum).

Predictions checked (all must hold):
1. lambda = 0 reaches |f(x_T) - f*| <= ROUNDOFF_REL (f(x_0) - f*) (the stated round-off level, 1e-12 relative;
   float64 evaluation error of f - f* is ~ eps |f*| ~ 1e-17 here, every plateau of lambda > 0 is > 1e-7 relative);
2. for every lambda > 0 the plateau (``estimate_plateau``, tail t >= T/2) has its upper CI limit <= N(lambda);
3. the plateaus increase with lambda (``monotone_verdict`` over lambda > 0, per problem);
4. the whole curve stays under the Thm 3.2 bound + the round-off level (``check_bound``).
Deterministic: all seeds run the same iteration, so the CIs over seeds are degenerate (zero width); the
statistics functions handle this (a CI [m, m]), and the comparisons reduce to exact ones.

Where the plateau comes from (``two_cycle_level``): for lambda > 0 the iteration settles on the 2-cycle
x* +- c v_max along the top Hessian eigenvector, c = gamma h lambda rho / (2 - gamma h (1 + rho (1-lambda) h)),
f - f* = h c^2 / 2. Finding: the measured plateaus equal it on both problems (reported per point) and lie
far below N(lambda): the corollary's neighbourhood holds but is loose by orders of magnitude (measured
values: README, "What the claims say today").
Counterfeits (judge settings): the plateau law off by a factor ("plateau_law_quartered": plateau <= 1/4
of the 2-cycle level) and "lam0_stalls" (USAM claimed to stall). Both are deterministic and rejected in
every repeat (quick, 8 seeds, 20 repeats: power 20/20 each, size 0/20, P(holds) 20/20); no change of the verdict rule was needed
(an N/4 law would still hold: the plateaus are far below N, so that counterfeit had to come from the
derived level, not from N).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from optim.algorithms import UNIFIED_PAPER
from problems import FullBatch, make_problem
from problems.pl_sine import PLSine

from ..claim import Claim, Context, Counterfeit
from ..pivot import fit_dict, number, seed_matrix
from ..stats import check_bound, combine_verdicts, estimate_plateau, fit_loglog_slope, monotone_verdict
from ..sweep import Point, run_points, theory_rows
from .unified_thm3_2_bound import bound_fn, neighbourhood_fn, rho_max_fn, gamma_max_fn, step_sizes

ID = "unified.cor3_4_plateau"
ALGO = "unified_sam"
RIDGE = dict(n=50, d=10, cond=10.0, reg=0.1, seed=0)
PL_SINE_D = 5
RHO_FRAC = 0.5
ROUNDOFF_REL = 1e-12
TAIL = 0.5
GRIDS = {
    "quick": {"problems": ("ridge", "pl_sine"), "lambdas": (0.0, 0.25, 0.5, 0.75, 1.0), "T": 1000, "n_ckpt": 40},
    "full": {"problems": ("ridge", "pl_sine"), "lambdas": (0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0),
             "T": 10000, "n_ckpt": 80},
}


def _problem(name: str):
    return make_problem("ridge", **RIDGE) if name == "ridge" else PLSine(d=PL_SINE_D)


def _label(lam: float, pname: str) -> str:
    return f"lambda={lam:g}" + ("" if pname == "ridge" else f",problem={pname}")


def top_curvature(problem) -> float:
    """The largest eigenvalue h of the Hessian at x* (d exact Hessian-vector products with the identity)."""
    H = np.asarray(problem.hvp(np.asarray(problem.x_star, dtype=float), np.eye(problem.d)), dtype=float)
    return float(np.linalg.eigvalsh((H + H.T) / 2)[-1])


def two_cycle_level(h: float, gamma: float, rho: float, lam: float) -> float:
    """f - f* on the 2-cycle x* +- c v of deterministic Unified SAM along a Hessian eigenvector v of
    eigenvalue h (f quadratic to second order): x - x* = c v maps to -c v when
    c = gamma h lam rho / (2 - gamma h (1 + rho (1 - lam) h)) (the update is
    x <- x - gamma h (x + rho (1 - lam) h x + lam rho sign(x)) along v), so the level is h c^2 / 2."""
    c = gamma * h * lam * rho / (2 - gamma * h * (1 + rho * (1 - lam) * h))
    return 0.5 * h * c * c


def run(ctx: Context):
    g = GRIDS["quick" if ctx.quick else "full"]
    T = g["T"]
    ck = np.unique(np.r_[0, np.geomspace(1, T, g["n_ckpt"]).round().astype(int)])
    t_rec = np.unique(np.r_[ck[ck < T], T])
    frames = []
    sampler = FullBatch()
    for pname in g["problems"]:
        problem = _problem(pname)
        A, B, C = sampler.abc(problem)
        L, mu = float(problem.L), float(problem.mu)
        rho, gamma = step_sizes(0.0, L, mu, A, B, RHO_FRAC)
        for lam in g["lambdas"]:  # the lambda = 0 pair satisfies every lambda's hypotheses
            if not (rho < float(rho_max_fn(lam, L, mu, A, B)) and gamma <= float(gamma_max_fn(rho, lam, L, mu, A, B))):
                raise AssertionError(f"{pname}: (rho, gamma) = ({rho}, {gamma}) outside Thm 3.2's limits at lambda={lam}")
        x0 = np.ones(problem.d)
        D0 = float(problem.f(x0)) - float(problem.f_star)
        h = top_curvature(problem)
        points = [Point(_label(lam, pname), {"lr": gamma, "rho": rho, "lam": lam}, T=T,
                        info={"gamma": gamma, "L": L, "mu": mu, "D0": D0,
                              "N": float(neighbourhood_fn(gamma, rho, lam, L, mu, C))}) for lam in g["lambdas"]]
        frames.append(run_points(ctx, ID, ALGO, problem, sampler, points, problem_name=pname,
                                 sampler_name="full_batch", x0=x0, checkpoints=ck, label=pname))
        for p in points:
            frames.append(theory_rows(ID, ALGO, pname, "full_batch", p.label, T, 1, T, "floor", p.info["N"]))
            frames.append(theory_rows(ID, ALGO, pname, "full_batch", p.label, T, 1, t_rec, "bound",
                                      bound_fn(t_rec.astype(float), gamma, rho, p.hp["lam"], L, mu, C, D0)))
            frames.append(theory_rows(ID, ALGO, pname, "full_batch", p.label, T, 1, T, "roundoff", ROUNDOFF_REL * D0))
            frames.append(theory_rows(ID, ALGO, pname, "full_batch", p.label, T, 1, T, "cycle",
                                      two_cycle_level(h, gamma, rho, p.hp["lam"])))
    return pd.concat(frames, ignore_index=True)


def _lam(point: str) -> float:
    return float(point.split(",")[0].split("=")[1])


def _theory(rows: pd.DataFrame, metric: str) -> pd.Series:
    return rows[(rows["seed"] < 0) & (rows["metric"] == metric)].drop_duplicates("t").set_index("t")["value"]


def _lam0_check(t: np.ndarray, Y: np.ndarray, eps: float, rule: str) -> tuple[str, str, tuple]:
    """lambda = 0 on ``Y: (n_seeds, n_t)``: rule "converges" (the corollary: |f - f*| <= eps at T, all seeds)
    or "stalls" (a counterfeit's: a plateau whose lower CI limit is above eps; violated when every seed
    reaches eps). (verdict, reason, (estimate, low, high))."""
    final = Y[:, -1]
    reached = bool(np.all(np.abs(final) <= eps))
    below = np.flatnonzero(np.all(np.abs(Y) <= eps, axis=0))
    t_hit = int(t[below[0]]) if below.size else -1
    fin = float(np.max(np.abs(final)))
    if rule == "converges":
        v = "holds" if reached else "violated"
        why = (f"lambda=0: |f-f*| at T = {fin:.3g} {'<=' if reached else '>'} round-off level {eps:.3g} "
               f"(reached at t={t_hit})")
    else:
        if reached:  # converged (often to exactly 0): no plateau to estimate
            v, tail = "violated", f"reached at t={t_hit}"
        else:
            pl = estimate_plateau(t, Y, tail_fraction=TAIL)
            v = "holds" if pl.ci_low > eps else "inconclusive"
            tail = f"not reached; tail level {pl.level:.3g} [{pl.ci_low:.3g}, {pl.ci_high:.3g}]"
        why = f"lambda=0 claimed to stall: |f-f*| at T = {fin:.3g}, round-off level {eps:.3g} {tail}"
    return v, why, (fin, float(np.min(final)), float(np.max(final)))


def _plateau_check(t: np.ndarray, Y: np.ndarray, limit: float, cycle: float, law: str):
    """lambda > 0: the tail plateau against its upper limit (holds: UCL <= limit; violated: LCL > limit);
    the derived 2-cycle level is reported beside it. (Plateau, verdict, reason)."""
    pl = estimate_plateau(t, Y, tail_fraction=TAIL)
    v = "holds" if pl.ci_high <= limit else ("violated" if pl.ci_low > limit else "inconclusive")
    why = (f"plateau {pl.level:.3g} [{pl.ci_low:.3g}, {pl.ci_high:.3g}] vs {law} {limit:.3g} (ratio {pl.level / limit:.3g}; "
           f"tail change {pl.rel_change:+.2g}); 2-cycle level {cycle:.3g} (plateau/cycle {pl.level / cycle:.4g})")
    return pl, v, why


def _lambda_law(lams: list, lam_rows: list, plateaus: list, limits: list, pname: str, mwhy: str):
    """Per problem: the plateau's exponent in lambda (log-log fit of per-seed tail means), the largest
    plateau/limit, its numbers and one line of text. (fit, (ratio, low, high), numbers, text)."""
    ratios = np.array([p.level / n for p, n in zip(plateaus, limits)])
    k = int(np.argmax(ratios))
    tails = []
    for p_, g_ in lam_rows:
        if _lam(p_) > 0:
            t_, Y_ = seed_matrix(g_, "f_gap", axis="t", final=False)
            tails.append(Y_[:, t_ >= (1 - TAIL) * t_.max()].mean(axis=1))
    fit = fit_loglog_slope(np.array(lams), np.column_stack(tails))
    top = (float(ratios[k]), float(plateaus[k].ci_low / limits[k]), float(plateaus[k].ci_high / limits[k]))
    hi_pl = plateaus[-1]
    numbers = {f"plateau_lambda_exponent_{pname}": number(fit.slope, fit.ci_low, fit.ci_high),
               f"plateau_lambda{lams[-1]:g}_{pname}": number(hi_pl.level, hi_pl.ci_low, hi_pl.ci_high),
               f"max_plateau_over_N_{pname}": number(*top)}
    text = (f"{pname}: {mwhy.split(':')[0]}; plateaus " +
            ", ".join(f"lambda={l:g}: {p.level:.3g}" for l, p in zip(lams, plateaus)) +
            f"; plateau ~ lambda^{fit.slope:.2f} [{fit.ci_low:.2f}, {fit.ci_high:.2f}] (N ~ lambda^2)"
            f"; max plateau/limit {ratios[k]:.3g} at lambda={lams[k]:g}")
    return fit, top, numbers, text


def _judge_problem(pname: str, gp: pd.DataFrame, law: str, law_factor: float, lam0: str, law_txt: str) -> dict:
    """One problem's lambda points: the plateau (or lambda = 0 convergence) and bound checks per lambda,
    the monotone trend in lambda, and the lambda law of the plateaus."""
    lam_rows = sorted(gp.groupby("point", sort=False), key=lambda kv: _lam(kv[0]))
    plateaus, limits, regime, parts = [], [], [], []
    for point, g in lam_rows:
        t, Y = seed_matrix(g, "f_gap", axis="t", final=False)
        eps = float(_theory(g, "roundoff").iloc[0])
        bc = check_bound(Y, _theory(g, "bound").loc[t].to_numpy(dtype=float) + eps)
        if _lam(point) == 0:
            v, why, (est, lo, hi) = _lam0_check(t, Y, eps, lam0)
        else:
            cycle = float(_theory(g, "cycle").iloc[0])
            limit = law_factor * (float(_theory(g, "floor").iloc[0]) if law == "N" else cycle)
            pl, v, why = _plateau_check(t, Y, limit, cycle, law_txt)
            plateaus.append(pl)
            limits.append(limit)
            est, lo, hi = pl.level, pl.ci_low, pl.ci_high
        parts += [v, bc.verdict]
        key = point if "problem=" in point else f"{point},problem={pname}"
        regime.append({"point": key, "verdict": combine_verdicts([v, bc.verdict]), "estimate": est,
                       "ci_low": lo, "ci_high": hi, "reason": f"{why}; Thm 3.2 bound + round-off: {bc.reason}"})
    mv, mwhy = monotone_verdict(plateaus, increasing=True)
    lams = [_lam(p) for p, _ in lam_rows if _lam(p) > 0]
    fit, top, nums, line = _lambda_law(lams, lam_rows, plateaus, limits, pname, mwhy)
    return {"regime": regime, "parts": parts + [mv], "fit": fit, "top": top, "numbers": nums, "line": line}


def judge(rows, *, law: str = "N", law_factor: float = 1.0, lam0: str = "converges"):
    """Verdict from the rows. The true claim: plateau <= N(lambda) (``law`` "N"), lambda = 0 converges.
    Counterfeits: ``law`` "cycle" compares the plateaus with ``law_factor`` x the derived 2-cycle level,
    ``law_factor`` scales either law, ``lam0`` "stalls" claims that lambda = 0 stalls."""
    if law not in ("N", "cycle") or lam0 not in ("converges", "stalls") or not law_factor > 0:
        raise ValueError(f"law={law!r}, law_factor={law_factor!r}, lam0={lam0!r}: law is N or cycle, "
                         "law_factor > 0, lam0 converges or stalls")
    law_txt = ("" if law_factor == 1 else f"{law_factor:g} x ") + ("N(lambda)" if law == "N" else "2-cycle level")
    r = rows[rows["metric"].isin(["f_gap", "bound", "floor", "roundoff", "cycle"])]
    regime, parts, numbers, text, fits = [], [], {}, [], {}
    headline = (-np.inf, np.nan, np.nan)
    for pname, gp in r.groupby("problem", sort=False):
        p = _judge_problem(pname, gp, law, law_factor, lam0, law_txt)
        regime += p["regime"]
        parts += p["parts"]
        fits[pname] = p["fit"]
        numbers.update(p["numbers"])
        text.append(p["line"])
        headline = max(headline, p["top"], key=lambda h: h[0])
    verdict = combine_verdicts(parts)
    lam0_txt = "; ".join(f"{e['point']}: {e['reason'].split(';')[0]}" for e in regime
                         if e["point"].startswith("lambda=0,"))
    bad = [e for e in regime if e["verdict"] != "holds"]
    bad_txt = ("; not holding: " + "; ".join(f"{e['point']}: {e['reason']}" for e in bad[:3])) if bad else ""
    return {"verdict": verdict, "reason": f"{lam0_txt}; plateau limit {law_txt}; " + "; ".join(text) + bad_txt,
            "measured": f"largest plateau/{law_txt} {headline[0]:.3g}; " + "; ".join(text)
                        + " (deterministic: seeds identical, CIs of zero width)",
            "estimate": headline[0], "ci_low": headline[1], "ci_high": headline[2],
            "fit": fit_dict(next(iter(fits.values()))), "regime_map": regime, "bound_margin": None,
            "numbers": numbers}


CLAIM = Claim(
    id=ID, paper=UNIFIED_PAPER,
    theorem="Cor 3.4 (deterministic Unified SAM, constant steps)", status="reconstructed", algorithms=(ALGO,),
    problem=f"ridge (least squares n={RIDGE['n']}, d={RIDGE['d']}, cond={RIDGE['cond']:g}, reg={RIDGE['reg']:g}) and "
            f"pl_sine d={PL_SINE_D}, full batch",
    assumptions="mu-PL (ridge mu = eig_min + reg; pl_sine tight mu ~ 0.1755), L-smooth f (L = problem.L), full-batch "
                "gradients: A = 0, B = 1, C = 0",
    schedule=f"one constant pair for all lambda: rho = {RHO_FRAC:g} x 1/(3L) (the lambda = 0 limit), gamma = "
             "(mu - 3 L rho mu) / (2 L mu (1 + 2 L^2 rho^2)) (the lambda = 0 limit at that rho)",
    measured="f(x_t) - f* at log-spaced t; plateau = tail average over t >= T/2",
    metric="f_gap", x="t",
    prediction="lambda = 0: linear convergence to f* (|f - f*| <= 1e-12 (f(x_0) - f*) at T); lambda > 0: plateau <= "
               "N(lambda) = L rho lambda^2 (1 + 2 L^2 gamma rho)/mu, increasing in lambda; f - f* <= Thm 3.2 bound",
    predicted_slope=None, expected="holds", figure="unified_lambda", tolerance=ROUNDOFF_REL,
    tolerance_reason="1e-12 (f(x_0) - f*) is the stated round-off level: the float64 error of evaluating f(x) - f* near "
                     "x* is ~ eps |f*| ~ 1e-17 here, while the Thm 3.2 bound for lambda = 0 decays geometrically "
                     "below it; it is added to the bound and is the convergence threshold for lambda = 0",
    fit_window="no slope fit; plateau = mean over the checkpoints with t >= T/2 (quick T = 1000, full T = 10000)",
    run=run, judge=judge,
    counterfeits=(
        Counterfeit("plateau_law_quartered", "the plateau law off by a factor: plateau <= 1/4 of the 2-cycle level "
                    "(L_H/2) c^2, c = gamma L_H lambda rho / (2 - gamma L_H (1 + rho (1-lambda) L_H)), L_H the top "
                    "Hessian eigenvalue at x*",
                    "the deterministic iteration settles on the 2-cycle x* +- c v_max (see two_cycle_level), whose "
                    "f - f* is the 2-cycle level exactly (to second order in c on pl_sine): every plateau is 4x its "
                    "counterfeit limit, with CIs of zero width; violated", judge={"law": "cycle", "law_factor": 0.25}),
        Counterfeit("lam0_stalls", "lambda = 0 (USAM) claimed to stall at a plateau above the round-off level",
                    "lambda = 0 with full batch has N(0) = 0 and C = 0: Thm 3.2's bound D0 (1 - gamma mu)^t falls below "
                    "the round-off level 1e-12 D0 at t = ln(1e12) / -ln(1 - gamma mu) ~ 630 < T = 1000 on ridge "
                    "(gamma mu = 0.043), so f - f* reaches round-off; violated", judge={"lam0": "stalls"}),
    ))
