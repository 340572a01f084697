"""Results files: the tidy long table, the verdicts and the provenance of one invocation.

DIR/results.parquet (results.csv without pyarrow): one row per (run, checkpoint, metric) with
COLUMNS, then the typed hyperparameter columns ``hp.<key>`` derived from ``params`` (``hp_columns``);
theory rows (bounds, floors) have seed = -1. DIR/verdicts.json: {"claims": [verdict, ...]}.
DIR/provenance.json: versions, device, dtype, git revision, command line, seeds, wall time.
Everything downstream (reports, the CI gate) reads these files only.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

COLUMNS = ["claim", "algorithm", "problem", "sampler", "point", "params", "seed", "T", "b", "t", "metric",
           "value", "diverged"]
RUN_KEYS = ["algorithm", "problem", "sampler", "point", "seed", "T", "b"]   # the columns naming one run of a claim
HP_PREFIX = "hp."


def _leaves(params: dict, prefix: str = "") -> dict:
    """``{dotted key: value}`` of the scalar entries of a params dict, nested dicts (schedules) flattened
    (``{"lr": {"schedule": "inv_t", "c": 1.0}}`` -> ``{"lr.schedule": "inv_t", "lr.c": 1.0}``); lists and
    None are left out."""
    out = {}
    for k, v in params.items():
        if isinstance(v, dict):
            out.update(_leaves(v, f"{prefix}{k}."))
        elif isinstance(v, (bool, int, float, str)):
            out[f"{prefix}{k}"] = v
    return out


def _param_leaves(text) -> dict:
    """``_leaves`` of one params JSON text without ``b`` (the column ``b``); {} for anything that is not
    a JSON object (theory rows' ``"{}"``, a missing value, an unreadable file's text)."""
    try:
        p = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        p = None
    return {k: v for k, v in _leaves(p).items() if k != "b"} if isinstance(p, dict) else {}


def hp_columns(params: pd.Series) -> pd.DataFrame:
    """The typed hyperparameter columns of rows whose ``params`` (JSON strings) are given, on their index.

    One column ``hp.<key>`` per scalar entry of the params (``_param_leaves``: a schedule ``lr`` gives
    ``hp.lr.schedule``, ``hp.lr.c``, ``hp.lr.t0``; no ``hp.b``), sorted by name. A column is float64 when
    every value present is a number (bools as 0.0 / 1.0), else pandas' default string column (numbers as
    their JSON text); a row whose params lack the key has NaN (a null in a string column). Each distinct
    params text is parsed once. Deriving the columns from ``params``, here only, keeps cached batches
    (which store COLUMNS) valid and gives tables written before these columns the same ones."""
    codes, uniques = pd.factorize(params, use_na_sentinel=False)
    table = pd.DataFrame([_param_leaves(text) for text in uniques], index=range(len(uniques)), dtype=object)
    typed = {}
    for key in sorted(table.columns):
        col = table[key]
        if all(isinstance(v, (bool, int, float)) for v in col.dropna()):
            typed[HP_PREFIX + key] = col.astype(np.float64)
        else:
            typed[HP_PREFIX + key] = pd.Series([v if isinstance(v, str) else None if pd.isna(v) else json.dumps(v)
                                                for v in col], index=table.index)
    return pd.DataFrame(typed, index=table.index).take(codes).set_axis(params.index)


def with_hp_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows[COLUMNS]`` (index reset) followed by ``hp_columns`` of their params: the table as written."""
    rows = rows[COLUMNS].reset_index(drop=True)
    return pd.concat([rows, hp_columns(rows["params"])], axis=1)


def trace_rows(trace, meta: pd.DataFrame) -> pd.DataFrame:
    """Tidy rows of a Trace: every checkpoint t <= T_r of every run and metric, plus each run's final
    values at t = T_r (which replace a checkpoint at the same t). ``meta`` has one row per run."""
    R = len(meta)
    frames = []
    for name, vals in trace.metrics.items():
        tt = np.repeat(trace.t, R)
        rr = np.tile(np.arange(R), len(trace.t))
        keep = tt < trace.T[rr]
        frames.append(pd.DataFrame({"run": rr[keep], "t": tt[keep], "metric": name, "value": vals.reshape(-1)[keep]}))
    for name, vals in trace.final.items():
        frames.append(pd.DataFrame({"run": np.arange(R), "t": trace.T, "metric": name, "value": vals}))
    long = pd.concat(frames, ignore_index=True)
    long["diverged"] = trace.diverged[long["run"].to_numpy()]
    out = meta.iloc[long["run"].to_numpy()].reset_index(drop=True)
    out["t"] = long["t"].to_numpy()
    out["metric"] = long["metric"].to_numpy()
    out["value"] = long["value"].to_numpy()
    out["diverged"] = long["diverged"].to_numpy()
    return out[COLUMNS]


def atomic_write(path: Path | str, write: Callable[[Path], object]) -> Path:
    """Write ``path`` by calling ``write(tmp)`` on a temporary file beside it (same directory and
    suffix, so writers that go by the suffix still can), then renaming it over ``path`` (os.replace):
    a kill or an error midway leaves the earlier file, or none, never half a file and no temporary."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}.{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path | str, text: str) -> Path:
    """``atomic_write`` of a text file (UTF-8)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_results(out_dir: Path, rows: pd.DataFrame, verdicts: list[dict], provenance: dict) -> dict[str, Path]:
    """Write the three files, each atomically; parquet when pyarrow imports, CSV otherwise. The table is
    ``with_hp_columns(rows)``: COLUMNS, then the typed hyperparameter columns."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = with_hp_columns(rows)
    try:
        import pyarrow  # noqa: F401
        table = atomic_write(out_dir / "results.parquet", lambda tmp: rows.to_parquet(tmp, index=False))
    except ImportError:
        table = atomic_write(out_dir / "results.csv", lambda tmp: rows.to_csv(tmp, index=False))
    verdicts_text = json.dumps({"claims": verdicts}, indent=1, default=_json_default)
    vpath = atomic_write_text(out_dir / "verdicts.json", verdicts_text)
    ppath = atomic_write_text(out_dir / "provenance.json", json.dumps(provenance, indent=1, default=_json_default))
    return {"results": table, "verdicts": vpath, "provenance": ppath}


def _json_default(o):
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def git_revision() -> str:
    """The git revision of the package's checkout (with -dirty), or 'unknown'."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return "unknown"
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What a verdict may depend on below the code: CPU model, the SIMD path torch's CPU kernels use
    (``torch.backends.cpu.get_cpu_capability()``, set by ATEN_CPU_CAPABILITY), torch's and NumPy's BLAS,
    torch threads."""
    import re

    import torch
    blas = re.findall(r"BLAS_INFO=(\w+)", torch.__config__.show())
    try:
        np_blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        np_blas = f"{np_blas.get('name')} {np_blas.get('version', '')}".strip()
    except (TypeError, KeyError, AttributeError):
        np_blas = "unknown"
    return {"cpu_model": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "aten_cpu_capability_env": os.environ.get("ATEN_CPU_CAPABILITY"),
            "torch_blas": blas[0] if blas else "unknown", "numpy_blas": np_blas,
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "threads_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
                            if k in os.environ}}


def _version(module: str) -> str | None:
    """An installed package's version, or None."""
    from importlib import metadata
    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def provenance(ctx, argv: list[str], started: float, claims: list[str]) -> dict:
    """Versions (samcheck, python, numpy, scipy, sympy, torch, pandas, matplotlib, pyarrow, tqdm), device,
    dtype, the machine (``machine()``: CPU model, torch's CPU capability, BLAS, threads), git revision,
    command line, seeds and wall time of this invocation."""
    import matplotlib
    import scipy
    import sympy
    import torch

    from . import __version__
    device = ctx.device
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else (platform.processor() or platform.machine())
    return {"samcheck": __version__, "python": sys.version.split()[0], "numpy": np.__version__,
            "scipy": scipy.__version__, "sympy": sympy.__version__, "torch": torch.__version__,
            "cuda": torch.version.cuda, "pandas": pd.__version__, "matplotlib": matplotlib.__version__,
            "pyarrow": _version("pyarrow"), "tqdm": _version("tqdm"),
            "platform": platform.platform(), "device": device, "device_name": name,
            **machine(), "engine_threads": ctx.threads, "engine_loop": "compiled" if ctx.compile else "eager", "dtype": str(ctx.dtype).replace("torch.", ""),
            "git_revision": git_revision(), "command": " ".join(argv), "global_seed": ctx.seed,
            "seeds_per_point": ctx.seeds, "grid": "quick" if ctx.quick else "full", "claims": claims,
            "wall_time_s": round(time.time() - started, 3),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cwd": os.getcwd()}
