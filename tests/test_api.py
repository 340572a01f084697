"""Users' claims: verify.api.rate_claim and --claims-from. A built-in claim re-declared in the short form
runs the same sweep (bit-identical rows) and reaches the same verdict; bounds and counterfeits of a
short-form claim can say "violated"; bad declarations and modules are one-line errors."""
import numpy as np
import pandas as pd
import pytest

from optim.schedules import Schedule
from problems import FullBatch, Quadratic
from verify.api import rate_claim
from verify.claim import Context
from verify.claims import unified_thm3_5_decreasing as dec
from verify.cli import main
from verify.registry import all_claims

CASE = "ridge_k1.6/uniform"
VALUE_COLUMNS = ["algorithm", "problem", "sampler", "point", "seed", "T", "b", "t", "metric", "value", "diverged"]


def short_thm3_5(**kw):
    """unified.thm3_5_decreasing's quick grid in the short form (its decreasing-schedule runs)."""
    return rate_claim(
        dec.ID, paper="Oikonomou & Loizou, ICLR 2025", theorem="Thm 3.5", status="confirmed", algorithm=dec.ALGO,
        problem=lambda: dec.make_case(CASE)[0], sampler=lambda: dec.make_case(CASE)[1],
        hp=lambda problem, sampler, lam, schedule, T: dec.schedule_hp(schedule, dec.thm3_2_constants(problem, sampler, lam), lam),
        grid=[{"lam": lam, "schedule": "decreasing", "T": dec.GRIDS["quick"]["cases"][CASE]} for lam in dec.LAMBDAS],
        label=lambda lam, schedule, T: dec.label(CASE, lam, schedule),
        fit_from=lambda problem, sampler, lam, **_: dec.thm3_2_constants(problem, sampler, lam)["fit_from"],
        decades=dec.WINDOW_DECADES, predicted_slope=-1.0, tol=dec.TOL, replicas=dec.REPLICAS,
        n_checkpoints=dec.N_CHECKPOINTS, problem_name="ridge", sampler_name="uniform", stream=CASE, **kw)


@pytest.fixture(scope="module")
def builtin():
    claim = all_claims()[dec.ID]
    rows = claim.execute(Context(progress=False))
    return rows, claim.verdict(rows)


def test_redeclared_builtin_claim_gives_identical_rows_and_verdict(builtin):
    rows, verdict = builtin
    short = short_thm3_5()
    mine = short.execute(Context(progress=False))
    want = rows[rows["point"].str.endswith(" decreasing") & (rows["seed"] >= 0)]
    key = ["point", "seed", "t", "metric"]
    pd.testing.assert_frame_equal(mine[VALUE_COLUMNS].sort_values(key, ignore_index=True),
                                  want[VALUE_COLUMNS].sort_values(key, ignore_index=True), check_exact=True)
    v = short.verdict(mine)
    assert v["verdict"] == verdict["verdict"] == "holds"
    # engine runs, not seed values: lambdas x seeds x replicas (the built-in adds the constant-step contrast)
    assert v["n_runs"] == len(dec.LAMBDAS) * 8 * dec.REPLICAS and verdict["n_runs"] == 2 * v["n_runs"]
    for e in v["regime_map"]:   # the same fits: the built-in's per-lambda slopes, to the last bit
        lam = float(e["point"].split("lam=")[1].split()[0])
        assert e["estimate"] == verdict["numbers"][f"slope_lam{lam:g}"]["value"]
        assert e["ci_high"] == verdict["numbers"][f"slope_lam{lam:g}"]["ci_high"]


def test_short_form_counterfeit_is_rejected():
    short = short_thm3_5(counterfeits={"constant_step": {"change": "constant steps", "behaviour": "stalls",
                                                         "schedule": "constant"}})
    cf = short.counterfeit("constant_step")
    assert cf.verdict(cf.execute(Context(progress=False)))["verdict"] == "violated"


def gd_claim(**kw):
    """GD with eta_t = 1/(mu (t + 2)) on (mu/2) x^2: x_t = x_0/(t + 1) exactly, f_t = mu x_0^2 / (2 (t + 1)^2)."""
    args = dict(grid=[{"T": 1000, "mu": 2.0, "x0": 0.5, "c": 1.0}], predicted_slope=-2.0, tol=0.1, decades=1.5,
                bound="c * mu * x0**2 / (2 * (t + 1)**2)")
    return rate_claim(
        "test.gd_inv_t", paper="-", theorem="-", algorithm="sgd", problem=lambda: Quadratic(np.array([[2.0]])),
        sampler=FullBatch, x0=np.array([0.5]), hp=lambda problem, sampler, mu, **_: {"lr": Schedule("inv_t", 1 / mu, t0=2.0)},
        **{**args, **kw})


def test_sympy_bound_holds_at_equality_and_a_shrunk_bound_is_violated():
    claim = gd_claim(counterfeits={"shrunk_bound": {"change": "bound x 1/2", "behaviour": "below the runs", "c": 0.5}})
    ctx = Context(seeds=2, progress=False)
    v = claim.verdict(claim.execute(ctx))
    assert v["verdict"] == "holds", v["reason"]
    assert v["estimate"] == pytest.approx(-2.0, abs=0.05)
    cf = claim.counterfeit("shrunk_bound")
    v = cf.verdict(cf.execute(ctx))
    assert v["verdict"] == "violated" and "bound is exceeded" in v["reason"]


def test_wrong_rate_is_violated():
    claim = gd_claim(bound=None, predicted_slope=-3.0)
    assert claim.verdict(claim.execute(Context(seeds=2, progress=False)))["verdict"] == "violated"


def test_bad_declarations_are_one_line_errors():
    with pytest.raises(ValueError, match="axis 'x'"):
        gd_claim(axis="x")
    with pytest.raises(ValueError, match="each with its horizon 'T'"):
        gd_claim(grid=[{"mu": 2.0}])
    with pytest.raises(ValueError, match="must depend on the symbol 't'"):
        gd_claim(bound="c * mu")
    claim = gd_claim(bound="c * nope / t")
    with pytest.raises(ValueError, match="nope are not keys of the grid point"):
        claim.execute(Context(seeds=2, progress=False))


def test_claims_from_cli(tmp_path, capsys):
    assert main(["list", "--claims-from", "examples.my_theorem"]) == 0
    assert "my.thm3_5" in capsys.readouterr().out
    for bad, says in (("no_such_module", "cannot import 'no_such_module'"), ("verify.cli", "defines no verify.claim.Claim")):
        assert main(["rates", "--claims-from", bad, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err.strip()
        assert says in err and len(err.splitlines()) == 1
