"""Unified SAM's sampling and schedule claims: uniform against importance sampling (Sec 3.4) and a
constant against a decreasing step schedule (Thm 3.5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .. import style as st
from ..style import txt
from .common import (FLOOR_LS, PRED_LS, color_for, diverged_handle, finish, grid_ticks,
                     legend_below, plot_mean_band, predicted_line, set_log, tidy_log_ylim)
from .data import (claim_rows, final_rows, local_slope, num, param_column, pick_metric,
                   regime_entry, run_counts, seed_stats, slope_text, split_theory)
from .labels import AXIS_LABELS, metric_label, pretty_label, pretty_point


def floor_metrics(metric: str, primary: str, present) -> list[str]:
    """Theory metrics that are floors of ``metric``: "floor" for the claim's own metric,
    "floor_<prefix>" for a metric starting with that prefix ("floor_dist" for "dist_sq")."""
    out = ["floor"] if metric == primary and "floor" in present else []
    return out + [f for f in present if f.startswith("floor_")
                  and metric.startswith(f[len("floor_"):])]


def _floor_lines(ax, th, floors, group_col, gval, colors) -> None:
    for fm in floors:
        tt = th[th["metric"] == fm]
        with_floor = set(tt[group_col])
        if gval in with_floor:
            tt = tt[tt[group_col] == gval]
        elif with_floor & set(colors):
            continue  # this floor belongs to other groups
        if len(tt):
            ax.axhline(float(tt["value"].mean()), color=colors[gval], ls=FLOOR_LS, lw=1.0)


def trajectory_panel(ax, mm, th, group_col, colors, labels, floors=(), target=False) -> list:
    """Mean trajectories per group (colour), their floors (dotted, same colour) and an optional
    target level (grey dash-dot); returns the legend handles."""
    handles, shown = [], []
    for gval in colors:
        g = mm[mm[group_col] == gval]
        if g.empty:
            continue
        g = g[g["T"] == g["T"].max()]
        shown.append(g.loc[g["ok"], "value"].to_numpy(float))
        ln = plot_mean_band(ax, seed_stats(g, ["t"]), "t", colors[gval], label=labels[gval],
                            marker=None)
        if ln is not None:
            handles.append(ln)
        _floor_lines(ax, th, floors, group_col, gval, colors)
    tg = th[th["metric"] == "target"]
    if target and len(tg):
        ax.axhline(float(tg["value"].mean()), color=st.GREY, ls=PRED_LS, lw=0.9)
    set_log(ax)
    tidy_log_ylim(ax, np.concatenate(shown) if shown else [])
    ax.set_xlabel(AXIS_LABELS["t"])
    return handles


def unified_importance(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """f - f* and ||x - x*||^2 against t, one colour per sampler; dotted: predicted floors
    ("floor", "floor_dist"), grey dash-dot: the target accuracy ("target")."""
    meas, th = split_theory(claim_rows(df, verdict))
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
    handles, any_floor = [], False
    for i, (ax, m) in enumerate(zip(axes, metrics)):
        floors = floor_metrics(m, primary, present)
        any_floor = any_floor or bool(floors)
        hs = trajectory_panel(ax, meas[meas["metric"] == m], th, group_col, colors, labels,
                              floors=floors, target=(m == primary))
        ax.set_ylabel(metric_label(m))
        if n > 1:
            ax.set_title(f"({'abc'[i]})", loc="left")
        handles = handles or hs
    if any_floor:
        handles.append(Line2D([], [], color=st.GREY, ls=FLOOR_LS, label="predicted floor"))
    if "target" in present:
        handles.append(Line2D([], [], color=st.GREY, ls=PRED_LS, label="target accuracy"))
    handles.append(diverged_handle(*reversed(run_counts(meas))))
    legend_below(fig, handles)
    return finish(fig, out_dir, verdict)


def schedule_column(d: pd.DataFrame) -> pd.Series:
    """The step schedule of every row (str): the "schedule" hyperparameter (the claim's info),
    "default" where a row's point has none."""
    return param_column(d, "schedule", numeric=False).fillna("default").astype(str)


def _stored_entry(verdict, mm, g) -> dict | None:
    """The regime-map entry of a series when its point belongs to this schedule alone."""
    points = g["point"].unique()
    if len(points) != 1 or mm.loc[mm["point"] == points[0], "_sched"].nunique() > 1:
        return None
    e = regime_entry(verdict, points[0])
    return e if e is not None and num(e.get("estimate")) is not None else None


def _schedule_series(axes, verdict, mm, g, color, ls, alpha, multi_T):
    """One (schedule, lambda) series on (a) and, with several horizons, (b). Returns (slope
    text or "", whether it is a local fit, stats of (a), stats of (b))."""
    gl = g[g["T"] == g["T"].max()]
    a = seed_stats(gl, ["t"])
    plot_mean_band(axes[0], a, "t", color, marker=None, ls=ls, alpha=alpha)
    entry = _stored_entry(verdict, mm, g)
    sl = lo = hi = None
    if entry is not None:
        sl, lo, hi = entry["estimate"], entry.get("ci_low"), entry.get("ci_high")
    a2, local = None, False
    if multi_T:
        fin = final_rows(g)
        a2 = seed_stats(fin, ["T"])
        plot_mean_band(axes[1], a2, "T", color, ls=ls, ms=2.5)
        if sl is None:
            (sl, lo, hi), local = local_slope(fin, "T"), True
    text = slope_text(sl, lo, hi) + (" *" if local else "") if num(sl) is not None else ""
    return text, local and bool(text), a, a2, gl.loc[gl["ok"], "value"].to_numpy(float)


def _schedule_axes(axes, mm, metric, multi_T) -> None:
    axes[0].set_xlabel(AXIS_LABELS["t"])
    axes[0].set_ylabel(metric_label(metric))
    set_log(axes[0])
    if multi_T:
        axes[0].set_title("(a) at the largest $T$", loc="left")
        set_log(axes[1])
        grid_ticks(axes[1].xaxis, final_rows(mm)["T"].unique())
        axes[1].set_xlabel(AXIS_LABELS["T"])
        axes[1].set_ylabel(metric_label(metric, final=True))
        axes[1].set_title("(b) final value against $T$", loc="left")


def unified_schedule(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """(a) f - f* against t at the largest T (colour: lambda, line style: schedule) with the
    predicted slope; (b) with several horizons, the final f - f* against T. Slopes come from the
    verdict's regime map, else from a local fit against T (*)."""
    meas, _ = split_theory(claim_rows(df, verdict))
    metric = pick_metric(meas, verdict, ("f_gap", "grad_sq"))
    if metric is None:
        return []
    mm = meas[meas["metric"] == metric]
    mm = mm.assign(_sched=schedule_column(mm), _lam=param_column(mm, "lam"))
    scheds = sorted(mm["_sched"].unique(), key=lambda s: (s != "decreasing", s))
    styles = dict(zip(scheds, ["-", "--", "-.", ":"] * 3))
    groups = sorted(mm["_lam"].dropna().unique()) or [None]
    colors = {lam: color_for(i) for i, lam in enumerate(groups)}
    multi_T = final_rows(mm)["T"].nunique() >= 2
    fig = st.new_figure(st.TWO_COL if multi_T else st.ONE_COL, 2.4 if multi_T else 2.6)
    axes = fig.subplots(1, 2 if multi_T else 1, squeeze=False).ravel()
    alpha = 0.12 if len(groups) * len(scheds) > 3 else 0.2
    handles, shown, any_local, anchors = [], [], False, []
    for s in scheds:
        for lam in groups:
            g = mm[(mm["_sched"] == s) & ((mm["_lam"] == lam) if lam is not None else True)]
            if g.empty:
                continue
            text, local, a, a2, ok = _schedule_series(axes, verdict, mm, g, colors[lam],
                                                      styles[s], alpha, multi_T)
            shown.append(ok)
            any_local |= local
            anchors.append((s, a, a2))
            label = (r"$\lambda$=" + f"{lam:g}, " if lam is not None else "") + txt(s)
            handles.append(Line2D([], [], color=colors[lam], ls=styles[s],
                                  label=label + (f": {text}" if text else "")))
    _schedule_axes(axes, mm, metric, multi_T)
    tidy_log_ylim(axes[0], np.concatenate(shown) if shown else [])
    handles += _predicted(axes, verdict, anchors, scheds, multi_T, any_local)
    handles.append(diverged_handle(*reversed(run_counts(meas))))
    legend_below(fig, handles, ncols=None if multi_T else 1)
    return finish(fig, out_dir, verdict)


def _predicted(axes, verdict, anchors, scheds, multi_T, any_local) -> list:
    """The predicted slope through the first schedule's first series, and legend notes."""
    ps = num(verdict.get("predicted_slope"))
    first = next(((a, a2) for s, a, a2 in anchors if s == scheds[0] and len(a)), None)
    out, drawn = [], False
    if ps is not None and first is not None:
        if multi_T and first[1] is not None and len(first[1]):
            drawn = predicted_line(axes[1], first[1]["T"], first[1]["mean"], ps) is not None
        elif not multi_T:
            drawn = predicted_line(axes[0], first[0]["t"], first[0]["mean"], ps,
                                   at_end=True) is not None
    if drawn:
        out.append(Line2D([], [], color=st.THEORY_COLOR, ls=PRED_LS, label=f"predicted slope {ps:g}"))
    if any_local:
        out.append(Line2D([], [], ls="none", label="* slope from a local fit"))
    return out
