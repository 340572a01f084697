"""Tests of the Unified SAM claims unified.thm3_5_decreasing and unified.thm3_7_nonconvex: the judges on
synthetic rows (a case that holds, one that is violated, one that is inconclusive), the Thm 3.2
constants, and (slow) the real quick claims."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from problems import Gaussian, TauNice, Uniform, make_problem
from verify.claim import Context
from verify.claims import unified_thm3_5_decreasing as dec
from verify.claims import unified_thm3_7_nonconvex as ncv
from verify.results import COLUMNS

SEEDS = 8


def _rows(claim, point, params, T, t, metric, Y, problem="p", sampler="s"):
    """Tidy rows of Y: (seeds, len(t)) for one point and metric."""
    S, K = Y.shape
    return pd.DataFrame({"claim": claim, "algorithm": "unified_sam", "problem": problem, "sampler": sampler,
                         "point": point, "params": json.dumps(params), "seed": np.repeat(np.arange(S), K),
                         "T": np.broadcast_to(np.asarray(T), (S, K)).reshape(-1), "b": 1,
                         "t": np.tile(t, S), "metric": metric, "value": Y.reshape(-1), "diverged": False})[COLUMNS]


def _noise(rng, shape, sigma=0.05):
    return np.exp(sigma * rng.standard_normal(shape))


# unified.thm3_5_decreasing


def _decreasing_rows(dec_exponent: float, plateau: float, seed: int = 0) -> pd.DataFrame:
    """Decreasing runs with E f_gap = 5 t^dec_exponent, constant runs with a plateau (or 5/t if plateau = 0)."""
    rng = np.random.default_rng(seed)
    T = 4000
    t = np.unique(np.geomspace(1, T, 60).astype(int))
    frames = []
    for lam in (0.0, 0.5, 1.0):
        base = f"case lam={lam:g}"
        params = {"lam": lam, "fit_from": 100.0, "schedule": "decreasing"}
        Y = 5.0 * t ** dec_exponent * _noise(rng, (SEEDS, t.size))
        frames.append(_rows(dec.ID, base + " decreasing", params, T, t, "f_gap", Y))
        curve = np.full(t.size, plateau) + 5.0 * np.exp(-t / 50.0) if plateau > 0 else 5.0 / t
        Yc = curve * _noise(rng, (SEEDS, t.size))
        frames.append(_rows(dec.ID, base + " constant", {**params, "schedule": "constant"}, T, t, "f_gap", Yc))
        floor = _rows(dec.ID, base + " constant", {}, T, np.array([T]), "floor", np.array([[0.5]]))
        frames.append(floor.assign(seed=-1))
    return pd.concat(frames, ignore_index=True)


def test_decreasing_judge_holds_on_1_over_t_with_stalling_contrast():
    out = dec.judge(_decreasing_rows(-1.0, 0.05))
    assert out["verdict"] == "holds", out["reason"]
    assert len(out["regime_map"]) == 3 and all(e["verdict"] == "holds" for e in out["regime_map"])
    assert abs(out["estimate"] + 1.0) < 0.05
    assert set(out["numbers"]) == {"slope_lam0", "slope_lam0.5", "slope_lam1", "const_slope_last_decade",
                                   "const_plateau"}
    assert abs(out["numbers"]["const_plateau"]["value"] - 0.05) < 0.005


def test_decreasing_judge_violated_on_slow_rate():
    out = dec.judge(_decreasing_rows(-0.5, 0.05))
    assert out["verdict"] == "violated", out["reason"]
    assert out["ci_low"] > -0.9


def test_decreasing_judge_inconclusive_when_contrast_does_not_stall():
    out = dec.judge(_decreasing_rows(-1.0, 0.0))
    assert out["verdict"] == "inconclusive"
    assert "does not stall" in out["reason"]


def test_thm3_2_constants_respect_the_limits():
    ridge = make_problem("ridge", n=30, d=4, cond=2.0, reg=1.0, seed=1)
    for problem, sampler in ((ridge, Uniform()), (ridge, TauNice(5)), (make_problem("pl_sine", d=3), Gaussian(1.0))):
        A, B, C = sampler.abc(problem)
        L, mu = getattr(problem, "L_max", problem.L), problem.mu
        for lam in (0.0, 0.5, 1.0):
            k = dec.thm3_2_constants(problem, sampler, lam)
            q = (1 - lam) ** 2
            assert 0 < k["rho_star"] < mu / (L * (mu + 2 * q * (B * mu + A)))
            gamma_max = (mu - L * k["rho_star"] * (mu + 2 * q * (B * mu + A))) / (
                2 * L * (B * mu + A) * (1 + 2 * L ** 2 * k["rho_star"] ** 2 * q))
            assert 0 < k["gamma_star"] <= gamma_max * (1 + 1e-12)
            assert k["N"] > 0 and k["fit_from"] == pytest.approx(10 / (k["gamma_star"] * mu))
    k1 = dec.thm3_2_constants(ridge, Uniform(), 1.0)
    assert k1["rho_limit"] == pytest.approx(1 / ridge.L_max)  # lambda = 1: rho < mu / (L mu)


# unified.thm3_7_nonconvex


def _nonconvex_rows(upper_exp: float, lower_exp: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    Ts = np.array([250, 500, 1000, 2000, 4000])
    frames = []
    for lam in (0.0, 0.5, 1.0):
        point = f"d=2 x0=0 lam={lam:g}"
        for metric, e in ((ncv.UPPER, upper_exp), (ncv.LOWER, lower_exp), (ncv.TAIL, upper_exp - 0.2)):
            for T in Ts:
                Y = (0.3 * T ** e * _noise(rng, (SEEDS, 1)))
                frames.append(_rows(ncv.ID, point, {"lam": lam}, T, np.array([T]), metric, Y))
    return pd.concat(frames, ignore_index=True)


def test_nonconvex_judge_holds_on_inverse_sqrt_T():
    out = ncv.judge(_nonconvex_rows(-0.5, -0.7))
    assert out["verdict"] == "holds", out["reason"]
    assert abs(out["estimate"] + 0.5) < 0.05
    assert [e["point"] for e in out["regime_map"]] == ["d=2 x0=0 lam=0", "d=2 x0=0 lam=0.5", "d=2 x0=0 lam=1"]
    assert set(out["numbers"]) == {"slope_upper_lam0", "slope_upper_lam0.5", "slope_upper_lam1", "slope_lower_max",
                                   "slope_tail_max"}


def test_nonconvex_judge_violated_when_even_the_lower_envelope_stalls():
    out = ncv.judge(_nonconvex_rows(0.0, -0.1))
    assert out["verdict"] == "violated", out["reason"]
    assert all(e["verdict"] == "violated" for e in out["regime_map"])


def test_nonconvex_judge_inconclusive_between_the_envelopes():
    out = ncv.judge(_nonconvex_rows(-0.2, -0.8))
    assert out["verdict"] == "inconclusive"
    assert "not resolved" in out["reason"]


def test_unit_row_problem_has_equal_smoothness():
    p = ncv.unit_row_robust_regression(3)
    assert np.allclose(p.L_i, 2.0) and p.L_max == pytest.approx(2.0)


# the real quick claims


@pytest.mark.slow
@pytest.mark.parametrize("claim", [dec.CLAIM, ncv.CLAIM], ids=lambda c: c.id)
def test_quick_claim_gives_expected_verdict(claim):
    rows = claim.execute(Context(quick=True, seeds=8, progress=False))
    out = claim.verdict(rows)
    assert out["n_diverged"] == 0
    assert out["verdict"] == claim.expected, out["reason"]
