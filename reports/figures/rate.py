"""The generic rate figure: a metric against T (or b, t, or a hyperparameter) on log-log axes.

Used by every claim whose figure kind has no family module (and as the fallback of the others):
per-seed lines, the seed mean with its 95% band, the slope the verdict stored (its ``fit`` for a
single series, the ``regime_map`` entry of a grid point) drawn as a dotted line, the predicted
slope, explicit bounds and floors, and the count of diverged runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .. import style as st
from ..style import txt
from .common import (BOUND_LS, FLOOR_LS, PRED_LS, color_for, diverged_handle, finish,
                     grid_ticks, legend_below, plot_mean_band, plot_seed_lines, predicted_line,
                     set_log, tidy_log_ylim)
from .data import (claim_rows, fit_curve, local_slope, num, pick_metric, regime_entry,
                   run_counts, seed_stats, slope_text, split_theory, theory_for, theory_stats,
                   varying, x_frame)
from .labels import AXIS_LABELS, algo_name, distinct_labels, metric_label, series_label

PER_AXES = 6  # series per panel; more go to further panels (at most four)
FIT_LS = (0, (1, 1))


def series_fit(verdict: dict, key: dict, f: pd.DataFrame, xcol: str, x: str,
               single: bool) -> tuple[str | None, dict | None]:
    """(legend text, fit dict) of one series: the verdict's ``fit`` when the figure has a single
    series, else the regime-map entry of the series' grid point, else (not for trajectories
    against t) a local fit by ``verify.stats`` marked "(local fit)"."""
    entry = regime_entry(verdict, key.get("point", ""))
    if single and isinstance(verdict.get("fit"), dict):
        fit = verdict["fit"]
        return slope_text(fit.get("slope"), fit.get("ci_low"), fit.get("ci_high")), fit
    if entry is not None and num(entry.get("estimate")) is not None:
        text = slope_text(entry.get("estimate"), entry.get("ci_low"), entry.get("ci_high"))
        return text, {"slope": entry.get("estimate")}
    if x != "t":
        s, lo, hi = local_slope(f, xcol)
        if num(s) is not None:
            return slope_text(s, lo, hi, local=True), {"slope": s}
    return None, None


def _theory_lines(ax, th: pd.DataFrame, key: dict, x: str, color) -> None:
    """The explicit bound (dashed) and predicted floor (dotted) rows of one series."""
    tkeys = ["point", "algorithm", "problem", "sampler", "b"] + (["T"] if x == "t" else [])
    for tm, tls in (("bound", BOUND_LS), ("floor", FLOOR_LS)):
        tt = theory_for(th, tm, key, tkeys)
        if tt.empty:
            continue
        tf, txcol = x_frame(tt.assign(seed=-1), x)
        ts = theory_stats(tf, txcol)
        if len(ts) == 1:
            ax.axhline(ts["value"].iloc[0], color=color, ls=tls, lw=1.0, zorder=2)
        elif len(ts):
            ax.plot(ts[txcol], ts["value"], color=color, ls=tls, lw=1.0, zorder=2)


def _draw_series(ax, th, metric, verdict, key, sf, x, label, color, single, many):
    """One series: seed lines, mean with band, its fit and theory lines. Returns
    (legend handle or None, stats frame, ok rows, whether a fit was drawn)."""
    f, xcol = x_frame(sf, x)
    f = f[f["metric"] == metric]
    if f.empty:
        return None, None, f, False
    plot_seed_lines(ax, f, xcol, color)
    a = seed_stats(f, [xcol])
    fit_txt, curve = None, None
    if len(a) >= 2:
        fit_txt, fit = series_fit(verdict, key, f, xcol, x, single)
        xs = a[xcol].to_numpy(float)
        curve = fit_curve(fit, xs, a["mean"].to_numpy(float)) if fit else None
        if curve is not None:
            ax.plot(xs, curve, color=color, lw=0.9, ls=FIT_LS, zorder=4)
    text = label if not fit_txt else (f"{label}: {fit_txt}" if label else fit_txt)
    ln = plot_mean_band(ax, a, xcol, color, label=text or None,
                        marker=None if (x == "t" and len(a) > 12) else "o")
    _theory_lines(ax, th, key, x, color if many else st.THEORY_COLOR)
    return ln, a, f[f["ok"]], curve is not None


def _theory_handles(th, verdict, ax, first, x, many, any_fit) -> list:
    """Legend entries of the theory lines drawn on one axes (and the predicted slope)."""
    col = st.GREY if many else st.THEORY_COLOR
    present = set(th["metric"]) if not th.empty else set()
    out = []
    if "bound" in present:
        out.append(Line2D([], [], color=col, ls=BOUND_LS, lw=1.0, label="explicit bound"))
    if "floor" in present:
        out.append(Line2D([], [], color=col, ls=FLOOR_LS, lw=1.0, label="predicted floor"))
    ps = num(verdict.get("predicted_slope"))
    if ps is not None and first is not None:
        xcol = first.columns[0]
        if predicted_line(ax, first[xcol], first["mean"], ps, at_end=(x == "t")) is not None:
            out.append(Line2D([], [], color=st.THEORY_COLOR, ls=PRED_LS, lw=1.0,
                              label=f"predicted slope {ps:g}"))
    if any_fit:
        out.append(Line2D([], [], color=st.GREY, ls=FIT_LS, lw=0.9, label="fitted line"))
    return out


def _draw_rate_axes(ax, th, metric, verdict, series, x, single, labels):
    """Draw series on one axes; return (legend handles, plotted x, plotted y)."""
    handles, xs_all, ys_all = [], [np.array([])], [np.array([])]
    first, any_fit = None, False
    many = len(series) > 1
    for i, (key, sf) in enumerate(series):
        label = labels.get(i) or txt(algo_name(key.get("algorithm", "")))
        ln, a, ok, fitted = _draw_series(ax, th, metric, verdict, key, sf, x, label,
                                         color_for(i), single, many)
        if a is None:
            continue
        xcol = a.columns[0]
        xs_all.append(ok[xcol].to_numpy(float))
        ys_all.append(ok["value"].to_numpy(float))
        any_fit = any_fit or fitted
        if ln is not None:
            handles.append(ln)
            first = a if first is None else first
    handles += _theory_handles(th, verdict, ax, first, x, many, any_fit)
    return handles, np.concatenate(xs_all), np.concatenate(ys_all)


def _rate_series(mm: pd.DataFrame, x: str) -> tuple[list, list[str]]:
    """[(key dict, rows)] of the series of a rate figure, and the columns that vary."""
    keys = ["algorithm", "problem", "sampler", "point"] + (["b"] if x != "b" else [])
    vary = varying(mm, keys)
    groups = list(mm.groupby(vary, sort=True)) if vary else [((), mm)]
    series = [(dict(zip(vary, k if isinstance(k, tuple) else (k,)),
                    **{c: g[c].iloc[0] for c in keys if c not in vary}), g) for k, g in groups]
    return series, vary


def _rate_layout(n_ax: int, n_leg: int):
    """(figure, data axes, legend axes or [None]) for ``n_ax`` panels; several panels each get
    a legend strip below them (colours restart in every panel)."""
    if n_ax == 1:
        fig = st.new_figure(st.ONE_COL, 2.5)
        return fig, fig.subplots(1, 1, squeeze=False).ravel(), [None]
    ncols, nrows = 2, int(math.ceil(n_ax / 2))
    leg_h = 0.13 * n_leg
    fig = st.new_figure(st.TWO_COL, (2.3 + leg_h) * nrows)
    grid = fig.subplots(2 * nrows, ncols, squeeze=False,
                        gridspec_kw={"height_ratios": [2.3, leg_h] * nrows})
    leg_axes = list(grid[1::2].ravel())
    for lax in leg_axes:
        lax.axis("off")
    return fig, grid[0::2].ravel(), leg_axes


def _rate_x(verdict: dict, meas: pd.DataFrame) -> str:
    """The x axis of the figure: the verdict's, or t when only one horizon was run."""
    x = str(verdict.get("x") or "T")
    if x == "T" and meas["T"].nunique() < 2 and meas["t"].nunique() > 1:
        return "t"
    return x


def rate_plot(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """Metric against T (or b, t, or a hyperparameter; ``verdict["x"]``) on log-log axes; more
    than six series are split over up to four panels."""
    meas, th = split_theory(claim_rows(df, verdict))
    metric = pick_metric(meas, verdict, ("grad_sq_avg", "grad_sq_min", "f_gap", "grad_sq"))
    if metric is None:
        return []
    x = _rate_x(verdict, meas)
    series, vary = _rate_series(meas[meas["metric"] == metric], x)
    chunks = [series[i:i + PER_AXES] for i in range(0, len(series), PER_AXES)][:4]
    fig, axes, leg_axes = _rate_layout(len(chunks), min(len(series), PER_AXES) + 4)
    labels = distinct_labels([series_label(k, vary) for k, _ in series])
    handles = []
    for ci, (ax, lax, chunk) in enumerate(zip(axes, leg_axes, chunks)):
        lab = {j: labels[ci * PER_AXES + j] for j in range(len(chunk))}
        hs, xv, yv = _draw_rate_axes(ax, th, metric, verdict, chunk, x, len(series) == 1, lab)
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
    for ax in list(axes[len(chunks):]) + leg_axes[len(chunks):]:
        ax.set_visible(False)
    n_runs, n_div = run_counts(meas)
    extra = [diverged_handle(n_div, n_runs)]
    if len(series) > PER_AXES * 4:
        extra.append(Line2D([], [], ls="none",
                            label=f"(+{len(series) - PER_AXES * 4} series not shown)"))
    legend_below(fig, handles + extra, ncols=1 if len(chunks) == 1 else None)
    return finish(fig, out_dir, verdict)
