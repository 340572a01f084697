"""Array helpers that let one formula serve a NumPy vector (d,) and a torch batch (R, d)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

Array = Any  # np.ndarray or torch.Tensor


def xp(x: Array):
    """The array namespace of ``x``: ``torch`` for tensors, ``numpy`` otherwise."""
    return torch if isinstance(x, torch.Tensor) else np


def relu(x: Array) -> Array:
    return torch.relu(x) if isinstance(x, torch.Tensor) else np.maximum(x, 0.0)


def axpy(y: Array, c: Array, x: Array) -> Array:
    """y + c * x, one fused pass (torch.addcmul) for tensors."""
    return torch.addcmul(y, c, x) if isinstance(x, torch.Tensor) else y + c * x


def like(arr: np.ndarray, x: Array, cache: dict, key=None) -> Array:
    """``arr`` (a NumPy constant) in the backend, dtype and device of ``x``; tensors are cached.

    The cache is keyed by ``key`` (a problem passes its attribute's name; default ``id(arr)``) and
    keeps ``arr`` alive with its tensor, to check that the entry is still for ``arr``: otherwise a
    freed temporary's id is reused by the next array and a stale tensor is returned (this happened
    with copies, i.e. float32 or another device). While torch.compile traces, that identity check is
    skipped (it would make every new problem instance a recompilation): the engine refreshes every
    entry before it compiles (``Problem.refresh_cache``)."""
    if not isinstance(x, torch.Tensor):
        return arr
    key = (id(arr) if key is None else key, x.device, x.dtype)
    entry = cache.get(key)
    if entry is None or (not torch.compiler.is_compiling() and entry[0] is not arr):
        dtype = x.dtype if np.issubdtype(arr.dtype, np.floating) else torch.long
        entry = (arr, torch.as_tensor(arr, dtype=dtype, device=x.device))
        cache[key] = entry
    return entry[1]


def check_positive(name: str, value: float, allow_zero: bool = False) -> float:
    """Return ``float(value)`` or raise a one-line ValueError naming the value and the allowed range."""
    v = float(value)
    ok = np.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        rng = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"{name}={value!r} is not allowed: must be {rng}")
    return v


def check_matrix(name: str, a: Any, ndim: int) -> np.ndarray:
    """``a`` as a finite float64 array with ``ndim`` dimensions, or a one-line ValueError."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} has shape {arr.shape}: expected {ndim} dimension(s)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values: all entries must be finite")
    return arr
