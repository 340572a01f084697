"""Sweeps: a claim's grid points x seeds stacked along the run axis of as few engine calls as fit.

Runs of the same seed index share their random samples (common random numbers across the grid),
and a grid split into chunks to fit the memory budget draws exactly the same samples, because every
chunk draws one row per seed from a generator seeded by (claim, problem, algorithm, label).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
import pandas as pd

from optim.schedules import Schedule

from .claim import Context
from .executors import Batch, run_batches
from .finals import check as check_finals


@dataclass
class Point:
    """One grid point: a label, the hyperparameters (scalars or Schedules), horizon T, batch size b;
    ``info`` goes into the rows' params, ``name`` is the algorithm name written in the rows (default:
    the algorithm run, e.g. "sgd" for a SAM point with rho = 0)."""

    label: str
    hp: dict
    T: int
    b: int = 1
    info: dict = field(default_factory=dict)
    name: Optional[str] = None


def stack_points(points: list[Point], seeds: int) -> dict:
    """Per-run hyperparameters for points x seeds: arrays of length len(points) * seeds."""
    hp = {}
    keys = points[0].hp.keys()
    for k in keys:
        vals = [p.hp[k] for p in points]
        first = vals[0]
        if isinstance(first, Schedule):
            c = np.repeat([float(v.c) for v in vals], seeds)
            hp[k] = Schedule(first.kind, c, first.mu, first.t0)
        elif isinstance(first, (str, bool)) or first is None:
            if any(v != first for v in vals):
                raise ValueError(f"option {k} differs between grid points of one batch")
            hp[k] = first
        else:
            hp[k] = np.repeat(np.asarray(vals, dtype=np.float64), seeds)
    return hp


def bytes_per_run(d: int, T_max: int, n_ckpt: int = 24, itemsize: int = 8) -> float:
    """A generous estimate of engine memory per run: ~16 (R, d) tensors alive during a step."""
    return itemsize * (16 * d + 40 * n_ckpt)


def run_points(ctx: Context, claim: str, algorithm: str, problem, sampler, points: list[Point], *,
               problem_name: str, sampler_name: Optional[str] = None, x0=None, val_sampler=None,
               checkpoints=None, label: str = "", replicas: int = 1, finals=()) -> pd.DataFrame:
    """Run every point with ctx.seeds repetitions and return the tidy rows (results.COLUMNS).

    ``finals``: names of per-run statistics of the trace (``verify.finals``: the final iterate's
    validation loss, the trajectory's max |x|) added as rows at t = T.

    ``replicas`` > 1: each seed's value is the mean of that many independent runs (``mean_replicas``),
    for claims whose per-seed quantity is too noisy from one run (its CI would straddle any margin)."""
    if replicas > 1:
        wide = replace(ctx, seeds=ctx.seeds * replicas, batches=ctx.batches)
        points = [replace(p, info={**p.info, "replicas": replicas}) for p in points]   # counted by Claim.verdict
        return mean_replicas(run_points(wide, claim, algorithm, problem, sampler, points, problem_name=problem_name,
                                        sampler_name=sampler_name, x0=x0, val_sampler=val_sampler,
                                        checkpoints=checkpoints, label=label, finals=finals), replicas)
    finals = check_finals(finals)
    K = ctx.seeds
    per_chunk = max(1, int(ctx.max_memory // (bytes_per_run(problem.d, max(p.T for p in points)) * K)))
    seed = ctx.derive_seed(claim, problem_name, algorithm, label)
    batches = []
    for index, start in enumerate(range(0, len(points), per_chunk)):
        chunk = points[start:start + per_chunk]
        hp = stack_points(chunk, K)
        T = np.repeat([p.T for p in chunk], K)
        groups = np.tile(np.arange(K), len(chunk))
        meta = pd.DataFrame({
            "claim": claim, "algorithm": np.repeat([p.name or algorithm for p in chunk], K), "problem": problem_name,
            "sampler": sampler_name or sampler.name,
            "point": np.repeat([p.label for p in chunk], K),
            "params": np.repeat([json.dumps({**_plain(p.hp), "b": p.b, **p.info}, sort_keys=True) for p in chunk], K),
            "seed": groups, "T": T, "b": np.repeat([p.b for p in chunk], K)})
        batches.append(Batch(claim=claim, label=label, index=index, algorithm=algorithm, problem=problem,
                             problem_name=problem_name, sampler=sampler, hp=hp, T=T, groups=groups, seed=seed,
                             meta=meta, device=ctx.device, dtype=ctx.dtype, x0=x0, checkpoints=checkpoints,
                             val_sampler=val_sampler, compile=ctx.compile, finals=finals,
                             implementation=ctx.implementations.get(algorithm)))
    # each chunk is one unit of work for ctx's executor (local, dask, slurm), cached when ctx.cache_dir is set
    return run_batches(ctx, batches)

def mean_replicas(rows: pd.DataFrame, replicas: int) -> pd.DataFrame:
    """Rows of runs with seeds 0 ... m K - 1 as rows of K seeds: seed j is the mean of runs j m ... j m + m - 1
    (m = ``replicas``; consecutive, so blocks of seeds stay independent repeats for verify.power), NaN when
    any of them is NaN and diverged when any diverged (a diverged run is never averaged away)."""
    rows = rows.assign(seed=rows["seed"] // replicas)
    keys = [c for c in rows.columns if c not in ("value", "diverged")]
    out = rows.assign(missing=rows["value"].isna()).groupby(keys, sort=False).agg(
        value=("value", "mean"), missing=("missing", "any"), diverged=("diverged", "any")).reset_index()
    out.loc[out["missing"], "value"] = np.nan
    return out[rows.columns]


def _plain(hp: dict) -> dict:
    out = {}
    for k, v in hp.items():
        if isinstance(v, Schedule):
            out[k] = {"schedule": v.kind, "c": float(np.asarray(v.c)), "t0": v.t0, **({"mu": v.mu} if v.mu else {})}
        elif isinstance(v, (np.floating, np.integer)):
            out[k] = v.item()
        else:
            out[k] = v
    return out


def theory_rows(claim: str, algorithm: str, problem: str, sampler: str, point: str, T: int, b: int,
                t, metric: str, values) -> pd.DataFrame:
    """Rows of a theoretical curve (seed = -1): a bound at checkpoints t, or a constant floor."""
    t = np.atleast_1d(t)
    return pd.DataFrame({"claim": claim, "algorithm": algorithm, "problem": problem, "sampler": sampler,
                         "point": point, "params": "{}", "seed": -1, "T": T, "b": b, "t": t, "metric": metric,
                         "value": np.broadcast_to(np.asarray(values, dtype=float), t.shape), "diverged": False})
