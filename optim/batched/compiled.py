"""torch.compile of a rule's step, one compilation cache per (rule class, algorithm, problem class).

torch.compile keeps its compiled variants on the code object of the function it compiles, at most
``recompile_limit`` (8) of them, and then silently runs the function eagerly. Every SAM-family
algorithm shares ``SAMFamily.step``, so a sweep over algorithms, problems and shapes hit that limit
(measured: the benchmark's compiled rows ran eager after the eighth configuration). Each key here
compiles its own copy of the step's code object, so variants of one algorithm on one problem class
(new R or d, made dynamic by torch after the first change) stay within the limit, and a repeated
configuration reuses its kernels. A new problem instance is a new variant (its constant tensors are
guarded; measured: one graph per instance, 0.5 s each from torch's cache), so past 8 instances of
one problem class in a process the step runs eagerly again: still correct, no longer faster.
"""
from __future__ import annotations

import functools
import types
from typing import Callable

import torch

from .rules import Rule

_STEPS: dict[tuple, Callable] = {}


def compiled_step(rule: Rule) -> Callable:
    """``rule.step`` through torch.compile, from this process's cache for the rule's key."""
    key = (type(rule), rule.name, type(rule.problem))
    fn = _STEPS.get(key)
    if fn is None:
        base = type(rule).step
        copy = types.FunctionType(base.__code__.replace(), base.__globals__, base.__name__, base.__defaults__,
                                  base.__closure__)
        fn = _STEPS[key] = torch.compile(copy)
    return functools.partial(fn, rule)
