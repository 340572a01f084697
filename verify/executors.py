"""Where sweep batches run: in-process (local), on a dask.distributed cluster, or on SLURM via submitit.

A batch is one engine call of ``verify.sweep.run_points`` (a chunk of grid points x seeds that fits
the memory budget). Batches are independent and deterministic: every chunk of a grid draws its
samples from a generator seeded by (claim, problem, algorithm, label), so the merged table is the
same, bit for bit on the same hardware, whichever executor ran which batch and in which order.
Finished batches are written to a ``verify.cache.BatchCache`` (when ``ctx.cache_dir`` is set) as
they complete, and a rerun skips them. Each batch is logged in ``ctx.batches`` (claim, label, chunk,
worker, hostname, device, wall time, cached or computed) for the provenance file.

dask and submitit are optional: ``pip install -e ".[distributed]"``.
"""
from __future__ import annotations

import contextlib
import os
import platform
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd
import torch

EXECUTORS = ("local", "dask", "slurm")
EXTRA = 'pip install -e ".[distributed]"'


class MissingExtra(ImportError):
    """An optional dependency of an executor is not installed (one-line message)."""


@dataclass
class Batch:
    """One unit of work: the arguments of one engine call and the per-run metadata of its rows."""

    claim: str
    label: str
    index: int
    algorithm: str
    problem: Any
    problem_name: str
    sampler: Any
    hp: dict
    T: np.ndarray
    groups: np.ndarray
    seed: int
    meta: pd.DataFrame
    device: str = "cpu"
    dtype: torch.dtype = torch.float64
    x0: Any = None
    checkpoints: Any = None
    val_sampler: Any = None
    threads: Optional[int] = None
    compile: bool = True
    finals: tuple = ()
    implementation: Optional[str] = None


def run_batch(batch: Batch) -> tuple[pd.DataFrame, dict]:
    """Run one batch (on whatever process this is) and return its tidy rows and where it ran."""
    from optim.batched import run as engine_run

    from . import finals
    from .results import trace_rows
    if batch.threads:
        torch.set_num_threads(batch.threads)
    started = time.perf_counter()
    with _implemented(batch) as made:
        trace = engine_run(batch.algorithm, batch.problem, batch.sampler, batch.hp, T=batch.T, R=len(batch.T),
                           x0=batch.x0, seed=batch.seed, device=batch.device, dtype=batch.dtype,
                           checkpoints=batch.checkpoints, val_sampler=batch.val_sampler, groups=batch.groups,
                           trajectory=bool(finals.NEEDS_TRAJECTORY.intersection(batch.finals)),
                           compile=batch.compile and not batch.implementation)
    trace.final.update(finals.compute(batch.finals, trace, batch.problem))
    rows = trace_rows(trace, batch.meta)
    info = {"implementation": f"{batch.implementation}: {made[0].mode}"} if made else {}
    return rows, {"wall_s": round(time.perf_counter() - started, 4), **_where(batch.device), **info}


def _implemented(batch: Batch):
    """The engine builds batch.algorithm's rule from the user's optimizer (``verify.user_rule``) in the block,
    which yields the list of rules made; a no-op without an implementation."""
    if not batch.implementation:
        return contextlib.nullcontext([])
    from .user_rule import implemented_by, load
    return implemented_by(batch.algorithm, load(batch.implementation))


def _where(device: str) -> dict:
    worker = "local"
    try:
        from distributed import get_worker
        worker = get_worker().address
    except (ImportError, ValueError):
        if os.environ.get("SLURM_JOB_ID"):
            worker = "slurm:" + os.environ["SLURM_JOB_ID"] + (
                "_" + os.environ["SLURM_ARRAY_TASK_ID"] if os.environ.get("SLURM_ARRAY_TASK_ID") else "")
    dev = torch.device(device)
    name = (torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine()))
    return {"worker": worker, "hostname": socket.gethostname(), "pid": os.getpid(), "device": str(dev),
            "device_name": name, "torch_threads": torch.get_num_threads()}


# ---------------------------------------------------------------------------------------------- executors

class Executor:
    """``run(fn, items, on_done)``: apply fn to every item, calling ``on_done(i, result)`` in this
    process as each finishes (any order); raise the first failure after cancelling what is left."""

    name = "executor"

    def describe(self) -> dict:
        return {"executor": self.name}

    def run(self, fn: Callable, items: list, on_done: Callable[[int, Any], None]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class LocalExecutor(Executor):
    """In-process, one batch after the other (the default; what the tests use)."""

    name = "local"

    def run(self, fn, items, on_done):
        for i, item in enumerate(items):
            on_done(i, fn(item))


class DaskExecutor(Executor):
    """dask.distributed: an existing cluster (``scheduler`` address) or a LocalCluster of ``workers``
    single-threaded processes (default: one per CPU)."""

    name = "dask"

    def __init__(self, workers: Optional[int] = None, scheduler: Optional[str] = None):
        distributed = require("dask")
        self.scheduler = scheduler
        self.cluster = None
        if scheduler:
            self.client = distributed.Client(scheduler)
            self.threads = None
        else:
            n = int(workers or os.cpu_count() or 1)
            self.cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                    dashboard_address=None)
            self.client = distributed.Client(self.cluster)
            self.threads = max(1, (os.cpu_count() or 1) // n)   # no oversubscription on this machine
        self.workers = workers

    def describe(self):
        info = self.client.scheduler_info()
        return {"executor": self.name, "scheduler": info.get("address"),
                "workers": sorted(info.get("workers", {}))}

    def run(self, fn, items, on_done):
        from distributed import as_completed
        if self.threads:
            for b in items:
                if isinstance(b, Batch) and b.threads is None:
                    b.threads = self.threads
        futures = self.client.map(fn, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                on_done(index[fut.key], fut.result())
        except BaseException:
            self.client.cancel(futures)
            raise

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class SlurmExecutor(Executor):
    """SLURM through submitit: one array job per sweep call, a task per batch. Settings from the
    environment: SAMCHECK_SLURM_PARTITION, SAMCHECK_SLURM_TIMEOUT_MIN (default 60),
    SAMCHECK_SLURM_CPUS (default 1), SAMCHECK_SLURM_GPUS (default 0; 1 with --device cuda);
    ``workers`` caps the tasks running at once; logs under ``folder``."""

    name = "slurm"

    def __init__(self, workers: Optional[int] = None, folder: str = "results/.submitit", device: str = "cpu"):
        submitit = require("slurm")
        self.folder = folder
        self.ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        params = {"timeout_min": int(os.environ.get("SAMCHECK_SLURM_TIMEOUT_MIN", 60)),
                  "cpus_per_task": int(os.environ.get("SAMCHECK_SLURM_CPUS", 1)),
                  "gpus_per_node": int(os.environ.get("SAMCHECK_SLURM_GPUS", 1 if device.startswith("cuda") else 0))}
        if os.environ.get("SAMCHECK_SLURM_PARTITION"):
            params["slurm_partition"] = os.environ["SAMCHECK_SLURM_PARTITION"]
        if workers:
            params["slurm_array_parallelism"] = int(workers)
        self.ex.update_parameters(**params)

    def describe(self):
        return {"executor": self.name, "folder": self.folder}

    def run(self, fn, items, on_done):
        jobs = self.ex.map_array(fn, items)
        pending = dict(enumerate(jobs))
        try:
            while pending:
                for i in [i for i, j in pending.items() if j.done()]:
                    on_done(i, pending.pop(i).result())
                if pending:
                    time.sleep(2.0)
        except BaseException:
            for j in pending.values():
                try:
                    j.cancel(check=False)
                except Exception:
                    pass
            raise


def require(kind: str):
    """Import the optional module an executor needs, or raise MissingExtra with a one-line message."""
    try:
        if kind == "dask":
            import dask.distributed as mod
        elif kind == "slurm":
            import submitit as mod
        else:
            return None
    except ImportError:
        what = "dask.distributed" if kind == "dask" else "submitit"
        raise MissingExtra(f"--executor {kind} needs {what}, which is not installed: {EXTRA}") from None
    return mod


_OPEN: dict = {}


def get_executor(ctx) -> Executor:
    """The executor of a Context (an Executor instance, or 'local' / 'dask' / 'slurm'); dask clients
    and clusters are started once and reused until ``close_all()``."""
    kind = getattr(ctx, "executor", "local") or "local"
    if isinstance(kind, Executor):
        return kind
    if kind == "local":
        return LocalExecutor()
    if kind not in EXECUTORS:
        raise ValueError(f"executor {kind!r}: must be one of {', '.join(EXECUTORS)}")
    key = (kind, ctx.workers, ctx.scheduler, ctx.cache_dir, ctx.device)
    if key not in _OPEN:
        if kind == "dask":
            _OPEN[key] = DaskExecutor(ctx.workers, ctx.scheduler)
        else:
            folder = os.path.join(os.path.dirname(str(ctx.cache_dir)) if ctx.cache_dir else "results", ".submitit")
            _OPEN[key] = SlurmExecutor(ctx.workers, folder, ctx.device)
    return _OPEN[key]


def close_all() -> None:
    """Shut down every dask client/cluster this process started."""
    while _OPEN:
        _, ex = _OPEN.popitem()
        try:
            ex.close()
        except Exception:
            pass


def run_batches(ctx, batches: list[Batch]) -> pd.DataFrame:
    """Run batches through ctx's executor, skipping the ones in ctx's cache, caching each as it
    finishes, logging each in ctx.batches; the rows concatenated in batch order."""
    from .cache import BatchCache, batch_key
    cache = BatchCache(ctx.cache_dir) if getattr(ctx, "cache_dir", None) else None
    log = getattr(ctx, "batches", None)
    results: list = [None] * len(batches)
    keys = [batch_key(b) for b in batches] if cache is not None else [None] * len(batches)
    todo = []
    for i, (b, key) in enumerate(zip(batches, keys)):
        hit = cache.load(key) if cache is not None else None
        if hit is not None:
            results[i] = hit[0]
            _log(log, b, key, {**hit[1], "cached": True})
            _progress(log, b, {**hit[1], "cached": True}, results, len(batches))
        else:
            todo.append(i)
    if todo:
        ex = get_executor(ctx)

        def done(j: int, out):
            i = todo[j]
            rows, info = out
            info = {**info, "executor": ex.name}
            results[i] = rows
            if cache is not None:
                cache.save(keys[i], rows, info)
            _log(log, batches[i], keys[i], {**info, "cached": False})
            _progress(log, batches[i], {**info, "cached": False}, results, len(batches))

        ex.run(run_batch, [batches[i] for i in todo], done)
    return pd.concat(results, ignore_index=True)


def _progress(log, b: Batch, info: dict, results: list, total: int) -> None:
    """The progress hook: ``ctx.batches.on_batch(batch, info, finished, total)`` when the batch log
    carries one (``verify.progress.BatchLog``; the log is shared by every copy of the Context)."""
    hook = getattr(log, "on_batch", None)
    if hook is not None:
        hook(b, info, sum(r is not None for r in results), total)


def _log(log, b: Batch, key, info: dict) -> None:
    if log is None:
        return
    log.append({"claim": b.claim, "problem": b.problem_name, "algorithm": b.algorithm, "label": b.label,
                "chunk": b.index, "runs": int(len(b.T)), "key": key[:16] if key else None,
                **{k: info.get(k) for k in ("cached", "executor", "worker", "hostname", "pid", "device",
                                            "device_name", "torch_threads", "wall_s", "implementation")}})
