"""Reshape tidy rows into the (seeds, grid) matrices the statistics work on, and assemble the parts of
a verdict from per-point entries (dicts with point, verdict, estimate, ci_low, ci_high, reason, p_value)."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import pandas as pd

from .stats import SlopeFit, holm

REGIME_KEYS = ("point", "verdict", "estimate", "ci_low", "ci_high", "reason")


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


def holm_demote(entries: list[dict], alpha: float, counts: Callable[[dict], bool] = lambda e: True) -> None:
    """Family-wise control of "violated" over grid points: an entry's "violated" (for which ``counts``)
    stands only where Holm at ``alpha`` over every entry's ``p_value`` rejects; else "inconclusive"."""
    for e, reject in zip(entries, holm([e["p_value"] for e in entries], alpha)):
        if e["verdict"] == "violated" and counts(e) and not reject:
            e["verdict"] = "inconclusive"
            e["reason"] = f"not rejected by Holm at {alpha:g} (p = {e['p_value']:.3g}): {e['reason']}"


def worst(entries: Iterable[dict]) -> dict:
    """The entry with the largest CI upper limit (an undefined one counts as the largest), then estimate."""
    return max(entries, key=lambda e: (np.nan_to_num(e["ci_high"], nan=np.inf), e["estimate"]))


def regime_map(entries: list[dict]) -> list[dict]:
    """The per-point verdicts as stored in verdicts.json."""
    return [{k: e[k] for k in REGIME_KEYS} for e in entries]
