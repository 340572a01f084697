"""The results table's schema: the fixed columns (verify.results.COLUMNS), then the typed
hyperparameter columns ``hp.<key>`` derived from ``params``, which the figures read
(``reports.figures.data.param_column``) instead of the point label."""
import json

import numpy as np
import pandas as pd
import pytest

from optim.schedules import Schedule
from problems import Importance, TwoQuadratics
from reports.figures.data import param_column
from reports.tables import read_results
from verify.claim import Context
from verify.results import COLUMNS, hp_columns, write_results
from verify.sweep import Point, run_points, theory_rows

CLAIM = "test.schema"


def sweep_rows() -> pd.DataFrame:
    """A small Unified SAM claim: a constant-step point and an inv_t-schedule point (one batch each,
    as a claim stacks them), with a string and a bool in the info, plus a theory row."""
    problem = TwoQuadratics(p=0.5, k1=1.0, k2=2.0, c1=-1.0, c2=1.0)
    kw = dict(problem_name="two_quadratics", sampler_name="natural(p)", x0=np.array([1.0]),
              checkpoints=np.array([1, 10, 20]))
    ctx = Context(seeds=2, progress=False)
    const = [Point("lambda=9", {"lr": 0.1, "rho": 0.05, "lam": 0.5}, T=20, b=2,
                   info={"kind": "const", "shifted": True})]
    decay = [Point("lambda=1", {"lr": Schedule("inv_t", 1.0, t0=2.0), "rho": 0.05, "lam": 1.0}, T=20, b=2,
                   info={"kind": "decay", "shifted": False})]
    return pd.concat([run_points(ctx, CLAIM, "unified_sam", problem, Importance(p=problem.q), pts, label=label, **kw)
                      for pts, label in ((const, "const"), (decay, "decay"))]
                     + [theory_rows(CLAIM, "unified_sam", "two_quadratics", "natural(p)", "lambda=9", 20, 2, 20,
                                    "floor", 1e-3)], ignore_index=True)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the sweep's rows, the table write_results wrote, read back by the reports)."""
    rows = sweep_rows()
    out = tmp_path_factory.mktemp("schema")
    write_results(out, rows, [], {})
    return rows, read_results(out)


def test_sweep_rows_hold_the_fixed_columns_only(written):
    rows, _ = written
    assert list(rows.columns) == COLUMNS


def test_written_table_has_typed_hp_columns(written):
    rows, table = written
    hp = ["hp.kind", "hp.lam", "hp.lr", "hp.lr.c", "hp.lr.schedule", "hp.lr.t0", "hp.rho", "hp.shifted"]
    assert list(table.columns) == COLUMNS + hp
    pd.testing.assert_frame_equal(table[COLUMNS], rows[COLUMNS].reset_index(drop=True))
    for col in ("hp.lam", "hp.lr", "hp.lr.c", "hp.lr.t0", "hp.rho", "hp.shifted"):
        assert table[col].dtype == np.float64, col
    assert pd.api.types.is_string_dtype(table["hp.kind"]) and pd.api.types.is_string_dtype(table["hp.lr.schedule"])
    by_point = {p: g.iloc[0] for p, g in table[table["seed"] >= 0].groupby("point")}
    const, decay = by_point["lambda=9"], by_point["lambda=1"]
    assert (const["hp.lam"], const["hp.lr"], const["hp.rho"], const["hp.kind"], const["hp.shifted"]) == \
        (0.5, 0.1, 0.05, "const", 1.0)
    assert np.isnan(const["hp.lr.c"]) and np.isnan(const["hp.lr.t0"]) and pd.isna(const["hp.lr.schedule"])
    assert (decay["hp.lam"], decay["hp.lr.schedule"], decay["hp.lr.c"], decay["hp.lr.t0"], decay["hp.shifted"]) == \
        (1.0, "inv_t", 1.0, 2.0, 0.0)
    assert np.isnan(decay["hp.lr"])
    theory = table[table["seed"] < 0]
    assert len(theory) and theory[hp].isna().all().all()


def test_hp_columns_of_the_written_table_equal_those_from_params(written):
    _, table = written
    pd.testing.assert_frame_equal(hp_columns(table["params"]), table.filter(like="hp."))


def test_param_column_reads_the_typed_column_not_the_label(written):
    _, table = written
    assert set(param_column(table[table["point"] == "lambda=9"], "lam").dropna()) == {0.5}
    frame = pd.DataFrame({"point": ["rho=9", "rho=9"], "params": [json.dumps({"rho": 0.1}), "{}"]})
    for d in (frame, pd.concat([frame, hp_columns(frame["params"])], axis=1)):
        got = param_column(d, "rho")
        assert got.iloc[0] == 0.1 and np.isnan(got.iloc[1])
    typed = frame.assign(**{"hp.rho": [0.2, np.nan]})
    assert param_column(typed, "rho").iloc[0] == 0.2
    assert param_column(frame, "lam").isna().all()
    assert param_column(frame, "kind", numeric=False).isna().all()
