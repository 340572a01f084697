"""The cause of a deviation at the first bad step, from the user's own gradient calls.

At the first bad step t the user's x_t equals the reference's to TOL, so its gradient points are
compared with the reference's: the number of gradient calls, then the perturbation e_t (the last
call's point minus x_t), then the update. Named causes (``code``):

- ``gradient_calls``: fewer gradient evaluations than the algorithm needs in a step.
- ``eps_inside_norm``: e = rho s / sqrt(||s||^2 + c) at every step (c fitted; documented is
  s / (||s|| + norm_eps)); ``norm_eps_value``: e = rho s / (||s|| + c) with a c the fingerprint did
  not try (rerun with --hp norm_eps=c); ``perturbation``: any other perturbation.
- ``perturbation_not_undone``: the base step starts from x_t + e, not x_t.
- ``state_updated_twice``: AdaSAM's moments (m, v, vhat) updated with the ascent gradient s as well
  as the descent gradient g, every step.
- ``descent``: the gradient points match but the update differs otherwise.
"""
from __future__ import annotations

import numpy as np

from optim import get
from optim.reference import run_reference

E_TOL = 1e-8  # perturbations compared from iterates equal to TOL: normalisation can amplify it 100x


class _Recorder:
    """The problem, with every stoch_grad point recorded (to read the reference's gradient calls)."""

    def __init__(self, problem) -> None:
        self._p, self.points = problem, []

    def stoch_grad(self, x, s):
        self.points.append(np.array(x, dtype=np.float64))
        return self._p.stoch_grad(x, s)

    def __getattr__(self, name):
        return getattr(self._p, name)


def reference_calls(algo: str, problem, samples: dict, x0: np.ndarray, T: int, hp: dict) -> list[list[np.ndarray]]:
    """The reference's gradient points per step: (T, calls per step) of (d,)."""
    rec = _Recorder(problem)
    run_reference(algo, rec, samples, x0, T, hp)
    k = len(rec.points) // T
    return [rec.points[t * k:(t + 1) * k] for t in range(T)]


def diagnose(algo: str, case, hp: dict, run, samples: dict, step: int) -> dict:
    """{"code", "text"} for the user's ``run`` (a ``conform_drive.Drive``) at its first bad ``step``."""
    P, S = case.problem, samples["S"]
    Sd = S if hp.get("same_sample", True) else samples["S2"]
    ref = reference_calls(algo, P, samples, case.x0, case.T, hp)
    calls, x = run.calls[step], run.x[step]
    need = len(ref[step])
    if len(calls) < need:
        return {"code": "gradient_calls", "text": f"{len(calls)} gradient evaluation(s) in step {step}; {algo} "
                                                  f"needs {need}"}
    perturbed = "rho" in {p.name for p in get(algo).params}
    if perturbed:
        e_u, e_r = calls[-1] - x, ref[step][-1] - ref[step][0]
        if np.linalg.norm(e_u - e_r) > E_TOL * (np.linalg.norm(e_r) + np.linalg.norm(x)):
            return _perturbation(algo, run, P, S, hp, step, e_u, e_r)
    n = _steps(run)
    g = [P.stoch_grad(run.calls[k][-1], Sd[k] if perturbed else S[k]) for k in range(n)]
    s = [P.stoch_grad(run.x[k], S[k]) for k in range(n)]
    models = {"perturbation_not_undone": ("undone", "once"), "state_updated_twice": ("x", "twice")}
    texts = {"perturbation_not_undone": "the base step starts from the perturbed point x_t + e: the perturbation "
                                        "is not undone before the base optimizer's step",
             "state_updated_twice": "the moments (m, v, vhat) are updated by both gradient passes of a step "
                                    "(the ascent gradient s too), not by the descent gradient alone"}
    for code, (start, updates) in models.items():
        if code == "state_updated_twice" and algo != "adasam":
            continue
        if not (perturbed or code == "state_updated_twice"):
            continue
        pred = _replay(algo, run, g, s, hp, start, updates, n)
        if pred is not None and _matches(pred, run.x[1:n + 1]):
            return {"code": code, "text": texts[code]}
    return {"code": "descent", "text": f"the gradient points of step {step} match {algo}'s but the update differs "
                                       "(the base optimizer, its state or its step size)"}


def _steps(run) -> int:
    """The steps the run completed with finite iterates."""
    ok = np.isfinite(run.x).all(axis=1)
    return int(min(len(run.calls), np.argmin(ok) - 1 if not ok.all() else len(run.calls)))


def _matches(pred: np.ndarray, xu: np.ndarray, tol: float = 1e-10) -> bool:
    dev = np.linalg.norm(pred - xu, axis=1) / np.maximum(np.linalg.norm(xu, axis=1), 1e-300)
    return bool(dev.size) and bool(np.all(dev <= tol))


def _replay(algo, run, g, s, hp, start, updates, n):
    """One-step predictions of x_{k+1} from the user's x_k and gradient points under a fault model:
    the step from x_k or from the perturbed point, the state updated once (g) or twice (s, then g)."""
    base = get(algo).base
    lr = hp["lr"]
    out = []
    if algo == "adasam":
        eps = hp["eps"]
        m = np.zeros_like(run.x[0])
        v = np.full_like(m, eps * eps) if hp["v0"] == "eps2" else np.zeros_like(m)
        vhat = np.full_like(m, eps * eps)
    elif base != "sgd":
        return None
    for k in range(n):
        x0 = run.calls[k][-1] if start == "undone" else run.x[k]
        if algo == "adasam":
            for grad in ((s[k], g[k]) if updates == "twice" else (g[k],)):
                m = hp["b1"] * m + (1 - hp["b1"]) * grad
                v = hp["b2"] * v + (1 - hp["b2"]) * grad * grad
                vhat = np.maximum(vhat, v)
            out.append(x0 - lr * m / np.sqrt(vhat))
        else:
            out.append(x0 - lr * g[k])
    return np.array(out)


def _perturbation(algo, run, P, S, hp, step, e_u, e_r) -> dict:
    """Which perturbation the user computes, fitted over every step (SAM's and AdaSAM's e = rho s/||s||)."""
    head = (f"the perturbation of step {step} differs: ||e|| = {np.linalg.norm(e_u):.6g} ({algo}: "
            f"{np.linalg.norm(e_r):.6g}), cos(e, e_{algo}) = {_cos(e_u, e_r):.6f}")
    if algo not in ("sam", "adasam") or hp["rho"] == 0:
        return {"code": "perturbation", "text": head}
    n = _steps(run)
    s = np.array([P.stoch_grad(run.x[k], S[k]) for k in range(n)])
    e = np.array([run.calls[k][-1] - run.x[k] for k in range(n)])
    ns, ne = np.linalg.norm(s, axis=1), np.linalg.norm(e, axis=1)
    parallel = all(_cos(a, b) > 1 - 1e-9 for a, b in zip(e, s)) and np.all(ne > 0)
    if parallel and n >= 2:
        N = hp["rho"] * ns / ne  # the user's normaliser: e = rho s / N
        c1 = N - hp.get("norm_eps", 0.0) - ns
        c2 = N ** 2 - ns ** 2
        if np.all(c2 > 0) and _constant(c2) and not _constant(c1):
            return {"code": "eps_inside_norm", "text": f"{head}; at every step e = rho s / sqrt(||s||^2 + c) with c = "
                    f"{np.median(c2):.3g}: eps inside the norm, where {algo} adds norm_eps outside it "
                    "(s / (||s|| + norm_eps))"}
        if np.all(c1 > 0) and _constant(c1):
            return {"code": "norm_eps_value", "text": f"{head}; at every step e = rho s / (||s|| + c) with c = "
                    f"{np.median(c1):.3g}: rerun with --hp norm_eps={np.median(c1):.3g}"}
    return {"code": "perturbation", "text": head}


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den > 0 else float("nan")


def _constant(c: np.ndarray) -> bool:
    """All equal to 1e-3 relative (the fitted constant of a fault model)."""
    return bool(np.ptp(c) <= 1e-3 * np.abs(np.median(c)))
