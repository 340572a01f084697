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


def test_decreasing_judge_rejects_the_constant_step_rows():
    """The constant_step counterfeit has only constant runs: they are the tested schedule and the contrast."""
    rows = _decreasing_rows(-1.0, 0.05)
    out = dec.judge(rows[~rows["point"].str.endswith(" decreasing")])
    assert out["verdict"] == "violated", out["reason"]
    assert all(e["point"].endswith(" constant") for e in out["regime_map"])


def test_decreasing_diverged_run_is_a_failure():
    rows = _decreasing_rows(-1.0, 0.05)
    rows.loc[rows["point"].str.endswith(" decreasing") & (rows["seed"] == 2), "diverged"] = True
    out = dec.judge(rows)
    assert out["verdict"] == "violated" and "diverged" in out["reason"]


def test_replicated_rows_average_runs():
    """run_points(replicas=3): each seed is the mean of its replicas, engine seed indices j*3 ... j*3 + 2."""
    from dataclasses import replace as dc_replace

    from verify.sweep import Point
    problem, sampler = dec.make_case("ridge_k1.6/uniform")
    ctx = Context(quick=True, seeds=2, progress=False)
    pts = [Point("p", {"lr": 0.01, "rho": 0.01, "lam": 0.5}, T=20)]
    kw = dict(problem_name="ridge", checkpoints=np.array([1, 10, 20]), label="x")
    flat = dec.run_points(dc_replace(ctx, seeds=6), dec.ID, dec.ALGO, problem, sampler, pts, **kw)
    avg = dec.run_points(ctx, dec.ID, dec.ALGO, problem, sampler, pts, replicas=3, **kw)
    assert sorted(avg["seed"].unique()) == [0, 1] and len(avg) * 3 == len(flat)
    key = ["seed", "t", "metric"]
    want = flat.assign(seed=flat["seed"] // 3).groupby(key)["value"].mean()
    got = avg.set_index(key)["value"].sort_index()
    assert np.allclose(got.to_numpy(), want.sort_index().to_numpy(), equal_nan=True)


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


def _nonconvex_rows(floor, seed: int = 0, sigma: float = 0.05, diverged: bool = False) -> pd.DataFrame:
    """Running averages avg(t) = 20/t + F(T) at checkpoints t <= T of runs with gamma = 0.5/sqrt(T): a transient
    integral 20 plus a stationary level F(T) = floor(T) (times per-seed noise), so the burned-in average is F."""
    rng = np.random.default_rng(seed)
    frames = []
    for lam in (0.0, 0.5, 1.0):
        point = f"d=2 x0=0 lam={lam:g}"
        for T in (250, 500, 1000, 2000, 4000):
            params = {"lam": lam, "lr": 0.5 / np.sqrt(T), "burn_in_flow": 5.0}
            t = np.unique(np.append(np.geomspace(1, 4000, 30).astype(int), T))
            t = t[t <= T]
            F = floor(T) * _noise(rng, (SEEDS, 1), sigma)
            frames.append(_rows(ncv.ID, point, params, T, t, ncv.UPPER, 20.0 / t + F))
            for metric, value in ((ncv.LOWER, 0.1 * F), (ncv.TAIL, F)):
                frames.append(_rows(ncv.ID, point, params, T, np.array([T]), metric, value))
    rows = pd.concat(frames, ignore_index=True)
    if diverged:
        rows.loc[(rows["seed"] == 0) & (rows["T"] == 4000), "diverged"] = True
    return rows


def test_nonconvex_judge_holds_on_inverse_sqrt_T():
    out = ncv.judge(_nonconvex_rows(lambda T: 0.3 / np.sqrt(T)))
    assert out["verdict"] == "holds", out["reason"]
    assert abs(out["estimate"] + 0.5) < 0.05
    assert [e["point"] for e in out["regime_map"]] == ["d=2 x0=0 lam=0", "d=2 x0=0 lam=0.5", "d=2 x0=0 lam=1"]
    assert set(out["numbers"]) == {"slope_burned_in_lam0", "slope_burned_in_lam0.5", "slope_burned_in_lam1",
                                   "slope_lower_max", "slope_upper_max", "slope_tail_max"}


def test_nonconvex_burn_in_removes_the_transient():
    """The running average (20/T + F) decays like 1/T; the fitted average over [t_b, T) is F itself."""
    out = ncv.judge(_nonconvex_rows(lambda T: 0.05 * T ** -0.25))
    assert out["verdict"] == "violated", out["reason"]
    assert abs(out["estimate"] + 0.25) < 0.05
    assert out["numbers"]["slope_upper_max"]["value"] < -0.6  # the transient: would have said "holds"


def test_nonconvex_judge_violated_on_a_stall():
    out = ncv.judge(_nonconvex_rows(lambda T: 0.01 + 0 * T))
    assert out["verdict"] == "violated", out["reason"]
    assert all(e["verdict"] == "violated" for e in out["regime_map"])


def test_nonconvex_lack_of_fit_widens_the_CI():
    """A level that falls like T^(-1) early and stalls late: one slope fits badly, so no decisive "holds"."""
    out = ncv.judge(_nonconvex_rows(lambda T: 1.0 / T + 1e-3, sigma=0.01))
    assert out["verdict"] != "holds", out["reason"]
    whole = [e for e in out["regime_map"]][0]
    assert whole["ci_high"] - whole["ci_low"] > 0.2


def test_nonconvex_diverged_run_is_a_failure():
    out = ncv.judge(_nonconvex_rows(lambda T: 0.3 / np.sqrt(T), diverged=True))
    assert out["verdict"] == "violated" and "diverged" in out["reason"]


def test_nonconvex_holm_needs_family_wise_evidence():
    """Slopes just above the limit with wide CIs: single points may look violated, Holm keeps them inconclusive."""
    out = ncv.judge(_nonconvex_rows(lambda T: 0.3 * T ** -0.37, sigma=0.12, seed=3))
    assert out["verdict"] in ("inconclusive", "violated")
    for e in out["regime_map"]:
        assert e["verdict"] != "violated" or "Holm" not in e["reason"]


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
