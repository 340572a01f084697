"""Mutation suite (docs/claims.md#mutants): inject one bug at a time into the
batched ENGINE (optim/batched/rules.py and parts.py, problems/samplers.py) by monkeypatching in memory (never on
disk) and check that at least one fast detector notices.

Detectors (each returns True when it sees a discrepancy):
- contract:*   the NumPy reference (the independent specification, never patched) and the engine,
               fed the same pre-drawn samples, agree within 1e-12 relative at every step
               (a few (algorithm, case) pairs, T = 60, R = 3);
- reduce:*     exact reductions inside the engine: rho = 0 is SGD / AMSGrad(v0=zero), lam = 0/1 is
               USAM/SAM, LETS beta = 0 is fixed-radius SAM (bit for bit);
- unbiased:importance  Monte Carlo mean of the importance sampler's gradient vs the full gradient,
               CLT bound (|z| <= 5 per coordinate);
- claim:sam_floor  a mini sam.constant_rho_floor: the mean SAM iterate on two_quadratics (constant
               rho, gamma_t = 1/(t+1)) sits at Si & Yun's fixed point x_hat within a CLT bound.

Honest limits: the importance-sampling mutant patches the sampler that both the reference and the
engine replay, so the contract cannot see it (only the unbiasedness detector can); a mutant of a
schedule only shows where a schedule of that kind is in use (contract:schedules uses inv_sqrt_t and
unified_rho); on two_quadratics with p = 0.5 the importance weights are all 1, so the floor claim is
blind to the reweighting mutant.

`pytest -s tests/test_mutants.py` prints the kill table.
"""
from __future__ import annotations

import contextlib
import time

import numpy as np
import pytest
import torch

from optim import Schedule, streams, validate
from optim.batched import parts, rules
from optim.batched import run
from optim.reference import run_reference
from problems import Importance, Sample, TwoQuadratics, Uniform, make_problem
from problems import samplers

from helpers import one_run, pre_draw

T, R, RTOL = 60, 3, 1e-12


# ----------------------------------------------------------------------------------------------
# Shared pieces (a small equivalent of tests/test_contract.py, kept local so this file does not
# depend on another test module's constants).

def _ridge():
    return make_problem("ridge", n=40, d=6, seed=2)


def _logistic():
    return make_problem("logistic", n=40, n_val=30, d=6, seed=4)


def contract_disagrees(name, problem, sampler, hp) -> bool:
    """True when engine and reference differ by more than RTOL (relative) at some step, in an
    extra, or when the engine run diverges."""
    names = streams(name, validate(name, dict(hp), R))
    samples = pre_draw(problem, sampler, names, T, R)
    x0 = np.random.default_rng(0).standard_normal((R, problem.d))
    eng = run(name, problem, sampler, dict(hp), T=T, R=R, x0=x0, samples=samples, trajectory=True, running=False)
    if eng.diverged.any():
        return True
    for r in range(R):
        ref = run_reference(name, problem, {k: [s.run(r) for s in v] for k, v in samples.items()}, x0[r], T,
                            one_run(hp, r))
        diff = np.linalg.norm(eng.trajectory[:, r] - ref["x"], axis=1)
        if not np.all(diff <= RTOL * np.linalg.norm(ref["x"], axis=1)):
            return True
        for key, vals in eng.extras_trajectory.items():
            ref_vals = ref[key][1:] if key == "rho" else ref[key]
            if not np.all(np.abs(vals[:, r] - ref_vals) <= RTOL * np.abs(ref_vals).max()):
                return True
    return False


def _sgd_lr(problem):
    return np.array([0.2, 0.4, 0.6]) / problem.L_max


RHO = np.array([0.01, 0.05, 0.1])
ADA_LR = np.array([0.01, 0.02, 0.05])
EPS = np.array([1e-8, 1e-3, 0.1])


def _contract(name, make, hp_fn, sampler=None):
    def detector():
        problem = make()
        return contract_disagrees(name, problem, sampler or Uniform(), hp_fn(problem))
    return detector


CONTRACT = {
    "contract:sam": _contract("sam", _ridge, lambda p: {"lr": _sgd_lr(p), "rho": RHO}),
    "contract:unified_sam": _contract("unified_sam", _ridge,
                                      lambda p: {"lr": _sgd_lr(p), "rho": RHO, "lam": np.array([0.0, 0.3, 1.0])}),
    "contract:asam": _contract("asam", _ridge,
                               lambda p: {"lr": _sgd_lr(p), "rho": RHO, "eta_A": np.array([0.01, 0.1, 1.0])}),
    "contract:adasam": _contract("adasam", _ridge, lambda p: {"lr": ADA_LR, "rho": RHO, "eps": EPS}),
    "contract:adam": _contract("adam", _ridge, lambda p: {"lr": ADA_LR, "eps": EPS}),
    "contract:adagrad_norm": _contract("adagrad_norm", _ridge, lambda p: {"lr": ADA_LR, "eps": EPS}),
    "contract:lets_sam": _contract("lets_sam", _logistic, lambda p: {"lr": _sgd_lr(p), "rho": RHO,
                                                                     "beta": np.array([0.0, 0.005, 0.02])},
                                   sampler=Uniform(batch=2)),
    "contract:schedules": _contract("sam", _ridge, lambda p: {
        "lr": Schedule("inv_sqrt_t", np.array([0.1, 0.2, 0.3])), "rho": Schedule("unified_rho", RHO)}),
}


def _engine_traj(name, problem, hp, samples, x0):
    tr = run(name, problem, Uniform(), dict(hp), T=T, R=R, x0=x0, samples=samples, trajectory=True, running=False)
    return tr.trajectory


def _reduction_pairs(pairs, make, sampler=None) -> bool:
    """True when some (algorithm, hp) pair does not reproduce its base bit for bit."""
    problem = make()
    sampler = sampler or Uniform()
    x0 = np.random.default_rng(1).standard_normal((R, problem.d))
    for (a, hp_a), (b, hp_b) in pairs:
        names = sorted(set(streams(a, validate(a, dict(hp_a), R))) | set(streams(b, validate(b, dict(hp_b), R))))
        samples = pre_draw(problem, sampler, names, T, R, seed=7)
        ta = run(a, problem, sampler, dict(hp_a), T=T, R=R, x0=x0, samples=samples, trajectory=True, running=False)
        tb = run(b, problem, sampler, dict(hp_b), T=T, R=R, x0=x0, samples=samples, trajectory=True, running=False)
        if not np.array_equal(ta.trajectory, tb.trajectory):
            return True
    return False


def reduce_rho0() -> bool:
    p = _ridge()
    lr, zero = _sgd_lr(p), np.zeros(R)
    return _reduction_pairs([
        (("sam", {"lr": lr, "rho": zero}), ("sgd", {"lr": lr})),
        (("unified_sam", {"lr": lr, "rho": zero, "lam": np.array([0.0, 0.3, 1.0])}), ("sgd", {"lr": lr})),
        (("asam", {"lr": lr, "rho": zero}), ("sgd", {"lr": lr})),
        (("adasam", {"lr": ADA_LR, "rho": zero, "eps": EPS}), ("amsgrad", {"lr": ADA_LR, "eps": EPS, "v0": "zero"})),
    ], _ridge)


def reduce_lam() -> bool:
    p = _ridge()
    lr = _sgd_lr(p)
    return _reduction_pairs([
        (("unified_sam", {"lr": lr, "rho": RHO, "lam": 0.0}), ("usam", {"lr": lr, "rho": RHO})),
        (("unified_sam", {"lr": lr, "rho": RHO, "lam": 1.0}), ("sam", {"lr": lr, "rho": RHO})),
    ], _ridge)


def reduce_beta0() -> bool:
    p = _logistic()
    lr = _sgd_lr(p)
    return _reduction_pairs([
        (("lets_sam", {"lr": lr, "rho": RHO, "beta": 0.0}), ("sam", {"lr": lr, "rho": RHO})),
    ], _logistic, Uniform(batch=2))


def unbiased_importance(N: int = 4000, z_max: float = 5.0) -> bool:
    """True when the importance-sampled gradient's Monte Carlo mean misses the full gradient by more
    than z_max standard errors in some coordinate (batch 1 and 3, two points). Drawn in chunks of
    200 rows (see claim_sam_floor on torch.searchsorted)."""
    problem = make_problem("ridge", n=40, d=6, row_spread=5.0, seed=2)
    gen = torch.Generator().manual_seed(123)
    rng = np.random.default_rng(5)
    for batch in (1, 3):
        for _ in range(2):
            x = torch.as_tensor(rng.standard_normal(problem.d)).expand(N // 200 * 200, problem.d)
            chunks = [Importance(batch=batch).draw(problem, 200, gen) for _ in range(N // 200)]
            s = Sample(idx=torch.cat([c.idx for c in chunks]), w=torch.cat([c.w for c in chunks]))
            g = problem.stoch_grad(x, s).numpy()
            full = problem.grad(x[:1]).numpy()[0]
            se = g.std(axis=0, ddof=1) / np.sqrt(len(g))
            if np.any(np.abs(g.mean(axis=0) - full) > z_max * se + 1e-12):
                return True
    return False


def claim_sam_floor(R_: int = 200, T_: int = 300, z_max: float = 5.0, slack: float = 0.01) -> bool:
    """Mini sam.constant_rho_floor: mean of x_T over R_ runs vs the fixed point x_hat of Si & Yun.
    slack absorbs the finite-T transient (the mean iterate approaches x_hat like 1/T). R_ stays
    <= 200: above a few hundred rows torch.searchsorted (inside Importance.draw) goes through the
    thread pool and costs ~20 ms per call on a loaded 2-core machine."""
    problem = TwoQuadratics(p=0.5, k1=1.0, k2=2.0, c1=-1.0, c2=1.0)
    rho = 0.2
    tr = run("sam", problem, Importance(p=problem.q), {"lr": Schedule("inv_t", 1.0), "rho": rho}, T=T_, R=R_,
             x0=np.ones((R_, 1)), seed=11, checkpoints=[T_], running=False)
    x = tr.x[:, 0]
    xhat = float(problem.sam_fixed_point(rho)[0])
    se = x.std(ddof=1) / np.sqrt(R_)
    return bool(tr.diverged.any() or abs(x.mean() - xhat) > z_max * se + slack)


DETECTORS = {**CONTRACT, "reduce:rho0": reduce_rho0, "reduce:lam": reduce_lam, "reduce:beta0": reduce_beta0,
             "unbiased:importance": unbiased_importance, "claim:sam_floor": claim_sam_floor}


def run_detectors() -> dict[str, bool]:
    out = {}
    for k, fn in DETECTORS.items():
        try:
            out[k] = bool(fn())
        except Exception:  # a crash inside a mutated engine counts as a detection
            out[k] = True
    return out


# ----------------------------------------------------------------------------------------------
# Mutants: context managers that swap one engine function/method in memory and restore it.

@contextlib.contextmanager
def patched(obj, attr, new):
    old = obj.__dict__[attr] if isinstance(obj, type) else getattr(obj, attr)
    setattr(obj, attr, new)
    try:
        yield
    finally:
        setattr(obj, attr, old)


_orig_draw = samplers.Importance.draw
_orig_val = rules.Rule.val
_orig_amsgrad = parts.AMSGrad.__call__
_orig_adam = parts.Adam.__call__
_orig_inv_norm = parts.inv_norm
_orig_hypergrad = rules.LETS.hypergrad


def m_importance_no_reweight():
    def draw(self, problem, R, gen, dtype=torch.float64):
        s = _orig_draw(self, problem, R, gen, dtype)
        return Sample(idx=s.idx, w=torch.ones_like(s.w))
    return patched(samplers.Importance, "draw", draw)


def _val_mutant(fn):
    def val(self, key, t):
        return fn(self, key, t, _orig_val(self, key, t))
    return patched(rules.Rule, "val", val)


def m_rho0_not_sgd():
    # rho + 1e-3 inside SAM-family perturbations: rho = 0 no longer reduces to the base method.
    return _val_mutant(lambda self, key, t, v: v + 1e-3 if key == "rho" else v)


def m_lambda_flipped():
    return _val_mutant(lambda self, key, t, v: 1 - v if key == "lam" else v)


def m_fresh_ascent_sample():
    """The ascent gradient silently uses a different, independent sample than the descent: the
    stream S2 when it exists, else another run's sample (an independent draw of the same law)."""
    def gradient(self, rule, x, S, t, st, out):
        grad = rule.problem.stoch_grad
        other = S["S2"] if "S2" in S else S["S"].take(torch.roll(torch.arange(rule.R, device=x.device), 1))
        c, v = self(rule, x, grad(x, other), t, st, out)
        return grad(torch.addcmul(x, c, v), S["S"])
    return patched(parts.Perturbation, "gradient", gradient)


def m_adasam_no_max():
    def descend(self, rule, x, g, t, st, out):
        if isinstance(self, parts.AdaSAMDescent):
            st["vhat"] = torch.full_like(st["vhat"], -float("inf"))  # max(-inf, v) = v
        return _orig_amsgrad(self, rule, x, g, t, st, out)
    return patched(parts.AMSGrad, "__call__", descend)


def m_sign_flip():
    def gradient(self, rule, x, S, t, st, out):
        grad = rule.problem.stoch_grad
        c, v = self(rule, x, grad(x, S["S"]), t, st, out)
        return grad(torch.addcmul(x, -c, v), S.get("S2", S["S"]))
    return patched(parts.Perturbation, "gradient", gradient)


def m_eps_in_norm():
    return patched(parts, "inv_norm", lambda s, norm_eps: _orig_inv_norm(s, norm_eps + 1e-3))


def m_schedule_exponent():
    # inv_sqrt_t evaluated as c/(t + t0) instead of c/sqrt(t + t0), in the engine only.
    def fn(self, key, t, v):
        h = self.hp[key]
        return h.c / (t + h.t0) if isinstance(h, Schedule) and h.kind == "inv_sqrt_t" else v
    return _val_mutant(fn)


def m_off_by_one_t():
    def val(self, key, t):
        return _orig_val(self, key, t + 1)
    return patched(rules.Rule, "val", val)


def m_lets_hypergrad_sign():
    def hypergrad(self, *a):
        return -_orig_hypergrad(self, *a)
    return patched(rules.LETS, "hypergrad", hypergrad)


def m_adam_bias_always_on():
    def descend(self, rule, x, g, t, st, out):
        opts = rule.opts
        rule.opts = {**opts, "bias_correction": True}
        try:
            return _orig_adam(self, rule, x, g, t, st, out)
        finally:
            rule.opts = opts
    return patched(parts.Adam, "__call__", descend)


def m_adagrad_norm_abs():
    def descend(self, rule, x, g, t, st, out):
        st["v"] = st["v"] + torch.linalg.vector_norm(g, dim=-1, keepdim=True)  # ||g||, not ||g||^2
        return x - rule.val("lr", t) * g * parts.inv_sqrt(rule, st["v"])
    return patched(parts.AdaGradNorm, "__call__", descend)


MUTANTS = {
    "importance_no_reweight": m_importance_no_reweight,
    "rho0_not_sgd(rho+1e-3)": m_rho0_not_sgd,
    "lambda_flipped(1-lam)": m_lambda_flipped,
    "fresh_ascent_sample": m_fresh_ascent_sample,
    "adasam_no_max(vhat=v)": m_adasam_no_max,
    "sign_flip(x-e)": m_sign_flip,
    "eps_in_norm(||s||+1e-3)": m_eps_in_norm,
    "schedule_exponent(1/(t+1))": m_schedule_exponent,
    "off_by_one_t(t+1)": m_off_by_one_t,
    "lets_hypergrad_sign": m_lets_hypergrad_sign,
    "adam_bias_always_on": m_adam_bias_always_on,
    "adagrad_norm_abs(||g||)": m_adagrad_norm_abs,
}

_CACHE: dict[str, dict[str, bool]] = {}
_SECONDS: dict[str, float] = {}


def detections(mutant: str | None) -> dict[str, bool]:
    """Detector results under ``mutant`` (None: the unmodified engine), computed once per session."""
    key = mutant or "<none>"
    if key not in _CACHE:
        t0 = time.perf_counter()
        if mutant is None:
            _CACHE[key] = run_detectors()
        else:
            with MUTANTS[mutant]():
                _CACHE[key] = run_detectors()
            assert rules.Rule.val is _orig_val and parts.inv_norm is _orig_inv_norm  # restored
        _SECONDS[key] = time.perf_counter() - t0
    return _CACHE[key]


# ----------------------------------------------------------------------------------------------

def test_no_false_alarm():
    fired = [k for k, v in detections(None).items() if v]
    assert not fired, f"detectors fire on the unmodified engine: {fired}"


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_mutant_is_killed(mutant):
    killers = [k for k, v in detections(mutant).items() if v]
    assert killers, f"mutant {mutant} survives every detector"


def test_kill_rate_and_table():
    table = {m: detections(m) for m in MUTANTS}
    base = detections(None)
    cols = list(DETECTORS)
    w = max(map(len, MUTANTS)) + 2
    print(f"\nkill table (x = detector fired); all detectors x (1 + {len(MUTANTS)} mutants) took "
          f"{sum(_SECONDS.values()):.1f}s")
    for i, c in enumerate(cols):
        print(f"  [{i:2d}] {c}")
    print(" " * w + " ".join(f"{i:>2d}" for i in range(len(cols))) + "  killed")
    for m, res in table.items():
        print(f"{m:<{w}}" + " ".join(f"{'x' if res[c] else '.':>2}" for c in cols) + f"  {any(res.values())}")
    print(f"{'<no mutant>':<{w}}" + " ".join(f"{'x' if base[c] else '.':>2}" for c in cols))
    killed = sum(any(r.values()) for r in table.values())
    print(f"kill rate {killed}/{len(table)} = {killed / len(table):.0%}")
    assert killed == len(table)
