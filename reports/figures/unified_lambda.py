"""Unified SAM's lambda claims (Thm 3.2 bound, Cor 3.4 plateau): f - f* against t for each lambda
with the bound (dashed) and the plateau level N(lambda) (dotted), one panel per (problem,
sampler); last panel: the measured plateau against lambda next to N(lambda).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .. import style as st
from .common import (BOUND_LS, FLOOR_LS, ROUND_OFF, color_for, diverged_handle, finish,
                     no_data, plot_mean_band, set_log, tidy_log_ylim, two_row_legend)
from .data import (claim_rows, final_rows, largest_T, param_column, pick_metric, run_counts,
                   seed_stats, split_theory, theory_for, theory_stats, varying)
from .labels import AXIS_LABELS, metric_label, pretty_label

FACET_MARKERS = ["o", "^", "s", "D", "v", "P"]
FACET_GREYS = ["#000000", "#555555", "#888888", "#b0b0b0", "#333333", "#777777"]


def facets(meas: pd.DataFrame, cols=("problem", "sampler")) -> list[tuple[dict, pd.DataFrame]]:
    """[(key, rows)] per combination of the columns in ``cols`` that vary."""
    vary = varying(meas, list(cols))
    if not vary:
        return [({}, meas)]
    return [(dict(zip(vary, k if isinstance(k, tuple) else (k,))), g)
            for k, g in meas.groupby(vary, sort=True)]


def facet_title(key: dict) -> str:
    return ", ".join(pretty_label(v) for v in key.values() if str(v))


def _theory_of_lambda(ax, th, key, color, drawn: set) -> None:
    """Bound (dashed) and floor (dotted) rows of one lambda's series at the largest T: the theory rows
    ``th`` of its point (theory rows have no hyperparameters; they share the point's label)."""
    for tm, tls in (("bound", BOUND_LS), ("floor", FLOOR_LS)):
        tt = theory_for(th, tm, key, ["point", "problem", "sampler", "T"])
        ts = theory_stats(largest_T(tt), "t") if len(tt) else tt
        if not len(ts):
            continue
        drawn.add(tm)
        if ts["t"].nunique() <= 1 or (tm == "floor" and ts["value"].nunique() == 1):
            ax.axhline(ts["value"].iloc[-1], color=color, ls=tls, lw=1.0)
        else:
            ax.plot(ts["t"], ts["value"], color=color, ls=tls, lw=1.0)


def _plateau_row(fkey, lam, g, th, key) -> dict:
    """The measured plateau (final value, mean and CI over seeds) and N(lambda) (the floor row of
    the series' point among the theory rows ``th``) of one lambda."""
    s = seed_stats(final_rows(g), ["T"])
    tfl = theory_for(th, "floor", key, ["point", "problem", "sampler"])
    first = (lambda c: s[c].iloc[0] if len(s) else np.nan)  # noqa: E731
    return {"facet": facet_title(fkey), "lam": lam, "mean": first("mean"), "lo": first("lo"),
            "hi": first("hi"), "floor": float(tfl["value"].mean()) if len(tfl) else np.nan}


def _facet_panel(ax, fkey, fm, th, lams, lcol, drawn, metric) -> list[dict]:
    """One (problem, sampler) panel: a trajectory per lambda; returns its plateau rows."""
    shown, rows = [], []
    alpha = 0.2 if len(lams) <= 3 else 0.1
    for lam in lams:
        g = fm[fm["_lam"] == lam] if np.isfinite(lam) else fm
        if g.empty:
            continue
        g = g[g["T"] == g["T"].max()]
        shown.append(g.loc[g["ok"], "value"].to_numpy(float))
        plot_mean_band(ax, seed_stats(g, ["t"]), "t", lcol[lam], marker=None, alpha=alpha)
        key = {"point": g["point"].iloc[0], "T": g["T"].iloc[0], **fkey}
        _theory_of_lambda(ax, th, key, lcol[lam], drawn)
        rows.append(_plateau_row(fkey, lam, g, th, key))
    set_log(ax)
    tidy_log_ylim(ax, np.concatenate(shown) if shown else [])
    ax.set_xlabel(AXIS_LABELS["t"])
    ax.set_ylabel(metric_label(metric))
    if fkey:
        ax.set_title(facet_title(fkey), loc="left")
    return rows


def _plateau_series(ax, i, g, several, tiny) -> bool:
    """One facet's measured plateaus (filled markers) and N(lambda) (open, dashed); plateaus at
    round-off sit as triangles on the bottom axis. Returns whether any did."""
    c = FACET_GREYS[i % len(FACET_GREYS)] if several else st.OKABE_ITO["blue"]
    mk = FACET_MARKERS[i % len(FACET_MARKERS)]
    g = g.sort_values("lam")
    lam, y = g["lam"].to_numpy(float), g["mean"].to_numpy(float)
    lo, hi = g["lo"].to_numpy(float), g["hi"].to_numpy(float)
    pos = np.isfinite(y) & (y > tiny)
    ax.plot(lam[pos], y[pos], marker=mk, color=c, ms=4)
    if pos.any():
        elo = np.where(np.isfinite(lo) & (lo > 0), y - lo, 0.0)[pos]
        ehi = np.where(np.isfinite(hi), hi - y, 0.0)[pos]
        ax.errorbar(lam[pos], y[pos], yerr=[np.clip(elo, 0, None), np.clip(ehi, 0, None)],
                    ls="none", color=c, capsize=2, lw=0.8)
    low = np.isfinite(y) & (y <= tiny)
    if low.any():
        ax.plot(lam[low], np.zeros(low.sum()), ls="none", marker="v", color=c, ms=5,
                transform=ax.get_xaxis_transform(), clip_on=False, zorder=5)
    fl = g["floor"].to_numpy(float)
    fpos = np.isfinite(fl) & (fl > 0)
    if fpos.any():
        ax.plot(lam[fpos], fl[fpos], marker=mk, mfc="white", ls="--", color=c, lw=1.0, ms=4)
    return bool(low.any())


def _plateau_handles(pr, several, roundoff) -> list:
    handles = []
    if several:
        for i, fname in enumerate(pr["facet"].unique()):
            handles.append(Line2D([], [], color=FACET_GREYS[i % len(FACET_GREYS)],
                                  marker=FACET_MARKERS[i % len(FACET_MARKERS)], ls="none",
                                  label=pretty_label(fname) if fname else "measured"))
    handles.append(Line2D([], [], color=st.GREY, marker="o", label="measured (final value)"))
    if np.isfinite(pr["floor"].to_numpy(float)).any():
        handles.append(Line2D([], [], color=st.GREY, marker="o", mfc="white", ls="--",
                              label=r"$N(\lambda)$"))
    if roundoff:
        handles.append(Line2D([], [], ls="none", marker="v", color=st.GREY, label="at round-off"))
    return handles


def plateau_panel(ax, pr: pd.DataFrame, metric: str, spare=None) -> None:
    """Measured plateau and N(lambda) against lambda; one marker shape / grey per facet, so that
    colours keep meaning lambda as in the trajectory panels. The legend goes into ``spare`` (an
    unused grid cell) when given, else beside the panel."""
    if pr.empty or not pr["lam"].notna().any():
        no_data(ax, "no lambda values found")
        return
    allv = pr[["mean", "floor"]].to_numpy(float).ravel()
    allv = allv[np.isfinite(allv) & (allv > 0)]
    tiny = float(allv.max()) * ROUND_OFF if allv.size else 0.0
    several = pr["facet"].nunique() > 1
    roundoff = False
    for i, (_, g) in enumerate(pr.groupby("facet", sort=False)):
        roundoff |= _plateau_series(ax, i, g, several, tiny)
    handles = _plateau_handles(pr, several, roundoff)
    ax.set_yscale("log", nonpositive="mask")
    st.log_axis(ax.yaxis)
    if allv.size:
        ax.set_ylim(bottom=max(ax.get_ylim()[0], tiny))
    lam_all = pr["lam"].dropna().to_numpy(float)
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
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def _lambda_legend(fig, lams, lcol, drawn, n_div, n_runs) -> None:
    row1 = [Line2D([], [], color=lcol[lam], label=(r"$\lambda$=" + f"{lam:g}")
                   if np.isfinite(lam) else "measured") for lam in lams]
    row2 = [Line2D([], [], color=st.GREY, ls="-", label="mean, 95% band")]
    if "bound" in drawn:
        row2.append(Line2D([], [], color=st.GREY, ls=BOUND_LS, label="bound"))
    if "floor" in drawn:
        row2.append(Line2D([], [], color=st.GREY, ls=FLOOR_LS, label=r"plateau $N(\lambda)$"))
    row2.append(diverged_handle(n_div, n_runs))
    two_row_legend(fig, row1, row2)


def unified_lambda(df: pd.DataFrame, verdict: dict, out_dir: Path) -> list[Path]:
    """Trajectories per lambda and facet, then the plateau panel (see the module docstring)."""
    meas, th = split_theory(claim_rows(df, verdict))
    metric = pick_metric(meas, verdict, ("f_gap", "grad_sq"))
    if metric is None:
        return []
    meas = meas.assign(_lam=param_column(meas, "lam"))
    mm = meas[meas["metric"] == metric]
    fcts = facets(mm)[:6]
    lams = sorted(x for x in mm["_lam"].unique() if np.isfinite(x))
    has_lam = bool(lams)
    lams = lams or [np.nan]
    lcol = {lam: color_for(i) for i, lam in enumerate(lams)}
    n_pan = len(fcts) + (1 if has_lam else 0)
    ncols = min(n_pan, 3)
    nrows = int(math.ceil(n_pan / ncols))
    fig = st.new_figure(st.TWO_COL if n_pan > 1 else st.ONE_COL, 2.2 * nrows + 0.1)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    rows, drawn = [], set()
    for ax, (fkey, fm) in zip(axes, fcts):
        rows += _facet_panel(ax, fkey, fm, th, lams, lcol, drawn, metric)
    spare = axes[n_pan] if n_pan < len(axes) else None
    if has_lam:
        plateau_panel(axes[len(fcts)], pd.DataFrame(rows), metric, spare)
    for ax in axes[n_pan:]:
        if not (has_lam and ax is spare):
            ax.set_visible(False)
    n_runs, n_div = run_counts(meas)
    _lambda_legend(fig, lams, lcol, drawn, n_div, n_runs)
    return finish(fig, out_dir, verdict)
