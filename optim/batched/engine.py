"""The batched engine: advance R independent runs of one algorithm at once and record a Trace.

``run`` is assembled from one piece per job: input checking (``inputs``), a sample source that draws
a block of steps at a time from one seeded stream per call (``problems.rng.stream``: NumPy SFC64 on
the CPU, torch's generator on a GPU) or replays pre-drawn samples (``samples``), the rule's step
(``rules``), a divergence guard that flags and freezes diverged runs (non-finite or max |x| above
``blowup``) while the others go on (``bookkeeping``), and a recorder of the running sums, checkpoint
metrics, trajectory and final values (``recorder``); two loops drive them, eager (``_eager_loop``) or
compiled between checkpoints (``_compiled_loop``, ``blocks``). Runs can have different horizons T_r
and stop (freeze) at their own. The first call asks glibc to keep freed memory in the process
(``memory.retain_freed_memory``: 3.5x per step on this project's machines; SAMCHECK_KEEP_MALLOC=0
turns it off).
"""
from __future__ import annotations

import functools
from typing import Optional, Sequence

import torch

from problems.sample import Sample
from problems.samplers import Sampler

from ..algorithms import streams
from .blocks import layout_of, run_segment, structure
from .bookkeeping import DivergenceGuard
from .inputs import check_inputs
from .memory import retain_freed_memory
from .recorder import Recorder, Trace
from .rules import make_rule
from .samples import SampleSource, sample_source, validation_problem

BLOWUP = 1e12


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

    Samples are drawn for blocks of K = ``samples.block_steps(G, d)`` steps at once (G sample rows:
    R, or the number of groups), stream by stream in the order S, S2, V, Z, by both loops alike.
    """
    inputs = check_inputs(algorithm, problem, sampler, hp, T, R, x0, groups, seed, device, dtype)
    retain_freed_memory()
    like = torch.zeros((), dtype=dtype, device=inputs.device)
    rule = make_rule(algorithm, problem, inputs.hp, inputs.R, problem.d, like)
    source = sample_source(streams(algorithm, inputs.hp), problem, sampler, val_sampler, samples, groups, inputs.R,
                           inputs.T_max, inputs.seed, inputs.device, dtype)
    guard = DivergenceGuard(inputs.T_run, inputs.T_max, blowup)
    recorder = Recorder(problem, rule, inputs, checkpoints, running, trajectory)
    if compile and not trajectory:
        x = _compiled_loop(rule, problem, source, guard, recorder, inputs.x)
    else:
        x = _eager_loop(rule, source, guard, recorder, inputs.x)
    return recorder.trace(x, guard)


def _eager_loop(rule, source: SampleSource, guard: DivergenceGuard, recorder: Recorder,
                x: torch.Tensor) -> torch.Tensor:
    """Steps 0 <= t < T_max from x: (R, d), one Python iteration each; returns x_{T_max}: (R, d).
    The runs' active mask is computed only where it is used (the running sums, the masked guard)."""
    for t in range(recorder.T_max):
        recorder.checkpoint(t, x, guard.diverged)
        active = guard.active(t) if recorder.running or not guard.fast else None
        recorder.accumulate(x, t, active)
        x, keep = guard.check(x, rule.step(x, t, source.at(t)), t, active)
        recorder.step(x, rule.out, keep)
    recorder.checkpoint(recorder.T_max, x, guard.diverged)
    return x


def _compiled_loop(rule, problem, source: SampleSource, guard: DivergenceGuard, recorder: Recorder,
                   x: torch.Tensor) -> torch.Tensor:
    """Steps 0 <= t < T_max from x: (R, d) as compiled segments (``blocks.run_segment``) that end at
    each checkpoint and each block's end; the rule's state, the extras, the guard's masks and the
    running sums are carried through each segment and written back. Returns x_{T_max}: (R, d)."""
    val_problem = validation_problem(problem)
    problem.refresh_cache(x)
    val_problem.refresh_cache(x)
    layout = (tuple(rule.state), tuple(recorder.extras))
    ns, ne = len(layout[0]), len(layout[1])
    as_t = functools.partial(torch.tensor, dtype=torch.long, device=x.device)
    t, K = 0, source.K
    while True:
        recorder.checkpoint(t, x, guard.diverged)
        if t == recorder.T_max:
            return x
        if t % K == 0:
            block, base = source.block(t), t
            fields = tuple((k, layout_of(v)) for k, v in block.items())
            flat = tuple(getattr(v, f) for k, v in block.items() for f in layout_of(v))
            key = structure(rule, problem, val_problem, fields, recorder.running, x, K)
        t1 = min(base + K, recorder.next_stop(t))
        out = run_segment(key, rule, problem, fields, layout, recorder.running, guard.blowup, as_t(t), as_t(t1),
                          as_t(base), x, tuple(rule.state.values()), tuple(recorder.extras.values()),
                          guard.diverged, guard.div_at, recorder.gsum, recorder.gmin, recorder.tail, guard.T_run,
                          recorder.tail_start, flat)
        x = out[1]
        rule.state.update(zip(layout[0], out[2:2 + ns]))
        recorder.extras.update(zip(layout[1], out[2 + ns:2 + ns + ne]))
        guard.diverged, guard.div_at, recorder.gsum, recorder.gmin, recorder.tail = out[2 + ns + ne:]
        t = t1
