"""What the engine records: the running sums of ||grad f(x_t)||^2, the rule's extras, the metrics at
the checkpoints, the trajectory when asked, the final values at each run's horizon, packed in a Trace."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch

from .bookkeeping import DivergenceGuard, running_sums
from .inputs import Inputs

METRICS = ("f_gap", "grad_sq", "dist_sq", "grad_sq_avg", "grad_sq_min")


@dataclass
class Trace:
    """What a batched run records.

    t: (K,) checkpoint iterations; metrics[name]: (K, R) values of x_t at each checkpoint
    (f_gap = f(x_t) - f_inf, grad_sq = ||grad f(x_t)||^2, dist_sq = ||x_t - x*||^2, grad_sq_avg =
    (1/t) sum_{s<t} ||grad f(x_s)||^2, grad_sq_min = min_{s<=t}, and the rule's extras such as rho,
    eff_radius, step_min/step_max), NaN after a run diverged; final[name]: (R,) the same at each
    run's own horizon T_r plus grad_sq_tail_avg (average over T_r/2 <= s < T_r); diverged: (R,) bool;
    diverged_at: (R,) step of divergence (-1 if none); x: (R, d) final iterates; trajectory:
    (T+1, R, d) iterates when asked, with extras_trajectory[name]: (T, R)."""

    t: np.ndarray
    metrics: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    diverged: np.ndarray
    diverged_at: np.ndarray
    T: np.ndarray
    x: np.ndarray
    trajectory: Optional[np.ndarray] = None
    extras_trajectory: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_diverged(self) -> int:
        return int(self.diverged.sum())


def log_checkpoints(T: int, n: int = 20) -> np.ndarray:
    """About n log-spaced iterations in [0, T], always including 0, 1 and T."""
    pts = np.geomspace(1, max(T, 1), max(n - 1, 1)).round().astype(int)
    return np.unique(np.r_[0, 1, pts, T].clip(0, T))


class Recorder:
    """The records of one call, all (R,) tensors: gsum, gmin, tail (sum over t >= T_r/2) of
    ||grad f(x_t)||^2 when ``running``; extras {name: (R,)}, the rule's extras of each run's last kept
    step (NaN before its first); checkpoint metrics; the trajectory (x: (R, d) per step) when asked."""

    def __init__(self, problem, rule, inputs: Inputs, checkpoints: Optional[Sequence[int]], running: bool,
                 trajectory: bool):
        x, R, T_max = inputs.x, inputs.R, inputs.T_max
        like = {"dtype": x.dtype, "device": x.device}
        self.problem, self.inputs, self.running, self.T_max = problem, inputs, running, T_max
        self.ckpts = np.unique(np.clip(log_checkpoints(T_max) if checkpoints is None else np.asarray(checkpoints),
                                       0, T_max))
        self._ckpt_set = set(self.ckpts.tolist())
        self.f_inf = problem.f_inf if problem.f_inf is not None else 0.0
        self.gsum, self.tail = torch.zeros(R, **like), torch.zeros(R, **like)
        self.gmin = torch.full((R,), float("inf"), **like)
        self.tail_start = torch.div(inputs.T_run, 2, rounding_mode="floor")
        self.extras = {k: torch.full((R,), float("nan"), **like) for k in rule.extras}
        self.extras.update({k: v.clone() for k, v in rule.out.items()})
        self._metrics = {k: [] for k in METRICS + tuple(self.extras)}
        self._traj = [x.clone()] if trajectory else None
        self._extras_traj = {k: [] for k in self.extras} if trajectory else {}

    def next_stop(self, t: int) -> int:
        """The first checkpoint after t, or T_max."""
        later = self.ckpts[self.ckpts > t]
        return min(self.T_max, int(later[0])) if later.size else self.T_max

    def accumulate(self, x: torch.Tensor, t: int, active: Optional[torch.Tensor]) -> None:
        """Add ||grad f(x_t)||^2 (x: (R, d)) of the active runs to the running sums, when ``running``."""
        if self.running:
            self.gsum, self.gmin, self.tail = running_sums(self.problem, x, t, active, self.tail_start,
                                                           self.gsum, self.gmin, self.tail)

    def step(self, x: torch.Tensor, out: dict[str, torch.Tensor], keep: Optional[torch.Tensor]) -> None:
        """After a step: the rule's extras ``out`` of the kept runs (keep: (R,) bool, None for all), and
        the new iterates x: (R, d) on the trajectory."""
        if keep is None:
            self.extras.update(out)
        else:
            for k, v in out.items():
                self.extras[k] = torch.where(keep, v, self.extras[k])
        if self._traj is not None:
            self._traj.append(x.clone())
            for k in self.extras:
                self._extras_traj[k].append(self.extras[k].cpu().numpy())

    def checkpoint(self, t: int, x: torch.Tensor, diverged: torch.Tensor) -> None:
        """The metrics of x_t (x: (R, d)) if t is a checkpoint, NaN for the diverged runs."""
        if t not in self._ckpt_set:
            return
        T_run = self.inputs.T_run
        avg = (self.gsum / torch.clamp(torch.minimum(T_run, torch.tensor(t, device=T_run.device)), min=1) if t > 0
               else torch.full_like(self.gsum, float("nan")))
        for k, v in {**self._values(x, avg), **self.extras}.items():
            self._metrics[k].append(torch.where(diverged, float("nan"), v).cpu().numpy())

    def trace(self, x: torch.Tensor, guard: DivergenceGuard) -> Trace:
        """Everything recorded, with the final values at each run's horizon (x: (R, d) the last iterates)."""
        T_run, R, dtype = self.inputs.T_run, self.inputs.R, x.dtype
        final = {**self._values(x, self.gsum / T_run.to(dtype)),
                 "grad_sq_tail_avg": self.tail / (T_run - self.tail_start).to(dtype), **self.extras}
        final = {k: torch.where(guard.diverged, float("nan"), v).cpu().numpy() for k, v in final.items()}
        if not self.running:
            for k in ("grad_sq_avg", "grad_sq_min", "grad_sq_tail_avg"):
                final[k][:] = np.nan
        trajectory = torch.stack(self._traj).cpu().numpy() if self._traj is not None else None
        return Trace(t=self.ckpts, metrics={k: np.stack(v) for k, v in self._metrics.items()}, final=final,
                     diverged=guard.diverged.cpu().numpy(), diverged_at=guard.div_at.cpu().numpy(),
                     T=np.broadcast_to(self.inputs.T, (R,)).copy(), x=x.cpu().numpy(), trajectory=trajectory,
                     extras_trajectory={k: np.stack(v) for k, v in self._extras_traj.items()})

    def _values(self, x: torch.Tensor, grad_sq_avg: torch.Tensor) -> dict[str, torch.Tensor]:
        """The metrics of x: (R, d), each (R,), with the running average given."""
        gsq = (self.problem.grad(x) ** 2).sum(-1)
        return {"f_gap": self.problem.f(x) - self.f_inf, "grad_sq": gsq, "dist_sq": self.problem.dist_sq(x),
                "grad_sq_avg": grad_sq_avg, "grad_sq_min": torch.minimum(self.gmin, gsq)}
