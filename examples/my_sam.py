"""A SAM optimizer in the two-step interface that davda54/sam made common, as a user would write it.

    opt = MySAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=0.1)
    loss_fn(model(x), y).backward(); opt.first_step(zero_grad=True)   # climb to w + e
    loss_fn(model(x), y).backward(); opt.second_step(zero_grad=True)  # base step from w with grad(w + e)

Check it against samcheck's SAM: ``python -m verify conform examples.my_sam:MySAM --as sam``.
"""
from __future__ import annotations

import torch


class MySAM(torch.optim.Optimizer):
    """SAM around ``base_optimizer`` (built on the same parameter groups with ``**kwargs``):
    e = rho g / ||g|| with the global norm over every parameter, e = 0 when g = 0."""

    def __init__(self, params, base_optimizer, rho: float = 0.05, **kwargs):
        if rho < 0:
            raise ValueError(f"rho={rho} must be >= 0")
        super().__init__(params, dict(rho=rho, **kwargs))
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        for group in self.param_groups:
            scale = group["rho"] / norm if norm > 0 else 0.0
            for p in group["params"]:
                if p.grad is None:
                    continue
                e = p.grad * scale
                self.state[p]["e"] = e
                p.add_(e)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if "e" in self.state[p]:
                    p.sub_(self.state[p].pop("e"))  # back to w before the base step
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()


def sam_step(x: torch.Tensor, grad_fn, state, hp: dict):
    """The same SAM as a functional step, x: (d,) -> x - lr grad(x + rho s/||s||), s = grad(x).

    Written without a Python ``if`` on tensor values (``torch.where``), so samcheck batches it over the
    runs with ``torch.func.vmap``: ``python -m verify conform examples.my_sam:sam_step --as sam``."""
    s = grad_fn(x)
    n = torch.linalg.vector_norm(s)
    e = torch.where(n > 0, hp["rho"] / n, torch.zeros_like(n)) * s
    return x - hp["lr"] * grad_fn(x + e), state
