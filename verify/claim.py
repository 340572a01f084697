"""The Claim contract: one theorem's hypotheses, schedule, measured quantity, prediction and verdict rule.

A claim file in ``verify/claims/`` builds a ``Claim`` whose ``run`` sweeps the batched engine and
returns tidy rows (see ``verify.results.COLUMNS``), and whose ``judge`` turns those rows alone into
a verdict dict, so a verdict can be recomputed from a results file without rerunning anything.
"""
from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pandas as pd
import torch

STATUSES = ("confirmed", "reconstructed")
VERDICTS = ("holds", "violated", "inconclusive")


@dataclass
class Context:
    """How a claim is run: grid size, repetitions, device, dtype, global seed, memory budget, and
    where its batches run (see verify.executors): executor 'local' (default), 'dask' (LocalCluster of
    ``workers`` processes, or the cluster at ``scheduler``) or 'slurm'; finished batches are cached
    under ``cache_dir`` (None: no cache). ``batches`` collects one provenance entry per batch.
    ``threads``: torch intra-op threads while a claim runs on the CPU (None: torch's default). One
    thread is the default: the synthetic problems' (R, d) tensors are small, and intra-op threads only
    add synchronisation (measured on a busy 2-core machine: 9.5 ms vs 0.13 ms per gradient pair at
    R = 160, d = 10)."""

    quick: bool = True
    seeds: int = 8
    device: str = "cpu"
    dtype: torch.dtype = torch.float64
    seed: int = 0
    max_memory: float = 2e9
    progress: bool = True
    executor: Any = "local"
    workers: Optional[int] = None
    scheduler: Optional[str] = None
    cache_dir: Optional[str] = None
    batches: list = field(default_factory=list, repr=False, compare=False)
    threads: Optional[int] = 1

    def derive_seed(self, *parts) -> int:
        """A 63-bit seed from (global seed, claim, problem, algorithm, batch label, ...)."""
        key = "|".join(str(p) for p in (self.seed, *parts)).encode()
        return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1


@contextlib.contextmanager
def engine_threads(ctx: Context):
    """Run the block with ``ctx.threads`` torch intra-op threads on the CPU, then restore the setting."""
    if ctx.threads is None or str(ctx.device) != "cpu":
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(ctx.threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@dataclass
class Claim:
    """One theorem claim; see CLAIMS.md. ``expected`` is what the suite should conclude when the
    implementation is right ("violated" for negative controls)."""

    id: str
    paper: str
    theorem: str
    status: str
    algorithms: tuple[str, ...]
    problem: str
    assumptions: str
    schedule: str
    measured: str
    metric: str
    prediction: str
    expected: str
    figure: str
    x: str
    tolerance: Optional[float]
    tolerance_reason: str
    fit_window: str
    grids: dict
    run: Callable[[Context], pd.DataFrame] = field(repr=False)
    judge: Callable[[pd.DataFrame], dict] = field(repr=False)
    predicted_slope: Optional[float] = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"claim {self.id}: status {self.status!r} must be one of {STATUSES}")
        if self.expected not in ("holds", "violated"):
            raise ValueError(f"claim {self.id}: expected {self.expected!r} must be holds or violated")

    def header(self) -> dict:
        """The claim's descriptive fields, as stored in verdicts.json."""
        return {"claim": self.id, "paper": self.paper, "theorem": self.theorem, "status": self.status,
                "algorithms": list(self.algorithms), "problem": self.problem, "assumptions": self.assumptions,
                "schedule": self.schedule, "metric": self.metric, "x": self.x, "prediction": self.prediction,
                "predicted_slope": self.predicted_slope, "expected": self.expected, "figure": self.figure,
                "tolerance": self.tolerance, "tolerance_reason": self.tolerance_reason,
                "fit_window": self.fit_window}

    def execute(self, ctx: Context) -> pd.DataFrame:
        """``run(ctx)`` with the context's engine thread setting."""
        with engine_threads(ctx):
            return self.run(ctx)

    def verdict(self, rows: pd.DataFrame) -> dict:
        """Header plus the judged verdict (verdict, reason, estimate, CI, regime map, ...)."""
        mine = rows[rows["claim"] == self.id]
        out = self.header()
        out.update({"estimate": None, "ci_low": None, "ci_high": None, "bound_margin": None, "fit": None,
                    "regime_map": [], "measured": ""})
        res = mine[mine["seed"] >= 0]
        finals = res[res["t"] == res["T"]]
        runs = finals.drop_duplicates(["algorithm", "point", "seed", "T", "b"])
        out["n_runs"] = int(len(runs))
        out["n_diverged"] = int(runs["diverged"].sum())
        out.update(self.judge(mine))
        if out["verdict"] not in VERDICTS:
            raise ValueError(f"claim {self.id}: judge returned verdict {out['verdict']!r}")
        return out
