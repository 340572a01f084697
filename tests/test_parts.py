"""Rules as parts: an algorithm made of existing parts is one registration plus one reference.

"usam_adam" (USAM's perturbation e = rho s, Adam's descent) is registered here, with its NumPy
reference written below, and the engine, eager and compiled, agrees with that reference to 1e-12 at
every step (eager) and at the checkpoints (compiled). The fixture removes it from the registry again.
"""
import numpy as np
import pytest

from optim import ALGORITHMS, Algorithm, streams, validate
from optim.algorithms import B1, B2, EPS, LR, RHO, SAME
from optim.batched import run
from optim.registry import register
from optim.reference import REFERENCE, run_reference
from optim.reference.common import descent_samples, value_at
from problems import Uniform, make_problem

from helpers import one_run, pre_draw

T, R, RTOL = 100, 3, 1e-12


def usam_adam_reference(problem, samples, x0, T, *, lr, rho, same_sample, b1, b2, eps):
    """s = grad_S(x_t); g = grad_S(x_t + rho_t s); m_t = b1 m + (1-b1) g; v_t = b2 v + (1-b2) g*g;
    x_{t+1} = x_t - eta m_t / sqrt(v_t); m_{-1} = 0, v_{-1} = eps^2."""
    S, S_descent = samples["S"], descent_samples(samples, same_sample)
    x = np.array(x0, dtype=np.float64)
    m, v = np.zeros_like(x), np.full_like(x, eps * eps)
    xs = [x]
    for t in range(T):
        s = problem.stoch_grad(x, S[t])
        g = problem.stoch_grad(x + value_at(rho, t) * s, S_descent[t])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - value_at(lr, t) * m / np.sqrt(v)
        xs.append(x)
    return {"x": np.stack(xs)}


@pytest.fixture
def usam_adam(monkeypatch):
    register(Algorithm("usam_adam", "USAM + Adam", "tests/test_parts.py", "reconstructed", (LR, RHO, SAME, B1, B2, EPS),
                       "e = rho_t s; Adam's descent along grad_S(x_t + e).", base="adam",
                       perturbation="usam", descent="adam"))
    monkeypatch.setitem(REFERENCE, "usam_adam", usam_adam_reference)
    yield "usam_adam"
    del ALGORITHMS["usam_adam"]


@pytest.mark.parametrize("same_sample", [True, False])
def test_registered_composition_equals_its_reference(usam_adam, same_sample):
    problem, sampler = make_problem("ridge", n=40, d=6, seed=2), Uniform(batch=2)
    hp = {"lr": np.array([0.01, 0.02, 0.05]), "rho": np.array([0.01, 0.05, 0.1]), "eps": np.array([1e-8, 1e-3, 0.1]),
          "same_sample": same_sample}
    samples = pre_draw(problem, sampler, streams(usam_adam, validate(usam_adam, hp, R)), T, R)
    x0 = np.random.default_rng(0).standard_normal((R, problem.d))
    refs = np.stack([run_reference(usam_adam, problem, {k: [s.run(r) for s in v] for k, v in samples.items()}, x0[r],
                                   T, one_run(hp, r))["x"] for r in range(R)], axis=1)  # (T+1, R, d)
    eng = run(usam_adam, problem, sampler, dict(hp), T=T, R=R, x0=x0, samples=samples, trajectory=True, running=False)
    dev = np.linalg.norm(eng.trajectory - refs, axis=-1) / np.linalg.norm(refs, axis=-1)
    assert dev.max() <= RTOL, f"max rel. deviation {dev.max():.3g}"
    ckpts = [0, 7, 64, T]
    comp = run(usam_adam, problem, sampler, dict(hp), T=T, R=R, x0=x0, samples=samples, checkpoints=ckpts, compile=True)
    np.testing.assert_allclose(comp.x, refs[-1], rtol=0, atol=RTOL * np.abs(refs[-1]).max())
    adam = run_reference("adam", problem, {"S": [s.run(0) for s in samples["S"]]}, x0[0], T, {"lr": 0.01, "eps": 1e-8})
    assert np.abs(adam["x"][-1] - refs[-1, 0]).max() > 1e-6  # the perturbation acts


def test_fixture_leaves_the_registry_as_it_was():
    assert "usam_adam" not in ALGORITHMS and "usam_adam" not in REFERENCE
