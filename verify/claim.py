"""The Claim contract: one theorem's hypotheses, schedule, measured quantity, prediction and verdict rule.

A claim file in ``verify/claims/`` builds a ``Claim`` whose ``run`` sweeps the batched engine and
returns tidy rows (see ``verify.results.COLUMNS``), and whose ``judge`` turns those rows alone into
a verdict dict, so a verdict can be recomputed from a results file without rerunning anything.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

import pandas as pd
import torch

from .stats import VERDICTS

STATUSES = ("confirmed", "reconstructed")


@dataclass
class Context:
    """How a claim is run: grid size, repetitions, device, dtype, global seed, memory budget, and
    where its batches run (see verify.executors): executor 'local' (default), 'dask' (LocalCluster of
    ``workers`` processes, or the cluster at ``scheduler``) or 'slurm'; finished batches are cached
    under ``cache_dir`` (None: no cache). ``batches`` collects one provenance entry per batch.
    ``implementations``: {algorithm: "MODULE:NAME"}, a user's optimizer run in place of a built-in algorithm
    (``verify.user_rule``; the eager loop). ``compile``: the engine's compiled loop (``optim.batched.blocks``; False: the eager loop, same samples,
    round-off apart). ``threads``: torch intra-op threads while a claim runs on the CPU (None: torch's default). One
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
    compile: bool = True
    implementations: dict = field(default_factory=dict)

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


@dataclass(frozen=True)
class Counterfeit:
    """A known-false variant of a claim, which its verdict rule must be able to reject.

    It is an ordinary configuration of the claim: the claim's ``run(ctx, **run)`` and
    ``judge(rows, **judge)`` with a few keyword settings changed (a slower schedule, a constant step,
    a bound with a term dropped, the mechanism switched off). ``change`` says what differs from the
    true configuration; ``behaviour`` is what the mathematics gives the variant (derived, never fitted
    to its output), hence its ``expected`` verdict: "violated" for a counterfeit of a claim that
    holds; "holds" for a negative control's variant in which the stated claim becomes true.
    """

    name: str
    change: str
    behaviour: str
    run: dict = field(default_factory=dict)
    judge: dict = field(default_factory=dict)
    expected: str = "violated"

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"counterfeit name {self.name!r} must be an identifier (letters, digits, _)")
        if self.expected not in ("holds", "violated"):
            raise ValueError(f"counterfeit {self.name}: expected {self.expected!r} must be holds or violated")


@dataclass
class Claim:
    """One theorem claim; see docs/claims.md. ``expected`` is what the suite should conclude when the
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
    run: Callable[[Context], pd.DataFrame] = field(repr=False)
    judge: Callable[[pd.DataFrame], dict] = field(repr=False)
    predicted_slope: Optional[float] = None
    counterfeits: tuple[Counterfeit, ...] = ()
    counterfeit_of: Optional[str] = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"claim {self.id}: status {self.status!r} must be one of {STATUSES}")
        if self.expected not in ("holds", "violated"):
            raise ValueError(f"claim {self.id}: expected {self.expected!r} must be holds or violated")
        names = [c.name for c in self.counterfeits]
        if len(set(names)) != len(names):
            raise ValueError(f"claim {self.id}: counterfeit names {names} repeat")

    def counterfeit(self, name: str) -> "Claim":
        """The counterfeit ``name`` as a claim of its own: id ``<claim id>~<name>``, the same run and
        judge with its settings, its expected verdict. Its runs draw the same samples as the true
        claim's (the sweep seeds them by the true claim's id), so the two are compared on common noise."""
        by_name = {c.name: c for c in self.counterfeits}
        if name not in by_name:
            raise ValueError(f"claim {self.id} has no counterfeit {name!r}: choose from "
                             f"{', '.join(by_name) or '(none declared)'}")
        cf = by_name[name]
        cid = f"{self.id}~{cf.name}"
        run, judge = self.run, self.judge

        def run_counterfeit(ctx: Context) -> pd.DataFrame:
            return run(ctx, **cf.run).assign(claim=cid)

        def judge_counterfeit(rows: pd.DataFrame) -> dict:
            return judge(rows, **cf.judge)

        return replace(self, id=cid, expected=cf.expected, run=run_counterfeit, judge=judge_counterfeit,
                       prediction=f"[counterfeit: {cf.change}] {cf.behaviour}", counterfeits=(),
                       counterfeit_of=self.id)

    def variants(self) -> list["Claim"]:
        """The claim itself, then each of its counterfeits as a claim."""
        return [self] + [self.counterfeit(c.name) for c in self.counterfeits]

    def header(self) -> dict:
        """The claim's descriptive fields, as stored in verdicts.json."""
        return {"claim": self.id, "paper": self.paper, "theorem": self.theorem, "status": self.status,
                "algorithms": list(self.algorithms), "problem": self.problem, "assumptions": self.assumptions,
                "schedule": self.schedule, "metric": self.metric, "x": self.x, "prediction": self.prediction,
                "predicted_slope": self.predicted_slope, "expected": self.expected, "figure": self.figure,
                "tolerance": self.tolerance, "tolerance_reason": self.tolerance_reason,
                "fit_window": self.fit_window, "counterfeit_of": self.counterfeit_of,
                "counterfeits": [{"name": c.name, "change": c.change, "behaviour": c.behaviour,
                                  "expected": c.expected} for c in self.counterfeits]}

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
        replicas = runs["params"].map(lambda s: json.loads(s).get("replicas", 1))
        out["n_runs"] = int(replicas.sum())                 # engine runs: a seed's value may average replicas
        out["n_diverged"] = int(runs["diverged"].sum())     # seed values with a diverged run
        out.update(self.judge(mine))
        if out["verdict"] not in VERDICTS:
            raise ValueError(f"claim {self.id}: judge returned verdict {out['verdict']!r}")
        return out
