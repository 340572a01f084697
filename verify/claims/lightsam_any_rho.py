"""lightsam.any_rho (Cheng et al., LightSAM): convergence for ANY radius rho and step eta.

Theorem (rate confirmed, constants unknown). On an L-smooth f bounded below, with stochastic
gradients under affine variance E||g||^2 <= D0 + D1 ||grad f||^2, LightSAM converges for every
choice of rho > 0 and eta > 0 (that is what "parameter-agnostic" means) at the rate

    min_{t<T} E||grad f(x_t)||^2 <= (1/T) sum_{t<T} E||grad f(x_t)||^2 = O(ln T / sqrt(T)).

Variants and the tags of the rules they run (ALGORITHMS.md, optim registry status):
  - LightSAM-I   (engine "lightsam1", AdaGrad-Norm ascent / AdaGrad-Norm descent)  [confirmed by three sources]
  - LightSAM-II  (engine "lightsam2", AdaGrad / AdaGrad, per coordinate)           [third-party code only]
  - LightSAM-III (engine "lightsam3", Adam / Adam, perturbation along r_t)          [reconstructed rule]
The rate statement is confirmed; the LightSAM-II rule comes from third-party code only and the
LightSAM-III rule is reconstructed here, so a failure of -II or -III may be a failure of the rule
we run, not of the theorem. Contrast (reported, not part of the verdict): SAM with SGD descent
(engine "sam", [confirmed]) on the same grid must diverge or stall for large eta or rho.

Problem: pl_sine, d = 10, f = sum_j x_j^2 + 3 sin^2 x_j (L = 8, f* = 0, x* = 0), with the affine-
variance oracle g = grad f (1 + zeta) + xi, Var zeta = 1 (D1 = 2), E||xi||^2 = D0 = 1; x0 = linspace(0.55,
1.45, d), a fixed generic start around |x_j| = 1 (part of it in the concave region f'' < 0, |x_j| > 0.955)
in which no coordinate equals a grid value of eta. Why not the engine default x0 = (1, ..., 1):
the first AdaGrad step is exactly eta sign(g) per coordinate, so with eta = 1 LightSAM-II lands every
coordinate exactly on x* = 0 for most seeds, min ||grad f||^2 is exactly 0 and its log-slope is
undefined (seen in the pre-study: a degenerate, zero-width "plateau" of the min at rho = 1e3, eta = 1).
Why pl_sine and not robust_regression: (1) pl_sine is coercive (||grad f|| grows
with ||x||), so a large step that throws the iterate far away shows up as a large metric; robust
regression's gradient vanishes at infinity (phi'(t) ~ 2/t), so an iterate thrown to ||x|| ~ 1e3 by
eta = 1e3 would report a tiny ||grad f||^2 while being nowhere near a stationary point, and "decay"
would be meaningless on exactly the corners of the grid this claim is about; (2) it is nonconvex
(f'' = 2 + 6 cos 2x < 0 near |x_j| = 1, where x0 starts) yet has a unique stationary point, and f*
is known, so the pre-asymptotic rule below uses the exact f(x0) - f*; (3) L = 8 is exact and the
gradient is cheap. D0 > 0 keeps a noise floor, so the asymptotic rate is the noise-dominated
ln T / sqrt(T) and not a faster deterministic rate; D1 = 2 makes the multiplicative part as large
as the signal (the case affine variance is for).

Grid: rho x eta, each log-spaced over 1e-3 ... 1e3 (quick 3 x 3, full 7 x 7), ctx.seeds seeds,
all points x seeds of one algorithm stacked in ONE engine run. Horizons: one run per point with
log-spaced checkpoints t; because every schedule here is constant (T-independent), the running
minimum min_{s<=t} ||grad f(x_s)||^2 and the running average (1/t) sum_{s<t} ||grad f(x_s)||^2
recorded at checkpoint t are exactly the quantities a run with horizon T = t would report, so the
slope "in T" is fitted on t from the checkpoint rows.

Per-grid-point rule (one verdict per (variant, rho, eta); the same rule for both metrics, min and avg):
  y(t) = metric(t) sqrt(t) / ln t, slope of log(mean over seeds of y) on log t with a bootstrap CI
  over seeds (stats.fit_loglog_slope), window t in [max(T/30, T*), T] (burn-in), or [T/30, T] when the
  point is pre-asymptotic (T* > T/3).
  T* is where the bound's leading term stops dominating: with the unknown constants set to 1,
    B(t) = K^2 D1 / t + K sqrt(D0 / t),   K = (f(x0) - f*)/eta + eta L,
  and T* = (K^2/||grad f(x0)||^2) max(2 D1, 4 D0/||grad f(x0)||^2), the first t with B(t) <= ||grad f(x0)||^2
  (each term <= half of it): before T* the bound allows the metric to stay at its starting level.
  The (f(x0) - f*)/eta term dominates for tiny eta, the eta L term for huge eta.
  - any seed diverged                                   -> violated (the prediction says none may)
  - CI upper end <= 0 + tol                             -> holds (decay at least like ln t/sqrt t is visible;
                                                           "pre-asymptotic window" is noted when T* > T/3)
  - else, T* > T/3 (less than half a decade past T*)    -> inconclusive, "pre-asymptotic", with T needed = 3 T*
  - else CI lower end > 0 + tol                         -> violated (the metric grows or plateaus while the
                                                           bound's leading term is already small)
  - else                                                -> inconclusive (CI straddles 0 + tol)
  point verdict = combine(min verdict, avg verdict) (violated if either, holds if both).
Overall: combine the LightSAM points (violated if any, holds if all, else inconclusive with counts);
"holds" needs 0 diverged LightSAM runs. SAM points get the same fits without the pre-asymptotic
exemption (SAM has no such bound; window [T/30, T]) and are classed diverged / stalled (slope CI
above 0 + tol) / decaying / unresolved; the fraction diverged-or-stalled is reported next to LightSAM's.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from problems import AffineVariance, PLSine

from ..claim import Claim, Context
from ..pivot import fit_dict, number, seed_matrix
from ..stats import combine_verdicts, fit_loglog_slope
from ..sweep import Point, run_points

ID = "lightsam.any_rho"
VARIANTS = ("lightsam1", "lightsam2", "lightsam3")
TAGS = {"lightsam1": "confirmed", "lightsam2": "third-party code only", "lightsam3": "reconstructed",
        "sam": "confirmed"}
CONTRAST = "sam"
D = 10
X0 = np.linspace(0.55, 1.45, D)
NOISE = dict(D0=1.0, var_zeta=1.0)
METRICS = ("grad_sq_min", "grad_sq_avg")
TOL = 0.1
BURN_IN = 30          # fit window starts at T / BURN_IN (1.5 decades at most)
MIN_SPAN = 3          # a window shorter than half a decade (T* > T / 3) is pre-asymptotic
_DECADES = [10.0 ** k for k in range(-3, 4)]
GRIDS = {"quick": {"rho": [1e-3, 1.0, 1e3], "eta": [1e-3, 1.0, 1e3], "T": 3000, "n_ckpt": 30},
         "full": {"rho": _DECADES, "eta": _DECADES, "T": 30000, "n_ckpt": 40}}


def _label(rho: float, eta: float) -> str:
    return f"rho={rho:g},eta={eta:g}"


def run(ctx: Context):
    problem = PLSine(D)
    sampler = AffineVariance(**NOISE)
    g = GRIDS["quick" if ctx.quick else "full"]
    T = g["T"]
    info = {"L": problem.L, "D0": sampler.D0, "D1": sampler.D1}
    points = [Point(_label(r, e), {"lr": float(e), "rho": float(r)}, T=T, info=info)
              for r in g["rho"] for e in g["eta"]]
    ckpts = np.unique(np.r_[0, np.geomspace(1, T, g["n_ckpt"]).round().astype(int)])
    name = f"affine(D0={sampler.D0:g},var_zeta={sampler.var_zeta:g})"
    frames = [run_points(ctx, ID, algo, problem, sampler, points, problem_name=f"pl_sine(d={D})",
                         sampler_name=name, x0=X0, checkpoints=ckpts)
              for algo in VARIANTS + (CONTRAST,)]
    return pd.concat(frames, ignore_index=True)


def _start(g: pd.DataFrame, metric: str) -> float:
    """Seed-mean of ``metric`` at t = 0 (x0 is the same for every seed)."""
    r = g[(g["metric"] == metric) & (g["t"] == 0) & (g["seed"] >= 0)]
    return float(r["value"].mean())


def _final_mean(g: pd.DataFrame, metric: str) -> float:
    """Mean over non-diverged seeds of ``metric`` at t = T (NaN when every seed diverged)."""
    v = g[(g["metric"] == metric) & (g["t"] == g["T"]) & (g["seed"] >= 0)]["value"].to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def _metric_verdict(fit, pre: bool, t_need: float) -> tuple[str, str]:
    """Verdict of one metric's rescaled-slope fit at one point (rule in the module docstring)."""
    text = f"{fit.slope:+.3f} [{fit.ci_low:+.3f}, {fit.ci_high:+.3f}]"
    if not (np.isfinite(fit.ci_low) and np.isfinite(fit.ci_high)):
        return "inconclusive", f"{fit.slope:+.3f} (no CI: {fit.n_points} points, {fit.n_seeds} seeds)"
    if fit.ci_high <= TOL:
        return "holds", text + (" (pre-asymptotic window)" if pre else "")
    if pre:
        return "inconclusive", text + f" pre-asymptotic, needs T >= {t_need:.2g}"
    if fit.ci_low > TOL:
        return "violated", text + " > tol"
    return "inconclusive", text + " straddles tol"


def judge_point(g: pd.DataFrame, exempt: bool = True) -> dict:
    """Fits and verdict of one (algorithm, point); ``exempt`` applies the pre-asymptotic rule."""
    params = json.loads(g["params"].iloc[0])
    eta, rho, L, D0, D1 = (float(params[k]) for k in ("lr", "rho", "L", "D0", "D1"))
    T = int(g["T"].max())
    runs = g[g["seed"] >= 0].groupby("seed")["diverged"].any()
    n_div, n_seeds = int(runs.sum()), int(len(runs))
    delta, g0 = _start(g, "f_gap"), _start(g, "grad_sq")
    K = delta / eta + eta * L
    t_star = K * K / g0 * max(2 * D1, 4 * D0 / g0)
    pre = exempt and t_star > T / MIN_SPAN
    w0 = max(T / BURN_IN, t_star) if exempt and not pre else T / BURN_IN
    fits, verdicts, texts = {}, [], []
    for m in METRICS:
        t, Y = seed_matrix(g, m, axis="t", final=False)
        w = (t >= w0) & (t >= 2)
        fit = fit_loglog_slope(t[w], Y[:, w] * np.sqrt(t[w]) / np.log(t[w]))
        v, txt = _metric_verdict(fit, pre, MIN_SPAN * t_star)
        fits[m] = fit
        verdicts.append(v)
        texts.append(f"{m.replace('grad_sq_', '')} {txt}")
    if n_div:
        verdict = "violated"
        texts.insert(0, f"{n_div}/{n_seeds} seeds diverged")
    else:
        verdict = combine_verdicts(verdicts)
    worst = max(fits.values(), key=lambda f: -np.inf if not np.isfinite(f.slope) else f.slope)
    where = f"window t in [{w0:.3g}, {T}]" + (f", T* = {t_star:.3g}" if exempt else "")
    return {"verdict": verdict, "fit": worst, "fits": fits, "pre": bool(pre), "t_star": float(t_star),
            "n_div": n_div, "n_seeds": n_seeds, "eta": eta, "rho": rho, "T": T,
            "final": {m: _final_mean(g, m) for m in METRICS},
            "reason": "; ".join(texts) + f"; {where}"}


def _sam_class(p: dict) -> str:
    if p["n_div"]:
        return "diverged"
    if any(f.ci_low > TOL for f in p["fits"].values() if np.isfinite(f.ci_low)):
        return "stalled"
    if all(f.ci_high <= TOL for f in p["fits"].values()):
        return "decaying"
    return "unresolved"


def _where(points: list[dict]) -> str:
    """'n (rho in {...}, eta in {...})': where a set of grid points lies, compactly."""
    if not points:
        return "0"
    rhos = ", ".join(f"{r:g}" for r in sorted({p["rho"] for p in points}))
    etas = ", ".join(f"{e:g}" for e in sorted({p["eta"] for p in points}))
    return f"{len(points)} (rho in {{{rhos}}}, eta in {{{etas}}})"


def _binom(k: int, n: int) -> dict:
    if n == 0:
        return number(np.nan, np.nan, np.nan)
    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return number(k / n, ci.low, ci.high)


def _worst(entries: list[dict]):
    """The judged (not pre-asymptotic, not diverged) point with the steepest-growing fit."""
    pool = [e for e in entries if not e["pre"] and not e["n_div"] and np.isfinite(e["fit"].slope)]
    return max(pool, key=lambda e: e["fit"].slope) if pool else None


def judge(rows):
    res = rows[rows["seed"] >= 0]
    pts = {}
    for (algo, label), g in res.groupby(["algorithm", "point"], sort=False):
        pts[(algo, label)] = judge_point(g, exempt=algo != CONTRAST)
    light = {k: v for k, v in pts.items() if k[0] in VARIANTS}
    sam = {k: v for k, v in pts.items() if k[0] == CONTRAST}
    regime = []
    for (algo, label), p in sorted(pts.items(), key=lambda kv: (kv[0][0], kv[1]["rho"], kv[1]["eta"])):
        f = p["fit"]
        cls = f" [{_sam_class(p)}; contrast, not in the verdict]" if algo == CONTRAST else ""
        regime.append({"point": f"{algo}: {label}", "algorithm": algo, "label": label, "rho": p["rho"],
                       "eta": p["eta"], "verdict": p["verdict"], "estimate": f.slope, "ci_low": f.ci_low,
                       "ci_high": f.ci_high, "pre_asymptotic": p["pre"], "t_star": p["t_star"],
                       "n_diverged": p["n_div"], "final_min": p["final"]["grad_sq_min"],
                       "final_avg": p["final"]["grad_sq_avg"], "reason": p["reason"] + cls})
    verdicts = [p["verdict"] for p in light.values()]
    overall = combine_verdicts(verdicts) if verdicts else "inconclusive"
    n_hold = verdicts.count("holds")
    n_viol = verdicts.count("violated")
    n_pre = sum(1 for p in light.values() if p["verdict"] == "inconclusive" and p["pre"])
    n_inc = verdicts.count("inconclusive")
    div_runs = sum(p["n_div"] for p in light.values())
    all_runs = sum(p["n_seeds"] for p in light.values())
    per_var = []
    for a in VARIANTS:
        vs = [p["verdict"] for k, p in light.items() if k[0] == a]
        per_var.append(f"{a} [{TAGS[a]}] {vs.count('holds')}/{vs.count('violated')}/{vs.count('inconclusive')}")
    classes = {k: _sam_class(p) for k, p in sam.items()}
    n_fail = sum(c in ("diverged", "stalled") for c in classes.values())
    sam_text = "SAM contrast: " + ", ".join(
        f"{c} {_where([p for k, p in sam.items() if classes[k] == c])}" for c in ("diverged", "stalled")) + \
        f" of {len(classes)} points"
    worst = _worst(list(light.values()))
    head = worst if worst is not None else max(light.values(), key=lambda p: p["fit"].slope, default=None)
    if head is None:
        return {"verdict": "inconclusive", "reason": "no LightSAM rows", "measured": "", "estimate": None,
                "ci_low": None, "ci_high": None, "fit": None, "regime_map": regime, "bound_margin": None,
                "numbers": {}}
    hf = head["fit"]
    hname = next(f"{k[0]} {k[1]}" for k, v in light.items() if v is head)
    cause = ""
    if n_viol:
        cause = " violated at " + ", ".join(
            f"{a} {_where([p for k, p in light.items() if k[0] == a and p['verdict'] == 'violated'])}"
            for a in VARIANTS if any(k[0] == a and p["verdict"] == "violated" for k, p in light.items())) + ";"
    if overall == "inconclusive":
        cause = (f" inconclusive: {n_pre} pre-asymptotic (bound's leading term not yet small), "
                 f"{n_inc - n_pre} with CI straddling 0 + {TOL:g};")
    reason = (f"LightSAM points holds/violated/inconclusive = {n_hold}/{n_viol}/{n_inc} of {len(verdicts)} "
              f"({'; '.join(per_var)});{cause} diverged runs {div_runs}/{all_runs}; "
              f"{'worst judged' if worst is not None else 'worst (none judged)'} slope of metric*sqrt(t)/ln t "
              f"{hf.slope:+.3f} [{hf.ci_low:+.3f}, {hf.ci_high:+.3f}] at {hname}; {sam_text}")
    numbers = {"worst_slope": number(hf.slope, hf.ci_low, hf.ci_high)}
    for a in VARIANTS:
        w = _worst([p for k, p in light.items() if k[0] == a])
        numbers[f"worst_slope_{a}"] = (number(w["fit"].slope, w["fit"].ci_low, w["fit"].ci_high) if w
                                       else number(np.nan, np.nan, np.nan))
    numbers["lightsam_diverged_fraction"] = _binom(div_runs, all_runs)
    numbers["sam_failed_fraction"] = _binom(n_fail, len(classes))
    return {"verdict": overall, "reason": reason, "n_diverged": div_runs, "n_runs": all_runs,
            "measured": (f"worst judged slope of metric*sqrt(t)/ln t {hf.slope:+.3f} "
                         f"[{hf.ci_low:+.3f}, {hf.ci_high:+.3f}] ({hname}); LightSAM diverged "
                         f"{div_runs}/{all_runs} runs; SAM diverged or stalled at {n_fail}/{len(classes)} points"),
            "estimate": hf.slope, "ci_low": hf.ci_low, "ci_high": hf.ci_high, "fit": fit_dict(hf),
            "regime_map": regime, "bound_margin": None,
            "counts": {"holds": n_hold, "violated": n_viol, "inconclusive": n_inc, "pre_asymptotic": n_pre,
                       "lightsam_diverged_runs": div_runs, "lightsam_runs": all_runs,
                       "sam_diverged_or_stalled": n_fail, "sam_points": len(classes)},
            "numbers": numbers}


CLAIM = Claim(
    id=ID, paper="Cheng et al., LightSAM: Parameter-Agnostic Sharpness-Aware Minimization (arXiv 2505.24399)",
    theorem="convergence for any rho, eta: min_t / avg E||grad f||^2 = O(ln T / sqrt T) [rate confirmed, "
            "constants unknown]",
    status="confirmed", algorithms=VARIANTS + (CONTRAST,),
    problem=f"pl_sine d={D} (L = 8, f* = 0), x0 = linspace(0.55, 1.45, {D}), affine-variance oracle "
            f"D0 = {NOISE['D0']:g}, D1 = 1 + Var zeta = {1 + NOISE['var_zeta']:g}",
    assumptions="L-smooth, bounded below, nonconvex; affine variance E||g||^2 <= D0 + D1 ||grad f||^2",
    schedule="constant eta (hp lr) and rho on a log grid 1e-3 ... 1e3 (quick 3 x 3, full 7 x 7); eps = 1e-8; "
             "LightSAM-III b1 = 0.9, b2 = 0.999, perturb along r_t",
    measured="min_{s<=t} ||grad f(x_s)||^2 and (1/t) sum_{s<t} ||grad f(x_s)||^2 at log-spaced checkpoints t "
             "(= horizon T for these T-independent schedules), mean over seeds",
    metric="grad_sq_min", x="t",
    prediction="no LightSAM run diverges anywhere on the grid and every grid point decays at least like "
               "ln T / sqrt T: slope of metric * sqrt(T) / ln T <= 0 + tol, for LightSAM-I [confirmed], "
               "LightSAM-II [third-party code only], LightSAM-III [reconstructed]; contrast: SAM with SGD "
               "descent diverges or stalls for large eta or rho (fraction reported)",
    predicted_slope=0.0, expected="holds", figure="lightsam_heatmap", tolerance=TOL,
    tolerance_reason="the bound is O(ln T/sqrt T) with unknown constants, checked through the slope of "
                     "metric*sqrt(t)/ln t over at most 1.5 decades; 0.1 absorbs slow curvature from lower-order "
                     "terms (the 1/t transient fading, ln ln factors) and stays well below the +0.35 "
                     "(= 1/2 - 1/ln t at t ~ 500) that a plateau produces on the quick window",
    fit_window="per point t in [max(T/30, T*), T], T* = (K^2/||grad f(x0)||^2) max(2 D1, 4 D0/||grad f(x0)||^2), "
               "K = (f(x0)-f*)/eta + eta L (bound's leading term with unit constants); T* > T/3 is "
               "pre-asymptotic (fit on [T/30, T], a failure there is inconclusive, needs T >= 3 T*)",
    grids=GRIDS, run=run, judge=judge)
