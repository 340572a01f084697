"""Your own theorem in a few lines: ``rate_claim`` declares a rate claim outside the package, and
``python -m verify rates --claims-from MODULE`` (or the entry point group ``samcheck.claims``) finds it.

The declaration states the theorem (citation, status), the problem and sampler, the hyperparameters of
a grid point (schedules included), the measured metric, the predicted slope with its tolerance, the
fit window, an optional explicit bound (a sympy expression or a callable) and the counterfeits the
verdict must reject. The framework supplies the rest: the sweep (``verify.sweep.run_points``: executors,
cache, provenance, common random numbers), the statistics (``verify.stats``), the verdict, the figure
and the report. The verdict rule is the suite's plain rate rule, per series of the grid:

- slope of log E[metric] against log x (x = t, checkpoints of one run, or T, one run per horizon) over
  the fit window, CI from ``stats.fit_loglog_slope``; "holds" when the CI lies at or below
  ``predicted_slope + tol``, "violated" when above, else "inconclusive" (``stats.rate_verdict``);
- a diverged run makes its series "violated" (a convergence claim fails on it, it is never dropped);
- fewer than 3 grid values in the window: "inconclusive" (pre-asymptotic);
- an explicit bound is checked at every x of the window (``stats.check_bound``): a bound resolved
  below the runs makes the series "violated", an unresolved one keeps it from "holds";
- "violated" on rate grounds stands only where Holm at ``alpha`` over the series rejects
  "slope <= predicted + tol"; the claim holds only when every series holds.
A built-in claim may add to this (e.g. a constant-step contrast that must stall); ``rate_claim`` does not.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Optional, Union

import numpy as np
import pandas as pd
import sympy

from .claim import Claim, Context, Counterfeit
from .pivot import fit_dict, holm_demote, number, regime_map, seed_matrix, theory_curve, worst
from .stats import check_bound, combine_verdicts, fit_loglog_slope, rate_verdict, slope_pvalue
from .sweep import Point, run_points, theory_rows

Bound = Union[sympy.Expr, Callable[..., Any], None]


def rate_claim(id: str, *, paper: str, theorem: str, algorithm: str, problem, sampler,
               hp: Callable[..., dict], grid: Union[list, dict], predicted_slope: float, tol: float,
               metric: str = "f_gap", axis: str = "t", status: str = "reconstructed", expected: str = "holds",
               fit_from: Union[float, Callable[..., float]] = 0.0, decades: Optional[float] = None,
               bound: Bound = None, counterfeits: Optional[dict] = None, replicas: int = 1, x0=None,
               n_checkpoints: int = 60, label: Optional[Callable[..., str]] = None, problem_name: Optional[str] = None,
               sampler_name: Optional[str] = None, stream: str = "", alpha: float = 0.05, **text: str) -> Claim:
    """A rate claim "E[metric] = O(x^predicted_slope)" as a ``verify.claim.Claim``.

    problem, sampler: instances, or callables with no argument (built when the claim runs).
    hp(problem, sampler, **point) -> the engine's hyperparameters of one grid point (numbers or
    ``optim.schedules.Schedule``). grid: a list of point dicts (each with its horizon "T"), or
    {"quick": [...], "full": [...]}. axis: "t" (the slope along one run's checkpoints; each point is a
    series) or "T" (one run per horizon; the points that differ only in "T" form a series).
    Fit window: x >= fit_from (a number or fit_from(problem, sampler, **point)) and, with ``decades``,
    the last ``decades`` decades of x. bound: an expression in the symbol ``t`` or ``T`` (the axis) and
    the point's keys, or bound(x, **point) -> array. counterfeits: {name: {"change": ..., "behaviour":
    ..., "expected": "violated", **overrides}}, the overrides merged into every grid point.
    stream: the sample stream's name (runs of one claim, problem, algorithm and stream share samples).
    text: descriptive Claim fields (assumptions, schedule, measured, prediction, ...)."""
    if axis not in ("t", "T"):
        raise ValueError(f"axis {axis!r}: must be 't' (checkpoints of one run) or 'T' (one run per horizon)")
    grids = grid if isinstance(grid, dict) else {"quick": grid, "full": grid}
    for name in ("quick", "full"):
        if not grids.get(name) or any("T" not in p for p in grids[name]):
            raise ValueError(f"claim {id}: grid {name!r} needs a non-empty list of points, each with its horizon 'T'")
    label = label or (lambda **p: " ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                                           for k, v in p.items() if not (axis == "T" and k == "T")))
    bound_fn = _bound_function(bound, axis)

    def run(ctx: Context, **overrides) -> pd.DataFrame:
        prob = problem() if callable(problem) else problem
        samp = sampler() if callable(sampler) else sampler
        specs = [{**p, **overrides} for p in grids["quick" if ctx.quick else "full"]]
        points = [Point(label(**p), hp(prob, samp, **p), T=int(p["T"]), b=int(p.get("b", 1)),
                        info={**_plain(p), "fit_from": float(fit_from(prob, samp, **p) if callable(fit_from)
                                                              else fit_from), "replicas": replicas})
                  for p in specs]
        T_max = max(p.T for p in points)
        ck = np.unique(np.geomspace(1, T_max, n_checkpoints).astype(int))
        pname = problem_name or type(prob).__name__.lower()
        sname = sampler_name or samp.name
        frames = [run_points(ctx, id, algorithm, prob, samp, points, problem_name=pname, sampler_name=sname,
                             x0=x0, checkpoints=ck, label=stream, replicas=replicas)]
        for p, pt in zip(specs, points):
            if bound_fn is not None:
                x = np.unique(np.r_[ck[ck < pt.T], pt.T]).astype(float) if axis == "t" else float(pt.T)
                frames.append(theory_rows(id, algorithm, pname, sname, pt.label, pt.T, pt.b, x, "bound",
                                          bound_fn(x, **p)))
        return pd.concat(frames, ignore_index=True)

    def judge(rows: pd.DataFrame) -> dict:
        return _judge(rows, metric, axis, predicted_slope, tol, decades, alpha)

    cfs = tuple(Counterfeit(name, c["change"], c["behaviour"], expected=c.get("expected", "violated"),
                            run={k: v for k, v in c.items() if k not in ("change", "behaviour", "expected")})
                for name, c in (counterfeits or {}).items())
    window = f"x >= fit_from (per point)" + (f", last {decades:g} decades" if decades else "")
    return Claim(id=id, paper=paper, theorem=theorem, status=status, algorithms=(algorithm,),
                 problem=text.get("problem", problem_name or ""), assumptions=text.get("assumptions", ""),
                 schedule=text.get("schedule", ""), measured=text.get("measured", f"E[{metric}] over seeds"),
                 metric=metric, prediction=text.get("prediction", f"slope in {axis} <= {predicted_slope:g} + {tol:g}"),
                 expected=expected, figure="rate", x=axis, tolerance=tol,
                 tolerance_reason=text.get("tolerance_reason", ""), fit_window=text.get("fit_window", window),
                 run=run, judge=judge, predicted_slope=predicted_slope, counterfeits=cfs)


def _bound_function(bound: Bound, axis: str) -> Optional[Callable]:
    """bound(x, **point) -> array, from a sympy expression in the axis symbol and point keys, or a callable."""
    if bound is None or callable(bound) and not isinstance(bound, sympy.Basic):
        return bound
    expr = sympy.sympify(bound)
    names = sorted(str(s) for s in expr.free_symbols)
    if axis not in names:
        raise ValueError(f"bound {expr}: must depend on the symbol {axis!r}")
    f = sympy.lambdify([sympy.Symbol(n) for n in names], expr, "numpy")

    def evaluate(x, **point):
        missing = [n for n in names if n != axis and n not in point]
        if missing:
            raise ValueError(f"bound {expr}: symbol(s) {', '.join(missing)} are not keys of the grid point")
        args = [np.asarray(x, dtype=float) if n == axis else float(point[n]) for n in names]
        return np.broadcast_to(np.asarray(f(*args), dtype=float), np.shape(x))
    return evaluate


def _judge(rows: pd.DataFrame, metric: str, axis: str, predicted: float, tol: float,
           decades: Optional[float], alpha: float) -> dict:
    """The plain rate rule of the module docstring, over every series (point label) of ``rows``."""
    res = rows[rows["seed"] >= 0]
    entries = [_judge_series(rows[rows["point"] == lab], metric, axis, predicted, tol, decades)
               for lab in sorted(res["point"].unique())]
    holm_demote(entries, alpha, counts=lambda e: e["why"] == "rate")   # divergence and bounds fail as they are
    w = worst(entries)
    return {"verdict": combine_verdicts([e["verdict"] for e in entries]),
            "reason": f"{sum(e['verdict'] == 'holds' for e in entries)}/{len(entries)} series hold; "
                      f"worst {w['point']}: {w['reason']}",
            "measured": f"slope in {axis} of E[{metric}]: " + "; ".join(
                f"{e['point']} {e['estimate']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}]" for e in entries),
            "estimate": w["estimate"], "ci_low": w["ci_low"], "ci_high": w["ci_high"],
            "fit": fit_dict(w["fit"]), "bound_margin": None, "regime_map": regime_map(entries),
            "numbers": {f"slope[{e['point']}]": number(e["estimate"], e["ci_low"], e["ci_high"]) for e in entries}}


def _judge_series(r: pd.DataFrame, metric: str, axis: str, predicted: float, tol: float,
                  decades: Optional[float]) -> dict:
    """Verdict of one series: the slope over its fit window, divergence and the explicit bound."""
    p = json.loads(r.loc[r["seed"] >= 0, "params"].iloc[0])
    x, Y = seed_matrix(r, metric, axis=axis, final=axis == "T")
    w = (x >= p["fit_from"]) & (x > 0)
    if decades is not None:
        w &= x >= x.max() / 10 ** decades
    fit = fit_loglog_slope(x[w], Y[:, w]) if w.any() else fit_loglog_slope(x[x > 0], Y[:, x > 0])
    verdict, why = rate_verdict(fit, predicted, tol)
    cause = "rate" if verdict == "violated" else ""
    n_div = int(r[r["seed"] >= 0].drop_duplicates(["seed", "T"])["diverged"].sum())
    if w.sum() < 3 and not n_div:
        verdict, why, cause = "inconclusive", f"pre-asymptotic: {int(w.sum())} grid values in the fit window; {why}", ""
    bx, bv = theory_curve(r, "bound", axis=axis)
    if bv.size and verdict != "violated":
        on = np.isin(x, bx) & w
        bc = check_bound(Y[:, on], bv[np.isin(bx, x[on])])
        if bc.verdict == "violated":
            verdict, why, cause = "violated", f"the bound is exceeded ({bc.reason}); {why}", "bound"
        elif bc.verdict == "inconclusive" and verdict == "holds":
            verdict, why = "inconclusive", f"the bound is not resolved ({bc.reason}); {why}"
    if n_div:
        verdict, why, cause = "violated", f"{n_div} run(s) diverged; {why}", "diverged"
    return {"point": r["point"].iloc[0], "verdict": verdict, "why": cause, "estimate": fit.slope,
            "ci_low": fit.ci_low, "ci_high": fit.ci_high, "fit": fit,
            "reason": f"fit {axis} in [{x[w].min() if w.any() else np.nan:.3g}, {x.max():g}]: {why}",
            "p_value": 0.0 if cause in ("diverged", "bound") else slope_pvalue(fit, predicted + tol)}


def _plain(point: dict) -> dict:
    """A grid point's JSON-able entries (for the rows' params)."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in point.items()
            if isinstance(v, (int, float, str, bool, np.generic)) or v is None}
