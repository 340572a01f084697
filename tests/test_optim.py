"""Reductions, invariants, divergence handling, bad input, horizons, schedules and float32 of optim/,
checked on both backends: the float64 NumPy reference (optim.reference.run_reference, fed the
per-run rows Sample.run(r) of pre-drawn batched samples) and the batched torch engine
(optim.batched.run, fed the same samples with ``samples=`` or drawing its own).

Tolerances. Reductions are bit for bit (np.array_equal) within each backend: the reduced rule
performs exactly the floating-point operations of its base (e = 0 * (finite) = 0 and x + 0 = x,
1 * s = s, s + 0 = s, ...). Where the comparison is with a closed form or across backends, the
operation order differs unavoidably (matmul summation order, (x - x*) H versus H (x - x*)) and the
check is to round-off: relative 1e-12 unless a test says otherwise.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

import optim
from optim import Schedule, adasam_corollary, horizon_constant, validate
from optim.batched import make_rule, run
from optim.reference import lets as ref_lets
from optim.reference import run_reference
from problems import FullBatch, Gaussian, Quadratic, Sample, Uniform, draw_steps, make_problem

from helpers import one_run

R = 3
RHO = np.array([0.01, 0.05, 0.1])
ETA_A = np.array([0.01, 0.1, 1.0])
ADA = {"lr": np.array([0.01, 0.02, 0.05]), "eps": np.array([1e-8, 1e-3, 0.1])}
MOM = {"b1": np.array([0.9, 0.5, 0.0]), "b2": np.array([0.999, 0.99, 0.9])}
ROUND_OFF = 1e-12


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def make_case(kind: str):
    if kind == "ridge":
        return make_problem("ridge", n=40, d=6, seed=2), Uniform(batch=2)
    if kind == "logistic":
        return make_problem("logistic", n=40, n_val=30, d=6, shift=1.0, seed=4), Uniform(batch=2)
    raise KeyError(kind)


@functools.lru_cache(maxsize=None)
def case_samples(kind: str, T: int, R: int) -> tuple:
    """make_case(kind) with its pre-drawn samples, built once per module (read-only)."""
    problem, sampler = make_case(kind)
    return problem, sampler, pre_draw(problem, sampler, T, R)


def pre_draw(problem, sampler, T: int, R: int, seed: int = 0) -> dict:
    """Batched samples for every stream any algorithm consumes: S, S2, V (validation problem), Z."""
    val = getattr(problem, "val", None) or problem
    g = torch.Generator().manual_seed(seed + 99)
    return {"S": draw_steps(sampler, problem, T, R, seed),
            "S2": draw_steps(sampler, problem, T, R, seed + 1),
            "V": draw_steps(sampler, val, T, R, seed + 2),
            "Z": [Sample(noise=torch.randint(0, 2, (R, problem.d), generator=g).double() * 2 - 1)
                  for _ in range(T)]}


def run_rows(samples: dict, r: int) -> dict:
    return {k: [s.run(r) for s in v] for k, v in samples.items()}





def both(name, problem, sampler, hp, samples, x0, T):
    """(engine trajectory (T+1, R, d), reference trajectories stacked (T+1, R, d), engine Trace)."""
    Rn = x0.shape[0]
    eng = run(name, problem, sampler, hp, T=T, R=Rn, x0=x0, samples=samples, trajectory=True, running=False)
    assert not eng.diverged.any()
    ref = [run_reference(name, problem, run_rows(samples, r), x0[r], T, one_run(hp, r)) for r in range(Rn)]
    return eng.trajectory, np.stack([o["x"] for o in ref], axis=1), eng, ref


def rel_dev(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg and msg.strip() == msg and msg, f"not a one-line message: {msg!r}"
    return msg


# ----------------------------------------------------------------------------------------------
# reductions, bit for bit on each backend
# ----------------------------------------------------------------------------------------------
REDUCTIONS = [  # (algorithm, its hp, base, base hp, common hp kind)
    ("sam", {"rho": 0.0}, "sgd", {}, "sgd"),
    ("usam", {"rho": 0.0}, "sgd", {}, "sgd"),
    ("unified_sam", {"rho": 0.0, "lam": np.array([0.0, 0.5, 1.0])}, "sgd", {}, "sgd"),
    ("asam", {"rho": 0.0, "eta_A": ETA_A}, "sgd", {}, "sgd"),
    ("adasam", {"rho": 0.0}, "amsgrad", {"v0": "zero"}, "mom"),
    ("lightsam1", {"rho": 0.0}, "adagrad_norm", {}, "ada"),
    ("lightsam2", {"rho": 0.0}, "adagrad", {}, "ada"),
    ("lightsam3", {"rho": 0.0}, "adam", {}, "mom"),
    ("unified_sam", {"rho": RHO, "lam": 0.0}, "usam", {"rho": RHO}, "sgd"),
    ("unified_sam", {"rho": RHO, "lam": 1.0}, "sam", {"rho": RHO}, "sgd"),
    ("asam", {"rho": RHO, "operator": "identity", "eta_A": ETA_A}, "sam", {"rho": RHO}, "sgd"),
    ("lets_sam", {"rho": RHO, "beta": 0.0}, "sam", {"rho": RHO}, "sgd"),
    ("lets_asam", {"rho": RHO, "beta": 0.0, "eta_A": ETA_A}, "asam", {"rho": RHO, "eta_A": ETA_A}, "sgd"),
]


def common_hp(kind: str, problem) -> dict:
    if kind == "sgd":
        return {"lr": np.array([0.2, 0.4, 0.6]) / problem.L_max}
    if kind == "ada":
        return dict(ADA)
    return {**ADA, **MOM}


@pytest.mark.parametrize("case", ["ridge", "logistic"])
@pytest.mark.parametrize("name,hp,base,base_hp,kind", REDUCTIONS,
                         ids=[a + "".join(f":{k}={h[k]}" for k in ("rho", "lam", "operator", "beta") if k in h
                                          and not isinstance(h[k], np.ndarray)) + "->" + b
                              for a, h, b, _, _ in REDUCTIONS])
def test_reduction_bit_for_bit_on_both_backends(name, hp, base, base_hp, kind, case):
    T = 60
    problem, sampler, samples = case_samples(case, T, R)
    common = common_hp(kind, problem)
    x0 = np.random.default_rng(1).standard_normal((R, problem.d))
    eng_a, ref_a, tr_a, _ = both(name, problem, sampler, {**common, **hp}, samples, x0, T)
    eng_b, ref_b, _, _ = both(base, problem, sampler, {**common, **base_hp}, samples, x0, T)
    assert np.array_equal(eng_a, eng_b), f"engine: {name} != {base}, max dev {np.abs(eng_a - eng_b).max():.3g}"
    assert np.array_equal(ref_a, ref_b), f"reference: {name} != {base}, max dev {np.abs(ref_a - ref_b).max():.3g}"
    assert not np.array_equal(eng_a[1], eng_a[0])  # the runs moved
    # the two backends run the same method (contract tolerance)
    assert rel_dev(eng_a, ref_a) <= ROUND_OFF
    if name.startswith("lets"):  # beta = 0: the radius never moves
        assert np.array_equal(tr_a.extras_trajectory["rho"], np.broadcast_to(RHO, (T, R)))


def test_reduction_is_not_vacuous():
    """The same comparison does see a difference when rho > 0 (SAM vs SGD), on both backends."""
    problem, sampler = make_case("ridge")
    samples = pre_draw(problem, sampler, 20, R)
    x0 = np.random.default_rng(1).standard_normal((R, problem.d))
    lr = {"lr": np.array([0.2, 0.4, 0.6]) / problem.L_max}
    eng_a, ref_a, _, _ = both("sam", problem, sampler, {**lr, "rho": 1e-6}, samples, x0, 20)
    eng_b, ref_b, _, _ = both("sgd", problem, sampler, lr, samples, x0, 20)
    assert not np.array_equal(eng_a, eng_b) and not np.array_equal(ref_a, ref_b)


def test_sam_step_matches_closed_form_on_quadratic():
    """One full-batch SAM step: x - lr H (x + rho H(x-x*)/||H(x-x*)|| - x*), R = 3 runs with their own
    lr and rho. To round-off (relative 1e-13): the matmul order differs from the closed form's."""
    H = Quadratic.with_condition(5, L=3.0, cond=10.0, seed=7).H
    x_star = np.array([0.5, -1.0, 2.0, 0.0, 1.5])
    problem = Quadratic(H, x_star)
    x0 = np.random.default_rng(3).standard_normal((R, 5)) * 2
    hp = {"lr": np.array([0.05, 0.1, 0.3]), "rho": np.array([0.01, 0.3, 2.0])}
    eng, ref, _, _ = both("sam", problem, FullBatch(), hp, {"S": [Sample()]}, x0, 1)
    expected = np.empty((R, 5))
    for r in range(R):
        x, lr, rho = x0[r], hp["lr"][r], hp["rho"][r]
        g = H @ (x - x_star)
        expected[r] = x - lr * H @ (x + rho * g / np.linalg.norm(g) - x_star)
    for got in (eng[1], ref[1]):
        assert rel_dev(got, expected) <= 1e-13
    assert rel_dev(eng[1], ref[1]) <= 1e-13


# ----------------------------------------------------------------------------------------------
# invariants
# ----------------------------------------------------------------------------------------------
def test_unified_sam_perturbation_norm_engine_rule():
    """||e|| = rho ((1 - lambda)||s|| + lambda) from the batched rule's perturbation, on random s with
    norms from 1e-6 to 1e3, a grid of lambda x per-run rho (relative 1e-14); e = 0 at s = 0."""
    problem, _ = make_case("ridge")
    lams, rhos = np.array([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]), np.array([1e-3, 0.05, 1.0, 3.0])
    lam = np.repeat(lams, rhos.size)
    rho = np.tile(rhos, lams.size)
    Rn, d = lam.size, problem.d
    hp = validate("unified_sam", {"lam": lam, "rho": rho}, Rn)
    rule = make_rule("unified_sam", problem, hp, Rn, d, torch.zeros((), dtype=torch.float64))
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(Rn, d, generator=gen, dtype=torch.float64)
    s = s * torch.logspace(-6, 3, Rn, dtype=torch.float64)[torch.randperm(Rn, generator=gen)][:, None]
    x = torch.randn(Rn, d, generator=gen, dtype=torch.float64)
    c, v = rule.perturbation(rule, x, s, 0, {}, {})  # e = c * v
    e = (c * v).numpy()
    sn = np.linalg.norm(s.numpy(), axis=1)
    want = rho * ((1 - lam) * sn + lam)
    got = np.linalg.norm(e, axis=1)
    assert np.max(np.abs(got - want) / want) <= 1e-14
    # the direction is s's
    cos = (e * s.numpy()).sum(1) / (got * sn)
    assert np.all(np.abs(cos - 1) <= 1e-14)
    # s = 0: the perturbation is exactly 0 (no division by ||s||)
    c, v = rule.perturbation(rule, x, torch.zeros_like(s), 0, {}, {})
    assert not np.any((c * v).numpy())


def test_unified_sam_perturbation_norm_reference():
    """The same identity through the reference: on f = 1/2 ||x||^2 (H = I, x* = 0), full batch and
    lr = 1, one step gives x_1 = x_0 - (x_0 + e) = -e up to one rounding of x_0 + e."""
    problem = Quadratic(np.eye(4))
    rng = np.random.default_rng(5)
    for lam in (0.0, 0.1, 0.5, 0.9, 1.0):
        for rho in (1e-2, 0.5, 3.0):
            for scale in (1e-3, 1.0, 1e2):
                x0 = rng.standard_normal(4) * scale
                x1 = run_reference("unified_sam", problem, {"S": [Sample()]}, x0, 1,
                                   {"lr": 1.0, "rho": rho, "lam": lam})["x"][1]
                want = rho * ((1 - lam) * np.linalg.norm(x0) + lam)
                err = abs(np.linalg.norm(x1) - want)
                assert err <= 4 * np.finfo(float).eps * (np.linalg.norm(x0) + want)


def test_lightsam1_effective_radius_below_rho():
    """Engine extras 'eff_radius' and the reference's: < rho for t >= 1, <= rho at t = 0 (u_0 = eps^2 +
    ||s_0||^2, so equality up to one rounding when eps^2 << ||s_0||^2), equal to rho||s_0||/sqrt(u_0)."""
    T = 80
    problem, sampler = make_case("ridge")
    samples = pre_draw(problem, sampler, T, R)
    x0 = np.random.default_rng(2).standard_normal((R, problem.d))
    rho = np.array([0.05, 0.5, 2.0])
    hp = {"lr": np.array([0.05, 0.1, 0.2]), "rho": rho, "eps": np.array([1e-8, 1e-2, 0.5])}
    _, _, tr, ref = both("lightsam1", problem, sampler, hp, samples, x0, T)
    eff = tr.extras_trajectory["eff_radius"]
    assert eff.shape == (T, R)
    ref_eff = np.stack([o["eff_radius"] for o in ref], axis=1)
    for e in (eff, ref_eff):
        assert np.all(e[1:] < rho), f"max eff/rho for t >= 1: {(e[1:] / rho).max()}"
        assert np.all(e[0] <= rho * (1 + 4 * np.finfo(float).eps))
        assert np.all(e > 0)
    s0 = np.stack([problem.stoch_grad(x0[r], samples["S"][0].run(r)) for r in range(R)])
    n0 = np.linalg.norm(s0, axis=1)
    np.testing.assert_allclose(eff[0], rho * n0 / np.sqrt(hp["eps"] ** 2 + n0 ** 2), rtol=1e-14)
    assert eff[0, 2] < rho[2] * (1 - 1e-3)  # eps = 0.5 is not negligible: strictly inside at t = 0
    np.testing.assert_allclose(eff, ref_eff, rtol=ROUND_OFF)


def test_adasam_step_within_gamma_over_G_and_gamma_over_eps():
    """robust regression (reg = 0): ||grad f_i||_inf <= G_inf, so vhat <= max(eps^2, G^2) and the
    per-coordinate step gamma/sqrt(vhat) lies in [gamma/G, gamma/eps] for eps <= G (engine extras
    step_min/step_max and the reference's)."""
    T = 150
    problem = make_problem("robust_regression", n=40, d=6, seed=3)
    sampler = Uniform(batch=2)
    G = problem.G_inf
    grads = np.concatenate([problem.component_grads(x) for x in
                            np.random.default_rng(0).standard_normal((20, problem.d)) * 3])
    assert np.abs(grads).max() <= G  # G_inf is a bound
    Rn = 4
    lr = np.array([0.01, 0.02, 0.05, 0.1])
    eps = np.array([1e-8, 1e-3, 0.1, G])
    hp = {"lr": lr, "eps": eps, "rho": np.array([0.0, 0.05, 0.5, 2.0]), "b1": np.array([0.9, 0.0, 0.5, 0.9]),
          "b2": np.array([0.999, 0.9, 0.99, 0.5])}
    samples = pre_draw(problem, sampler, T, Rn)
    x0 = np.random.default_rng(4).standard_normal((Rn, problem.d))
    eng, ref, tr, ref_out = both("adasam", problem, sampler, hp, samples, x0, T)
    for smin, smax in [(tr.extras_trajectory["step_min"], tr.extras_trajectory["step_max"]),
                       (np.stack([o["step_min"] for o in ref_out], 1), np.stack([o["step_max"] for o in ref_out], 1))]:
        assert smin.shape == (T, Rn)
        assert np.all(smin >= lr / G * (1 - 1e-15))
        assert np.all(smax <= lr / eps * (1 + 1e-15))
        assert np.all(smin <= smax)
    # the last run has eps = G: the step is exactly gamma / G throughout
    np.testing.assert_allclose(tr.extras_trajectory["step_min"][:, 3], lr[3] / G, rtol=1e-15)
    np.testing.assert_allclose(tr.extras_trajectory["step_max"][:, 3], lr[3] / G, rtol=1e-15)


@pytest.mark.parametrize("name", ["lets_sam", "lets_asam"])
def test_lets_exact_hypergradient_matches_central_difference(name):
    """hessian='exact': dJ/drho from the batched rule's lower/hypergrad (and the reference's
    _lower_step/_hypergradient) equals the central difference of J(rho) = 1/2 (L_val(x_1(rho)) -
    L_train(x_1(rho)))^2 with n_t held fixed; step h = 1e-4, tolerance rtol 1e-6 (measured 2e-9; the
    truncation error grows as h^2 above and the cancellation error as 1/h below)."""
    problem, sampler = make_case("logistic")
    V = problem.val
    Rn, d, h = 4, problem.d, 1e-4
    hp = validate(name, {"lr": np.array([0.5, 1.0, 2.0, 4.0]), "rho": np.array([0.05, 0.2, 0.5, 1.0])}, Rn)
    rule = make_rule(name, problem, hp, Rn, d, torch.zeros((), dtype=torch.float64))
    S = {"S": draw_steps(sampler, problem, 1, Rn, 11)[0], "V": draw_steps(sampler, V, 1, Rn, 12)[0]}
    x = torch.as_tensor(np.random.default_rng(6).standard_normal((Rn, d)))
    lr = rule.val("lr", 0)
    rho = rule.state["rho"]
    kv = rule.direction(x, problem.stoch_grad(x, S["S"]))  # n = k * v
    n = kv[0] * kv[1]

    def J(r):
        _, _, x1 = rule.lower(x, kv, r, lr, S)
        return 0.5 * (V.stoch_f(x1, S["V"]) - problem.stoch_f(x1, S["S"])) ** 2

    w, g, x1 = rule.lower(x, kv, rho, lr, S)
    hg = rule.hypergrad(w, g, n, x1, lr, S)[:, 0].numpy()
    fd = ((J(rho + h) - J(rho - h)) / (2 * h)).numpy()
    assert fd.shape == (Rn,)
    assert np.all(np.abs(hg) > 1e-6)  # not vacuous
    np.testing.assert_allclose(hg, fd, rtol=1e-6)

    # the reference's pieces on run r's sample rows
    for r in range(Rn):
        Sr, Vr = S["S"].run(r), S["V"].run(r)
        xr, nr, lr_r, rho_r = x[r].numpy(), n[r].numpy(), float(lr[r, 0]), float(rho[r, 0])

        def Jr(q):
            _, _, x1r = ref_lets._lower_step(problem, xr, nr, q, lr_r, Sr)
            return 0.5 * (V.stoch_f(x1r, Vr) - problem.stoch_f(x1r, Sr)) ** 2

        wr, gr, x1r = ref_lets._lower_step(problem, xr, nr, rho_r, lr_r, Sr)
        hg_r = ref_lets._hypergradient(problem, V, x1r, wr, gr, nr, lr_r, Sr, Vr, Sr, None, "exact")
        np.testing.assert_allclose(hg_r, (Jr(rho_r + h) - Jr(rho_r - h)) / (2 * h), rtol=1e-6)
        np.testing.assert_allclose(hg_r, hg[r], rtol=ROUND_OFF)


# ----------------------------------------------------------------------------------------------
# divergence
# ----------------------------------------------------------------------------------------------
def test_diverging_runs_are_flagged_and_do_not_disturb_the_others():
    """Full-batch SGD on a quadratic, lr in [0.5/L, 2.5/L, 1/L, 3/L]: runs 1 and 3 (above 2/L) blow
    up, are flagged with their step, their final metrics are NaN, and runs 0 and 2 are bit-identical
    to a batch without them."""
    T = 200
    problem = Quadratic.with_condition(5, L=2.0, cond=10.0, seed=1)
    L = problem.L
    x0 = np.ones(5)
    lr = np.array([0.5, 2.5, 1.0, 3.0]) / L
    tr = run("sgd", problem, FullBatch(), {"lr": lr}, T=T, x0=x0, trajectory=True)
    assert tr.diverged.tolist() == [False, True, False, True]
    assert tr.n_diverged == 2
    assert np.all(tr.diverged_at[[1, 3]] >= 0) and np.all(tr.diverged_at[[0, 2]] == -1)
    assert tr.diverged_at[3] < tr.diverged_at[1]  # growth 2 per step versus 1.5
    for k, v in tr.final.items():
        assert np.all(np.isnan(v[[1, 3]])), k
        assert np.all(np.isfinite(v[[0, 2]])), k
    for k, v in tr.metrics.items():  # checkpoints after the divergence are NaN
        for r in (1, 3):
            after = tr.t > tr.diverged_at[r]
            assert np.all(np.isnan(v[after, r])), k
    assert np.all(np.isfinite(tr.x))  # frozen at the last finite iterate

    ok = run("sgd", problem, FullBatch(), {"lr": lr[[0, 2]]}, T=T, x0=x0, trajectory=True)
    assert not ok.diverged.any()
    assert np.array_equal(tr.x[[0, 2]], ok.x)
    for k in ok.final:
        assert np.array_equal(tr.final[k][[0, 2]], ok.final[k]), k
    for k in ok.metrics:
        assert np.array_equal(tr.metrics[k][:, [0, 2]], ok.metrics[k], equal_nan=True), k  # NaN: avg at t = 0
    assert np.array_equal(tr.trajectory[:, [0, 2]], ok.trajectory)

    # the reference, which has no divergence logic, crosses the blow-up threshold at the flagged step
    for r in (1, 3):
        xr = run_reference("sgd", problem, {"S": [Sample()] * T}, x0, T, {"lr": lr[r]})["x"]
        big = np.abs(xr[1:]).max(1) > 1e12
        assert int(np.argmax(big)) == tr.diverged_at[r]
        np.testing.assert_allclose(tr.x[r], xr[tr.diverged_at[r]], rtol=ROUND_OFF)


# ----------------------------------------------------------------------------------------------
# bad input: one-line ValueError naming the value and what is allowed
# ----------------------------------------------------------------------------------------------
Q = Quadratic.with_condition(4, L=1.0, cond=4.0, seed=0)
X0 = np.ones(4)


def eng(name="sam", hp=None, **kw):
    args = {"T": 3, "x0": X0}
    args.update(kw)
    return lambda: run(name, Q, FullBatch(), hp, **args)


def ref(name="sam", hp=None, T=3, x0=X0):
    return lambda: run_reference(name, Q, {"S": [Sample()] * 3, "V": [Sample()] * 3}, x0, T, hp)


def val(name="sam", hp=None, R=None):
    return lambda: validate(name, hp, R)


BAD = [
    ("unknown algorithm (validate)", val("nosuch"), r"unknown algorithm 'nosuch': choose from .*sam"),
    ("unknown algorithm (engine)", eng("nosuch"), r"unknown algorithm 'nosuch': choose from .*sam"),
    ("unknown algorithm (reference)", ref("nosuch"), r"unknown algorithm 'nosuch'"),
    ("negative rho (validate)", val("sam", {"rho": -0.1}), r"rho=-0\.1 is not allowed: must be in \[0, inf\)"),
    ("negative rho (engine)", eng("sam", {"rho": -0.1}), r"rho=-0\.1 is not allowed: must be in \[0, inf\)"),
    ("negative rho (reference)", ref("sam", {"rho": -0.1}), r"rho=-0\.1 is not allowed: must be in \[0, inf\)"),
    ("negative rho in a batch", eng("sam", {"rho": np.array([0.1, -0.2])}), r"rho=.*-0\.2.* is not allowed"),
    ("lambda > 1", eng("unified_sam", {"lam": 1.5}), r"lam=1\.5 is not allowed: must be in \[0, 1\]"),
    ("lambda < 0", ref("unified_sam", {"lam": -0.2}), r"lam=-0\.2 is not allowed: must be in \[0, 1\]"),
    ("lr = 0 (engine)", eng("sgd", {"lr": 0.0}), r"lr=0\.0 is not allowed: must be in \(0, inf\)"),
    ("lr = 0 (reference)", ref("sgd", {"lr": 0}), r"lr=0 is not allowed: must be in \(0, inf\)"),
    ("lr < 0", eng("adam", {"lr": -0.1}), r"lr=-0\.1 is not allowed: must be in \(0, inf\)"),
    ("lr NaN", val("sgd", {"lr": float("nan")}), r"lr=nan is not allowed"),
    ("b1 = 1", eng("adam", {"b1": 1.0}), r"b1=1\.0 is not allowed: must be in \[0, 1\)"),
    ("b2 < 0", ref("adasam", {"b2": -0.1}), r"b2=-0\.1 is not allowed: must be in \[0, 1\)"),
    ("eps = 0", eng("adagrad", {"eps": 0.0}), r"eps=0\.0 is not allowed: must be in \(0, inf\)"),
    ("eps < 0", ref("lightsam1", {"eps": -1e-8}), r"eps=-1e-08 is not allowed: must be in \(0, inf\)"),
    ("hp length != R (validate)", val("sam", {"lr": np.ones(3)}, R=2), r"lr has 3 values but the batch has R=2"),
    ("hp length != R (engine, R given)", eng("sam", {"lr": np.full(3, 0.1)}, R=2),
     r"lr has 3 values but the batch has R=2|disagree with R=2"),
    ("hp lengths disagree (engine)", eng("sam", {"lr": np.full(3, 0.1), "rho": np.full(2, 0.1)}),
     r"disagree on the number of runs: sizes \[2, 3\]"),
    ("array hp to the reference", ref("sam", {"lr": np.array([0.1, 0.2])}), r"lr has 2 values: .*give a scalar"),
    ("T = 0 (engine)", eng("sgd", T=0), r"T=0 is not allowed: horizons must be integers >= 1"),
    ("T < 1 in a batch (engine)", eng("sgd", T=[5, 0]), r"T=\[5, 0\] is not allowed"),
    ("T not an integer (engine)", eng("sgd", T=2.5), r"T=2\.5 is not allowed"),
    ("T = 0 (reference)", ref("sgd", T=0), r"T=0 is not allowed: must be an integer >= 1"),
    ("T = -1 (reference)", ref("sgd", T=-1), r"T=-1 is not allowed"),
    ("unknown hp key (validate)", val("sam", {"rhoo": 0.1}), r"unknown hyperparameter 'rhoo' for sam: allowed are"),
    ("unknown hp key (engine)", eng("adam", {"lam": 0.1}), r"unknown hyperparameter 'lam' for adam"),
    ("option not a choice (engine)", eng("lets_sam", {"hessian": "foo"}),
     r"hessian='foo' is not allowed: must be one of 'exact', 'diag_gn', 'identity', 'hutchinson'"),
    ("option not a choice (reference)", ref("lets_sam", {"hessian": "foo"}), r"hessian='foo' is not allowed"),
    ("option not a choice (asam)", val("asam", {"operator": "T"}), r"operator='T' is not allowed: must be one of"),
    ("bool option not a bool", val("sam", {"same_sample": "yes"}), r"same_sample='yes' is not allowed: must be True or False"),
    ("x0 wrong length (engine)", eng("sgd", x0=np.ones(5)), r"x0 has shape \(5,\): expected \(4,\) or \(R, 4\)"),
    ("x0 wrong run count (engine, R given)", eng("sgd", x0=np.ones((3, 4)), R=2), r"disagree with R=2: sizes \[3\]"),
    ("x0 3-d (engine)", eng("sgd", x0=np.ones((2, 2, 4))), r"x0 has shape \(2, 2, 4\)"),
    ("x0 wrong length (reference)", ref("sgd", x0=np.ones(5)), r"x0 has shape \(5,\): expected \(4,\)"),
    ("x0 NaN (engine)", eng("sgd", x0=np.array([1.0, np.nan, 1.0, 1.0])),
     r"x0 has 1 non-finite entries in float64 \(the first is nan\): every entry must be finite"),
    ("x0 inf in a batch (engine)", eng("sgd", x0=np.array([[1.0] * 4, [1.0, -np.inf, np.inf, 1.0]])),
     r"x0 has 2 non-finite entries in float64 \(the first is -inf\)"),
    ("x0 finite but inf in float32 (engine)", eng("sgd", x0=np.full(4, 1e300), dtype=torch.float32),
     r"x0 has 4 non-finite entries in float32 \(the first is inf\)"),
    ("x0 NaN (reference)", ref("sgd", x0=np.array([np.nan, 1.0, 1.0, 1.0])),
     r"x0 has 1 non-finite entries \(the first is nan\): every entry must be finite"),
    ("seed < 0 (engine)", eng("sgd", seed=-1), r"seed=-1 is not allowed: must be an integer in \[0, 2\*\*64\)"),
    ("seed >= 2**64 (engine)", eng("sgd", seed=2 ** 64), r"seed=18446744073709551616 is not allowed"),
    ("seed not an integer (engine)", eng("sgd", seed=1.5), r"seed=1\.5 is not allowed: must be an integer"),
    ("seed a bool (engine)", eng("sgd", seed=True), r"seed=True is not allowed"),
    ("device mps (engine)", eng("sgd", device="mps"), r"device='mps' is not allowed: must be 'cpu'"),
    ("device meta (engine)", eng("sgd", device="meta"), r"device='meta' is not allowed: must be 'cpu'"),
    ("device not a device (engine)", eng("sgd", device="gpu0"), r"device='gpu0' is not allowed: must be 'cpu'"),
    ("cuda index past the GPUs (engine)", eng("sgd", device="cuda:64"), r"device='cuda:64' is not allowed: must be 'cpu'"),
    ("T length != R (engine, R given)", eng("sgd", T=[3, 3, 3], R=2), r"disagree with R=2"),
    ("groups length != R (engine, R given)", eng("sgd", groups=[0, 1, 2], R=2), r"disagree with R=2"),
    ("lambda schedule as lr", val("sgd", {"lr": Schedule("lambda_inv_t")}), r"lr=.* is not allowed"),
    ("schedule with negative base", val("sam", {"rho": Schedule("unified_rho", -0.1)}), r"rho=.* is not allowed"),
    ("schedule for a non-schedulable hp", val("lets_sam", {"rho": Schedule("inv_t", 0.1)}), r"rho cannot be a Schedule"),
]


@pytest.mark.parametrize("call,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_a_one_line_value_error(call, match):
    with pytest.raises(ValueError, match=match) as excinfo:
        call()
    one_line_error(excinfo)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here: the request is valid")
def test_cuda_requested_without_cuda_is_a_one_line_value_error():
    with pytest.raises(ValueError, match=r"device='cuda' is not allowed: must be 'cpu' \(torch\.cuda\.is_available\(\) "
                                         r"is False here\)") as e:
        run("sgd", Q, FullBatch(), None, T=3, device="cuda")
    one_line_error(e)


def test_good_seeds_and_devices_are_accepted():
    """The checks refuse only what the streams cannot take: NumPy integers, 2**64 - 1 and a torch.device pass."""
    for seed in (np.int64(3), 2 ** 64 - 1):
        assert run("sgd", Q, FullBatch(), None, T=2, x0=X0, seed=seed).n_diverged == 0
    assert run("sgd", Q, FullBatch(), None, T=2, x0=X0, device=torch.device("cpu")).x.shape == (1, 4)


def test_validate_fills_defaults_and_accepts_good_values():
    hp = validate("adasam", {"lr": np.array([0.1, 0.2]), "b1": 0.0}, R=2)
    assert hp["b1"] == 0.0 and hp["b2"] == 0.999 and hp["eps"] == 1e-8 and hp["same_sample"] is True
    assert validate("unified_sam", {"lam": Schedule("lambda_one_minus_inv_t")})["lam"].kind == "lambda_one_minus_inv_t"
    assert validate("lets_sam")["hessian"] == "exact"
    assert sorted(optim.ALGORITHMS) == sorted({"sgd", "adagrad_norm", "adagrad", "adam", "amsgrad", "sam", "usam",
                                                "unified_sam", "asam", "adasam", "lightsam1", "lightsam2",
                                                "lightsam3", "lets_sam", "lets_asam"})


# ----------------------------------------------------------------------------------------------
# per-run horizons
# ----------------------------------------------------------------------------------------------
def test_per_run_horizons():
    """T = [50, 100] with groups [0, 0] (shared samples): run 0 stops at 50 and its final values equal
    those of a run with T = 50. Against a batch of the same shape (T = [50, 50]) bit for bit; against
    a lone R = 1 run the iterate is bit for bit and the full-gradient metrics to 1e-12 relative (a
    (1, d) matmul may take another BLAS path than an (R, d) one: measured 2.8e-17 absolute)."""
    problem, sampler = make_case("ridge")
    hp = {"lr": np.array([0.05, 0.1]) / problem.L_max * 10, "rho": 0.05}
    kw = dict(groups=[0, 0], seed=3, checkpoints=[0, 10, 50, 75, 100])
    a = run("sam", problem, sampler, hp, T=[50, 100], **kw)
    b = run("sam", problem, sampler, hp, T=[50, 50], **kw)
    assert a.T.tolist() == [50, 100] and not a.diverged.any()
    assert np.array_equal(a.x[0], b.x[0])
    assert not np.array_equal(a.x[1], b.x[1])  # run 1 went on
    for k in b.final:
        assert np.array_equal(a.final[k][0], b.final[k][0]), k
    # checkpoints after its horizon hold run 0's frozen iterate
    for k in ("f_gap", "dist_sq", "grad_sq"):
        assert np.all(a.metrics[k][2:, 0] == a.final[k][0]), k
    c = run("sam", problem, sampler, {"lr": hp["lr"][0], "rho": 0.05}, T=50, groups=[0], seed=3)
    assert np.array_equal(a.x[0], c.x[0])
    for k in c.final:
        np.testing.assert_allclose(a.final[k][0], c.final[k][0], rtol=ROUND_OFF, err_msg=k)
    # the reference on the same samples, T = 50
    S = draw_steps(sampler, problem, 100, 1, 0)
    S2 = [s.take(torch.tensor([0, 0])) for s in S]
    x0 = np.random.default_rng(0).standard_normal(problem.d)
    tr = run("sam", problem, sampler, hp, T=[50, 100], x0=x0, samples={"S": S2}, trajectory=True)
    out = run_reference("sam", problem, {"S": [s.run(0) for s in S[:50]]}, x0, 50, one_run(hp, 0))
    assert rel_dev(tr.x[0], out["x"][-1]) <= ROUND_OFF
    assert np.array_equal(tr.trajectory[50:, 0], np.broadcast_to(tr.x[0], (51, problem.d)))


# ----------------------------------------------------------------------------------------------
# schedules
# ----------------------------------------------------------------------------------------------
TS = range(0, 200)


def test_unified_schedules_against_formulas():
    c, mu = 0.5, 0.3
    sg, sr = Schedule("unified_gamma", c, mu=mu), Schedule("unified_rho", 0.2)
    for t in TS:
        assert sg.at(t, c) == pytest.approx(min(c, (2 * t + 1) / ((t + 1) ** 2 * mu)), rel=1e-15)
        assert sr.at(t, 0.2) == pytest.approx(min(0.2, 1 / (2 * t + 1)), rel=1e-15)
    # the cap binds early and the decay takes over: both regimes are exercised
    assert sg.at(0, c) == c and sg.at(199, c) < c
    assert sr.at(0, 0.2) == 0.2 and sr.at(10, 0.2) == pytest.approx(1 / 21, rel=1e-15)
    # per-run bases, as an array (reference) and an (R, 1) tensor (engine)
    cs = np.array([0.1, 1.0, 10.0])
    for t in (0, 3, 50):
        want = np.minimum(cs, (2 * t + 1) / ((t + 1) ** 2 * mu))
        np.testing.assert_allclose(sg.at(t, cs), want, rtol=1e-15)
        np.testing.assert_allclose(sg.at(t, torch.as_tensor(cs)[:, None]).numpy()[:, 0], want, rtol=1e-15)


@pytest.mark.parametrize("t0", [1.0, 3.0, 0.5])
def test_inverse_schedules_against_formulas(t0):
    c = np.array([0.1, 2.0])
    si, ss = Schedule("inv_t", c, t0=t0), Schedule("inv_sqrt_t", c, t0=t0)
    for t in TS:
        np.testing.assert_allclose(si.at(t, c), c / (t + t0), rtol=1e-15)
        np.testing.assert_allclose(ss.at(t, c), c / math.sqrt(t + t0), rtol=1e-15)
    assert Schedule("inv_t", 1.0).at(0, 1.0) == 1.0 and Schedule("inv_t", 1.0).at(3, 1.0) == 0.25  # t0 = 1
    assert Schedule("constant", 0.7).at(123, 0.7) == 0.7


def test_lambda_schedules_against_formulas():
    li, lo = Schedule("lambda_inv_t"), Schedule("lambda_one_minus_inv_t")
    c = np.array([0.3, 0.9])  # ignored
    for t in TS:
        np.testing.assert_allclose(li.at(t, c), np.full(2, 1 / (t + 1)), rtol=1e-15)
        np.testing.assert_allclose(lo.at(t, c), np.full(2, 1 - 1 / (t + 1)), rtol=1e-15, atol=1e-300)
    assert li.at(0, 0.3) == 1.0 and lo.at(0, 0.3) == 0.0 and li.bounds() == (0.0, 1.0)


def test_horizon_constants_and_adasam_corollary():
    c_g, c_r = np.array([0.5, 1.0]), np.array([0.1, 0.2])
    b, T = np.array([4, 16]), np.array([100, 10000])
    gamma, rho = adasam_corollary(c_g, c_r, b, T)
    np.testing.assert_allclose(gamma, c_g * np.sqrt(b / T), rtol=1e-15)
    np.testing.assert_allclose(rho, c_r / np.sqrt(b * T), rtol=1e-15)
    np.testing.assert_allclose(gamma, [0.5 * 0.2, 1.0 * 0.04], rtol=1e-15)
    np.testing.assert_allclose(rho, [0.1 / 20, 0.2 / 400], rtol=1e-15)
    np.testing.assert_allclose(horizon_constant([1.0, 3.0], [4, 9]), [0.5, 1.0], rtol=1e-15)
    np.testing.assert_allclose(horizon_constant(2.0, 8, power=1 / 3), 1.0, rtol=1e-15)


def test_schedule_reaches_the_rule_on_both_backends():
    """SGD with lr = Schedule('inv_t', c) on f = 1/2||x||^2, full batch: x_T = prod_t (1 - c/(t+1)) x_0."""
    problem = Quadratic(np.eye(3))
    x0 = np.array([1.0, -2.0, 0.5])
    c = np.array([0.3, 0.6])
    T = 20
    want = np.outer(np.prod([1 - c / (t + 1) for t in range(T)], axis=0), x0)
    tr = run("sgd", problem, FullBatch(), {"lr": Schedule("inv_t", c)}, T=T, x0=x0)
    np.testing.assert_allclose(tr.x, want, rtol=1e-13)
    for r in range(2):
        out = run_reference("sgd", problem, {"S": [Sample()] * T}, x0, T, {"lr": Schedule("inv_t", c[r])})
        np.testing.assert_allclose(out["x"][-1], want[r], rtol=1e-13)


@pytest.mark.parametrize("kw,match", [
    ({"kind": "cosine"}, r"unknown schedule 'cosine': choose from constant, inv_sqrt_t"),
    ({"kind": "unified_gamma", "c": 0.1}, r"schedule unified_gamma needs mu > 0, got mu=None"),
    ({"kind": "unified_gamma", "c": 0.1, "mu": 0.0}, r"needs mu > 0, got mu=0\.0"),
    ({"kind": "unified_gamma", "c": 0.1, "mu": -1.0}, r"needs mu > 0, got mu=-1\.0"),
    ({"kind": "inv_t", "t0": 0.0}, r"t0=0\.0 is not allowed"),
])
def test_bad_schedule_input(kw, match):
    with pytest.raises(ValueError, match=match) as e:
        Schedule(**kw)
    one_line_error(e)


# ----------------------------------------------------------------------------------------------
# float32
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sam", "adasam", "lightsam1", "lets_sam"])
def test_float32_runs_in_float32_and_matches_float64(name):
    """Well-conditioned quadratic (cond 3) with Gaussian noise, T = 100, the engine's own generator
    (float32 samples are the float64 ones rounded): every recorded float is float32, the final iterate
    agrees with float64 to 1e-4 relative (measured <= 7.3e-6, AdaSAM) and f_gap, dist_sq (squared
    distances near x*, which amplify the relative error) to 5e-4 (measured <= 7.2e-5, AdaSAM)."""
    problem = Quadratic(Quadratic.with_condition(6, L=1.0, cond=3.0, seed=2).H, x_star=np.linspace(-1, 1, 6))
    sampler = Gaussian(sigma=0.1)
    hp = {"lr": np.array([0.1, 0.3]), "rho": np.array([0.05, 0.2])}
    x0 = np.full(6, 2.0)
    out = {}
    for dt in (torch.float32, torch.float64):
        out[dt] = run(name, problem, sampler, hp, T=100, x0=x0, seed=5, dtype=dt, trajectory=True)
    t32, t64 = out[torch.float32], out[torch.float64]
    assert t32.x.dtype == np.float32 and t32.trajectory.dtype == np.float32
    assert all(v.dtype == np.float32 for v in t32.metrics.values())
    assert all(v.dtype == np.float32 for v in t32.final.values())
    assert all(v.dtype == np.float32 for v in t32.extras_trajectory.values())
    assert t64.x.dtype == np.float64 and all(v.dtype == np.float64 for v in t64.final.values())
    assert not t32.diverged.any() and not t64.diverged.any()
    rel_x = np.linalg.norm(t32.x - t64.x, axis=1) / np.linalg.norm(t64.x, axis=1)
    assert np.all(rel_x <= 1e-4), rel_x
    np.testing.assert_allclose(t32.final["f_gap"], t64.final["f_gap"], rtol=5e-4)
    np.testing.assert_allclose(t32.final["dist_sq"], t64.final["dist_sq"], rtol=5e-4)
    assert not np.array_equal(t32.x.astype(np.float64), t64.x)  # really a different precision


# ----------------------------------------------------------------------------------------------
# allocator
# ----------------------------------------------------------------------------------------------
def test_retain_freed_memory_is_idempotent_and_can_be_turned_off():
    """On glibc the engine keeps freed pages (mallopt); SAMCHECK_KEEP_MALLOC=0 leaves malloc alone."""
    import os
    import platform
    import subprocess
    import sys

    from optim.batched.memory import retain_freed_memory
    first = retain_freed_memory()
    assert retain_freed_memory() is first
    if platform.libc_ver()[0] == "glibc":
        assert first
    code = "from optim.batched.memory import retain_freed_memory as r; print(r())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "SAMCHECK_KEEP_MALLOC": "0"}).stdout
    assert out.strip() == "False"


def test_compiled_loop_equals_eager_engine_with_divergence_horizons_and_groups():
    """run(compile=True) against the eager engine on the same seed (so the same sample blocks): per-run
    horizons T_r, runs sharing samples (groups), the running sums of ||grad f||^2, checkpoints that cut
    blocks, and runs that blow up at different steps (flagged at the same step, frozen, NaN after)."""
    problem = make_problem("ridge", n=30, d=4, seed=1)
    lr = np.array([0.05, 0.1, 3.0, 6.0, 0.2, 12.0])  # the large ones leave |x| <= blowup at some step
    kw = dict(T=np.array([300, 40, 300, 300, 257, 300]), seed=5, groups=np.array([0, 1, 0, 2, 1, 0]),
              checkpoints=[0, 3, 40, 100, 256, 299, 300], blowup=4.0)
    hp = {"lr": lr / problem.L_max, "rho": 0.05}
    eager = run("adasam", problem, Uniform(batch=2), {"lr": lr * 0.2, "rho": 0.05}, **kw)
    comp = run("adasam", problem, Uniform(batch=2), {"lr": lr * 0.2, "rho": 0.05}, compile=True, **kw)
    for a, b in [(eager, comp), (run("sam", problem, Uniform(batch=2), hp, **kw),
                                 run("sam", problem, Uniform(batch=2), hp, compile=True, **kw))]:
        assert a.diverged.any() and not a.diverged.all()
        np.testing.assert_array_equal(a.diverged, b.diverged)
        np.testing.assert_array_equal(a.diverged_at, b.diverged_at)
        np.testing.assert_allclose(b.x, a.x, rtol=1e-12, atol=1e-300)
        for k in a.metrics:
            np.testing.assert_allclose(b.metrics[k], a.metrics[k], rtol=1e-11, atol=1e-300, err_msg=k)
        for k in a.final:
            np.testing.assert_allclose(b.final[k], a.final[k], rtol=1e-11, atol=1e-300, err_msg=k)


def test_compiled_loop_is_reused_across_values_and_problem_instances():
    """One compilation per structure: new hyperparameter values, a new problem instance of the same
    class and shape and a new seed run the cached loop without recompiling; another algorithm is
    another structure."""
    from optim.batched import blocks
    blocks._COMPILED.clear()
    counts = torch._dynamo.utils.counters
    before = counts["stats"]["unique_graphs"]
    for seed, lr in [(0, 0.01), (1, 0.02), (2, np.array([0.01, 0.03]))]:
        run("sam", make_problem("ridge", n=20, d=3, seed=seed), Uniform(), {"lr": lr, "rho": 0.1}, T=30, R=2,
            seed=seed, compile=True)
    assert len(blocks._COMPILED) == 1
    assert counts["stats"]["unique_graphs"] - before == 1
    run("usam", make_problem("ridge", n=20, d=3), Uniform(), {"lr": 0.01, "rho": 0.1}, T=30, R=2, compile=True)
    assert len(blocks._COMPILED) == 2
