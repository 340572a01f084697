"""Helpers shared by the optim test modules: pre-drawn samples for both backends, one run's hyperparameters."""
import numpy as np
import torch

from optim import Schedule
from problems import draw_steps
from problems.sample import Sample


def pre_draw(problem, sampler, names, T: int, R: int, seed: int = 0) -> dict:
    """Pre-drawn batched samples for the streams ``names`` (V from the validation problem, Z Rademacher)."""
    out = {}
    val = getattr(problem, "val", None) or problem
    for k, stream in enumerate(names):
        if stream == "Z":
            g = torch.Generator().manual_seed(seed + 99)
            out[stream] = [Sample(noise=torch.randint(0, 2, (R, problem.d), generator=g).double() * 2 - 1)
                           for _ in range(T)]
        else:
            out[stream] = draw_steps(sampler, val if stream == "V" else problem, T, R, seed + k)
    return out


def one_run(hp: dict, r: int) -> dict:
    """Run r's hyperparameters (scalars, Schedules with a scalar c) from a batch's (R,) arrays."""
    def pick(v):
        if isinstance(v, Schedule):
            c = np.atleast_1d(v.c)
            return Schedule(v.kind, float(c[r] if c.size > 1 else c[0]), v.mu, v.t0)
        if isinstance(v, np.ndarray):
            return float(v[r] if v.size > 1 else v.reshape(-1)[0])
        return v
    return {k: pick(v) for k, v in hp.items()}
