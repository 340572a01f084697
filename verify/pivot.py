"""Reshape tidy rows into the (seeds, grid) matrices the statistics work on."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .stats import SlopeFit


def seed_matrix(rows: pd.DataFrame, metric: str, axis: str = "T", final: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(x, Y): x the sorted values of column ``axis`` ("T", "b" or "t"), Y: (n_seeds, n_x) of
    ``metric`` (NaN where a run diverged or is missing). ``final`` keeps only each run's t = T row."""
    r = rows[(rows["metric"] == metric) & (rows["seed"] >= 0)]
    if final:
        r = r[r["t"] == r["T"]]
    Y = r.pivot_table(index="seed", columns=axis, values="value", aggfunc="mean", dropna=False)
    return Y.columns.to_numpy(dtype=float), Y.to_numpy(dtype=float)


def theory_curve(rows: pd.DataFrame, metric: str, axis: str = "t") -> tuple[np.ndarray, np.ndarray]:
    """(x, values) of a theory row set (seed = -1), e.g. an explicit bound at checkpoints."""
    r = rows[(rows["metric"] == metric) & (rows["seed"] < 0)].sort_values(axis)
    return r[axis].to_numpy(dtype=float), r["value"].to_numpy(dtype=float)


def fit_dict(fit: SlopeFit) -> dict:
    """A SlopeFit as the JSON the reports read."""
    return {"slope": fit.slope, "intercept": fit.intercept, "ci_low": fit.ci_low, "ci_high": fit.ci_high,
            "n_points": fit.n_points, "n_seeds": fit.n_seeds, "level": fit.level}


def number(value: float, lo: float, hi: float) -> dict:
    """A measured number with its confidence interval (what the CI gate compares)."""
    return {"value": float(value), "ci_low": float(lo), "ci_high": float(hi)}
