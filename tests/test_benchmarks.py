"""The throughput benchmark's configurations: its timings are only meaningful on runs that do not
diverge (a diverged run is frozen and sends the engine down its masked fallback path)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from optim.batched import run

_spec = importlib.util.spec_from_file_location(
    "throughput", Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py")
throughput = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(throughput)


@pytest.mark.parametrize("problem_name", ["quadratic", "ridge"])
@pytest.mark.parametrize("d", [10, 100])
@pytest.mark.parametrize("algo", throughput.ALGOS)
def test_benchmark_hyperparameters_do_not_diverge(algo, d, problem_name):
    problem, sampler = throughput.make(problem_name, d)
    hp = throughput.hparams(algo, problem, sampler)
    tr = run(algo, problem, sampler, hp, T=200, R=64, seed=3, running=False, checkpoints=[0, 200])
    assert tr.n_diverged == 0


@pytest.mark.parametrize("algo", ["sam", "adasam"])
@pytest.mark.parametrize("who", ["plain_batched", "jax_scan"])
def test_contenders_run_the_engine_update(algo, who):
    """Noise-free, the contenders' final iterates equal the engine's: they time the same update rule."""
    import numpy as np

    import problems
    contenders = throughput.contenders
    if who == "jax_scan" and not contenders.jax_available():
        pytest.skip("JAX is not installed (the optional bench extra)")
    problem = problems.Quadratic.with_condition(10, L=1.0, cond=10.0)
    hp = throughput.hparams(algo, problem, problems.Gaussian(sigma=0.0))
    engine_hp = dict(hp, **({"eps": contenders.EPS, "b1": contenders.B1, "b2": contenders.B2} if algo == "adasam" else {}))
    tr = run(algo, problem, problems.Gaussian(sigma=0.0), engine_hp, T=50, R=3, running=False)
    x = getattr(contenders, who)(algo, problem, 0.0, hp, 3, 50)()
    np.testing.assert_allclose(x, tr.x, rtol=1e-12, atol=1e-14)


_claims_spec = importlib.util.spec_from_file_location(
    "claims_bench", Path(__file__).resolve().parents[1] / "benchmarks" / "claims.py")
claims_bench = importlib.util.module_from_spec(_claims_spec)
_claims_spec.loader.exec_module(claims_bench)


def test_claims_benchmark_refuses_an_unknown_claim(capsys):
    assert claims_bench.main(["--claim", "no.such_claim", "--out", "/nonexistent/x.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no.such_claim" in err and len(err.splitlines()) == 1


def test_claims_benchmark_table_marks_failed_runs_and_sums_the_rest():
    rows = [{"command": "rates-quick", "claim": "a", "wall_s": 30.0, "rc": 0},
            {"command": "rates-quick", "claim": "b", "wall_s": 5.0, "rc": 1}]
    table = claims_bench.markdown(rows, ["rates-quick"], ["a", "b"]).splitlines()
    assert table[2] == "| a | 30 s |" and table[3] == "| b | failed |"
    assert table[4] == "| total | 0.5 min |"
