"""Seeded random streams for the samplers: NumPy's SFC64 on the CPU, torch's generator elsewhere.

Why two: torch's CPU float64 ``normal_`` is a scalar Box-Muller over mt19937 (about 30 ns a sample
on this project's 2-core machines), NumPy's ziggurat over SFC64 is 2.5x faster and, drawn as two
independently seeded halves on two threads, 3.5x faster; on a GPU torch's Philox generator is the
fast one. A stream draws on its device and returns torch tensors (float64 or int64), so a sampler
never branches on the backend. The values depend only on (seed, device type, the sequence of draw
shapes), never on the thread count.
"""
from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Union

import numpy as np
import torch

SPLIT = 1 << 16  # normal draws of at least this many values are filled as two halves, one stream each


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """The one worker thread that fills the second half of large normal draws."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="samcheck-rng")


class Stream:
    """The draws a sampler needs: ``normal``, ``uniform`` (float64 in [0, 1)) and ``integers`` in
    [0, high), each of a given shape, as torch tensors on ``self.device``."""

    device: torch.device

    def normal(self, shape: tuple) -> torch.Tensor:
        raise NotImplementedError

    def uniform(self, shape: tuple) -> torch.Tensor:
        raise NotImplementedError

    def integers(self, high: int, shape: tuple) -> torch.Tensor:
        raise NotImplementedError


class TorchStream(Stream):
    """A ``torch.Generator`` (any device): exactly the draws torch.randn / rand / randint make."""

    def __init__(self, gen: torch.Generator) -> None:
        self.gen, self.device = gen, gen.device

    def normal(self, shape):
        return torch.randn(shape, generator=self.gen, device=self.device, dtype=torch.float64)

    def uniform(self, shape):
        return torch.rand(shape, generator=self.gen, device=self.device, dtype=torch.float64)

    def integers(self, high, shape):
        return torch.randint(high, shape, generator=self.gen, device=self.device)


class NumpyStream(Stream):
    """NumPy SFC64 streams on the CPU: ``main`` for every draw, and ``side`` for the second half of
    large normal draws (SPLIT values or more), filled on a worker thread while ``main`` fills the
    first half when torch runs more than one thread, one after the other otherwise."""

    def __init__(self, seed: int) -> None:
        main, side = np.random.SeedSequence(int(seed)).spawn(2)
        self.main = np.random.Generator(np.random.SFC64(main))
        self.side = np.random.Generator(np.random.SFC64(side))
        self.device = torch.device("cpu")

    def normal(self, shape):
        n = math.prod(shape)
        out = np.empty(n)
        if n < SPLIT:
            self.main.standard_normal(out=out)
        else:
            h = n // 2
            if torch.get_num_threads() > 1:
                job = _pool().submit(self.side.standard_normal, out=out[h:])
                self.main.standard_normal(out=out[:h])
                job.result()
            else:
                self.main.standard_normal(out=out[:h])
                self.side.standard_normal(out=out[h:])
        return torch.from_numpy(out.reshape(shape))

    def uniform(self, shape):
        return torch.from_numpy(self.main.random(shape))

    def integers(self, high, shape):
        return torch.from_numpy(self.main.integers(0, high, size=shape, dtype=np.int64))


def stream(seed: int, device: Union[str, torch.device] = "cpu") -> Stream:
    """The stream a seed gives on a device: NumPy SFC64 on the CPU, torch's generator otherwise."""
    device = torch.device(device)
    if device.type == "cpu":
        return NumpyStream(seed)
    return TorchStream(torch.Generator(device=device).manual_seed(int(seed)))


def as_stream(gen: Union[Stream, torch.Generator]) -> Stream:
    """A Stream as it is; a torch.Generator wrapped (the draws torch itself would make)."""
    if isinstance(gen, Stream):
        return gen
    if isinstance(gen, torch.Generator):
        return TorchStream(gen)
    raise TypeError(f"gen is a {type(gen).__name__}: pass a problems.rng Stream or a torch.Generator")
