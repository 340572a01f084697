"""The CI regression gate: rerun every claim's quick grid and compare with a stored baseline.

Drift rule: a claim drifts when its verdict changed, or when for any of its gated numbers (slopes,
plateau levels, bound margins, each stored with its 95% CI) the new CI and the baseline CI do not
overlap. The gate compares m numbers at once (about 50), so each 95% CI is first widened about its
value to a family-wise interval: by z(1 - 0.05/(2m)) / z(0.975) (Bonferroni; about 1.7x for m = 50).
Without it, even perfectly calibrated CIs would give a false alarm on roughly a quarter of the
runs with another global seed (1 - 0.994^50); with it, the numbers alone alarm on at most ~5%.
Verdicts are compared only for claims whose quick-grid verdict has measured error rates good enough
to be gated (``verify/power.json``, written by ``python -m verify power --quick --record``: P(expected
verdict | claim) >= 95% and power >= 80% against every counterfeit); a claim whose verdict sits on a
tolerance boundary would flip with round-off (another CPU's SIMD path) or the seed, so for it the
gate compares its numbers only and says so. ``decisive_only`` also ignores flips to or from
"inconclusive" of the gated verdicts. In CI the seed is fixed and the results
are bit-identical, so a clean main never drifts; an engine bug moves slopes, floors or verdicts by far
more than their CIs and is caught (kill table in the README).
"""
from __future__ import annotations

import json
from pathlib import Path

from scipy.stats import norm

from .results import atomic_write_text

BASELINE = Path(__file__).resolve().parent / "baseline.json"
ROUND_OFF = 1e-9  # relative widening of every CI: deterministic claims have zero-width CIs, and another
#                   machine's BLAS may change their values in the last digits without any real drift


def snapshot(verdicts: list[dict]) -> dict:
    """The gated part of each verdict: verdict, expected verdict, numbers with CIs."""
    return {v["claim"]: {"verdict": v["verdict"], "expected": v["expected"], "numbers": v.get("numbers", {})}
            for v in verdicts}


def overlap(a: dict, b: dict) -> bool:
    """Whether two numbers' CIs overlap, each widened by ROUND_OFF relative (NaN CIs: the values must
    agree to ROUND_OFF, or both be NaN)."""
    lo_a, hi_a, lo_b, hi_b = a["ci_low"], a["ci_high"], b["ci_low"], b["ci_high"]
    if any(v is None or v != v for v in (lo_a, hi_a, lo_b, hi_b)):
        va, vb = a["value"], b["value"]
        return (va != va and vb != vb) or abs(va - vb) <= ROUND_OFF * max(abs(va), abs(vb))
    tol = ROUND_OFF * max(abs(lo_a), abs(hi_a), abs(lo_b), abs(hi_b))
    return lo_a <= hi_b + tol and lo_b <= hi_a + tol


def family_factor(m: int, level: float = 0.95) -> float:
    """How much to widen a 95% CI so that m of them hold jointly at ``level`` (Bonferroni)."""
    return float(norm.ppf(1 - (1 - level) / (2 * max(m, 1))) / norm.ppf(0.975))


def widen(n: dict, factor: float) -> dict:
    """A number's CI stretched about its value by ``factor`` (asymmetric CIs keep their shape)."""
    v = n["value"]
    if any(x is None or x != x for x in (v, n["ci_low"], n["ci_high"])):
        return n
    return {"value": v, "ci_low": v - factor * (v - n["ci_low"]), "ci_high": v + factor * (n["ci_high"] - v)}


def drift(baseline: dict, current: dict, level: float = 0.95, decisive_only: bool = False,
          verdict_claims: set | None = None) -> list[str]:
    """One line per drifted claim: what moved, from what to what (CIs widened to the family level).
    ``decisive_only``: only verdict changes between holds and violated count, not moves to or from
    inconclusive (a CI straddling a tolerance flips with the seed; the numbers still gate it).
    ``verdict_claims``: the claims whose verdict is compared (None: all); the others are gated on
    their numbers only (see ``verify.power.verdict_gated``)."""
    m = sum(len(b["numbers"]) for b in baseline.values())
    k = family_factor(m, level)
    lines = []
    for cid, base in baseline.items():
        cur = current.get(cid)
        if cur is None:
            lines.append(f"{cid}: missing from this run (in the baseline)")
            continue
        changed = cur["verdict"] != base["verdict"] and (verdict_claims is None or cid in verdict_claims)
        if changed and not (decisive_only and "inconclusive" in (cur["verdict"], base["verdict"])):
            lines.append(f"{cid}: verdict {base['verdict']} -> {cur['verdict']}")
        for name, b in base["numbers"].items():
            c = cur["numbers"].get(name)
            if c is None:
                lines.append(f"{cid}: number {name} missing")
            elif not overlap(widen(b, k), widen(c, k)):
                lines.append(f"{cid}: {name} {b['value']:.4g} [{b['ci_low']:.4g}, {b['ci_high']:.4g}] -> "
                             f"{c['value']:.4g} [{c['ci_low']:.4g}, {c['ci_high']:.4g}] (CIs do not overlap)")
    for cid in current.keys() - baseline.keys():
        lines.append(f"{cid}: not in the baseline (run --update-baseline)")
    return lines


class BadBaseline(ValueError):
    """The baseline file exists but is not a gate baseline (one line, naming the path)."""


def load(path: Path) -> dict:
    """The baseline's claims: {claim id: {"verdict", "expected", "numbers": {name: {value, ci_low, ci_high}}}}.
    FileNotFoundError when the file is missing, BadBaseline when it is not such a file."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"baseline {path} does not exist: create it with --update-baseline") from None
    except (ValueError, OSError) as e:
        raise BadBaseline(f"baseline {path} is not readable JSON ({type(e).__name__})") from None
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(claims, dict) or not claims:
        raise BadBaseline(f"baseline {path} has no 'claims' object: expected {{\"claims\": {{claim id: entry}}}}")
    for cid, entry in claims.items():
        numbers = entry.get("numbers") if isinstance(entry, dict) else None
        if not isinstance(numbers, dict) or not isinstance(entry.get("verdict"), str) or not all(
                isinstance(n, dict) and {"value", "ci_low", "ci_high"} <= set(n) for n in numbers.values()):
            raise BadBaseline(f"baseline {path}: entry {cid!r} needs a verdict and numbers with value, ci_low, ci_high")
    return claims


def save(path: Path, snap: dict) -> None:
    """Write the baseline atomically: an interrupted --update-baseline leaves the old one intact."""
    atomic_write_text(path, json.dumps({"claims": snap}, indent=1, sort_keys=True, default=float) + "\n")
