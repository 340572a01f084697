"""Samplers and noise oracles: unbiasedness (Monte Carlo, CLT bounds), exact second moments by
enumeration, the ABC inequality with its constants (docs/claims.md#sampling-constants), the bias of unweighted
importance sampling, and input validation.

Statistics: every Monte Carlo check is a CLT test |mean - target| <= z * sd / sqrt(N) per coordinate with
z = Phi^{-1}(1 - ALPHA / (2 m)) (Bonferroni over the m coordinates checked), i.e. a family-wise false
alarm probability ALPHA = 1e-4 per check. Draws come from seeded torch Generators, so each outcome is
fixed; the power of the checks is shown by negative controls that they must reject.
Exact expectations enumerate every outcome of a sampler (itertools.product / combinations) from the
sampler's definition in docs/algorithms.md#samplers, independently of the formulas in problems/samplers.py.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
import torch
from scipy.stats import norm

import problems as P
from problems import (ABC, AffineVariance, FullBatch, Gaussian, Importance, LeastSquares, Logistic, PLSine,
                      Quadratic, RobustRegression, Sample, TauNice, TwoQuadratics, Uniform)

ALPHA = 1e-4
R_MC = 20000


def clt_ok(samples, target, alpha=ALPHA):
    """Per-coordinate CLT check with a Bonferroni family-wise level alpha."""
    samples = np.asarray(samples, float).reshape(len(samples), -1)
    target = np.asarray(target, float).reshape(-1)
    N, m = samples.shape
    z = norm.ppf(1 - alpha / (2 * m))
    se = samples.std(0, ddof=1) / np.sqrt(N)
    return bool(np.all(np.abs(samples.mean(0) - target) <= z * se + 1e-12 * (1 + np.abs(target))))


# ----------------------------------------------------------------------------------------------
# Problems (small n so that every sampler's outcomes can be enumerated)
# ----------------------------------------------------------------------------------------------
def _data(n, d, seed, row_norms=None):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    if row_norms is not None:
        A *= (np.asarray(row_norms) / np.linalg.norm(A, axis=1))[:, None]
    return A, rng.standard_normal(n)


@functools.lru_cache(maxsize=None)
def prob(name):
    if name == "least_squares":
        return LeastSquares(*_data(6, 3, 1, row_norms=[0.4, 0.7, 1.0, 1.5, 2.0, 3.0]))
    if name == "ridge":
        return LeastSquares(*_data(6, 3, 2, row_norms=[0.4, 0.7, 1.0, 1.5, 2.0, 3.0]), reg=0.3)
    if name == "ls_equal_rows":  # reg = 0, all ||a_i||^2 = 2: every finite-sum ABC bound is an equality
        return LeastSquares(*_data(6, 3, 3, row_norms=np.full(6, np.sqrt(2.0))))
    if name == "robust_regression":
        A, b = _data(6, 3, 4)
        return RobustRegression(A, 3 * b)
    if name == "robust_ridge":
        A, b = _data(6, 3, 5)
        return RobustRegression(A, 3 * b, reg=0.2)
    if name == "logistic":
        A, b = _data(6, 3, 6)
        return Logistic(A, np.sign(b + 0.1), reg=0.05)
    if name == "two_quadratics":
        return TwoQuadratics(p=0.3, k1=1.0, k2=3.0, c1=-1.0, c2=1.0)
    if name == "two_quadratics_2d":
        return TwoQuadratics(p=0.7, k1=2.0, k2=0.5, c1=[-1.0, 0.0], c2=[1.0, 2.0])
    if name == "quadratic":
        return Quadratic.from_spectrum([0.5, 1.0, 4.0], seed=1, x_star=np.array([1.0, -1.0, 0.5]))
    if name == "pl_sine":
        return PLSine(4)
    raise KeyError(name)


FINITE = ["least_squares", "ridge", "robust_regression", "robust_ridge", "logistic", "two_quadratics",
          "two_quadratics_2d"]


def finite_samplers(problem):
    n = problem.n
    p = np.arange(1, n + 1, dtype=float)
    out = [Uniform(), Uniform(batch=2), Uniform(batch=3), TauNice(tau=1), TauNice(tau=n), Importance(),
           Importance(p=p / p.sum(), batch=2), FullBatch()]
    if n > 2:
        out += [TauNice(tau=2), TauNice(tau=n - 1)]
    if isinstance(problem, TwoQuadratics):
        out.append(Importance(p=problem.q))
    return out


def _id(s):
    return f"{s.name}-" + "-".join(f"{k}={v}" for k, v in vars(s).items() if k != "p" and v is not None)


CASES = [(name, s) for name in FINITE for s in finite_samplers(prob(name))]
CASE_IDS = [f"{name}:{_id(s)}" for name, s in CASES]
# Monte Carlo over every sampler on problems of each kind (convex GLM, two-point sum in 1-D and 2-D)
MC_CASES = [(name, s) for name, s in CASES if name in ("ridge", "logistic", "two_quadratics", "two_quadratics_2d")]
MC_IDS = [f"{name}:{_id(s)}" for name, s in MC_CASES]


# ----------------------------------------------------------------------------------------------
# Exact enumeration of a sampler's outcomes: g_S = M[k] @ G with probability pr[k]
# ----------------------------------------------------------------------------------------------
def outcomes(problem, sampler):
    n = problem.n
    if isinstance(sampler, FullBatch):
        return np.full((1, n), 1.0 / n), np.ones(1)
    if isinstance(sampler, TauNice):
        subsets = list(itertools.combinations(range(n), sampler.tau))
        M = np.zeros((len(subsets), n))
        for k, sub in enumerate(subsets):
            M[k, list(sub)] = 1.0 / sampler.tau
        return M, np.full(len(subsets), 1.0 / len(subsets))
    if isinstance(sampler, Importance):
        p = problem.L_i / problem.L_i.sum() if sampler.p is None else np.asarray(sampler.p, float)
        w = 1.0 / (n * p) if sampler.reweight else np.ones(n)
    elif isinstance(sampler, Uniform):
        p, w = np.full(n, 1.0 / n), np.ones(n)
    else:
        raise TypeError(sampler)
    b = sampler.batch
    tuples = list(itertools.product(range(n), repeat=b))
    M = np.zeros((len(tuples), n))
    pr = np.ones(len(tuples))
    for k, tup in enumerate(tuples):
        for i in tup:
            M[k, i] += w[i] / b
            pr[k] *= p[i]
    return M, pr


def exact_moments(problem, sampler, x):
    """(E g_S, E ||g_S||^2) at x by enumeration."""
    M, pr = outcomes(problem, sampler)
    g = M @ problem.component_grads(x)
    return pr @ g, float(pr @ (g * g).sum(1))


def mc_grads(problem, sampler, x, R=R_MC, seed=0):
    gen = torch.Generator().manual_seed(seed)
    s = sampler.draw(problem, R, gen)
    X = torch.as_tensor(np.asarray(x, float)).expand(R, problem.d).clone()
    return problem.stoch_grad(X, s).numpy()


def _point(problem, seed, scale=1.0):
    return np.random.default_rng(seed).standard_normal(problem.d) * scale


# ----------------------------------------------------------------------------------------------
# Unbiasedness
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,sampler", MC_CASES, ids=MC_IDS)
def test_draws_are_unbiased_with_the_enumerated_second_moment(name, sampler):
    """Monte Carlo over the code's draws: mean = grad f (exact enumeration gives the same), and
    E||g_S||^2 = the value from enumerating the sampler's outcomes."""
    problem = prob(name)
    x = _point(problem, 1)
    g = problem.grad(x)
    mean, m2 = exact_moments(problem, sampler, x)
    assert np.allclose(mean, g, rtol=1e-12, atol=1e-13)
    G = mc_grads(problem, sampler, x, seed=sum(map(ord, name)))
    assert clt_ok(G, g)
    assert clt_ok((G * G).sum(1), m2)


@pytest.mark.parametrize("name", ["quadratic", "pl_sine", "ridge"])
@pytest.mark.parametrize("sampler", [Gaussian(sigma=2.0), Gaussian(sigma=1.0, batch=4),
                                     Gaussian(sigma=0.5, convention="per_coordinate"),
                                     AffineVariance(D0=2.0, var_zeta=0.5), FullBatch()], ids=_id)
def test_noise_oracle_is_unbiased(name, sampler):
    problem = prob(name)
    x = _point(problem, 2)
    G = mc_grads(problem, sampler, x, seed=5)
    assert clt_ok(G, problem.grad(x))


def test_uniform_minibatch_larger_than_n_is_allowed_and_unbiased():
    problem = prob("least_squares")
    s = Uniform(batch=problem.n + 2)
    x = _point(problem, 3)
    assert clt_ok(mc_grads(problem, s, x), problem.grad(x))
    assert s.abc(problem).B == pytest.approx(1 - 1 / (problem.n + 2))


def test_unbiasedness_check_has_power():
    """Negative control: a perturbed target (0.02 sd per coordinate away) is rejected."""
    problem = prob("ridge")
    x = _point(problem, 1)
    G = mc_grads(problem, Uniform(), x)
    assert clt_ok(G, problem.grad(x))
    assert not clt_ok(G, problem.grad(x) + 0.05 * G.std(0))


# ----------------------------------------------------------------------------------------------
# Exact second moments: enumeration, formulas, and the code's draws
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,b", [(3, 2), (4, 3), (5, 2), (3, 4)])
def test_minibatch_with_replacement_second_moment_formula(n, b):
    rng = np.random.default_rng(n * 10 + b)
    Gs = rng.standard_normal((n, 4))
    tuples = list(itertools.product(range(n), repeat=b))
    enum = np.mean([np.sum(Gs[list(t)].mean(0) ** 2) for t in tuples])
    formula = (1 / b) * np.mean((Gs ** 2).sum(1)) + (1 - 1 / b) * np.sum(Gs.mean(0) ** 2)
    assert enum == pytest.approx(formula, rel=1e-12)


def _fit_coefficients(n, enum_fn, seed):
    """Find (a, c) with E||g_S||^2 = a mean_i ||g_i||^2 + c ||mean_i g_i||^2 over random vector sets,
    checking that the identity is exact (zero residual)."""
    rng = np.random.default_rng(seed)
    rows, rhs = [], []
    for _ in range(5):
        Gs = rng.standard_normal((n, 3)) * rng.uniform(0.5, 2, size=(n, 1)) + rng.standard_normal(3)
        rows.append([np.mean((Gs ** 2).sum(1)), np.sum(Gs.mean(0) ** 2)])
        rhs.append(enum_fn(Gs))
    coef, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    assert np.allclose(np.array(rows) @ coef, rhs, rtol=1e-12)
    return coef


@pytest.mark.parametrize("n", [2, 4, 6])
def test_tau_nice_and_minibatch_abc_constants_from_enumeration(n):
    problem = LeastSquares(*_data(n, 3, 20 + n, row_norms=np.linspace(0.5, 2.0, n)))
    L_max = max(np.sum(problem.A ** 2, 1))  # from the data: ||a_i||^2 + reg, reg = 0
    for tau in range(1, n + 1):
        def enum(Gs, tau=tau):
            return np.mean([np.sum(Gs[list(c)].mean(0) ** 2) for c in itertools.combinations(range(n), tau)])
        a, c = _fit_coefficients(n, enum, seed=tau)
        got = TauNice(tau=tau).abc(problem)
        assert got.A == pytest.approx(a * L_max, rel=1e-10, abs=1e-12)
        assert got.B == pytest.approx(c, rel=1e-10, abs=1e-12)
        assert got.C == pytest.approx(2 * got.A * problem.delta_inf, rel=1e-12, abs=1e-15)
    for b in (1, 2, 3):
        def enum_b(Gs, b=b):
            return np.mean([np.sum(Gs[list(t)].mean(0) ** 2) for t in itertools.product(range(n), repeat=b)])
        a, c = _fit_coefficients(n, enum_b, seed=100 + b)
        got = Uniform(batch=b).abc(problem)
        assert got.A == pytest.approx(a * L_max, rel=1e-10) and got.B == pytest.approx(c, abs=1e-12)


# ----------------------------------------------------------------------------------------------
# The constants table of docs/claims.md#sampling-constants
# ----------------------------------------------------------------------------------------------
def test_abc_constants_table():
    problem = prob("ridge")
    A_data, b_data, reg, n = problem.A, problem.b, problem.reg, problem.n
    L_i = np.sum(A_data ** 2, 1) + reg
    # f_inf = f* by an augmented least squares solve, f_i^inf = min_s 1/2 (s|a| - b)^2 + reg/2 s^2
    Mx = np.vstack([A_data / np.sqrt(n), np.sqrt(reg) * np.eye(problem.d)])
    r = np.concatenate([b_data / np.sqrt(n), np.zeros(problem.d)])
    f_star = 0.5 * np.sum((Mx @ np.linalg.lstsq(Mx, r, rcond=None)[0] - r) ** 2)
    f_i_inf = np.array([min(0.5 * (s * np.sqrt(L_i[i] - reg) - b_data[i]) ** 2 + reg / 2 * s * s
                            for s in [b_data[i] * np.sqrt(L_i[i] - reg) / L_i[i]]) for i in range(n)])
    delta = f_star - f_i_inf.mean()
    assert problem.delta_inf == pytest.approx(delta, rel=1e-10)

    assert Uniform().abc(problem) == pytest.approx((L_i.max(), 0.0, 2 * L_i.max() * delta), rel=1e-10)
    assert Importance().abc(problem) == pytest.approx((L_i.mean(), 0.0, 2 * L_i.mean() * delta), rel=1e-10)
    assert Importance().abc(problem).A < Uniform().abc(problem).A  # uneven L_i: importance helps
    p = np.arange(1.0, n + 1) / np.arange(1.0, n + 1).sum()
    assert Importance(p=p).abc(problem).A == pytest.approx(np.max(L_i / (n * p)), rel=1e-12)
    assert Importance(p=p, batch=3).abc(problem) == pytest.approx(
        (np.max(L_i / (n * p)) / 3, 2 / 3, 2 * np.max(L_i / (n * p)) / 3 * delta), rel=1e-10)
    for tau in range(1, n + 1):
        A_t = (n - tau) * L_i.max() / (tau * (n - 1))
        assert TauNice(tau=tau).abc(problem) == pytest.approx(
            (A_t, n * (tau - 1) / (tau * (n - 1)), 2 * A_t * delta), rel=1e-10, abs=1e-14)
    assert TauNice(tau=n).abc(problem) == (0.0, 1.0, 0.0)
    assert TauNice(tau=1).abc(problem) == pytest.approx(Uniform().abc(problem), rel=1e-12)
    assert FullBatch().abc(problem) == (0.0, 1.0, 0.0)
    assert Gaussian(sigma=3.0, batch=4).abc(problem) == pytest.approx((0.0, 1.0, 9.0 / 4))
    assert Gaussian(sigma=3.0, batch=4, convention="per_coordinate").abc(problem) == pytest.approx(
        (0.0, 1.0, 9.0 * problem.d / 4))
    assert AffineVariance(D0=0.7, var_zeta=0.4).abc(problem) == pytest.approx((0.0, 1.4, 0.7))
    assert isinstance(Uniform().abc(problem), ABC)
    # one-component sum: tau-nice with tau = n = 1 is the full batch
    one = LeastSquares(np.ones((1, 2)), np.ones(1))
    assert TauNice(tau=1).abc(one) == (0.0, 1.0, 0.0)


# ----------------------------------------------------------------------------------------------
# The ABC inequality, exact expectations, at many points; tight where the theory says so
# ----------------------------------------------------------------------------------------------
def _abc_points(problem, m=25):
    rng = np.random.default_rng(8)
    pts = [rng.standard_normal((m, problem.d)) * s for s in (0.1, 1.0, 5.0)]
    if problem.x_star is not None:
        pts.append(problem.x_star + rng.standard_normal((m, problem.d)) * 1e-3)
        pts.append(problem.x_star[None, :])
    return np.concatenate(pts)


def _abc_sides(problem, sampler, pts, abc=None):
    A, B, C = sampler.abc(problem) if abc is None else abc
    M, pr = outcomes(problem, sampler)
    lhs, rhs = [], []
    for x in pts:
        g = M @ problem.component_grads(x)
        lhs.append(pr @ (g * g).sum(1))
        gf = problem.grad(x)
        rhs.append(2 * A * (problem.f(x) - problem.f_inf) + B * gf @ gf + C)
    return np.array(lhs), np.array(rhs)


@pytest.mark.parametrize("name,sampler", CASES, ids=CASE_IDS)
def test_abc_inequality_holds_exactly(name, sampler):
    problem = prob(name)
    x = _point(problem, 2)
    assert np.allclose(exact_moments(problem, sampler, x)[0], problem.grad(x), rtol=1e-12, atol=1e-13)  # unbiased
    lhs, rhs = _abc_sides(problem, sampler, _abc_points(problem))
    assert np.all(lhs <= rhs * (1 + 1e-12) + 1e-14), np.max(lhs / rhs)
    if isinstance(sampler, FullBatch) or (isinstance(sampler, TauNice) and sampler.tau == problem.n):
        assert np.allclose(lhs, rhs, rtol=1e-12, atol=1e-15)  # B = 1, A = C = 0: an identity


@pytest.mark.parametrize("sampler", [Uniform(), Uniform(batch=2), Uniform(batch=3), TauNice(tau=2),
                                     TauNice(tau=5), Importance()], ids=_id)
def test_abc_tight_on_rank_one_least_squares(sampler):
    """f_i = 1/2 (a_i^T x - b_i)^2 has ||grad f_i||^2 = 2 L_i (f_i - 0) exactly; with equal ||a_i||
    (and for importance p ∝ L_i with any ||a_i||) every step of the ABC derivation is an equality."""
    problem = prob("ls_equal_rows") if not isinstance(sampler, Importance) else prob("least_squares")
    lhs, rhs = _abc_sides(problem, sampler, _abc_points(problem))
    assert np.allclose(lhs / rhs, 1.0, rtol=0, atol=1e-10)
    # negative control: 0.9 A breaks the inequality at far points (the check has power)
    A, B, C = sampler.abc(problem)
    lhs, rhs = _abc_sides(problem, sampler, _abc_points(problem), abc=(0.9 * A, B, 0.9 * C))
    assert np.any(lhs > rhs)


def test_unweighted_importance_has_no_abc_constants():
    """The unweighted sampler is biased for f: asking for its ABC constants is an error."""
    problem = prob("least_squares")
    with pytest.raises(ValueError, match="biased"):
        Importance(reweight=False).abc(problem)


@pytest.mark.parametrize("name", ["quadratic", "pl_sine"])
@pytest.mark.parametrize("sampler,expected", [
    (Gaussian(sigma=2.0), lambda d: 4.0), (Gaussian(sigma=2.0, batch=4), lambda d: 1.0),
    (Gaussian(sigma=2.0, convention="per_coordinate"), lambda d: 4.0 * d)], ids=["total", "total_b4", "per_coord"])
def test_gaussian_oracle_second_moment_is_tight(name, sampler, expected):
    problem = prob(name)
    x = _point(problem, 6)
    gf = problem.grad(x)
    target = gf @ gf + expected(problem.d)
    A, B, C = sampler.abc(problem)
    assert (A, B) == (0.0, 1.0) and C == pytest.approx(expected(problem.d), rel=1e-14)
    G = mc_grads(problem, sampler, x, R=200000, seed=9)
    assert clt_ok((G * G).sum(1), target)  # E||g||^2 = ||grad f||^2 + sigma^2 / b: ABC with equality
    xi = G - gf
    assert clt_ok(xi ** 2, np.full(problem.d, expected(problem.d) / problem.d))  # isotropic
    wrong = gf @ gf + (expected(problem.d) * problem.d if sampler.convention == "total" else 4.0)
    assert not clt_ok((G * G).sum(1), wrong)  # the other convention is rejected


def test_affine_variance_second_moment():
    problem = prob("pl_sine")
    s = AffineVariance(D0=1.5, var_zeta=0.6)
    x = _point(problem, 7)
    gf = problem.grad(x)
    G = mc_grads(problem, s, x, R=200000, seed=3)
    assert clt_ok((G * G).sum(1), s.D1 * gf @ gf + s.D0)
    assert s.D1 == pytest.approx(1.6, rel=1e-15) and s.abc(problem) == pytest.approx((0.0, 1.6, 1.5))


# ----------------------------------------------------------------------------------------------
# Importance sampling without reweighting is biased
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["least_squares", "ridge", "logistic", "two_quadratics_2d"])
def test_unweighted_importance_is_biased(name):
    problem = prob(name)
    s = Importance(reweight=False)
    p = problem.L_i / problem.L_i.sum()
    x = _point(problem, 12)
    mean, _ = exact_moments(problem, s, x)
    # sum_i p_i grad f_i(x) is the gradient of sum_i p_i f_i (central differences, h = 1e-5)
    fp = lambda z: p @ problem.component_f(z)  # noqa: E731
    fd = np.array([(fp(x + 1e-5 * e) - fp(x - 1e-5 * e)) / 2e-5 for e in np.eye(problem.d)])
    assert np.allclose(mean, fd, rtol=1e-6, atol=1e-8)
    gf = problem.grad(x)
    assert np.linalg.norm(mean - gf) > 0.05 * (1 + np.linalg.norm(gf))
    G = mc_grads(problem, s, x, seed=4)
    assert clt_ok(G, mean)
    assert not clt_ok(G, gf)
    # the reweighted sampler with the same p is unbiased on the same draws' distribution
    assert clt_ok(mc_grads(problem, Importance(), x, seed=4), gf)


def test_unweighted_importance_moves_the_stationary_point():
    """At x*, the unweighted mean is not 0; at the minimiser of sum_i p_i f_i it is."""
    problem = prob("two_quadratics")
    s = Importance(p=problem.q, reweight=False)
    mean_at_star, _ = exact_moments(problem, s, problem.x_star)
    assert abs(mean_at_star[0]) > 0.1
    # sum_i q_i F_i = sum_i q_i^2 k_i (x - c_i)^2: minimiser
    w = problem.q ** 2 * problem.k
    x_b = np.array([(w @ problem.cs[:, 0]) / w.sum()])
    assert abs(exact_moments(problem, s, x_b)[0][0]) < 1e-14


# ----------------------------------------------------------------------------------------------
# Draws: structure, frequencies, replay
# ----------------------------------------------------------------------------------------------
def test_draw_structure_and_index_frequencies():
    problem = prob("least_squares")
    n, R = problem.n, 60000
    gen = torch.Generator().manual_seed(0)
    s = Uniform(batch=3).draw(problem, R, gen)
    assert s.idx.shape == (R, 3) and s.w.shape == (R, 3) and torch.all(s.w == 1)
    assert s.idx.min() >= 0 and s.idx.max() < n
    onehot = np.eye(n)[s.idx[:, 0].numpy()]
    assert clt_ok(onehot, np.full(n, 1 / n))
    t = TauNice(tau=4).draw(problem, R, gen)
    assert t.idx.shape == (R, 4)
    srt = torch.sort(t.idx, dim=1).values
    assert torch.all(srt[:, 1:] > srt[:, :-1])  # without replacement
    member = np.zeros((R, n))
    np.put_along_axis(member, t.idx.numpy(), 1.0, axis=1)
    assert clt_ok(member, np.full(n, 4 / n))
    p = np.arange(1.0, n + 1) / np.arange(1.0, n + 1).sum()
    imp = Importance(p=p, batch=2).draw(problem, R, gen)
    onehot = np.eye(n)[imp.idx[:, 1].numpy()]
    assert clt_ok(onehot, p)
    assert torch.allclose(imp.w, torch.as_tensor(1 / (n * p))[imp.idx])
    assert not clt_ok(onehot, np.full(n, 1 / n))
    g = Gaussian(sigma=1.0).draw(problem, 5, gen)
    assert g.idx is None and g.noise.shape == (5, problem.d)
    a = AffineVariance().draw(problem, 5, gen)
    assert a.scale.shape == (5,) and a.noise.shape == (5, problem.d)
    assert FullBatch().draw(problem, 5, gen) == Sample()


def test_draw_steps_replay_is_deterministic():
    problem = prob("ridge")
    for s in (Uniform(batch=2), TauNice(tau=3), Importance(), Gaussian(), AffineVariance()):
        a = P.draw_steps(s, problem, T=3, R=4, seed=7)
        b = P.draw_steps(s, problem, T=3, R=4, seed=7)
        c = P.draw_steps(s, problem, T=3, R=4, seed=8)
        assert len(a) == 3
        for sa, sb in zip(a, b):
            for f in ("idx", "w", "noise", "scale"):
                va, vb = getattr(sa, f), getattr(sb, f)
                assert (va is None and vb is None) or torch.equal(va, vb)
        key = "idx" if a[0].idx is not None else "noise"
        assert not all(torch.equal(getattr(x, key), getattr(y, key)) for x, y in zip(a, c))
    f32 = P.draw_steps(Importance(), problem, T=1, R=3, seed=1, dtype=torch.float32)[0]
    assert f32.w.dtype == torch.float32 and f32.idx.dtype == torch.long


def test_make_sampler_by_name():
    assert isinstance(P.make_sampler("uniform"), Uniform)
    mb = P.make_sampler("minibatch", batch=4)
    assert isinstance(mb, Uniform) and mb.batch == 4
    assert P.make_sampler("tau_nice", tau=3).tau == 3
    assert isinstance(P.make_sampler("importance"), Importance)
    assert isinstance(P.make_sampler("full_batch"), FullBatch)
    assert P.make_sampler("gaussian", sigma=2.0).sigma == 2.0
    assert isinstance(P.make_sampler("affine"), AffineVariance)


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------
def _all_entry_points(sampler, problem):
    gen = torch.Generator().manual_seed(0)
    return [lambda: sampler.check(problem), lambda: sampler.abc(problem),
            lambda: sampler.draw(problem, 2, gen), lambda: P.draw_steps(sampler, problem, 1, 2, 0)]


@pytest.mark.parametrize("sampler,match", [
    (TauNice(tau=7), r"tau=7 is not allowed.*n=6"), (TauNice(tau=0), r"tau=0"), (TauNice(tau=1.5), r"tau=1\.5"),
    (Uniform(batch=0), r"batch=0"), (Uniform(batch=2.5), r"batch=2\.5"), (Importance(batch=0), r"batch=0"),
    (Importance(p=np.full(6, 0.15)), r"p sums to 0\.9"), (Importance(p=np.full(3, 1 / 3)), r"p has shape \(3,\)"),
    (Importance(p=np.array([0.5, 0.5, 0.2, -0.2, 0.0, 0.0])), r"min -0\.2"),
    (Importance(p=np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0])), r"min 0"),
    (Importance(p=np.array([np.nan, 0.2, 0.2, 0.2, 0.2, 0.2])), r"p sums to nan"),
    (Gaussian(sigma=-1.0), r"sigma=-1\.0"), (Gaussian(sigma=float("nan")), r"sigma=nan"),
    (Gaussian(batch=0), r"batch=0"), (Gaussian(convention="coord"), r"convention='coord'"),
    (AffineVariance(D0=-1.0), r"D0=-1\.0"), (AffineVariance(var_zeta=-0.5), r"var_zeta=-0\.5"),
], ids=lambda v: v if isinstance(v, str) else _id(v))
def test_bad_sampler_input_raises_value_error(sampler, match):
    problem = prob("least_squares")
    assert problem.n == 6
    for fn in _all_entry_points(sampler, problem):
        with pytest.raises(ValueError, match=match):
            fn()


@pytest.mark.parametrize("sampler", [Uniform(), Uniform(batch=3), TauNice(tau=1), Importance()], ids=_id)
def test_index_sampler_on_non_finite_sum_raises(sampler):
    for problem in (prob("pl_sine"), prob("quadratic")):
        for fn in _all_entry_points(sampler, problem):
            with pytest.raises(ValueError, match=rf"needs a finite-sum problem; '{problem.name}' is not one"):
                fn()


def test_unknown_sampler_name():
    with pytest.raises(ValueError, match=r"unknown sampler 'uniformm'"):
        P.make_sampler("uniformm")


def test_valid_edge_cases_do_not_raise():
    problem = prob("least_squares")
    for s in (TauNice(tau=problem.n), TauNice(tau=1), Uniform(batch=50), Gaussian(sigma=0.0),
              AffineVariance(D0=0.0, var_zeta=0.0), Importance(p=np.full(6, 1 / 6))):
        s.check(problem)
        s.abc(problem)
        s.draw(problem, 2, torch.Generator().manual_seed(0))
