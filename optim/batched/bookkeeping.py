"""The per-step bookkeeping both engine loops do around a rule's step: running sums of ||grad f||^2
and the divergence masks (the eager loop in ``engine``, the compiled one in ``blocks``)."""
from __future__ import annotations

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
