"""Per-run statistics of an engine Trace beyond its checkpoint metrics, asked for by name in a sweep
(``verify.sweep.run_points(..., finals=(...))``) and computed where the batch runs, so that claims which
need final iterates or trajectories still go through the executors, the cache and the provenance log.

Each is stored as a results row at t = T_r with the statistic's name as ``metric``; a diverged run's
value is NaN (its row keeps diverged = True).
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def val_loss(trace, problem) -> np.ndarray:
    """f_val(x_T): the validation loss of the final iterate, (R,); needs ``problem.val``."""
    return np.asarray(problem.val.f(trace.x), dtype=float)


def x_inf_max(trace, problem) -> np.ndarray:
    """max_t ||x_t||_inf over the run's trajectory (t = 0 ... T_r), (R,)."""
    return np.nanmax(np.abs(trace.trajectory), axis=(0, 2))


FINALS: dict[str, Callable] = {"val_loss": val_loss, "x_inf_max": x_inf_max}
NEEDS_TRAJECTORY = frozenset({"x_inf_max"})


def check(names) -> tuple[str, ...]:
    """``names`` as a tuple, each one of FINALS (ValueError naming the bad one otherwise)."""
    names = tuple(names)
    for n in names:
        if n not in FINALS:
            raise ValueError(f"final statistic {n!r}: must be one of {', '.join(sorted(FINALS))}")
    return names


def compute(names, trace, problem) -> dict[str, np.ndarray]:
    """{name: (R,) values} of the asked statistics, NaN where the run diverged."""
    return {n: np.where(trace.diverged, np.nan, FINALS[n](trace, problem)) for n in names}
