"""SAM's floor claims (the negative control and the deterministic strongly convex case): (a) the
metric against t per grid point with its predicted floor (dotted) and explicit bound (dashed);
(b) the measured floor (final value at the largest T, mean with 95% CI) against its formula,
with the equality line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .. import style as st
from ..style import txt
from .common import (BOUND_LS, FLOOR_LS, color_for, diverged_handle, finish, legend_below,
                     no_data, plot_mean_band, set_log, tidy_log_ylim)
from .data import (claim_rows, final_rows, num, pick_metric, regime_entry, run_counts,
                   seed_stats, slope_text, split_theory, theory_for, theory_stats, varying)
from .labels import AXIS_LABELS, algo_name, distinct_labels, metric_label, series_label

KEYS = ["algorithm", "problem", "sampler", "point"]


def _series(mm: pd.DataFrame) -> list[tuple[dict, pd.DataFrame]]:
    vary = varying(mm, KEYS)
    groups = list(mm.groupby(vary, sort=True)) if vary else [((), mm)]
    return [(dict(zip(vary, k if isinstance(k, tuple) else (k,)),
                  **{c: g[c].iloc[0] for c in KEYS if c not in vary}), g) for k, g in groups], vary


def _one_series(ax, verdict, th, tf, key, g, label, color):
    """Trajectory, floor and bound of one series. Returns (handle, ok values, floor pair or None)."""
    gl = g[g["T"] == g["T"].max()]
    entry = regime_entry(verdict, key.get("point", ""))
    if entry is not None and num(entry.get("estimate")) is not None:
        label += ": " + slope_text(entry["estimate"], entry.get("ci_low"), entry.get("ci_high"))
    ln = plot_mean_band(ax, seed_stats(gl, ["t"]), "t", color, label=label, marker=None)
    pair = None
    tt = theory_for(tf, "floor", key, KEYS)
    if len(tt):
        fl = float(tt["value"].mean())
        ax.axhline(fl, color=color, ls=FLOOR_LS, lw=1.0)
        s = seed_stats(final_rows(gl), ["T"])
        if len(s):
            pair = (color, fl, *(s[c].iloc[0] for c in ("mean", "lo", "hi", "vmin")))
    tb = theory_for(th, "bound", {**key, "T": gl["T"].iloc[0]}, KEYS + ["T"])
    if len(tb):
        ts = theory_stats(tb, "t")
        ax.plot(ts["t"], ts["value"], color=color, ls=BOUND_LS, lw=1.0)
    return ln, gl.loc[gl["ok"], "value"].to_numpy(float), pair


def _pairs_panel(ax, pairs) -> None:
    """(b) measured floor against formula, with the equality line."""
    if not pairs:
        no_data(ax, "no measured/predicted floor pairs")
    else:
        allv = []
        for c, fl, mean, lo, hi, vmin in pairs:
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
    ax.set_xlabel("predicted floor (formula)")
    ax.set_ylabel("measured floor (final value)")
    ax.set_title("(b) measured against formula", loc="left")


def _floor_handles(th, has_pairs, pairs) -> list:
    out = []
    if has_pairs:
        out.append(Line2D([], [], color=st.GREY, ls=FLOOR_LS, label="predicted floor"))
        if pairs:
            out.append(Line2D([], [], color=st.GREY, ls="-", lw=0.8, label="measured = formula"))
    if not th[th["metric"] == "bound"].empty:
        out.append(Line2D([], [], color=st.GREY, ls=BOUND_LS, label="explicit bound"))
    return out


def floor(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """The floor figure (see the module docstring)."""
    meas, th = split_theory(claim_rows(df, verdict))
    metric = pick_metric(meas, verdict, ("f_gap", "grad_sq", "dist_sq"))
    if metric is None:
        return []
    mm = meas[meas["metric"] == metric]
    tf = th[th["metric"] == "floor"]
    has_pairs = not tf.empty
    fig = st.new_figure(st.TWO_COL if has_pairs else st.ONE_COL, 2.4)
    axes = fig.subplots(1, 2 if has_pairs else 1, squeeze=False).ravel()
    ax = axes[0]
    series, vary = _series(mm)
    labels = distinct_labels([series_label(key, vary) for key, _ in series])
    handles, pairs, shown = [], [], []
    for i, (key, g) in enumerate(series):
        label = labels[i] or txt(algo_name(key["algorithm"]))
        ln, ok, pair = _one_series(ax, verdict, th, tf, key, g, label, color_for(i))
        handles += [ln] if ln is not None else []
        shown.append(ok)
        pairs += [pair] if pair is not None else []
    set_log(ax)
    tidy_log_ylim(ax, np.concatenate(shown) if shown else [])
    ax.set_xlabel(AXIS_LABELS["t"])
    ax.set_ylabel(metric_label(metric))
    if has_pairs:
        ax.set_title("(a) trajectories", loc="left")
        _pairs_panel(axes[1], pairs)
    handles += _floor_handles(th, has_pairs, pairs)
    handles.append(diverged_handle(*reversed(run_counts(meas))))
    legend_below(fig, handles)
    return finish(fig, out_dir, verdict)
