"""Loading a results directory, and the tables built from it: the verdict table, diverged runs,
bound slack and the provenance a reader checks first.

A results directory holds three files written by ``verify`` (see docs/results.md):

* ``results.parquet`` (or ``results.csv`` when pyarrow is missing) -- one tidy
  long table, one row per (run, checkpoint, metric);
* ``verdicts.json`` -- ``{"claims": [ {...one verdict per claim...} ]}``;
* ``provenance.json`` -- versions, device, git revision, command line, ...

Everything here reads only those files, so a report can be rebuilt elsewhere. The tables are data;
``reports.html``, ``reports.markdown`` and ``reports.latex`` write them out.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from verify.results import COLUMNS as RESULT_COLUMNS
from verify.results import RUN_KEYS

from .formatting import as_text, fmt_ci, fmt_num, is_num, rates_text

_INT_COLS = {"seed": 0, "T": 0, "b": 1, "t": 0}
_STR_COLS = [c for c in RESULT_COLUMNS if c not in {*_INT_COLS, "value", "diverged"}]

# Columns of the verdict table (one row per claim), in order.
VERDICT_COLUMNS = [
    "claim", "paper", "theorem", "status", "algorithms", "problem", "metric",
    "prediction", "predicted_slope", "measured", "estimate", "ci_low", "ci_high",
    "verdict", "expected", "as_expected", "reason", "n_runs", "n_diverged",
    "bound_margin", "tolerance", "figure",
]
# What the human-facing tables show: (column in the table, header).
DISPLAY_COLUMNS = [
    ("claim", "Claim"),
    ("source", "Paper, theorem"),
    ("status", "Status"),
    ("prediction", "Prediction"),
    ("measured_ci", "Measured (95% CI)"),
    ("verdict_text", "Verdict"),
    ("rates_text", "Error rates (size, worst power)"),
    ("reason", "Reason"),
]


# ----------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------

def empty_results() -> pd.DataFrame:
    """A results table with no rows and every contract column typed."""
    return normalise_results(pd.DataFrame({c: [] for c in RESULT_COLUMNS}))


def _to_bool(s: pd.Series) -> pd.Series:
    """A column read from CSV or parquet as bools ("true", 1, "yes", ... are True)."""
    if s.dtype == bool:
        return s
    if pd.api.types.is_numeric_dtype(s):
        return s.fillna(0).astype(float).ne(0)
    m = s.astype(str).str.strip().str.lower()
    return m.isin(["true", "1", "yes", "t", "y", "1.0"])


def normalise_results(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of a results table with every contract column present and
    typed: strings (missing -> ""), ints (seed, T, b, t), float value, bool
    diverged.  Extra columns are kept.  Idempotent."""
    d = df.copy()
    for c in _STR_COLS:
        if c not in d.columns:
            d[c] = "{}" if c == "params" else ""
        d[c] = d[c].astype(object).where(d[c].notna(), "{}" if c == "params" else "")
        d[c] = d[c].map(lambda v: v if isinstance(v, str) else
                        (json.dumps(v, sort_keys=True) if isinstance(v, dict) else str(v)))
    for c, default in _INT_COLS.items():
        if c not in d.columns:
            d[c] = default
        d[c] = pd.to_numeric(d[c], errors="coerce").fillna(default).astype(np.int64)
    if "t" not in df.columns and "T" in df.columns:
        d["t"] = d["T"]
    d["value"] = pd.to_numeric(d["value"], errors="coerce").astype(float) if "value" in d.columns else np.nan
    if "diverged" not in d.columns:
        d["diverged"] = False
    d["diverged"] = _to_bool(d["diverged"])
    order = RESULT_COLUMNS + [c for c in d.columns if c not in RESULT_COLUMNS]
    return d[order].reset_index(drop=True)


def read_results(directory: str | Path) -> pd.DataFrame:
    """The tidy results table of a directory (parquet preferred, CSV fallback);
    an empty, well-typed table when neither file exists."""
    directory = Path(directory)
    pq, csv = directory / "results.parquet", directory / "results.csv"
    if pq.exists():
        try:
            return normalise_results(pd.read_parquet(pq))
        except ImportError:
            if not csv.exists():
                raise
    if csv.exists():
        return normalise_results(pd.read_csv(csv, keep_default_na=True,
                                             dtype={"params": str, "point": str}))
    warnings.warn(f"no results.parquet or results.csv in {directory}; figures skipped")
    return empty_results()


def _read_json(path: Path, default):
    """The JSON in ``path`` (``default`` when it does not exist); ValueError naming the file when it is not JSON."""
    if not path.exists():
        return default
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"{path.name} is not UTF-8 JSON ({str(e).splitlines()[0][:80]})") from None


def normalise_verdicts(verdicts: Any) -> list[dict]:
    """Accept ``{"claims": [...]}``, a bare list, or ``{claim_id: {...}}``; anything else (a number,
    a string, ``{"claims": 5}``) is a ValueError, one line."""
    if verdicts is None:
        return []
    if isinstance(verdicts, dict):
        if "claims" in verdicts:
            claims = verdicts["claims"]
        else:
            claims = [dict(v, claim=v.get("claim", k)) for k, v in verdicts.items()
                      if isinstance(v, dict)]
    else:
        claims = verdicts
    if not isinstance(claims, (list, tuple)):
        raise ValueError(f"verdicts of type {type(claims).__name__}: expected {{\"claims\": [verdict, ...]}}, "
                         "a list of verdicts or {claim id: verdict}")
    return [dict(c) for c in claims if isinstance(c, dict)]


def load_results(directory: str | Path) -> tuple[pd.DataFrame, list[dict], dict]:
    """``(df, verdicts, provenance)`` from a results directory.

    ``verdicts`` is the list of claim verdict dicts (the ``"claims"`` entry of
    verdicts.json); ``provenance`` is the dict of provenance.json (``{}`` when
    absent).  Raises FileNotFoundError when the directory holds neither a
    results table nor verdicts.json.
    """
    directory = Path(directory)
    has_results = (directory / "results.parquet").exists() or (directory / "results.csv").exists()
    if not has_results and not (directory / "verdicts.json").exists():
        raise FileNotFoundError(f"{directory} holds no results.parquet/csv nor verdicts.json")
    df = read_results(directory)
    verdicts = normalise_verdicts(_read_json(directory / "verdicts.json", {"claims": []}))
    provenance = _read_json(directory / "provenance.json", {})
    if not isinstance(provenance, dict):
        provenance = {"provenance": provenance}
    return df, verdicts, provenance


# ----------------------------------------------------------------------------
# the verdict table
# ----------------------------------------------------------------------------

def _num_or_nan(v) -> float:
    """``float(v)``, NaN when ``v`` is not a number."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return x


def verdict_table(verdicts: Any) -> pd.DataFrame:
    """One row per claim (order of verdicts.json), columns ``VERDICT_COLUMNS``
    plus the display columns ``source``, ``measured_ci`` and ``verdict_text``."""
    rows = []
    for v in normalise_verdicts(verdicts):
        est, lo, hi = v.get("estimate"), v.get("ci_low"), v.get("ci_high")
        verdict = as_text(v.get("verdict")) or "inconclusive"
        expected = as_text(v.get("expected")) or "holds"
        measured = as_text(v.get("measured"))
        ci = fmt_ci(est, lo, hi)
        if not ci or ci in measured:
            measured_ci = measured or "n/a"
        elif measured and fmt_num(est) in measured and (is_num(lo) or is_num(hi)):
            measured_ci = f"{measured}, 95% CI [{fmt_num(lo)}, {fmt_num(hi)}]"
        else:
            measured_ci = f"{measured}; {ci}" if measured else ci
        paper, theorem = as_text(v.get("paper")), as_text(v.get("theorem"))
        vt = verdict
        if expected != "holds":
            vt += " (as expected)" if verdict == expected else f" (expected {expected})"
        rows.append({
            "claim": as_text(v.get("claim")),
            "paper": paper,
            "theorem": theorem,
            "status": as_text(v.get("status")) or "confirmed",
            "algorithms": as_text(v.get("algorithms")),
            "problem": as_text(v.get("problem")),
            "metric": as_text(v.get("metric")),
            "prediction": as_text(v.get("prediction")),
            "predicted_slope": _num_or_nan(v.get("predicted_slope")),
            "measured": measured,
            "estimate": _num_or_nan(est),
            "ci_low": _num_or_nan(lo),
            "ci_high": _num_or_nan(hi),
            "verdict": verdict,
            "expected": expected,
            "as_expected": verdict == expected,
            "reason": as_text(v.get("reason")),
            "n_runs": int(_num_or_nan(v.get("n_runs")) if is_num(v.get("n_runs")) else 0),
            "n_diverged": int(_num_or_nan(v.get("n_diverged")) if is_num(v.get("n_diverged")) else 0),
            "bound_margin": _num_or_nan(v.get("bound_margin")),
            "tolerance": _num_or_nan(v.get("tolerance")),
            "figure": as_text(v.get("figure")) or "rate",
            "source": ", ".join(x for x in (paper, theorem) if x),
            "measured_ci": measured_ci,
            "verdict_text": vt,
            "rates_text": rates_text(v.get("error_rates") if isinstance(v.get("error_rates"), dict) else None),
        })
    cols = VERDICT_COLUMNS + ["source", "measured_ci", "verdict_text", "rates_text"]
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------
# summaries computed from the results table (display only)
# ----------------------------------------------------------------------------



def diverged_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Runs and diverged runs per (claim, algorithm), from the results table.

    A run is one (algorithm, problem, sampler, point, seed, T, b); it counts as
    diverged when any of its rows has ``diverged``.  Theory rows are ignored."""
    cols = ["claim", "algorithm", "runs", "diverged", "fraction"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    m = df[(df["seed"] >= 0) & ~df["metric"].isin(["bound", "floor"])]
    if m.empty:
        return pd.DataFrame(columns=cols)
    runs = m.groupby(["claim"] + RUN_KEYS, sort=False)["diverged"].any().reset_index()
    out = runs.groupby(["claim", "algorithm"], sort=False)["diverged"].agg(["size", "sum"])
    out = out.reset_index().rename(columns={"size": "runs", "sum": "diverged"})
    out["diverged"] = out["diverged"].astype(int)
    out["fraction"] = out["diverged"] / out["runs"]
    return out[cols]


def bound_slack(df: pd.DataFrame, verdicts: Any) -> pd.DataFrame:
    """For claims with explicit-bound rows (metric "bound", seed -1): the mean
    over non-diverged seeds of the claim's metric against the bound at matching
    checkpoints.  Columns: claim, checkpoints, max_ratio (max of mean/bound;
    < 1 means the mean sits under the bound everywhere), n_above."""
    cols = ["claim", "checkpoints", "max_ratio", "n_above"]
    rows = []
    if df.empty:
        return pd.DataFrame(columns=cols)
    for v in normalise_verdicts(verdicts):
        claim, metric = v.get("claim"), v.get("metric")
        d = df[df["claim"] == claim]
        b = d[d["metric"] == "bound"]
        if b.empty or not metric:
            continue
        m = d[(d["metric"] == metric) & (d["seed"] >= 0)]
        if m.empty:
            continue
        div = m.groupby(RUN_KEYS, sort=False)["diverged"].transform("any")
        m = m[~div & np.isfinite(m["value"])]
        b = b[np.isfinite(b["value"])]
        joined = pd.DataFrame()
        for keys in (["algorithm", "problem", "sampler", "point", "T", "b", "t"],
                     ["point", "T", "b", "t"], ["point", "T", "t"], ["T", "t"]):
            mm = m.groupby(keys)["value"].mean().rename("mean")
            bb = b.groupby(keys)["value"].mean().rename("bound")
            joined = pd.concat([mm, bb], axis=1, join="inner")
            if len(joined):
                break
        if joined.empty:
            continue
        pos = joined[joined["bound"] > 0]
        ratio = (pos["mean"] / pos["bound"]).max() if len(pos) else float("nan")
        rows.append({"claim": claim, "checkpoints": int(len(joined)),
                     "max_ratio": float(ratio),
                     "n_above": int((joined["mean"] > joined["bound"]).sum())})
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------
# provenance, short
# ----------------------------------------------------------------------------

PACKAGES = ("samcheck", "python", "torch", "numpy", "scipy", "pandas", "pyarrow", "matplotlib", "sympy", "tqdm")


def provenance_summary(prov: dict) -> list[tuple[str, str]]:
    """The provenance a reader checks first, as (label, text) pairs: revision, command, when, grid and
    seeds, device, CPU model, torch's CPU capability (SIMD path), BLAS, threads, package versions,
    wall time. Fields a provenance file lacks (an older run) read "not recorded"."""
    prov = prov if isinstance(prov, dict) else {}
    versions = {**(prov.get("versions") or {}), **{k: prov[k] for k in PACKAGES if prov.get(k)}}

    def get(*keys, fmt="{}"):
        vals = [prov.get(k) for k in keys]
        return fmt.format(*vals) if all(v not in (None, "") for v in vals) else None

    cap = get("cpu_capability")
    if cap and prov.get("aten_cpu_capability_env"):
        cap += f" (ATEN_CPU_CAPABILITY={prov['aten_cpu_capability_env']})"
    blas = ", ".join(x for x in (get("torch_blas", fmt="torch {}"), get("numpy_blas", fmt="numpy {}")) if x)
    threads = ", ".join(x for x in (get("engine_threads", fmt="engine {}"), get("torch_threads", fmt="torch {}"),
                                    get("cpu_count", fmt="{} CPUs")) if x)
    rows = [
        ("git revision", get("git_revision")),
        ("command", get("command")),
        ("when", get("timestamp")),
        ("grid, seeds", get("grid", "seeds_per_point", "global_seed", fmt="{}, {} per point, global seed {}")),
        ("device", ", ".join(x for x in (get("device"), get("device_name"), get("dtype"),
                                          get("engine_loop", fmt="{} loop")) if x) or None),
        ("CPU model", get("cpu_model")),
        ("CPU capability", cap),
        ("BLAS", blas or None),
        ("threads", threads or None),
        ("versions", ", ".join(f"{k} {versions[k]}" for k in (*PACKAGES, *sorted(set(versions) - set(PACKAGES)))
                               if k in versions) or None),
        ("wall time", get("wall_time_s", fmt="{} s")),
    ]
    return [(k, str(v) if v is not None else "not recorded") for k, v in rows]
