"""AdaSAM linear speedup: one row per eps level, (a) metric against T per batch size b, (b) the
collapse metric x sqrt(bT) against bT, (c) metric against b at the largest common T with the
slope in b that the verdict stored.

eps is labelled as the claim states it, in units of the noise scale s = sigma / sqrt(b_min)
(1e-8, 0.1 s, s, 10 s): each run's params carry ``eps`` and ``eps_rel`` (its relation to s), so s
is read back as eps / rel from the data, not written here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator

from .. import style as st
from ..style import txt
from .common import (PRED_LS, color_for, diverged_handle, fig_legend, finish, grid_ticks,
                     no_data, plot_mean_band, plot_seed_lines, predicted_line, set_log)
from .data import (claim_rows, final_rows, fit_curve, local_slope, num, param_column,
                   pick_metric, regime_entry, run_counts, seed_stats, slope_text, split_theory)
from .labels import AXIS_LABELS, metric_label, natural_key, pretty_point

TAGS = {"grad_sq_avg": "avg", "grad_sq_tail_avg": "tail"}  # the claim's names in its regime map
BLUE = st.OKABE_ITO["blue"]


def short_number(x: float) -> str:
    """``1e-08`` -> ``1e-8``: the number as the claim's text writes it."""
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m.group(1).replace("+", "") + m.group(2), f"{x:g}")


def eps_label(rows: pd.DataFrame) -> tuple[str | None, float | None]:
    """(label, s) of one eps level from its rows' params: ``"$\\epsilon$ = 0.1 s"`` with
    s = eps / 0.1, or ``"$\\epsilon$ = 1e-08"`` for an absolute eps (s None); (None, None) when
    the params do not say how eps relates to s."""
    if rows.empty:
        return None, None
    eps, rel = num(param_column(rows, "eps").iloc[0]), param_column(rows, "eps_rel", numeric=False).iloc[0]
    rel = rel if isinstance(rel, str) else ""
    m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*s\s*", rel)
    if eps is None or not rel:
        return None, None
    if m is None:
        return rf"$\epsilon$ = {short_number(eps)}", None
    k = float(m.group(1))
    return rf"$\epsilon$ = {'' if k == 1 else f'{k:g} '}s", eps / k


def _panel_T(ax, pf, bs, bcol, ref, title, metric) -> None:
    """(a) metric against T for each b, with the predicted slope through the first series."""
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
    ax.set_title(f"(a) {title}", loc="left")
    ax.set_xlabel(AXIS_LABELS["T"])
    ax.set_ylabel(metric_label(metric, short=True))


def _panel_collapse(ax, pf, bs, bcol, metric) -> None:
    """(b) metric x sqrt(bT) against bT: flat where the O(1/sqrt(bT)) rate holds."""
    for b in bs:
        a = seed_stats(pf[pf["b"] == b], ["T"])
        if a.empty:
            continue
        bT = b * a["T"].to_numpy(float)
        scale = np.sqrt(bT)
        a2 = a.assign(bT=bT, mean=a["mean"] * scale, lo=a["lo"] * scale, hi=a["hi"] * scale,
                      vmin=a["vmin"] * scale)
        plot_mean_band(ax, a2, "bT", bcol[b])
    set_log(ax)
    ax.set_title(r"(b) collapse: flat if $O(1/\sqrt{bT})$", loc="left")
    ax.set_xlabel(AXIS_LABELS["bT"])
    ax.set_ylabel(metric_label(metric, short=True) + r" $\times\sqrt{bT}$")


def b_slope(verdict: dict, point: str, metric: str, f: pd.DataFrame):
    """(slope, lo, hi, local) of the metric against b at the panel's T: the verdict's entry
    ``"<point> | avg"`` / ``"<point> | tail"`` (its whole-grid slope in b at the largest T), or
    the plain ``"<point>"`` entry for the verdict's own metric; else a local fit."""
    entry = regime_entry(verdict, f"{point} | {TAGS.get(metric, metric)}")
    if entry is None and metric == verdict.get("metric"):
        entry = regime_entry(verdict, point)
    if entry is not None and num(entry.get("estimate")) is not None:
        return entry["estimate"], entry.get("ci_low"), entry.get("ci_high"), False
    return (*local_slope(f, "b"), True)


def _panel_b(ax, pf, bs, ref, verdict, point, metric) -> bool:
    """(c) metric against b at the largest T every b reached, with the slope in b. Returns
    whether that slope is a local fit."""
    common = set.intersection(*[set(pf[pf["b"] == b]["T"]) for b in bs]) if bs else set()
    Tc = max(common) if common else pf["T"].max()
    f = pf[pf["T"] == Tc]
    a = seed_stats(f, ["b"])
    text, local = "", False
    if len(a):
        ok = f[f["ok"]]
        ax.scatter(ok["b"], ok["value"], s=6, color=st.GREY, alpha=0.5, lw=0, zorder=2)
        plot_mean_band(ax, a, "b", BLUE, band=False)
        lo = np.clip(a["mean"] - np.where(a["lo"] > 0, a["lo"], a["vmin"]), 0, None)
        hi = np.clip(a["hi"] - a["mean"], 0, None)
        ok_e = np.isfinite(lo) & np.isfinite(hi)
        if ok_e.any():
            ax.errorbar(a["b"][ok_e], a["mean"][ok_e], yerr=[lo[ok_e], hi[ok_e]], ls="none",
                        color=BLUE, capsize=2, lw=0.8)
        s, slo, shi, local = b_slope(verdict, point, metric, f)
        if num(s) is not None and len(a) >= 2:
            curve = fit_curve({"slope": s}, a["b"].to_numpy(float), a["mean"].to_numpy(float))
            ax.plot(a["b"], curve, color=BLUE, ls=(0, (1, 1)), lw=0.9)
            text = slope_text(s, slo, shi).replace("slope ", "slope in $b$: ") + ("*" if local else "")
        predicted_line(ax, a["b"], a["mean"], ref)
    else:
        no_data(ax, "no finite values")
    set_log(ax)
    ax.set_xticks([float(b) for b in bs])
    ax.set_xticklabels([str(b) for b in bs])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_title(f"(c) against $b$ at $T$={Tc}" + (f"\n{text}" if text else ""), loc="left",
                 fontsize=7.5)
    ax.set_xlabel(AXIS_LABELS["b"])
    ax.set_ylabel(metric_label(metric, short=True))
    return local and bool(text)


def _row_title(verdict: dict, point: str, pf: pd.DataFrame) -> tuple[str, float | None]:
    """Title of one eps row (eps in units of s where the data say so, the point's verdict) and s."""
    label, s = eps_label(pf)
    title = label or pretty_point(point) or txt(verdict.get("claim", ""))
    entry = regime_entry(verdict, point)
    if entry is not None and entry.get("verdict"):
        title += f" [{txt(entry['verdict'])}]"
    return title, s


def _legend(fig, bs, bcol, ref, multi_b, any_local, n_div, n_runs) -> None:
    handles = [Line2D([], [], color=bcol[b], marker="o", label=f"$b$={b}") for b in bs]
    handles.append(Line2D([], [], color=st.THEORY_COLOR, ls=PRED_LS, lw=1.0,
                          label=f"predicted slope {ref:g}"))
    if multi_b:
        handles.append(Line2D([], [], color=BLUE, ls=(0, (1, 1)), lw=0.9,
                              label="fitted slope in $b$" + (" (*local fit)" if any_local else "")))
    handles.append(diverged_handle(n_div, n_runs))
    fig_legend(fig, handles, "outside lower center", ncols=len(handles))


def _adasam_one(meas, metric, verdict, out_dir, suffix) -> list[Path]:
    """One figure of the speedup claim for one metric (the full or the tail average)."""
    fin = final_rows(meas[meas["metric"] == metric])
    points = sorted(fin["point"].unique(), key=natural_key)
    bs = sorted(fin["b"].unique())
    multi_b = len(bs) >= 2
    fig = st.new_figure(st.TWO_COL if multi_b else st.ONE_COL, 1.95 * len(points) + 0.1)
    axes = fig.subplots(len(points), 3 if multi_b else 1, squeeze=False)
    bcol = {b: color_for(i) for i, b in enumerate(bs)}
    ps = num(verdict.get("predicted_slope"))
    ref = ps if ps is not None else -0.5
    any_local, scale = False, None
    for r, point in enumerate(points):
        pf = fin[fin["point"] == point]
        title, s = _row_title(verdict, point, pf)
        scale = s if s is not None else scale
        _panel_T(axes[r, 0], pf, bs, bcol, ref, title, metric)
        if multi_b:
            _panel_collapse(axes[r, 1], pf, bs, bcol, metric)
            any_local |= _panel_b(axes[r, 2], pf, bs, ref, verdict, point, metric)
    n_runs, n_div = run_counts(meas[meas["metric"] == metric])
    _legend(fig, bs, bcol, ref, multi_b, any_local, n_div, n_runs)
    note = metric_label(metric, short=True)
    if scale is not None:
        note += rf"; noise scale s = $\sigma/\sqrt{{b_{{min}}}}$ = {scale:.3g}"
    return finish(fig, out_dir, verdict, suffix, note=note)


def adasam_speedup(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """The speedup figure of the verdict's metric; when both the full and the tail average of
    ||grad f||^2 are present, a second figure (suffix ``__<metric>``) shows the other one."""
    meas, _ = split_theory(claim_rows(df, verdict))
    metric = pick_metric(meas, verdict, ("grad_sq_avg", "grad_sq_tail_avg", "grad_sq_min"))
    if metric is None:
        return []
    paths = _adasam_one(meas, metric, verdict, out_dir, "")
    other = {"grad_sq_avg": "grad_sq_tail_avg", "grad_sq_tail_avg": "grad_sq_avg"}.get(metric)
    if other and other in set(meas["metric"]):
        paths += _adasam_one(meas, other, verdict, out_dir, "__" + other)
    return paths
