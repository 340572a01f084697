"""A user's optimizer as a batched rule of the engine, so that a claim's grid runs with it in place of
a built-in algorithm (``python -m verify rates --claim ID --algo MODULE:NAME --as ALGO``).

The engine keeps doing everything but the update: it draws the same samples as for ALGO, records the
checkpoint metrics, running averages and divergence. The update x_t -> x_{t+1} of run r is the user's:
a ``torch.optim.Optimizer`` (davda54 two-step interface or ``step(closure)``, one instance per run,
hyperparameters of the run written into its param group every step, as a scheduler would) or a
functional ``step(x, grad_fn, state, hp) -> (x, state)``. Functional steps are first tried batched
through ``torch.func.vmap`` over the runs (one call a step); where vmap cannot trace the step, and for
every torch.optim optimizer (stateful objects: vmap cannot stack them), the R instances are stepped
one after another: correct and slower, and ``mode`` says which path ran.

Gradients: at x_t the step's ascent sample S, anywhere else the descent sample (S2 when ALGO draws a
fresh one, else S), as the built-in rules use them.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from optim.batched import rules
from optim.schedules import Schedule

from .conform import base_torch_optimizer
from .conform_cli import load_target
from .conform_drive import constructor, interface_of


def load(spec: str):
    """The object ``MODULE:NAME`` names (``verify.conform_cli.load_target``); ValueError in one line."""
    try:
        return load_target(spec)
    except ValueError as e:
        raise ValueError(f"--algo {spec}: cannot load it ({e})") from None


class UserRule:
    """R runs of the user's optimizer ``obj`` standing in for algorithm ``name`` (hp validated for it)."""

    extras: tuple[str, ...] = ()

    def __init__(self, obj, name: str, problem, hp: dict, R: int, d: int, like: torch.Tensor) -> None:
        self.obj, self.name, self.problem, self.R, self.like = obj, name, problem, R, like
        self.interface = interface_of(obj)
        self.hp = {k: v for k, v in hp.items() if isinstance(v, Schedule) or isinstance(v, (int, float, np.ndarray))
                   and not isinstance(v, bool)}
        self.opts = {k: v for k, v in hp.items() if k not in self.hp}
        self.state: dict[str, torch.Tensor] = {}
        self.out: dict[str, torch.Tensor] = {}
        self.instances = None
        self.user_state = None
        self.mode = ("vmap" if self.interface == "functional" else
                     "one instance per run (a torch.optim optimizer holds state: vmap cannot batch it)")

    def values(self, t: int) -> dict[str, np.ndarray]:
        """Every real hyperparameter at step t as an (R,) float64 array."""
        out = {}
        for k, v in self.hp.items():
            c = np.array(np.broadcast_to(np.asarray(v.c if isinstance(v, Schedule) else v, dtype=np.float64), (self.R,)))
            out[k] = np.asarray(v.at(t, c) if isinstance(v, Schedule) else c, dtype=np.float64)
        return out

    def step(self, x: torch.Tensor, t: int, S: dict, state=None, out=None) -> torch.Tensor:
        """x_{t+1}: (R, d) from x: (R, d) and step t's batched samples S."""
        hp = self.values(int(t))
        if self.interface == "functional" and self.mode == "vmap":
            try:
                return self._vmap_step(x, S, hp)
            except Exception as e:   # vmap cannot trace this step: run the instances one after another
                why = (str(e).splitlines() or [""])[0][:100]
                self.mode, self.user_state = f"one instance per run (vmap failed: {type(e).__name__}: {why})", None
        return torch.stack([self._run_step(r, x[r], S, hp) for r in range(self.R)])

    def _grad_fn(self, x_t: torch.Tensor, S: dict, rows):
        """grad(z) of one run (rows: its sample row) or of all runs (rows None, under vmap)."""
        ascent, descent = S["S"], S.get("S2", S["S"])

        def grad(z: torch.Tensor) -> torch.Tensor:
            s = ascent if descent is ascent or torch.equal(z, x_t) else descent
            if rows is not None:
                s = s.take(rows)
            return self.problem.stoch_grad(z.reshape(1, -1), s).reshape(z.shape)
        return grad

    def _run_step(self, r: int, x_r: torch.Tensor, S: dict, hp: dict) -> torch.Tensor:
        rows = torch.tensor([r], device=x_r.device)
        grad = self._grad_fn(x_r, S, rows)
        hp_r = {**self.opts, **{k: float(v[r]) for k, v in hp.items()}}
        if self.interface == "functional":
            if self.user_state is None or not isinstance(self.user_state, list):
                self.user_state = [None] * self.R
            new, self.user_state[r] = self.obj(x_r.clone(), grad, self.user_state[r], hp_r)
            return torch.as_tensor(new, dtype=x_r.dtype, device=x_r.device).reshape(x_r.shape)
        if self.instances is None:
            self.params = [torch.nn.Parameter(torch.empty_like(x_r)) for _ in range(self.R)]
            factory, _, ignored = constructor(self.obj, hp_r, base_torch_optimizer(self.name, hp_r))
            self.instances = [factory([p]) for p in self.params]
            ignored = [k for k in ignored if k in self.hp]
            if ignored:   # the claim varies them, the optimizer never sees them: the output must say so
                self.mode += f"; {self.obj.__name__} does not take {', '.join(ignored)}"
        p, opt = self.params[r], self.instances[r]
        for group in opt.param_groups:
            group.update({k: v for k, v in hp_r.items() if k in group})
        with torch.no_grad():
            p.copy_(x_r)
        p.grad = grad(p.detach().clone())
        if self.interface == "two_step":
            opt.first_step(zero_grad=True)
            p.grad = grad(p.detach().clone())
            opt.second_step(zero_grad=True)
        else:
            def closure():
                p.grad = grad(p.detach().clone())
                return torch.zeros((), dtype=x_r.dtype)
            opt.step(closure)
        return p.detach().clone()

    def _vmap_step(self, x: torch.Tensor, S: dict, hp: dict) -> torch.Tensor:
        hp_t = {k: torch.as_tensor(v, dtype=x.dtype, device=x.device) for k, v in hp.items()}

        def one(x_r, hp_r, state_r, *fields):
            s = {k: rebuild(S[k], f) for k, f in zip(S, fields)}
            new_r, st = self.obj(x_r, self._grad_fn(x_r, s, None), state_r, {**self.opts, **hp_r})
            return new_r, (() if st is None else (st,))   # vmap returns tensors only: None as an empty tuple

        fields = [sample_fields(v) for v in S.values()]
        dims = (0, 0, None if self.user_state is None else 0) + (0,) * len(fields)
        new, st = torch.func.vmap(one, in_dims=dims, randomness="error")(x, hp_t, self.user_state, *fields)
        self.user_state = st[0] if st else None
        return new


def sample_fields(s) -> dict:
    """A batched Sample's tensor fields, for vmap over its run axis."""
    return {k: v for k, v in vars(s).items() if v is not None}


def rebuild(template, fields: dict):
    """One run's Sample (inside vmap) with a run axis of 1, as ``problem.stoch_grad`` expects."""
    return type(template)(**{k: v.unsqueeze(0) for k, v in fields.items()})


@contextlib.contextmanager
def implemented_by(name: str, obj):
    """Within the block, the engine builds ``name``'s rule as a UserRule of ``obj``; yields the rules made."""
    made: list[UserRule] = []

    def factory(problem, hp, R, d, like):
        made.append(UserRule(obj, name, problem, hp, R, d, like))
        return made[-1]
    previous = rules.OVERRIDES.get(name)
    rules.OVERRIDES[name] = factory
    try:
        yield made
    finally:
        if previous is None:
            rules.OVERRIDES.pop(name, None)
        else:
            rules.OVERRIDES[name] = previous
