"""Tests of the Unified SAM claims unified.thm3_2_bound, unified.cor3_4_plateau and unified.importance:
each judge on synthetic rows (a case where the prediction holds and one where it is violated), the
sympy step-size limits, and (slow) the real quick runs."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from verify.claim import Context
from verify.claims import unified_cor3_4_plateau as cor34
from verify.claims import unified_importance as imp
from verify.claims import unified_thm3_2_bound as thm32
from verify.results import COLUMNS
from verify.sweep import theory_rows

T_GRID = np.array([0, 1, 3, 10, 30, 100, 300, 1000])


def measured(claim, problem, sampler, point, t, Y, metric="f_gap", params=None):
    """Tidy rows of Y: (n_seeds, n_t) as run_points would write them (final row at t = T)."""
    n_seeds, n_t = Y.shape
    T = int(t.max())
    return pd.DataFrame({"claim": claim, "algorithm": "unified_sam", "problem": problem, "sampler": sampler,
                         "point": point, "params": json.dumps(params or {}), "seed": np.repeat(np.arange(n_seeds), n_t),
                         "T": T, "b": 1, "t": np.tile(t, n_seeds), "metric": metric, "value": Y.reshape(-1),
                         "diverged": False})[COLUMNS]


# --- Thm 3.2 ---------------------------------------------------------------------------------------

def test_thm32_step_sizes_match_the_formulas():
    L, mu, A, B, lam = 10.0, 1.0, 10.0, 0.0, 0.25
    rho, gamma = thm32.step_sizes(lam, L, mu, A, B, frac=0.5)
    K = B * mu + A
    assert np.isclose(rho, 0.5 * mu / (L * (mu + 2 * (1 - lam) ** 2 * K)))
    assert np.isclose(gamma, (mu - L * rho * (mu + 2 * (1 - lam) ** 2 * K))
                      / (2 * L * K * (1 + 2 * L ** 2 * rho ** 2 * (1 - lam) ** 2)))
    N = thm32.neighbourhood_fn(gamma, rho, lam, L, mu, 2.0)
    want = (L / mu) * ((rho * (1 - lam) ** 2 + gamma * (1 + 2 * L ** 2 * rho ** 2 * (1 - lam) ** 2)) * 2.0
                       + rho * lam ** 2 * (1 + 2 * L ** 2 * gamma * rho))
    assert np.isclose(N, want)
    assert np.isclose(thm32.bound_fn(0.0, gamma, rho, lam, L, mu, 2.0, 5.0), 5.0 + want)


def _thm32_rows(scale: float, noise: float = 0.02) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    gamma, rho, lam, L, mu, C, D0 = 0.01, 0.01, 0.5, 5.0, 1.0, 1.0, 4.0
    bound = thm32.bound_fn(T_GRID.astype(float), gamma, rho, lam, L, mu, C, D0)
    Y = scale * bound * np.exp(noise * rng.standard_normal((6, T_GRID.size)))
    Y[:, 0] = D0
    point = "lambda=0.5,sampler=uniform"
    return pd.concat([measured(thm32.ID, "ridge", "uniform", point, T_GRID, Y),
                      theory_rows(thm32.ID, "unified_sam", "ridge", "uniform", point, 1000, 1, T_GRID, "bound", bound),
                      theory_rows(thm32.ID, "unified_sam", "ridge", "uniform", point, 1000, 1, 1000, "floor",
                                  thm32.neighbourhood_fn(gamma, rho, lam, L, mu, C))], ignore_index=True)


def test_thm32_judge_holds_below_the_bound():
    v = thm32.judge(_thm32_rows(0.5))
    assert v["verdict"] == "holds"
    assert 1.8 < v["estimate"] < 2.2  # bound / mean ~ 2
    assert v["regime_map"][0]["verdict"] == "holds"
    assert set(v["numbers"]) >= {"tightest_bound_over_mean", "worst_margin"}


def test_thm32_judge_violated_above_the_bound():
    v = thm32.judge(_thm32_rows(2.0))
    assert v["verdict"] == "violated"
    assert v["bound_margin"] < 0


def test_thm32_bound_values_default_is_the_theorem_and_counterfeits_change_only_the_bound():
    t = T_GRID.astype(float)
    args = (0.01, 0.01, 0.5, 5.0, 1.0, 1.0, 4.0)  # gamma, rho, lambda, L, mu, C, D0
    N = thm32.neighbourhood_fn(*args[:5], args[5])
    assert np.allclose(thm32.bound_values(t, *args), thm32.bound_fn(t, *args), rtol=1e-14)
    assert np.allclose(thm32.bound_values(t, *args, neighbourhood=0.0), 4.0 * (1 - 0.01) ** t, rtol=1e-14)
    assert np.allclose(thm32.bound_values(t, *args, contraction=4.0), 4.0 * (1 - 0.04) ** t + N, rtol=1e-14)
    with pytest.raises(ValueError, match="contraction"):
        thm32.bound_values(t, *args, contraction=200.0)


def test_thm32_counterfeits_are_declared():
    names = [c.name for c in thm32.CLAIM.counterfeits]
    assert names == ["no_neighbourhood", "fast_contraction"]


# --- Cor 3.4 ---------------------------------------------------------------------------------------

def _cor34_rows(plateaus: dict, N: dict, lam0_final: float = 1e-18, cycle: dict | None = None) -> pd.DataFrame:
    """Deterministic rows with the given plateaus; the 2-cycle level defaults to the plateau itself."""
    cycle = cycle or {}
    t = np.unique(np.r_[0, np.geomspace(1, 1000, 20).round()]).astype(float)
    D0, frames = 5.0, []
    for lam, level in plateaus.items():
        point = f"lambda={lam:g}"
        y = D0 * 0.5 ** t + (level if lam > 0 else 0.0)
        if lam == 0:
            y[-1] = lam0_final
        Y = np.tile(y, (4, 1))  # deterministic: identical seeds
        bound = D0 * 0.99 ** t + N[lam]
        frames += [measured(cor34.ID, "ridge", "full_batch", point, t, Y),
                   theory_rows(cor34.ID, "unified_sam", "ridge", "full_batch", point, 1000, 1, 1000, "floor", N[lam]),
                   theory_rows(cor34.ID, "unified_sam", "ridge", "full_batch", point, 1000, 1, t, "bound", bound),
                   theory_rows(cor34.ID, "unified_sam", "ridge", "full_batch", point, 1000, 1, 1000, "roundoff",
                               cor34.ROUNDOFF_REL * D0),
                   theory_rows(cor34.ID, "unified_sam", "ridge", "full_batch", point, 1000, 1, 1000, "cycle",
                               cycle.get(lam, max(level, 1e-30)))]
    return pd.concat(frames, ignore_index=True)


N_LAM = {0.0: 0.0, 0.5: 0.1, 1.0: 0.4}


def test_cor34_judge_holds_for_growing_plateaus_under_N():
    v = cor34.judge(_cor34_rows({0.0: 0.0, 0.5: 1e-4, 1.0: 4e-4}, N_LAM))
    assert v["verdict"] == "holds", v["reason"]
    assert abs(v["numbers"]["plateau_lambda_exponent_ridge"]["value"] - 2.0) < 1e-6


def test_cor34_judge_violated_when_a_plateau_exceeds_N():
    v = cor34.judge(_cor34_rows({0.0: 0.0, 0.5: 1e-4, 1.0: 0.8}, N_LAM))
    assert v["verdict"] == "violated"


def test_cor34_judge_violated_when_plateau_shrinks_with_lambda():
    v = cor34.judge(_cor34_rows({0.0: 0.0, 0.5: 4e-4, 1.0: 1e-4}, N_LAM))
    assert v["verdict"] == "violated"


def test_cor34_judge_violated_when_lambda0_does_not_converge():
    v = cor34.judge(_cor34_rows({0.0: 0.0, 0.5: 1e-4, 1.0: 4e-4}, N_LAM, lam0_final=1e-3))
    assert v["verdict"] == "violated"


def test_cor34_two_cycle_level_is_a_2_cycle_of_the_1d_map():
    h, gamma, rho, lam = 1.1, 0.2, 0.15, 0.75
    c = np.sqrt(2 * cor34.two_cycle_level(h, gamma, rho, lam) / h)
    step = lambda x: x - gamma * h * (x + rho * (1 - lam) * h * x + lam * rho * np.sign(x))  # noqa: E731
    assert np.isclose(step(c), -c, rtol=1e-12) and np.isclose(step(-c), c, rtol=1e-12)


def test_cor34_top_curvature_of_ridge_is_L():
    problem = cor34._problem("ridge")
    assert np.isclose(cor34.top_curvature(problem), problem.L, rtol=1e-10)


def test_cor34_counterfeit_law_below_the_cycle_is_violated():
    plateaus = {0.0: 0.0, 0.5: 1e-4, 1.0: 4e-4}
    assert cor34.judge(_cor34_rows(plateaus, N_LAM), law="cycle")["verdict"] == "holds"
    v = cor34.judge(_cor34_rows(plateaus, N_LAM), law="cycle", law_factor=0.25)
    assert v["verdict"] == "violated", v["reason"]


def test_cor34_counterfeit_lambda0_stalls():
    plateaus = {0.0: 0.0, 0.5: 1e-4, 1.0: 4e-4}
    assert cor34.judge(_cor34_rows(plateaus, N_LAM), lam0="stalls")["verdict"] == "violated"
    t = np.array([0.0, 10.0, 100.0, 1000.0])
    stalled = np.tile([5.0, 1e-3, 1e-3, 1e-3], (4, 1))
    assert cor34._lam0_check(t, stalled, 1e-12, "stalls")[0] == "holds"
    assert cor34._lam0_check(t, stalled, 1e-12, "converges")[0] == "violated"


# --- importance ------------------------------------------------------------------------------------

def _imp_rows(t_hit_unif: float, t_hit_imp: float, unweighted_level: float, floor: float = 1.0,
              reweighted_floor: float = 0.0, step_ratio: float = 10.0) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    T = 2000
    t = np.unique(np.r_[np.linspace(0, T, 201), np.geomspace(1, T, 30).round()]).astype(float)
    D0, frames = 100.0, []
    for name, t_hit, gamma in (("uniform", t_hit_unif, 1e-6), ("importance", t_hit_imp, 1e-5),
                               ("importance_unweighted", 200.0, 1e-5)):
        point = f"lambda=1,sampler={name}"
        rate = np.log(10.0) / t_hit  # f reaches D0/10 at t_hit
        noise = np.exp(0.02 * rng.standard_normal((6, t.size)))
        level = unweighted_level if name == "importance_unweighted" else 0.0
        f = (D0 * np.exp(-rate * t) + 1e-3 / (1 + t) + level)[None, :] * noise
        if name == "importance":
            d = (0.1 * np.exp(-rate * t) + 1e-3 / (1 + t) + reweighted_floor)[None, :] * noise
        else:
            d = (0.1 * np.exp(-rate * t) + level * 0.01 + 1e-3 / (1 + t))[None, :] * noise
        params = {"gamma_star": gamma, "mu": 500.0}  # fit_start 2/(mu gamma*) ~ 400 for importance
        frames += [measured(imp.ID, "ridge_uneven", name, point, t, f, params=params),
                   measured(imp.ID, "ridge_uneven", name, point, t, d, metric="dist_sq", params=params),
                   theory_rows(imp.ID, "unified_sam", "ridge_uneven", name, point, T, 1, T, "target", 0.1 * D0)]
        if name == "uniform":
            frames.append(theory_rows(imp.ID, "unified_sam", "ridge_uneven", name, point, T, 1, T, "step_ratio",
                                      step_ratio))
        if name == "importance_unweighted":
            frames += [theory_rows(imp.ID, "unified_sam", "ridge_uneven", name, point, T, 1, T, "floor", floor),
                       theory_rows(imp.ID, "unified_sam", "ridge_uneven", name, point, T, 1, T, "floor_dist", 0.01)]
    return pd.concat(frames, ignore_index=True)


def test_importance_hitting_time_interpolates():
    t = np.array([0.0, 10.0, 20.0])
    Y = np.array([[100.0, 10.0, 1.0], [100.0, 50.0, 40.0]])
    times, reached = imp.hitting_times(t, Y, 10.0 ** 0.5)
    assert np.isclose(times[0], 15.0) and reached[0]
    assert times[1] == 20.0 and not reached[1]


def test_importance_judge_holds():
    v = imp.judge(_imp_rows(1500, 200, unweighted_level=1.0))
    assert v["verdict"] == "holds", v["reason"]
    assert 6 < v["estimate"] < 9


def test_importance_judge_violated_when_importance_is_slower():
    v = imp.judge(_imp_rows(200, 1500, unweighted_level=1.0))
    assert v["verdict"] == "violated"


def test_importance_judge_violated_when_reweighted_run_has_a_floor():
    v = imp.judge(_imp_rows(1500, 200, unweighted_level=1.0, reweighted_floor=0.05))
    assert v["verdict"] == "violated"


def test_importance_judge_violated_when_control_misses_its_floor():
    v = imp.judge(_imp_rows(1500, 200, unweighted_level=2.0))
    assert v["verdict"] == "violated"


def test_importance_judge_violated_when_speedup_is_below_the_margin():
    """The mechanism switched off (uniform given the importance step): equal hitting times, speedup ~ 1 <
    sqrt(step ratio 10); the old rule (log ratio > 0) could only say inconclusive."""
    v = imp.judge(_imp_rows(200, 200, unweighted_level=1.0))
    assert v["regime_map"][0]["verdict"] == "violated", v["reason"]
    assert v["verdict"] == "violated"


def test_importance_fit_start_is_the_end_of_the_constant_phase():
    gamma_star, mu = 1e-5, 500.0
    t0 = imp.fit_start(gamma_star, mu, 10000)
    assert (2 * t0 + 1) / ((t0 + 1) ** 2 * mu) <= gamma_star < (2 * t0 - 1) / (t0 ** 2 * mu)
    assert abs(t0 - 2 / (mu * gamma_star)) < 2
    assert imp.fit_start(gamma_star, mu, 100) == 100


def test_importance_weighted_minimiser_solves_the_weighted_normal_equations():
    prob = imp.problem()
    p = np.full(prob.n, 1.0 / prob.n)
    assert np.allclose(imp.weighted_minimiser(prob, p), prob.x_star)  # uniform weights: x_p = x*
    q = imp.Importance().probs(prob)
    xq = imp.weighted_minimiser(prob, q)
    grad = (q[:, None] * prob.component_grads(xq)).sum(0)
    assert np.linalg.norm(grad) < 1e-9 * max(1.0, np.linalg.norm(prob.A.T @ prob.b))


# --- the real quick runs ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("module", [thm32, cor34, imp], ids=lambda m: m.ID)
def test_quick_claim_gives_expected_verdict(module):
    claim = module.CLAIM
    rows = claim.execute(Context(quick=True, seeds=8, progress=False))
    v = claim.verdict(rows)
    assert v["verdict"] == claim.expected, v["reason"]
    assert v["n_diverged"] == 0
