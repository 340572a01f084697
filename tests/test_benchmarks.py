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
