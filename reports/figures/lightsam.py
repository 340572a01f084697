"""LightSAM any-rho: rho x eta heatmaps of the final metric (top row) and of the diverged fraction
(bottom row), one column per algorithm (LightSAM-I/II/III, then SAM with SGD descent).

The grid cells the verdict judged "violated" (its ``regime_map`` entries carry algorithm, rho,
eta and verdict) are boxed in red on both rows, with a legend entry, so the figure shows where
the claim fails.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from .. import style as st
from ..style import txt
from .common import fig_legend, finish
from .data import (RUN_KEYS, claim_rows, final_rows, num, param_column, pick_metric,
                   seed_stats, split_theory)
from .labels import algo_name, metric_label
from .rate import rate_plot

VIOLATED = "#E00000"  # the red of the violated-cell boxes


def _algo_order(a: str):
    return (0 if str(a).startswith("lightsam") else 1, str(a))


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


def _grids(meas, fin, algos, rhos, etas):
    """{algorithm: (rho x eta) mean final metric}, {algorithm: diverged fraction}, run table."""
    runs = meas.groupby(RUN_KEYS + ["_rho", "_eta"], sort=False)["run_div"].first().reset_index()
    vals, fracs = {}, {}
    for a in algos:
        fa = fin[fin["algorithm"] == a]
        fa = fa[fa["T"] == fa["T"].max()] if len(fa) else fa
        grid = np.full((len(rhos), len(etas)), np.nan)
        for _, r in seed_stats(fa, ["_rho", "_eta"]).iterrows():
            grid[np.searchsorted(rhos, r["_rho"]), np.searchsorted(etas, r["_eta"])] = r["mean"]
        vals[a] = grid
        fg = np.full((len(rhos), len(etas)), np.nan)
        for (rv, ev), g in runs[runs["algorithm"] == a].groupby(["_rho", "_eta"]):
            fg[np.searchsorted(rhos, rv), np.searchsorted(etas, ev)] = g["run_div"].mean()
        fracs[a] = fg
    return vals, fracs, runs


def violated_cells(verdict: dict, algorithm: str, rhos, etas) -> list[tuple[int, int]]:
    """(rho index, eta index) of the cells the verdict's regime map calls violated."""
    out = []
    for e in verdict.get("regime_map") or []:
        if not isinstance(e, dict) or e.get("verdict") != "violated":
            continue
        if str(e.get("algorithm")) != str(algorithm):
            continue
        rho, eta = num(e.get("rho")), num(e.get("eta"))
        ri = np.flatnonzero(np.isclose(rhos, rho)) if rho is not None else []
        ei = np.flatnonzero(np.isclose(etas, eta)) if eta is not None else []
        if len(ri) and len(ei):
            out.append((int(ri[0]), int(ei[0])))
    return out


def _box_cells(ax, cells) -> None:
    for ri, ei in cells:
        ax.add_patch(Rectangle((ei - 0.46, ri - 0.46), 0.92, 0.92, fill=False, ec=VIOLATED,
                               lw=1.6, zorder=6))


def _value_map(ax, g, norm, annotate) -> object:
    """Top-row heatmap of one algorithm; cells where every run diverged get a cross."""
    cmap = mpl.colormaps[st.SEQ_CMAP].with_extremes(bad="#d9d9d9")
    im = ax.imshow(np.ma.masked_invalid(np.where(g > 0, g, np.nan)), origin="lower", cmap=cmap,
                   norm=norm, aspect="auto")
    for ri, ei in zip(*np.where(~np.isfinite(g))):
        ax.plot(ei, ri, marker="x", color=st.OKABE_ITO["vermillion"], ms=5, mew=1.2)
    if annotate and norm is not None:
        for ri, ei in zip(*np.where(np.isfinite(g) & (g > 0))):
            ax.text(ei, ri, _cell_text(g[ri, ei]), ha="center", va="center", fontsize=5.5,
                    color="white" if norm(g[ri, ei]) < 0.55 else "black")
    return im


def _fraction_map(ax, fg, annotate) -> object:
    """Bottom-row heatmap: the fraction of diverged runs per cell."""
    im = ax.imshow(np.ma.masked_invalid(fg), origin="lower", cmap=mpl.colormaps[st.FRACTION_CMAP],
                   vmin=0, vmax=1, aspect="auto")
    if annotate:
        for ri, ei in zip(*np.where(np.isfinite(fg))):
            text = f"{fg[ri, ei]:.0%}"
            ax.text(ei, ri, text.replace("%", r"\%") if st.usetex_on() else text, ha="center",
                    va="center", fontsize=5.5, color="white" if fg[ri, ei] < 0.55 else "black")
    return im


def _style_axes(axes, rhos, etas) -> None:
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


def _rho_eta_rows(df, verdict):
    """(measured rows with _rho/_eta columns, metric), or (None, metric) without such rows."""
    meas, _ = split_theory(claim_rows(df, verdict))
    metric = pick_metric(meas, verdict, ("grad_sq_min", "grad_sq_avg", "grad_sq", "f_gap"))
    if metric is None or meas.empty:
        return None, None
    meas = meas.assign(_rho=param_column(meas, "rho"), _eta=param_column(meas, "lr"))
    return meas[np.isfinite(meas["_rho"]) & np.isfinite(meas["_eta"])], metric


def lightsam_heatmap(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """The rho x eta heatmaps (falls back to the rate plot without rho/eta grid rows)."""
    meas, metric = _rho_eta_rows(df, verdict)
    if meas is None:
        return []
    if meas.empty:
        return rate_plot(df, verdict, out_dir)
    rhos, etas = np.sort(meas["_rho"].unique()), np.sort(meas["_eta"].unique())
    algos = sorted(meas["algorithm"].unique(), key=_algo_order)
    fin = final_rows(meas[meas["metric"] == metric])
    vals, fracs, runs = _grids(meas, fin, algos, rhos, etas)
    allv = np.concatenate([v.ravel() for v in vals.values()])
    pos = allv[np.isfinite(allv) & (allv > 0)]
    norm = LogNorm(vmin=pos.min(), vmax=max(pos.max(), pos.min() * 1.0001)) if len(pos) else None
    width = st.ONE_COL if len(algos) == 1 else min(st.TWO_COL, 1.1 + 1.55 * len(algos))
    fig = st.new_figure(width, 2 * (width - 1.1) / len(algos) + 0.9)
    axes = fig.subplots(2, len(algos), squeeze=False, sharex=True, sharey=True)
    annotate = len(rhos) * len(etas) <= 25
    im_v = im_f = None
    n_violated: dict[str, int] = {}
    for j, a in enumerate(algos):
        im_v = _value_map(axes[0, j], vals[a], norm, annotate)
        axes[0, j].set_title(txt(algo_name(a)), fontsize=8)
        im_f = _fraction_map(axes[1, j], fracs[a], annotate)
        ra = runs[runs["algorithm"] == a]
        axes[1, j].set_title(f"diverged {int(ra['run_div'].sum())}/{len(ra)} runs", fontsize=7)
        cells = violated_cells(verdict, a, rhos, etas)
        if cells:
            n_violated[txt(algo_name(a))] = len(cells)
        _box_cells(axes[0, j], cells)
        _box_cells(axes[1, j], cells)
    _style_axes(axes, rhos, etas)
    if norm is not None:
        cb = fig.colorbar(im_v, ax=axes[0, :].tolist(), shrink=0.9, pad=0.02)
        st.log_axis(cb.ax.yaxis)
        cb.set_label(metric_label(metric, short=True) + f" at $T$={int(fin['T'].max())}")
    cb = fig.colorbar(im_f, ax=axes[1, :].tolist(), shrink=0.9, pad=0.02)
    cb.set_label("diverged fraction")
    _legend(fig, n_violated)
    return finish(fig, out_dir, verdict)


def _legend(fig, n_violated: dict[str, int]) -> None:
    """Legend of the markers; the violated-cell entry counts the boxed cells per algorithm."""
    handles = [Line2D([], [], ls="none", marker="x", color=st.OKABE_ITO["vermillion"],
                      label="every run diverged")]
    if n_violated:
        handles.append(Line2D([], [], ls="none", marker="s", mfc="none", mec=VIOLATED, ms=8,
                              mew=1.6, label="cell judged violated ("
                              + ", ".join(f"{a}: {k}" for a, k in n_violated.items()) + ")"))
    fig_legend(fig, handles, "outside lower center")
