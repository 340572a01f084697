"""A content-addressed cache of finished sweep batches, so an interrupted sweep can be resumed.

One batch (one engine call of ``verify.sweep.run_points``) is stored as ``DIR/<key>.parquet`` with a
``DIR/<key>.json`` sidecar (where and how long it ran). The key is a SHA-256 of everything that
determines the batch's rows: claim, problem (class and public parameters), sampler, algorithm, the
stacked hyperparameters, horizons, seeds (the derived generator seed and the per-run seed index),
x0, checkpoints, device type, dtype, and the code version (a hash of the optim/, problems/,
verify/claims/ sources and of verify/sweep.py and verify/results.py). Change any of them and the
batch is recomputed; a stale file is never returned for different inputs.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import torch

from .results import atomic_write, atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
CODE_PATHS = ("optim", "problems", "verify/claims", "verify/sweep.py", "verify/results.py")


@lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 (16 hex digits) of the sources that determine a batch's numbers."""
    h = hashlib.sha256()
    for rel in CODE_PATHS:
        p = ROOT / rel
        files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def fingerprint(obj, depth: int = 0):
    """A JSON-able, exact and address-free description of obj (floats as hex, arrays hashed).
    Objects are described by class and public attributes (names starting with '_' are skipped:
    they are lazily filled caches, not inputs)."""
    if depth > 8:
        return "<deep>"
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj).hex()
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        if a.dtype == object:
            return ["object-array", list(a.shape), [fingerprint(v, depth + 1) for v in a.reshape(-1)]]
        return ["array", str(a.dtype), list(a.shape), hashlib.sha256(a.tobytes()).hexdigest()]
    if isinstance(obj, pd.DataFrame):
        hashed = pd.util.hash_pandas_object(obj, index=True).to_numpy()
        return ["frame", list(map(str, obj.columns)), [str(t) for t in obj.dtypes],
                hashlib.sha256(hashed.tobytes()).hexdigest()]
    if isinstance(obj, (torch.dtype, torch.device)):
        return str(obj)
    if isinstance(obj, dict):
        return [[str(k), fingerprint(v, depth + 1)] for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))]
    if isinstance(obj, (list, tuple)):
        return [fingerprint(v, depth + 1) for v in obj]
    if callable(obj) and not hasattr(obj, "__dict__"):
        return getattr(obj, "__qualname__", repr(obj))
    cls = type(obj)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if dataclasses.is_dataclass(obj):
        attrs = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    elif hasattr(obj, "__dict__"):
        attrs = vars(obj)
    else:
        return [name, repr(obj)]
    return [name, fingerprint({k: v for k, v in attrs.items() if not k.startswith("_")}, depth + 1)]


def _source_hash(spec: str) -> str:
    """SHA-256 of the source file of a user optimizer's module (MODULE:NAME): edited code, new key."""
    import importlib.util
    found = importlib.util.find_spec(spec.partition(":")[0])
    origin = Path(found.origin) if found and found.origin else None
    return hashlib.sha256(origin.read_bytes()).hexdigest() if origin and origin.is_file() else "unknown"


def batch_key(batch) -> str:
    """The content hash of a ``verify.executors.Batch`` (with the code version)."""
    desc = {"code": code_version(), "claim": batch.claim, "algorithm": batch.algorithm, "label": batch.label,
            "problem": fingerprint(batch.problem), "sampler": fingerprint(batch.sampler),
            "val_sampler": fingerprint(batch.val_sampler), "hp": fingerprint(batch.hp), "T": fingerprint(batch.T),
            "groups": fingerprint(batch.groups), "seed": int(batch.seed), "x0": fingerprint(batch.x0),
            "checkpoints": fingerprint(batch.checkpoints), "device": torch.device(batch.device).type,
            "dtype": str(batch.dtype), "meta": fingerprint(batch.meta), "compile": bool(batch.compile),
            **({"finals": list(batch.finals)} if batch.finals else {}),
            **({"implementation": [batch.implementation, _source_hash(batch.implementation)]}
               if batch.implementation else {})}
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()


class BatchCache:
    """Finished batches under one directory (created on first write)."""

    def __init__(self, directory):
        self.dir = Path(directory)

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.parquet"

    def load(self, key: str) -> Optional[tuple[pd.DataFrame, dict]]:
        """(rows, info) of a finished batch, or None when it is not cached (or unreadable)."""
        p = self.path(key)
        if not p.exists():
            return None
        try:
            rows = pd.read_parquet(p)
        except Exception:  # a partial or corrupt file: recompute it
            return None
        info_path = p.with_suffix(".json")
        try:
            info = json.loads(info_path.read_text()) if info_path.exists() else {}
        except (OSError, ValueError):
            info = {}
        return rows, info

    def save(self, key: str, rows: pd.DataFrame, info: dict) -> Path:
        """Write atomically (temporary file, then rename), the sidecar first, the table last."""
        self.dir.mkdir(parents=True, exist_ok=True)
        p = self.path(key)
        atomic_write_text(p.with_suffix(".json"), json.dumps(info, indent=1, default=str))
        return atomic_write(p, lambda tmp: rows.to_parquet(tmp, index=False))
