"""Conformance: does a user's optimizer compute algorithm ALGO, under some documented convention?

``conform(obj, algo, hp)`` drives ``obj`` (see ``verify.conform_drive`` for the three interfaces) on
samcheck's problems and samplers (``CASES``) with the same pre-drawn samples as the float64 reference
``run_reference(algo, ...)`` and compares the iterates step by step:

- deviation at step t: ||x_user_t - x_ref_t|| / ||x_ref_t||; the first bad step is the first update t
  (0-based: x_{t+1} is its output) whose result deviates by more than ``TOL`` = 1e-10. Why 1e-10: two
  float64 implementations of the same update in a different operation order differ by round-off,
  which the contract tests bound by 1e-12 over 200 steps (tests/test_contract.py); 1e-10 leaves 100x
  for torch's own kernels (per-tensor norms summed, fused adds), and stays far below what the
  conventions change on these problems (1e-6 to 1e-1 relative, with the probe hyperparameters
  ``PROBE``, e.g. eps = 1e-3 so that AdaSAM's v0 moves the iterates).
- fingerprint: when the default convention deviates, every documented switch of ALGO (``switches``:
  each other choice of a choice option, the bools same_sample and bias_correction, norm_eps in
  {1e-12, 1e-8, 1e-6}, eta_A in {0, 1e-3, 1e-2, 0.1, 1}) is tried in the reference, one at a time,
  then pairs; the first under which every case stays within TOL is the convention found. The user's
  optimizer always runs with the same hyperparameters; only the reference changes (same_sample=False
  also feeds the descent gradient the independent sample S'_t).
- reductions, under the convention found: rho = 0 against ALGO's base method; Unified SAM's lambda = 0
  and 1 against USAM and SAM; a zero gradient (x0 = x* of a quadratic, full batch) stays finite in
  float64, float32 and bfloat16; float32 and bfloat16 runs stay finite where float64 does.
- cause: the convention found, or a diagnosis at the earliest first bad step (``verify.conform_diagnose``).

The implementation conforms when every case and every reduction passes under one convention.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from optim import get, validate
from optim.reference import run_reference
from problems import AffineVariance, FullBatch, Gaussian, Quadratic, Uniform, draw_steps, make_problem

from .conform_diagnose import diagnose
from .conform_drive import Oracle, SpecAMSGrad, constructor, drive, interface_of

TOL = 1e-10
T_DEFAULT = 60
SUPPORTED = ("sgd", "adagrad_norm", "adagrad", "adam", "amsgrad", "sam", "usam", "unified_sam", "asam", "adasam",
             "lightsam1", "lightsam2", "lightsam3")
ADAPTIVE = ("adagrad_norm", "adagrad", "adam", "amsgrad", "adasam", "lightsam1", "lightsam2", "lightsam3")
# probe values that make the conventions visible above round-off (see the module docstring)
PROBE = {"rho": 0.1, "eps": 1e-3, "eta_A": 0.1, "lam": 0.5}
SWITCH_VALUES = {"norm_eps": (1e-12, 1e-8, 1e-6), "eta_A": (0.0, 1e-3, 1e-2, 0.1, 1.0)}
TOGGLES = ("same_sample", "bias_correction")


@dataclass
class Case:
    """One problem x sampler with T steps from x0: (d,)."""

    name: str
    problem: object
    sampler: object
    x0: np.ndarray
    T: int


def default_cases(T: int = T_DEFAULT) -> list[Case]:
    """Three cases, d = 6 or 5: a quadratic with Gaussian noise, ridge with minibatches of 4, the
    nonconvex pl_sine with affine variance; x0 ~ N(0, I) (seed 0)."""
    made = [("quadratic-gaussian", Quadratic.with_condition(6, L=2.0, cond=20.0, seed=1), Gaussian(sigma=0.3)),
            ("ridge-minibatch", make_problem("ridge", n=40, d=6, seed=2), Uniform(batch=4)),
            ("pl_sine-affine", make_problem("pl_sine", d=5), AffineVariance(D0=0.2, var_zeta=0.3))]
    rng = np.random.default_rng(0)
    return [Case(n, p, s, rng.standard_normal(p.d), T) for n, p, s in made]


def probe_hp(algo: str, user_hp: dict, problem) -> dict:
    """The hyperparameters of a run: the registry defaults, ``PROBE``, lr = 0.3/L (SGD-type, L_max for
    finite sums) or 0.02 (adaptive), then the user's --hp; validated."""
    names = {p.name for p in get(algo).params}
    L = problem.L_max if problem.finite_sum else problem.L
    hp = {k: v for k, v in PROBE.items() if k in names}
    hp["lr"] = 0.02 if algo in ADAPTIVE else 0.3 / L
    return validate(algo, {**hp, **user_hp})


def switches(algo: str, hp: dict) -> list[dict]:
    """Every single documented switch of ``algo`` away from ``hp`` (see the module docstring)."""
    out = []
    for p in get(algo).params:
        if p.kind == "choice":
            out += [{p.name: c} for c in p.choices if c != hp[p.name]]
        elif p.kind == "bool" and p.name in TOGGLES:
            out.append({p.name: not hp[p.name]})
        elif p.name in SWITCH_VALUES:
            out += [{p.name: v} for v in SWITCH_VALUES[p.name] if v != hp[p.name]]
    return out


def base_torch_optimizer(algo: str, hp: dict) -> Callable | None:
    """The torch base optimizer a two-step wrapper gets: SGD for the SGD-based SAM variants, the
    AdaSAM-internal AMSGrad (``SpecAMSGrad``) for adasam; None otherwise."""
    if get(algo).base == "sgd":
        return torch.optim.SGD
    if algo == "adasam":
        return lambda params, lr: SpecAMSGrad(params, lr, (hp["b1"], hp["b2"]), hp["eps"], hp["v0"])
    return None


def rel_dev(xu: np.ndarray, xr: np.ndarray) -> np.ndarray:
    """Per iterate ||xu_t - xr_t|| / ||xr_t|| (inf where the user's iterate is not finite): (T+1,)."""
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.linalg.norm(xu - xr, axis=1) / np.maximum(np.linalg.norm(xr, axis=1), 1e-300)
    return np.where(np.isfinite(d), d, np.inf)


def first_bad(dev: np.ndarray, tol: float = TOL) -> int | None:
    """The first update t (x_{t+1} = dev[t + 1]) past ``tol``, None when none."""
    bad = np.flatnonzero(dev[1:] > tol)
    return int(bad[0]) if bad.size else None


class Runner:
    """The user's object, its interface and how it is built, run on cases with pre-drawn samples."""

    def __init__(self, obj, algo: str, user_hp: dict) -> None:
        self.obj, self.algo, self.user_hp = obj, algo, user_hp
        self.interface = interface_of(obj)
        self.samples: dict = {}
        self.passed: dict = {}
        self.not_passed: list = []

    def draws(self, case: Case) -> dict:
        """S and S' (seeds 0 and 1) for the case, one run's NumPy samples, drawn once."""
        if case.name not in self.samples:
            self.samples[case.name] = {k: [s.run(0) for s in draw_steps(case.sampler, case.problem, case.T, 1, i)]
                                       for i, k in enumerate(("S", "S2"))}
        return self.samples[case.name]

    def user(self, case: Case, hp: dict, same_sample: bool, dtype=torch.float64, x0=None, T=None):
        """The user's run on ``case`` with ``hp`` (a ``Drive``)."""
        S = self.draws(case)
        oracle = Oracle(case.problem, S["S"], S["S"] if same_sample else S["S2"])
        factory = None
        if self.interface != "functional":
            factory, self.passed, self.not_passed = constructor(self.obj, hp, base_torch_optimizer(self.algo, hp))
        x0 = case.x0 if x0 is None else x0
        return drive(self.obj, self.interface, factory, hp, oracle, x0, case.T if T is None else T, dtype)

    def reference(self, case: Case, name: str, hp: dict, x0=None, T=None) -> np.ndarray:
        S = self.draws(case)
        return run_reference(name, case.problem, S, case.x0 if x0 is None else x0, case.T if T is None else T, hp)["x"]


def compare(runner: Runner, cases: list[Case], hp_of: Callable, conv: dict, user_runs: dict) -> list[dict]:
    """Each case's deviation under the reference convention ``conv`` (user runs cached by sample protocol)."""
    out = []
    for case in cases:
        hp = hp_of(case)
        ref_hp = {**hp, **conv}
        same = ref_hp.get("same_sample", True)
        key = (case.name, same)
        if key not in user_runs:
            user_runs[key] = runner.user(case, hp, same)
        run = user_runs[key]
        dev = rel_dev(run.x, runner.reference(case, runner.algo, ref_hp))
        out.append({"case": case.name, "T": case.T, "max_rel_dev": float(dev.max()), "first_bad_step": first_bad(dev),
                    "dev": dev, "error": run.error, "error_step": run.error_step})
    return out


def fingerprint(runner: Runner, cases: list[Case], hp_of: Callable, user_runs: dict, strict: bool):
    """The first convention (default, single switches, then pairs of different options) under which
    every case conforms; returns (convention or None, the tried list, the default's per-case results)."""
    hp0 = hp_of(cases[0])
    default = compare(runner, cases, hp_of, {}, user_runs)
    tried = [{"switch": {}, "max_rel_dev": max(c["max_rel_dev"] for c in default)}]
    if tried[0]["max_rel_dev"] <= TOL or strict:
        return ({} if tried[0]["max_rel_dev"] <= TOL else None), tried, default
    singles = switches(runner.algo, hp0)
    pairs = [{**a, **b} for a, b in itertools.combinations(singles, 2) if set(a) != set(b)]
    for conv in singles + pairs:
        res = compare(runner, cases, hp_of, conv, user_runs)
        tried.append({"switch": conv, "max_rel_dev": max(c["max_rel_dev"] for c in res)})
        if tried[-1]["max_rel_dev"] <= TOL:
            return conv, tried, default
    return None, tried, default


def reductions(runner: Runner, cases: list[Case], hp_of: Callable, conv: dict) -> list[dict]:
    """rho = 0, lambda endpoints, zero gradient and low precision (see the module docstring)."""
    return _exact_reductions(runner, cases, hp_of, conv) + _finite_checks(runner, cases[0], hp_of, conv)


def _exact_reductions(runner: Runner, cases: list[Case], hp_of: Callable, conv: dict) -> list[dict]:
    """The user's run with rho = 0 (lambda = 0, 1) against the reference of the method it reduces to,
    that method's hyperparameters taken from ALGO's under ``conv`` (AdaSAM's v0 is AMSGrad's v0)."""
    algo, names = runner.algo, {p.name for p in get(runner.algo).params}
    base = get(algo).base
    checks = [(f"rho = 0 gives {base}", {"rho": 0.0}, base)] if "rho" in names and base else []
    if algo == "unified_sam":
        checks += [("lambda = 0 gives usam", {"lam": 0.0}, "usam"), ("lambda = 1 gives sam", {"lam": 1.0}, "sam")]
    out = []
    for label, change, ref_name in checks:
        ref_names = {p.name for p in get(ref_name).params}
        result = {"check": label, "ok": True, "case": "all", "first_bad_step": None, "detail": ""}
        for c in cases:
            hp = {**hp_of(c), **change}
            run = runner.user(c, hp, {**hp, **conv}.get("same_sample", True))
            ref_hp = {k: v for k, v in {**hp, **conv}.items() if k in ref_names}
            dev = rel_dev(run.x, runner.reference(c, ref_name, ref_hp))
            step = first_bad(dev)
            if step is not None or run.error:
                result = {"check": label, "ok": False, "case": c.name,
                          "first_bad_step": step if step is not None else run.error_step,
                          "detail": run.error or f"max rel. deviation {dev.max():.3g} from {ref_name}"}
                break
        out.append(result)
    return out


def _finite_checks(runner: Runner, case: Case, hp_of: Callable, conv: dict) -> list[dict]:
    """A zero gradient (x0 = x* = 0 of a quadratic, full batch, 3 steps) in float64, float32 and
    bfloat16, and ``case`` in float32 and bfloat16 against its float64 run: finite iterates."""
    zc = Case("zero-gradient", Quadratic.with_condition(4, cond=10.0, seed=5), FullBatch(), np.zeros(4), 3)
    hp = hp_of(case)
    same = {**hp, **conv}.get("same_sample", True)
    finite64 = np.isfinite(runner.user(case, hp, same).x).all(axis=1)
    runs = [(zc, hp_of(zc), True, dtype, np.ones(zc.T + 1, bool), "zero gradient stays finite ({})",
             "non-finite iterate after a zero gradient (x0 = x*)") for dtype in (torch.float64, torch.float32, torch.bfloat16)]
    runs += [(case, hp, same, dtype, finite64, "{} stays finite where float64 does", "non-finite {} iterate")
             for dtype in (torch.float32, torch.bfloat16)]
    out = []
    for c, h, same_c, dtype, where, label, what in runs:
        name = str(dtype).replace("torch.", "")
        run = runner.user(c, h, same_c, dtype)
        bad = np.flatnonzero(where & ~np.isfinite(run.x).all(axis=1))
        ok = not bad.size and run.error is None
        out.append({"check": label.format(name), "ok": ok, "case": c.name,
                    "first_bad_step": None if ok else (run.error_step if run.error else int(bad[0]) - 1),
                    "detail": run.error or ("" if ok else what.format(name))})
    return out


def conform(obj, algo: str, user_hp: dict | None = None, cases: list[Case] | None = None,
            strict: bool = False) -> dict:
    """The conformance report of ``obj`` against ``algo`` (a dict, see ``verify.conform_report``):
    ``conforms`` (bool), ``convention`` (the switch found, {} for the default, None when none),
    ``cases`` (per case: max_rel_dev, first_bad_step, dev: (T+1,)), ``tried``, ``reductions``,
    ``cause`` ({"code", "step", "case", "text"} or None). ``strict``: only the default convention counts.
    Raises a one-line ValueError on bad input (unknown or unsupported algo, bad hyperparameters, an
    object of no known interface)."""
    started = time.perf_counter()
    get(algo)
    if algo not in SUPPORTED:
        raise ValueError(f"--as {algo}: conformance supports {', '.join(SUPPORTED)} (LETS needs validation batches)")
    user_hp = dict(user_hp or {})
    cases = default_cases() if cases is None else cases
    hp_of = lambda c: probe_hp(algo, user_hp, c.problem)  # noqa: E731
    for c in cases:
        hp_of(c)  # bad hyperparameters fail here, before anything runs
    runner = Runner(obj, algo, user_hp)
    user_runs: dict = {}
    conv, tried, default = fingerprint(runner, cases, hp_of, user_runs, strict)
    if default[0]["error"] and default[0]["error_step"] is None:
        raise ValueError(f"cannot construct {getattr(obj, '__qualname__', obj)} ({default[0]['error']}): it is built "
                         "as Cls(params, base_optimizer, rho=..., lr=..., ...) or Cls(params, rho=..., lr=..., ...)")
    final = default if not conv else compare(runner, cases, hp_of, conv, user_runs)
    reds = reductions(runner, cases, hp_of, conv or {})
    conforms = conv is not None and all(r["ok"] for r in reds)
    cause = _cause(runner, cases, hp_of, conv, default, reds)
    return {"target": getattr(obj, "__qualname__", repr(obj)), "algo": algo, "interface": runner.interface,
            "hp": {k: _plain(v) for k, v in hp_of(cases[0]).items()}, "passed_to_constructor": sorted(runner.passed),
            "not_taken": runner.not_passed, "tolerance": TOL, "strict": strict, "conforms": conforms,
            "convention": conv, "cases": final if conv else default, "default_cases": default, "tried": tried,
            "reductions": reds, "cause": cause, "wall_s": time.perf_counter() - started}


def _cause(runner: Runner, cases: list[Case], hp_of: Callable, conv, default: list[dict], reds: list[dict]):
    """A failed reduction, the convention found, the optimizer's exception, or the diagnosis at the
    earliest first bad step of the default convention; None when it conforms under the default."""
    failed = next((r for r in reds if not r["ok"]), None)
    if conv is not None and failed:
        under = f" (under {_fmt(conv)})" if conv else ""
        return {"code": "reduction", "step": failed["first_bad_step"], "case": failed["case"],
                "text": f"{failed['check']} fails{under}: {failed['detail']}"}
    case_name, step = _earliest(default)
    if conv:
        return {"code": "convention", "step": step, "case": case_name,
                "text": f"conforms under the documented switch {_fmt(conv)} (not the default)"}
    if conv == {}:
        return None
    err = next(c for c in default if c["case"] == case_name)["error"]
    if err:
        return {"code": "raised", "step": step, "case": case_name, "text": f"the optimizer raised {err}"}
    case = next(c for c in cases if c.name == case_name)
    hp = hp_of(case)
    run = runner.user(case, hp, hp.get("same_sample", True))
    return {**diagnose(runner.algo, case, hp, run, runner.draws(case), step), "step": step, "case": case_name}


def _earliest(results: list[dict]) -> tuple[str, int | None]:
    bad = [(c["first_bad_step"] if c["first_bad_step"] is not None else c["T"], c["case"]) for c in results
           if c["first_bad_step"] is not None or c["error"]]
    if not bad:
        return results[0]["case"], None
    step, name = min(bad)
    return name, step


def _fmt(conv: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in conv.items())


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


__all__ = ["Case", "SUPPORTED", "TOL", "conform", "default_cases", "first_bad", "rel_dev", "switches"]
