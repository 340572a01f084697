"""Input checking for ``engine.run``: every argument is checked once, before anything runs, and bad
input fails with a one-line ValueError (not with torch's error from deep inside the first step)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..registry import get, validate


@dataclass(frozen=True)
class Inputs:
    """What ``run`` works on once its arguments are checked.

    x: (R, d) starting points (a fresh tensor); T: (1,) or (R,) horizons as given; T_run: (R,) each
    run's horizon on the device; hp: the validated hyperparameters; seed: an int both streams take."""

    x: torch.Tensor
    T: np.ndarray
    T_run: torch.Tensor
    R: int
    hp: dict
    seed: int
    device: torch.device

    @property
    def T_max(self) -> int:
        return int(self.T.max())


def check_inputs(algorithm: str, problem, sampler, hp: Optional[dict], T, R: Optional[int], x0, groups,
                 seed, device, dtype: torch.dtype) -> Inputs:
    """The arguments of ``run`` checked and put in the engine's form (see ``Inputs``)."""
    get(algorithm)
    device = _check_device(device)
    seed = _check_seed(seed)
    T_arr = _check_horizons(T)
    R = _batch_size(hp or {}, T, x0, groups, R or None)
    hp = validate(algorithm, hp, R)
    sampler.check(problem)
    x = _start(x0, problem.d, R, dtype, device)
    return Inputs(x=x, T=T_arr, T_run=torch.as_tensor(T_arr, device=device).expand(R), R=R, hp=hp, seed=seed,
                  device=device)


def _check_horizons(T) -> np.ndarray:
    """T as a (1,) or (R,) array of integers >= 1."""
    T_arr = np.atleast_1d(np.asarray(T))
    if T_arr.dtype.kind not in "iu" and not np.all(T_arr == np.round(T_arr)) or np.any(T_arr < 1):
        raise ValueError(f"T={T!r} is not allowed: horizons must be integers >= 1")
    return T_arr


def _start(x0, d: int, R: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """x0 ((d,) or (R, d), default ones) as a fresh (R, d) tensor."""
    x = torch.as_tensor(np.ones(d) if x0 is None else x0, dtype=dtype, device=device)
    if x.ndim not in (1, 2) or x.shape[-1] != d:
        raise ValueError(f"x0 has shape {tuple(x.shape)}: expected ({d},) or (R, {d})")
    _check_finite_x0(x)
    return x.expand(R, d).clone()


def _batch_size(hp: dict, T, x0, groups, R: Optional[int] = None) -> int:
    """R: the one size (other than 1) of the hyperparameters, T, x0 and groups, or R itself if given."""
    sizes = {np.size(v.c if hasattr(v, "c") else v) for v in hp.values()
             if not isinstance(v, (str, bool)) and v is not None}
    sizes |= {np.size(T)}
    if x0 is not None and np.ndim(x0) == 2:
        sizes.add(np.shape(x0)[0])
    if groups is not None:
        sizes.add(len(groups))
    sizes.discard(1)
    if R is not None and sizes - {R}:
        raise ValueError(f"hyperparameters, T, x0 and groups disagree with R={R}: sizes {sorted(sizes)}")
    if len(sizes) > 1:
        raise ValueError(f"hyperparameters, T, x0 and groups disagree on the number of runs: sizes {sorted(sizes)}")
    return R if R is not None else (sizes.pop() if sizes else 1)


def _check_device(device) -> torch.device:
    """``device`` as a torch.device if the engine can run on it here: the CPU, or a CUDA GPU when
    torch sees one (rather than torch's own error from deep inside the first tensor made there)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        dev = None
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if dev is None or dev.type not in ("cpu", "cuda") or (dev.type == "cuda" and (dev.index or 0) >= n_gpus):
        allowed = (f"'cpu' or 'cuda' (cuda:0 to cuda:{n_gpus - 1})" if n_gpus
                   else "'cpu' (torch.cuda.is_available() is False here)")
        raise ValueError(f"device={str(device)!r} is not allowed: must be {allowed}")
    return dev


def _check_seed(seed) -> int:
    """``seed`` as an int if both streams take it (NumPy's SeedSequence: >= 0; torch's manual_seed:
    < 2**64); a float or bool seed is refused rather than silently truncated."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 64:
        raise ValueError(f"seed={seed!r} is not allowed: must be an integer in [0, 2**64)")
    return int(seed)


def _check_finite_x0(x: torch.Tensor) -> None:
    """A NaN or inf starting point is bad input, not a diverged run (which would look like a finding)."""
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        first = x[bad][0].item()
        dtype = str(x.dtype).replace("torch.", "")
        raise ValueError(f"x0 has {int(bad.sum())} non-finite entries in {dtype} (the first is {first}): "
                         "every entry must be finite")
