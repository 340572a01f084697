"""sam.deterministic_sc: a negative control the suite must call "violated" (exact law, [confirmed]).

Deterministic SAM (full-batch gradients) on f(x) = (mu/2) x^2 in one dimension, f* = 0 at x* = 0:

    x_{t+1} = x_t - eta_t mu (x_t + rho sign(x_t))          (e = rho s/||s||, s = mu x_t)

1. Decaying step eta_t = 1/(mu (t+2)), constant rho. With y_t = (t+1) x_t the iteration is exactly
   y_{t+1} = y_t - rho sign(y_t): |y| drops by rho per step until |y| <= rho, then y alternates between
   two values a and a - rho (0 < a <= rho). Hence, when |x_0| <= rho (the hypothesis used here; it makes
   the entry immediate), for every t >= 0

       f(x_t) - f* = mu y_t^2 / (2 (t+1)^2) <= mu rho^2 / (2 (t+1)^2),

   an exact power law with slope -2 in t, not a linear (geometric) rate. (The -2 comes from the step
   schedule itself: gradient descent, rho = 0, with the same steps gives x_t = x_0/(t+1).)
2. Constant step eta with 0 < eta mu < 2: SAM does not converge; it settles on the 2-cycle x -> -x of
   amplitude A = eta mu rho / (2 - eta mu) (solve (1 - eta mu) A - eta mu rho = -A), attracting at the rate
   |1 - eta mu| per step, so f(x_t) - f* -> mu A^2 / 2 > 0 (stored as the "floor" theory rows).

THE STATEMENT TESTED (docs/claims.md#samdeterministic_sc): "deterministic SAM converges linearly on this
strongly convex quadratic", i.e. log(f_t - f*) decreases linearly in t. The expected verdict is therefore
"violated", with the exact law as evidence. A geometric sequence C q^t has local log-log slope t ln q, so
its log-log slope fitted on the last decade [T/10, T] is 10 times the one fitted on the decade before,
whatever q is; a power law gives a ratio of 1. The linear-rate statement is judged per grid point by this
steepening ratio r = slope(last decade) / slope(previous decade): "holds" when its CI lies above sqrt(10)
(the midpoint of 1 and 10 on a log scale), "violated" when it lies below, else inconclusive. At the
constant-step points it is judged by convergence itself: a plateau (tail t >= T/2) whose CI lies above half
the 2-cycle level mu A^2 / 2 violates it (a run that does converge is judged by the steepening ratio).

What the verdict means (a negative control's verdict is on "the linear-rate claim survives this
counterexample as stated"), and the safeguards:
- positive control: gradient descent (rho = 0) with a constant step eta mu = GD_ETA_MU converges linearly;
  the same steepening test must say "holds" there (the detector can see a linear rate), else the verdict
  is "inconclusive" whatever SAM did;
- "violated": the linear rate is refuted AND the counterexample is reproduced as stated: the log-log slope
  over t >= T/100 is within LAW_TOL of the stated law (-2), the bound mu rho^2 / (2 (t+1)^2) holds at every
  checkpoint (``check_bound``), and the measured 2-cycle amplitude sqrt(||x_T - x*||^2) matches the stated
  eta mu rho / (2 - eta mu) to AMP_RTOL;
- "holds": the steepening test finds a linear rate, or the counterexample as stated is refuted (a law,
  bound or amplitude check fails: a wrong formula or a broken engine; before the counterfeits this case was
  "inconclusive", so a wrong formula could never be told apart from an unresolved test);
- "inconclusive": the control failed, or the steepening test straddles sqrt(10).
Hence size = P(holds | true configuration), P(violated | true configuration) is what the gate needs, and
power against a counterfeit = P(holds | counterfeit). Counterfeits (judge settings; the same rows):
amp_x2 (the stated amplitude doubled: measured / stated = 0.5) and law_minus1 (a stated law of slope -1:
the runs give -2 t/(t+1), at least 0.95 away). Everything here is deterministic, so size and power are 0
or 1 exactly: measured on the quick grid (20 repeats of 8 seeds) before: P(violated) 20/20 and no
counterfeit; after: P(violated) 20/20, power 20/20 against both counterfeits (verify power).
Checkpoints are even t only (T even): the 2-cycle makes f alternate between two constants times
(t+1)^-2, and one parity gives a clean power law. Deterministic: every seed runs the same iteration, so
all CIs over seeds are degenerate (zero width) and the comparisons are exact ones.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from optim.schedules import Schedule
from problems import FullBatch, Quadratic

from ..claim import Claim, Context, Counterfeit
from ..pivot import fit_dict, number, seed_matrix, theory_curve
from ..stats import check_bound, combine_verdicts, estimate_plateau, fit_loglog_slope
from ..sweep import Point, run_points, theory_rows

ID = "sam.deterministic_sc"
X0 = 0.5                      # |x_0| <= every rho of the decaying-step grid: the bound holds from t = 0
GD_ETA_MU = 0.01              # positive control: f_t = f_0 (1 - 0.01)^(2t), still > 1e-17 f_0 at t = 2000
PREDICTED = -2.0
LAW_TOL = 0.05
AMP_RTOL = 1e-9
RATIO_SPLIT = float(np.sqrt(10.0))
STALL_FRAC = 0.5              # a constant-step run "stalls" when its plateau's CI lies above half the 2-cycle level
GRIDS = {
    "quick": {"mu": (2.0,), "rho": (0.7, 1.0), "T": 4000, "const_eta_mu": (0.5, 1.5), "const_rho": 0.7,
              "T_const": 2000, "n_ckpt": 48},
    "full": {"mu": (0.5, 2.0, 8.0), "rho": (0.6, 0.7, 1.0, 3.0), "T": 40000, "const_eta_mu": (0.2, 0.5, 1.0, 1.5, 1.9),
             "const_rho": 0.7, "T_const": 4000, "n_ckpt": 80},
}


def even_checkpoints(T: int, n: int) -> np.ndarray:
    """0 and about n log-spaced even iterations up to T (T even)."""
    return np.unique(np.r_[0, 2 * np.round(np.geomspace(1, T / 2, n)).astype(int)])


def amplitude(eta_mu: float, rho: float) -> float:
    """The 2-cycle amplitude of constant-step SAM on (mu/2) x^2."""
    return eta_mu * rho / (2.0 - eta_mu)


def run(ctx: Context):
    """Rows of SAM on (mu/2) x^2 from x_0 = X0 (full batch, so no randomness): the decaying step with its
    bound mu rho^2 / (2 (t + 1)^2), and the constant steps with their 2-cycle floors and the GD control."""
    g = GRIDS["quick" if ctx.quick else "full"]
    frames = []
    rhos = np.asarray(g["rho"], dtype=float)
    if np.any(X0 > rhos) or np.any(np.isclose(X0 / rhos, np.round(X0 / rhos))):
        # |x_0| <= rho is the bound's hypothesis; x_0/rho an integer would land exactly on x = 0
        raise AssertionError("grid: need |x_0| <= rho and x_0/rho not an integer")
    for mu_ in g["mu"]:
        problem = Quadratic(np.array([[mu_]]))
        mu = float(problem.mu)
        pname = f"quadratic_1d(mu={mu:g})"
        common = dict(problem_name=pname, sampler_name="full_batch", x0=np.array([X0]))
        # 1. decaying step eta_t = (1/mu) / (t + 2): Schedule("inv_t", c = 1/mu, t0 = 2)
        T = int(g["T"])
        ck = even_checkpoints(T, g["n_ckpt"])
        decay = [Point(f"mu={mu:g},rho={r:g},eta=1/(mu(t+2))", {"lr": Schedule("inv_t", 1.0 / mu, t0=2.0),
                                                                 "rho": float(r)}, T=T,
                       info={"mu": mu, "x0": X0, "kind": "decay"}) for r in rhos]
        frames.append(run_points(ctx, ID, "sam", problem, FullBatch(), decay, checkpoints=ck, label="decay",
                                 **common))
        t_rec = np.unique(np.r_[ck[ck < T], T]).astype(float)
        for p in decay:
            frames.append(theory_rows(ID, "sam", pname, "full_batch", p.label, T, 1, t_rec, "bound",
                                      mu * p.hp["rho"] ** 2 / (2 * (t_rec + 1) ** 2)))
        # 2. constant step: SAM 2-cycles, and the gradient-descent positive control (rho = 0)
        Tc = int(g["T_const"])
        pts = [(em, float(g["const_rho"])) for em in g["const_eta_mu"]] + [(GD_ETA_MU, 0.0)]
        const = [Point(f"mu={mu:g},rho={r:g},eta={em:g}/mu" + (" (GD control)" if r == 0 else ""),
                       {"lr": em / mu, "rho": r}, T=Tc, name="sam" if r > 0 else "sgd",
                       info={"mu": mu, "x0": X0, "kind": "gd_control" if r == 0 else "const",
                             **({"run_as": "sam (rho = 0 is SGD exactly)"} if r == 0 else {})})
                 for em, r in pts]
        frames.append(run_points(ctx, ID, "sam", problem, FullBatch(), const,
                                 checkpoints=even_checkpoints(Tc, g["n_ckpt"]), label="const", **common))
        for (em, r), p in zip(pts, const):
            if r > 0:
                frames.append(theory_rows(ID, "sam", pname, "full_batch", p.label, Tc, 1, Tc, "floor",
                                          mu * amplitude(em, r) ** 2 / 2))
    return pd.concat(frames, ignore_index=True)


def _params(rows: pd.DataFrame) -> dict:
    import json
    return json.loads(rows["params"].iloc[0])


def _decade_slopes(t, Y, T):
    """Log-log slope fits on the previous decade [T/100, T/10] and the last decade [T/10, T]."""
    prev = (t >= T / 100) & (t <= T / 10)
    last = t >= T / 10
    return fit_loglog_slope(t[prev], Y[:, prev]), fit_loglog_slope(t[last], Y[:, last])


def _ratio(prev, last):
    """Steepening ratio slope(last)/slope(prev) with a conservative interval from the two slope CIs
    (both slopes negative: the ratio of magnitudes)."""
    r = last.slope / prev.slope
    cands = [a / b for a in (last.ci_low, last.ci_high) for b in (prev.ci_low, prev.ci_high)]
    if not all(np.isfinite(cands)) or prev.ci_low <= 0 <= prev.ci_high:
        return r, np.nan, np.nan
    return r, min(cands), max(cands)


def _linear_verdict(r, lo, hi):
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive", f"steepening ratio {r:.3g}, no CI (a decade slope CI contains 0)"
    txt = f"steepening ratio {r:.3g} [{lo:.3g}, {hi:.3g}] (geometric: 10, power law: 1)"
    if lo > RATIO_SPLIT:
        return "holds", txt + " > sqrt(10): linear rate"
    if hi < RATIO_SPLIT:
        return "violated", txt + " < sqrt(10): not linear"
    return "inconclusive", txt + " straddles sqrt(10)"


def _decay_point(point, r, rows, law):
    """A decaying-step point: (regime entry, linear-rate verdict, law issues, fit, ratio, bound margin)."""
    f = r[r["metric"] == "f_gap"]
    t, Y = seed_matrix(f, "f_gap", axis="t", final=False)
    T = float(f["T"].max())
    win = t >= T / 100
    fit = fit_loglog_slope(t[win], Y[:, win])
    ratio = _ratio(*_decade_slopes(t, Y, T))
    v, why = _linear_verdict(*ratio)
    issues = []
    if not (abs(fit.slope - law) <= LAW_TOL and fit.ci_low >= law - LAW_TOL and fit.ci_high <= law + LAW_TOL):
        issues.append(f"{point}: slope {fit.slope:.3f} not within {LAW_TOL} of the stated law {law:g}")
    th = rows[(rows["point"] == point) & (rows["metric"] == "bound") & (rows["seed"] < 0)]
    bc = check_bound(Y, th.set_index("t")["value"].reindex(t).to_numpy())
    if bc.verdict != "holds":
        issues.append(f"{point}: bound {bc.verdict} ({bc.reason})")
    entry = {"point": point, "verdict": v, "estimate": fit.slope, "ci_low": fit.ci_low, "ci_high": fit.ci_high,
             "reason": f"linear-rate statement {v}: {why}; law slope {fit.slope:.4f} [{fit.ci_low:.4f}, "
                       f"{fit.ci_high:.4f}] vs {law:g} +- {LAW_TOL}; bound: {bc.reason}"}
    return entry, v, issues, fit, ratio, bc.worst_margin


def _const_point(point, r, rows, p, amp_factor):
    """A constant-step SAM point: (regime entry, linear-rate verdict, issues, amplitude / stated formula)."""
    f = r[r["metric"] == "f_gap"]
    t, Y = seed_matrix(f, "f_gap", axis="t", final=False)
    T = float(f["T"].max())
    pl = estimate_plateau(t, Y, tail_fraction=0.5)
    amp_pred = amp_factor * amplitude(p["lr"] * p["mu"], p["rho"])
    amp = np.sqrt(seed_matrix(r, "dist_sq", axis="T", final=True)[1][:, 0])
    err = float(np.max(np.abs(amp / amp_pred - 1)))
    floor = float(theory_curve(rows[rows["point"] == point], "floor")[1][0])
    if pl.ci_low > STALL_FRAC * floor:
        v, why = "violated", f"no convergence: f - f* stalls at {pl.level:.6g} [{pl.ci_low:.6g}, " \
                             f"{pl.ci_high:.6g}] (2-cycle level mu A^2/2 = {floor:.6g})"
    else:
        v, why = _linear_verdict(*_ratio(*_decade_slopes(t, Y, T)))
        why = f"not stalled at the 2-cycle level {floor:.6g}; {why}"
    issues = [f"{point}: 2-cycle amplitude {np.mean(amp):.6g} vs stated formula {amp_pred:.6g} "
              f"(rel. err. {err:.2e} > {AMP_RTOL:g})"] if err > AMP_RTOL else []
    entry = {"point": point, "verdict": v, "estimate": pl.level, "ci_low": pl.ci_low, "ci_high": pl.ci_high,
             "reason": f"constant step, linear-rate statement {v}: {why}; amplitude {np.mean(amp):.6g} vs "
                       f"{amp_factor:g} x eta mu rho/(2 - eta mu) = {amp_pred:.6g} (rel. err. {err:.1e})"}
    return entry, v, issues, float(np.mean(amp) / amp_pred)


def _gd_point(point, r):
    """The gradient-descent positive control: (regime entry, verdict, (ratio, lo, hi))."""
    f = r[r["metric"] == "f_gap"]
    t, Y = seed_matrix(f, "f_gap", axis="t", final=False)
    ratio = _ratio(*_decade_slopes(t, Y, float(f["T"].max())))
    v, why = _linear_verdict(*ratio)
    return ({"point": point, "verdict": v, "estimate": ratio[0], "ci_low": ratio[1], "ci_high": ratio[2],
             "reason": f"positive control (GD, constant step): linear rate must be detected: {why}"}, v, ratio)


def _decide(control_ok, linear, issues, counts):
    """The negative control's verdict (see the module docstring: violated = counterexample reproduced)."""
    if not control_ok:
        return "inconclusive", f"positive control failed: the steepening test did not detect GD's linear rate, " \
                               f"so its verdicts cannot be trusted (SAM: {linear} {counts})"
    if issues:
        return "holds", "the counterexample as stated is not reproduced (" + "; ".join(issues) + \
               f"), so it refutes nothing (linear-rate test: {linear} {counts})"
    return linear, f"linear convergence of SAM {linear} {counts}, exact law reproduced; GD control detected as linear"


def judge(rows, *, law: float = PREDICTED, amp_factor: float = 1.0):
    """Verdict; ``law`` (counterfeit law_minus1: -1) is the stated log-log slope of the decaying-step law,
    ``amp_factor`` (counterfeit amp_x2: 2) multiplies the stated 2-cycle amplitude formula."""
    m = rows[rows["seed"] >= 0]
    regime, issues, sam_v, gd_v, decay, amp_ratios, numbers = [], [], [], [], [], [], {}
    for point, r in m.groupby("point", sort=True):
        p = _params(r)
        if p["kind"] == "decay":
            entry, v, iss, fit, ratio, margin = _decay_point(point, r, rows, law)
            decay.append((fit, ratio, margin))
        elif p["kind"] == "const":
            entry, v, iss, amp_ratio = _const_point(point, r, rows, p, amp_factor)
            amp_ratios.append(amp_ratio)
        else:
            entry, v, ratio = _gd_point(point, r)
            gd_v.append(v)
            numbers["gd_control_ratio"] = number(*ratio)
            regime.append(entry)
            continue
        regime.append(entry)
        sam_v.append(v)
        issues += iss
    if not decay:
        return {"verdict": "inconclusive", "reason": "no decaying-step SAM rows", "measured": "", "estimate": None,
                "ci_low": None, "ci_high": None, "fit": None, "regime_map": regime, "bound_margin": None,
                "numbers": numbers}
    linear = combine_verdicts(sam_v)
    head, r0, _ = decay[0]
    worst_margin = min(d[2] for d in decay)
    worst_amp = amp_ratios[int(np.argmax(np.abs(np.array(amp_ratios) - 1)))] if amp_ratios else np.nan
    verdict, why = _decide(bool(gd_v) and all(v == "holds" for v in gd_v), linear, issues,
                           f"at {sam_v.count(linear)} of {len(sam_v)} SAM points")
    summary = (f"decaying step: log-log slope {head.slope:.4f} [{head.ci_low:.4f}, {head.ci_high:.4f}] "
               f"(stated law {law:g}), steepening ratio {r0[0]:.3f} (geometric would give 10); bound worst margin "
               f"{worst_margin:.1%}; constant step: 2-cycle amplitude / stated formula {worst_amp:.6g}")
    numbers.update({"slope": number(head.slope, head.ci_low, head.ci_high), "steepening_ratio": number(*r0),
                    "bound_margin": number(worst_margin, worst_margin, worst_margin),
                    "cycle_amp_over_formula": number(worst_amp, worst_amp, worst_amp)})
    return {"verdict": verdict, "reason": f"{why} | {summary}",
            "measured": f"slope in t {head.slope:.4f} [{head.ci_low:.4f}, {head.ci_high:.4f}]; steepening ratio "
                        f"{r0[0]:.3f}; 2-cycle amplitude / formula {worst_amp:.6g}",
            "estimate": head.slope, "ci_low": head.ci_low, "ci_high": head.ci_high, "fit": fit_dict(head),
            "regime_map": regime, "bound_margin": float(worst_margin), "numbers": numbers}


COUNTERFEITS = (
    Counterfeit("amp_x2", "the stated 2-cycle amplitude doubled: 2 eta mu rho / (2 - eta mu)",
                "the runs settle on the 2-cycle of amplitude eta mu rho / (2 - eta mu), half the stated one (rel. "
                "err. 0.5 >> 1e-9): the counterexample as stated is not reproduced: holds",
                judge={"amp_factor": 2.0}, expected="holds"),
    Counterfeit("law_minus1", "the stated decaying-step law f - f* ~ 1/t (log-log slope -1) instead of -2",
                "the runs follow mu y_t^2 / (2 (t+1)^2), slope -2 t/(t+1) in [-2, -1.95] on t >= T/100, 0.95 or "
                "more from -1 (LAW_TOL 0.05): the counterexample as stated is not reproduced: holds",
                judge={"law": -1.0}, expected="holds"),
)


CLAIM = Claim(
    id=ID, paper="Negative control (exact calculation; docs/claims.md#samdeterministic_sc)",
    theorem="deterministic SAM on (mu/2) x^2: exact O(1/t^2) law with eta_t = 1/(mu(t+2)), 2-cycle with constant eta",
    status="confirmed", algorithms=("sam",),
    problem="quadratic (mu/2) x^2, d = 1 (problems.Quadratic([[mu]])), x_0 = 0.5",
    assumptions="deterministic (full batch), strongly convex and smooth (L = mu); |x_0| <= rho",
    schedule="eta_t = 1/(mu (t+2)) = Schedule('inv_t', 1/mu, t0=2) with constant rho; and constant eta "
             "(eta mu in the const grid) with constant rho; control: GD (rho = 0), eta mu = 0.01",
    measured="f(x_t) - f* at even log-spaced t (deterministic: seeds identical); ||x_T||^2 for the 2-cycle",
    metric="f_gap", x="t",
    prediction="(negative control) 'SAM converges linearly' must be violated: the exact law is "
               "f - f* <= mu rho^2 / (2 (t+1)^2) with log-log slope -2 (decade slopes equal, steepening ratio 1, "
               "not 10), and with constant eta a 2-cycle of amplitude eta mu rho / (2 - eta mu)",
    predicted_slope=PREDICTED, expected="violated", figure="floor", tolerance=LAW_TOL,
    tolerance_reason="the law is (t+1)^-2, whose log-log slope in t is -2 t/(t+1) in [-2, -1.95] for t >= 40 = "
                     "T/100 (quick); the linear-rate split sqrt(10) is the log-midpoint of the power-law (1) and "
                     "geometric (10) steepening ratios; the 2-cycle amplitude is checked to 1e-9 relative "
                     "(transient |1 - eta mu|^T is below round-off)",
    fit_window="law slope: t >= T/100 (two decades); steepening ratio: decades [T/100, T/10] and [T/10, T]; "
               "plateau: t >= T/2; even t only", run=run, judge=judge, counterfeits=COUNTERFEITS)
