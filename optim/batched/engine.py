"""The batched engine: advance R independent runs of one algorithm at once and record a Trace.

Samples are drawn on the engine's device from one seeded stream per call (``problems.rng.stream``:
NumPy SFC64 on the CPU, torch's generator on a GPU), a block of steps at a time, or replayed from
pre-drawn ones; the steps run eagerly or as compiled loops between checkpoints (``blocks``); diverged runs
(non-finite or max |x| above ``blowup``) are flagged and frozen while the others go on; runs can
have different horizons T_r and stop (freeze) at their own. The first call asks glibc to keep freed
memory in the process (``memory.retain_freed_memory``: 3.5x per step on this project's machines;
SAMCHECK_KEEP_MALLOC=0 turns it off).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch

from problems.rng import Stream, stream
from problems.sample import Sample, stack_steps
from problems.samplers import Sampler

from ..algorithms import streams
from ..registry import get, validate
from .blocks import layout_of, run_segment, structure
from .bookkeeping import mask_diverged, running_sums
from .memory import retain_freed_memory
from .rules import make_rule

BLOWUP = 1e12
BLOCK_VALUES = 1 << 20  # samples are drawn for blocks of steps of about this many values per stream
METRICS = ("f_gap", "grad_sq", "dist_sq", "grad_sq_avg", "grad_sq_min")


def block_steps(G: int, d: int) -> int:
    """K, the steps per block of drawn samples for G sample rows in dimension d: a function of (G, d)
    only, so runs of any horizon see the same samples at the same step."""
    return max(1, min(256, BLOCK_VALUES // (G * d)))


@dataclass
class Trace:
    """What a batched run records.

    t: (K,) checkpoint iterations; metrics[name]: (K, R) values of x_t at each checkpoint
    (f_gap = f(x_t) - f_inf, grad_sq = ||grad f(x_t)||^2, dist_sq = ||x_t - x*||^2, grad_sq_avg =
    (1/t) sum_{s<t} ||grad f(x_s)||^2, grad_sq_min = min_{s<=t}, and the rule's extras such as rho,
    eff_radius, step_min/step_max), NaN after a run diverged; final[name]: (R,) the same at each
    run's own horizon T_r plus grad_sq_tail_avg (average over T_r/2 <= s < T_r); diverged: (R,) bool;
    diverged_at: (R,) step of divergence (-1 if none); x: (R, d) final iterates; trajectory:
    (T+1, R, d) iterates when asked, with extras_trajectory[name]: (T, R)."""

    t: np.ndarray
    metrics: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    diverged: np.ndarray
    diverged_at: np.ndarray
    T: np.ndarray
    x: np.ndarray
    trajectory: Optional[np.ndarray] = None
    extras_trajectory: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_diverged(self) -> int:
        return int(self.diverged.sum())


def log_checkpoints(T: int, n: int = 20) -> np.ndarray:
    """About n log-spaced iterations in [0, T], always including 0, 1 and T."""
    pts = np.geomspace(1, max(T, 1), max(n - 1, 1)).round().astype(int)
    return np.unique(np.r_[0, 1, pts, T].clip(0, T))


def _rademacher(R: int, d: int, gen: Stream, dtype) -> Sample:
    z = gen.integers(2, (R, d)).to(dtype) * 2 - 1
    return Sample(noise=z)


def _batch_size(hp: dict, T, x0, groups, R: Optional[int] = None) -> int:
    sizes = {np.size(v.c if hasattr(v, "c") else v) for v in hp.values()
             if not isinstance(v, (str, bool)) and v is not None}
    sizes |= {np.size(T)}
    if x0 is not None and np.ndim(x0) == 2:
        sizes.add(np.shape(x0)[0])
    if groups is not None:
        sizes.add(len(groups))
    sizes.discard(1)
    if R is not None and sizes - {R}:
        raise ValueError(f"hyperparameters, T, x0 and groups disagree with R={R}: sizes {sorted(sizes)}")
    if len(sizes) > 1:
        raise ValueError(f"hyperparameters, T, x0 and groups disagree on the number of runs: sizes {sorted(sizes)}")
    return R if R is not None else (sizes.pop() if sizes else 1)


def _check_device(device) -> torch.device:
    """``device`` as a torch.device if the engine can run on it here: the CPU, or a CUDA GPU when
    torch sees one (rather than torch's own error from deep inside the first tensor made there)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        dev = None
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if dev is None or dev.type not in ("cpu", "cuda") or (dev.type == "cuda" and (dev.index or 0) >= n_gpus):
        allowed = (f"'cpu' or 'cuda' (cuda:0 to cuda:{n_gpus - 1})" if n_gpus
                   else "'cpu' (torch.cuda.is_available() is False here)")
        raise ValueError(f"device={str(device)!r} is not allowed: must be {allowed}")
    return dev


def _check_seed(seed) -> int:
    """``seed`` as an int if both streams take it (NumPy's SeedSequence: >= 0; torch's manual_seed:
    < 2**64); a float or bool seed is refused rather than silently truncated."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 64:
        raise ValueError(f"seed={seed!r} is not allowed: must be an integer in [0, 2**64)")
    return int(seed)


def _check_finite_x0(x: torch.Tensor) -> None:
    """A NaN or inf starting point is bad input, not a diverged run (which would look like a finding)."""
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        first = x[bad][0].item()
        dtype = str(x.dtype).replace("torch.", "")
        raise ValueError(f"x0 has {int(bad.sum())} non-finite entries in {dtype} (the first is {first}): "
                         "every entry must be finite")


def run(algorithm: str, problem, sampler: Sampler, hp: Optional[dict] = None, *, T, R: Optional[int] = None,
        x0=None, seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64,
        checkpoints: Optional[Sequence[int]] = None, val_sampler: Optional[Sampler] = None,
        samples: Optional[dict[str, list[Sample]]] = None, groups=None, trajectory: bool = False,
        running: bool = True, blowup: float = BLOWUP, compile: bool = False) -> Trace:
    """Run ``algorithm`` for R runs on ``problem`` with stochastic gradients from ``sampler``.

    hp: hyperparameters; each real one a scalar, an (R,) array, or a Schedule. T: int or (R,) ints
    (each run stops at its own horizon). x0: (d,) or (R, d), default ones. seed: the generator of
    every sample this call draws. groups: (R,) ints; runs with the same group share their samples
    (common random numbers across a grid). samples: pre-drawn {stream: [Sample per step]} replayed
    instead of drawing (tests). running: also evaluate ||grad f(x_t)||^2 every step for the
    running average/minimum (one full gradient per step). compile: run the steps between
    checkpoints as one compiled loop (``blocks``: torch.compile of a while_loop, 2-10x fewer seconds
    per step at small R; agrees with the eager loop to round-off, not bit for bit; the first call of
    each structure compiles, 1.5-12 s; a trajectory is recorded by the eager loop only).

    Samples are drawn for blocks of K = ``block_steps(G, d)`` steps at once (G sample rows: R, or
    the number of groups), stream by stream in the order S, S2, V, Z, by both loops alike.
    """
    get(algorithm)
    retain_freed_memory()
    device = _check_device(device)
    seed = _check_seed(seed)
    T_arr = np.atleast_1d(np.asarray(T))
    if T_arr.dtype.kind not in "iu" and not np.all(T_arr == np.round(T_arr)) or np.any(T_arr < 1):
        raise ValueError(f"T={T!r} is not allowed: horizons must be integers >= 1")
    R = _batch_size(hp or {}, T, x0, groups, R or None)
    hp = validate(algorithm, hp, R)
    sampler.check(problem)
    T_max = int(T_arr.max())
    d = problem.d
    like = torch.zeros((), dtype=dtype, device=device)
    x = torch.as_tensor(np.ones(d) if x0 is None else x0, dtype=dtype, device=device)
    if x.ndim not in (1, 2) or x.shape[-1] != d:
        raise ValueError(f"x0 has shape {tuple(x.shape)}: expected ({d},) or (R, {d})")
    _check_finite_x0(x)
    x = x.expand(R, d).clone()
    T_run = torch.as_tensor(T_arr, device=device).expand(R)
    rule = make_rule(algorithm, problem, hp, R, d, like)
    names = streams(algorithm, hp)
    val_problem = getattr(problem, "val", None) or problem
    gen = stream(seed, device)
    G = R if groups is None else int(np.max(groups)) + 1
    rows = None if groups is None else torch.as_tensor(np.asarray(groups), device=device)

    K = block_steps(G, d)

    def draw_block(t0: int) -> dict:
        """Samples of steps t0 <= t < t0 + K: {stream: Sample with a leading step axis (K, R, ...)}."""
        if samples is not None:
            steps = range(t0, min(t0 + K, T_max))
            return {k: stack_steps([samples[k][t].to(device, dtype) for t in steps]) for k in names}
        out = {}
        for k in names:
            if k == "Z":
                s = _rademacher(K * G, d, gen, dtype)
            elif k == "V":
                s = (val_sampler or sampler).draw(val_problem, K * G, gen, dtype)
            else:
                s = sampler.draw(problem, K * G, gen, dtype)
            s = s.unflatten(K, G)
            out[k] = s if rows is None else s.take_runs(rows)
        return out

    ckpts = np.unique(np.clip(log_checkpoints(T_max) if checkpoints is None else np.asarray(checkpoints), 0, T_max))
    ckpt_set = set(ckpts.tolist())
    f_inf = problem.f_inf if problem.f_inf is not None else 0.0
    c = {"x": x, "diverged": torch.zeros(R, dtype=torch.bool, device=device),
         "div_at": torch.full((R,), -1, dtype=torch.long, device=device),
         "gsum": torch.zeros(R, dtype=dtype, device=device),
         "gmin": torch.full((R,), float("inf"), dtype=dtype, device=device),
         "tail": torch.zeros(R, dtype=dtype, device=device)}  # what the loop carries
    tail_start = torch.div(T_run, 2, rounding_mode="floor")
    extras = {k: torch.full((R,), float("nan"), dtype=dtype, device=device) for k in rule.extras}
    extras.update({k: v.clone() for k, v in rule.out.items()})
    rec = {k: [] for k in METRICS + tuple(extras)}
    traj = [x.clone()] if trajectory else None
    ext_traj = {k: [] for k in extras} if trajectory else {}

    def snapshot(t: int):
        x = c["x"]
        gsq = (problem.grad(x) ** 2).sum(-1)
        vals = {"f_gap": problem.f(x) - f_inf, "grad_sq": gsq, "dist_sq": problem.dist_sq(x),
                "grad_sq_avg": c["gsum"] / torch.clamp(torch.minimum(T_run, torch.tensor(t, device=device)), min=1)
                if t > 0 else torch.full_like(gsq, float("nan")),
                "grad_sq_min": torch.minimum(c["gmin"], gsq), **extras}
        for k, v in vals.items():
            rec[k].append(torch.where(c["diverged"], float("nan"), v).cpu().numpy())

    if compile and not trajectory:
        problem.refresh_cache(x)
        val_problem.refresh_cache(x)
        layout = (tuple(rule.state), tuple(extras))
        ns, ne = len(layout[0]), len(layout[1])
        as_t = functools.partial(torch.tensor, dtype=torch.long, device=device)
        t, block, base = 0, None, 0
        while True:
            if t in ckpt_set:
                snapshot(t)
            if t == T_max:
                break
            if t % K == 0:
                block, base = draw_block(t), t
                fields = tuple((k, layout_of(v)) for k, v in block.items())
                flat = tuple(getattr(v, f) for k, v in block.items() for f in layout_of(v))
                key = structure(rule, problem, val_problem, fields, running, c["x"], K)
            t1 = min(base + K, T_max, int(ckpts[np.searchsorted(ckpts, t, side="right")]) if t < ckpts[-1] else T_max)
            out = run_segment(key, rule, problem, fields, layout, running, blowup, as_t(t), as_t(t1), as_t(base),
                              c["x"], tuple(rule.state.values()), tuple(extras.values()), c["diverged"],
                              c["div_at"], c["gsum"], c["gmin"], c["tail"], T_run, tail_start, flat)
            c["x"] = out[1]
            rule.state.update(zip(layout[0], out[2:2 + ns]))
            extras.update(zip(layout[1], out[2 + ns:2 + ns + ne]))
            c.update(zip(("diverged", "div_at", "gsum", "gmin", "tail"), out[2 + ns + ne:]))
            t = t1
    else:
        # CPU fast path (bit-identical): while every run shares one horizon and none has diverged, all
        # runs are active, so one global check -blowup <= min x, max x <= blowup (False for NaN/inf when
        # blowup is finite) replaces the isfinite test and the per-step torch.where masks; the first
        # flagged run falls back to the masks (vector_norm(ord=inf) would be 7x slower on CPU).
        fast = device.type == "cpu" and bool((T_run == T_max).all()) and np.isfinite(blowup)
        x, diverged, div_at, gsum, gmin, tail = (c[k] for k in ("x", "diverged", "div_at", "gsum", "gmin", "tail"))
        for t in range(T_max + 1):
            if t in ckpt_set:
                c.update(x=x, diverged=diverged, gsum=gsum, gmin=gmin)
                snapshot(t)
            if t == T_max:
                break
            if running or not fast:
                active = (t < T_run) & ~diverged
            if running:
                gsum, gmin, tail = running_sums(problem, x, t, active, tail_start, gsum, gmin, tail)
            if t % K == 0:
                block, base = draw_block(t), t
            x_new = rule.step(x, t, {k: v.step(t - base) for k, v in block.items()})
            if fast:
                lo, hi = torch.aminmax(x_new)  # one pass over all runs; NaN propagates to both
                if bool((hi <= blowup) & (lo >= -blowup)):
                    x = x_new
                    extras.update(rule.out)
                    if trajectory:
                        traj.append(x.clone())
                        for k in extras:
                            ext_traj[k].append(extras[k].cpu().numpy())
                    continue
                fast = False
                active = (t < T_run) & ~diverged
            x, keep, diverged, div_at = mask_diverged(x, x_new, t, active, blowup, diverged, div_at)
            for k, v in rule.out.items():
                extras[k] = torch.where(keep, v, extras[k])
            if trajectory:
                traj.append(x.clone())
                for k in extras:
                    ext_traj[k].append(extras[k].cpu().numpy())
        c.update(x=x, diverged=diverged, div_at=div_at, gsum=gsum, gmin=gmin, tail=tail)
    x, diverged, div_at, gsum, gmin, tail = (c[k] for k in ("x", "diverged", "div_at", "gsum", "gmin", "tail"))

    gsq_final = (problem.grad(x) ** 2).sum(-1)
    Tf = T_run.to(dtype)
    final = {"f_gap": problem.f(x) - f_inf, "grad_sq": gsq_final, "dist_sq": problem.dist_sq(x),
             "grad_sq_avg": gsum / Tf, "grad_sq_min": torch.minimum(gmin, gsq_final),
             "grad_sq_tail_avg": tail / (T_run - tail_start).to(dtype), **extras}
    final = {k: torch.where(diverged, float("nan"), v).cpu().numpy() for k, v in final.items()}
    if not running:
        for k in ("grad_sq_avg", "grad_sq_min", "grad_sq_tail_avg"):
            final[k][:] = np.nan
    return Trace(t=ckpts, metrics={k: np.stack(v) for k, v in rec.items()}, final=final,
                 diverged=diverged.cpu().numpy(), diverged_at=div_at.cpu().numpy(),
                 T=np.broadcast_to(T_arr, (R,)).copy(), x=x.cpu().numpy(),
                 trajectory=torch.stack(traj).cpu().numpy() if trajectory else None,
                 extras_trajectory={k: np.stack(v) for k, v in ext_traj.items()})
