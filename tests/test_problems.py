"""Problems: exact constants by independent routes, derivatives against finite differences,
NumPy/torch agreement, and input validation.

Tolerances used throughout (stated once):
- central finite differences with step H_FD = 1e-5: |fd - exact| <= FD_TOL * (1 + |exact|), FD_TOL = 1e-6
  (truncation error O(h^2 * f''') ~ 1e-10, round-off O(eps * |f| / h) ~ 1e-11);
- NumPy vs torch float64 on the same point: relative 1e-12 (round-off only);
- torch float32 smoke test: relative 1e-4 against float64.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import optimize

import problems as P
from problems import (FullBatch, Gaussian, AffineVariance, Importance, LeastSquares, Logistic, PLSine, Quadratic,
                      RobustRegression, Sample, TauNice, TwoQuadratics, Uniform)

H_FD = 1e-5
FD_TOL = 1e-6


# ----------------------------------------------------------------------------------------------
# A small zoo of problems with explicit data (fast to build, small n for exact enumeration).
# ----------------------------------------------------------------------------------------------
def _data(n, d, seed, row_scale=None):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    if row_scale is not None:
        A *= np.asarray(row_scale)[:, None]
    b = rng.standard_normal(n)
    return A, b


@functools.lru_cache(maxsize=None)
def zoo(name):
    rng = np.random.default_rng(123)
    if name == "quadratic":
        return Quadratic.from_spectrum([0.5, 1.0, 2.0, 7.0], seed=3, x_star=rng.standard_normal(4))
    if name == "least_squares":
        A, b = _data(7, 4, 1, row_scale=np.linspace(0.5, 2.0, 7))
        return LeastSquares(A, b)
    if name == "ridge":
        A, b = _data(7, 4, 2, row_scale=np.linspace(0.5, 2.0, 7))
        return LeastSquares(A, b, reg=0.3)
    if name == "pl_sine":
        return PLSine(5)
    if name == "robust_regression":
        A, b = _data(8, 3, 4)
        b *= 3.0
        return RobustRegression(A, b)
    if name == "robust_ridge":
        A, b = _data(8, 3, 5)
        b *= 3.0
        return RobustRegression(A, b, reg=0.2)
    if name == "logistic":
        A, _ = _data(9, 3, 6)
        y = np.where(rng.random(9) < 0.5, -1.0, 1.0)
        return Logistic(A, y, reg=0.05)
    if name == "two_quadratics":
        return TwoQuadratics(p=0.3, k1=1.0, k2=3.0, c1=[-1.0, 0.5], c2=[1.0, 2.0])
    raise KeyError(name)


NAMES = ["quadratic", "least_squares", "ridge", "pl_sine", "robust_regression", "robust_ridge", "logistic",
         "two_quadratics"]
FINITE = [n for n in NAMES if n not in ("quadratic", "pl_sine")]


def samplers_for(problem):
    out = [FullBatch(), Gaussian(sigma=0.7, batch=2), AffineVariance(D0=0.5, var_zeta=0.3)]
    if problem.finite_sum:
        n = problem.n
        p = np.arange(1, n + 1, dtype=float)
        out += [Uniform(), Uniform(batch=3), TauNice(tau=2), TauNice(tau=n), Importance(),
                Importance(p=p / p.sum(), batch=2), Importance(reweight=False)]
    return out


def _points(problem, m, seed, scale=1.5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, problem.d)) * scale


def _rel_close(a, b, rtol, scale=None):
    a, b = np.asarray(a, float), np.asarray(b, float)
    s = (1.0 + np.abs(b)) if scale is None else scale
    return np.all(np.abs(a - b) <= rtol * s)


def fd_grad(fun, x, h=H_FD):
    out = np.empty_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        out[j] = (fun(x + e) - fun(x - e)) / (2 * h)
    return out


def fd_dir(fun, x, v, h=H_FD):
    return (fun(x + h * v) - fun(x - h * v)) / (2 * h)


def hessian_from_hvp(hvp, x):
    d = x.size
    H = np.stack([hvp(x, np.eye(d)[j]) for j in range(d)], axis=1)
    return 0.5 * (H + H.T)


def fd_hessian(grad, x, h=1e-4):
    d = x.size
    H = np.stack([fd_dir(grad, x, np.eye(d)[j], h) for j in range(d)], axis=1)
    return 0.5 * (H + H.T)


def numpy_samples(problem, sampler, k=3, seed=0):
    """k single-run NumPy samples drawn by the sampler (via a torch batch and Sample.run)."""
    gen = torch.Generator().manual_seed(seed)
    s = sampler.draw(problem, k, gen)
    return [s.run(r) for r in range(k)]


# ----------------------------------------------------------------------------------------------
# Closed forms by sympy
# ----------------------------------------------------------------------------------------------
def test_pl_sine_L_is_8_by_sympy():
    x = sp.symbols("x", real=True)
    f = x ** 2 + 3 * sp.sin(x) ** 2
    f2 = sp.diff(f, x, 2)
    assert sp.simplify(f2 - (2 + 6 * sp.cos(2 * x))) == 0
    # f'' has period pi: its extremes are at the zeros of f''' in [0, pi] (and the ends).
    crit = sp.solveset(sp.diff(f, x, 3), x, sp.Interval(0, sp.pi))
    vals = {sp.nsimplify(f2.subs(x, c)) for c in crit} | {f2.subs(x, 0), f2.subs(x, sp.pi)}
    assert max(vals) == 8 and min(vals) == -4
    L_sym = max(abs(v) for v in vals)
    prob = PLSine(3)
    assert prob.L == float(L_sym) == 8.0
    assert prob.f_star == 0.0 and np.all(prob.x_star == 0)
    # the code's hvp attains L at x = 0 and never exceeds it
    pts = _points(prob, 200, 1, scale=4.0)
    diag = np.array([prob.hvp(p, np.ones(3)) for p in pts])
    assert np.all(np.abs(diag) <= 8.0 + 1e-12)
    assert np.allclose(prob.hvp(np.zeros(3), np.ones(3)), 8.0, rtol=0, atol=1e-15)
    # f >= x^2 so f* = 0 is the unique minimum
    assert np.all(prob.f(pts) >= (pts ** 2).sum(1) - 1e-12)


def test_robust_phi_curvature_range_and_gradient_bound_by_sympy():
    t = sp.symbols("t", real=True)
    phi = t ** 2 / (1 + t ** 2)
    d1, d2, d3 = (sp.diff(phi, t, k) for k in (1, 2, 3))
    crit2 = sp.solve(sp.Eq(sp.simplify(d3), 0), t)
    vals2 = [sp.simplify(d2.subs(t, c)) for c in crit2]
    lims2 = [sp.limit(d2, t, sp.oo), sp.limit(d2, t, -sp.oo)]
    lo, hi = min(vals2 + lims2), max(vals2 + lims2)
    assert lo == sp.Rational(-1, 2) and hi == 2
    crit1 = sp.solve(sp.Eq(sp.simplify(d2), 0), t)
    vals1 = [sp.simplify(d1.subs(t, c)) for c in crit1] + [sp.limit(d1, t, sp.oo)]
    max_d1 = max(vals1, key=lambda v: float(abs(v)))
    assert sp.simplify(abs(max_d1) - 3 * sp.sqrt(3) / 8) == 0
    # the code's constants and element-wise derivatives agree with sympy
    assert RobustRegression.curvature_max == float(max(abs(lo), abs(hi)))
    assert abs(RobustRegression.dphi_max - float(3 * sp.sqrt(3) / 8)) < 1e-15
    prob = zoo("robust_regression")
    ts = np.linspace(-6, 6, 241)
    for fn, ex in ((prob.phi, phi), (prob.dphi, d1), (prob.ddphi, d2)):
        ref = sp.lambdify(t, ex, "numpy")(ts)
        assert np.allclose(fn(ts), ref, rtol=1e-13, atol=1e-14)
    assert np.all(np.abs(prob.dphi(ts)) <= 3 * np.sqrt(3) / 8 + 1e-15)


def test_logistic_curvature_quarter_by_sympy():
    t = sp.symbols("t", real=True)
    phi = sp.log(1 + sp.exp(-t))
    d2 = sp.simplify(sp.diff(phi, t, 2))
    crit = sp.solve(sp.Eq(sp.diff(d2, t), 0), t)
    assert crit == [0]
    assert sp.simplify(d2.subs(t, 0)) == sp.Rational(1, 4)
    assert Logistic.curvature_max == 0.25
    prob = zoo("logistic")
    ts = np.linspace(-30, 30, 301)
    for fn, ex in ((prob.phi, phi), (prob.dphi, sp.diff(phi, t)), (prob.ddphi, d2)):
        ref = np.array([float(ex.subs(t, sp.Float(v, 30)).evalf(20)) for v in ts[::10]])
        assert np.allclose(fn(ts[::10]), ref, rtol=1e-12, atol=1e-15)  # 1 - tanh: absolute round-off


# ----------------------------------------------------------------------------------------------
# pl_sine: tight PL constant by an independent method
# ----------------------------------------------------------------------------------------------
def _tight_pl_sympy():
    t = sp.symbols("t", real=True)
    f = t ** 2 + 3 * sp.sin(t) ** 2
    ratio = sp.diff(f, t) ** 2 / (2 * f)
    dr = sp.diff(ratio, t)
    roots = []
    for t0 in (0.8, 1.2, 1.6, 2.0, 2.4, 3.0, 4.0, 5.0):
        try:
            r = float(sp.nsolve(dr, t, t0, prec=30))
        except (ValueError, ZeroDivisionError):
            continue
        if r > 1e-6:
            roots.append(r)
    vals = [(float(ratio.subs(t, r)), r) for r in roots]
    return min(vals)


def test_pl_sine_tight_constant_independent():
    mu_sym, t_star = _tight_pl_sympy()
    prob = PLSine(5)
    assert abs(prob.mu - mu_sym) < 1e-10
    assert abs(P.tight_pl_constant() - mu_sym) < 1e-10
    assert prob.mu_literature == 1.0 / 32.0 <= prob.mu
    assert abs(mu_sym - 0.1755) < 5e-5  # docs/claims.md#unifiedthm3_2_bound: tight mu ~ 0.1755
    # global: the ratio never goes below mu on a grid different from the code's (log-spaced, far out)
    from problems.pl_sine import pl_ratio
    ts = np.geomspace(1e-4, 1e4, 200001)
    assert pl_ratio(ts).min() >= mu_sym * (1 - 1e-12)


def test_pl_inequality_holds_and_is_attained_d5():
    mu_sym, t_star = _tight_pl_sympy()
    prob = PLSine(5)
    rng = np.random.default_rng(7)
    X = np.concatenate([rng.standard_normal((500, 5)) * s for s in (0.1, 1.0, 3.0, 30.0)])
    g = np.stack([prob.grad(x) for x in X])
    lhs = (g ** 2).sum(1)
    rhs = 2 * prob.mu * (np.array([prob.f(x) for x in X]) - prob.f_star)
    assert np.all(lhs >= rhs * (1 - 1e-12))
    # attained at the minimising t* broadcast to all coordinates (either sign)
    for sgn in (1.0, -1.0):
        x = np.full(5, sgn * t_star)
        ratio = (prob.grad(x) ** 2).sum() / (2 * (prob.f(x) - prob.f_star))
        assert abs(ratio - prob.mu) < 1e-6


# ----------------------------------------------------------------------------------------------
# Quadratics, ridge / least squares: eigenvalues, linear solves, component minima
# ----------------------------------------------------------------------------------------------
def test_quadratic_from_spectrum_constants():
    spec = np.array([3.0, 0.25, 1.5, 9.0, 0.7])
    q = Quadratic.from_spectrum(spec, seed=11)
    assert q.L == pytest.approx(spec.max(), rel=1e-13)
    assert q.mu == pytest.approx(spec.min(), rel=1e-12)
    assert np.allclose(np.sort(np.linalg.eigvals(q.H).real), np.sort(spec), rtol=1e-12)
    Hfd = fd_hessian(q.grad, np.ones(5))
    ev = np.linalg.eigvalsh(Hfd)
    assert ev[-1] == pytest.approx(spec.max(), rel=1e-8) and ev[0] == pytest.approx(spec.min(), rel=1e-8)
    assert q.f(q.x_star) == 0.0 == q.f_star
    # singular spectrum: no PL constant
    assert Quadratic.from_spectrum([0.0, 1.0, 2.0], seed=1).mu is None
    qc = Quadratic.with_condition(6, L=4.0, cond=50.0, seed=2)
    assert qc.L == pytest.approx(4.0, rel=1e-12) and qc.L / qc.mu == pytest.approx(50.0, rel=1e-10)


@pytest.mark.parametrize("name", ["least_squares", "ridge"])
def test_ridge_L_mu_by_finite_difference_hessian_and_svd(name):
    prob = zoo(name)
    x = _points(prob, 1, 3)[0]
    ev = np.linalg.eigvalsh(fd_hessian(prob.grad, x))
    assert prob.L == pytest.approx(ev[-1], rel=1e-8)
    assert prob.mu == pytest.approx(ev[0], rel=1e-8)
    sv = np.linalg.svd(prob.A, compute_uv=False)
    assert prob.L == pytest.approx(sv[0] ** 2 / prob.n + prob.reg, rel=1e-12)
    assert prob.mu == pytest.approx(sv[-1] ** 2 / prob.n + prob.reg, rel=1e-12)
    # power iteration on the Rayleigh quotient of the hvp (no eigen-solver)
    v = np.ones(prob.d)
    for _ in range(500):
        v = prob.hvp(x, v)
        v /= np.linalg.norm(v)
    assert v @ prob.hvp(x, v) == pytest.approx(prob.L, rel=1e-8)


@pytest.mark.parametrize("name", ["least_squares", "ridge"])
def test_ridge_x_star_f_star_by_augmented_lstsq_and_minimize(name):
    prob = zoo(name)
    n, d, reg = prob.n, prob.d, prob.reg
    # min 1/(2n) ||A x - b||^2 + reg/2 ||x||^2 = 1/2 || [A/sqrt(n); sqrt(reg) I] x - [b/sqrt(n); 0] ||^2
    M = np.vstack([prob.A / np.sqrt(n), np.sqrt(reg) * np.eye(d)])
    r = np.concatenate([prob.b / np.sqrt(n), np.zeros(d)])
    x_ref = np.linalg.lstsq(M, r, rcond=None)[0]
    f_ref = 0.5 * np.sum((M @ x_ref - r) ** 2)
    assert np.allclose(prob.x_star, x_ref, rtol=1e-10, atol=1e-12)
    assert prob.f_star == pytest.approx(f_ref, rel=1e-12)
    res = optimize.minimize(prob.f, np.zeros(d), method="BFGS", options={"gtol": 1e-12})
    assert prob.f_star <= res.fun + 1e-14
    assert prob.f_star == pytest.approx(res.fun, rel=1e-9)
    assert np.linalg.norm(prob.grad(prob.x_star)) < 1e-12
    assert prob.f_inf == prob.f_star


def test_least_squares_underdetermined_has_no_mu_but_right_f_star():
    A, b = _data(3, 5, 9)
    prob = LeastSquares(A, b)
    assert prob.mu is None
    assert prob.f_star == pytest.approx(0.0, abs=1e-20)  # b is in the range of A
    assert np.linalg.norm(prob.grad(prob.x_star)) < 1e-12


def _component_min_by_scipy(prob, i, starts):
    def fi(x):
        return float(prob.stoch_f(x, Sample(idx=np.array([i]), w=np.ones(1))))
    return min(optimize.minimize(fi, x0, method="Nelder-Mead" if prob.d == 1 else "BFGS",
                                 options={"gtol": 1e-12} if prob.d > 1 else {}).fun for x0 in starts)


@pytest.mark.parametrize("name", ["least_squares", "ridge", "logistic", "robust_ridge", "robust_regression"])
def test_component_minima_f_i_inf_against_scipy(name):
    prob = zoo(name)
    for i in range(prob.n):
        a = prob.A[i]
        starts = [np.zeros(prob.d), prob.b[i] * a / (a @ a), 3 * a / np.linalg.norm(a)]
        ref = _component_min_by_scipy(prob, i, starts)
        assert prob.f_i_inf[i] <= ref + 1e-9, (i, prob.f_i_inf[i], ref)
        # a valid lower bound that is also (nearly) attained; reg = 0 robust / ls: exactly 0
        assert prob.f_i_inf[i] >= ref - 1e-7, (i, prob.f_i_inf[i], ref)
    if name in ("least_squares", "robust_regression"):
        assert np.all(prob.f_i_inf == 0.0)
    if name in ("least_squares", "ridge"):
        # closed form of min_s 1/2 (s ||a|| - b)^2 + reg/2 s^2
        ra = (prob.A ** 2).sum(1)
        assert np.allclose(prob.f_i_inf, prob.reg * prob.b ** 2 / (2 * (ra + prob.reg)), rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", ["least_squares", "ridge", "robust_regression", "robust_ridge", "logistic"])
def test_L_i_bounds_component_hessians_and_is_attained(name):
    prob = zoo(name)
    pts = _points(prob, 25, 5, scale=2.0)
    for i in range(prob.n):
        s = Sample(idx=np.array([i]), w=np.ones(1))
        top = []
        for x in pts:
            H = hessian_from_hvp(lambda z, v: prob.stoch_hvp(z, v, s), x)
            top.append(np.abs(np.linalg.eigvalsh(H)).max())
        assert max(top) <= prob.L_i[i] * (1 + 1e-12)
        a = prob.A[i]
        if name in ("least_squares", "ridge"):
            assert np.allclose(top, prob.L_i[i], rtol=1e-12)
        # attained where the residual is 0 (phi'' max at t = 0 for all three losses)
        x0 = prob.b[i] * a / (a @ a)
        H0 = hessian_from_hvp(lambda z, v: prob.stoch_hvp(z, v, s), x0)
        assert np.linalg.eigvalsh(H0)[-1] == pytest.approx(prob.L_i[i], rel=1e-12)
        # and L_i is the same number computed from the definition curvature * ||a_i||^2 + reg
        assert prob.L_i[i] == pytest.approx(prob.curvature_max * (a @ a) + prob.reg, rel=1e-14)
        # finite-difference check of the component Hessian at one random point
        g = lambda z: prob.stoch_grad(z, s)  # noqa: E731
        Hfd = fd_hessian(g, pts[0])
        H = hessian_from_hvp(lambda z, v: prob.stoch_hvp(z, v, s), pts[0])
        assert np.allclose(H, Hfd, rtol=0, atol=1e-6 * (1 + np.abs(H).max()))


@pytest.mark.parametrize("name", ["robust_regression", "robust_ridge", "logistic"])
def test_L_bounds_full_hessian(name):
    prob = zoo(name)
    pts = np.concatenate([_points(prob, 60, 8, scale=s) for s in (0.3, 1.0, 3.0)])
    norms = [np.abs(np.linalg.eigvalsh(hessian_from_hvp(prob.hvp, x))).max() for x in pts]
    assert max(norms) <= prob.L * (1 + 1e-12)
    assert prob.L == pytest.approx(prob.curvature_max * np.linalg.eigvalsh(prob.A.T @ prob.A / prob.n)[-1]
                                   + prob.reg, rel=1e-12)


def test_L_attained_where_all_residuals_vanish():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((10, 3))
    x0 = rng.standard_normal(3)
    rob = RobustRegression(A, A @ x0)
    assert np.linalg.eigvalsh(hessian_from_hvp(rob.hvp, x0))[-1] == pytest.approx(rob.L, rel=1e-12)
    y = np.where(rng.random(10) < 0.5, -1.0, 1.0)
    log = Logistic(A, y, reg=0.1)
    assert np.linalg.eigvalsh(hessian_from_hvp(log.hvp, np.zeros(3)))[-1] == pytest.approx(log.L, rel=1e-12)


def test_robust_regression_bounded_gradients_and_f_nonnegative():
    prob = zoo("robust_regression")
    assert prob.G_inf == pytest.approx(3 * np.sqrt(3) / 8 * np.abs(prob.A).max(), rel=1e-15)
    pts = np.concatenate([_points(prob, 100, 2, scale=s) for s in (0.3, 1.0, 5.0)])
    worst = 0.0
    for x in pts:
        G = prob.component_grads(x)
        worst = max(worst, np.abs(G).max())
        assert prob.f(x) >= prob.f_inf
    assert worst <= prob.G_inf * (1 + 1e-12)
    # the bound is attained: residual t = 1/sqrt(3) on the row holding max |A|
    i, j = np.unravel_index(np.argmax(np.abs(prob.A)), prob.A.shape)
    a = prob.A[i]
    x = (prob.b[i] + 1 / np.sqrt(3)) * a / (a @ a)
    assert np.abs(prob.component_grads(x)[i, j]) == pytest.approx(prob.G_inf, rel=1e-12)
    assert prob.delta_inf == 0.0
    assert RobustRegression(prob.A, prob.b, reg=0.1).G_inf is None


def test_logistic_x_star_is_stationary_and_minimal():
    prob = zoo("logistic")
    assert np.linalg.norm(prob.grad(prob.x_star)) < 1e-13
    res = optimize.minimize(prob.f, np.ones(prob.d), jac=prob.grad, method="BFGS", options={"gtol": 1e-12})
    assert prob.f_star <= res.fun + 1e-14
    assert prob.f_star == pytest.approx(res.fun, rel=1e-10)
    assert prob.mu == prob.reg
    # labels are folded into the rows: f_i = log(1 + exp(-y_i a_i^T x))
    big = P.logistic(n=30, n_val=20, d=4, seed=3)
    x = np.arange(4.0) / 4
    X, y = big.A * big.y[:, None], big.y
    ref = np.mean(np.log1p(np.exp(-y * (X @ x)))) + 0.5 * big.reg * x @ x
    assert big.f(x) == pytest.approx(ref, rel=1e-14)
    assert isinstance(big.val, Logistic) and big.val.n == 20


# ----------------------------------------------------------------------------------------------
# two_quadratics
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p,k1,k2,c1,c2", [(0.5, 1.0, 2.0, -1.0, 1.0), (0.2, 5.0, 0.5, 2.0, -3.0),
                                            (0.9, 0.3, 4.0, 0.0, 1.0)])
def test_two_quadratics_x_star_K_by_direct_minimisation(p, k1, k2, c1, c2):
    prob = TwoQuadratics(p=p, k1=k1, k2=k2, c1=c1, c2=c2)

    def f_direct(x):
        return p * k1 / 2 * (x - c1) ** 2 + (1 - p) * k2 / 2 * (x - c2) ** 2
    res = optimize.minimize_scalar(f_direct, bracket=(min(c1, c2) - 1, max(c1, c2) + 1), tol=1e-12)
    assert prob.x_star[0] == pytest.approx(res.x, abs=1e-7)
    assert prob.f_star == pytest.approx(res.fun, rel=1e-12, abs=1e-14)
    assert prob.f(np.array([0.37])) == pytest.approx(f_direct(0.37), rel=1e-14)
    curv = (f_direct(0.4 + 1e-3) - 2 * f_direct(0.4) + f_direct(0.4 - 1e-3)) / 1e-6
    assert prob.K == pytest.approx(curv, rel=1e-6) and prob.L == prob.K == prob.mu
    # each component's gradient, reweighted by 1/(n q_i), is grad of k_i/2 (x - c_i)^2
    x = np.array([0.3])
    for i, (k, c) in enumerate(((k1, c1), (k2, c2))):
        s = Sample(idx=np.array([i]), w=np.array([1.0 / (2 * prob.q[i])]))
        assert prob.stoch_grad(x, s)[0] == pytest.approx(k * (0.3 - c), rel=1e-14)


def test_two_quadratics_x_star_in_2d_by_bfgs():
    prob = zoo("two_quadratics")
    res = optimize.minimize(prob.f, np.zeros(2), method="BFGS", options={"gtol": 1e-12})
    assert np.allclose(prob.x_star, res.x, atol=1e-7)
    assert prob.f_star == pytest.approx(res.fun, rel=1e-12)


def _expected_sam_direction(prob, x, rho):
    """E_i [grad f_i(x + rho grad f_i(x)/||grad f_i(x)||)] with i ~ q, through the finite-sum oracle
    F_i reweighted by 1/(n q_i) (Importance(p=q)), i.e. p k1 (x + e1 - c1) + (1-p) k2 (x + e2 - c2)."""
    out = np.zeros_like(x)
    for i in range(2):
        s = Sample(idx=np.array([i]), w=np.array([1.0 / (prob.n * prob.q[i])]))
        g = prob.stoch_grad(x, s)
        e = rho * g / np.linalg.norm(g)
        out += prob.q[i] * prob.stoch_grad(x + e, s)
    return out


@pytest.mark.parametrize("p,k1,k2", [(0.5, 1.0, 2.0), (0.3, 4.0, 1.0), (0.7, 1.0, 1.0), (0.5, 2.0, 2.0)])
def test_two_quadratics_sam_fixed_point_and_floor(p, k1, k2):
    prob = TwoQuadratics(p=p, k1=k1, k2=k2, c1=-1.0, c2=1.0)
    rho = 0.1
    # explicit formula of the expected direction in d = 1, between the centres
    D = lambda x: p * k1 * (x + rho - (-1.0)) + (1 - p) * k2 * (x - rho - 1.0)  # noqa: E731
    root = optimize.brentq(D, -1 + 1e-9, 1 - 1e-9, xtol=1e-15)
    xh = prob.sam_fixed_point(rho)
    assert xh.shape == (1,)
    assert xh[0] == pytest.approx(root, abs=1e-13)
    assert abs(_expected_sam_direction(prob, xh, rho)[0]) < 1e-13
    # iterate the expected SAM map with a constant step: it converges to x_hat, not x*
    x = prob.x_star.copy()
    for _ in range(200):
        x = x - 0.5 / prob.K * _expected_sam_direction(prob, x, rho)
    assert x[0] == pytest.approx(root, abs=1e-12)
    assert prob.sam_floor(rho) == pytest.approx(float(prob.f(xh) - prob.f_star), rel=1e-10, abs=1e-15)
    if p * k1 != (1 - p) * k2:
        assert prob.sam_floor(rho) > 0
    else:
        assert prob.sam_floor(rho) == 0.0


def test_two_quadratics_sam_fixed_point_in_2d():
    prob = zoo("two_quadratics")
    xh = prob.sam_fixed_point(0.05)
    assert np.linalg.norm(_expected_sam_direction(prob, xh, 0.05)) < 1e-12
    assert prob.sam_floor(0.05) == pytest.approx(float(prob.f(xh) - prob.f_star), rel=1e-9)


# ----------------------------------------------------------------------------------------------
# Derivatives against central finite differences, full and sampled
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_grad_hvp_match_finite_differences(name):
    prob = zoo(name)
    rng = np.random.default_rng(4)
    for x in _points(prob, 4, 9):
        g = prob.grad(x)
        assert _rel_close(fd_grad(prob.f, x), g, FD_TOL)
        v = rng.standard_normal(prob.d)
        assert _rel_close(fd_dir(prob.grad, x, v), prob.hvp(x, v), FD_TOL)


@pytest.mark.parametrize("name", NAMES)
def test_stoch_grad_hvp_match_finite_differences(name):
    prob = zoo(name)
    rng = np.random.default_rng(5)
    for sampler in samplers_for(prob):
        for k, s in enumerate(numpy_samples(prob, sampler, k=2, seed=17)):
            x = _points(prob, 1, 30 + k)[0]
            fS = lambda z: prob.stoch_f(z, s)  # noqa: E731
            gS = lambda z: prob.stoch_grad(z, s)  # noqa: E731
            assert _rel_close(fd_grad(fS, x), gS(x), FD_TOL), sampler
            v = rng.standard_normal(prob.d)
            assert _rel_close(fd_dir(gS, x, v), prob.stoch_hvp(x, v, s), FD_TOL), sampler


@pytest.mark.parametrize("name", FINITE)
def test_components_average_to_f_and_grad(name):
    prob = zoo(name)
    for x in _points(prob, 3, 12):
        G = prob.component_grads(x)
        F = prob.component_f(x)
        assert G.shape == (prob.n, prob.d) and F.shape == (prob.n,)
        assert np.allclose(G.mean(0), prob.grad(x), rtol=1e-13, atol=1e-14)
        assert F.mean() == pytest.approx(float(prob.f(x)), rel=1e-13)
        for i in range(prob.n):
            fi = lambda z: prob.stoch_f(z, Sample(idx=np.array([i]), w=np.ones(1)))  # noqa: E731
            assert _rel_close(fd_grad(fi, x), G[i], FD_TOL)
        # the full-index weighted sample is the full batch
        s = Sample(idx=np.arange(prob.n), w=np.ones(prob.n))
        assert np.allclose(prob.stoch_grad(x, s), prob.grad(x), rtol=1e-13, atol=1e-14)
        assert prob.stoch_f(x, s) == pytest.approx(float(prob.f(x)), rel=1e-13)


# ----------------------------------------------------------------------------------------------
# NumPy and torch agree on the same points
# ----------------------------------------------------------------------------------------------
def _check_backends(prob, sampler, dtype, rtol):
    R = 4
    gen = torch.Generator().manual_seed(3)
    s64 = sampler.draw(prob, R, gen)
    s = sampler.draw(prob, R, torch.Generator().manual_seed(3), dtype) if dtype != torch.float64 else s64
    rng = np.random.default_rng(1)
    X64 = torch.as_tensor(rng.standard_normal((R, prob.d)))
    V64 = torch.as_tensor(rng.standard_normal((R, prob.d)))
    X, V = X64.to(dtype), V64.to(dtype)
    outs = {"f": prob.f(X), "grad": prob.grad(X), "hvp": prob.hvp(X, V), "stoch_f": prob.stoch_f(X, s),
            "stoch_grad": prob.stoch_grad(X, s), "stoch_hvp": prob.stoch_hvp(X, V, s)}
    for key, out in outs.items():
        assert isinstance(out, torch.Tensor) and out.dtype == dtype, (key, out.dtype)
        assert out.shape == ((R,) if key.endswith("f") else (R, prob.d)), key
    for r in range(R):
        x, v, sr = X64[r].numpy(), V64[r].numpy(), s64.run(r)
        ref = {"f": prob.f(x), "grad": prob.grad(x), "hvp": prob.hvp(x, v), "stoch_f": prob.stoch_f(x, sr),
               "stoch_grad": prob.stoch_grad(x, sr), "stoch_hvp": prob.stoch_hvp(x, v, sr)}
        for key in outs:
            a = outs[key][r].double().numpy()
            b = np.asarray(ref[key], float)
            assert a.shape == b.shape, key
            scale = 1.0 + np.abs(b).max()
            assert np.all(np.abs(a - b) <= rtol * scale), (key, sampler, a, b)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_and_torch_agree_float64(name):
    prob = zoo(name)
    for sampler in samplers_for(prob):
        _check_backends(prob, sampler, torch.float64, 1e-12)


def test_backend_constant_cache_is_not_fooled_by_reused_ids():
    """like() caches tensors by id(arr): a freed temporary's id is reused by the next array, which
    must not get the stale tensor (float32 and other devices copy, so nothing keeps arr alive)."""
    from problems.backend import like
    cache: dict = {}
    x = torch.zeros(2, 3, dtype=torch.float32)
    for k in range(50):
        t = like(np.full(3, float(k)), x, cache)
        assert torch.all(t == k), (k, t)
    base = np.arange(6.0).reshape(2, 3)
    assert torch.equal(like(base[0], x, cache), torch.tensor([0.0, 1.0, 2.0]))
    assert torch.equal(like(base[1], x, cache), torch.tensor([3.0, 4.0, 5.0]))


@pytest.mark.parametrize("name", NAMES)
def test_torch_float32_respects_dtype(name):
    prob = zoo(name)
    for sampler in samplers_for(prob):
        _check_backends(prob, sampler, torch.float32, 1e-4)


# ----------------------------------------------------------------------------------------------
# Generators
# ----------------------------------------------------------------------------------------------
def test_design_matrix_spectrum_and_row_spread():
    A = P.design_matrix(40, 5, cond=30.0, seed=4)
    ev = np.linalg.eigvalsh(A.T @ A / 40)
    assert np.allclose(ev, np.geomspace(1 / 30.0, 1.0, 5), rtol=1e-10)
    B = P.design_matrix(40, 5, cond=30.0, row_spread=8.0, seed=4)
    ratio = np.linalg.norm(B, axis=1) / np.linalg.norm(A, axis=1)
    assert np.allclose(np.sort(ratio), np.geomspace(1.0, 8.0, 40), rtol=1e-12)
    ls = P.least_squares(n=40, d=5, cond=30.0, reg=0.0, seed=4)
    assert ls.L / ls.mu == pytest.approx(30.0, rel=1e-10)


@pytest.mark.parametrize("name", P.PROBLEMS)
def test_make_problem_builds_every_family(name):
    small = {"quadratic": dict(d=4), "least_squares": dict(n=12, d=3), "ridge": dict(n=12, d=3),
             "pl_sine": dict(d=3), "robust_regression": dict(n=12, d=3), "logistic": dict(n=12, n_val=6, d=3),
             "two_quadratics": {}}[name]
    prob = P.make_problem(name, **small)
    assert prob.d == small.get("d", 1)
    assert np.isfinite(prob.L) and prob.L > 0
    if name == "ridge":
        assert prob.reg == 0.1
    x = np.ones(prob.d)
    assert np.isfinite(prob.f(x)) and prob.f(x) >= prob.f_inf - 1e-12
    # every family builds with its defaults alone, as PROBLEMS suggests
    assert P.make_problem(name).d >= 1


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------
def test_bad_problem_input_raises_value_error_naming_the_value():
    A, b = _data(5, 3, 0)
    with pytest.raises(ValueError, match=r"reg=-0\.1"):
        LeastSquares(A, b, reg=-0.1)
    with pytest.raises(ValueError, match=r"reg=nan"):
        LeastSquares(A, b, reg=float("nan"))
    with pytest.raises(ValueError, match=r"reg=inf"):
        RobustRegression(A, b, reg=float("inf"))
    bad = A.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"A contains non-finite"):
        LeastSquares(bad, b)
    with pytest.raises(ValueError, match=r"A has 5 rows but b has 4 entries"):
        LeastSquares(A, b[:4])
    with pytest.raises(ValueError, match=r"A has shape \(3,\)"):
        LeastSquares(A[0], b)
    with pytest.raises(ValueError, match=r"k1=0"):
        TwoQuadratics(k1=0.0)
    with pytest.raises(ValueError, match=r"k2=-2"):
        TwoQuadratics(k2=-2)
    for p in (0.0, 1.0, 1.5, -0.2, float("nan")):
        with pytest.raises(ValueError, match=rf"p={p!r}"):
            TwoQuadratics(p=p)
    with pytest.raises(ValueError, match=r"cond=0\.5"):
        Quadratic.with_condition(4, cond=0.5)
    with pytest.raises(ValueError, match=r"cond=0\.5"):
        P.design_matrix(10, 3, cond=0.5)
    with pytest.raises(ValueError, match=r"row_spread=0\.9"):
        P.design_matrix(10, 3, row_spread=0.9)
    with pytest.raises(ValueError, match=r"negative entry -1"):
        Quadratic.from_spectrum([1.0, -1.0])
    with pytest.raises(ValueError, match=r"eigenvalue -1"):
        Quadratic(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"not symmetric"):
        Quadratic(np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"unknown problem 'ridgee'"):
        P.make_problem("ridgee")
    with pytest.raises(ValueError, match=r"d=0"):
        PLSine(0)
    with pytest.raises(ValueError, match=r"labels y must be -1 or \+1.*\b0\.0\b"):
        Logistic(A, np.array([1.0, -1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"labels y must be -1 or \+1.*\b2\.0\b"):
        Logistic(A, np.array([1.0, 2.0, -1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"reg=0"):
        Logistic(A, np.ones(5), reg=0.0)
    with pytest.raises(ValueError, match=r"label_noise=1\.0"):
        P.logistic(label_noise=1.0)
    with pytest.raises(ValueError, match=r"noise=-1"):
        P.least_squares(noise=-1)
    with pytest.raises(ValueError, match=r"n=0"):
        P.robust_regression(n=0)


def test_index_sample_on_non_finite_sum_problem_raises():
    prob = PLSine(3)
    s = Sample(idx=np.array([0]), w=np.ones(1))
    for fn in (lambda: prob.stoch_f(np.zeros(3), s), lambda: prob.stoch_grad(np.zeros(3), s),
               lambda: prob.stoch_hvp(np.zeros(3), np.ones(3), s)):
        with pytest.raises(ValueError, match=r"pl_sine is not a finite sum"):
            fn()
