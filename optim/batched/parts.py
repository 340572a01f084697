"""The parts a SAM-family rule is composed of: a perturbation (how e = c * v is built from the ascent
gradient s) and a descent (how the gradient g at x + e moves x), the way optax chains transforms.

Every part is a small stateless object with ``init`` (its state, from the rule's hyperparameters)
and ``__call__`` (one step). Shapes: x, s, g: (R, d); hyperparameters (R, 1) tensors (``rule.val``);
state tensors keep the leading run axis. ``key`` names a part in the registry (``Algorithm.
perturbation`` / ``Algorithm.descent``) and in the compiled loop's structure; defining a subclass
with its own ``key`` registers it in ``PERTURBATIONS`` or ``DESCENTS``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch

if TYPE_CHECKING:
    from .rules import Rule

State = dict[str, torch.Tensor]
PERTURBATIONS: dict[str, type[Perturbation]] = {}
DESCENTS: dict[str, type[Descent]] = {}


def inv_norm(s: torch.Tensor, norm_eps: float) -> torch.Tensor:
    """1 / (||s|| + norm_eps) row-wise as (R, 1), 0 where that denominator is 0 (s / (||s|| + eps)
    is then inv_norm * s, and a perturbation x + rho s / ||s|| one fused pass)."""
    nrm = torch.linalg.vector_norm(s, dim=-1, keepdim=True)
    if norm_eps:
        nrm = nrm + norm_eps
    return torch.where(nrm > 0, nrm.reciprocal(), 0.0)


def direction(x: torch.Tensor, s: torch.Tensor, operator: str, eta_A, norm_eps: float):
    """The (A)SAM direction T*T*s / ||T*s|| as a pair (k: (R, 1), v: (R, d)) with direction = k * v,
    T = |x| + eta_A (official), |x|, or 1 (SAM's s / ||s||)."""
    if operator == "identity":
        return inv_norm(s, norm_eps), s
    Tw = x.abs() + eta_A if operator == "abs_plus_eta" else x.abs()
    Ts = Tw * s
    return inv_norm(Ts, norm_eps), Tw * Ts


class Part:
    """A piece of a composed rule; ``init`` gives its state (none by default)."""

    key: ClassVar[str]

    def init(self, rule: Rule) -> State:
        """The part's state entries, from the rule's (R, 1) hyperparameters."""
        return {}


class Perturbation(Part):
    """e = c * v from the ascent gradient s: ``__call__`` returns (c: (R, 1) or a scalar, v: (R, d))."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "key" in cls.__dict__:
            PERTURBATIONS[cls.key] = cls

    def __call__(self, rule: Rule, x: torch.Tensor, s: torch.Tensor, t, st: State, out: State):
        raise NotImplementedError

    def gradient(self, rule: Rule, x: torch.Tensor, S: dict, t, st: State, out: State) -> torch.Tensor:
        """The gradient the descent follows, (R, d): at x + e (one fused pass), e from s = grad_S(x);
        on S' (stream "S2") when it is drawn."""
        grad = rule.problem.stoch_grad
        c, v = self(rule, x, grad(x, S["S"]), t, st, out)
        return grad(torch.addcmul(x, c, v), S.get("S2", S["S"]))


class Descent(Part):
    """x_{t+1}: (R, d) from x and the (perturbed) gradient g, updating the state ``st``."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "key" in cls.__dict__:
            DESCENTS[cls.key] = cls

    def __call__(self, rule: Rule, x: torch.Tensor, g: torch.Tensor, t, st: State, out: State) -> torch.Tensor:
        raise NotImplementedError


# ----------------------------------------------------------------------------------------------
# perturbations

class NoPerturbation(Perturbation):
    """The base methods: g = grad_S(x), one gradient a step."""

    key = "none"

    def gradient(self, rule: Rule, x: torch.Tensor, S: dict, t, st: State, out: State) -> torch.Tensor:
        return rule.problem.stoch_grad(x, S["S"])


class SAM(Perturbation):
    """e = rho_t s / ||s|| (0 at s = 0)."""

    key = "sam"

    def __call__(self, rule, x, s, t, st, out):
        return rule.val("rho", t) * inv_norm(s, rule.norm_eps), s


class USAM(Perturbation):
    """e = rho_t s (unnormalised)."""

    key = "usam"

    def __call__(self, rule, x, s, t, st, out):
        return rule.val("rho", t), s


class Unified(Perturbation):
    """e = rho_t ((1 - lambda_t) + lambda_t / ||s||) s: lam = 1 is SAM's pair, lam = 0 USAM's, bit for bit."""

    key = "unified"

    def __call__(self, rule, x, s, t, st, out):
        lam = rule.val("lam", t)
        return rule.val("rho", t) * ((1 - lam) + lam * inv_norm(s, rule.norm_eps)), s


class ASAM(Perturbation):
    """e = rho_t T*T*s / ||T*s||, T by the ``operator`` option (identity: SAM's pair bit for bit)."""

    key = "asam"

    def __call__(self, rule, x, s, t, st, out):
        k, v = direction(x, s, rule.opts["operator"], rule.hp["eta_A"], rule.norm_eps)
        return rule.val("rho", t) * k, v


class AdaptiveAscent(Perturbation):
    """LightSAM's ascents: the pair from ``pair`` and the effective radius ||e|| = c ||v|| (c >= 0)
    recorded in ``out["eff_radius"]``: (R,)."""

    def __call__(self, rule, x, s, t, st, out):
        c, v = self.pair(rule, s, rule.val("rho", t), st)
        out["eff_radius"] = (c * torch.linalg.vector_norm(v, dim=-1, keepdim=True))[:, 0]
        return c, v

    def pair(self, rule: Rule, s: torch.Tensor, rho: torch.Tensor, st: State):
        raise NotImplementedError


class AdaGradNormAscent(AdaptiveAscent):
    """LightSAM-I: u_t = u + ||s||^2 (u: (R, 1), u_{-1} = eps^2); e = rho_t s / sqrt(u_t)."""

    key = "lightsam1"

    def init(self, rule):
        return {"u": rule.full(rule.hp["eps"] * rule.hp["eps"], 1)}

    def pair(self, rule, s, rho, st):
        st["u"] = st["u"] + (s * s).sum(-1, keepdim=True)
        return rho * st["u"].rsqrt(), s


class AdaGradAscent(AdaptiveAscent):
    """LightSAM-II: per-coordinate u_t = u + s*s (u_{-1} = eps^2 1); e = rho_t s / sqrt(u_t)."""

    key = "lightsam2"

    def init(self, rule):
        return {"u": rule.full(rule.hp["eps"] * rule.hp["eps"])}

    def pair(self, rule, s, rho, st):
        st["u"] = st["u"] + s * s
        return rho, s * st["u"].rsqrt()


class AdamAscent(AdaptiveAscent):
    """LightSAM-III [reconstructed]: r_t = b1 r + (1-b1) s, u_t = b2 u + (1-b2) s*s (r_{-1} = 0,
    u_{-1} = eps^2); e = rho_t r_t / sqrt(u_t) (``perturb_with="gradient"``: s instead of r_t)."""

    key = "lightsam3"

    def init(self, rule):
        return {"r": rule.zeros(), "u": rule.full(rule.hp["eps"] * rule.hp["eps"])}

    def pair(self, rule, s, rho, st):
        b1, b2 = rule.hp["b1"], rule.hp["b2"]
        st["r"] = b1 * st["r"] + (1 - b1) * s
        st["u"] = b2 * st["u"] + (1 - b2) * s * s
        v = st["r"] if rule.opts["perturb_with"] == "momentum" else s
        return rho, v * st["u"].rsqrt()


# ----------------------------------------------------------------------------------------------
# descents

def accumulator_start(rule: Rule) -> torch.Tensor:
    """The adaptive accumulators' start, (R, 1): eps^2, or 0 with eps_mode='add'."""
    eps = rule.hp["eps"]
    return eps * 0 if rule.opts.get("eps_mode", "init") == "add" else eps * eps


def inv_sqrt(rule: Rule, v: torch.Tensor) -> torch.Tensor:
    """1 / sqrt(v) (1 / (sqrt(v) + eps) with eps_mode='add'), to multiply by. Measured on CPU in
    float64: torch's rsqrt equals 1 / np.sqrt(v) bit for bit and is 2.7x faster than torch.sqrt
    (which differs from np.sqrt by 1 ulp in ~1% of entries); CUDA's rsqrt is within 1 ulp."""
    if rule.opts.get("eps_mode", "init") == "add":
        return (v.sqrt() + rule.hp["eps"]).reciprocal()
    return v.rsqrt()


class SGD(Descent):
    """x_{t+1} = x - lr_t g."""

    key = "sgd"

    def __call__(self, rule, x, g, t, st, out):
        return torch.addcmul(x, rule.val("lr", t), g, value=-1)  # x - lr g in one pass


class AdaGradNorm(Descent):
    """v_t = v + ||g||^2 (v: (R, 1)); x_{t+1} = x - lr_t g / sqrt(v_t)."""

    key = "adagrad_norm"

    def init(self, rule):
        return {"v": rule.full(accumulator_start(rule), 1)}

    def __call__(self, rule, x, g, t, st, out):
        lr = rule.val("lr", t)
        st["v"] = st["v"] + (g * g).sum(-1, keepdim=True)
        return torch.addcmul(x, lr * g, inv_sqrt(rule, st["v"]), value=-1)


class AdaGrad(Descent):
    """Per-coordinate v_t = v + g*g; x_{t+1} = x - lr_t g / sqrt(v_t)."""

    key = "adagrad"

    def init(self, rule):
        return {"v": rule.full(accumulator_start(rule))}

    def __call__(self, rule, x, g, t, st, out):
        lr = rule.val("lr", t)
        st["v"] = st["v"] + g * g
        return torch.addcmul(x, lr * g, inv_sqrt(rule, st["v"]), value=-1)


class Adam(Descent):
    """m_t = b1 m + (1-b1) g, v_t = b2 v + (1-b2) g*g (m_{-1} = 0, v_{-1} = eps^2, or 0 with v0='zero');
    x_{t+1} = x - lr_t m_t / sqrt(v_t), bias-corrected when the option is on."""

    key = "adam"

    def init(self, rule):
        eps = rule.hp["eps"]
        v0 = eps * 0 if rule.opts.get("v0", "eps2") == "zero" else accumulator_start(rule)
        return {"m": rule.zeros(), "v": rule.full(v0)}

    def moments(self, rule: Rule, g: torch.Tensor, st: State) -> None:
        """m_t and v_t into ``st``."""
        st["m"] = torch.lerp(st["m"], g, 1 - rule.hp["b1"])  # b1 m + (1 - b1) g in one pass
        st["v"] = torch.lerp(st["v"], g * g, 1 - rule.hp["b2"])  # b2 v + (1 - b2) g g

    def __call__(self, rule, x, g, t, st, out):
        lr = rule.val("lr", t)
        self.moments(rule, g, st)
        m, v = st["m"], st["v"]
        if rule.opts.get("bias_correction"):
            m = m / (1 - rule.hp["b1"] ** (t + 1))
            v = v / (1 - rule.hp["b2"] ** (t + 1))
        return torch.addcmul(x, lr * m, inv_sqrt(rule, v), value=-1)


class AMSGrad(Adam):
    """Adam's moments plus vhat_t = max(vhat, v_t) (vhat_{-1} = eps^2); x_{t+1} = x - lr_t m_t / sqrt(vhat_t)."""

    key = "amsgrad"

    def init(self, rule):
        return {**super().init(rule), "vhat": rule.full(accumulator_start(rule))}

    def __call__(self, rule, x, g, t, st, out):
        lr = rule.val("lr", t)
        self.moments(rule, g, st)
        st["vhat"] = torch.maximum(st["vhat"], st["v"])
        inv = inv_sqrt(rule, st["vhat"])
        self.record(lr, inv, out)
        return torch.addcmul(x, lr * st["m"], inv, value=-1)

    def record(self, lr: torch.Tensor, inv: torch.Tensor, out: State) -> None:
        """Plain AMSGrad records nothing."""


class AdaSAMDescent(AMSGrad):
    """AdaSAM's AMSGrad: also records the per-coordinate step's extremes, out["step_min"] and
    out["step_max"]: (R,)."""

    key = "adasam"

    def record(self, lr, inv, out):
        # min_j lr inv_j = lr min_j inv_j exactly (rounding is monotone)
        out["step_min"] = lr[:, 0] * inv.amin(-1)
        out["step_max"] = lr[:, 0] * inv.amax(-1)
