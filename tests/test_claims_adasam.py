"""Tests of the adasam.linear_speedup claim: its judge on synthetic rows (holds, violated, the scope rules:
b >= b*, noise-dominated windows, burn-in; divergence; the counterfeits' derived behaviours), and (slow) the
real quick claim."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from verify.claim import Context
from verify.claims import adasam_linear_speedup as ada
from verify.results import COLUMNS

SEEDS = 8
BS = (1, 4, 16)
TS = (250, 1000, 4000)
LEVELS = (("eps=1e-08", 1e-8, "1e-8 (absolute)"), ("eps=0.01", 0.01, "0.1 s"), ("eps=0.1", 0.1, "1 s"),
          ("eps=1", 1.0, "10 s"))


def _rows(law, q=0.1, b_star=0.1, seed=0):
    """Synthetic finals: metric(eps_rel, b, T) = law(...) times log-normal seed noise; the noise-free
    reference (seed -1) is q * mean; b* per label (reference row "b_star")."""
    rng = np.random.default_rng(seed)
    cols = {k: [] for k in ("point", "params", "seed", "T", "b", "t", "metric", "value")}

    def add(point, params, seeds, T, b, t, metric, values):
        n = len(values)
        for k, v in (("point", point), ("params", params), ("T", T), ("b", b), ("t", t), ("metric", metric)):
            cols[k] += [v] * n
        cols["seed"] += list(seeds)
        cols["value"] += list(values)

    for label, eps, rel in LEVELS:
        params = json.dumps({"eps": eps, "eps_rel": rel})
        for b in BS:
            for T in TS:
                mean = law(rel, b, T)
                qq = q(rel, b, T) if callable(q) else q
                for metric in ada.METRICS:
                    add(label, params, range(SEEDS), T, b, T, metric, mean * np.exp(0.03 * rng.standard_normal(SEEDS)))
                    add(label, "{}", [-1], T, b, T, ada.NF + metric, [qq * mean])
        add(label, "{}", [-1], max(TS), min(BS), 0, "b_star", [b_star(rel) if callable(b_star) else b_star])
    df = pd.DataFrame(cols)
    df["claim"], df["algorithm"], df["problem"], df["sampler"], df["diverged"] = ada.ID, "adasam", "p", "s", False
    return df[COLUMNS]


def _speedup(rel, b, T):
    return 0.1 / np.sqrt(b * T)


def test_judge_holds_on_linear_speedup():
    out = ada.judge(_rows(_speedup))
    assert out["verdict"] == "holds", out["reason"]
    assert abs(out["estimate"] + 0.5) < 0.03
    assert abs(out["numbers"]["slope_b"]["value"] + 0.5) < 0.03
    assert abs(out["numbers"]["product_spread"]["value"] - 1) < 0.1
    assert set(out["numbers"]) == {"slope_T", "slope_b", "slope_b_eps_s", "slope_b_tail", "product_spread",
                                   "product_spread_eps_s"}
    for n in out["numbers"].values():
        assert n["ci_low"] <= n["value"] <= n["ci_high"]
    # one summary entry per eps first (the figure looks rows up by point label), then the fits
    assert [e["point"] for e in out["regime_map"][:4]] == [lb for lb, _, _ in LEVELS]
    assert all(e["verdict"] == "holds" for e in out["regime_map"])


def test_judge_violated_when_T_slope_fails_in_noise_dominated_regime():
    out = ada.judge(_rows(lambda rel, b, T: 0.1 / np.sqrt(b) * T ** -0.2))
    assert out["verdict"] == "violated", out["reason"]
    assert out["numbers"]["slope_T"]["ci_low"] > -0.4


def test_judge_violated_when_b_slope_fails_where_eps_holds_the_denominator():
    out = ada.judge(_rows(lambda rel, b, T: 0.1 / np.sqrt(T)))  # no speedup at all, b* = 0.1 < b_min
    assert out["verdict"] == "violated", out["reason"]


def test_judge_small_eps_without_speedup_is_reported_outside_the_tested_regime():
    # the documented finding: no speedup when eps is below the noise scale; below b* the b-slope is not tested
    # (reported), so the claim holds on what is in scope and the reason names the eps without speedup
    def law(rel, b, T):
        return 0.1 / np.sqrt(T) * (1.0 if rel in ("1e-8 (absolute)", "0.1 s") else 1 / np.sqrt(b))

    out = ada.judge(_rows(law, b_star=lambda rel: {"1e-8 (absolute)": 6e12, "0.1 s": 10.0}.get(rel, 0.1)))
    assert out["verdict"] == "holds", out["reason"]
    assert set(out["per_eps"].values()) == {"holds"}
    assert "no speedup in b where b < b* for eps = 1e-8 (absolute), 0.1 s" in out["reason"]
    skipped = [e for e in out["regime_map"] if "slope in b" in e["point"] and "not tested" in e["reason"]]
    assert len(skipped) == 4 and all("b*" in e["reason"] for e in skipped)
    assert abs(out["numbers"]["slope_b"]["value"]) < 0.05


def test_judge_optimisation_dominated_points_are_not_tested():
    def law(rel, b, T):
        return 0.01 if (rel == "10 s" and b == 1) else 0.1 / np.sqrt(b * T)

    out = ada.judge(_rows(law, q=lambda rel, b, T: 1.0 if (rel == "10 s" and b == 1) else 0.1))
    assert out["verdict"] == "holds", out["reason"]
    assert any(e["point"] == "eps=1 | avg | slope in T at b=1" and "optimisation-dominated" in e["reason"]
               for e in out["regime_map"])
    # the same flat curve in the noise-dominated regime is a violation
    assert ada.judge(_rows(law))["verdict"] == "violated"


def test_judge_without_a_noise_dominated_window_is_inconclusive():
    out = ada.judge(_rows(_speedup, q=lambda rel, b, T: 1.0 if rel == "10 s" else 0.1))
    assert out["verdict"] == "inconclusive", out["reason"]
    assert "no noise-dominated fit window for eps = 10 s" in out["reason"]


def test_judge_burn_in_window_starts_where_noise_dominates():
    # a flat transient (optimisation-dominated, q = 1) before T = 1000, then the rate: only T >= 1000 is fitted
    def law(rel, b, T):
        return 0.1 / np.sqrt(b * max(T, 1000))

    out = ada.judge(_rows(law, q=lambda rel, b, T: 1.0 if T < 1000 else 0.1))
    assert out["verdict"] == "inconclusive", out["reason"]  # 2 noise-dominated horizons < MIN_T
    ts = (250, 500, 1000, 2000, 4000)
    tested = [e for e in out["regime_map"] if "slope in T" in e["point"] and "not tested" not in e["reason"]]
    assert tested == []
    assert ada._window([T >= 1000 for T in ts]) == 2 and ada._window([True, False, True]) == 2


def test_judge_diverged_run_is_a_failure():
    rows = _rows(_speedup)
    rows.loc[rows.index[0], "diverged"] = True
    out = ada.judge(rows)
    assert out["verdict"] == "violated" and "diverged" in out["reason"]


def test_judge_holm_needs_a_decisive_excess():
    # a slope just above the limit (-0.38 against -0.4) with wide seed noise: not enough for "violated"
    out = ada.judge(_rows(lambda rel, b, T: 0.1 / np.sqrt(b) * T ** -0.38, seed=1))
    assert out["verdict"] != "holds"
    p = [e for e in out["regime_map"] if "one-sided p" in e["reason"]]
    assert p, out["reason"]


@pytest.mark.parametrize("name, law", [
    ("no_batch_averaging", lambda rel, b, T: 0.1 * np.sqrt(b / T)),        # derived: slope in b +1/2
    ("slow_schedule", lambda rel, b, T: 0.1 / np.sqrt(b) * T ** -0.25)])  # derived: slope in T -1/4
def test_counterfeits_derived_behaviour_is_violated(name, law):
    cf = {c.name: c for c in ada.CLAIM.counterfeits}[name]
    assert cf.expected == "violated" and cf.judge == {}
    assert ada.judge(_rows(law))["verdict"] == "violated"


def test_counterfeit_settings_change_the_schedule_and_the_oracle():
    problem, x0, sigma = ada.setup()
    levels = ada.eps_levels(sigma, 1)
    true = ada._points(levels, 4, (250, 1000), 0.5)
    slow = ada._points(levels, 4, (250, 1000), 0.25)
    assert true[0].hp["lr"] == slow[0].hp["lr"] == pytest.approx(np.sqrt(4 / 250))  # anchored at T_0
    assert slow[1].hp["lr"] == pytest.approx(np.sqrt(4) * 250 ** -0.25 * 1000 ** -0.25)
    assert true[1].hp["rho"] == slow[1].hp["rho"] == pytest.approx(1 / np.sqrt(4 * 1000))
    assert [c.name for c in ada.CLAIM.counterfeits][0] == "no_batch_averaging"


@pytest.mark.slow
def test_quick_claim_runs_and_matches_expected():
    ctx = Context(quick=True, seeds=8, progress=False)
    rows = ada.CLAIM.execute(ctx)
    v = ada.CLAIM.verdict(rows)
    assert v["n_diverged"] == 0
    finals = rows[(rows["seed"] >= 0) & (rows["t"] == rows["T"])]
    assert {"grad_sq_avg", "grad_sq_tail_avg"} <= set(finals["metric"])
    assert sorted(finals["b"].unique()) == ada.GRIDS["quick"]["b"]
    # docs/claims.md#adasamlinear_speedup (regimes): with eps below the noise scale the adaptive denominator tracks the noise
    # and no speedup in b shows; the b-slope is tested only at noise-dominated b >= b*, and the finding is named
    assert v["verdict"] == ada.CLAIM.expected, v["reason"]
    assert "no speedup in b where b < b* for eps = 1e-8 (absolute)" in v["reason"]
    # the speedup does show where eps holds the denominator (eps = s), in the tail average
    assert v["numbers"]["slope_b_eps_s"]["ci_high"] <= -0.5 + ada.TOL
