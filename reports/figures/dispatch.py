"""Which figure a claim gets: the figure kinds, their captions, and ``make_figures``, which draws
every claim of a results directory.

Every figure function has the signature ``(df, verdict, out_dir) -> list[Path]``: ``df`` the tidy
results table (all claims; the function selects its claim), ``verdict`` one entry of
verdicts.json, ``out_dir`` the folder to write into. It returns the files written (``.pdf`` and
``.png`` per figure), or ``[]`` when the claim has no data to plot. Every figure is titled with
its claim id and verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..tables import normalise_results, normalise_verdicts
from .adasam import adasam_speedup
from .data import quiet
from .lets import lets
from .lightsam import lightsam_heatmap
from .rate import rate_plot
from .sam import floor
from .unified import unified_importance, unified_schedule
from .unified_lambda import unified_lambda

FigureFn = Callable[[pd.DataFrame, dict, Path], list[Path]]

FIGURES: dict[str, FigureFn] = {
    "rate": rate_plot,
    "adasam_speedup": adasam_speedup,
    "lightsam_heatmap": lightsam_heatmap,
    "unified_lambda": unified_lambda,
    "unified_importance": unified_importance,
    "unified_schedule": unified_schedule,
    "lets": lets,
    "floor": floor,
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
                      "* marks a slope fitted here, by verify.stats, where the verdict stored none).",
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
                        "* marks a slope fitted here, by verify.stats, where the verdict stored none).",
    "lets": "LETS: learned rho_t from several rho_0, validation loss against rho_0 "
            "(LETS against fixed-rho SAM), and the rate of the measured metric against T "
            "with the explicit bound.",
    "floor": "Negative control: metric against t with the predicted floor (dotted), and the "
             "measured floor (final value, mean with 95% CI) against its formula (grey line: "
             "equality); dashed: explicit bound where the claim has one.",
}


def figure_kind(verdict: dict) -> str:
    """The verdict's figure kind, "rate" when it names none or an unknown one."""
    k = str(verdict.get("figure") or "rate")
    return k if k in FIGURES else "rate"


def make_figures(df: pd.DataFrame, verdicts, out_dir, strict: bool = False,
                 errors: dict | None = None) -> dict[str, list[Path]]:
    """Draw the figure of every claim into ``out_dir``; ``{claim: [paths]}``.

    Unknown figure kinds fall back to :func:`rate_plot`. A failing figure is reported in
    ``errors`` (claim -> message) and skipped, unless ``strict``. Call inside
    :func:`reports.style.style_context` to choose the style.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = normalise_results(df)
    out: dict[str, list[Path]] = {}
    for v in normalise_verdicts(verdicts):
        claim = str(v.get("claim"))
        try:
            with np.errstate(all="ignore"), quiet():
                out[claim] = FIGURES[figure_kind(v)](df, v, out_dir)
        except Exception as exc:  # noqa: BLE001 -- one bad figure must not sink the report
            if strict:
                raise
            if errors is not None:
                errors[claim] = f"{type(exc).__name__}: {exc}"
            out[claim] = []
    return out
