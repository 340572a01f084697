"""Compiled segments of the engine: steps t0 <= t < t1 of a rule as one ``torch.compile``d while_loop.

Eager, every step of the engine pays Python and torch's dispatch for some thirty small operations
(measured on 2 cores: 290 us a ridge SAM step at R = 16, where JAX's jit + scan takes 19 us). Here a
stretch of steps between two checkpoints runs as one compiled loop (``torch._higher_order_ops.
while_loop``; inductor fuses the body into a few C++ kernels and runs the loop itself in its Python
wrapper, 20-40 us a step at small R on 2 cores): the rule's own ``step`` is traced, with the
divergence masks, the diverged-at steps and the running sums of ||grad f(x_t)||^2 of the eager
engine, in the same order, on pre-drawn samples (``block``: {stream: Sample with a leading step
axis}, row t - ``base`` for step t). The state is carried in the loop (``Rule.step(..., state,
out)``); the rule's constants and the problem's data are inputs of the compiled graph, not baked
into it. Results agree with the eager engine to round-off (inductor fuses and reorders element-wise
arithmetic), never bit for bit: the contract with the reference is 1e-12.

One compiled loop per ``structure`` (rule, options, schedule kinds, problem class, sample layout,
shapes), each its own copy of the code (``_fresh``): torch keeps at most 8 compiled variants per
code object and then silently runs eagerly; here a ninth raises and gets a fresh copy. New
hyperparameter values, a new problem instance of the same class and shape, new samples reuse the
compiled loop (their tensors are inputs); the first call of a structure compiles (1.5-12 s on 2 cores).
"""
from __future__ import annotations

import types
from typing import Callable

import torch
from torch._higher_order_ops.while_loop import while_loop

from problems.sample import Sample

from ..schedules import Schedule
from .bookkeeping import mask_diverged, running_sums

FIELDS = ("idx", "w", "noise", "scale")


def _segment(rule, problem, names: tuple, layout: tuple, running: bool, blowup: float,
             t, t1, base, x, state: tuple, extras: tuple, diverged, div_at, gsum, gmin, tail,
             T_run, tail_start, block: tuple):
    """Run steps t <= s < t1 and return the carried tensors in the order they came in."""
    state_keys, extra_keys = layout

    def cond(s, *carry):
        return s < t1

    def body(s, x, *carry):
        ns, ne = len(state_keys), len(extra_keys)
        st = dict(zip(state_keys, carry[:ns]))
        ex = dict(zip(extra_keys, carry[ns:ns + ne]))
        diverged, div_at, gsum, gmin, tail = carry[ns + ne:]
        active = (s < T_run) & ~diverged
        if running:
            gsum, gmin, tail = running_sums(problem, x, s, active, tail_start, gsum, gmin, tail)
        row = (s - base).reshape(1)
        S, k = {}, 0
        for name, fields in names:
            vals = {}
            for f in fields:
                vals[f] = block[k].index_select(0, row)[0]
                k += 1
            S[name] = Sample(**vals)
        out = dict(ex)
        x_new = rule.step(x, s, S, st, out)
        x, keep, diverged, div_at = mask_diverged(x, x_new, s, active, blowup, diverged, div_at)
        new_ex = tuple(torch.where(keep, out[k_], ex[k_]) for k_ in extra_keys)
        new = (*(st[k_] for k_ in state_keys), *new_ex, diverged, div_at, gsum, gmin, tail)
        # while_loop rejects a carry returned as it came in (state a rule leaves alone, the sums when
        # not running): such carries go back as copies
        return (s + 1, x, *(v.clone() if v is old else v for v, old in zip(new, carry)))

    return while_loop(cond, body, (t, x, *state, *extras, diverged, div_at, gsum, gmin, tail))


def _fresh(fn: Callable) -> Callable:
    """A copy of ``fn`` with its own code object (its own torch.compile cache)."""
    return types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)


_COMPILED: dict = {}


def structure(rule, problem, val_problem, fields: tuple, running: bool, x: torch.Tensor, K: int) -> tuple:
    """What the traced loop's code depends on besides tensor values: the rule (its parts' keys) and its
    options, the kinds of its schedules, the problem classes, the sample layout, the shapes. One compiled
    loop per structure; anything else torch guards on (e.g. a problem's float attributes) recompiles it."""
    hp = tuple(sorted((k, (v.kind, v.mu, v.t0) if isinstance(v, Schedule) else "value") for k, v in rule.hp.items()))
    return (type(rule), rule.name, rule.key, repr(sorted(rule.opts.items())), type(problem), type(val_problem), hp,
            fields, running, tuple(x.shape), x.dtype, x.device, K)


def run_segment(key: tuple, *args):
    """``_segment(*args)`` compiled, from this process's cache for ``key`` (``structure``). A key whose
    function reaches torch's recompile limit gets a fresh one rather than silently running eagerly."""
    fn = _COMPILED.get(key)
    if fn is None:
        fn = _COMPILED[key] = torch.compile(_fresh(_segment), dynamic=False, fullgraph=True)
    try:
        with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
            return fn(*args)
    except torch._dynamo.exc.FailOnRecompileLimitHit:
        del _COMPILED[key]
        return run_segment(key, *args)


def layout_of(sample: Sample) -> tuple:
    """The fields a Sample carries, in FIELDS order."""
    return tuple(f for f in FIELDS if getattr(sample, f) is not None)
