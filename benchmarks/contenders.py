"""What a user would write instead of samcheck's engine, for SAM and AdaSAM on the benchmark problems.

- ``plain_batched``: a hand-written batched torch loop: x: (R, d), the analytic gradient, torch's own
  generator for the samples, no bookkeeping (no metrics, no divergence check).
- ``jax_scan``: JAX, float64 (``jax_enable_x64``): ``jax.jit`` of ``lax.scan`` over T steps of
  ``jax.vmap`` of a per-run step, samples drawn inside the scan from split PRNG keys. Optional
  (``pip install -e ".[bench]"``); ``jax_available()`` says whether it can run.

Both implement the engine's update rules exactly (same flops per step; not the same random numbers):
SAM  e = rho s/||s||, x <- x - gamma grad_S(x + e); AdaSAM additionally m, v, vhat = max(vhat, v),
x <- x - gamma m / sqrt(vhat), vhat_0 = eps^2. Problems: the quadratic grad = x H + xi with
xi ~ N(0, sigma^2 I / d), and ridge with one uniformly sampled row a_i: grad_i = a_i (a_i.x - b_i) + reg x.
Each returns a callable that runs T steps for R runs and returns the final x: (R, d);
``median_seconds`` times it after a warm-up call (JAX: the warm-up compiles).
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import torch

ALGOS = ("sam", "adasam")
B1, B2, EPS = 0.9, 0.999, 1e-8


def _arrays(problem) -> dict:
    """The problem as plain float64 arrays: kind "quadratic" (H) or "ridge" (A, b, reg)."""
    if hasattr(problem, "H"):
        return {"kind": "quadratic", "H": np.asarray(problem.H, dtype=np.float64)}
    return {"kind": "ridge", "A": np.asarray(problem.A, dtype=np.float64), "b": np.asarray(problem.b, dtype=np.float64),
            "reg": float(problem.reg)}


def plain_batched(algo: str, problem, sigma: float, hp: dict, R: int, T: int):
    """A plain batched torch loop of T steps for R runs: a callable returning the final x: (R, d)."""
    a = _arrays(problem)
    d = problem.d
    lr, rho = hp["lr"], hp["rho"]
    gen = torch.Generator().manual_seed(0)
    if a["kind"] == "quadratic":
        H = torch.as_tensor(a["H"])
        scale = sigma / np.sqrt(d)

        def sample():
            return torch.randn(R, d, generator=gen, dtype=torch.float64) * scale

        def grad(x, xi):
            return torch.addmm(xi, x, H)
    else:
        A, b, reg = torch.as_tensor(a["A"]), torch.as_tensor(a["b"]), a["reg"]
        n = A.shape[0]

        def sample():
            i = torch.randint(n, (R,), generator=gen)
            return A[i], b[i]

        def grad(x, s):
            ai, bi = s
            r = (ai * x).sum(-1, keepdim=True) - bi[:, None]
            return torch.addcmul(reg * x, ai, r)

    def once():
        x = torch.ones(R, d, dtype=torch.float64)
        m, v = torch.zeros_like(x), torch.zeros_like(x)
        vhat = torch.full_like(x, EPS * EPS)
        for _ in range(T):
            s_ = sample()
            g = grad(x, s_)
            e = g * (rho / torch.linalg.vector_norm(g, dim=-1, keepdim=True))
            g = grad(x + e, s_)
            if algo == "sam":
                x = x - lr * g
            else:
                m = B1 * m + (1 - B1) * g
                v = B2 * v + (1 - B2) * g * g
                vhat = torch.maximum(vhat, v)
                x = x - lr * m / torch.sqrt(vhat)
        return x

    return once


def jax_available() -> bool:
    """Whether JAX is installed (the optional ``bench`` extra)."""
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def jax_scan(algo: str, problem, sigma: float, hp: dict, R: int, T: int):
    """jax.jit(vmap(lax.scan over T steps of the per-run step)) for R runs, float64: a callable
    returning the final x: (R, d) (the first call compiles)."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    a = _arrays(problem)
    d = problem.d
    lr, rho = hp["lr"], hp["rho"]
    if a["kind"] == "quadratic":
        H = jnp.asarray(a["H"])
        scale = sigma / np.sqrt(d)

        def sample(key):
            return jax.random.normal(key, (d,), dtype=jnp.float64) * scale

        def grad(x, xi):
            return x @ H + xi
    else:
        A, b, reg = jnp.asarray(a["A"]), jnp.asarray(a["b"]), a["reg"]
        n = A.shape[0]

        def sample(key):
            i = jax.random.randint(key, (), 0, n)
            return A[i], b[i]

        def grad(x, s):
            ai, bi = s
            return ai * (ai @ x - bi) + reg * x

    def step(state, key):
        x, m, v, vhat = state
        s_ = sample(key)
        g = grad(x, s_)
        g = grad(x + rho * g / jnp.linalg.norm(g), s_)
        if algo == "sam":
            return (x - lr * g, m, v, vhat), None
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        vhat = jnp.maximum(vhat, v)
        return (x - lr * m / jnp.sqrt(vhat), m, v, vhat), None

    def one_run(key):
        x = jnp.ones(d, dtype=jnp.float64)
        z = jnp.zeros(d, dtype=jnp.float64)
        state, _ = jax.lax.scan(step, (x, z, z, jnp.full(d, EPS * EPS)), jax.random.split(key, T))
        return state[0]

    batched = jax.jit(jax.vmap(one_run))
    keys = jax.random.split(jax.random.PRNGKey(0), R)
    return lambda: np.asarray(batched(keys).block_until_ready())


def median_seconds(fn, reps: int) -> float:
    """Median seconds of ``reps`` calls of fn after one warm-up call."""
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
