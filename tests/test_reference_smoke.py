"""Smoke tests of the float64 reference (optim.reference): reductions, closed forms, LETS hypergradient."""
from __future__ import annotations

import numpy as np
import pytest

from optim import ALGORITHMS, Schedule, streams, validate
from optim.schedules import value_at
from optim.reference import REFERENCE, run_reference
from problems import Quadratic, Sample, draw_steps, make_problem, make_sampler

T = 12


def draw(sampler, problem, seed):
    return [s.run(0) for s in draw_steps(sampler, problem, T, R=1, seed=seed)]


def setup(name, hp=None, kind="least_squares"):
    """A problem, samples for every stream ``name`` consumes, and x0."""
    hp = validate(name, hp)
    if kind == "least_squares":
        problem, sampler = make_problem("least_squares", n=30, d=5, seed=1), make_sampler("uniform", batch=4)
    elif kind == "logistic":
        problem, sampler = make_problem("logistic", n=40, n_val=40, d=4, shift=1.0, seed=2), make_sampler("uniform", batch=8)
    else:
        problem, sampler = make_problem("quadratic", d=4, cond=5.0, seed=3), make_sampler("gaussian", sigma=0.5)
    samples = {}
    for k, stream in enumerate(streams(name, hp)):
        if stream == "Z":
            rng = np.random.default_rng(7)
            samples[stream] = [Sample(noise=rng.choice([-1.0, 1.0], problem.d)) for _ in range(T)]
        else:
            target = getattr(problem, "val", None) if stream == "V" else None
            samples[stream] = draw(sampler, target or problem, seed=10 + k)
    return problem, samples, np.linspace(-1.0, 1.0, problem.d)


def test_every_registered_algorithm_has_a_reference():
    assert sorted(REFERENCE) == sorted(ALGORITHMS)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
@pytest.mark.parametrize("kind", ["least_squares", "logistic", "quadratic"])
def test_every_algorithm_runs(name, kind):
    problem, samples, x0 = setup(name, kind=kind)
    out = run_reference(name, problem, samples, x0, T)
    assert out["x"].shape == (T + 1, problem.d) and np.all(np.isfinite(out["x"]))
    assert np.array_equal(out["x"][0], x0)
    for extra in ALGORITHMS[name].extras:
        assert out[extra].shape == ((T + 1,) if extra == "rho" else (T,))


REDUCTIONS = [  # (algorithm, its hp, base, base hp): bit for bit
    ("sam", {"rho": 0.0}, "sgd", {}),
    ("usam", {"rho": 0.0}, "sgd", {}),
    ("asam", {"rho": 0.0}, "sgd", {}),
    ("unified_sam", {"rho": 0.0}, "sgd", {}),
    ("adasam", {"rho": 0.0}, "amsgrad", {"v0": "zero"}),
    ("lightsam1", {"rho": 0.0}, "adagrad_norm", {}),
    ("lightsam2", {"rho": 0.0}, "adagrad", {}),
    ("lightsam3", {"rho": 0.0}, "adam", {}),
    ("unified_sam", {"lam": 1.0}, "sam", {}),
    ("unified_sam", {"lam": 0.0}, "usam", {}),
    ("asam", {"operator": "identity"}, "sam", {}),
    ("lets_sam", {"beta": 0.0}, "sam", {}),
    ("lets_asam", {"beta": 0.0}, "asam", {}),
    ("lets_sam", {"beta": 0.0, "order": "upper_first"}, "sam", {}),
]


@pytest.mark.parametrize("name,hp,base,base_hp", REDUCTIONS)
def test_reductions_bit_for_bit(name, hp, base, base_hp):
    problem, samples, x0 = setup(name, hp, kind="logistic")
    a = run_reference(name, problem, samples, x0, T, hp)["x"]
    b = run_reference(base, problem, samples, x0, T, base_hp)["x"]
    assert np.array_equal(a, b)


def test_sam_step_closed_form_on_quadratic():
    H = np.diag([1.0, 3.0, 10.0])
    x_star = np.array([0.5, -1.0, 2.0])
    problem = Quadratic(H, x_star)
    x, lr, rho = np.array([1.0, 2.0, -1.0]), 0.05, 0.3
    out = run_reference("sam", problem, {"S": [Sample()]}, x, 1, {"lr": lr, "rho": rho})
    g = H @ (x - x_star)
    expected = x - lr * H @ (x + rho * g / np.linalg.norm(g) - x_star)
    np.testing.assert_allclose(out["x"][1], expected, rtol=0, atol=1e-15)


def test_same_sample_false_uses_the_second_stream():
    problem, samples, x0 = setup("sam", {"same_sample": False})
    a = run_reference("sam", problem, samples, x0, T, {"same_sample": False})["x"]
    b = run_reference("sam", problem, {"S": samples["S"]}, x0, T)["x"]
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="S2"):
        run_reference("sam", problem, {"S": samples["S"]}, x0, T, {"same_sample": False})


def test_lightsam_effective_radius_below_rho():
    problem, samples, x0 = setup("lightsam1", kind="quadratic")
    out = run_reference("lightsam1", problem, samples, x0, T, {"rho": 0.2})
    assert np.all(out["eff_radius"] <= 0.2) and np.all(out["eff_radius"][1:] < 0.2)  # t = 0: rho to round-off


def test_adasam_step_range():
    problem, samples, x0 = setup("adasam")
    out = run_reference("adasam", problem, samples, x0, T, {"lr": 0.01, "eps": 1e-3})
    assert np.all(out["step_min"] <= out["step_max"]) and np.all(out["step_max"] <= 0.01 / 1e-3)


def lets_objective(problem, samples, x0, rho, name):
    """J(rho) = 1/2 (L_val(x_1(rho); V_0) - L_train(x_1(rho); S_0))^2 after one lower step (lr 0.5)."""
    x1 = run_reference(name, problem, samples, x0, 1, {"rho": rho, "beta": 0.0, "lr": 0.5})["x"][1]
    delta = problem.val.stoch_f(x1, samples["V"][0]) - problem.stoch_f(x1, samples["S"][0])
    return 0.5 * delta ** 2


@pytest.mark.parametrize("direction", ["sam", "asam"])
def test_lets_exact_hypergradient_matches_finite_difference(direction):
    name = "lets_" + direction
    problem, samples, x0 = setup(name, kind="logistic")
    rho, beta, h = 0.3, 1.0, 1e-5
    rho1 = run_reference(name, problem, samples, x0, 1, {"rho": rho, "beta": beta, "rho_constraint": "none",
                                                         "lr": 0.5})["rho"][1]
    dJ = (rho - rho1) / beta
    fd = (lets_objective(problem, samples, x0, rho + h, name)
          - lets_objective(problem, samples, x0, rho - h, name)) / (2 * h)
    assert abs(dJ) > 1e-8
    np.testing.assert_allclose(dJ, fd, rtol=1e-6)


def test_lets_hutchinson_is_exact_on_a_diagonal_hessian():
    problem = Quadratic(np.diag([1.0, 2.0, 5.0]))
    x0 = np.array([1.0, -1.0, 0.5])
    rng = np.random.default_rng(0)
    samples = {"S": [Sample()] * T, "V": [Sample(noise=rng.standard_normal(3)) for _ in range(T)],
               "Z": [Sample(noise=rng.choice([-1.0, 1.0], 3)) for _ in range(T)]}
    a = run_reference("lets_sam", problem, samples, x0, T, {"beta": 0.5, "hessian": "hutchinson"})
    b = run_reference("lets_sam", problem, samples, x0, T, {"beta": 0.5, "hessian": "exact"})
    np.testing.assert_allclose(a["rho"], b["rho"], rtol=1e-13, atol=0)
    assert not np.allclose(a["rho"], a["rho"][0])


@pytest.mark.parametrize("hp", [{"rho_constraint": "softplus"}, {"rho_max": 0.06, "beta": 5.0},
                                {"rho_constraint": "softplus", "rho_max": 0.06, "beta": 2e4},
                                {"rho_max": Schedule("inv_sqrt_t", 0.1), "order": "upper_first"},
                                {"hessian": "diag_gn"}, {"hessian": "identity", "fresh_train_batch": True}])
def test_lets_options_run_and_respect_the_cap(hp):
    problem, samples, x0 = setup("lets_sam", hp, kind="logistic")
    out = run_reference("lets_sam", problem, samples, x0, T, hp)
    assert np.all(out["rho"] >= 0) and np.all(np.isfinite(out["x"]))
    if hp.get("rho_max") is not None:
        cap = np.array([value_at(hp["rho_max"], t + 1) for t in range(T)])
        assert np.all(out["rho"][1:] <= cap)


def test_bad_inputs_are_one_line_errors():
    problem, samples, x0 = setup("sgd")
    for kw, match in [({"T": 0}, "T=0"), ({"x0": x0[:2]}, "x0 has shape"), ({"hp": {"lr": -1.0}}, "lr=")]:
        args = {"T": T, "x0": x0, "hp": None} | kw
        with pytest.raises(ValueError, match=match):
            run_reference("sgd", problem, samples, args["x0"], args["T"], args["hp"])
    with pytest.raises(ValueError, match="rho_0 must be > 0"):
        run_reference("lets_sam", *setup("lets_sam")[:2], x0, T, {"rho": 0.0, "rho_constraint": "softplus"})
