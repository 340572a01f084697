"""The per-step bookkeeping both engine loops do around a rule's step: running sums of ||grad f||^2
and the divergence masks (the eager loop in ``engine``, the compiled one in ``blocks``), and the eager
loop's divergence guard."""
from __future__ import annotations

import math
from typing import Optional

import torch


def running_sums(problem, x: torch.Tensor, t, active: torch.Tensor, tail_start: torch.Tensor,
                 gsum: torch.Tensor, gmin: torch.Tensor, tail: torch.Tensor):
    """Add ||grad f(x_t)||^2 of the active runs to the running sum, minimum and tail sum (t >= T_r/2).
    All (R,); returns the new (gsum, gmin, tail)."""
    gsq = (problem.grad(x) ** 2).sum(-1)
    return (torch.where(active, gsum + gsq, gsum), torch.where(active, torch.minimum(gmin, gsq), gmin),
            torch.where(active & (t >= tail_start), tail + gsq, tail))


def mask_diverged(x: torch.Tensor, x_new: torch.Tensor, t, active: torch.Tensor, blowup: float,
                  diverged: torch.Tensor, div_at: torch.Tensor):
    """Flag the active runs whose x_new is non-finite or above ``blowup`` in max-norm at step t, and
    keep x_new only for the active runs that did not. Returns (x, keep: (R,), diverged, div_at)."""
    bad = active & ~(torch.isfinite(x_new).all(-1) & (x_new.abs().amax(-1) <= blowup))
    keep = active & ~bad
    return torch.where(keep[:, None], x_new, x), keep, diverged | bad, torch.where(bad, t, div_at)


class DivergenceGuard:
    """Which runs are live, and which new iterates are kept. diverged: (R,) bool; div_at: (R,) the
    step each run diverged at (-1 if none); T_run: (R,) horizons. A run is active at step t while
    t < T_r and it has not diverged; a diverged run is frozen at its last good iterate.

    The CPU fast path (bit-identical to the masks): while every run shares one horizon and none has
    diverged, all runs are active, so one global check -blowup <= min x, max x <= blowup (False for
    NaN/inf when blowup is finite) replaces the isfinite test and the per-run torch.where masks; the
    first flagged step falls back to the masks for good (``fast`` is then False). vector_norm(ord=inf)
    in place of the masks' reductions would be 7x slower on CPU."""

    def __init__(self, T_run: torch.Tensor, T_max: int, blowup: float):
        R, device = T_run.shape[0], T_run.device
        self.T_run, self.blowup = T_run, blowup
        self.diverged = torch.zeros(R, dtype=torch.bool, device=device)
        self.div_at = torch.full((R,), -1, dtype=torch.long, device=device)
        self.fast = device.type == "cpu" and bool((T_run == T_max).all()) and math.isfinite(blowup)

    def active(self, t: int) -> torch.Tensor:
        """(R,) bool: the runs that take step t."""
        return (t < self.T_run) & ~self.diverged

    def check(self, x: torch.Tensor, x_new: torch.Tensor, t: int,
              active: Optional[torch.Tensor]) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The iterates after step t, x: (R, d), from x_new where kept, and keep: (R,) bool, or None
        when the fast path kept every run. ``active`` may be None on the fast path."""
        if self.fast:
            lo, hi = torch.aminmax(x_new)  # one pass over all runs; NaN propagates to both
            if bool((hi <= self.blowup) & (lo >= -self.blowup)):
                return x_new, None
            self.fast = False
            active = self.active(t)
        x, keep, self.diverged, self.div_at = mask_diverged(x, x_new, t, active, self.blowup, self.diverged,
                                                            self.div_at)
        return x, keep
