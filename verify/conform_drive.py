"""Drive a user's optimizer on one problem with pre-drawn samples, logging every gradient it asks for.

Three interfaces (``interface_of``):

- ``"two_step"``: a ``torch.optim.Optimizer`` with ``first_step(zero_grad=...)`` / ``second_step(zero_grad=...)``
  (the davda54/sam interface). Per step the driver sets the gradient at x_t, calls ``first_step``, sets
  the gradient at the (perturbed) parameters, calls ``second_step`` (with zero_grad=True where they take it).
- ``"closure"``: a ``torch.optim.Optimizer`` with ``step(closure)``. The driver sets the gradient at x_t
  (as a training loop's ``loss.backward()`` would) and calls ``step(closure)``; every ``closure()`` sets
  the gradient at the current parameters and returns the sample loss.
- ``"functional"``: ``step(x, grad_fn, state, hp) -> (x, state)`` with ``x: (d,)`` a torch tensor,
  ``grad_fn(z: (d,)) -> (d,)`` (torch in, torch out in z's dtype; NumPy in, NumPy out), ``state`` None on
  the first call, ``hp`` the validated hyperparameters of the algorithm.

Samples: a gradient asked for at exactly x_t (the step's starting point) uses the ascent sample S_t,
anywhere else the descent sample (S_t, or S'_t under ``same_sample=False``), as in the reference.
Gradients are evaluated in float64 at the parameters' values and rounded to their dtype.
The parameters are two tensors (x[:h], x[h:]), so a norm taken per tensor instead of globally shows.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from problems.sample import Sample


@dataclass
class Drive:
    """One run of the user's optimizer: iterates ``x: (T+1, d)`` (float64 copies), the points of the
    gradient calls of every step ``calls[t]: list of (d,)``, and ``error`` (a one-line description of an
    exception raised at step ``error_step``) when the run stopped early."""

    x: np.ndarray
    calls: list = field(default_factory=list)
    error: str | None = None
    error_step: int | None = None


class SpecAMSGrad(torch.optim.Optimizer):
    """AMSGrad as inside AdaSAM (the base optimizer handed to a two-step wrapper for ``--as adasam``):
    m_{-1} = 0, v_{-1} = 0 (``v0="eps2"``: eps^2), vhat_{-1} = eps^2, no bias correction,
    p <- p - lr m / sqrt(vhat)."""

    def __init__(self, params, lr: float, betas: tuple = (0.9, 0.999), eps: float = 1e-8, v0: str = "zero"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, v0=v0))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            eps = group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["m"] = torch.zeros_like(p)
                    st["v"] = torch.full_like(p, eps * eps if group["v0"] == "eps2" else 0.0)
                    st["vhat"] = torch.full_like(p, eps * eps)
                g = p.grad
                st["m"] = b1 * st["m"] + (1 - b1) * g
                st["v"] = b2 * st["v"] + (1 - b2) * g * g
                st["vhat"] = torch.maximum(st["vhat"], st["v"])
                p.sub_(group["lr"] * st["m"] / st["vhat"].sqrt())


def interface_of(obj) -> str:
    """"two_step", "closure" or "functional"; a ValueError (one line) for anything else."""
    if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer):
        return "two_step" if hasattr(obj, "first_step") and hasattr(obj, "second_step") else "closure"
    if isinstance(obj, type):
        raise ValueError(f"{obj.__name__} is a class but not a torch.optim.Optimizer subclass: give an Optimizer "
                         "(first_step/second_step or step(closure)) or a function step(x, grad_fn, state, hp)")
    if callable(obj):
        return "functional"
    raise ValueError(f"{type(obj).__name__} object is neither an Optimizer class nor a callable step(x, grad_fn, state, hp)")


def constructor(cls: type, hp: dict, base: Callable | None) -> tuple[Callable, dict, list]:
    """How the Optimizer class is built: ``Cls(params, base, **kw)`` when its second parameter (after
    params) has no default or is named base_optimizer, else ``Cls(params, **kw)``. ``kw`` holds rho and
    lr (also through ``**kwargs``, which davda54/sam forwards to the base optimizer), every other
    hyperparameter its signature names, and ``betas=(b1, b2)`` when it names betas. Returns the
    factory of params, the keywords passed and the real-valued hyperparameters it does not take (the
    choice and bool options are conventions: the fingerprint finds the one it implements)."""
    sig = inspect.signature(cls.__init__)
    ps = list(sig.parameters.values())[1:]  # without self
    names = {p.name for p in ps if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    var_kw = any(p.kind == p.VAR_KEYWORD for p in ps)
    kw = {k: hp[k] for k in hp if k in names or (var_kw and k in ("lr", "rho"))}
    if "betas" in names and "b1" in hp:
        kw["betas"] = (hp["b1"], hp["b2"])
    taken = set(kw) | ({"b1", "b2"} if "betas" in kw else set())
    conventions = {k for k, v in hp.items() if isinstance(v, (str, bool))}  # the fingerprint's, not the constructor's
    wants_base = len(ps) > 1 and ps[1].kind == ps[1].POSITIONAL_OR_KEYWORD and (
        ps[1].default is inspect.Parameter.empty or ps[1].name.startswith("base"))
    if wants_base:
        kw.pop(ps[1].name, None)
        if base is None:
            raise ValueError(f"{cls.__name__} takes a base optimizer ({ps[1].name}) but this algorithm has no "
                             "torch base optimizer here: write it as one self-contained Optimizer")
        return (lambda params: cls(params, base, **kw)), kw, sorted(set(hp) - taken - conventions)
    return (lambda params: cls(params, **kw)), kw, sorted(set(hp) - taken - conventions)


class Oracle:
    """The gradients of one run: step t's samples, the ascent sample at x_t, the descent one elsewhere;
    every call logged."""

    def __init__(self, problem, S: list[Sample], S_descent: list[Sample]) -> None:
        self.problem, self.S, self.S_descent = problem, S, S_descent
        self.calls: list[list[np.ndarray]] = []

    def begin(self, t: int, x: np.ndarray) -> None:
        self.t, self.x_t = t, x.copy()
        self.calls.append([])

    def sample(self, x: np.ndarray) -> Sample:
        return self.S[self.t] if np.array_equal(x, self.x_t) else self.S_descent[self.t]

    def grad(self, x: np.ndarray) -> np.ndarray:
        self.calls[-1].append(x.copy())
        return self.problem.stoch_grad(x, self.sample(x))

    def loss(self, x: np.ndarray) -> float:
        return float(self.problem.stoch_f(x, self.sample(x)))


def _split(d: int) -> int:
    return max(1, d // 2)


def drive(obj, interface: str, factory: Callable | None, hp: dict, oracle: Oracle, x0: np.ndarray, T: int,
          dtype: torch.dtype = torch.float64) -> Drive:
    """T steps of the user's optimizer from ``x0: (d,)`` (see the module docstring); an exception in
    the user's code ends the run and is recorded, not raised."""
    h = _split(x0.size)
    xs = []
    try:
        if interface == "functional":
            return _drive_functional(obj, hp, oracle, x0, T, dtype)
        params = [torch.nn.Parameter(torch.tensor(c, dtype=dtype)) for c in (x0[:h], x0[h:])]
        flat = lambda: torch.cat([p.detach().reshape(-1) for p in params]).double().numpy()  # noqa: E731
        def set_grads(g: np.ndarray) -> None:
            for p, c in zip(params, (g[:h], g[h:])):
                p.grad = torch.tensor(c, dtype=dtype).reshape(p.shape)
        def closure():
            x = flat()
            set_grads(oracle.grad(x))
            return torch.tensor(oracle.loss(x), dtype=dtype)
        opt = factory(params)
        zero = {"zero_grad": True} if interface == "two_step" and _takes_zero_grad(opt) else {}
        xs.append(flat())
        for t in range(T):
            oracle.begin(t, xs[-1])
            set_grads(oracle.grad(xs[-1]))
            if interface == "two_step":
                opt.first_step(**zero)
                set_grads(oracle.grad(flat()))
                opt.second_step(**zero)
            else:
                opt.step(closure)
            xs.append(flat())
    except Exception as e:  # the user's code failed: a finding, reported with its step
        first = (str(e).splitlines() or [""])[0][:160]
        return Drive(_pad(xs, T, x0.size), oracle.calls, f"{type(e).__name__}: {first}",
                     len(oracle.calls) - 1 if oracle.calls else None)
    return Drive(np.stack(xs), oracle.calls)


def _takes_zero_grad(opt) -> bool:
    """Whether first_step and second_step take zero_grad (some copies of davda54/sam drop it; the
    driver sets every gradient itself, so either works)."""
    return all("zero_grad" in inspect.signature(getattr(opt, m)).parameters for m in ("first_step", "second_step"))


def _drive_functional(step, hp, oracle, x0, T, dtype) -> Drive:
    def grad_fn(z):
        if isinstance(z, torch.Tensor):
            return torch.tensor(oracle.grad(z.detach().double().numpy()), dtype=z.dtype)
        return oracle.grad(np.asarray(z, dtype=np.float64)).astype(np.asarray(z).dtype)
    x, state = torch.tensor(x0, dtype=dtype), None
    xs = [x.double().numpy()]
    for t in range(T):
        oracle.begin(t, xs[-1])
        try:
            x, state = step(x, grad_fn, state, dict(hp))
            x = torch.as_tensor(x).to(dtype)
        except Exception as e:  # the user's code failed: a finding, reported with its step
            first = (str(e).splitlines() or [""])[0][:160]
            return Drive(_pad(xs, T, x0.size), oracle.calls, f"{type(e).__name__}: {first}", t)
        xs.append(x.detach().double().numpy().reshape(-1).copy())
    return Drive(np.stack(xs), oracle.calls)


def _pad(xs: list, T: int, d: int) -> np.ndarray:
    """The iterates of a run that stopped early, NaN after the last one."""
    out = np.full((T + 1, d), np.nan)
    if xs:
        out[: len(xs)] = np.stack(xs)
    return out
