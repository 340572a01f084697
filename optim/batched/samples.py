"""The engine's sample source: the samples of K steps at a time (a block), drawn from one seeded
stream or replayed from pre-drawn ones; both loops read the same blocks."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from problems.rng import Stream, stream
from problems.sample import Sample, stack_steps
from problems.samplers import Sampler

BLOCK_VALUES = 1 << 20  # samples are drawn for blocks of steps of about this many values per stream


def block_steps(G: int, d: int) -> int:
    """K, the steps per block of drawn samples for G sample rows in dimension d: a function of (G, d)
    only, so runs of any horizon see the same samples at the same step."""
    return max(1, min(256, BLOCK_VALUES // (G * d)))


def validation_problem(problem):
    """The problem the V stream samples: ``problem.val`` (a held-out set) if it has one, else itself."""
    return getattr(problem, "val", None) or problem


class SampleSource:
    """Samples per stream, K steps at a time. ``block(t0)``: {stream: Sample with a leading step axis,
    (K, R, ...)} for steps t0 <= t < t0 + K; ``at(t)``: step t's {stream: Sample (R, ...)}, for a
    loop that visits every step in order (a new block at each multiple of K)."""

    def __init__(self, names: tuple, K: int):
        self.names, self.K = names, K
        self._block, self._base = {}, 0

    def block(self, t0: int) -> dict[str, Sample]:
        raise NotImplementedError

    def at(self, t: int) -> dict[str, Sample]:
        if t % self.K == 0:
            self._block, self._base = self.block(t), t
        return {k: v.step(t - self._base) for k, v in self._block.items()}


class DrawnSamples(SampleSource):
    """Blocks drawn from one seeded stream, stream by stream in the order of ``names`` (S, S2, V, Z),
    G sample rows each (R, or one per group, then spread to the group's runs by ``rows``: (R,))."""

    def __init__(self, names: tuple, K: int, problem, sampler: Sampler, val_sampler: Optional[Sampler],
                 gen: Stream, G: int, rows: Optional[torch.Tensor], dtype: torch.dtype):
        super().__init__(names, K)
        self.problem, self.val_problem = problem, validation_problem(problem)
        self.sampler, self.val_sampler = sampler, val_sampler or sampler
        self.gen, self.G, self.rows, self.dtype = gen, G, rows, dtype

    def block(self, t0: int) -> dict[str, Sample]:
        out = {}
        for k in self.names:
            s = self._draw(k, self.K * self.G).unflatten(self.K, self.G)
            out[k] = s if self.rows is None else s.take_runs(self.rows)
        return out

    def _draw(self, name: str, n: int) -> Sample:
        """n samples of stream ``name``: Rademacher noise (n, d) for Z, the samplers' draws otherwise."""
        if name == "Z":
            return Sample(noise=self.gen.integers(2, (n, self.problem.d)).to(self.dtype) * 2 - 1)
        if name == "V":
            return self.val_sampler.draw(self.val_problem, n, self.gen, self.dtype)
        return self.sampler.draw(self.problem, n, self.gen, self.dtype)


class ReplayedSamples(SampleSource):
    """Blocks cut from pre-drawn samples {stream: [Sample (R, ...) per step]} (up to step T_max)."""

    def __init__(self, names: tuple, K: int, samples: dict[str, list[Sample]], T_max: int,
                 device: torch.device, dtype: torch.dtype):
        super().__init__(names, K)
        self.samples, self.T_max, self.device, self.dtype = samples, T_max, device, dtype

    def block(self, t0: int) -> dict[str, Sample]:
        steps = range(t0, min(t0 + self.K, self.T_max))
        return {k: stack_steps([self.samples[k][t].to(self.device, self.dtype) for t in steps]) for k in self.names}


def sample_source(names: tuple, problem, sampler: Sampler, val_sampler: Optional[Sampler],
                  samples: Optional[dict[str, list[Sample]]], groups, R: int, T_max: int, seed: int,
                  device: torch.device, dtype: torch.dtype) -> SampleSource:
    """The replayed ``samples`` if given, else draws from ``stream(seed, device)``; K = block_steps(G, d)
    with G = R, or the number of groups (groups: (R,) ints, runs of a group share their samples)."""
    G = R if groups is None else int(np.max(groups)) + 1
    K = block_steps(G, problem.d)
    if samples is not None:
        return ReplayedSamples(names, K, samples, T_max, device, dtype)
    rows = None if groups is None else torch.as_tensor(np.asarray(groups), device=device)
    return DrawnSamples(names, K, problem, sampler, val_sampler, stream(seed, device), G, rows, dtype)
