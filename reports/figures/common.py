"""Drawing helpers shared by every figure family: log axes and ticks, mean lines with bands,
legends that fit the figure, theory line styles, and ``finish``, which titles a figure with its
claim id and verdict (and the user optimizer it ran with, if any) and writes it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from .. import style as st
from ..implementation import implementation_title
from ..style import txt
from .labels import safe_name

# line styles of theory: explicit bound dashed, predicted slope dash-dot,
# predicted floor / plateau dotted
BOUND_LS = "--"
PRED_LS = (0, (6, 2, 1.5, 2))
FLOOR_LS = ":"
ROUND_OFF = 1e-16  # relative level below which a trajectory is at round-off
HEADROOM = 1e4     # theory lines more than this far above the data leave the axis

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


def blank_handle() -> Line2D:
    return Line2D([], [], ls="none", label=" ")


def two_row_legend(fig, row1: list, row2: list, loc: str = "outside lower center"):
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


def verdict_title(verdict: dict) -> str:
    """``"<claim>: <verdict>"`` plus the expected verdict when it differs (a negative control
    expects "violated"), the text every figure carries on top."""
    got = str(verdict.get("verdict") or "no verdict")
    text = f"{verdict.get('claim', 'claim')}: {got}"
    expected = verdict.get("expected")
    if expected and str(expected) != got:
        text += f" (expected {expected})"
    return txt(text)


def finish(fig, out_dir: Path, verdict: dict, suffix: str = "", note: str = "") -> list[Path]:
    """Title the figure with the claim id and its verdict (coloured by verdict; ``note`` is
    appended, e.g. which metric a companion figure shows), on a second line the user optimizer
    the claim ran with (if any), grow it by the title's height, and write ``<claim><suffix>.pdf``
    and ``.png``."""
    got = str(verdict.get("verdict") or "")
    color = st.VERDICT_COLORS.get(got, st.THEORY_COLOR)
    lines = [verdict_title(verdict) + (f"  |  {note}" if note else "")]
    if implementation_title(verdict):
        lines.append(txt(implementation_title(verdict)))
    fig.set_figheight(fig.get_figheight() + 0.22 * len(lines))
    fig.suptitle("\n".join(lines), color=color, fontsize=8.5, fontweight="bold")
    stem = Path(out_dir) / (safe_name(verdict.get("claim", "claim")) + suffix)
    return st.save(fig, stem)
