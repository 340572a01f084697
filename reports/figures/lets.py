"""LETS: (a) the learned radius rho_t from several rho_0, (b) the validation loss against rho_0
(LETS against fixed-rho SAM), (c) the rate of the claim's metric against T with the explicit
bound. Panels without data are left out.

Every algorithm has its own colour, line style and marker in every panel, so lines stay apart
in print and in grey; rho_0 in panel (a) is shaded along a sequential colour map (its order
matters, and it cannot be mistaken for an algorithm's colour).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .. import style as st
from ..style import txt
from .common import (PRED_LS, diverged_handle, finish, grid_ticks, legend_below,
                     plot_mean_band, predicted_line, set_log)
from .data import (claim_rows, final_rows, fmt, largest_T, local_slope, num, param_column,
                   run_counts, seed_stats, slope_text, split_theory, theory_stats)
from .labels import AXIS_LABELS, algo_name, metric_label

LINE_STYLES = ["-", "--", ":", "-.", (0, (5, 1.5)), (0, (1, 1.5)), (0, (3, 1, 1, 1, 1, 1))]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
ALGO_COLORS = [st.OKABE_ITO[c] for c in ("blue", "vermillion", "bluish_green", "reddish_purple",
                                          "orange", "sky_blue", "black")]
RHO0_CMAP = "viridis"


def algo_styles(algos) -> dict:
    """{algorithm: (colour, line style, marker)}, distinct on all three."""
    return {a: (ALGO_COLORS[i % len(ALGO_COLORS)], LINE_STYLES[i % len(LINE_STYLES)],
                MARKERS[i % len(MARKERS)]) for i, a in enumerate(algos)}


def rho0_colors(rho0s) -> dict:
    cmap = mpl.colormaps[RHO0_CMAP]
    n = max(len(rho0s) - 1, 1)
    return {r: cmap(0.05 + 0.8 * i / n) for i, r in enumerate(rho0s)}


def _rho_panel(ax, meas, sty, rcol, tag) -> list:
    """(a) rho_t per (algorithm, rho_0): colour rho_0, style and marker the algorithm."""
    mr = meas[meas["metric"] == "rho"]
    groups = list(mr.groupby(["algorithm", "_rho0"], sort=True))
    alpha = 0.2 if len(groups) <= 4 else 0.06
    for (a, r0), g in groups:
        g = g[g["T"] == g["T"].max()]
        ln = plot_mean_band(ax, seed_stats(g, ["t"]), "t", rcol.get(r0, st.GREY), marker=None,
                            ls=sty[a][1], alpha=alpha)
        if ln is not None:
            ln.set_marker(sty[a][2])
            ln.set_markevery(0.25)
            ln.set_markersize(3)
    for r0, c in rcol.items():
        ax.axhline(r0, color=c, lw=0.7, ls=":", alpha=0.9)
    set_log(ax)
    ax.set_xlabel(AXIS_LABELS["t"])
    ax.set_ylabel(r"$\rho_t$")
    ax.set_title(tag + r"learned $\rho_t$ (dotted: $\rho_0$)", loc="left")
    return [Line2D([], [], color=c, lw=2.5, label=r"$\rho_0$=" + f"{r:.3g}") for r, c in rcol.items()]


def _val_panel(ax, meas, sty, tag) -> dict:
    """(b) the final validation loss against rho_0 per algorithm (or against t for a single
    rho_0); returns {algorithm: spread of the seed means over rho_0}."""
    mv = final_rows(meas[meas["metric"] == "val_loss"])
    mv = largest_T(mv)
    spreads = {}
    if mv["_rho0"].nunique() >= 2:
        for a, g in mv.groupby("algorithm", sort=False):
            s = seed_stats(g, ["_rho0"])
            plot_mean_band(ax, s, "_rho0", sty[a][0], ls=sty[a][1], logy=False, marker=sty[a][2],
                           alpha=0.08, ms=3.5)
            spreads[a] = (s["mean"].max() - s["mean"].min()) if len(s) else float("nan")
        ax.set_xscale("log")
        st.log_axis(ax.xaxis)
        grid_ticks(ax.xaxis, mv["_rho0"].unique())
        ax.set_xlabel(r"initial radius $\rho_0$")
        ax.set_title(tag + "final validation loss", loc="left")
    else:
        for a, g in meas[meas["metric"] == "val_loss"].groupby("algorithm", sort=False):
            plot_mean_band(ax, seed_stats(largest_T(g), ["t"]), "t", sty[a][0], marker=None,
                           ls=sty[a][1], logy=False, alpha=0.08)
        ax.set_xscale("log", nonpositive="mask")
        st.log_axis(ax.xaxis)
        ax.set_xlabel(AXIS_LABELS["t"])
        ax.set_title(tag + "validation loss", loc="left")
    ax.set_ylabel("validation loss")
    return spreads


def stored_slope(verdict: dict, algorithm: str, single: bool):
    """(slope, lo, hi) the verdict stored for one algorithm's slope in T: its regime-map entry
    ``"<algorithm> ...: slope in T"``, or the claim's ``fit`` when it has one algorithm."""
    for e in verdict.get("regime_map") or []:
        p = str(e.get("point", "")) if isinstance(e, dict) else ""
        if p.startswith(f"{algorithm} ") and p.endswith("slope in T") \
                and num(e.get("estimate")) is not None:
            return e["estimate"], e.get("ci_low"), e.get("ci_high")
    fit = verdict.get("fit")
    if single and isinstance(fit, dict) and num(fit.get("slope")) is not None:
        return fit["slope"], fit.get("ci_low"), fit.get("ci_high")
    return None


def _bound_line(ax, th, a, single, multi, xcol, style) -> bool:
    tb = th[(th["metric"] == "bound") & (th["algorithm"] == a)]
    if tb.empty and single:
        tb = th[th["metric"] == "bound"]
    if tb.empty:
        return False
    ts = theory_stats(final_rows(tb.assign(seed=-1)) if multi else largest_T(tb), xcol)
    ax.plot(ts[xcol], ts["value"], color=style[0], ls=style[1], lw=0.9, alpha=0.6)
    return True


def _rate_panel(ax, meas, th, metric, verdict, tag, sty) -> tuple[dict, list]:
    """(c) the rate panel; returns ({algorithm: slope text}, extra legend handles)."""
    mm = meas[meas["metric"] == metric]
    multi = final_rows(mm)["T"].nunique() >= 2
    xcol = "T" if multi else "t"
    single = mm["algorithm"].nunique() == 1
    slopes, first, any_bound = {}, None, False
    for a, g in mm.groupby("algorithm", sort=False):
        f = final_rows(g) if multi else largest_T(g)
        s_ = seed_stats(f, [xcol])
        if multi:
            stored = stored_slope(verdict, a, single)
            slopes[a] = slope_text(*(stored or local_slope(f, "T")), local=stored is None)
        ln = plot_mean_band(ax, s_, xcol, sty[a][0], ls=sty[a][1],
                            marker=sty[a][2] if multi else None, alpha=0.1, ms=3)
        first = s_ if (ln is not None and first is None) else first
        any_bound |= _bound_line(ax, th, a, single, multi, xcol, sty[a])
    extra = []
    if any_bound:
        extra.append(Line2D([], [], color=st.GREY, lw=0.9, label="explicit bound (thin, algorithm's style)"))
    ps = num(verdict.get("predicted_slope"))
    if ps is not None and first is not None and multi:
        if predicted_line(ax, first[xcol], first["mean"], ps) is not None:
            ax.get_lines()[-1].set_color(st.GREY)
            extra.append(Line2D([], [], color=st.GREY, ls=PRED_LS, label=f"predicted slope {ps:g}"))
    set_log(ax)
    if multi:
        grid_ticks(ax.xaxis, final_rows(mm)["T"].unique())
    ax.set_xlabel(AXIS_LABELS[xcol])
    ax.set_ylabel(metric_label(metric, final=multi))
    ax.set_title(tag + "rate", loc="left")
    return slopes, extra


def _panels(meas, verdict) -> tuple[list[str], str | None]:
    """The panels present ("rho", "val", "rate") and the rate panel's metric: the verdict's,
    or a gradient-norm metric when the verdict is about rho_t or the validation loss."""
    present = set(meas["metric"])
    rate_metric = verdict.get("metric")
    if not rate_metric or rate_metric in ("rho", "val_loss"):
        rate_metric = next((m for m in ("grad_sq_avg", "grad_sq_tail_avg", "grad_sq_min")
                            if m in present), None)
    elif rate_metric not in present:
        rate_metric = None
    panels = [p for p, m in (("rho", "rho"), ("val", "val_loss")) if m in present]
    if rate_metric and (final_rows(meas[meas["metric"] == rate_metric])["T"].nunique() >= 2
                        or not panels):
        panels.append("rate")
    return panels, rate_metric


def _algo_handles(algos, sty, slopes, spreads) -> list:
    out = []
    for a in algos:
        label = txt(algo_name(a))
        if a in slopes:
            label += f": {slopes[a]}"
        if a in spreads:
            label += f" (val. spread {fmt(spreads[a], 2)})"
        out.append(Line2D([], [], color=sty[a][0], ls=sty[a][1], marker=sty[a][2], label=label))
    return out


def lets(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """The LETS figure (see the module docstring)."""
    meas, th = split_theory(claim_rows(df, verdict))
    if meas.empty:
        return []
    meas = meas.assign(_rho0=param_column(meas, "rho0"))
    panels, rate_metric = _panels(meas, verdict)
    if not panels:
        return []
    n = len(panels)
    fig = st.new_figure(st.TWO_COL if n > 1 else st.ONE_COL, 2.3 if n > 1 else 2.6)
    axes = fig.subplots(1, n, squeeze=False).ravel()
    algos = sorted(meas["algorithm"].unique(), key=lambda a: (not str(a).startswith("lets"), a))
    sty = algo_styles(algos)
    rcol = rho0_colors(sorted(meas.loc[meas["metric"] == "rho", "_rho0"].dropna().unique()))
    rho_handles, spreads, slopes, extra = [], {}, {}, []
    for i, (ax, p) in enumerate(zip(axes, panels)):
        tag = f"({'abc'[i]}) " if n > 1 else ""
        if p == "rho":
            rho_handles = _rho_panel(ax, meas, sty, rcol, tag)
        elif p == "val":
            spreads = _val_panel(ax, meas, sty, tag)
        else:
            slopes, extra = _rate_panel(ax, meas, th, rate_metric, verdict, tag, sty)
    handles = rho_handles + _algo_handles(algos, sty, slopes, spreads) + extra
    handles.append(diverged_handle(*reversed(run_counts(meas))))
    legend_below(fig, handles, ncols=None if n > 1 else 1)
    return finish(fig, out_dir, verdict)
