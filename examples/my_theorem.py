"""Thm 3.5 of Oikonomou & Loizou (ICLR 2025) declared in the short form of ``verify.api.rate_claim``:
Unified SAM with the decreasing steps of the theorem converges at O(1/t) on a well-conditioned ridge.

    python -m verify rates --claims-from examples.my_theorem --claim my.thm3_5
"""
from problems import Uniform, make_problem
from verify.api import rate_claim
from verify.claims.unified_thm3_5_decreasing import schedule_hp, thm3_2_constants

RIDGE = dict(n=100, d=20, cond=2.0, noise=1.0, seed=0, reg=40.0)


def steps(problem, sampler, lam, schedule, T):
    """gamma_t, rho_t of Thm 3.5 ("decreasing") or the constant Thm 3.2 steps ("constant")."""
    return schedule_hp(schedule, thm3_2_constants(problem, sampler, lam), lam)


CLAIM = rate_claim(
    "my.thm3_5", paper="Oikonomou & Loizou, ICLR 2025", theorem="Thm 3.5", status="confirmed",
    algorithm="unified_sam", problem=lambda: make_problem("ridge", **RIDGE), sampler=Uniform,
    hp=steps, grid=[{"lam": lam, "schedule": "decreasing", "T": 3500} for lam in (0.0, 0.5, 1.0)],
    metric="f_gap", axis="t", predicted_slope=-1.0, tol=0.1, decades=1.5, replicas=4,
    fit_from=lambda problem, sampler, lam, **_: thm3_2_constants(problem, sampler, lam)["fit_from"],
    counterfeits={"constant_step": {"change": "gamma*, rho* held constant", "schedule": "constant",
                                    "behaviour": "stalls at the Thm 3.2 neighbourhood: slope ~ 0"}})
