"""unified.thm3_2_bound (Oikonomou & Loizou, Thm 3.2) [reconstructed statement; the step sizes match
the official code].

Unified SAM, e = rho ((1 - lambda) + lambda / ||s||) s, with constant steps on a mu-PL finite sum whose
stochastic gradients satisfy E||grad_S(x)||^2 <= 2A (f(x) - f_inf) + B ||grad f(x)||^2 + C. With
L = L_max (the largest component smoothness), K = B mu + A and

    rho   <  mu / (L (mu + 2 (1-lambda)^2 K)),
    gamma <= (mu - L rho (mu + 2 (1-lambda)^2 K)) / (2 L K (1 + 2 L^2 rho^2 (1-lambda)^2)),

the theorem states, for every t,

    E[f(x_t) - f*] <= (1 - gamma mu)^t (f(x_0) - f*) + N,
    N = (L/mu) [ (rho (1-lambda)^2 + gamma (1 + 2 L^2 rho^2 (1-lambda)^2)) C + rho lambda^2 (1 + 2 L^2 gamma rho) ].

(For uniform single-element sampling B = 0, so K = A = L_max; full batch has A = 0, B = 1, C = 0.)
The bound, the step-size limits and N are sympy expressions (BOUND, RHO_MAX, GAMMA_MAX, NEIGHBOURHOOD)
evaluated with sympy.lambdify and stored as theory rows (metric "bound" per checkpoint and "floor" = N,
seed -1). Each grid point runs rho = RHO_FRAC * RHO_MAX (the limit is strict) and gamma = GAMMA_MAX
exactly (the limit is attained), with A, B, C from ``sampler.abc(problem)``.

Verdict per grid point: ``stats.check_bound`` (the upper 95% confidence limit of the seed mean of
f(x_t) - f* stays at or below the bound at every checkpoint, t = 0 included); overall:
``combine_verdicts``. The slack (how loose the bound is) is reported: the smallest ratio bound/mean
over checkpoints t >= 1 (the tightest place; at t = 0 the ratio is trivially 1 + N/(f(x_0) - f*)),
and the asymptotic ratio N / measured plateau. A violation anywhere would be a finding about the
reconstructed statement, not something to tune away.

Counterfeits (``bound_values``: the runs are the true claim's, only the stored bound changes): the bound
with N dropped ("no_neighbourhood") and with the contraction (1 - 4 gamma mu)^t ("fast_contraction").
Measurement change (issue 14): the quick horizon was 6 e-folds of the contraction, where e^-6 D0 ~ 0.016
is still above the runs' stationary levels (<= 0.01), so the quick grid could not tell whether N is needed
at all: the N-dropped bound held or was inconclusive (quick, 8 seeds, 10 repeats: 1 holds / 9
inconclusive / 0 violated, power 0%). With 12 e-folds (T 258-1242 per sampler, still under the cap) the
contraction term reaches e^-12 D0 ~ 4e-5, and the N-dropped bound is crossed at 15 of 20 points: power
100% (20/20 repeats); the true claim still holds (size 0/20, P(holds) 20/20 before and after; worst margin
over repeats 5.2%, at t = 1), "fast_contraction" rejected in 10/10 before and 20/20 after.

Problems: ridge (quick and full; reg = 2 makes mu / L_max ~ 0.2 so that the theorem's uniform step,
~ mu / (4 L_max^2), reaches the neighbourhood within a few thousand steps); full grid adds pl_sine
(d = 5, not a finite sum) with additive Gaussian noise, E||xi||^2 = sigma^2 (A = 0, B = 1,
C = sigma^2 / b), using the tight PL constant mu ~ 0.1755 (``problem.mu``), not the literature's 1/32.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import sympy as sp

from optim.algorithms import UNIFIED_PAPER
from problems import Gaussian, Importance, TauNice, Uniform, make_problem
from problems.pl_sine import PLSine

from ..claim import Claim, Context, Counterfeit
from ..pivot import number, seed_matrix
from ..stats import VERDICTS, check_bound, combine_verdicts, estimate_plateau, mean_confidence
from ..sweep import Point, run_points, theory_rows

ID = "unified.thm3_2_bound"
ALGO = "unified_sam"
LAMBDAS = (0.0, 0.25, 0.5, 0.75, 1.0)
RHO_FRAC = 0.5          # rho = RHO_FRAC * the strict limit RHO_MAX; gamma = GAMMA_MAX exactly
RIDGE = dict(n=50, d=5, cond=2.0, reg=2.0, seed=0)
PL_SINE_D, PL_SINE_SIGMA = 5, 1.0
LEVEL = 0.95
GRIDS = {
    # horizon per sampler: T = ceil(e_folds / (gamma_min mu)), capped, so that the bound's
    # exponential term has shrunk by exp(-e_folds) and N dominates its tail
    "quick": {"problems": ("ridge",), "samplers": ("uniform", "tau_nice(10)", "tau_nice(n)", "importance"),
              "lambdas": LAMBDAS, "e_folds": 12.0, "T_cap": 4000, "n_ckpt": 30},
    "full": {"problems": ("ridge", "pl_sine"),
             "samplers": ("uniform", "tau_nice(1)", "tau_nice(10)", "tau_nice(n)", "importance"),
             "lambdas": LAMBDAS, "e_folds": 20.0, "T_cap": 40000, "n_ckpt": 60},
}

# --- the theorem as sympy expressions ------------------------------------------------------------
t_, gamma_, rho_, lam_, L_, mu_, A_, B_, C_, D0_ = sp.symbols("t gamma rho lambda L mu A B C D0", nonnegative=True)
K_ = B_ * mu_ + A_
RHO_MAX = mu_ / (L_ * (mu_ + 2 * (1 - lam_) ** 2 * K_))
GAMMA_MAX = (mu_ - L_ * rho_ * (mu_ + 2 * (1 - lam_) ** 2 * K_)) / (
    2 * L_ * K_ * (1 + 2 * L_ ** 2 * rho_ ** 2 * (1 - lam_) ** 2))
NEIGHBOURHOOD = (L_ / mu_) * ((rho_ * (1 - lam_) ** 2 + gamma_ * (1 + 2 * L_ ** 2 * rho_ ** 2 * (1 - lam_) ** 2)) * C_
                              + rho_ * lam_ ** 2 * (1 + 2 * L_ ** 2 * gamma_ * rho_))
BOUND = (1 - gamma_ * mu_) ** t_ * D0_ + NEIGHBOURHOOD

rho_max_fn = sp.lambdify((lam_, L_, mu_, A_, B_), RHO_MAX, "numpy")
gamma_max_fn = sp.lambdify((rho_, lam_, L_, mu_, A_, B_), GAMMA_MAX, "numpy")
neighbourhood_fn = sp.lambdify((gamma_, rho_, lam_, L_, mu_, C_), NEIGHBOURHOOD, "numpy")
bound_fn = sp.lambdify((t_, gamma_, rho_, lam_, L_, mu_, C_, D0_), BOUND, "numpy")


def step_sizes(lam: float, L: float, mu: float, A: float, B: float, frac: float = RHO_FRAC) -> tuple[float, float]:
    """(rho, gamma) of Thm 3.2: rho = frac * RHO_MAX (strict limit), gamma = GAMMA_MAX at that rho."""
    if not 0 < frac < 1:
        raise ValueError(f"frac={frac!r}: rho must lie strictly below its limit, 0 < frac < 1")
    rho = frac * float(rho_max_fn(lam, L, mu, A, B))
    gamma = float(gamma_max_fn(rho, lam, L, mu, A, B))
    if not gamma > 0:
        raise ValueError(f"gamma_max={gamma!r} is not positive (lambda={lam}, L={L}, mu={mu}, A={A}, B={B})")
    return rho, gamma


def smoothness(problem) -> float:
    """The theorem's L: L_max for a finite sum, the smoothness L otherwise."""
    return float(getattr(problem, "L_max", problem.L))


def _setup(name: str, sampler_key: str):
    """(problem, problem_name, sampler, sampler_name)."""
    if name == "ridge":
        problem = make_problem("ridge", **RIDGE)
        n = problem.n
        samplers = {"uniform": (Uniform(), "uniform"), "tau_nice(1)": (TauNice(1), "tau_nice(1)"),
                    "tau_nice(10)": (TauNice(10), "tau_nice(10)"), "tau_nice(n)": (TauNice(n), f"tau_nice({n})"),
                    "importance": (Importance(), "importance")}
        sampler, sname = samplers[sampler_key]
        return problem, "ridge", sampler, sname
    problem = PLSine(d=PL_SINE_D)
    return problem, "pl_sine", Gaussian(sigma=PL_SINE_SIGMA), f"gaussian(sigma={PL_SINE_SIGMA:g})"


def checkpoints(T: int, n: int) -> np.ndarray:
    """0 and about n log-spaced iterations in [1, T] (T itself is always recorded as the final row)."""
    return np.unique(np.r_[0, np.geomspace(1, T, n).round().astype(int)])


def _label(lam: float, sname: str, pname: str) -> str:
    return f"lambda={lam:g},sampler={sname}" + ("" if pname == "ridge" else f",problem={pname}")


def bound_values(t: np.ndarray, gamma: float, rho: float, lam: float, L: float, mu: float, C: float, D0: float,
                 neighbourhood: float = 1.0, contraction: float = 1.0) -> np.ndarray:
    """The bound at iterations ``t: (n_t,)``; the defaults give Thm 3.2's BOUND. A counterfeit scales its
    neighbourhood N by ``neighbourhood`` (0: N dropped) or its contraction (1 - gamma mu)^t to
    (1 - contraction gamma mu)^t (a faster decay than the theorem's)."""
    if neighbourhood == 1.0 and contraction == 1.0:
        return np.asarray(bound_fn(t, gamma, rho, lam, L, mu, C, D0), dtype=float)
    if not 0 < contraction * gamma * mu < 1:
        raise ValueError(f"contraction={contraction!r}: (1 - contraction gamma mu) must lie in (0, 1)")
    N = float(neighbourhood_fn(gamma, rho, lam, L, mu, C))
    return (1 - contraction * gamma * mu) ** np.asarray(t, dtype=float) * D0 + neighbourhood * N


def run(ctx: Context, *, neighbourhood: float = 1.0, contraction: float = 1.0):
    """The sweep; ``neighbourhood`` and ``contraction`` change the stored bound only (counterfeits, see
    ``bound_values``): the runs, and their samples, are the true claim's."""
    g = GRIDS["quick" if ctx.quick else "full"]
    jobs = [(p, s) for p in g["problems"] for s in (g["samplers"] if p == "ridge" else ("gaussian",))]
    frames = []
    for pname_key, skey in jobs:
        problem, pname, sampler, sname = _setup(pname_key, skey)
        A, B, C = sampler.abc(problem)
        L, mu = smoothness(problem), float(problem.mu)
        if not mu > 0:
            raise ValueError(f"{pname}: mu={mu!r}, the PL constant must be > 0 (ridge needs reg > 0)")
        x0 = np.ones(problem.d)
        D0 = float(problem.f(x0)) - float(problem.f_star)
        steps = {lam: step_sizes(lam, L, mu, A, B) for lam in g["lambdas"]}
        gamma_min = min(gm for _, gm in steps.values())
        T = int(min(g["T_cap"], np.ceil(g["e_folds"] / (gamma_min * mu))))
        ck = checkpoints(T, g["n_ckpt"])
        t_rec = np.unique(np.r_[ck[ck < T], T])
        points = []
        for lam, (rho, gamma) in steps.items():
            N = float(neighbourhood_fn(gamma, rho, lam, L, mu, C))
            points.append(Point(_label(lam, sname, pname), {"lr": gamma, "rho": rho, "lam": lam}, T=T,
                                info={"gamma": gamma, "rho_frac": RHO_FRAC, "L": L, "mu": mu, "A": A, "B": B,
                                      "C": C, "D0": D0, "N": N}))
        frames.append(run_points(ctx, ID, ALGO, problem, sampler, points, problem_name=pname, sampler_name=sname,
                                 x0=x0, checkpoints=ck, label=sname))
        for p in points:
            lam, rho, gamma = p.hp["lam"], p.hp["rho"], p.hp["lr"]
            frames.append(theory_rows(ID, ALGO, pname, sname, p.label, T, 1, t_rec, "bound",
                                      bound_values(t_rec, gamma, rho, lam, L, mu, C, D0, neighbourhood, contraction)))
            frames.append(theory_rows(ID, ALGO, pname, sname, p.label, T, 1, T, "floor", neighbourhood * p.info["N"]))
    return pd.concat(frames, ignore_index=True)


def _point_check(rows: pd.DataFrame) -> dict:
    """check_bound for one grid point's rows, with the slack numbers (taken over t >= 1: at t = 0 every
    seed starts at x_0, so mean = f(x_0) - f* exactly and bound - mean = N, trivially)."""
    meas = rows[rows["seed"] >= 0]
    t, Y = seed_matrix(meas, "f_gap", axis="t", final=False)
    th = rows[(rows["seed"] < 0) & (rows["metric"] == "bound")].drop_duplicates("t").set_index("t")["value"]
    missing = [x for x in t if x not in th.index]
    if missing:
        raise ValueError(f"no bound row at checkpoints {missing[:5]}")
    bound = th.loc[t].to_numpy(dtype=float)
    bc = check_bound(Y, bound, LEVEL)
    mean, lo, hi = mean_confidence(Y, LEVEL)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(mean > 0, bound / mean, np.nan)
        r_lo = np.where(hi > 0, bound / hi, np.nan)
        r_hi = np.where(lo > 0, bound / lo, np.nan)
        margin = (bound - hi) / np.abs(bound)
    later = t >= 1
    ok = later & np.isfinite(ratio)
    if ok.any():
        k = int(np.flatnonzero(ok)[np.nanargmin(ratio[ok])])
        tight = (float(ratio[k]), float(r_lo[k]), float(r_hi[k]), int(t[k]))
    else:
        tight = (np.nan, np.nan, np.nan, -1)
    okm = later & np.isfinite(margin)
    if okm.any():
        j = int(np.flatnonzero(okm)[np.nanargmin(margin[okm])])
        worst = (float((bound[j] - mean[j]) / abs(bound[j])), float(margin[j]),
                 float((bound[j] - lo[j]) / abs(bound[j])), int(t[j]))
    else:
        worst = (np.nan, np.nan, np.nan, -1)
    slack = tuple(float(np.nanmedian(v[later])) if np.isfinite(v[later]).any() else np.nan
                  for v in (ratio, r_lo, r_hi))
    fl = rows[(rows["seed"] < 0) & (rows["metric"] == "floor")]["value"]
    N = float(fl.iloc[0]) if len(fl) else np.nan
    plateau = estimate_plateau(t, Y, tail_fraction=0.25, level=LEVEL)
    if N > 0 and plateau.level > 0:
        floor_ratio = (N / plateau.level, N / plateau.ci_high if plateau.ci_high > 0 else np.nan,
                       N / plateau.ci_low if plateau.ci_low > 0 else np.nan)
    else:  # N = 0 (lambda = 0 without noise): the run converges to f*, no neighbourhood to compare
        floor_ratio = (np.nan, np.nan, np.nan)
    return {"check": bc, "tight": tight, "worst": worst, "slack": slack, "N": N, "plateau": plateau,
            "floor_ratio": floor_ratio}


def _argmin(d: dict, f) -> str:
    vals = {k: f(v) for k, v in d.items()}
    finite = {k: v for k, v in vals.items() if np.isfinite(v)}
    return min(finite, key=finite.get) if finite else next(iter(d))


def judge(rows):
    r = rows[rows["metric"].isin(["f_gap", "bound", "floor"])]
    regime, checks = [], {}
    for (pname, point), g in r.groupby(["problem", "point"], sort=False):
        c = _point_check(g)
        key = point if pname == "ridge" or "problem=" in point else f"{point},problem={pname}"
        checks[key] = c
        tr, tlo, thi, tt = c["tight"]
        regime.append({"point": key, "verdict": c["check"].verdict, "estimate": tr, "ci_low": tlo, "ci_high": thi,
                       "reason": f"{c['check'].reason}; over t>=1: tightest bound/mean {tr:.3g} at t={tt}, "
                                 f"median bound/mean {c['slack'][0]:.3g}; N/tail mean {c['floor_ratio'][0]:.3g}"})
    verdicts = [c["check"].verdict for c in checks.values()]
    verdict = combine_verdicts(verdicts)
    counts = {v: verdicts.count(v) for v in VERDICTS if verdicts.count(v)}
    tk = _argmin(checks, lambda c: c["tight"][0])
    tr, tlo, thi, tt = checks[tk]["tight"]
    wk = _argmin(checks, lambda c: c["worst"][1])
    wm = checks[wk]["worst"]
    slack = np.array([c["slack"] for c in checks.values()])
    med = tuple(float(np.nanmedian(slack[:, i])) for i in range(3))
    fk = _argmin(checks, lambda c: c["floor_ratio"][0])
    fr = checks[fk]["floor_ratio"]
    bad = [k for k, c in checks.items() if c["check"].verdict != "holds"]
    bad_txt = ("; not holding: " + "; ".join(f"{k}: {checks[k]['check'].reason}" for k in bad[:3])) if bad else ""
    reason = (f"bound checked at every checkpoint of {len(checks)} points "
              f"({', '.join(f'{n} {v}' for v, n in counts.items())}); over t>=1: worst margin (bound-UCL)/bound "
              f"{wm[1]:.3g} at t={wm[3]} ({wk}), tightest bound/mean {tr:.3g} [{tlo:.3g}, {thi:.3g}] at t={tt} ({tk}), "
              f"median over points of the median bound/mean {med[0]:.3g}; in the tail N / measured level >= "
              f"{fr[0]:.3g} ({fk}){bad_txt}")
    return {"verdict": verdict, "reason": reason,
            "measured": f"E[f(x_t)-f*] vs bound at {len(checks)} points: tightest bound/mean {tr:.3g} "
                        f"[{tlo:.3g}, {thi:.3g}], median slack {med[0]:.3g}x, N/tail level >= {fr[0]:.3g}",
            "estimate": tr, "ci_low": tlo, "ci_high": thi, "fit": None, "regime_map": regime,
            "bound_margin": wm[1],
            "numbers": {"tightest_bound_over_mean": number(tr, tlo, thi),
                        "worst_margin": number(wm[0], wm[1], wm[2]),
                        "median_slack": number(*med),
                        "min_floor_over_tail": number(*fr)}}


CLAIM = Claim(
    id=ID, paper=UNIFIED_PAPER,
    theorem="Thm 3.2 (constant steps, PL, ABC sampling)", status="reconstructed", algorithms=(ALGO,),
    problem=f"ridge (least squares n={RIDGE['n']}, d={RIDGE['d']}, cond={RIDGE['cond']:g}, reg={RIDGE['reg']:g}); "
            f"full grid adds pl_sine d={PL_SINE_D} with Gaussian noise sigma={PL_SINE_SIGMA:g}",
    assumptions="mu-PL (ridge: mu = eig_min + reg > 0; pl_sine: tight mu ~ 0.1755), each f_i L_i-smooth with "
                "L = L_max, ABC inequality with A, B, C from sampler.abc (uniform, tau-nice tau in {1, 10, n}, "
                "importance p_i ~ L_i reweighted; Gaussian A=0, B=1, C=sigma^2/b)",
    schedule=f"constant rho = {RHO_FRAC:g} x mu/(L (mu + 2(1-lambda)^2 (B mu + A))), constant gamma = "
             "(mu - L rho (mu + 2(1-lambda)^2 (B mu + A))) / (2 L (B mu + A)(1 + 2 L^2 rho^2 (1-lambda)^2)), L = L_max",
    measured="E[f(x_t) - f*] (mean over seeds, 95% Student-t CI) at every log-spaced checkpoint",
    metric="f_gap", x="t",
    prediction="E[f(x_t)-f*] <= (1-gamma mu)^t (f(x_0)-f*) + (L/mu)[(rho(1-lambda)^2 + gamma(1+2L^2rho^2(1-lambda)^2)) C "
               "+ rho lambda^2 (1 + 2 L^2 gamma rho)] at every t, every lambda and sampler",
    predicted_slope=None, expected="holds", figure="unified_lambda", tolerance=None,
    tolerance_reason="no tolerance: the bound is explicit; only the suite-wide relative round-off 1e-9 on equality "
                     "(stats.ROUND_OFF) applies",
    fit_window="no fit; every checkpoint from t = 0 to T is checked. Horizon per sampler: T = ceil(e_folds / "
               "(gamma_min mu)) (quick 12, full 20 e-folds of the bound's contraction), capped at 4000 / 40000",
    run=run, judge=judge,
    counterfeits=(
        Counterfeit("no_neighbourhood", "the bound with its neighbourhood N dropped: D0 (1 - gamma mu)^t",
                    "D0 (1 - gamma mu)^t -> 0, while every run with C > 0 (sampled gradients keep a stationary "
                    "variance level) or lambda > 0 (the normalised perturbation keeps a 2-cycle of amplitude "
                    "~ gamma L lambda rho) stays at a positive level: the bound is crossed once the contraction "
                    "term falls below that level; violated", run={"neighbourhood": 0.0}),
        Counterfeit("fast_contraction", "the contraction (1 - gamma mu)^t replaced by (1 - 4 gamma mu)^t",
                    "at lambda = 0 with full batch (tau_nice(n): C = 0, N = 0) the iteration is linear, "
                    "x - x* <- (I - gamma H - gamma rho H^2)(x - x*), so f - f* decays like "
                    "(1 - gamma mu (1 + rho mu))^(2t) along H's smallest eigenvector, slower than (1 - 4 gamma mu)^t "
                    "for rho mu < 1: their ratio grows like exp((2 - 2 rho mu) gamma mu t) and the bound is crossed "
                    "within the horizon's >= 12 e-folds; violated", run={"contraction": 4.0}),
    ))
