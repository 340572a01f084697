"""Tests of verify.stats: slope fits, confidence intervals and verdict rules."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, t as student_t

from verify.stats import (
    BoundCheck,
    Plateau,
    SlopeFit,
    check_bound,
    combine_verdicts,
    estimate_plateau,
    fit_loglog_slope,
    mean_confidence,
    monotone_verdict,
    rate_verdict,
)

X = np.geomspace(1e2, 1e5, 6)


def power_law(n_seeds: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """3 x^-0.5 times independent log-normal noise per (seed, grid value): (n_seeds, 6)."""
    return 3.0 * X**-0.5 * np.exp(sigma * rng.standard_normal((n_seeds, X.size)))


def fit(slope: float, ci_low: float, ci_high: float, n_seeds: int = 8) -> SlopeFit:
    return SlopeFit(slope, ci_low, ci_high, 0.0, 6, n_seeds, 0.95)


# fit_loglog_slope


def test_noise_free_power_law_recovers_exponent_with_degenerate_ci():
    Y = np.tile(3.0 * X**-0.5, (5, 1))
    f = fit_loglog_slope(X, Y)
    assert abs(f.slope + 0.5) < 1e-12
    assert abs(f.intercept - np.log(3.0)) < 1e-10
    assert f.ci_high - f.ci_low < 1e-12
    assert f.ci_low - 1e-12 <= f.slope <= f.ci_high + 1e-12
    assert (f.n_points, f.n_seeds, f.level) == (6, 5, 0.95)
    # Exact data meet their own exponent: round-off must not turn it into a violation.
    assert rate_verdict(f, -0.5, 0.0)[0] == "holds"


def test_slope_is_of_the_log_of_the_seed_mean():
    # Per-seed exponents -1 and -0.25: the seed-mean x^-1 + x^-0.25 is not a power law, and its
    # log-log slope is not the mean of the per-seed slopes.
    x = np.array([1.0, 10.0, 100.0])
    Y = np.vstack([x**-1.0, x**-0.25])
    m = Y.mean(axis=0)
    want = np.polyfit(np.log(x), np.log(m), 1)[0]
    f = fit_loglog_slope(x, Y)
    assert abs(f.slope - want) < 1e-12
    assert abs(f.slope - (-0.625)) > 0.01


def test_noisy_ci_is_centred_reproducible_and_shrinks_with_seeds():
    rng = np.random.default_rng(0)
    Y = power_law(32, 0.3, rng)
    f = fit_loglog_slope(X, Y, seed=1)
    assert f.ci_low < f.slope < f.ci_high
    assert abs((f.ci_low + f.ci_high) / 2 - f.slope) < 1e-12
    assert fit_loglog_slope(X, Y, seed=1) == f
    assert fit_loglog_slope(X, Y, seed=2) != f
    narrow = fit_loglog_slope(X, Y)
    wide = fit_loglog_slope(X, Y[:4])
    assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low
    lower_level = fit_loglog_slope(X, Y, level=0.5)
    assert lower_level.ci_high - lower_level.ci_low < narrow.ci_high - narrow.ci_low


def test_nan_entries_are_skipped_in_the_seed_mean():
    rng = np.random.default_rng(1)
    Y = power_law(6, 0.2, rng)
    Y[0, 2] = np.nan
    Y[3, 4] = np.inf  # a diverged run may report inf: treated as missing
    f = fit_loglog_slope(X, Y)
    m = np.array([np.mean(c[np.isfinite(c)]) for c in Y.T])
    want = np.polyfit(np.log(X), np.log(m), 1)[0]
    assert abs(f.slope - want) < 1e-12
    assert (f.n_points, f.n_seeds) == (6, 6)
    assert np.isfinite(f.ci_low) and np.isfinite(f.ci_high)


def test_empty_columns_and_seeds_are_dropped():
    Y = np.tile(2.0 * X**-1.0, (4, 1))
    Y[:, 1] = np.nan  # every run at this grid value diverged
    Y[:, 3] = 0.0  # converged to zero exactly: log undefined
    Y[2] = np.nan  # this seed diverged everywhere
    f = fit_loglog_slope(X, Y)
    assert abs(f.slope + 1.0) < 1e-12
    assert (f.n_points, f.n_seeds) == (4, 3)


def test_one_seed_gives_no_interval_and_an_inconclusive_verdict():
    f = fit_loglog_slope(X, (3.0 * X**-0.5)[None, :])
    assert abs(f.slope + 0.5) < 1e-12
    assert np.isnan(f.ci_low) and np.isnan(f.ci_high)
    verdict, reason = rate_verdict(f, -0.5, 0.1)
    assert verdict == "inconclusive"
    assert "fewer than 2 seeds" in reason


def test_fewer_than_two_grid_points_gives_nan_fit():
    Y = np.tile(X**-0.5, (3, 1))
    Y[:, 1:] = np.nan
    f = fit_loglog_slope(X, Y)
    assert f.n_points == 1 and np.isnan(f.slope)
    verdict, reason = rate_verdict(f, -0.5, 0.1)
    assert verdict == "inconclusive" and "grid points" in reason


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError):
        fit_loglog_slope(np.array([0.0, 1.0]), np.ones((2, 2)))
    with pytest.raises(ValueError):
        fit_loglog_slope(X, np.ones((2, 5)))
    with pytest.raises(ValueError):
        fit_loglog_slope(X, np.ones((2, 6)), level=1.0)


# rate_verdict


def test_rate_verdict_outcomes():
    verdict, reason = rate_verdict(fit(-0.62, -0.70, -0.55), -0.5, 0.05)
    assert verdict == "holds"
    assert reason == "slope -0.620 [95% CI -0.700, -0.550] <= -0.500 + 0.050"
    assert rate_verdict(fit(-0.30, -0.40, -0.20), -0.5, 0.05)[0] == "violated"
    assert rate_verdict(fit(-0.50, -0.60, -0.40), -0.5, 0.05)[0] == "inconclusive"
    # The tolerance moves the line: the same fit holds with a looser one.
    assert rate_verdict(fit(-0.50, -0.60, -0.40), -0.5, 0.10)[0] == "holds"
    # Boundaries: ci_high exactly at the limit holds; ci_low exactly at it is not a violation.
    assert rate_verdict(fit(-0.6, -0.7, -0.45), -0.5, 0.05)[0] == "holds"
    assert rate_verdict(fit(-0.3, -0.45, -0.2), -0.5, 0.05)[0] == "inconclusive"


# mean_confidence


def test_mean_confidence_matches_student_t_and_skips_nan():
    rng = np.random.default_rng(2)
    Y = rng.normal(5.0, 1.0, (7, 3))
    Y[1, 1] = np.nan
    Y[:, 2] = np.nan
    Y[0, 2] = 4.0  # a single finite seed: mean but no interval
    mean, low, high = mean_confidence(Y, level=0.9)
    for j, col in enumerate([Y[:, 0], np.delete(Y[:, 1], 1)]):
        want = student_t.interval(0.9, col.size - 1, loc=col.mean(),
                                  scale=col.std(ddof=1) / np.sqrt(col.size))
        assert abs(mean[j] - col.mean()) < 1e-12
        assert abs(low[j] - want[0]) < 1e-12 and abs(high[j] - want[1]) < 1e-12
    assert mean[2] == 4.0 and np.isnan(low[2]) and np.isnan(high[2])


# check_bound


def test_check_bound_outcomes():
    rng = np.random.default_rng(3)
    t = np.arange(1, 11)
    truth = 1.0 / t
    Y = truth * (1 + 0.05 * rng.standard_normal((10, t.size)))
    held = check_bound(Y, 2.0 * truth)
    assert isinstance(held, BoundCheck) and held.verdict == "holds"
    assert np.all(held.margins > 0) and held.worst_margin == held.margins.min()
    assert 1.8 < held.slack < 2.2
    violated = check_bound(Y, 0.5 * truth)
    assert violated.verdict == "violated" and violated.worst_margin < 0
    assert "checkpoint" in violated.reason
    # A bound crossing the mean at one checkpoint: inside that checkpoint's interval.
    mean, low, high = mean_confidence(Y)
    bound = 2.0 * truth
    bound[4] = mean[4]
    tight = check_bound(Y, bound)
    assert tight.verdict == "inconclusive" and tight.worst_index == 4


def test_check_bound_round_off_and_missing_seeds():
    t = np.arange(1, 6)
    Y = np.tile(1.0 / t, (3, 1))  # noise-free: degenerate interval at the mean
    assert check_bound(Y, 1.0 / t * (1 - 1e-12)).verdict == "holds"
    assert check_bound(Y, 1.0 / t * (1 - 1e-6)).verdict == "violated"
    one = check_bound(Y[:1], 2.0 / t)
    assert one.verdict == "inconclusive" and "fewer than 2" in one.reason
    assert one.worst_index == -1 and np.isnan(one.worst_margin)
    with pytest.raises(ValueError):
        check_bound(Y, np.ones(4))


# estimate_plateau


def test_plateau_of_constant_plus_noise():
    rng = np.random.default_rng(4)
    t = np.arange(1, 1001)
    Y = 2.0 + 0.1 * rng.standard_normal((8, t.size))
    p = estimate_plateau(t, Y)
    assert isinstance(p, Plateau)
    assert abs(p.level - 2.0) < 0.01
    assert p.ci_low < 2.0 < p.ci_high
    assert abs(p.rel_change) < 0.01


def test_plateau_exact_level_interval_and_settling():
    t = np.geomspace(1, 1e4, 41)
    Y = np.array([[1.0], [2.0], [3.0]]) * np.ones(t.size)
    p = estimate_plateau(t, Y)
    half = student_t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert abs(p.level - 2.0) < 1e-12
    assert abs(p.ci_low - (2.0 - half)) < 1e-12 and abs(p.ci_high - (2.0 + half)) < 1e-12
    assert p.rel_change == 0.0
    # Still decaying: the tail's second half lies below its first.
    decaying = estimate_plateau(t, np.tile(1.0 + 1e4 / t, (3, 1)))
    assert decaying.rel_change < -0.05


def test_plateau_leaves_out_diverged_seeds():
    t = np.arange(1, 101)
    Y = np.tile(np.array([[1.0], [3.0], [5.0]]), (1, t.size))
    Y[2, 90] = np.nan  # seed 2 diverged inside the window
    p = estimate_plateau(t, Y)
    assert abs(p.level - 2.0) < 1e-12
    with pytest.raises(ValueError):
        estimate_plateau(t, Y, tail_fraction=0.0)


# monotone_verdict


def plateau(level: float, half: float) -> Plateau:
    return Plateau(level, level - half, level + half, 0.0)


def test_monotone_verdict_cases():
    rising = [plateau(1.0, 0.3), plateau(1.5, 0.3), plateau(2.0, 0.3)]
    assert monotone_verdict(rising)[0] == "holds"  # steps overlap, first and last do not
    assert monotone_verdict(rising[::-1], increasing=False)[0] == "holds"
    # A steady decline claimed as growth: no single step is resolved, the overall change is.
    verdict, reason = monotone_verdict(rising[::-1])
    assert verdict == "violated" and "0->2" in reason
    jump_down = [plateau(1.0, 0.1), plateau(0.5, 0.1), plateau(2.0, 0.1)]
    verdict, reason = monotone_verdict(jump_down)
    assert verdict == "violated" and "0->1" in reason
    overlap = [plateau(1.0, 0.6), plateau(1.5, 0.6), plateau(2.0, 0.6)]
    assert monotone_verdict(overlap)[0] == "inconclusive"
    wobble = [plateau(1.0, 0.1), plateau(2.0, 0.5), plateau(1.8, 0.5), plateau(3.0, 0.1)]
    assert monotone_verdict(wobble)[0] == "inconclusive"  # reversed step, CIs overlapping
    no_ci = [Plateau(1.0, np.nan, np.nan, 0.0), Plateau(2.0, np.nan, np.nan, 0.0)]
    assert monotone_verdict(no_ci)[0] == "inconclusive"
    with pytest.raises(ValueError):
        monotone_verdict(rising[:1])


# combine_verdicts


def test_combine_verdicts():
    assert combine_verdicts(["holds", "holds"]) == "holds"
    assert combine_verdicts(["holds", "inconclusive", "holds"]) == "inconclusive"
    assert combine_verdicts(["holds", "inconclusive", "violated"]) == "violated"
    with pytest.raises(ValueError):
        combine_verdicts([])
    with pytest.raises(ValueError):
        combine_verdicts(["holds", "ok"])


# calibration


@pytest.mark.slow
def test_slope_interval_calibration():
    """Known exponent -0.5, 8 seeds, 6 grid values, log-normal noise (sigma 0.5) per entry.

    The 95% interval must cover -0.5 in >= 90% of 200 repeats, and rate_verdict at
    predicted = -0.5, tol = 0 may call it violated in at most the 99.9% quantile of
    Binomial(200, 0.05) / 200 of them (a 5% false-violation rate plus sampling allowance; a
    calibrated interval misses above only 2.5% of the time).
    """
    rng = np.random.default_rng(2024)
    repeats = 200
    covered = violated = 0
    for r in range(repeats):
        f = fit_loglog_slope(X, power_law(8, 0.5, rng), seed=r)
        covered += f.ci_low <= -0.5 <= f.ci_high
        violated += rate_verdict(f, -0.5, 0.0)[0] == "violated"
    limit = binom.ppf(0.999, repeats, 0.05) / repeats
    print(f"coverage {covered / repeats:.3f}, false violations {violated / repeats:.3f} "
          f"(limit {limit:.3f})")
    assert covered / repeats >= 0.90
    assert violated / repeats <= limit
