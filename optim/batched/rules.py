"""Batched update rules: R independent runs at once, x: (R, d), hyperparameters (R, 1) tensors.

A SAM-family rule is a perturbation part (how e is built from the ascent gradient s) composed with
a descent part (how the perturbed gradient g moves x), both from ``optim.batched.parts`` and named
by the algorithm's registration (``Algorithm.perturbation``, ``Algorithm.descent``); the base
methods have the perturbation "none". LETS is its own rule. Every rule keeps its state as tensors
with a leading run axis and never loops over runs.
"""
from __future__ import annotations

import torch

from ..registry import get
from ..schedules import Schedule
from .parts import DESCENTS, PERTURBATIONS, Descent, Perturbation, direction


class Rule:
    """Base: holds the problem, hyperparameters as (R, 1) tensors or Schedules, and state; ``extras``
    are the registration's recorded quantities, ``key`` what the compiled loop's structure adds
    to the name (the parts' keys)."""

    key: tuple[str, ...] = ()

    def __init__(self, name: str, problem, hp: dict, R: int, d: int, like: torch.Tensor) -> None:
        self.name, self.problem, self.R, self.d = name, problem, R, d
        self.extras: tuple[str, ...] = get(name).extras
        self.opts = {k: v for k, v in hp.items() if not _is_real(v)}
        self.hp = {k: _to_tensor(v, R, like) for k, v in hp.items() if _is_real(v)}
        self.norm_eps = float(hp.get("norm_eps", 0.0))
        self.state: dict[str, torch.Tensor] = {}
        self.out: dict[str, torch.Tensor] = {}
        self.like = like

    def val(self, key: str, t: int) -> torch.Tensor:
        """Hyperparameter ``key`` at step t as an (R, 1) tensor."""
        v = self.hp[key]
        return v.at(t, v.c) if isinstance(v, Schedule) else v

    def zeros(self, width: int | None = None) -> torch.Tensor:
        return self.like.new_zeros(self.R, self.d if width is None else width)

    def full(self, value: torch.Tensor, width: int | None = None) -> torch.Tensor:
        """An (R, width) tensor holding the per-run ``value: (R, 1)`` in every column."""
        return value.expand(self.R, self.d if width is None else width).clone()


def _is_real(v) -> bool:
    return isinstance(v, Schedule) or (not isinstance(v, (str, bool)) and v is not None)


def _to_tensor(v, R: int, like: torch.Tensor):
    """Constants become (R, 1) tensors; a Schedule keeps its kind with c as an (R, 1) tensor."""
    if isinstance(v, Schedule):
        c = torch.as_tensor(v.values, dtype=like.dtype, device=like.device).reshape(-1, 1).expand(R, 1)
        return Schedule(v.kind, c, v.mu, v.t0)
    t = torch.as_tensor(v, dtype=like.dtype, device=like.device).reshape(-1, 1)
    return t.expand(R, 1).contiguous()


class SAMFamily(Rule):
    """A perturbation part composed with a descent part (``optim.batched.parts``): s = grad_S(x),
    e = c * v from s, g = grad_S(x + e), x_{t+1} = descent(x, g); the base methods have the
    perturbation "none" (g = grad_S(x))."""

    def __init__(self, name, problem, hp, R, d, like, perturbation: Perturbation, descent: Descent):
        super().__init__(name, problem, hp, R, d, like)
        self.perturbation, self.descent = perturbation, descent
        self.key = (perturbation.key, descent.key)
        self.state.update(descent.init(self))
        self.state.update(perturbation.init(self))

    def step(self, x: torch.Tensor, t, S: dict, state: dict | None = None, out: dict | None = None) -> torch.Tensor:
        """x_{t+1} from x: (R, d) and step t's samples S; the state and extras are updated in ``state``
        and ``out`` (default: the rule's own; the compiled engine passes the loop's)."""
        st = self.state if state is None else state
        out = self.out if out is None else out
        g = self.perturbation.gradient(self, x, S, t, st, out)
        return self.descent(self, x, g, t, st, out)


class LETS(Rule):
    """LETS-SAM / LETS-ASAM [reconstructed]: a SAM (ASAM) lower step whose radius rho_t is learned
    by hypergradient descent on J = 1/2 (L_val - L_train)^2 (docs/algorithms.md#lets). The lower step's
    direction is SAM's (ASAM's where the registration has the ``operator`` option), ``parts.direction``."""

    def __init__(self, name, problem, hp, R, d, like):
        super().__init__(name, problem, hp, R, d, like)
        self.val_problem = getattr(problem, "val", None) or problem
        rho0 = self.hp["rho"].clone()
        self.state["rho"] = rho0
        if self.opts["rho_constraint"] == "softplus":
            if bool((rho0 <= 0).any()):
                raise ValueError("rho_constraint='softplus' needs rho > 0: softplus never reaches 0")
            self.state["theta"] = torch.log(torch.expm1(rho0))
        self.out["rho"] = rho0[:, 0]

    def direction(self, x, s):
        """The lower step's direction n = k * v as the pair (k, v) (see ``parts.direction``)."""
        return direction(x, s, self.opts.get("operator", "identity"), self.hp.get("eta_A"), self.norm_eps)

    def lower(self, x, kv, rho, lr, S):
        """(w = x + rho n, g = grad_S(w), x_{t+1}): x + rho n fused as in the SAM perturbation and the
        move as in the SGD descent part, so beta = 0 is SAM bit for bit."""
        k, v = kv
        w = torch.addcmul(x, rho * k, v)
        g = self.problem.stoch_grad(w, S["S"])
        return w, g, torch.addcmul(x, lr, g, value=-1)

    def hypergrad(self, w, g, n, x1, lr, S):
        P, V = self.problem, self.val_problem
        St = S.get("S2", S["S"])
        delta = V.stoch_f(x1, S["V"]) - P.stoch_f(x1, St)
        dgrad = V.stoch_grad(x1, S["V"]) - P.stoch_grad(x1, St)
        h = self.opts["hessian"]
        if h == "exact":
            Hn = P.stoch_hvp(w, n, S["S"])
        elif h == "diag_gn":
            Hn = g * g * n
        elif h == "identity":
            Hn = n
        else:
            z = S["Z"].noise
            Hn = z * P.stoch_hvp(w, z, S["S"]) * n
        return (delta * (dgrad * (-lr * Hn)).sum(-1))[:, None]

    def update_rho(self, hg, t, st: dict, out: dict):
        beta = self.hp["beta"]
        c = self.opts["rho_constraint"]
        if c == "softplus":
            st["theta"] = st["theta"] - beta * hg * torch.sigmoid(st["theta"])
            rho = torch.nn.functional.softplus(st["theta"])
        else:
            rho = st["rho"] - beta * hg
            if c == "clamp0":
                rho = rho.clamp(min=0.0)
        if "rho_max" in self.hp:
            rho = torch.minimum(rho, self.val("rho_max", t + 1))
            if c == "softplus":
                st["theta"] = torch.log(torch.expm1(rho))
        st["rho"] = rho
        out["rho"] = rho[:, 0]

    def step(self, x, t, S, state: dict | None = None, out: dict | None = None):
        """x_{t+1} and the new radius (in ``state`` and ``out``, default the rule's own)."""
        st = self.state if state is None else state
        out = self.out if out is None else out
        lr = self.val("lr", t)
        kv = self.direction(x, self.problem.stoch_grad(x, S["S"]))
        w, g, x1 = self.lower(x, kv, st["rho"], lr, S)
        self.update_rho(self.hypergrad(w, g, kv[0] * kv[1], x1, lr, S), t, st, out)
        if self.opts["order"] == "upper_first":
            _, _, x1 = self.lower(x, kv, st["rho"], lr, S)
        return x1


OVERRIDES: dict = {}   # name -> factory(problem, hp, R, d, like): a user's optimizer in its place (verify.user_rule)


def make_rule(name: str, problem, hp: dict, R: int, d: int, like: torch.Tensor) -> Rule:
    """The batched rule of a registered algorithm with validated hyperparameters ``hp``: LETS, or the
    registration's perturbation and descent parts composed (or a user's optimizer in its place: OVERRIDES)."""
    if name in OVERRIDES:
        return OVERRIDES[name](problem, hp, R, d, like)
    algo = get(name)
    if algo.rule == "lets":
        return LETS(name, problem, hp, R, d, like)
    return SAMFamily(name, problem, hp, R, d, like, PERTURBATIONS[algo.perturbation](), DESCENTS[algo.descent]())
