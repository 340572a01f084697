"""Statistics of the suite: log-log slope fits, confidence intervals over seeds, verdicts.

Every measured array is ``Y: (n_seeds, n)``, one row per seed (repetition) and one column per grid
value or checkpoint. Non-finite entries (diverged runs) count as missing: means over seeds skip
them, and a column or seed with nothing finite drops out. Verdicts are ``"holds"``,
``"violated"`` or ``"inconclusive"``, each with a one-line reason that carries the numbers.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.stats import DegenerateDataWarning, binomtest, bootstrap, linregress
from scipy.stats import t as student_t

VERDICTS = ("holds", "violated", "inconclusive")

# Round-off allowance on equality in every comparison against a prediction: absolute on
# exponents (they are O(1)), relative on explicit bounds. Noise-free data then meet a prediction
# they satisfy exactly, while any real excess is still far larger than 1e-9.
ROUND_OFF = 1e-9


@dataclass(frozen=True)
class SlopeFit:
    """Slope of log(seed-mean of the metric) against log(x), with its confidence interval.

    ``ci_low``/``ci_high`` are NaN when there are fewer than 2 seeds or 2 usable grid points;
    ``n_points`` and ``n_seeds`` count the grid values and seeds that entered the fit.
    """

    slope: float
    ci_low: float
    ci_high: float
    intercept: float
    n_points: int
    n_seeds: int
    level: float


@dataclass(frozen=True)
class BoundCheck:
    """An explicit bound checked against the measured mean at every checkpoint.

    ``margins: (n_t,)`` is ``(bound - UCL) / |bound|`` (negative where the upper confidence limit
    exceeds the bound, NaN where it is undefined); ``worst_*`` is its minimum (index -1 when no
    margin is defined); ``slack`` is the median over checkpoints of ``bound / mean``, how loose the
    bound is (>= 1 when it holds).
    """

    verdict: str
    reason: str
    worst_margin: float
    worst_index: int
    margins: np.ndarray
    slack: float


@dataclass(frozen=True)
class Plateau:
    """The level a series settles at, with its confidence interval over seeds.

    ``rel_change`` is the signed relative change of the seed-mean from the first to the second half
    of the tail window (small in absolute value = the series has settled; NaN when a half is empty).
    """

    level: float
    ci_low: float
    ci_high: float
    rel_change: float


def _as_runs(Y: np.ndarray, n_cols: int | None = None) -> np.ndarray:
    """``Y`` as a float (n_seeds, n_cols) array with every non-finite entry set to NaN."""
    Y = np.asarray(Y, dtype=float)
    if Y.ndim != 2 or (n_cols is not None and Y.shape[1] != n_cols):
        want = "(n_seeds, n)" if n_cols is None else f"(n_seeds, {n_cols})"
        raise ValueError(f"Y must have shape {want}, got {Y.shape}")
    return np.where(np.isfinite(Y), Y, np.nan)


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` skipping NaN; NaN (silently) where nothing is finite."""
    ok = ~np.isnan(a)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, a, 0.0).sum(axis=axis) / ok.sum(axis=axis)


def _masked_slope(logx: np.ndarray, logy: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``logy: (..., n)`` on ``logx: (n,)`` over the finite entries of each
    row; NaN for rows with fewer than 2 of them. Vectorised for bootstrap batches."""
    ok = np.isfinite(logy)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = ok.sum(axis=-1)
        x_mean = np.where(ok, logx, 0.0).sum(axis=-1) / n
        y_mean = np.where(ok, logy, 0.0).sum(axis=-1) / n
        dx = np.where(ok, logx - x_mean[..., None], 0.0)
        dy = np.where(ok, logy - y_mean[..., None], 0.0)
        return (dx * dy).sum(axis=-1) / (dx * dx).sum(axis=-1)


def fit_loglog_slope(
    x: np.ndarray, Y: np.ndarray, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> SlopeFit:
    """Fit log(mean over seeds of Y) = intercept + slope * log(x) by least squares.

    ``x: (n_x,)`` positive grid values (T or b); ``Y: (n_seeds, n_x)`` the metric per seed and grid
    value. A metric that needs rescaling (for example ``metric * sqrt(T) / ln T``) is passed
    already rescaled. Columns whose seed-mean is not finite and positive are dropped, and so are
    seeds with nothing finite in the remaining columns.

    Confidence interval: ``slope +- t_{n_seeds-1} * SE``, where SE is the standard deviation of the
    slope over a bootstrap over seeds (whole rows of Y resampled with replacement, so the pairing
    of grid values within a seed is kept) scaled by ``sqrt(n/(n-1))``. Why not the bootstrap's own
    percentile or BCa interval: with the 4-8 seeds a sweep affords they under-cover (measured on
    log-normal data with 8 seeds: 85-89% coverage at nominal 95%, one-sided misses 6-8% instead of
    2.5%), because the bootstrap variance is the plug-in one, low by the factor (n-1)/n, and normal
    quantiles ignore that the SE is itself estimated from n seeds. The correction and Student-t
    quantiles make the interval exact for a mean of Gaussian seeds and, by the delta method, close
    for this smooth function of seed-means (measured with 4-16 seeds, log-normal sigma 0.1-1:
    coverage 92-95%, one-sided misses 2.4-3.8%; the calibration test is in tests/test_stats.py).
    """
    _check_level(level)
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or not np.all(np.isfinite(x) & (x > 0)):
        raise ValueError("x must be a 1-D array of positive finite grid values")
    Y = _as_runs(Y, x.size)
    mean = _nanmean(Y, axis=0)
    keep = mean > 0  # False for NaN too
    Y = Y[:, keep]
    Y = Y[~np.isnan(Y).all(axis=1)]
    n_seeds, n_points = Y.shape
    if n_points < 2:
        return SlopeFit(np.nan, np.nan, np.nan, np.nan, n_points, n_seeds, level)
    logx = np.log(x[keep])
    fit = linregress(logx, np.log(mean[keep]))
    ci_low = ci_high = np.nan
    if n_seeds >= 2:

        def slope_of_rows(rows: np.ndarray, axis: int = -1) -> np.ndarray:
            """Slope for each resample ``rows: (..., n_seeds)`` of row indices."""
            with np.errstate(divide="ignore", invalid="ignore"):
                return _masked_slope(logx, np.log(_nanmean(Y[rows], axis=-2)))

        with warnings.catch_warnings():
            # A resample that leaves < 2 usable columns gives a NaN slope, skipped below; SciPy
            # would warn about the NaN in its (unused) percentile interval.
            warnings.simplefilter("ignore", DegenerateDataWarning)
            boot = bootstrap(
                (np.arange(n_seeds),), slope_of_rows, vectorized=True, n_resamples=n_boot,
                batch=256, method="percentile", rng=seed,
            ).bootstrap_distribution
        boot = boot[~np.isnan(boot)]
        if boot.size >= 2:
            se = boot.std(ddof=1) * np.sqrt(n_seeds / (n_seeds - 1))
            half = student_t.ppf((1 + level) / 2, n_seeds - 1) * se
            ci_low, ci_high = fit.slope - half, fit.slope + half
    return SlopeFit(
        float(fit.slope), float(ci_low), float(ci_high), float(fit.intercept),
        n_points, n_seeds, level,
    )


def rate_verdict(fit: SlopeFit, predicted: float, tol: float) -> tuple[str, str]:
    """Verdict of a rate claim, an upper bound ``slope <= predicted + tol`` on the exponent.

    "holds" when the whole CI lies at or below ``predicted + tol``, "violated" when it lies wholly
    above, "inconclusive" when it straddles it or is undefined (the reason says why). Comparisons
    allow ``ROUND_OFF`` on equality.
    """
    limit = predicted + tol
    if np.isnan(fit.ci_low) or np.isnan(fit.ci_high):
        if fit.n_points < 2:
            cause = "fewer than 2 usable grid points"
        elif fit.n_seeds < 2:
            cause = "fewer than 2 seeds"
        else:
            cause = "fewer than 2 finite bootstrap replicates"
        return "inconclusive", f"slope {fit.slope:.3f}, no confidence interval: {cause}"
    text = (
        f"slope {fit.slope:.3f} [{100 * fit.level:g}% CI {fit.ci_low:.3f}, {fit.ci_high:.3f}]"
    )
    target = f"{predicted:.3f} + {tol:.3f}"
    if fit.ci_high <= limit + ROUND_OFF:
        return "holds", f"{text} <= {target}"
    if fit.ci_low > limit + ROUND_OFF:
        return "violated", f"{text} > {target}"
    return "inconclusive", f"{text} straddles {target}"


def mean_confidence(
    Y: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column mean over seeds and its Student-t confidence interval.

    ``Y: (n_seeds, n_t)`` -> ``(mean, lower, upper)``, each ``(n_t,)``, over the finite entries of
    each column; the limits are NaN where fewer than 2 entries are finite.
    """
    _check_level(level)
    Y = _as_runs(Y)
    n = (~np.isnan(Y)).sum(axis=0)
    mean = _nanmean(Y, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sem = np.sqrt(_nanmean((Y - mean) ** 2, axis=0) / (n - 1))
    half = student_t.ppf((1 + level) / 2, n - 1) * sem  # NaN for n < 2
    return mean, mean - half, mean + half


def check_bound(Y: np.ndarray, bound: np.ndarray, level: float = 0.95) -> BoundCheck:
    """Check an explicit upper bound on the expected metric at every checkpoint.

    ``Y: (n_seeds, n_t)``, ``bound: (n_t,)``. With the two-sided ``level`` interval of
    ``mean_confidence``: "holds" when its upper limit is <= bound at every checkpoint, "violated"
    when its lower limit exceeds the bound at some checkpoint, else "inconclusive" (including
    checkpoints with fewer than 2 finite seeds). Equality allows a relative ``ROUND_OFF``.
    """
    Y = _as_runs(Y)
    bound = np.asarray(bound, dtype=float)
    if bound.shape != (Y.shape[1],):
        raise ValueError(f"bound must have shape ({Y.shape[1]},), got {bound.shape}")
    mean, low, high = mean_confidence(Y, level)
    limit = bound + ROUND_OFF * np.abs(bound)
    with np.errstate(invalid="ignore", divide="ignore"):
        margins = (bound - high) / np.abs(bound)
        ratio = bound / mean
    defined = ~np.isnan(margins)
    worst_index = int(np.nanargmin(margins)) if defined.any() else -1
    worst_margin = float(margins[worst_index]) if defined.any() else np.nan
    ratio = ratio[~np.isnan(ratio)]
    slack = float(np.median(ratio)) if ratio.size else np.nan
    n_t = bound.size
    above = low > limit
    if above.any():
        i = int(np.argmax(above))
        verdict = "violated"
        reason = (
            f"lower confidence limit above the bound at {above.sum()} of {n_t} checkpoints; "
            f"first at checkpoint {i}: LCL {low[i]:.3g} > bound {bound[i]:.3g}"
        )
    elif (high <= limit).all():
        verdict = "holds"
        reason = (
            f"upper confidence limit <= bound at all {n_t} checkpoints; tightest at checkpoint "
            f"{worst_index}: UCL {high[worst_index]:.3g} vs bound {bound[worst_index]:.3g} "
            f"(margin {worst_margin:.1%}); median slack {slack:.3g}x"
        )
    elif not defined.all():
        verdict = "inconclusive"
        reason = (
            f"no confidence limit at {(~defined).sum()} of {n_t} checkpoints "
            "(fewer than 2 finite seeds)"
        )
    else:
        verdict = "inconclusive"
        reason = (
            f"upper confidence limit above the bound at {(high > limit).sum()} of {n_t} "
            f"checkpoints, lower limit below it; worst at checkpoint {worst_index}: mean "
            f"{mean[worst_index]:.3g}, UCL {high[worst_index]:.3g} vs bound "
            f"{bound[worst_index]:.3g}"
        )
    return BoundCheck(verdict, reason, worst_margin, worst_index, margins, slack)


def estimate_plateau(
    t: np.ndarray, Y: np.ndarray, tail_fraction: float = 0.25, level: float = 0.95
) -> Plateau:
    """The level a series stalls at: mean over seeds of each seed's tail average.

    ``t: (n_t,)`` increasing checkpoint iterations, ``Y: (n_seeds, n_t)``. The tail window is the
    checkpoints with ``t >= (1 - tail_fraction) * t_max``, averaged with equal weight per
    checkpoint. A seed with a non-finite value in the window (it diverged) is left out. The CI is
    Student-t over seeds; ``rel_change`` compares the seed-mean over the window's two halves in
    time (split at ``(1 - tail_fraction / 2) * t_max``).
    """
    if not 0.0 < tail_fraction <= 1.0:
        raise ValueError(f"tail_fraction must lie in (0, 1], got {tail_fraction}")
    t = np.asarray(t, dtype=float)
    if t.ndim != 1 or np.any(np.diff(t) <= 0):
        raise ValueError("t must be a 1-D increasing array")
    Y = _as_runs(Y, t.size)
    t_max = t[-1]
    window = t >= (1 - tail_fraction) * t_max
    tail = Y[:, window]
    tail = tail[~np.isnan(tail).any(axis=1)]
    mean, low, high = mean_confidence(tail.mean(axis=1)[:, None], level)
    second = t[window] >= (1 - tail_fraction / 2) * t_max
    if tail.shape[0] and second.any() and not second.all():
        series = tail.mean(axis=0)
        first_mean = series[~second].mean()
        rel_change = float((series[second].mean() - first_mean) / abs(first_mean))
    else:
        rel_change = np.nan
    return Plateau(float(mean[0]), float(low[0]), float(high[0]), rel_change)


def monotone_verdict(levels: Sequence[Plateau], increasing: bool = True) -> tuple[str, str]:
    """Verdict of "the plateau grows (or shrinks) along the sequence".

    Rule: "holds" when every consecutive pair is ordered in the stated direction by the point
    estimates and the CIs of the first and last plateau are disjoint (the overall change is
    resolved even if single steps are not); "violated" when some pair, consecutive or not, is
    reversed with disjoint CIs (a resolved change the wrong way, such as a steady decline with
    overlapping steps when growth is claimed); else "inconclusive". NaN CIs never count as
    disjoint. The two outcomes exclude each other: "holds" orders every pair by the points.
    """
    if len(levels) < 2:
        raise ValueError("monotone_verdict needs at least 2 plateaus")

    def before(a: Plateau, b: Plateau) -> bool:
        """a comes before b in the stated direction by the point estimates."""
        return a.level < b.level if increasing else a.level > b.level

    def resolved(a: Plateau, b: Plateau) -> bool:
        """a comes before b with disjoint CIs."""
        return a.ci_high < b.ci_low if increasing else a.ci_low > b.ci_high

    direction = "increase" if increasing else "decrease"
    text = ", ".join(f"{p.level:.3g} [{p.ci_low:.3g}, {p.ci_high:.3g}]" for p in levels)
    for j, b in enumerate(levels):
        for i, a in enumerate(levels[:j]):
            if resolved(b, a):
                return "violated", (
                    f"plateaus should {direction}, but {i}->{j} is reversed with disjoint CIs: "
                    f"{text}"
                )
    if all(before(a, b) for a, b in zip(levels[:-1], levels[1:])) and resolved(
        levels[0], levels[-1]
    ):
        return "holds", f"plateaus {direction} at every step, first and last CIs disjoint: {text}"
    return "inconclusive", (
        f"plateaus {direction} not resolved (a step out of order, or first and last CIs "
        f"overlap): {text}"
    )


def combine_verdicts(verdicts: Sequence[str]) -> str:
    """Overall verdict from per-grid-point verdicts: "violated" if any is violated, "holds" if
    all hold, else "inconclusive"."""
    if not verdicts:
        raise ValueError("combine_verdicts needs at least one verdict")
    unknown = set(verdicts) - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdicts {sorted(unknown)}; expected one of {VERDICTS}")
    if "violated" in verdicts:
        return "violated"
    if all(v == "holds" for v in verdicts):
        return "holds"
    return "inconclusive"


def slope_pvalue(fit: SlopeFit, limit: float) -> float:
    """One-sided p-value of "slope <= limit" against "slope > limit", from the fit's Student-t CI.

    The CI is ``slope +- t_{n-1} SE`` (see ``fit_loglog_slope``), so SE and the degrees of freedom are
    read back from it: p = P(t_{n-1} > (slope - limit) / SE). NaN when the fit has no CI; 0 or 1 for a
    zero-width CI (a deterministic fit) on either side of ``limit`` (within ``ROUND_OFF``: 1).
    """
    if not (np.isfinite(fit.ci_low) and np.isfinite(fit.ci_high)) or fit.n_seeds < 2:
        return float("nan")
    q = student_t.ppf((1 + fit.level) / 2, fit.n_seeds - 1)
    se = (fit.ci_high - fit.ci_low) / (2 * q)
    excess = fit.slope - limit
    if se <= 0:
        return 0.0 if excess > ROUND_OFF else 1.0
    return float(student_t.sf(excess / se, fit.n_seeds - 1))


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> np.ndarray:
    """Holm's step-down rejections at family-wise level ``alpha``: ``(m,)`` bools, True where the
    hypothesis is rejected. NaN p-values are never rejected but count in the family size (an
    unresolved test still spends its share of alpha), so adding a grid point never makes a rejection
    easier. Used to turn many per-grid-point "violated" tests into one claim-level test."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    reject = np.zeros(m, dtype=bool)
    order = np.argsort(np.where(np.isnan(p), np.inf, p), kind="stable")
    for k, i in enumerate(order):
        if not p[i] <= alpha / (m - k):
            break
        reject[i] = True
    return reject


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (NaN, NaN for n = 0): the interval in which
    a verdict's error rate lies, from k of n repeats (scipy.stats.binomtest)."""
    _check_level(level)
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)
