"""What one oracle call consumes: an index set with weights, a noise vector, a scale, or nothing.

A batch of samples carries a leading run axis: ``idx: (R, k)``, ``w: (R, k)``, ``noise: (R, d)``,
``scale: (R,)``. A single run's sample has that axis removed. Missing fields are ``None``: a sample
with every field ``None`` is the full-batch oracle.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Optional

import numpy as np
import torch

from .backend import Array


@dataclass(frozen=True)
class Sample:
    """idx: component indices (..., k); w: their weights (..., k), the stochastic gradient being
    (1/k) sum_j w_j grad f_{idx_j}; noise: additive vector xi (..., d); scale: multiplicative
    factor (1 + zeta) (...,) on the full gradient."""

    idx: Optional[Array] = None
    w: Optional[Array] = None
    noise: Optional[Array] = None
    scale: Optional[Array] = None

    def _map(self, fn) -> "Sample":
        return replace(self, **{f.name: fn(getattr(self, f.name)) for f in fields(self)
                                if getattr(self, f.name) is not None})

    def run(self, r: int) -> "Sample":
        """Run ``r`` of a batched sample, as float64 / int64 NumPy arrays (for the reference)."""
        def one(a):
            a = a[r]
            return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        return self._map(one)

    def take(self, rows: Array) -> "Sample":
        """Rows ``rows`` of the run axis: runs sharing a row share their random sample."""
        return self._map(lambda a: a[rows])

    def unflatten(self, K: int, R: int) -> "Sample":
        """A draw for K * R runs as K steps of R runs: fields (K * R, ...) -> (K, R, ...)."""
        return self._map(lambda a: a.reshape(K, R, *a.shape[1:]))

    def take_runs(self, rows: Array) -> "Sample":
        """``take`` for a block of steps (K, R, ...): rows ``rows`` of the run axis of every step."""
        return self._map(lambda a: a[:, rows])

    def step(self, i: int) -> "Sample":
        """Step i of a block of steps (K, R, ...): a batched sample (R, ...)."""
        return self._map(lambda a: a[i])

    def to(self, device: torch.device | str, dtype: torch.dtype) -> "Sample":
        """The same sample as tensors on ``device``; floats in ``dtype``, indices as int64."""
        def conv(a):
            t = torch.as_tensor(a, device=device)
            return t.to(dtype) if t.is_floating_point() else t.long()
        return self._map(conv)


def stack_steps(steps: list[Sample]) -> Sample:
    """Batched samples of consecutive steps as one block with a leading step axis (K, R, ...)."""
    first = steps[0]
    return replace(first, **{f.name: torch.stack([getattr(s, f.name) for s in steps]) for f in fields(first)
                             if getattr(first, f.name) is not None})
