"""Throughput of the batched engine against the per-run loop a user would write today.

For SAM, Unified SAM, AdaSAM, LightSAM-I and LETS-SAM on a quadratic (``Quadratic.with_condition``,
Gaussian gradient noise) and on ridge (``make_problem("ridge")``, uniform single-element sampler):

(a) baseline: a ``torch.optim.Optimizer`` subclass doing the two-step SAM update (``first_step``:
    e = perturbation(g), x += e; ``second_step``: x -= e, then the base optimizer's step) on one (d,)
    parameter, the problem's analytic torch gradient written into ``p.grad``, one run after another.
    It is measured on ``BASE_RUNS`` runs of T steps and scaled linearly to R runs (runs are
    sequential, so its run-steps per second do not depend on R). The analytic gradient is the
    *faster* baseline; an autograd variant (loss.backward()) is also timed for SAM
    (``baseline_autograd_steps_per_s``).
(b) engine: ``optim.batched.run(..., running=False, checkpoints=[0, T])`` with R runs at once: the
    metrics at the start and the end only, as the baseline records nothing (at T = 100 the default
    ~20 log checkpoints would add 20 exact gradients and losses, 40% of a ridge step; in a claim's
    run of T = 10^4 they are negligible). Those two evaluations are in the timing, not in the flops.
    On ridge (n = 2d rows) they are exact (R, d) x (d, n) products: measured at d = 1000, R = 1024 they
    take 0.74 s, half of a T = 50 call of the full grid (15.5 ms a step), so read those rows as lower
    bounds.

Reported per (algorithm, problem, R, d): run-steps/s of both, ``speedup_vs_per_run_loop`` = (b)/(a),
``gflops`` (flops of the oracle calls only: quadratic 2 R d^2 per gradient / f / Hessian-vector
product; ridge with batch b about 4 R b d per gradient or HVP and 2 R b d per f), ``roofline_fraction``
= gflops / the GFLOP/s of a plain batched matmul of the same shapes timed in the same process
(quadratic: (R, d) x (d, d); ridge: the two bmm's (R, b, d) x (R, d, 1) and (R, 1, b) x (R, b, d)),
``speedup_at_roofline`` = the speedup the engine would have if its step cost only the oracle flops at
the roofline's rate (``speedup_vs_per_run_loop / roofline_fraction``): the ceiling the hardware puts
on the speedup for that shape,
and ``peak_mem_bytes`` (CUDA: torch.cuda.max_memory_allocated; CPU: peak RSS increase during one
engine call over the RSS before it, sampled every 2 ms by a thread; the allocator reuses freed pages,
so on CPU this is a lower bound: ``process_max_rss_bytes`` is also given).
Timings are medians of repeated runs after a warm-up (time.perf_counter); the load average is recorded.

Memory of each algorithm's state, bytes per run per coordinate in float64 (COUNTED from the
persistent tensors each rule keeps: the iterate x plus the rule's state; the script recounts them
from ``make_rule`` at run time and writes ``state_bytes_per_run_per_coord`` to the JSON). Per-step
temporaries (s, e, x + e, g, x_new, the noise sample) add about 5-7 (R, d) tensors on top.

    algorithm    (R, d) tensors kept        bytes / run / coord   (R, 1) scalars per run
    sam          x                          8                     -
    unified_sam  x                          8                     -
    adasam       x, m, v, vhat              32                    -
    lightsam1    x                          8                     u, v (+16/d)
    lets_sam     x                          8                     rho (+8/d)

The engine is timed both ways: ``run(..., compile=True)``, the compiled loop between checkpoints that
``verify`` runs (``optim.batched.blocks``; the row's ``steps_per_s_engine``, ``speedup_vs_*``,
``roofline_fraction``, ``physical_limit_fraction``), and the eager loop (``*_eager`` columns).
``compile_first_call_s`` is the compiled warm-up call, which compiles unless inductor's on-disk cache
already holds the kernels.

CLI: python benchmarks/throughput.py [--quick] [--device cpu|cuda] [--threads N] [--out PATH]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import contenders  # noqa: E402
import problems  # noqa: E402
from optim.batched import run  # noqa: E402
from problems.rng import stream  # noqa: E402
from optim.batched.rules import make_rule  # noqa: E402
from optim.registry import validate  # noqa: E402

ALGOS = ("sam", "unified_sam", "adasam", "lightsam1", "lets_sam")
BASE_RUNS = 3
DTYPE = torch.float64


# ----------------------------------------------------------------------------------------------
# problems

def make(problem: str, d: int):
    if problem == "quadratic":
        return problems.Quadratic.with_condition(d, L=1.0, cond=10.0), problems.Gaussian(sigma=1.0)
    p = problems.make_problem("ridge", n=max(100, 2 * d), d=d)
    return p, problems.Uniform(batch=1)


def hparams(algo: str, problem, sampler) -> dict:
    """Stable hyperparameters (no run may diverge: that would time the fallback path and frozen runs;
    ``main`` exits 1 if one does). LETS-SAM's radius is capped at 10 rho_0: uncapped, beta = 0.01
    drove rho up and 796 of 1024 ridge runs at d = 100 diverged within 200 steps."""
    L = problem.L_max if problem.finite_sum else problem.L
    hp = {"lr": min(0.1, 0.5 / L), "rho": 0.05}
    if algo == "unified_sam":
        hp["lam"] = 0.5
    if algo == "lets_sam":
        hp.update(beta=0.01, rho_max=10 * hp["rho"])
    return hp


def oracle_flops(algo: str, problem: str, R: int, d: int, b: int = 1) -> float:
    """Flops of the oracle calls of one step for R runs (see the module docstring)."""
    if problem == "quadratic":
        mm = 2.0 * R * d * d
        return (7 if algo == "lets_sam" else 2) * mm  # LETS: 2 grads, 2 f, 2 grads at x1, 1 HVP
    g, f = 4.0 * R * b * d, 2.0 * R * b * d
    return 5 * g + 2 * f if algo == "lets_sam" else 2 * g


# ----------------------------------------------------------------------------------------------
# the per-run baseline: torch.optim.Optimizer subclasses, as a user writes them

class AMSGradNoBias(torch.optim.Optimizer):
    """AdaSAM's descent: m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, vhat = max(vhat, v),
    x -= lr m / sqrt(vhat); m0 = v0 = 0, vhat0 = eps^2 (no bias correction)."""

    def __init__(self, params, lr, b1=0.9, b2=0.999, eps=1e-8):
        super().__init__(params, dict(lr=lr, b1=b1, b2=b2, eps=eps))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                if not st:
                    st["m"] = torch.zeros_like(p)
                    st["v"] = torch.zeros_like(p)
                    st["vhat"] = torch.full_like(p, group["eps"] ** 2)
                g = p.grad
                st["m"].mul_(group["b1"]).add_(g, alpha=1 - group["b1"])
                st["v"].mul_(group["b2"]).addcmul_(g, g, value=1 - group["b2"])
                torch.maximum(st["vhat"], st["v"], out=st["vhat"])
                p.addcdiv_(st["m"], st["vhat"].sqrt(), value=-group["lr"])


class AdaGradNorm(torch.optim.Optimizer):
    """LightSAM-I's descent: v += ||g||^2, x -= lr g / sqrt(v), v0 = eps^2."""

    def __init__(self, params, lr, eps=1e-8):
        super().__init__(params, dict(lr=lr, eps=eps))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                if not st:
                    st["v"] = torch.tensor(group["eps"] ** 2, dtype=p.dtype)
                st["v"] += (p.grad * p.grad).sum()
                p.sub_(group["lr"] * p.grad / st["v"].sqrt())


class TwoStepSAM(torch.optim.Optimizer):
    """The usual SAM wrapper (first_step / second_step around a base optimizer).

    perturb: "sam" e = rho g/||g||; "unified" e = rho ((1-lam) g + lam g/||g||); "lightsam1"
    u += ||g||^2, e = rho g / sqrt(u)."""

    def __init__(self, params, base_cls, rho, perturb="sam", lam=0.5, eps=1e-8, **base_kw):
        super().__init__(params, dict(rho=rho, lam=lam, eps=eps))
        self.perturb = perturb
        self.base_optimizer = base_cls(self.param_groups, **base_kw)

    @torch.no_grad()
    def first_step(self):
        for group in self.param_groups:
            for p in group["params"]:
                g, st = p.grad, self.state[p]
                if self.perturb == "lightsam1":
                    if "u" not in st:
                        st["u"] = torch.tensor(group["eps"] ** 2, dtype=p.dtype)
                    st["u"] += (g * g).sum()
                    e = group["rho"] * g / st["u"].sqrt()
                else:
                    n = g / g.norm()
                    e = group["rho"] * n if self.perturb == "sam" else \
                        group["rho"] * ((1 - group["lam"]) * g + group["lam"] * n)
                    st["n"] = n
                p.add_(e)
                st["e"] = e

    @torch.no_grad()
    def second_step(self):
        for group in self.param_groups:
            for p in group["params"]:
                p.sub_(self.state[p]["e"])
        self.base_optimizer.step()


class LETSSAM(TwoStepSAM):
    """LETS-SAM (defaults: exact HVP, clamp0, lower_first): a SAM step with radius rho, then
    rho -= beta * Delta * <grad_val(x1) - grad_tr(x1), -lr H(w) n>, clamped to [0, rho_max]."""

    def __init__(self, params, lr, rho, beta, rho_max):
        super().__init__(params, torch.optim.SGD, rho, "sam", lr=lr)
        self.beta, self.lr, self.rho_max = beta, lr, rho_max

    @torch.no_grad()
    def hyper_step(self, w, oracles):
        group = self.param_groups[0]
        p = group["params"][0]
        f_val, f_tr, g_val, g_tr, hvp = oracles
        x1 = p.detach()
        delta = f_val(x1) - f_tr(x1)
        hg = delta * ((g_val(x1) - g_tr(x1)) * (-self.lr * hvp(w, self.state[p]["n"]))).sum()
        group["rho"] = min(max(group["rho"] - self.beta * float(hg), 0.0), self.rho_max)


def _one(s: problems.Sample) -> problems.Sample:
    return s._map(lambda a: a[0])


def baseline(algo: str, problem, sampler, hp: dict, T: int, runs: int, autograd: bool = False) -> float:
    """Seconds per run-step of the per-run loop (runs one after another)."""
    d = problem.d
    val = getattr(problem, "val", None) or problem
    t0 = time.perf_counter()
    for r in range(runs):
        x = torch.nn.Parameter(torch.ones(d, dtype=DTYPE))
        if algo == "sam":
            opt = TwoStepSAM([x], torch.optim.SGD, hp["rho"], "sam", lr=hp["lr"])
        elif algo == "unified_sam":
            opt = TwoStepSAM([x], torch.optim.SGD, hp["rho"], "unified", lam=hp["lam"], lr=hp["lr"])
        elif algo == "adasam":
            opt = TwoStepSAM([x], AMSGradNoBias, hp["rho"], "sam", lr=hp["lr"])
        elif algo == "lightsam1":
            opt = TwoStepSAM([x], AdaGradNorm, hp["rho"], "lightsam1", lr=hp["lr"])
        else:
            opt = LETSSAM([x], hp["lr"], hp["rho"], hp["beta"], hp["rho_max"])
        gen = torch.Generator().manual_seed(r)

        def set_grad(s):
            if autograd:
                x.grad = None
                problem.stoch_f(x, s).backward()
            else:
                with torch.no_grad():
                    x.grad = problem.stoch_grad(x.detach(), s)

        for _ in range(T):
            s = _one(sampler.draw(problem, 1, gen, DTYPE))
            set_grad(s)
            opt.first_step()
            if algo == "lets_sam":
                w = x.detach().clone()
            set_grad(s)
            opt.second_step()
            if algo == "lets_sam":
                v = _one(sampler.draw(val, 1, gen, DTYPE))
                opt.hyper_step(w, (lambda z: val.stoch_f(z, v), lambda z: problem.stoch_f(z, s),
                                   lambda z: val.stoch_grad(z, v), lambda z: problem.stoch_grad(z, s),
                                   lambda z, n: problem.stoch_hvp(z, n, s)))
    return (time.perf_counter() - t0) / (runs * T)


# ----------------------------------------------------------------------------------------------
# engine, roofline, memory

def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Peak RSS increase (bytes) while the block runs, sampled by a thread every 2 ms."""

    def __enter__(self):
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._poll, daemon=True)
        self._t.start()
        return self

    def _poll(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss())
        self.delta = self.peak - self.base


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_engine(algo, problem, sampler, hp, R, T, reps, device, compile=False):
    """Median seconds of ``reps`` engine calls after a warm-up call (which, with compile, compiles:
    its own duration is returned as ``first_s``), all times, peak memory, diverged runs."""
    kw = dict(T=T, R=R, running=False, device=device, dtype=DTYPE, checkpoints=[0, T], compile=compile)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    with PeakRSS() as mem:  # the warm-up call, also the memory measurement
        tr = run(algo, problem, sampler, hp, seed=0, **kw)
    sync(device)
    first_s = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else mem.delta
    ts = []
    for k in range(reps):
        t0 = time.perf_counter()
        run(algo, problem, sampler, hp, seed=k + 1, **kw)
        sync(device)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), ts, peak, int(tr.n_diverged), first_s


def roofline(problem_name, problem, R, d, device, reps=7, min_time=0.05):
    """GFLOP/s of a plain batched matmul with the shapes of the problem's gradient."""
    g = torch.Generator(device=device).manual_seed(0)
    if problem_name == "quadratic":
        x = torch.randn(R, d, generator=g, device=device, dtype=DTYPE)
        H = torch.randn(d, d, generator=g, device=device, dtype=DTYPE)
        op, flops = (lambda: torch.matmul(x, H)), 2.0 * R * d * d
    else:
        A = torch.randn(R, 1, d, generator=g, device=device, dtype=DTYPE)
        x = torch.randn(R, d, 1, generator=g, device=device, dtype=DTYPE)
        c = torch.randn(R, 1, 1, generator=g, device=device, dtype=DTYPE)
        op, flops = (lambda: (torch.bmm(A, x), torch.bmm(c, A))), 4.0 * R * d
    op()
    sync(device)
    t0 = time.perf_counter()
    op()
    sync(device)
    n = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            op()
        sync(device)
        ts.append((time.perf_counter() - t0) / n)
    return flops / statistics.median(ts) / 1e9


def sample_time(problem, sampler, R, device, reps=7) -> float:
    """Median seconds of one step's sample draw for R runs with the engine's stream (the fastest
    generator measured for it: problems.rng), the part of the physical limit that is not flops."""
    gen = stream(0, device)
    sampler.draw(problem, R, gen, DTYPE)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(20):
            sampler.draw(problem, R, gen, DTYPE)
        sync(device)
        ts.append((time.perf_counter() - t0) / 20)
    return statistics.median(ts)


def contender_rows(algo, prob, problem, sampler, hp, R, T, reps, eng, use_jax: bool) -> dict:
    """Run-steps/s of the plain batched torch loop and of JAX (jit + scan + vmap) for SAM and AdaSAM,
    and the engine's speedup over each (``speedup_vs_jax`` None when JAX is absent)."""
    if algo not in contenders.ALGOS:
        return {}
    sigma = getattr(sampler, "sigma", 0.0)
    plain = R * T / contenders.median_seconds(contenders.plain_batched(algo, problem, sigma, hp, R, T), reps)
    jx = (R * T / contenders.median_seconds(contenders.jax_scan(algo, problem, sigma, hp, R, T), reps)
          if use_jax else None)
    return dict(steps_per_s_plain_batched=plain, speedup_vs_plain_batched=eng / plain,
                steps_per_s_jax=jx, speedup_vs_jax=None if jx is None else eng / jx)


def out_path(arg: str) -> Path:
    """--out as a file (.json) or a directory (throughput.json inside it)."""
    p = Path(arg)
    if p.is_dir() or arg.endswith("/") or not p.suffix:
        return p / "throughput.json"
    return p


def state_bytes(algo, problem, sampler, R, d, device):
    """Bytes per run per coordinate of x plus the rule's persistent state, counted from the tensors."""
    hp = validate(algo, hparams(algo, problem, sampler), R)
    like = torch.zeros((), dtype=DTYPE, device=device)
    rule = make_rule(algo, problem, hp, R, d, like)
    tensors = [like.new_zeros(R, d)] + [v for v in rule.state.values()]
    return sum(t.numel() * t.element_size() for t in tensors) / (R * d)


# ----------------------------------------------------------------------------------------------

def _jax_version():
    try:
        import jax
    except ImportError:
        return None
    return jax.__version__


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def plot(results, path: Path):
    """Speedup against R, one panel per d: against the per-run loop (compiled and eager engine) and,
    when JAX ran, against JAX."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ds = sorted({r["d"] for r in results})
    keys = [("speedup_vs_per_run_loop", "compiled, vs per-run loop"), ("speedup_vs_per_run_loop_eager", "eager, vs per-run loop")]
    if any(r.get("speedup_vs_jax") for r in results):
        keys.append(("speedup_vs_jax", "compiled, vs JAX"))
    fig, axes = plt.subplots(len(keys), len(ds), figsize=(4.2 * len(ds), 3.6 * len(keys)), squeeze=False,
                             sharey="row")
    for (key, mode), row_axes in zip(keys, axes):
        for ax, d in zip(row_axes, ds):
            for (algo, prob), ls in [((a, p), "-" if p == "quadratic" else "--")
                                     for a in ALGOS for p in ("quadratic", "ridge")]:
                rows = sorted((r for r in results if r["d"] == d and r["algorithm"] == algo and r["problem"] == prob
                               and r.get(key) is not None), key=lambda r: r["R"])
                if rows:
                    ax.loglog([r["R"] for r in rows], [r[key] for r in rows], ls, marker="o",
                              ms=3, label=f"{algo} ({prob})", color=f"C{ALGOS.index(algo)}")
            ax.axhline(1.0, color="grey", lw=0.8)
            ax.set_title(f"d = {d}, {mode}", fontsize=9)
            ax.set_xlabel("runs R")
            ax.grid(True, which="both", lw=0.3)
        row_axes[0].set_ylabel("speedup")
    axes[0][-1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=150)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small grid (under 3 minutes on 2 cores)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--out", default="benchmarks/results/throughput.json",
                    help="a .json file, or a directory to write throughput.json (+ .png/.pdf) into")
    args = ap.parse_args(argv)
    use_jax = contenders.jax_available()
    if not use_jax:
        print("JAX is not installed (pip install -e \".[bench]\"): the JAX contender is skipped", file=sys.stderr)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but torch.cuda.is_available() is False", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        Rs, ds, algos, reps = (16, 256, 1024), (10, 100), ALGOS, 3
        T_of = lambda R, d: 1000 if R <= 256 else 200  # noqa: E731  (claims: R <= a few hundred, T in thousands)
        T_base = 100
    else:
        Rs, ds, algos, reps = (16, 64, 256, 1024, 4096), (10, 100, 1000), ALGOS, 5
        T_of = lambda R, d: int(np.clip(2e9 / (R * d * d), 50, 400))  # noqa: E731
        T_base = 200
    out = out_path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"error: --out {args.out}: cannot create {out.parent} ({e.strerror})", file=sys.stderr)
        return 2
    load0 = os.getloadavg()
    start = time.perf_counter()
    results, baselines, states = [], {}, {}
    for prob in ("quadratic", "ridge"):
        for d in ds:
            problem, sampler = make(prob, d)
            roof = {R: roofline(prob, problem, R, d, device) for R in Rs}
            draw_s = {R: sample_time(problem, sampler, R, device) for R in Rs}
            for algo in algos:
                hp = hparams(algo, problem, sampler)
                states[algo] = state_bytes(algo, problem, sampler, 4, d, device)
                baseline(algo, problem, sampler, hp, 5, 1)  # warm-up
                base_ts = [baseline(algo, problem, sampler, hp, T_base, BASE_RUNS) for _ in range(5)]
                bt = statistics.median(base_ts)
                ag = (statistics.median(baseline(algo, problem, sampler, hp, T_base, BASE_RUNS, autograd=True)
                                        for _ in range(3)) if algo == "sam" else None)
                baselines[(algo, prob, d)] = bt
                for R in Rs:
                    T = T_of(R, d)
                    emed, ets, peak, ndiv, _ = time_engine(algo, problem, sampler, hp, R, T, reps, device)
                    med, ts, _, cdiv, first = time_engine(algo, problem, sampler, hp, R, T, reps, device, True)
                    ndiv = max(ndiv, cdiv)
                    eng, eager = R * T / med, R * T / emed
                    gflops = oracle_flops(algo, prob, R, d) * T / med / 1e9
                    row = dict(algorithm=algo, problem=prob, R=R, d=d, T=T,
                               steps_per_s_engine=eng, steps_per_s_baseline=1.0 / bt,
                               speedup_vs_per_run_loop=eng * bt, gflops=gflops,
                               roofline_gflops=roof[R], roofline_fraction=gflops / roof[R],
                               speedup_at_roofline=eng * bt * roof[R] / gflops,
                               peak_mem_bytes=int(peak),
                               process_max_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                               state_bytes_per_run_per_coord=state_bytes(algo, problem, sampler, R, d, device),
                               engine_times_s=ts, baseline_s_per_step=base_ts, n_diverged=ndiv,
                               steps_per_s_engine_eager=eager, speedup_vs_per_run_loop_eager=eager * bt,
                               engine_times_s_eager=ets, compile_first_call_s=first,
                               baseline_autograd_steps_per_s=None if ag is None else 1.0 / ag,
                               baseline_runs_measured=BASE_RUNS, baseline_T=T_base)
                    limit_s = oracle_flops(algo, prob, R, d) / (roof[R] * 1e9) + draw_s[R]
                    row.update(sample_s_per_step=draw_s[R], limit_s_per_step=limit_s,
                               physical_limit_fraction=limit_s / (med / T),
                               physical_limit_fraction_eager=limit_s / (emed / T),
                               **contender_rows(algo, prob, problem, sampler, hp, R, T, reps, eng, use_jax))
                    if row.get("steps_per_s_jax"):
                        row["speedup_vs_jax_eager"] = eager / row["steps_per_s_jax"]
                    results.append(row)
                    if ndiv:
                        print(f"warning: {ndiv} of {R} engine runs diverged: this row times the fallback path",
                              file=sys.stderr)
                    print(f"{algo:12s} {prob:9s} d={d:5d} R={R:5d} T={T:4d} engine {eng:11.0f} st/s "
                          f"base {1 / bt:8.0f} st/s speedup {eng * bt:8.1f}x "
                          f"(ceiling {eng * bt * roof[R] / gflops:7.0f}x) "
                          f"{gflops:7.3f} GF/s roof {gflops / roof[R]:5.1%} peak {peak / 2**20:7.1f} MiB"
                          + (f" vs JAX {row['speedup_vs_jax']:5.2f}x vs plain {row['speedup_vs_plain_batched']:5.2f}x"
                             if row.get("speedup_vs_jax") else "")
                          + f" eager {eager * bt:8.1f}x (compile {first:.1f} s)", flush=True)
    meta = dict(torch_version=torch.__version__, device=str(device), device_name=device_name(device),
                threads=torch.get_num_threads(), cpu_count=os.cpu_count(), dtype=str(DTYPE),
                date=datetime.datetime.now().isoformat(timespec="seconds"), python=platform.python_version(),
                quick=args.quick, loadavg_start=load0, loadavg_end=os.getloadavg(),
                wall_s=time.perf_counter() - start,
                baseline_note=(f"per-run loop (torch.optim.Optimizer two-step SAM, analytic torch gradient) "
                               f"measured on {BASE_RUNS} runs of baseline_T steps, median of 5 (all 5 in "
                               "baseline_s_per_step), scaled linearly in R"),
                engine_note="optim.batched.run(running=False, checkpoints=[0, T], compile=True) (verify's path; "
                            "*_eager: compile=False); its samples are drawn inside the timed call (CPU: "
                            "problems.rng NumPy SFC64 stream; GPU: torch's generator)",
                flops_note="oracle flops only: quadratic 2Rd^2 per grad/f/hvp (SAM family 2, LETS 7 per "
                           "step); ridge batch 1: 4Rd per grad/hvp, 2Rd per f (SAM family 2 grads, LETS 5 "
                           "grad/hvp + 2 f)",
                jax=_jax_version(), contenders_note=contenders.__doc__.split("\n\n")[0],
                physical_limit_note="limit_s_per_step = oracle flops at the roofline rate + one step's sample draw "
                                    "(problems.rng, the fastest generator measured); physical_limit_fraction = "
                                    "limit / engine seconds per step",
                roofline_note="quadratic: torch.matmul (R,d)x(d,d); ridge: bmm (R,1,d)x(R,d,1) + "
                              "(R,1,1)x(R,1,d); median of 7, same process",
                memory_note=("peak_mem_bytes: CUDA max_memory_allocated; CPU peak RSS increase during the "
                             "warm-up engine call, sampled every 2 ms (lower bound: freed pages are reused)"),
                state_bytes_per_run_per_coord={a: states[a] for a in algos},
                state_bytes_note="COUNTED: x plus the rule's persistent state tensors (make_rule), "
                                 "float64, (R,1) scalars included; d of the last problem built")
    out.write_text(json.dumps(dict(meta=meta, results=results), indent=1))
    plot(results, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')} (+ .pdf) in {meta['wall_s']:.0f} s; "
          f"load {load0} -> {meta['loadavg_end']}")
    bad = [f"{r['algorithm']}/{r['problem']}/d={r['d']}/R={r['R']}" for r in results if r["n_diverged"]]
    if bad:
        print(f"error: runs diverged in {len(bad)} rows ({', '.join(bad)}): hparams() is not stable there",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
