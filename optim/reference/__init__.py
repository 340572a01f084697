"""The float64 NumPy reference: one run, one file per algorithm, each read line by line against
docs/algorithms.md. ``REFERENCE`` maps every registered algorithm to its ``run`` function; an
algorithm not in it is found by its name, ``optim/reference/<name>.py``'s ``run``. ``run_reference``
validates the hyperparameters with the shared registry and runs one."""
from __future__ import annotations

from dataclasses import replace
from functools import partial
from importlib import import_module
from typing import Callable

import numpy as np

from ..algorithms import streams
from ..registry import validate
from ..schedules import Schedule
from . import (adagrad, adagrad_norm, adam, adasam, amsgrad, asam, lets, lightsam1, lightsam2, lightsam3, sam, sgd,
               unified_sam, usam)

REFERENCE: dict[str, Callable] = {
    "sgd": sgd.run,
    "adagrad_norm": adagrad_norm.run,
    "adagrad": adagrad.run,
    "adam": adam.run,
    "amsgrad": amsgrad.run,
    "sam": sam.run,
    "usam": usam.run,
    "unified_sam": unified_sam.run,
    "asam": asam.run,
    "adasam": adasam.run,
    "lightsam1": lightsam1.run,
    "lightsam2": lightsam2.run,
    "lightsam3": lightsam3.run,
    "lets_sam": partial(lets.run, direction="sam"),
    "lets_asam": partial(lets.run, direction="asam"),
}


def run_reference(name: str, problem, samples: dict, x0, T: int, hp: dict | None = None) -> dict:
    """One run of ``name`` on pre-drawn ``samples[stream][t]`` (t = 0..T-1) from ``x0``: {"x": (T+1, d), extras}."""
    hp = validate(name, hp)
    for key, v in hp.items():
        c = v.c if isinstance(v, Schedule) else v
        if isinstance(c, (np.ndarray, list, tuple)):
            if np.size(c) != 1:
                raise ValueError(f"{key} has {np.size(c)} values: the reference runs one run, give a scalar")
            c = float(np.asarray(c).reshape(()))
            hp[key] = replace(v, c=c) if isinstance(v, Schedule) else c
    if isinstance(T, bool) or int(T) != T or T < 1:
        raise ValueError(f"T={T!r} is not allowed: must be an integer >= 1")
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.shape != (problem.d,):
        raise ValueError(f"x0 has shape {x0.shape}: expected ({problem.d},)")
    if not np.isfinite(x0).all():
        bad = x0[~np.isfinite(x0)]
        raise ValueError(f"x0 has {bad.size} non-finite entries (the first is {bad[0]}): every entry must be finite")
    for stream in streams(name, hp):
        if len(samples.get(stream, ())) < T:
            raise ValueError(f"samples[{stream!r}] has {len(samples.get(stream, ()))} steps: {name} needs {int(T)}")
    fn = REFERENCE.get(name) or import_module(f"{__name__}.{name}").run
    return fn(problem, samples, x0, int(T), **hp)
