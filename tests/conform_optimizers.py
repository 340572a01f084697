"""The suite's own small optimizers for tests/test_conform.py: correct ones and planted bugs.

Two-step (davda54/sam interface) SAM, functional SAM and ASAM, a self-contained step(closure) AdaSAM;
each buggy variant differs from its correct one in one place, named by its ``bug`` flag.
"""
from __future__ import annotations

import torch


def _global_norm(ts) -> torch.Tensor:
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in ts]))


def two_step_sam(bug: str | None = None) -> type:
    """SAM around a base optimizer. bugs: "rho_or_default" (rho = rho or 0.05: rho = 0 does not
    reduce), "eps_inside_norm" (||s|| as sqrt(||s||^2 + 1e-6)), "not_undone" (second_step keeps w + e); "plus_1e-12" is no bug: davda54/sam's
    ||s|| + 1e-12, the documented norm_eps."""

    class TwoStepSAM(torch.optim.Optimizer):
        def __init__(self, params, base_optimizer, rho=0.05, **kwargs):
            rho = (rho or 0.05) if bug == "rho_or_default" else rho
            super().__init__(params, dict(rho=rho, **kwargs))
            self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
            self.param_groups = self.base_optimizer.param_groups

        @torch.no_grad()
        def first_step(self, zero_grad=False):
            grads = [p.grad for g in self.param_groups for p in g["params"]]
            if bug == "eps_inside_norm":
                norm = torch.sqrt(sum((g * g).sum() for g in grads) + 1e-6)
            elif bug == "plus_1e-12":  # davda54/sam's rho / (||g|| + 1e-12): documented as norm_eps
                norm = _global_norm(grads) + 1e-12
            else:
                norm = _global_norm(grads)
            for group in self.param_groups:
                for p in group["params"]:
                    e = p.grad * (group["rho"] / norm) if norm > 0 else torch.zeros_like(p)
                    self.state[p]["e"] = e
                    p.add_(e)
            if zero_grad:
                self.zero_grad()

        @torch.no_grad()
        def second_step(self, zero_grad=False):
            for group in self.param_groups:
                for p in group["params"]:
                    if bug != "not_undone":
                        p.sub_(self.state[p]["e"])
            self.base_optimizer.step()
            if zero_grad:
                self.zero_grad()

    TwoStepSAM.__qualname__ = f"TwoStepSAM[{bug or 'correct'}]"
    return TwoStepSAM


def functional_sam(x, grad_fn, state, hp):
    """Correct functional SAM: x (d,) -> x - lr grad(x + rho s/||s||)."""
    s = grad_fn(x)
    n = torch.linalg.vector_norm(s)
    e = hp["rho"] * s / n if n > 0 else torch.zeros_like(x)
    return x - hp["lr"] * grad_fn(x + e), state


def functional_asam(bug: str | None = None):
    """ASAM, T = |x| + eta_A; bug "no_eta": T = |x| (eta dropped)."""
    def step(x, grad_fn, state, hp):
        s = grad_fn(x)
        T = x.abs() if bug == "no_eta" else x.abs() + hp["eta_A"]
        n = torch.linalg.vector_norm(T * s)
        e = hp["rho"] * T * T * s / n if n > 0 else torch.zeros_like(x)
        return x - hp["lr"] * grad_fn(x + e), state
    step.__qualname__ = f"functional_asam[{bug or 'correct'}]"
    return step


def closure_adasam(bug: str | None = None) -> type:
    """Self-contained AdaSAM with step(closure). bugs: "v0_eps2" (v starts at eps^2, as
    dimitris-oik/sam_sps), "state_twice" (m, v, vhat also updated with the ascent gradient),
    "not_undone" (the descent starts from w + e)."""

    class ClosureAdaSAM(torch.optim.Optimizer):
        def __init__(self, params, rho=0.05, lr=0.01, betas=(0.9, 0.999), eps=1e-8):
            super().__init__(params, dict(rho=rho, lr=lr, betas=betas, eps=eps))

        def _moments(self, p, group):
            b1, b2 = group["betas"]
            st = self.state[p]
            if "m" not in st:
                eps2 = group["eps"] ** 2
                st["m"] = torch.zeros_like(p)
                st["v"] = torch.full_like(p, eps2) if bug == "v0_eps2" else torch.zeros_like(p)
                st["vhat"] = torch.full_like(p, eps2)
            st["m"] = b1 * st["m"] + (1 - b1) * p.grad
            st["v"] = b2 * st["v"] + (1 - b2) * p.grad * p.grad
            st["vhat"] = torch.maximum(st["vhat"], st["v"])

        @torch.no_grad()
        def step(self, closure):
            ps = [p for g in self.param_groups for p in g["params"]]
            norm = _global_norm([p.grad for p in ps])
            for group in self.param_groups:
                for p in group["params"]:
                    if bug == "state_twice":
                        self._moments(p, group)
                    e = p.grad * (group["rho"] / norm) if norm > 0 else torch.zeros_like(p)
                    self.state[p]["e"] = e
                    p.add_(e)
            with torch.enable_grad():
                closure()
            for group in self.param_groups:
                for p in group["params"]:
                    if bug != "not_undone":
                        p.sub_(self.state[p]["e"])
                    self._moments(p, group)
                    st = self.state[p]
                    p.sub_(group["lr"] * st["m"] / st["vhat"].sqrt())

    ClosureAdaSAM.__qualname__ = f"ClosureAdaSAM[{bug or 'correct'}]"
    return ClosureAdaSAM


CorrectSAM = two_step_sam()
RhoZeroBug = two_step_sam("rho_or_default")
