"""Error rates of the verdicts: size and power of every claim, measured over independent repeats.

A verdict is evidence only with its error rates. For a claim and each of its counterfeits
(``verify.claim.Counterfeit``), ``measure`` runs the claim's sweep with ``repeats`` times as many
seeds, splits the runs into ``repeats`` blocks of ``ctx.seeds`` seeds each, and judges every block
alone, exactly as ``verify rates`` judges one run of ``ctx.seeds`` seeds. Each seed index draws its
own rows of the sample streams, so the blocks are independent repeats of the claim, distributed as
runs with other global seeds (the sweep stays one engine call per batch, which is what makes 20
repeats affordable). From the verdict counts:

- size = P(the opposite decisive verdict | true claim): P(violated) for a claim expected to hold,
  P(holds) for a negative control; P(inconclusive | true claim) beside it;
- power against a counterfeit = P(its expected verdict | counterfeit) ("violated" for a counterfeit
  of a claim that holds);

each with a 95% Wilson interval (``stats.wilson_interval``). Targets (the power issue): size <= 5%
and power >= 90% on the full grid; the CI gate compares a claim's quick-grid verdict only when the
committed quick measurement gives P(expected | claim) >= 95% and power >= 80% against every
counterfeit (``verdict_gated``), else only its numbers.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
import pandas as pd

from .claim import Claim, Context
from .results import atomic_write, atomic_write_text
from .stats import VERDICTS, wilson_interval

POWER_FILE = Path(__file__).resolve().parent / "power.json"
TARGET_SIZE, TARGET_POWER = 0.05, 0.90          # the full-grid targets
GATE_HIT, GATE_POWER = 0.95, 0.80               # what a gated quick-grid verdict needs
OPPOSITE = {"holds": "violated", "violated": "holds"}


def repeat_blocks(rows: pd.DataFrame, seeds: int, repeats: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """(r, rows of repeat r) with seeds r*seeds ... (r+1)*seeds - 1 renumbered 0 ... seeds - 1; the
    theory rows (seed = -1) belong to every repeat."""
    seed = rows["seed"].to_numpy()
    theory = seed < 0
    for r in range(repeats):
        mine = theory | ((seed >= r * seeds) & (seed < (r + 1) * seeds))
        block = rows[mine].copy()
        block.loc[block["seed"] >= 0, "seed"] -= r * seeds
        yield r, block


def measure(claim: Claim, ctx: Context, repeats: int,
            on_done: Optional[Callable[[str, int], None]] = None) -> pd.DataFrame:
    """One row per (variant, repeat): the verdict of the claim and of each counterfeit on every repeat.
    ``on_done(variant, n)`` is called after each variant's n verdicts (progress)."""
    if repeats < 1:
        raise ValueError(f"repeats={repeats}: must be >= 1")
    stacked = replace(ctx, seeds=ctx.seeds * repeats, batches=ctx.batches)
    out = []
    for variant in claim.variants():
        name = variant.id.split("~", 1)[1] if variant.counterfeit_of else "claim"
        rows = variant.execute(stacked)
        for r, block in repeat_blocks(rows, ctx.seeds, repeats):
            v = variant.verdict(block)
            out.append({"claim": claim.id, "variant": name, "role": "counterfeit" if variant.counterfeit_of else "claim",
                        "expected": variant.expected, "repeat": r, "verdict": v["verdict"],
                        "estimate": _float(v.get("estimate")), "ci_low": _float(v.get("ci_low")),
                        "ci_high": _float(v.get("ci_high")), "n_runs": v["n_runs"],
                        "n_diverged": v["n_diverged"], "reason": v["reason"]})
        if on_done is not None:
            on_done(name, repeats)
    return pd.DataFrame(out)


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per (claim, variant): verdict counts, and the error rate that matters with its Wilson interval:
    ``rate`` is the size (P(opposite decisive verdict)) for the claim itself and the power
    (P(expected verdict)) for a counterfeit; ``p_expected`` and ``p_inconclusive`` for both."""
    out = []
    for (cid, name), g in table.groupby(["claim", "variant"], sort=False):
        n = len(g)
        expected, role = g["expected"].iloc[0], g["role"].iloc[0]
        counts = {v: int((g["verdict"] == v).sum()) for v in VERDICTS}
        k = counts[OPPOSITE[expected]] if role == "claim" else counts[expected]
        lo, hi = wilson_interval(k, n)
        e_lo, e_hi = wilson_interval(counts[expected], n)
        out.append({"claim": cid, "variant": name, "role": role, "expected": expected, "repeats": n,
                    **{f"n_{v}": c for v, c in counts.items()},
                    "measure": "size" if role == "claim" else "power", "rate": k / n, "rate_low": lo, "rate_high": hi,
                    "p_expected": counts[expected] / n, "p_expected_low": e_lo, "p_expected_high": e_hi,
                    "p_inconclusive": counts["inconclusive"] / n})
    return pd.DataFrame(out)


def claim_summary(summary: pd.DataFrame) -> dict[str, dict]:
    """Per claim: size, P(inconclusive | claim), P(expected | claim), the worst power and which
    counterfeit it is, and whether the full-grid targets and the gate's quick-grid levels are met."""
    out = {}
    for cid, g in summary.groupby("claim", sort=False):
        own = g[g["role"] == "claim"].iloc[0]
        cfs = g[g["role"] == "counterfeit"]
        worst = cfs.loc[cfs["rate"].idxmin()] if len(cfs) else None
        power = float(worst["rate"]) if worst is not None else float("nan")
        out[cid] = {"repeats": int(own["repeats"]), "size": float(own["rate"]),
                    "size_ci": [float(own["rate_low"]), float(own["rate_high"])],
                    "p_inconclusive": float(own["p_inconclusive"]), "p_expected": float(own["p_expected"]),
                    "worst_power": power, "worst_counterfeit": None if worst is None else worst["variant"],
                    "worst_power_ci": [float("nan")] * 2 if worst is None else [float(worst["rate_low"]),
                                                                                  float(worst["rate_high"])],
                    "power": {r["variant"]: float(r["rate"]) for _, r in cfs.iterrows()},
                    "meets_targets": bool(own["rate"] <= TARGET_SIZE and len(cfs) > 0 and power >= TARGET_POWER),
                    "gate_verdict": bool(own["p_expected"] >= GATE_HIT and len(cfs) > 0 and power >= GATE_POWER)}
    return out


def summary_table(summary: pd.DataFrame) -> str:
    """The printed table: one line per variant, at most 100 columns."""
    lines = [f"{'claim / counterfeit':44s} {'expect':8s} {'H/I/V':>9s}  {'rate':>14s}"]
    for _, r in summary.iterrows():
        name = r["claim"] if r["role"] == "claim" else f"  ~{r['variant']}"
        hiv = f"{r['n_holds']}/{r['n_inconclusive']}/{r['n_violated']}"
        rate = f"{r['measure']} {r['rate']:.2f} [{r['rate_low']:.2f}, {r['rate_high']:.2f}]"
        lines.append(f"{name[:44]:44s} {r['expected']:8s} {hiv:>9s}  {rate}")
    return "\n".join(lines)


def write(out: Path, table: pd.DataFrame, summary: pd.DataFrame, per_claim: dict, provenance: dict) -> dict:
    """Write the per-repeat table (power.parquet), the summary (power_summary.csv) and the per-claim
    summary with provenance (power.json) into ``out``, each atomically; return their paths."""
    out = Path(out)
    paths = {"repeats": out / "power.parquet", "summary": out / "power_summary.csv", "power": out / "power.json"}
    atomic_write(paths["repeats"], lambda tmp: table.to_parquet(tmp, index=False))
    atomic_write(paths["summary"], lambda tmp: summary.to_csv(tmp, index=False))
    atomic_write_text(paths["power"], json.dumps(nan_to_none({"claims": per_claim, "provenance": provenance}),
                                                 indent=1, default=str) + "\n")
    return paths


def load_power_file(path: Path = POWER_FILE) -> dict:
    """The committed measurement: {"quick": {...}, "full": {...}}, each with its command, repeats and
    per-claim summary ({} when the file does not exist)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}


def record(grid: str, command: str, repeats: int, seeds: int, claims: dict[str, dict],
           path: Path = POWER_FILE, wall_s: dict[str, float] | None = None) -> None:
    """Merge one grid's per-claim summary into the committed power file (other claims kept),
    atomically; each claim keeps the command that measured it and its wall time in seconds."""
    data = load_power_file(path)
    entry = data.get(grid, {"claims": {}})
    entry.update({"command": command, "repeats": repeats, "seeds": seeds})
    wall_s = wall_s or {}
    stamped = {cid: {**c, "command": command, "wall_s": wall_s.get(cid)} for cid, c in claims.items()}
    entry["claims"] = {**entry.get("claims", {}), **stamped}
    data[grid] = entry
    atomic_write_text(path, json.dumps(nan_to_none(data), indent=1, sort_keys=True, default=float) + "\n")


def error_rates(claim_id: str, grid: str, path: Path = POWER_FILE) -> dict | None:
    """The committed measurement of one claim on one grid ("quick" or "full") with its repeats and
    command, for the verdicts and the report (None when it was not measured)."""
    entry = load_power_file(path).get(grid, {})
    rates = entry.get("claims", {}).get(claim_id)
    return None if rates is None else {"grid": grid, "repeats": entry.get("repeats"),
                                       "command": entry.get("command"), **rates}


def rates_text(rates: dict | None) -> str:
    """One short line: size with its interval, P(inconclusive), worst power, the grid and repeats."""
    if not rates:
        return "not measured"
    lo, hi = rates.get("size_ci") or (None, None)
    size = f"size {rates['size']:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else "")
    worst = rates.get("worst_power")
    power = f"worst power {worst:.2f} (~{rates.get('worst_counterfeit')})" if worst is not None else "no counterfeit"
    return (f"{size}, P(inconclusive) {rates['p_inconclusive']:.2f}, {power}; "
            f"{rates.get('grid')} grid, {rates.get('repeats')} repeats")


def verdict_gated(claim_id: str, path: Path = POWER_FILE) -> bool:
    """Whether the CI gate compares this claim's quick-grid verdict (else only its numbers): the
    committed quick measurement must give P(expected | claim) >= 95% and power >= 80% against every
    counterfeit. A claim with no measurement is not verdict-gated."""
    entry = load_power_file(path).get("quick", {}).get("claims", {}).get(claim_id)
    return bool(entry and entry.get("gate_verdict"))


def nan_to_none(d):
    """JSON-friendly copy: NaN floats as None."""
    if isinstance(d, dict):
        return {k: nan_to_none(v) for k, v in d.items()}
    if isinstance(d, list):
        return [nan_to_none(v) for v in d]
    if isinstance(d, float) and not np.isfinite(d):
        return None
    return d
