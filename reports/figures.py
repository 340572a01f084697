"""Figures for the claims of samcheck.

Every figure function has the signature ``(df, verdict, out_dir) -> list[Path]``:
``df`` is the tidy results table (all claims; the function selects its claim),
``verdict`` one entry of verdicts.json, ``out_dir`` the folder to write into.
It returns the files written (``.pdf`` and ``.png`` per figure), or ``[]`` when
the claim has no data to plot.  Missing metrics skip a panel, NaN/inf values
and diverged runs are left out of means (diverged runs are counted instead).

Statistics shown (display only; the verdicts come from ``verify``):

* the mean over seeds of non-diverged, finite values, with a 95% Student-t
  confidence band for the mean (on log axes the lower edge is clipped at the
  smallest observation when it would be non-positive);
* slopes and their CIs come from verdicts.json (``fit`` for the claim,
  ``regime_map`` per grid point) where available; otherwise the figure fits
  log(mean) on log(x) itself with a bootstrap over seeds and says
  "(local fit)" in the legend.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import warnings
from pathlib import Path
from typing import Callable

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.colors import LogNorm
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from . import style as st
from .style import txt
from .tables import normalise_results, normalise_verdicts

RUN_KEYS = ["algorithm", "problem", "sampler", "point", "seed", "T", "b"]
THEORY_METRICS = ("bound", "floor")
# line styles of theory: explicit bound dashed, predicted slope dash-dot,
# predicted floor / plateau dotted
BOUND_LS = "--"
PRED_LS = (0, (6, 2, 1.5, 2))
FLOOR_LS = ":"

METRIC_LABELS = {
    "f_gap": r"$f(x_t) - f^\star$",
    "grad_sq": r"$\|\nabla f(x_t)\|^2$",
    "dist_sq": r"$\|x_t - x^\star\|^2$",
    "grad_sq_avg": r"$\frac{1}{t}\sum_{s<t}\|\nabla f(x_s)\|^2$",
    "grad_sq_tail_avg": r"$\frac{2}{t}\sum_{t/2\leq s<t}\|\nabla f(x_s)\|^2$",
    "grad_sq_min": r"$\min_{s\leq t}\|\nabla f(x_s)\|^2$",
    "rho": r"$\rho_t$",
    "eff_radius": r"effective radius",
    "val_loss": r"validation loss",
}
# the same quantities as final values of runs of horizon T (plots against T or b)
METRIC_LABELS_FINAL = {
    "f_gap": r"$f(x_T) - f^\star$",
    "grad_sq": r"$\|\nabla f(x_T)\|^2$",
    "dist_sq": r"$\|x_T - x^\star\|^2$",
    "grad_sq_avg": r"$\frac{1}{T}\sum_{t<T}\|\nabla f(x_t)\|^2$",
    "grad_sq_tail_avg": r"$\frac{2}{T}\sum_{T/2\leq t<T}\|\nabla f(x_t)\|^2$",
    "grad_sq_min": r"$\min_{t\leq T}\|\nabla f(x_t)\|^2$",
}
METRIC_SHORT = {
    "f_gap": r"$f - f^\star$",
    "grad_sq": r"$\|\nabla f\|^2$",
    "dist_sq": r"$\|x - x^\star\|^2$",
    "grad_sq_avg": r"avg $\|\nabla f\|^2$",
    "grad_sq_tail_avg": r"tail avg $\|\nabla f\|^2$",
    "grad_sq_min": r"min $\|\nabla f\|^2$",
    "rho": r"$\rho_t$",
    "eff_radius": "eff. radius",
    "val_loss": "val. loss",
}
AXIS_LABELS = {
    "T": r"horizon $T$ (iterations)",
    "t": r"iteration $t$",
    "b": r"batch size $b$",
    "bT": r"$bT$ (samples)",
    "lambda": r"$\lambda$",
    "rho": r"$\rho$",
    "eta": r"$\eta$",
    "rho0": r"$\rho_0$",
}
ALGO_NAMES = {
    "adasam": "AdaSAM",
    "lightsam1": "LightSAM-I",
    "lightsam2": "LightSAM-II",
    "lightsam3": "LightSAM-III",
    "sam": "SAM",
    "sam_sgd": "SAM (SGD)",
    "usam": "USAM",
    "unified_sam": "Unified SAM",
    "lets_sam": "LETS-SAM",
    "lets_asam": "LETS-ASAM",
    "asam": "ASAM",
    "sgd": "SGD",
    "adam": "Adam",
    "amsgrad": "AMSGrad",
}
PARAM_SYMBOLS = {
    "eps": r"$\epsilon$", "epsilon": r"$\epsilon$",
    "rho": r"$\rho$", "rho0": r"$\rho_0$", "rho_0": r"$\rho_0$",
    "eta": r"$\eta$", "gamma": r"$\gamma$", "lam": r"$\lambda$", "lambda": r"$\lambda$",
    "tau": r"$\tau$", "kappa": r"$\kappa$", "sigma": r"$\sigma$", "mu": r"$\mu$",
    "beta": r"$\beta$",
}
PARAM_ALIASES = {
    "lambda": ("lam", "lambda", "lmbda", "lambda_", "lamb"),
    "rho": ("rho",),
    "eta": ("eta", "lr"),
    "eps": ("eps", "epsilon"),
    "rho0": ("rho0", "rho_0", "rho_init", "rho"),
    "schedule": ("schedule", "sched", "step_schedule"),
}

CAPTIONS = {
    "rate": "Metric against the axis of the claim on log-log axes: faint lines are "
            "individual seeds, markers the mean over non-diverged seeds with a 95% band, "
            "dotted the fitted line; the legend gives the fitted slope with its CI, the "
            "predicted slope (dash-dot), the explicit bound (dashed) and the count of "
            "diverged runs.",
    "adasam_speedup": "AdaSAM linear speedup, one row per grid point: (a) metric against T "
                      "for each batch size b; (b) the collapse metric x sqrt(bT) against bT, "
                      "flat when the O(1/sqrt(bT)) rate holds; (c) metric against b at the "
                      "largest common T with the slope in b and its CI (dash-dot: predicted slope; "
                      "* marks a slope fitted here by a bootstrap over seeds).",
    "lightsam_heatmap": "Any-rho check on the rho x eta grid: top, the final metric (mean over "
                        "non-diverged seeds, log colour; grey x = every run diverged); bottom, "
                        "the fraction of diverged runs. LightSAM variants next to SAM with SGD "
                        "descent on the same grid.",
    "unified_lambda": "Unified SAM: f - f* against t for each lambda (solid, with 95% band), "
                      "the Thm 3.2 bound (dashed) and the plateau level N(lambda) (dotted); "
                      "last panel: measured plateau against lambda next to N(lambda).",
    "unified_importance": "Uniform against importance sampling (reweighted and unweighted): "
                          "f - f* and distance to x* against t; dotted lines are predicted floors.",
    "unified_schedule": "Constant against decreasing step schedule: f - f* against t, and the "
                        "final f - f* against T with fitted slopes (dash-dot: predicted slope; "
                        "* marks a slope fitted here by a bootstrap over seeds).",
    "lets": "LETS: learned rho_t from several rho_0, validation loss against rho_0 "
            "(LETS against fixed-rho SAM), and the rate of the measured metric against T "
            "with the explicit bound.",
    "floor": "Negative control: metric against t with the predicted floor (dotted), and the "
             "measured floor (final value, mean with 95% CI) against its formula (grey line: "
             "equality); dashed: explicit bound where the claim has one.",
}


# ----------------------------------------------------------------------------
# data helpers
# ----------------------------------------------------------------------------

def safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(s)).strip("_") or "claim"


def algo_name(a: str) -> str:
    return ALGO_NAMES.get(str(a), str(a))


def metric_label(m: str, short: bool = False, final: bool = False) -> str:
    """Axis label of a metric; ``final``: its value at the end of a run of
    horizon T (plots against T or b)."""
    if final and not short and m in METRIC_LABELS_FINAL:
        return METRIC_LABELS_FINAL[m]
    table = METRIC_SHORT if short else METRIC_LABELS
    label = table.get(m, txt(m))
    if final and (short or m not in METRIC_LABELS):
        label += " at $t=T$"
    return label


_KEY_RE = re.compile(r"(?<![A-Za-z0-9_])("
                     + "|".join(sorted(map(re.escape, PARAM_SYMBOLS), key=len, reverse=True))
                     + r")\s*=")


def pretty_point(p: str) -> str:
    """``"rho=1,eta=10"`` -> ``"$\\rho$=1, $\\eta$=10"``: known parameter
    names become symbols wherever they appear; the rest is kept (escaped for
    the active renderer)."""
    p = str(p)
    out, pos = [], 0
    for m in _KEY_RE.finditer(p):
        out.append(txt(p[pos:m.start()]))
        out.append(PARAM_SYMBOLS[m.group(1)] + "=")
        pos = m.end()
    out.append(txt(p[pos:]))
    return re.sub(r",(?=\S)", ", ", "".join(out))


def distinct_labels(labels: list[str]) -> list[str]:
    """Drop the ``key=value`` tokens that every label shares (``"d=2 x0=0
    lam=0"`` ... -> ``"lam=0"`` ...); labels left empty keep their full text."""
    if len(labels) < 2:
        return list(labels)
    split = [[t for t in re.split(r",\s*|\s+", lab) if t] for lab in labels]
    common = set.intersection(*(set(t for t in toks if "=" in t) for toks in split))
    out = []
    for lab, toks in zip(labels, split):
        kept = [t for t in toks if t not in common]
        out.append(" ".join(kept) if kept else lab)
    return out


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


def _parse_params(s: str) -> dict:
    try:
        v = json.loads(s) if s else {}
        return v if isinstance(v, dict) else {}
    except (TypeError, ValueError):
        return {}


def param_column(d: pd.DataFrame, name: str, numeric: bool = True) -> pd.Series:
    """Value of a hyperparameter for every row: from the params JSON (aliases in
    ``PARAM_ALIASES``), else parsed from the point label (``"key=value"``)."""
    aliases = PARAM_ALIASES.get(name, (name,))
    if d.empty:
        return pd.Series([], dtype=float if numeric else object, index=d.index)
    key = d["params"].astype(str) + "\x00" + d["point"].astype(str)
    lookup = {}
    for k in pd.unique(key):
        params, point = k.split("\x00", 1)
        p = _parse_params(params)
        val = None
        for a in aliases:
            if a in p and p[a] is not None:
                val = p[a]
                break
        if val is None:
            for a in aliases:
                m = re.search(r"(?:^|[,;\s])\s*" + re.escape(a) + r"\s*=\s*([^,;\s]+)", point)
                if m:
                    val = m.group(1)
                    break
        lookup[k] = val
    s = key.map(lookup)
    if numeric:
        s = pd.to_numeric(s, errors="coerce")
    return s


@functools.lru_cache(maxsize=256)
def t_quantile(n: int) -> float:
    """0.975 quantile of Student's t with n - 1 degrees of freedom."""
    if n < 2:
        return float("nan")
    try:
        from scipy.stats import t as student_t
        return float(student_t.ppf(0.975, n - 1))
    except Exception:  # scipy missing: normal approximation, generous for small n
        return 1.96 if n > 30 else 1.96 + 2.5 / (n - 1)


def seed_stats(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean over seeds of ``value`` (ok rows) with a 95% t-interval.

    Columns: ``by + [mean, lo, hi, n, vmin]`` (vmin: smallest positive value,
    used to clip the band on log axes)."""
    f = frame[frame["ok"]] if "ok" in frame.columns else frame
    f = f[np.isfinite(f["value"])]
    if f.empty:
        return pd.DataFrame(columns=by + ["mean", "lo", "hi", "n", "vmin"])
    g = f.groupby(by, sort=True)["value"]
    a = g.agg(["mean", "std", "count"]).reset_index()
    pos = f[f["value"] > 0].groupby(by, sort=True)["value"].min().rename("vmin").reset_index()
    a = a.merge(pos, on=by, how="left")
    q = np.array([t_quantile(int(n)) for n in a["count"]])
    half = q * a["std"].to_numpy() / np.sqrt(a["count"].to_numpy())
    a["lo"] = a["mean"] - half
    a["hi"] = a["mean"] + half
    a["n"] = a["count"]
    return a[by + ["mean", "lo", "hi", "n", "vmin"]]


def fit_loglog(x, y) -> tuple[float, float]:
    """OLS of ln y on ln x over finite positive pairs: (slope, intercept)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    m = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if m.sum() < 2 or np.ptp(np.log(x[m])) == 0:
        return float("nan"), float("nan")
    slope, icpt = np.polyfit(np.log(x[m]), np.log(y[m]), 1)
    return float(slope), float(icpt)


def bootstrap_slope(frame: pd.DataFrame, xcol: str, n_boot: int = 300, seed: int = 0):
    """Slope of log(mean over seeds) on log(x) with a seed-bootstrap 95% CI.

    Returns (slope, lo, hi); NaNs when fewer than two x values."""
    f = frame[frame["ok"]] if "ok" in frame.columns else frame
    f = f[np.isfinite(f["value"]) & (f["value"] > 0)]
    if f.empty:
        return (float("nan"),) * 3
    mat = f.pivot_table(index="seed", columns=xcol, values="value", aggfunc="mean")
    xs = mat.columns.to_numpy(dtype=float)
    if len(xs) < 2:
        return (float("nan"),) * 3
    vals = mat.to_numpy(dtype=float)
    slope, _ = fit_loglog(xs, np.nanmean(vals, axis=0))
    if vals.shape[0] < 2:
        return slope, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, vals.shape[0], size=(n_boot, vals.shape[0]))
    with np.errstate(all="ignore"), _quiet():
        means = np.nanmean(vals[idx], axis=1)  # (n_boot, n_x)
    lx = np.log(xs)
    slopes = []
    for row in means:
        m = np.isfinite(row) & (row > 0)
        if m.sum() >= 2:
            slopes.append(np.polyfit(lx[m], np.log(row[m]), 1)[0])
    if len(slopes) < 10:
        return slope, float("nan"), float("nan")
    lo, hi = np.percentile(slopes, [2.5, 97.5])
    return slope, float(lo), float(hi)


@contextlib.contextmanager
def _quiet():
    """Silence NumPy's RuntimeWarnings (means of all-NaN columns and the like)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _num(v) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt(v, digits: int = 3) -> str:
    x = _num(v)
    return "n/a" if x is None else f"{x:.{digits}g}"


def slope_text(slope, lo=None, hi=None, local: bool = False) -> str:
    if _num(slope) is None:
        return "slope n/a"
    s = f"slope {_num(slope):.2f}"
    if _num(lo) is not None and _num(hi) is not None:
        s += f" [{_num(lo):.2f}, {_num(hi):.2f}]"
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
    slope = _num(fit.get("slope")) if fit else None
    if slope is None:
        return None
    xs = np.asarray(xs, float)
    ym = np.asarray(ymean, float)
    m = np.isfinite(ym) & (ym > 0) & (xs > 0)
    icpt = _num(fit.get("intercept"))
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


def set_log(ax, x: bool = True, y: bool = True):
    if x:
        ax.set_xscale("log", nonpositive="mask")
        st.log_axis(ax.xaxis)
    if y:
        ax.set_yscale("log", nonpositive="mask")
        # tall panels can carry a few labelled minor ticks over two decades
        fig = ax.get_figure()
        tall = fig is not None and ax.get_position().height * fig.get_figheight() >= 1.9
        st.log_axis(ax.yaxis, minor_decades=2.0 if tall else 1.0)


def _grid_label(x: float) -> str:
    if not math.isfinite(x):
        return ""
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:g}"
    return st.sci_text(x) if not st.usetex_on() else f"{x:.0e}"


def grid_ticks(axis, values, max_n: int = 7) -> bool:
    """Label a log axis exactly at the grid values (horizons T, batch sizes b)
    when there are only a few: more informative than decades, and minor labels
    cannot collide.  Returns whether it did."""
    v = sorted({float(x) for x in np.asarray(values, float).ravel() if np.isfinite(x) and x > 0})
    if not 2 <= len(v) <= max_n:
        return False
    axis.set_major_locator(FixedLocator(v))
    axis.set_major_formatter(FuncFormatter(lambda x, pos=None: _grid_label(x)))
    axis.set_minor_formatter(NullFormatter())
    return True


ROUND_OFF = 1e-16  # relative level below which a trajectory is at round-off
HEADROOM = 1e4     # theory lines more than this far above the data leave the axis


def tidy_log_ylim(ax, values) -> None:
    """Keep a log y axis on the measured data: at most ``HEADROOM`` above the
    largest measured value and no lower than ``ROUND_OFF`` times it (a run that
    converges to round-off, or underflows to 1e-300, would squash every other
    curve).  Theory lines stay visible within that window."""
    v = np.asarray(values, float).ravel()
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return
    hi = float(v.max())
    b0, t0 = ax.get_ylim()
    bottom = max(b0, hi * ROUND_OFF)
    top = min(t0, hi * HEADROOM)
    if top > bottom > 0:
        ax.set_ylim(bottom, top)


def pretty_label(s) -> str:
    """Sampler/problem names for legends: underscores become spaces."""
    return txt(str(s).replace("_", " "))


def blank_handle() -> Line2D:
    return Line2D([], [], ls="none", label=" ")


def two_row_legend(fig, row1: list, row2: list, loc: str = "outside upper center"):
    """A figure legend whose first row holds ``row1`` and second row ``row2``
    (matplotlib fills legends column by column, so the two are interleaved);
    when that is wider than the figure, a plain legend with fewer columns."""
    k = max(len(row1), len(row2))
    if k == 0:
        return None
    r1 = row1 + [blank_handle() for _ in range(k - len(row1))]
    r2 = row2 + [blank_handle() for _ in range(k - len(row2))]
    handles = [h_ for pair in zip(r1, r2) for h_ in pair]
    leg = fig.legend(handles=handles, loc=loc, ncols=k)
    if _legend_width(fig, leg) <= fig.get_figwidth() - 0.1:
        _grow_for(fig, leg)
        return leg
    leg.remove()
    return fig_legend(fig, row1 + row2, loc)


def _grow_for(fig, leg) -> None:
    """Make the figure taller by the legend's height: legends outside the axes
    add to the figure instead of squeezing the panels (sizes are set for the
    panels alone)."""
    try:
        renderer = fig.canvas.get_renderer()
    except AttributeError:
        return
    h_in = leg.get_window_extent(renderer).height / fig.dpi
    fig.set_figheight(fig.get_figheight() + h_in + 0.08)


def _legend_width(fig, leg) -> float:
    """Width in inches of a legend as it will be drawn."""
    try:
        renderer = fig.canvas.get_renderer()
    except AttributeError:  # not an Agg canvas: trust the estimate
        return 0.0
    return leg.get_window_extent(renderer).width / fig.dpi


def fig_legend(fig, handles, loc: str = "outside lower center", ncols: int | None = None):
    """A figure legend with as many columns as fit the figure width: the
    estimate of :func:`fit_ncols` is checked against the measured width and
    lowered until the legend fits (an overflowing legend would be clipped)."""
    handles = [h_ for h_ in handles if h_ is not None]
    if not handles:
        return None
    if ncols is None:
        ncols = fit_ncols(handles, fig.get_figwidth())
    ncols = max(1, min(ncols, len(handles)))
    while True:
        leg = fig.legend(handles=handles, loc=loc, ncols=ncols)
        if ncols == 1 or _legend_width(fig, leg) <= fig.get_figwidth() - 0.1:
            _grow_for(fig, leg)
            return leg
        leg.remove()
        ncols -= 1


def color_for(i: int) -> str:
    return st.PALETTE[i % len(st.PALETTE)]


def diverged_handle(k: int, n: int) -> Line2D:
    return Line2D([], [], ls="none", marker="x", color=st.OKABE_ITO["vermillion"],
                  label=f"diverged: {k}/{n} runs")


def plot_mean_band(ax, a: pd.DataFrame, xcol: str, color, label=None, logy=True,
                   marker="o", ls="-", lw=None, band=True, ms=None, alpha=0.2):
    """Mean line with markers and a 95% band from a ``seed_stats`` frame."""
    if a.empty:
        return None
    x = a[xcol].to_numpy(float)
    y = a["mean"].to_numpy(float)
    line, = ax.plot(x, y, color=color, marker=marker, ls=ls, label=label, lw=lw,
                    ms=ms, zorder=3)
    if band:
        lo = a["lo"].to_numpy(float)
        hi = a["hi"].to_numpy(float)
        if logy:
            vmin = a["vmin"].to_numpy(float)
            lo = np.where(lo > 0, lo, vmin)
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.sum() >= 2:
            ax.fill_between(x[ok], lo[ok], hi[ok], color=color, alpha=alpha, lw=0, zorder=2)
        elif ok.sum() == 1:
            ax.errorbar(x[ok], y[ok], yerr=[[y[ok][0] - lo[ok][0]], [hi[ok][0] - y[ok][0]]],
                        color=color, ls="none", capsize=2, lw=0.8)
    return line


def plot_seed_lines(ax, frame: pd.DataFrame, xcol: str, color):
    f = frame[frame["ok"]] if "ok" in frame.columns else frame
    for _, g in f.groupby("seed", sort=False):
        g = g.sort_values(xcol)
        ax.plot(g[xcol].to_numpy(float), g["value"].to_numpy(float), color=color,
                alpha=0.25, lw=0.6, zorder=1)


def no_data(ax, msg: str):
    ax.text(0.5, 0.5, txt(msg), ha="center", va="center", transform=ax.transAxes,
            fontsize=7, color=st.GREY, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


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


def largest_T(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the largest horizon T (per series: caller groups first)."""
    if frame.empty:
        return frame
    return frame[frame["T"] == frame["T"].max()]


def varying(frame: pd.DataFrame, cols: list[str]) -> list[str]:
    return [c for c in cols if c in frame.columns and frame[c].nunique(dropna=False) > 1]


def series_label(key: dict, vary: list[str]) -> str:
    parts = []
    for c in vary:
        v = key[c]
        if c == "algorithm":
            parts.append(txt(algo_name(v)))
        elif c == "point":
            parts.append(pretty_point(v))
        elif c == "b":
            parts.append(f"$b$={v}")
        elif c == "T":
            parts.append(f"$T$={v}")
        else:
            parts.append(pretty_label(v))
    return ", ".join(p for p in parts if p)


def _label_width(label: str, fontsize: float) -> float:
    """Rough width in inches of a legend label (mathtext commands stripped)."""
    plain = re.sub(r"\\[A-Za-z]+", "x", label).replace("$", "").replace("{", "").replace("}", "")
    plain = plain.replace("^", "").replace("_", "")
    return 0.56 * fontsize / 72.0 * len(plain)


def fit_ncols(handles, width: float, fontsize: float | None = None, max_cols: int = 8) -> int:
    """Most legend columns whose estimated total width fits ``width`` inches
    (matplotlib fills legends column by column)."""
    fs = fontsize or mpl.rcParams["legend.fontsize"]
    fs = float(fs) if isinstance(fs, (int, float)) else 7.0
    entry = [_label_width(h_.get_label(), fs) + 0.45 for h_ in handles]
    n = len(entry)
    for c in range(min(n, max_cols), 0, -1):
        r = int(math.ceil(n / c))
        cols = [max(entry[j * r:(j + 1) * r], default=0) for j in range(c)]
        if sum(cols) <= width - 0.25:
            return int(math.ceil(n / r))  # same rows, balanced columns (6 -> 3x2, not 5+1)
    return 1


def legend_below(fig, handles, ncols: int | None = None):
    return fig_legend(fig, handles, "outside lower center", ncols)


def finish(fig, out_dir: Path, verdict: dict, suffix: str = "") -> list[Path]:
    stem = Path(out_dir) / (safe_name(verdict.get("claim", "claim")) + suffix)
    return st.save(fig, stem)


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


# ----------------------------------------------------------------------------
# generic rate plot
# ----------------------------------------------------------------------------

def _x_frame(frame: pd.DataFrame, x: str) -> tuple[pd.DataFrame, str]:
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


def predicted_line(ax, xs, ys, slope: float, at_end: bool = False):
    """Dashed line of the predicted slope through the first data point (or the
    last one, over the second half of the x range, for trajectories whose start
    is a transient)."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    m = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    if m.sum() < 2:
        return None
    xs, ys = xs[m], ys[m]
    if at_end:
        x1, y1 = xs[-1], ys[-1]
        x0 = math.sqrt(xs[0] * xs[-1]) if xs[0] > 0 else xs[len(xs) // 2]
        xx = np.array([x0, x1])
        yy = y1 * (xx / x1) ** slope
    else:
        xx = np.array([xs[0], xs[-1]])
        yy = ys[0] * (xx / xs[0]) ** slope
    return ax.plot(xx, yy, color=st.THEORY_COLOR, ls=PRED_LS, lw=1.0, zorder=4)[0]


def _draw_rate_axes(ax, th, metric, verdict, series, x, vary, single_fit, many, labels=None):
    """Draw series on one axes; return (legend handles, plotted x, plotted y)."""
    handles = []
    xs_all, ys_all = [], []
    ps = _num(verdict.get("predicted_slope"))
    first = None
    any_fit = False
    for i, (key, sf) in enumerate(series):
        color = color_for(i)
        f, xcol = _x_frame(sf, x)
        f = f[f["metric"] == metric]
        if f.empty:
            continue
        plot_seed_lines(ax, f, xcol, color)
        a = seed_stats(f, [xcol])
        okf = f[f["ok"]]
        xs_all.append(okf[xcol].to_numpy(float))
        ys_all.append(okf["value"].to_numpy(float))
        base = (labels or {}).get(i) or series_label(key, vary) or \
            txt(algo_name(key.get("algorithm", "")))
        # slope: verdict fit (single series), regime-map entry, else a local fit
        # (trajectories against t are only annotated with the verdict's fit)
        fit_txt, curve = None, None
        if len(a) >= 2:
            xs = a[xcol].to_numpy(float)
            ym = a["mean"].to_numpy(float)
            entry = regime_entry(verdict, key.get("point", ""))
            if single_fit and isinstance(verdict.get("fit"), dict):
                fit = verdict["fit"]
                fit_txt = slope_text(fit.get("slope"), fit.get("ci_low"), fit.get("ci_high"))
                curve = fit_curve(fit, xs, ym)
            elif entry is not None and _num(entry.get("estimate")) is not None:
                fit_txt = slope_text(entry.get("estimate"), entry.get("ci_low"), entry.get("ci_high"))
                curve = fit_curve({"slope": entry.get("estimate")}, xs, ym)
            elif x != "t":
                s, lo, hi = bootstrap_slope(f, xcol)
                if _num(s) is not None:
                    fit_txt = slope_text(s, lo, hi, local=True)
                    curve = fit_curve({"slope": s}, xs, ym)
            if curve is not None:
                any_fit = True
                ax.plot(xs, curve, color=color, lw=0.9, ls=(0, (1, 1)), zorder=4)
        label = base if not fit_txt else (f"{base}: {fit_txt}" if base else fit_txt)
        ln = plot_mean_band(ax, a, xcol, color, label=label or None,
                            marker=None if (x == "t" and len(a) > 12) else "o")
        if ln is not None:
            handles.append(ln)
            if first is None:
                first = a
        # theory rows of this series: bound dashed, floor dotted
        tkeys = ["point", "algorithm", "problem", "sampler", "b"] + (["T"] if x == "t" else [])
        for tm, tls in (("bound", BOUND_LS), ("floor", FLOOR_LS)):
            tt = theory_for(th, tm, key, tkeys)
            if tt.empty:
                continue
            tf, txcol = _x_frame(tt.assign(seed=-1), x)
            ts = theory_stats(tf, txcol)
            if ts.empty:
                continue
            c = color if many else st.THEORY_COLOR
            if len(ts) == 1:
                ax.axhline(ts["value"].iloc[0], color=c, ls=tls, lw=1.0, zorder=2)
            else:
                ax.plot(ts[txcol], ts["value"], color=c, ls=tls, lw=1.0, zorder=2)
    col = st.GREY if many else st.THEORY_COLOR
    present = set(th["metric"]) if not th.empty else set()
    if "bound" in present:
        handles.append(Line2D([], [], color=col, ls="--", lw=1.0, label="explicit bound"))
    if "floor" in present:
        handles.append(Line2D([], [], color=col, ls=":", lw=1.0, label="predicted floor"))
    if ps is not None and first is not None:
        xcol = first.columns[0]
        ln = predicted_line(ax, first[xcol], first["mean"], ps, at_end=(x == "t"))
        if ln is not None:
            handles.append(Line2D([], [], color=st.THEORY_COLOR, ls=PRED_LS, lw=1.0,
                                  label=f"predicted slope {ps:g}"))
    if any_fit:
        handles.append(Line2D([], [], color=st.GREY, ls=(0, (1, 1)), lw=0.9, label="fitted line"))
    cat = lambda arrs: np.concatenate(arrs) if arrs else np.array([])  # noqa: E731
    return handles, cat(xs_all), cat(ys_all)


def rate_plot(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """Metric against T (or b, t, or a hyperparameter; ``verdict["x"]``) on
    log-log axes: per-seed lines, mean with 95% band, fitted slope with CI,
    predicted slope / explicit bound (dashed), diverged runs in the legend.
    More than six series are split over up to four panels."""
    d = claim_rows(df, verdict)
    meas, th = split_theory(d)
    metric = pick_metric(meas, verdict, ("grad_sq_avg", "grad_sq_min", "f_gap", "grad_sq"))
    if metric is None:
        return []
    x = str(verdict.get("x") or "T")
    if x == "T" and meas["T"].nunique() < 2 and meas["t"].nunique() > 1:
        x = "t"  # a single horizon: show the trajectory instead
    mm = meas[meas["metric"] == metric]
    keys = ["algorithm", "problem", "sampler", "point"] + (["b"] if x != "b" else [])
    vary = varying(mm, keys)
    groups = list(mm.groupby(vary, sort=True)) if vary else [((), mm)]
    series = [(dict(zip(vary, k if isinstance(k, tuple) else (k,)),
                    **{c: g[c].iloc[0] for c in keys if c not in vary}), g) for k, g in groups]
    n_runs, n_div = run_counts(meas)
    per_axes = 6
    chunks = [series[i:i + per_axes] for i in range(0, len(series), per_axes)][:4]
    n_ax = len(chunks)
    ncols = 1 if n_ax == 1 else 2
    nrows = int(math.ceil(n_ax / ncols))
    width = st.ONE_COL if n_ax == 1 else st.TWO_COL
    n_leg = min(len(series), per_axes) + 4
    if n_ax == 1:
        fig = st.new_figure(width, 2.5)
        axes = fig.subplots(1, 1, squeeze=False).ravel()
        leg_axes = [None]
    else:
        # several panels: each gets its own legend in a strip below it, so that
        # no legend covers data (colours restart in every panel)
        leg_h = 0.13 * n_leg
        fig = st.new_figure(width, (2.3 + leg_h) * nrows)
        grid = fig.subplots(2 * nrows, ncols, squeeze=False,
                            gridspec_kw={"height_ratios": [2.3, leg_h] * nrows})
        axes = grid[0::2].ravel()
        leg_axes = list(grid[1::2].ravel())
        for lax in leg_axes:
            lax.axis("off")
    handles = []
    labels = distinct_labels([series_label(k, vary) for k, _ in series])
    for ci, (ax, lax, chunk) in enumerate(zip(axes, leg_axes, chunks)):
        lab = {j: labels[ci * per_axes + j] for j in range(len(chunk))}
        hs, xv, yv = _draw_rate_axes(ax, th, metric, verdict, chunk, x, vary, len(series) == 1,
                                     len(chunk) > 1, lab)
        set_log(ax)
        if x in ("T", "b"):
            grid_ticks(ax.xaxis, xv)
        else:
            tidy_log_ylim(ax, yv)
        ax.set_xlabel(AXIS_LABELS.get(x, txt(x)))
        ax.set_ylabel(metric_label(metric, final=x != "t"))
        if lax is None:
            handles = hs
        else:
            lax.legend(handles=hs, loc="upper center", ncols=1, borderaxespad=0)
    for ax in list(axes[n_ax:]) + leg_axes[n_ax:]:
        ax.set_visible(False)
    extra = [diverged_handle(n_div, n_runs)]
    if len(series) > per_axes * 4:
        extra.append(Line2D([], [], ls="none",
                            label=f"(+{len(series) - per_axes * 4} series not shown)"))
    legend_below(fig, handles + extra, ncols=1 if n_ax == 1 else None)
    return finish(fig, out_dir, verdict)


# ----------------------------------------------------------------------------
# AdaSAM linear speedup
# ----------------------------------------------------------------------------

def _adasam_one(d_meas, th, metric, verdict, out_dir, suffix) -> list[Path]:
    mm = d_meas[d_meas["metric"] == metric]
    fin = final_rows(mm)
    points = sorted(fin["point"].unique(), key=_natural_key)
    bs = sorted(fin["b"].unique())
    multi_b = len(bs) >= 2
    ncols = 3 if multi_b else 1
    nrows = len(points)
    width = st.TWO_COL if multi_b else st.ONE_COL
    fig = st.new_figure(width, 1.95 * nrows + 0.1)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    bcol = {b: color_for(i) for i, b in enumerate(bs)}
    ps = _num(verdict.get("predicted_slope"))
    ref = ps if ps is not None else -0.5
    any_local = False
    for r, point in enumerate(points):
        pf = fin[fin["point"] == point]
        entry = regime_entry(verdict, point)
        ptitle = pretty_point(point) or txt(verdict.get("claim", ""))
        if entry is not None and entry.get("verdict"):
            ptitle += f" [{txt(entry['verdict'])}]"
        # (a) metric vs T per b
        ax = axes[r, 0]
        anchor = None
        for b in bs:
            f = pf[pf["b"] == b]
            if f.empty:
                continue
            plot_seed_lines(ax, f, "T", bcol[b])
            a = seed_stats(f, ["T"])
            plot_mean_band(ax, a, "T", bcol[b], label=f"$b$={b}")
            v = a[np.isfinite(a["mean"]) & (a["mean"] > 0)]
            if anchor is None and len(v):
                anchor = (v["T"].iloc[0], v["mean"].iloc[0], v["T"].iloc[-1])
        if anchor is not None:
            xs = np.array([anchor[0], anchor[2]], float)
            ax.plot(xs, anchor[1] * (xs / xs[0]) ** ref, color=st.THEORY_COLOR, ls=PRED_LS, lw=1.0)
        set_log(ax)
        grid_ticks(ax.xaxis, pf["T"].unique())
        ax.set_title(f"(a) {ptitle}", loc="left")
        ax.set_xlabel(AXIS_LABELS["T"])
        ax.set_ylabel(metric_label(metric, short=True))
        if not multi_b:
            continue
        # (b) collapse metric*sqrt(bT) against bT
        ax = axes[r, 1]
        for b in bs:
            f = pf[pf["b"] == b]
            if f.empty:
                continue
            a = seed_stats(f, ["T"])
            if a.empty:
                continue
            scale = np.sqrt(b * a["T"].to_numpy(float))
            a2 = a.assign(bT=b * a["T"].to_numpy(float), mean=a["mean"] * scale,
                          lo=a["lo"] * scale, hi=a["hi"] * scale, vmin=a["vmin"] * scale)
            plot_mean_band(ax, a2, "bT", bcol[b])
        set_log(ax)
        ax.set_title(r"(b) collapse: flat if $O(1/\sqrt{bT})$", loc="left")
        ax.set_xlabel(AXIS_LABELS["bT"])
        ax.set_ylabel(metric_label(metric, short=True) + r" $\times\sqrt{bT}$")
        # (c) metric vs b at the largest T every b reached
        ax = axes[r, 2]
        Ts = [set(pf[pf["b"] == b]["T"]) for b in bs]
        common = set.intersection(*Ts) if Ts else set()
        Tc = max(common) if common else pf["T"].max()
        f = pf[pf["T"] == Tc]
        a = seed_stats(f, ["b"])
        b_slope = ""
        if len(a) >= 1:
            ok = f[f["ok"]]
            ax.scatter(ok["b"], ok["value"], s=6, color=st.GREY, alpha=0.5, lw=0, zorder=2)
            plot_mean_band(ax, a, "b", st.OKABE_ITO["blue"], band=False)
            err_lo = np.clip(a["mean"] - np.where(a["lo"] > 0, a["lo"], a["vmin"]), 0, None)
            err_hi = np.clip(a["hi"] - a["mean"], 0, None)
            ok_e = np.isfinite(err_lo) & np.isfinite(err_hi)
            if ok_e.any():
                ax.errorbar(a["b"][ok_e], a["mean"][ok_e], yerr=[err_lo[ok_e], err_hi[ok_e]],
                            ls="none", color=st.OKABE_ITO["blue"], capsize=2, lw=0.8)
            # the slope in b: the verdict's per-point estimate when it is one
            # (the regime map does not say which slope it holds, so it is used
            # when it agrees with the slope fitted here to within 0.25), else
            # the local bootstrap fit, marked *
            s, lo, hi = bootstrap_slope(f, "b")
            local = True
            est = _num(entry.get("estimate")) if entry is not None else None
            if est is not None and (str(verdict.get("x")) == "b" or
                                    (_num(s) is not None and abs(est - s) <= 0.25)):
                s, lo, hi, local = est, entry.get("ci_low"), entry.get("ci_high"), False
            if _num(s) is not None and len(a) >= 2:
                curve = fit_curve({"slope": s}, a["b"].to_numpy(float), a["mean"].to_numpy(float))
                ax.plot(a["b"], curve, color=st.OKABE_ITO["blue"], ls=(0, (1, 1)), lw=0.9)
                b_slope = slope_text(s, lo, hi).replace("slope ", "slope in $b$: ")
                if local:
                    b_slope += "*"
                    any_local = True
            predicted_line(ax, a["b"], a["mean"], ref)
        else:
            no_data(ax, "no finite values")
        set_log(ax)
        ax.set_xticks([float(b) for b in bs])
        ax.set_xticklabels([str(b) for b in bs])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(f"(c) against $b$ at $T$={Tc}" + (f"\n{b_slope}" if b_slope else ""),
                     loc="left", fontsize=7.5)
        ax.set_xlabel(AXIS_LABELS["b"])
        ax.set_ylabel(metric_label(metric, short=True))
    n_runs, n_div = run_counts(d_meas[d_meas["metric"] == metric])
    handles = [Line2D([], [], color=bcol[b], marker="o", label=f"$b$={b}") for b in bs]
    handles.append(Line2D([], [], color=st.THEORY_COLOR, ls=PRED_LS, lw=1.0,
                          label=f"predicted slope {ref:g}"))
    if multi_b:
        handles.append(Line2D([], [], color=st.OKABE_ITO["blue"], ls=(0, (1, 1)), lw=0.9,
                              label="fitted slope in $b$" + (" (*local fit)" if any_local else "")))
    handles.append(diverged_handle(n_div, n_runs))
    fig_legend(fig, handles, "outside upper center", ncols=len(handles))
    return finish(fig, out_dir, verdict, suffix)


def _natural_key(s):
    """Sort labels such as "eps=1e-08" < "eps=0.1" numerically where possible."""
    nums = re.findall(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", str(s))
    try:
        return (0, tuple(float(n) for n in nums), str(s))
    except ValueError:
        return (1, (), str(s))


def adasam_speedup(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """AdaSAM linear speedup: one row per grid point (e.g. eps), columns
    (a) metric vs T per b, (b) metric*sqrt(bT) vs bT, (c) metric vs b at fixed T
    with the slope in b and its CI.  When both the full average and the tail
    average of ||grad f||^2 are present, a second figure shows the other one."""
    d = claim_rows(df, verdict)
    meas, th = split_theory(d)
    metric = pick_metric(meas, verdict, ("grad_sq_avg", "grad_sq_tail_avg", "grad_sq_min"))
    if metric is None:
        return []
    paths = _adasam_one(meas, th, metric, verdict, out_dir, "")
    pair = {"grad_sq_avg": "grad_sq_tail_avg", "grad_sq_tail_avg": "grad_sq_avg"}
    other = pair.get(metric)
    if other and other in set(meas["metric"]):
        paths += _adasam_one(meas, th, other, verdict, out_dir, "__" + other)
    return paths


# ----------------------------------------------------------------------------
# LightSAM any-rho heatmaps
# ----------------------------------------------------------------------------

def _algo_order(a: str):
    a = str(a)
    return (0 if a.startswith("lightsam") else 1, a)


def _cell_text(v: float) -> str:
    """Short number for a heatmap cell: 190, 2.5, 0.0051, 5.8e-4."""
    if not math.isfinite(v):
        return ""
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}" if a < 1e5 else f"{v:.1e}".replace("e+0", "e").replace("e+", "e")
    if a >= 1e-3 or a == 0:
        return f"{v:.2g}"
    return f"{v:.1e}".replace("e-0", "e-")


def _tick_labels(vals) -> list[str]:
    out = []
    for v in vals:
        if v > 0 and abs(math.log10(v) - round(math.log10(v))) < 1e-9:
            out.append(f"$10^{{{int(round(math.log10(v)))}}}$")
        else:
            out.append(f"{v:.2g}")
    return out


def lightsam_heatmap(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """rho x eta heatmaps of the final metric (top row) and of the diverged
    fraction (bottom row), one column per algorithm (LightSAM-I/II/III, then
    SAM with SGD descent)."""
    d = claim_rows(df, verdict)
    meas, th = split_theory(d)
    metric = pick_metric(meas, verdict, ("grad_sq_min", "grad_sq_avg", "grad_sq", "f_gap"))
    if metric is None or meas.empty:
        return []
    meas = meas.copy()
    meas["_rho"] = param_column(meas, "rho")
    meas["_eta"] = param_column(meas, "eta")
    meas = meas[np.isfinite(meas["_rho"]) & np.isfinite(meas["_eta"])]
    if meas.empty:
        return rate_plot(df, verdict, out_dir)
    rhos = np.sort(meas["_rho"].unique())
    etas = np.sort(meas["_eta"].unique())
    algos = sorted(meas["algorithm"].unique(), key=_algo_order)
    # final metric: per algorithm, the largest T it ran, mean over ok seeds
    fin = final_rows(meas[meas["metric"] == metric])
    runs = meas.groupby(RUN_KEYS + ["_rho", "_eta"], sort=False)["run_div"].first().reset_index()
    vals, fracs = {}, {}
    for a in algos:
        fa = fin[fin["algorithm"] == a]
        fa = fa[fa["T"] == fa["T"].max()] if len(fa) else fa
        grid = np.full((len(rhos), len(etas)), np.nan)
        if len(fa):
            s = seed_stats(fa, ["_rho", "_eta"])
            for _, r in s.iterrows():
                grid[np.searchsorted(rhos, r["_rho"]), np.searchsorted(etas, r["_eta"])] = r["mean"]
        vals[a] = grid
        ra = runs[runs["algorithm"] == a]
        fg = np.full((len(rhos), len(etas)), np.nan)
        for (rv, ev), g in ra.groupby(["_rho", "_eta"]):
            fg[np.searchsorted(rhos, rv), np.searchsorted(etas, ev)] = g["run_div"].mean()
        fracs[a] = fg
    allv = np.concatenate([v.ravel() for v in vals.values()])
    pos = allv[np.isfinite(allv) & (allv > 0)]
    norm = LogNorm(vmin=pos.min(), vmax=max(pos.max(), pos.min() * 1.0001)) if len(pos) else None
    nA = len(algos)
    ncols = nA
    # about 1.5 in per heatmap, within one column (one algorithm) or two
    width = st.ONE_COL if nA == 1 else min(st.TWO_COL, 1.1 + 1.55 * nA)
    cell = (width - 1.1) / ncols
    fig = st.new_figure(width, 2 * cell + 0.9)
    axes = fig.subplots(2, ncols, squeeze=False, sharex=True, sharey=True)
    cmap = mpl.colormaps[st.SEQ_CMAP].with_extremes(bad="#d9d9d9")
    fcmap = mpl.colormaps[st.FRACTION_CMAP]
    annotate = len(rhos) * len(etas) <= 25
    im_v = im_f = None
    for j, a in enumerate(algos):
        ax = axes[0, j]
        g = vals[a]
        masked = np.ma.masked_invalid(np.where(g > 0, g, np.nan))
        im_v = ax.imshow(masked, origin="lower", cmap=cmap, norm=norm, aspect="auto")
        for (ri, ei) in zip(*np.where(~np.isfinite(g))):
            ax.plot(ei, ri, marker="x", color=st.OKABE_ITO["vermillion"], ms=5, mew=1.2)
        if annotate and norm is not None:
            for ri in range(len(rhos)):
                for ei in range(len(etas)):
                    if np.isfinite(g[ri, ei]) and g[ri, ei] > 0:
                        light = norm(g[ri, ei]) < 0.55
                        ax.text(ei, ri, _cell_text(g[ri, ei]), ha="center", va="center",
                                fontsize=5.5, color="white" if light else "black")
        ax.set_title(txt(algo_name(a)), fontsize=8)
        ax = axes[1, j]
        fgd = fracs[a]
        im_f = ax.imshow(np.ma.masked_invalid(fgd), origin="lower", cmap=fcmap, vmin=0, vmax=1,
                         aspect="auto")
        if annotate:
            for ri in range(len(rhos)):
                for ei in range(len(etas)):
                    if np.isfinite(fgd[ri, ei]):
                        ax.text(ei, ri, f"{fgd[ri, ei]:.0%}".replace("%", r"\%") if st.usetex_on()
                                else f"{fgd[ri, ei]:.0%}", ha="center", va="center", fontsize=5.5,
                                color="white" if fgd[ri, ei] < 0.55 else "black")
        n = len(runs[runs["algorithm"] == a])
        k = int(runs[runs["algorithm"] == a]["run_div"].sum())
        ax.set_title(f"diverged {k}/{n} runs", fontsize=7)
    step_e = max(1, int(math.ceil(len(etas) / 4)))
    step_r = max(1, int(math.ceil(len(rhos) / 5)))
    for ax in axes.ravel():
        ax.grid(False)
        ax.set_xticks(range(0, len(etas), step_e))
        ax.set_xticklabels(_tick_labels(etas[::step_e]))
        ax.set_yticks(range(0, len(rhos), step_r))
        ax.set_yticklabels(_tick_labels(rhos[::step_r]))
        for sp in ax.spines.values():
            sp.set_visible(False)
    for ax in axes[1, :]:
        ax.set_xlabel(r"step size $\eta$")
    for ax in axes[:, 0]:
        ax.set_ylabel(r"radius $\rho$")
    if im_v is not None and norm is not None:
        cb = fig.colorbar(im_v, ax=axes[0, :].tolist(), shrink=0.9, pad=0.02)
        st.log_axis(cb.ax.yaxis)
        cb.set_label(metric_label(metric, short=True) + f" at $T$={int(fin['T'].max())}")
    if im_f is not None:
        cb = fig.colorbar(im_f, ax=axes[1, :].tolist(), shrink=0.9, pad=0.02)
        cb.set_label("diverged fraction")
    return finish(fig, out_dir, verdict)


# ----------------------------------------------------------------------------
# Unified SAM
# ----------------------------------------------------------------------------

def _facets(meas: pd.DataFrame, cols=("problem", "sampler")) -> list[tuple[dict, pd.DataFrame]]:
    vary = varying(meas, list(cols))
    if not vary:
        return [({}, meas)]
    out = []
    for k, g in meas.groupby(vary, sort=True):
        k = k if isinstance(k, tuple) else (k,)
        out.append((dict(zip(vary, k)), g))
    return out


def _facet_title(key: dict) -> str:
    return ", ".join(pretty_label(v) for v in key.values() if str(v))


def unified_lambda(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """f - f* against t for each lambda with the Thm 3.2 bound (dashed) and
    the plateau level N(lambda) (dotted), one panel per (problem, sampler);
    last panel: measured plateau (final value at the largest T, mean with 95%
    CI) against lambda next to N(lambda).  A plateau of exactly 0 (lambda = 0
    converging to round-off) is marked by a triangle on the bottom axis."""
    d = claim_rows(df, verdict)
    meas, th = split_theory(d)
    metric = pick_metric(meas, verdict, ("f_gap", "grad_sq"))
    if metric is None:
        return []
    meas = meas.copy()
    meas["_lam"] = param_column(meas, "lambda")
    th = th.copy()
    th["_lam"] = param_column(th, "lambda")
    mm = meas[meas["metric"] == metric]
    facets = _facets(mm)[:6]
    lams = sorted(x for x in mm["_lam"].unique() if np.isfinite(x))
    has_lam = bool(lams)
    if not has_lam:
        lams = [np.nan]
    lcol = {l: color_for(i) for i, l in enumerate(lams)}
    n_pan = len(facets) + (1 if has_lam else 0)
    ncols = min(n_pan, 3)
    nrows = int(math.ceil(n_pan / ncols))
    width = st.TWO_COL if n_pan > 1 else st.ONE_COL
    fig = st.new_figure(width, 2.2 * nrows + 0.1)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    plateau_rows = []
    drawn = set()
    band_alpha = 0.2 if len(lams) <= 3 else 0.1
    for ax, (fkey, fm) in zip(axes, facets):
        shown = []
        for lam in lams:
            g = fm[fm["_lam"] == lam] if np.isfinite(lam) else fm
            if g.empty:
                continue
            g = g[g["T"] == g["T"].max()]
            a = seed_stats(g, ["t"])
            shown.append(g.loc[g["ok"], "value"].to_numpy(float))
            plot_mean_band(ax, a, "t", lcol[lam], marker=None, alpha=band_alpha)
            key = {"point": g["point"].iloc[0], "T": g["T"].iloc[0], **fkey}
            tsel = th[th["_lam"] == lam] if np.isfinite(lam) else th
            for tm, tls in (("bound", BOUND_LS), ("floor", FLOOR_LS)):
                tt = theory_for(tsel, tm, key, ["point", "problem", "sampler", "T"])
                ts = theory_stats(largest_T(tt), "t") if len(tt) else tt
                if len(ts):
                    drawn.add(tm)
                    if ts["t"].nunique() <= 1 or (tm == "floor" and ts["value"].nunique() == 1):
                        ax.axhline(ts["value"].iloc[-1], color=lcol[lam], ls=tls, lw=1.0)
                    else:
                        ax.plot(ts["t"], ts["value"], color=lcol[lam], ls=tls, lw=1.0)
            s = seed_stats(final_rows(g), ["T"])
            tfl = theory_for(tsel, "floor", key, ["point", "problem", "sampler"])
            plateau_rows.append({
                "facet": _facet_title(fkey), "lam": lam,
                "mean": s["mean"].iloc[0] if len(s) else np.nan,
                "lo": s["lo"].iloc[0] if len(s) else np.nan,
                "hi": s["hi"].iloc[0] if len(s) else np.nan,
                "floor": float(tfl["value"].mean()) if len(tfl) else np.nan,
            })
        set_log(ax)
        tidy_log_ylim(ax, np.concatenate(shown) if shown else [])
        ax.set_xlabel(AXIS_LABELS["t"])
        ax.set_ylabel(metric_label(metric))
        if fkey:
            ax.set_title(_facet_title(fkey), loc="left")
    spare = axes[n_pan] if n_pan < len(axes) else None
    if has_lam:
        _plateau_panel(axes[len(facets)], pd.DataFrame(plateau_rows), metric, spare)
    for ax in axes[n_pan:]:
        if not (has_lam and ax is spare):
            ax.set_visible(False)
    n_runs, n_div = run_counts(meas)
    row1 = [Line2D([], [], color=lcol[l], label=(r"$\lambda$=" + f"{l:g}") if np.isfinite(l)
                   else "measured") for l in lams]
    row2 = [Line2D([], [], color=st.GREY, ls="-", label="mean, 95% band")]
    if "bound" in drawn:
        row2.append(Line2D([], [], color=st.GREY, ls="--", label="bound"))
    if "floor" in drawn:
        row2.append(Line2D([], [], color=st.GREY, ls=":", label=r"plateau $N(\lambda)$"))
    row2.append(diverged_handle(n_div, n_runs))
    two_row_legend(fig, row1, row2)
    return finish(fig, out_dir, verdict)


FACET_MARKERS = ["o", "^", "s", "D", "v", "P"]
FACET_GREYS = ["#000000", "#555555", "#888888", "#b0b0b0", "#333333", "#777777"]


def _plateau_panel(ax, pr: pd.DataFrame, metric: str, spare=None):
    """Measured plateau (solid, filled markers) and N(lambda) (dashed, open
    markers) against lambda; one marker shape / grey per facet, so that the
    colours keep meaning lambda as in the trajectory panels.  Plateaus at or
    below round-off (<= 1e-16 of the largest) sit as triangles on the bottom
    axis.  The legend goes into ``spare`` (an unused grid cell) when given,
    else to the right of the panel."""
    if pr.empty or not pr["lam"].notna().any():
        no_data(ax, "no lambda values found")
        return
    allv = pr[["mean", "floor"]].to_numpy(float).ravel()
    allv = allv[np.isfinite(allv) & (allv > 0)]
    tiny = float(allv.max()) * ROUND_OFF if allv.size else 0.0
    several = pr["facet"].nunique() > 1
    roundoff_any = False
    handles = []
    for i, (fname, g) in enumerate(pr.groupby("facet", sort=False)):
        c = FACET_GREYS[i % len(FACET_GREYS)] if several else st.OKABE_ITO["blue"]
        mk = FACET_MARKERS[i % len(FACET_MARKERS)]
        g = g.sort_values("lam")
        lam = g["lam"].to_numpy(float)
        y = g["mean"].to_numpy(float)
        lo = g["lo"].to_numpy(float)
        hi = g["hi"].to_numpy(float)
        pos = np.isfinite(y) & (y > tiny)
        ln, = ax.plot(lam[pos], y[pos], marker=mk, color=c, ms=4)
        elo = np.where(np.isfinite(lo) & (lo > 0), y - lo, 0.0)
        ehi = np.where(np.isfinite(hi), hi - y, 0.0)
        if pos.any():
            ax.errorbar(lam[pos], y[pos], yerr=[np.clip(elo[pos], 0, None), np.clip(ehi[pos], 0, None)],
                        ls="none", color=c, capsize=2, lw=0.8)
        low = np.isfinite(y) & (y <= tiny)
        if low.any():
            roundoff_any = True
            ax.plot(lam[low], np.zeros(low.sum()), ls="none", marker="v", color=c, ms=5,
                    transform=ax.get_xaxis_transform(), clip_on=False, zorder=5)
        fl = g["floor"].to_numpy(float)
        fpos = np.isfinite(fl) & (fl > 0)
        if fpos.any():
            ax.plot(lam[fpos], fl[fpos], marker=mk, mfc="white", ls="--", color=c, lw=1.0, ms=4)
        if several:
            handles.append(Line2D([], [], color=c, marker=mk, ls="none", label=pretty_label(fname)
                                  if fname else "measured"))
    handles.append(Line2D([], [], color=st.GREY, marker="o", label="measured (final value)"))
    if np.isfinite(pr["floor"].to_numpy(float)).any():
        handles.append(Line2D([], [], color=st.GREY, marker="o", mfc="white", ls="--",
                              label=r"$N(\lambda)$"))
    if roundoff_any:
        handles.append(Line2D([], [], ls="none", marker="v", color=st.GREY,
                              label="at round-off"))
    ax.set_yscale("log", nonpositive="mask")
    st.log_axis(ax.yaxis)
    if allv.size:
        ax.set_ylim(bottom=max(ax.get_ylim()[0], tiny))
    lam_all = pr["lam"].dropna().to_numpy(float)
    if len(lam_all):
        span = max(lam_all.max() - lam_all.min(), 0.1)
        ax.set_xlim(lam_all.min() - 0.06 * span, lam_all.max() + 0.06 * span)
    ax.set_xlabel(AXIS_LABELS["lambda"])
    ax.set_ylabel("plateau " + metric_label(metric, short=True))
    ax.set_title(r"plateau against $\lambda$", loc="left")
    if spare is not None:
        spare.set_visible(True)
        spare.axis("off")
        spare.legend(handles=handles, loc="center left", borderaxespad=0)
    elif len(handles) <= 3:
        ax.legend(handles=handles, loc="best", fontsize=6)
    else:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0)


def _floor_metrics(metric: str, primary: str, present) -> list[str]:
    """Theory metrics that are floors of ``metric``: "floor" for the claim's
    own metric, "floor_<prefix>" for a metric starting with that prefix
    (e.g. "floor_dist" for "dist_sq")."""
    out = ["floor"] if metric == primary and "floor" in present else []
    out += [f for f in present if f.startswith("floor_") and metric.startswith(f[len("floor_"):])]
    return out


def _trajectory_panel(ax, mm, th, group_col, colors, labels, floors=(), target=False):
    """Mean trajectories per group (colour), their floors (dotted, same
    colour) and an optional target level (grey dash-dot)."""
    handles, shown = [], []
    for gval in colors:
        g = mm[mm[group_col] == gval]
        if g.empty:
            continue
        g = g[g["T"] == g["T"].max()]
        a = seed_stats(g, ["t"])
        shown.append(g.loc[g["ok"], "value"].to_numpy(float))
        ln = plot_mean_band(ax, a, "t", colors[gval], label=labels[gval], marker=None)
        if ln is not None:
            handles.append(ln)
        for fm in floors:
            tt = th[th["metric"] == fm]
            groups_with_floor = set(tt[group_col])
            if gval in groups_with_floor:
                tt = tt[tt[group_col] == gval]
            elif groups_with_floor & set(colors):
                continue  # this floor belongs to other groups
            if len(tt):
                ax.axhline(float(tt["value"].mean()), color=colors[gval], ls=FLOOR_LS, lw=1.0)
    if target:
        tg = th[th["metric"] == "target"]
        if len(tg):
            ax.axhline(float(tg["value"].mean()), color=st.GREY, ls=PRED_LS, lw=0.9)
    set_log(ax)
    tidy_log_ylim(ax, np.concatenate(shown) if shown else [])
    ax.set_xlabel(AXIS_LABELS["t"])
    return handles


def unified_importance(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """Uniform vs importance sampling (reweighted, unweighted): f - f* and
    ||x - x*||^2 against t (one colour per sampler); dotted: predicted floors
    ("floor", "floor_dist"), grey dash-dot: the target accuracy ("target")."""
    d = claim_rows(df, verdict)
    meas, th = split_theory(d)
    primary = verdict.get("metric")
    metrics = [m for m in dict.fromkeys([primary, "f_gap", "dist_sq"])
               if m and m in set(meas["metric"])]
    if not metrics or primary not in metrics:
        return []
    group_col = "sampler" if meas["sampler"].nunique() > 1 else "point"
    gvals = sorted(meas[group_col].unique(), key=lambda g: (str(g) != "uniform", str(g)))
    colors = {g: color_for(i) for i, g in enumerate(gvals)}
    labels = {g: pretty_label(g) if group_col == "sampler" else pretty_point(g) for g in gvals}
    present = set(th["metric"])
    n = len(metrics)
    fig = st.new_figure(st.TWO_COL if n > 1 else st.ONE_COL, 2.4)
    axes = fig.subplots(1, n, squeeze=False).ravel()
    handles = []
    any_floor = False
    for i, (ax, m) in enumerate(zip(axes, metrics)):
        floors = _floor_metrics(m, primary, present)
        any_floor = any_floor or bool(floors)
        hs = _trajectory_panel(ax, meas[meas["metric"] == m], th, group_col, colors, labels,
                               floors=floors, target=(m == primary))
        ax.set_ylabel(metric_label(m))
        if n > 1:
            ax.set_title(f"({'abc'[i]})", loc="left")
        if i == 0:
            handles = hs
    n_runs, n_div = run_counts(meas)
    if any_floor:
        handles.append(Line2D([], [], color=st.GREY, ls=FLOOR_LS, label="predicted floor"))
    if "target" in present:
        handles.append(Line2D([], [], color=st.GREY, ls=PRED_LS, label="target accuracy"))
    handles.append(diverged_handle(n_div, n_runs))
    legend_below(fig, handles)
    return finish(fig, out_dir, verdict)


def _schedule_column(d: pd.DataFrame) -> pd.Series:
    s = param_column(d, "schedule", numeric=False)
    missing = s.isna()
    if missing.any():
        lab = (d["algorithm"].astype(str) + " " + d["point"].astype(str)).str.lower()
        guess = np.where(lab.str.contains("decreas"), "decreasing",
                         np.where(lab.str.contains("const"), "constant", None))
        s = s.where(~missing, pd.Series(guess, index=d.index))
    return s.fillna("default").astype(str)


def unified_schedule(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """Constant vs decreasing step schedule: (a) f - f* against t at the
    largest T (colour: lambda, line style: schedule), with the predicted slope
    (dash-dot) when the claim is about t; (b) when several horizons were run,
    the final f - f* against T.  Slopes per series come from the verdict's
    regime map (point labels) or, against T, from a local bootstrap fit (*)."""
    d = claim_rows(df, verdict)
    meas, th = split_theory(d)
    metric = pick_metric(meas, verdict, ("f_gap", "grad_sq"))
    if metric is None:
        return []
    mm = meas[meas["metric"] == metric].copy()
    mm["_sched"] = _schedule_column(mm)
    mm["_lam"] = param_column(mm, "lambda")
    scheds = sorted(mm["_sched"].unique(), key=lambda s: (s != "decreasing", s))
    styles = {s: ls for s, ls in zip(scheds, ["-", "--", "-.", ":"] * 3)}
    lams = sorted(mm["_lam"].dropna().unique())
    groups = lams if lams else [None]
    colors = {l: color_for(i) for i, l in enumerate(groups)}
    multi_T = final_rows(mm)["T"].nunique() >= 2
    n = 2 if multi_T else 1
    fig = st.new_figure(st.TWO_COL if n > 1 else st.ONE_COL, 2.4 if n > 1 else 2.6)
    axes = fig.subplots(1, n, squeeze=False).ravel()
    ps = _num(verdict.get("predicted_slope"))
    handles, shown, any_local = [], [], False
    pred_anchor_a = pred_anchor_b = None
    for s in scheds:
        for l in groups:
            g = mm[mm["_sched"] == s]
            if l is not None:
                g = g[g["_lam"] == l]
            if g.empty:
                continue
            gl = g[g["T"] == g["T"].max()]
            a = seed_stats(gl, ["t"])
            shown.append(gl.loc[gl["ok"], "value"].to_numpy(float))
            plot_mean_band(axes[0], a, "t", colors[l], marker=None, ls=styles[s],
                           alpha=0.12 if len(groups) * len(scheds) > 3 else 0.2)
            if pred_anchor_a is None and s == scheds[0] and len(a):
                pred_anchor_a = a
            points = g["point"].unique()
            # a regime-map entry names a point; use it only when that point
            # belongs to this schedule alone (else it is ambiguous)
            shared = len(points) != 1 or \
                mm.loc[mm["point"] == points[0], "_sched"].nunique() > 1
            entry = None if shared else regime_entry(verdict, points[0])
            sl = lo = hi = None
            local = False
            if entry is not None and _num(entry.get("estimate")) is not None:
                sl, lo, hi = entry["estimate"], entry.get("ci_low"), entry.get("ci_high")
            if multi_T:
                fin = final_rows(g)
                a2 = seed_stats(fin, ["T"])
                plot_mean_band(axes[1], a2, "T", colors[l], ls=styles[s], ms=2.5)
                if pred_anchor_b is None and s == scheds[0] and len(a2):
                    pred_anchor_b = a2
                if sl is None:
                    (sl, lo, hi), local = bootstrap_slope(fin, "T"), True
                    any_local = any_local or _num(sl) is not None
            lam_txt = (r"$\lambda$=" + f"{l:g}, ") if l is not None else ""
            lbl = f"{lam_txt}{txt(s)}"
            if _num(sl) is not None:
                lbl += ": " + slope_text(sl, lo, hi) + (" *" if local else "")
            handles.append(Line2D([], [], color=colors[l], ls=styles[s], label=lbl))
    set_log(axes[0])
    tidy_log_ylim(axes[0], np.concatenate(shown) if shown else [])
    axes[0].set_xlabel(AXIS_LABELS["t"])
    axes[0].set_ylabel(metric_label(metric))
    if n > 1:
        axes[0].set_title("(a) at the largest $T$", loc="left")
    pred = False
    if ps is not None and not multi_T and pred_anchor_a is not None:
        pred = predicted_line(axes[0], pred_anchor_a["t"], pred_anchor_a["mean"], ps,
                              at_end=True) is not None
    if multi_T:
        ax = axes[1]
        if ps is not None and pred_anchor_b is not None:
            pred = predicted_line(ax, pred_anchor_b["T"], pred_anchor_b["mean"], ps) is not None
        set_log(ax)
        grid_ticks(ax.xaxis, final_rows(mm)["T"].unique())
        ax.set_xlabel(AXIS_LABELS["T"])
        ax.set_ylabel(metric_label(metric, final=True))
        ax.set_title("(b) final value against $T$", loc="left")
    if pred:
        handles.append(Line2D([], [], color=st.THEORY_COLOR, ls=PRED_LS,
                              label=f"predicted slope {ps:g}"))
    if any_local:
        handles.append(Line2D([], [], ls="none", label="* slope from a local fit"))
    n_runs, n_div = run_counts(meas)
    handles.append(diverged_handle(n_div, n_runs))
    legend_below(fig, handles, ncols=None if n > 1 else 1)
    return finish(fig, out_dir, verdict)


# ----------------------------------------------------------------------------
# LETS
# ----------------------------------------------------------------------------

LETS_STYLES = {"lets_sam": "-", "lets_asam": "--", "sam": ":", "asam": "-."}
_EXTRA_STYLES = [(0, (5, 1.5)), (0, (1, 1.5)), (0, (3, 1, 1, 1, 1, 1)), (0, (8, 2))]
ALGO_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def _algo_styles(algos) -> dict:
    """Line style per algorithm: LETS-SAM solid, LETS-ASAM dashed, SAM dotted,
    ASAM dash-dot; variants (e.g. "lets_sam(beta=1)") get further dash patterns."""
    out, k = {}, 0
    for a in algos:
        if a in LETS_STYLES:
            out[a] = LETS_STYLES[a]
        else:
            out[a] = _EXTRA_STYLES[k % len(_EXTRA_STYLES)]
            k += 1
    return out


def lets(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """LETS: (a) rho_t against t from several rho_0 (colour: rho_0, line style:
    algorithm; dotted: rho_0); (b) final validation loss against rho_0 per
    algorithm, with its spread across rho_0 in the legend (LETS against
    fixed-rho SAM), or against t for a single rho_0; (c) the rate of the
    claim's metric against T with slopes and the explicit bound.  Panels
    without data are left out."""
    d = claim_rows(df, verdict)
    meas, th = split_theory(d)
    if meas.empty:
        return []
    meas = meas.copy()
    meas["_rho0"] = param_column(meas, "rho0")
    present = set(meas["metric"])
    # the rate panel shows the verdict's metric; when the verdict is about rho_t
    # or the validation loss, a gradient-norm metric present in the results
    rate_metric = verdict.get("metric")
    if not rate_metric or rate_metric in ("rho", "val_loss"):
        rate_metric = next((m for m in ("grad_sq_avg", "grad_sq_tail_avg", "grad_sq_min")
                            if m in present), None)
    elif rate_metric not in present:
        rate_metric = None
    panels = []
    if "rho" in present:
        panels.append("rho")
    if "val_loss" in present:
        panels.append("val")
    if rate_metric and (final_rows(meas[meas["metric"] == rate_metric])["T"].nunique() >= 2
                        or not panels):
        panels.append("rate")
    if not panels:
        return []
    n = len(panels)
    fig = st.new_figure(st.TWO_COL if n > 1 else st.ONE_COL, 2.3 if n > 1 else 2.6)
    axes = fig.subplots(1, n, squeeze=False).ravel()
    algos = sorted(meas["algorithm"].unique(), key=lambda a: (not str(a).startswith("lets"), a))
    astyle = _algo_styles(algos)
    amark = {a: ALGO_MARKERS[i % len(ALGO_MARKERS)] for i, a in enumerate(algos)}
    rho0s = sorted(meas.loc[meas["metric"] == "rho", "_rho0"].dropna().unique())
    rcol = {r: color_for(i) for i, r in enumerate(rho0s)}
    colour_handles, algo_handles, rate_handles = [], {}, []
    spreads: dict = {}
    slopes: dict = {}
    for i, (ax, p) in enumerate(zip(axes, panels)):
        tag = f"({'abc'[i]}) " if n > 1 else ""
        if p == "rho":
            mr = meas[meas["metric"] == "rho"]
            groups = list(mr.groupby(["algorithm", "_rho0"], sort=True))
            alpha = 0.2 if len(groups) <= 4 else 0.08
            for (a, r0), g in groups:
                g = g[g["T"] == g["T"].max()]
                plot_mean_band(ax, seed_stats(g, ["t"]), "t", rcol.get(r0, st.GREY), marker=None,
                               ls=astyle[a], alpha=alpha)
                algo_handles.setdefault(a, None)
            for r0 in rho0s:
                ax.axhline(r0, color=rcol[r0], lw=0.7, ls=":", alpha=0.9)
            set_log(ax)
            ax.set_xlabel(AXIS_LABELS["t"])
            ax.set_ylabel(r"$\rho_t$")
            ax.set_title(tag + r"learned $\rho_t$ (dotted: $\rho_0$)", loc="left")
            colour_handles = [Line2D([], [], color=rcol[r], label=r"$\rho_0$=" + f"{r:.3g}")
                              for r in rho0s]
        elif p == "val":
            mv = final_rows(meas[meas["metric"] == "val_loss"])
            mv = mv[mv["T"] == mv["T"].max()] if len(mv) else mv
            if mv["_rho0"].nunique() >= 2:
                for a, g in mv.groupby("algorithm", sort=False):
                    s = seed_stats(g, ["_rho0"])
                    plot_mean_band(ax, s, "_rho0", st.THEORY_COLOR, ls=astyle[a], logy=False,
                                   marker=amark[a], alpha=0.08, ms=3.5)
                    spreads[a] = (s["mean"].max() - s["mean"].min()) if len(s) else float("nan")
                    algo_handles.setdefault(a, None)
                ax.set_xscale("log")
                st.log_axis(ax.xaxis)
                grid_ticks(ax.xaxis, mv["_rho0"].unique())
                ax.set_xlabel(r"initial radius $\rho_0$")
                ax.set_title(tag + "final validation loss", loc="left")
            else:
                mvt = meas[meas["metric"] == "val_loss"]
                for a, g in mvt.groupby("algorithm", sort=False):
                    g = g[g["T"] == g["T"].max()]
                    plot_mean_band(ax, seed_stats(g, ["t"]), "t", st.THEORY_COLOR, marker=None,
                                   ls=astyle[a], logy=False, alpha=0.08)
                    algo_handles.setdefault(a, None)
                ax.set_xscale("log", nonpositive="mask")
                st.log_axis(ax.xaxis)
                ax.set_xlabel(AXIS_LABELS["t"])
                ax.set_title(tag + "validation loss", loc="left")
            ax.set_ylabel("validation loss")
        else:
            slopes, rate_handles = _lets_rate_panel(ax, meas, th, rate_metric, verdict, tag,
                                                    astyle, amark)
            for a in meas.loc[meas["metric"] == rate_metric, "algorithm"].unique():
                algo_handles.setdefault(a, None)
    handles = list(colour_handles)
    for a in [a for a in algos if a in algo_handles]:
        lbl = txt(algo_name(a))
        if a in slopes:
            lbl += f": {slopes[a]}"
        if a in spreads:
            lbl += f" (val. spread {fmt(spreads[a], 2)})"
        handles.append(Line2D([], [], color=st.THEORY_COLOR, ls=astyle[a],
                              marker=amark[a] if (spreads or slopes) else None, label=lbl))
    handles += rate_handles
    n_runs, n_div = run_counts(meas)
    handles.append(diverged_handle(n_div, n_runs))
    legend_below(fig, handles, ncols=None if n > 1 else 1)
    return finish(fig, out_dir, verdict)


def _lets_rate_panel(ax, meas, th, metric, verdict, tag, astyle, amark) -> tuple[dict, list]:
    """The rate panel of the LETS figure.  Algorithms are told apart by line
    style and marker (colours mean rho_0 in the other panel): data black,
    explicit bounds vermillion in the algorithm's style, predicted slope grey
    dash-dot.  Returns ({algorithm: slope text}, extra legend handles)."""
    mm = meas[meas["metric"] == metric]
    multi = final_rows(mm)["T"].nunique() >= 2
    xcol = "T" if multi else "t"
    single = mm["algorithm"].nunique() == 1
    slopes, first, any_bound = {}, None, False
    for a, g in mm.groupby("algorithm", sort=False):
        f = final_rows(g) if multi else g[g["T"] == g["T"].max()]
        s_ = seed_stats(f, [xcol])
        if multi:
            if isinstance(verdict.get("fit"), dict) and single:
                fit = verdict["fit"]
                sl, lo, hi, local = fit.get("slope"), fit.get("ci_low"), fit.get("ci_high"), False
            else:
                (sl, lo, hi), local = bootstrap_slope(f, "T"), True
            slopes[a] = slope_text(sl, lo, hi, local=local)
        ln = plot_mean_band(ax, s_, xcol, st.THEORY_COLOR, ls=astyle.get(a, "-"),
                            marker=amark.get(a, "o") if multi else None,
                            alpha=0.1 if single else 0.05, ms=3)
        if ln is not None and first is None:
            first = s_
        tb = th[(th["metric"] == "bound") & (th["algorithm"] == a)]
        if tb.empty and single:
            tb = th[th["metric"] == "bound"]
        if len(tb):
            tf = final_rows(tb.assign(seed=-1)) if multi else largest_T(tb)
            ts = theory_stats(tf, xcol)
            ax.plot(ts[xcol], ts["value"], color=st.OKABE_ITO["vermillion"], ls=astyle.get(a, "-"),
                    lw=0.9)
            any_bound = True
    extra = []
    if any_bound:
        extra.append(Line2D([], [], color=st.OKABE_ITO["vermillion"], lw=0.9,
                            label="explicit bound (style: algorithm)"))
    ps = _num(verdict.get("predicted_slope"))
    if ps is not None and first is not None and multi:
        if predicted_line(ax, first[xcol], first["mean"], ps) is not None:
            ax.get_lines()[-1].set_color(st.GREY)
            extra.append(Line2D([], [], color=st.GREY, ls=PRED_LS,
                                label=f"predicted slope {ps:g}"))
    set_log(ax)
    if multi:
        grid_ticks(ax.xaxis, final_rows(mm)["T"].unique())
    ax.set_xlabel(AXIS_LABELS[xcol])
    ax.set_ylabel(metric_label(metric, final=multi))
    if tag:
        ax.set_title(tag + "rate", loc="left")
    return slopes, extra


# ----------------------------------------------------------------------------
# negative controls: measured floor against its formula
# ----------------------------------------------------------------------------

def floor(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """(a) metric against t per grid point with its predicted floor (dotted);
    (b) measured floor (final value at the largest T, mean with 95% CI)
    against the formula, with the equality line."""
    d = claim_rows(df, verdict)
    meas, th = split_theory(d)
    metric = pick_metric(meas, verdict, ("f_gap", "grad_sq", "dist_sq"))
    if metric is None:
        return []
    mm = meas[meas["metric"] == metric]
    tf = th[th["metric"] == "floor"]
    keys = ["algorithm", "problem", "sampler", "point"]
    vary = varying(mm, keys)
    groups = list(mm.groupby(vary, sort=True)) if vary else [((), mm)]
    has_pairs = not tf.empty
    n = 2 if has_pairs else 1
    fig = st.new_figure(st.TWO_COL if n > 1 else st.ONE_COL, 2.4)
    axes = fig.subplots(1, n, squeeze=False).ravel()
    ax = axes[0]
    handles, pairs, shown = [], [], []
    keyed = []
    for k, g in groups:
        k = k if isinstance(k, tuple) else (k,)
        keyed.append((dict(zip(vary, k), **{c: g[c].iloc[0] for c in keys if c not in vary}), g))
    labels = distinct_labels([series_label(key, vary) for key, _ in keyed])
    for i, (key, g) in enumerate(keyed):
        c = color_for(i)
        gl = g[g["T"] == g["T"].max()]
        a = seed_stats(gl, ["t"])
        shown.append(gl.loc[gl["ok"], "value"].to_numpy(float))
        lbl = labels[i] or txt(algo_name(key["algorithm"]))
        entry = regime_entry(verdict, key.get("point", ""))
        if entry is not None and _num(entry.get("estimate")) is not None:
            lbl += ": " + slope_text(entry["estimate"], entry.get("ci_low"), entry.get("ci_high"))
        ln = plot_mean_band(ax, a, "t", c, label=lbl, marker=None)
        if ln is not None:
            handles.append(ln)
        tt = theory_for(tf, "floor", key, ["point", "algorithm", "problem", "sampler"])
        if len(tt):
            fl = float(tt["value"].mean())
            ax.axhline(fl, color=c, ls=":", lw=1.0)
            s = seed_stats(final_rows(gl), ["T"])
            if len(s):
                pairs.append((lbl, c, fl, s["mean"].iloc[0], s["lo"].iloc[0], s["hi"].iloc[0],
                              s["vmin"].iloc[0]))
        tb = theory_for(th, "bound", {**key, "T": gl["T"].iloc[0]},
                        ["point", "algorithm", "problem", "sampler", "T"])
        if len(tb):
            ts = theory_stats(tb, "t")
            ax.plot(ts["t"], ts["value"], color=c, ls=BOUND_LS, lw=1.0)
    set_log(ax)
    tidy_log_ylim(ax, np.concatenate(shown) if shown else [])
    ax.set_xlabel(AXIS_LABELS["t"])
    ax.set_ylabel(metric_label(metric))
    if n > 1:
        ax.set_title("(a) trajectories", loc="left")
    if has_pairs:
        ax = axes[1]
        if pairs:
            allv = []
            for lbl, c, fl, mean, lo, hi, vmin in pairs:
                lo_ = lo if (np.isfinite(lo) and lo > 0) else vmin
                yerr = [[max(mean - lo_, 0) if np.isfinite(lo_) else 0],
                        [max(hi - mean, 0) if np.isfinite(hi) else 0]]
                ax.errorbar([fl], [mean], yerr=yerr, marker="o", color=c, capsize=2, lw=0.8)
                allv += [fl, mean, lo_, hi]
            allv = np.array([v for v in allv if np.isfinite(v) and v > 0])
            if len(allv):
                lim = np.array([allv.min() / 1.5, allv.max() * 1.5])
                ax.plot(lim, lim, color=st.GREY, ls="-", lw=0.8, zorder=1)
                ax.set_xlim(lim)
                ax.set_ylim(lim)
            set_log(ax)
        else:
            no_data(ax, "no measured/predicted floor pairs")
        ax.set_xlabel("predicted floor (formula)")
        ax.set_ylabel("measured floor (final value)")
        ax.set_title("(b) measured against formula", loc="left")
    n_runs, n_div = run_counts(meas)
    if has_pairs:
        handles.append(Line2D([], [], color=st.GREY, ls=":", label="predicted floor"))
        if pairs:
            handles.append(Line2D([], [], color=st.GREY, ls="-", lw=0.8,
                                  label="measured = formula"))
    if not th[th["metric"] == "bound"].empty:
        handles.append(Line2D([], [], color=st.GREY, ls=BOUND_LS, label="explicit bound"))
    handles.append(diverged_handle(n_div, n_runs))
    legend_below(fig, handles)
    return finish(fig, out_dir, verdict)


# ----------------------------------------------------------------------------
# dispatch
# ----------------------------------------------------------------------------

FIGURES: dict[str, Callable[[pd.DataFrame, dict, Path], list[Path]]] = {
    "rate": rate_plot,
    "adasam_speedup": adasam_speedup,
    "lightsam_heatmap": lightsam_heatmap,
    "unified_lambda": unified_lambda,
    "unified_importance": unified_importance,
    "unified_schedule": unified_schedule,
    "lets": lets,
    "floor": floor,
}


def figure_kind(verdict: dict) -> str:
    k = str(verdict.get("figure") or "rate")
    return k if k in FIGURES else "rate"


def make_figures(df: pd.DataFrame, verdicts, out_dir, strict: bool = False,
                 errors: dict | None = None) -> dict[str, list[Path]]:
    """Draw the figure of every claim into ``out_dir``; ``{claim: [paths]}``.

    Unknown figure kinds fall back to :func:`rate_plot`.  A failing figure is
    reported in ``errors`` (claim -> message) and skipped, unless ``strict``.
    Call inside :func:`reports.style.style_context` to choose the style.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = normalise_results(df)
    out: dict[str, list[Path]] = {}
    for v in normalise_verdicts(verdicts):
        claim = str(v.get("claim"))
        fn = FIGURES[figure_kind(v)]
        try:
            with np.errstate(all="ignore"), _quiet():
                out[claim] = fn(df, v, out_dir)
        except Exception as exc:  # noqa: BLE001 -- one bad figure must not sink the report
            if strict:
                raise
            if errors is not None:
                errors[claim] = f"{type(exc).__name__}: {exc}"
            out[claim] = []
    return out
