"""Samplers of finite sums and noise oracles, and their ABC constants.

Each sampler draws one step's samples for R runs at once on a torch device (``draw``) and states
the constants of E||grad_S(x)||^2 <= 2A (f(x) - f_inf) + B ||grad f(x)||^2 + C, C = 2 A delta_inf
for finite sums (``abc``). Draws come from a seeded random stream outside the update rules
(``problems.rng``: NumPy SFC64 on the CPU, torch's generator on other devices; a plain
``torch.Generator`` is accepted too), so the same samples can be replayed into a NumPy run
(``draw_steps`` + ``Sample.run``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np
import torch

from .backend import check_positive
from .base import FiniteSum, Problem
from .rng import Stream, as_stream, stream
from .sample import Sample


class ABC(NamedTuple):
    A: float
    B: float
    C: float


def _check_int(name: str, v, lo: int, hi: Optional[int] = None, what: str = "") -> int:
    if int(v) != v or v < lo or (hi is not None and v > hi):
        rng = f"an integer in [{lo}, {hi}]" if hi is not None else f"an integer >= {lo}"
        raise ValueError(f"{name}={v!r} is not allowed: must be {rng}{what}")
    return int(v)


def _need_finite_sum(sampler: "Sampler", problem: Problem) -> FiniteSum:
    if not problem.finite_sum:
        raise ValueError(f"sampler {sampler.name!r} needs a finite-sum problem; {problem.name!r} is not one "
                         "(use full_batch, gaussian or affine)")
    return problem


class Sampler:
    """Base class: ``name``, ``draw(problem, R, gen) -> Sample`` (torch, on gen's device; gen a
    ``problems.rng.Stream`` or a ``torch.Generator``) and ``abc``."""

    name = "sampler"

    def check(self, problem: Problem) -> None:
        """Raise a one-line ValueError when this sampler cannot serve ``problem``."""

    def draw(self, problem: Problem, R: int, gen: Stream | torch.Generator,
             dtype: torch.dtype = torch.float64) -> Sample:
        raise NotImplementedError

    def abc(self, problem: Problem) -> ABC:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"sampler": self.name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}


@dataclass
class Uniform(Sampler):
    """Mean of ``batch`` indices drawn uniformly with replacement (batch = 1: uniform single element).

    E||g_S||^2 = (1/b) mean_i ||grad f_i||^2 + (1 - 1/b) ||grad f||^2 gives A = L_max / b,
    B = 1 - 1/b."""

    batch: int = 1
    name = "uniform"

    def check(self, problem):
        _need_finite_sum(self, problem)
        _check_int("batch", self.batch, 1)

    def draw(self, problem, R, gen, dtype=torch.float64):
        self.check(problem)
        gen = as_stream(gen)
        idx = gen.integers(problem.n, (R, self.batch))
        return Sample(idx=idx, w=torch.ones(R, self.batch, dtype=dtype, device=gen.device))

    def abc(self, problem):
        self.check(problem)
        A = problem.L_max / self.batch
        return ABC(A, 1 - 1 / self.batch, 2 * A * problem.delta_inf)


@dataclass
class TauNice(Sampler):
    """A uniform subset of size tau without replacement; A = (n-tau) L_max / (tau (n-1)),
    B = n (tau-1) / (tau (n-1)) (tau = n is the full batch: A = 0, B = 1)."""

    tau: int = 1
    name = "tau_nice"

    def check(self, problem):
        p = _need_finite_sum(self, problem)
        _check_int("tau", self.tau, 1, p.n, f" (the problem has n={p.n} components)")

    def draw(self, problem, R, gen, dtype=torch.float64):
        self.check(problem)
        gen = as_stream(gen)
        if self.tau == problem.n:
            idx = torch.arange(problem.n, device=gen.device).expand(R, -1)
        else:
            idx = gen.uniform((R, problem.n)).topk(self.tau, dim=1).indices
        return Sample(idx=idx, w=torch.ones(R, self.tau, dtype=dtype, device=gen.device))

    def abc(self, problem):
        self.check(problem)
        n, tau = problem.n, self.tau
        if n == 1:
            return ABC(0.0, 1.0, 0.0)
        A = (n - tau) * problem.L_max / (tau * (n - 1))
        return ABC(A, n * (tau - 1) / (tau * (n - 1)), 2 * A * problem.delta_inf)


@dataclass
class Importance(Sampler):
    """Indices drawn with probabilities p (default p_i ∝ L_i), ``batch`` of them with replacement,
    each reweighted by 1/(n p_i) so the estimator is unbiased. ``reweight=False`` drops the weights:
    a known bug in published code, kept only as a negative control (its mean is grad sum_i p_i f_i).

    A = max_i L_i / (n p_i) / b, B = 1 - 1/b (A = mean L_i / b for p ∝ L_i)."""

    p: Optional[np.ndarray] = None
    batch: int = 1
    reweight: bool = True
    name = "importance"

    def probs(self, problem: FiniteSum) -> np.ndarray:
        if self.p is None:
            return problem.L_i / problem.L_i.sum()
        p = np.asarray(self.p, dtype=np.float64)
        if p.shape != (problem.n,):
            raise ValueError(f"p has shape {p.shape}: expected ({problem.n},), one probability per component")
        if np.any(~np.isfinite(p)) or np.any(p <= 0) or abs(p.sum() - 1) > 1e-12:
            raise ValueError(f"p sums to {p.sum():.6g} with min {p.min():.3g}: probabilities must be > 0 and sum to 1")
        return p

    def check(self, problem):
        self.probs(_need_finite_sum(self, problem))
        _check_int("batch", self.batch, 1)

    def draw(self, problem, R, gen, dtype=torch.float64):
        self.check(problem)
        p = self.probs(problem)
        gen = as_stream(gen)
        cdf = torch.as_tensor(np.cumsum(p), device=gen.device)
        u = gen.uniform((R, self.batch))
        idx = torch.searchsorted(cdf, u * cdf[-1], right=True).clamp_(max=problem.n - 1)
        if self.reweight:
            w = torch.as_tensor(1.0 / (problem.n * p), dtype=dtype, device=gen.device)[idx]
        else:
            w = torch.ones(R, self.batch, dtype=dtype, device=gen.device)
        return Sample(idx=idx, w=w)

    def abc(self, problem):
        self.check(problem)
        if not self.reweight:
            raise ValueError("the unweighted importance sampler is biased: it has no ABC constants for f")
        p = self.probs(problem)
        A = float(np.max(problem.L_i / (problem.n * p))) / self.batch
        return ABC(A, 1 - 1 / self.batch, 2 * A * problem.delta_inf)


@dataclass
class FullBatch(Sampler):
    """grad_S = grad f: A = 0, B = 1, C = 0."""

    name = "full_batch"

    def draw(self, problem, R, gen, dtype=torch.float64):
        return Sample()

    def abc(self, problem):
        return ABC(0.0, 1.0, 0.0)


@dataclass
class Gaussian(Sampler):
    """grad_S = grad f + xi with xi ~ N(0, sigma^2 I / (b d)): E||xi||^2 = sigma^2 / b, the bounded
    variance convention of the theorems. ``convention="per_coordinate"`` uses N(0, sigma^2 I / b)
    instead (E||xi||^2 = d sigma^2 / b). A = 0, B = 1, C = E||xi||^2."""

    sigma: float = 1.0
    batch: int = 1
    convention: str = "total"
    name = "gaussian"

    def check(self, problem):
        check_positive("sigma", self.sigma, allow_zero=True)
        _check_int("batch", self.batch, 1)
        if self.convention not in ("total", "per_coordinate"):
            raise ValueError(f"convention={self.convention!r} is not allowed: use 'total' or 'per_coordinate'")

    def variance(self, problem: Problem) -> float:
        """E||xi||^2."""
        scale = 1.0 if self.convention == "total" else problem.d
        return self.sigma ** 2 * scale / self.batch

    def draw(self, problem, R, gen, dtype=torch.float64):
        self.check(problem)
        std = np.sqrt(self.variance(problem) / problem.d)
        xi = as_stream(gen).normal((R, problem.d)) * std
        return Sample(noise=xi.to(dtype))

    def abc(self, problem):
        self.check(problem)
        return ABC(0.0, 1.0, self.variance(problem))


@dataclass
class AffineVariance(Sampler):
    """grad_S = grad f (1 + zeta) + xi, zeta ~ N(0, var_zeta) scalar, xi ~ N(0, D0 I / d):
    E||g||^2 = D1 ||grad f||^2 + D0 with D1 = 1 + var_zeta (A = 0, B = D1, C = D0)."""

    D0: float = 1.0
    var_zeta: float = 1.0
    name = "affine"

    def check(self, problem):
        check_positive("D0", self.D0, allow_zero=True)
        check_positive("var_zeta", self.var_zeta, allow_zero=True)

    @property
    def D1(self) -> float:
        return 1.0 + self.var_zeta

    def draw(self, problem, R, gen, dtype=torch.float64):
        self.check(problem)
        gen = as_stream(gen)
        zeta = gen.normal((R,)) * np.sqrt(self.var_zeta)
        xi = gen.normal((R, problem.d)) * np.sqrt(self.D0 / problem.d)
        return Sample(noise=xi.to(dtype), scale=(1 + zeta).to(dtype))

    def abc(self, problem):
        self.check(problem)
        return ABC(0.0, self.D1, self.D0)


SAMPLERS = {"uniform": Uniform, "minibatch": Uniform, "tau_nice": TauNice, "importance": Importance,
            "full_batch": FullBatch, "gaussian": Gaussian, "affine": AffineVariance}


def make_sampler(name: str, **kw) -> Sampler:
    """A sampler by name (``uniform``, ``minibatch`` (= uniform with ``batch``), ``tau_nice``,
    ``importance``, ``full_batch``, ``gaussian``, ``affine``)."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}: choose from {', '.join(SAMPLERS)}")
    return SAMPLERS[name](**kw)


def draw_steps(sampler: Sampler, problem: Problem, T: int, R: int, seed: int,
               device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64) -> list[Sample]:
    """T steps of batched samples for R runs from ``stream(seed, device)``, drawn one step at a time,
    to replay into the engine (``run(samples=...)``) and the reference. The engine's own draws for a
    seed come from the same stream a block of steps at a time, so they are other samples."""
    sampler.check(problem)
    gen = stream(seed, device)
    return [sampler.draw(problem, R, gen, dtype) for _ in range(T)]
