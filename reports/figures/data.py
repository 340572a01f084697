"""Rows of one claim as the figures need them: measured against theory rows, run counts, final
values, hyperparameter columns, and the seed statistics and slopes drawn.

Statistics come from ``verify.stats`` only (the module the verdicts use): means with Student-t
intervals from ``mean_confidence``, slopes from ``fit_loglog_slope``. A figure draws the slope a
verdict stored (``fit``, ``regime_map``) where there is one; ``local_slope`` fits one with the
verdicts' own method only where the verdict has none, and the legend then says "(local fit)".
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import pandas as pd

from verify.pivot import seed_matrix
from verify.results import HP_PREFIX, RUN_KEYS, hp_columns
from verify.stats import fit_loglog_slope, mean_confidence

THEORY_METRICS = ("bound", "floor")


def claim_rows(df: pd.DataFrame, verdict: dict) -> pd.DataFrame:
    claim = verdict.get("claim")
    d = df[df["claim"] == claim] if "claim" in df.columns else df
    return d


def split_theory(d: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(measured rows, theory rows).  Theory: seed < 0 or metric bound/floor."""
    th = (d["seed"] < 0) | d["metric"].isin(THEORY_METRICS)
    meas = d[~th].copy()
    if len(meas):
        meas["run_div"] = meas.groupby(RUN_KEYS, sort=False)["diverged"].transform("any")
        meas["ok"] = ~meas["run_div"] & np.isfinite(meas["value"].to_numpy(dtype=float))
    else:
        meas["run_div"] = pd.Series(dtype=bool)
        meas["ok"] = pd.Series(dtype=bool)
    return meas, d[th]


def run_counts(meas: pd.DataFrame) -> tuple[int, int]:
    """(number of runs, number of diverged runs) among measured rows."""
    if meas.empty:
        return 0, 0
    runs = meas.groupby(RUN_KEYS, sort=False)["run_div"].first()
    return int(len(runs)), int(runs.sum())


def final_rows(d: pd.DataFrame) -> pd.DataFrame:
    """Last checkpoint (largest t) of every run and metric (t == T normally)."""
    if d.empty:
        return d
    keys = [k for k in RUN_KEYS + ["metric"] if k in d.columns]
    s = d.sort_values("t", kind="stable")
    return s.drop_duplicates(keys, keep="last")


def param_column(d: pd.DataFrame, name: str, numeric: bool = True) -> pd.Series:
    """The hyperparameter ``name`` of every row of ``d``: its typed column ``hp.<name>``
    (``verify.results.hp_columns``; a schedule's entries as ``lr.schedule``, ``lr.c``, ...),
    derived from ``params`` for a table written without it. NaN (None when not ``numeric``) where
    a row's point does not have it; the point label is never read. ``numeric``: as float64."""
    col = HP_PREFIX + name
    if col not in d.columns:
        d = hp_columns(d["params"]) if "params" in d.columns else pd.DataFrame(index=d.index)
    if col not in d.columns:
        return pd.Series(np.nan if numeric else None, index=d.index, dtype=float if numeric else object)
    return pd.to_numeric(d[col], errors="coerce") if numeric else d[col]


def seed_stats(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean over seeds of ``value`` (ok rows) with the 95% Student-t interval of
    ``verify.stats.mean_confidence``, one row per value of ``by``.

    Columns: ``by + [mean, lo, hi, n, vmin]`` (vmin: smallest positive value, used to clip the
    band on log axes)."""
    cols = by + ["mean", "lo", "hi", "n", "vmin"]
    f = frame[frame["ok"]] if "ok" in frame.columns else frame
    f = f[np.isfinite(f["value"])]
    if f.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for key, g in f.groupby(by, sort=True):
        v = g["value"].to_numpy(float)
        mean, lo, hi = mean_confidence(v[:, None])
        pos = v[v > 0]
        key = key if isinstance(key, tuple) else (key,)
        rows.append((*key, mean[0], lo[0], hi[0], v.size, pos.min() if pos.size else np.nan))
    return pd.DataFrame(rows, columns=cols)


def local_slope(frame: pd.DataFrame, xcol: str) -> tuple[float, float, float]:
    """(slope, ci_low, ci_high) of log(seed mean) on log(x) by ``verify.stats.fit_loglog_slope``
    (the verdicts' method), for a figure whose verdict stored no slope for this series. Rows
    that are not ok (diverged, non-finite) count as missing."""
    f = frame.assign(value=frame["value"].where(frame["ok"])) if "ok" in frame.columns else frame
    f = f[f[xcol] > 0]
    if f.empty or f[xcol].nunique() < 2:
        return (float("nan"),) * 3
    metric = str(f["metric"].iloc[0])
    x, Y = seed_matrix(f, metric, axis=xcol, final=False)
    fit = fit_loglog_slope(x, Y)
    return fit.slope, fit.ci_low, fit.ci_high


def largest_T(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the largest horizon T (per series: caller groups first)."""
    if frame.empty:
        return frame
    return frame[frame["T"] == frame["T"].max()]


def varying(frame: pd.DataFrame, cols: list[str]) -> list[str]:
    return [c for c in cols if c in frame.columns and frame[c].nunique(dropna=False) > 1]


def pick_metric(meas: pd.DataFrame, verdict: dict, fallbacks=()) -> str | None:
    """The verdict's metric when the results hold it; ``None`` when they do not
    (the figure is skipped rather than showing another quantity).  Only a
    verdict without a metric falls back to the first present of ``fallbacks``."""
    present = set(meas["metric"].unique()) if not meas.empty else set()
    wanted = verdict.get("metric")
    if wanted:
        return wanted if wanted in present else None
    for m in fallbacks:
        if m in present:
            return m
    return None


def theory_for(th: pd.DataFrame, metric: str, key: dict, keys: list[str]) -> pd.DataFrame:
    """Theory rows of ``metric`` matching a series key on the given columns;
    columns that make the selection empty are relaxed one by one (theory rows
    may carry a different algorithm/sampler label than the measured runs)."""
    t = th[th["metric"] == metric]
    if t.empty:
        return t
    sel = t
    for c in keys:
        if c in sel.columns and c in key:
            nxt = sel[sel[c] == key[c]]
            if not nxt.empty:
                sel = nxt
            elif sel[c].nunique() > 1 and c in ("point", "T"):
                return sel.iloc[0:0]  # the theory genuinely differs per point/T
    return sel


def theory_stats(t: pd.DataFrame, xcol: str) -> pd.DataFrame:
    """Average duplicate theory rows on xcol (one value per x)."""
    t = t[np.isfinite(t["value"])]
    if t.empty:
        return pd.DataFrame(columns=[xcol, "value"])
    return t.groupby(xcol, sort=True)["value"].mean().reset_index()


def x_frame(frame: pd.DataFrame, x: str) -> tuple[pd.DataFrame, str]:
    """Rows and the x column for an axis kind: T -> final values against T;
    b -> final values at the largest T against b; t -> checkpoints of the
    largest T against t; anything else -> final values at the largest T
    against the hyperparameter of that name (added as column ``_x``)."""
    if x == "T":
        return final_rows(frame), "T"
    if x == "t":
        return largest_T(frame), "t"
    f = largest_T(final_rows(frame))
    if x == "b":
        return f, "b"
    f = f.copy()
    f["_x"] = param_column(f, x)
    return f, "_x"


def num(v) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt(v, digits: int = 3) -> str:
    x = num(v)
    return "n/a" if x is None else f"{x:.{digits}g}"


def slope_text(slope, lo=None, hi=None, local: bool = False) -> str:
    if num(slope) is None:
        return "slope n/a"
    s = f"slope {num(slope):.2f}"
    if num(lo) is not None and num(hi) is not None:
        s += f" [{num(lo):.2f}, {num(hi):.2f}]"
    if local:
        s += " (local fit)"
    return s


def regime_entry(verdict: dict, point: str) -> dict | None:
    for e in verdict.get("regime_map") or []:
        if isinstance(e, dict) and str(e.get("point")) == str(point):
            return e
    return None


def fit_curve(fit: dict, xs: np.ndarray, ymean: np.ndarray) -> np.ndarray | None:
    """y of a verdict's fit over xs.  The intercept's log base is not fixed by
    the contract: natural log and log10 are both tried and the one closer to
    the data is used; without an intercept the line goes through the data's
    geometric centre."""
    slope = num(fit.get("slope")) if fit else None
    if slope is None:
        return None
    xs = np.asarray(xs, float)
    ym = np.asarray(ymean, float)
    m = np.isfinite(ym) & (ym > 0) & (xs > 0)
    icpt = num(fit.get("intercept"))
    cands = []
    if icpt is not None:
        cands.append(np.exp(icpt + slope * np.log(xs)))
        cands.append(10.0 ** (icpt + slope * np.log10(xs)))
    if m.sum() >= 1:
        c = np.mean(np.log(ym[m]) - slope * np.log(xs[m]))
        anchored = np.exp(c + slope * np.log(xs))
        if not cands:
            return anchored
        errs = []
        for y in cands:
            with np.errstate(all="ignore"):
                e = np.abs(np.log(y[m]) - np.log(ym[m]))
            errs.append(np.nanmean(e) if np.all(np.isfinite(e)) else np.inf)
        best = int(np.argmin(errs))
        # a fit more than ~3 decades off the data is not about this series
        return cands[best] if errs[best] < 7.0 else anchored
    return cands[0] if cands else None


@contextlib.contextmanager
def quiet():
    """Silence NumPy's RuntimeWarnings (means of all-NaN columns and the like)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
