"""A user's optimizer in place of a built-in algorithm inside a claim (verify.user_rule): the engine's
samples, metrics and divergence handling with the user's update. The suite's own optimizers
(tests/conform_optimizers.py) give the built-in's rows to round-off and its verdict; a buggy one does not.
The report of such a run names the optimizer."""
from pathlib import Path

import numpy as np
import pytest
import torch

from conform_optimizers import functional_sam, two_step_sam
from optim.batched import run
from problems import Uniform, make_problem
from verify.api import rate_claim
from verify.claim import Context
from verify.user_rule import implemented_by, load

NotUndoneSAM = two_step_sam("not_undone")   # second_step keeps w + e
PROBLEM = dict(n=60, d=8, cond=2.0, noise=1.0, seed=0, reg=5.0)
HP = {"lr": 0.02, "rho": 0.05}


def vmappable_sam(x, grad_fn, state, hp):
    """Functional SAM without Python control flow on tensors (vmap can batch it)."""
    s = grad_fn(x)
    n = torch.linalg.vector_norm(s)
    return x - hp["lr"] * grad_fn(x + hp["rho"] * s / torch.where(n > 0, n, 1.0)), state


@pytest.mark.parametrize("obj, mode", [(two_step_sam(), "one instance per run"), (vmappable_sam, "vmap"),
                                       (functional_sam, "one instance per run (vmap failed")])
def test_user_sam_matches_the_engine_on_the_same_samples(obj, mode):
    problem = make_problem("ridge", **PROBLEM)
    want = run("sam", problem, Uniform(), HP, T=60, R=4, seed=3)
    with implemented_by("sam", obj) as made:
        got = run("sam", problem, Uniform(), HP, T=60, R=4, seed=3)
    assert made[0].mode.startswith(mode)
    np.testing.assert_allclose(got.x, want.x, rtol=1e-12)
    for k in ("f_gap", "grad_sq_avg"):
        np.testing.assert_allclose(got.final[k], want.final[k], rtol=1e-10)


def small_claim():
    return rate_claim("test.user_sam", paper="-", theorem="-", algorithm="sam",
                      problem=lambda: make_problem("ridge", **PROBLEM), sampler=Uniform,
                      hp=lambda problem, sampler, lr, rho, T: {"lr": lr, "rho": rho},
                      grid=[{"lr": 0.02, "rho": 0.0, "T": 400}, {"lr": 0.02, "rho": 0.05, "T": 400}],
                      metric="f_gap", predicted_slope=-1.0, tol=0.1, decades=1.0)


def test_claim_with_a_user_optimizer_gives_the_builtin_rows_and_verdict(tmp_path):
    claim = small_claim()
    ctx = Context(seeds=3, progress=False)
    want = claim.execute(ctx)
    ctx_user = Context(seeds=3, progress=False, implementations={"sam": "conform_optimizers:CorrectSAM"})
    got = claim.execute(ctx_user)
    np.testing.assert_allclose(got["value"].to_numpy(), want["value"].to_numpy(), rtol=1e-9, atol=1e-300)
    assert claim.verdict(got)["verdict"] == claim.verdict(want)["verdict"]
    assert all("one instance per run" in b["implementation"] for b in ctx_user.batches)


def test_a_buggy_optimizer_changes_the_rows():
    claim = small_claim()
    want = claim.execute(Context(seeds=3, progress=False))
    got = claim.execute(Context(seeds=3, progress=False, implementations={"sam": "test_user_rule:NotUndoneSAM"}))
    assert np.nanmax(np.abs(got["value"].to_numpy() / want["value"].to_numpy() - 1)) > 1e-3


def test_load_errors_are_one_line():
    for spec, says in (("nocolon", "MODULE:NAME"), ("no_such_mod:X", "cannot load it"),
                       ("conform_optimizers:nothing_here", "cannot load it")):
        with pytest.raises(ValueError, match=says):
            load(spec)


def test_report_names_the_user_optimizer(tmp_path, monkeypatch):
    """A results directory whose verdict ran examples.my_sam:MySAM: the report page (Markdown and HTML)
    and the figure title name it (reports/implementation.py)."""
    from reports import build_report
    from reports.figures import common
    from verify.cli import run_claims
    from verify.results import write_results
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent))   # examples/
    ctx = Context(seeds=3, progress=False, implementations={"sam": "examples.my_sam:MySAM"})
    rows, verdicts = run_claims([small_claim()], ctx)
    assert verdicts[0]["implementation"] == "examples.my_sam:MySAM as sam"
    write_results(tmp_path, rows, verdicts, {})
    titles, save = [], common.st.save
    monkeypatch.setattr(common.st, "save", lambda fig, stem: titles.append(fig._suptitle.get_text()) or save(fig, stem))
    written = build_report(tmp_path, strict=True)
    fact = "examples.my_sam:MySAM as sam (a user optimizer in place of the built-in)"
    assert f"- **Implementation:** {fact}" in written["markdown"].read_text()
    assert f"<dt>Implementation</dt><dd>{fact}</dd>" in written["html"].read_text()
    assert titles == [common.verdict_title(verdicts[0]) + "\nrun with examples.my_sam:MySAM as sam"]
