"""Random streams (problems/rng.py): reproducible, independent of the thread count, the right
distributions, and the same draws for the engine and for replay (draw_steps)."""
import numpy as np
import pytest
import torch
from scipy import stats

from optim.batched import run
from problems import Gaussian, Quadratic, Uniform, draw_steps, make_problem, stream
from problems.rng import SPLIT, NumpyStream, TorchStream, as_stream

ALPHA = 1e-4


def test_same_seed_same_draws_other_seed_other_draws():
    for shape in [(3, 5), (SPLIT // 64, 64)]:
        a, b, c = stream(7).normal(shape), stream(7).normal(shape), stream(8).normal(shape)
        assert a.dtype == torch.float64 and a.shape == shape
        assert torch.equal(a, b) and not torch.equal(a, c)
    s = stream(3)
    first, second = s.normal((4, 4)), s.normal((4, 4))
    assert not torch.equal(first, second)  # the stream advances


def test_large_normal_draws_do_not_depend_on_the_thread_count():
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = stream(11).normal((1024, 100))
        torch.set_num_threads(2)
        two = stream(11).normal((1024, 100))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


@pytest.mark.parametrize("shape", [(50, 20), (1024, 100)], ids=["one stream", "two halves"])
def test_normal_draws_are_standard_normal(shape):
    z = stream(5).normal(shape).numpy().ravel()
    assert stats.kstest(z, "norm").pvalue > ALPHA
    if z.size >= SPLIT:  # the two halves come from independent streams
        h = z.size // 2
        assert not np.array_equal(z[:h], z[h:2 * h])
        r = np.corrcoef(z[:h], z[h:2 * h])[0, 1]
        assert abs(r) <= stats.norm.ppf(1 - ALPHA / 2) / np.sqrt(h)


def test_uniform_and_integer_draws():
    s = stream(2)
    u = s.uniform((20000,)).numpy()
    assert u.min() >= 0 and u.max() < 1 and stats.kstest(u, "uniform").pvalue > ALPHA
    k = s.integers(7, (70000,))
    assert k.dtype == torch.int64 and int(k.min()) == 0 and int(k.max()) == 6
    counts = np.bincount(k.numpy(), minlength=7)
    assert stats.chisquare(counts).pvalue > ALPHA


def test_backends_by_device_and_torch_generator_wrapping():
    assert isinstance(stream(0, "cpu"), NumpyStream)
    g = torch.Generator().manual_seed(4)
    wrapped = as_stream(g)
    assert isinstance(wrapped, TorchStream)
    assert torch.equal(wrapped.normal((3, 2)), torch.randn(3, 2, generator=torch.Generator().manual_seed(4),
                                                          dtype=torch.float64))
    s = stream(1)
    assert as_stream(s) is s
    with pytest.raises(TypeError, match=r"gen is a int: pass a problems.rng Stream or a torch.Generator"):
        as_stream(3)


@pytest.mark.parametrize("case", ["quadratic-gaussian", "ridge-uniform"])
def test_engine_draws_equal_draw_steps_with_the_same_seed(case):
    """run(seed=s) consumes exactly draw_steps(seed=s): replaying those samples gives the same iterates."""
    if case == "ridge-uniform":
        problem, sampler = make_problem("ridge", n=30, d=4, seed=1), Uniform()
    else:
        problem, sampler = Quadratic.with_condition(4, cond=5.0, seed=2), Gaussian(sigma=0.5)
    hp, T, R = {"lr": 0.1 / problem.L, "rho": 0.05}, 40, 3
    own = run("sam", problem, sampler, hp, T=T, R=R, seed=9)
    replay = run("sam", problem, sampler, hp, T=T, R=R, samples={"S": draw_steps(sampler, problem, T, R, seed=9)})
    assert np.array_equal(own.x, replay.x)
    other = run("sam", problem, sampler, hp, T=T, R=R, seed=10)
    assert not np.array_equal(own.x, other.x)
