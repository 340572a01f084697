"""Sweep batches as units of work: executors (local, dask, slurm), the batch cache and resuming.

A tiny claim-like grid (SAM on two_quadratics, 5 points x 4 seeds, T = 300) goes through
verify.sweep.run_points with a memory budget that makes every point its own batch (engine call).
"""
import sys

import numpy as np
import pandas as pd
import pytest

from optim.schedules import Schedule
from problems import Importance, TwoQuadratics
from verify.claim import Context
from verify.executors import LocalExecutor, MissingExtra, close_all, get_executor
from verify.sweep import Point, bytes_per_run, run_points

SEEDS = 4
RHOS = (0.0, 0.05, 0.1, 0.2, 0.3)


def grid(ctx: Context) -> pd.DataFrame:
    problem = TwoQuadratics(p=0.5, k1=1.0, k2=2.0, c1=-1.0, c2=1.0)
    points = [Point(f"rho={r:g}", {"lr": Schedule("inv_t", 1.0), "rho": r}, T=300) for r in RHOS]
    return run_points(ctx, "test.grid", "sam", problem, Importance(p=problem.q), points,
                      problem_name="two_quadratics", sampler_name="natural(p)", x0=np.array([1.0]),
                      checkpoints=np.array([1, 10, 100, 300]))


def ctx(**kw) -> Context:
    # one grid point per batch: 5 batches
    return Context(seeds=SEEDS, progress=False, max_memory=bytes_per_run(1, 300) * SEEDS * 1.5, **kw)


@pytest.fixture(scope="module")
def local_rows():
    c = ctx()
    rows = grid(c)
    assert [b["chunk"] for b in c.batches] == list(range(len(RHOS)))
    return rows


def test_chunking_does_not_change_results(local_rows):
    # the same numbers as one engine call of the whole grid (rows come in another order)
    one_call = grid(Context(seeds=SEEDS, progress=False))
    keys = ["point", "seed", "metric", "t"]
    pd.testing.assert_frame_equal(one_call.sort_values(keys, ignore_index=True),
                                  local_rows.sort_values(keys, ignore_index=True), check_exact=True)


def test_batches_are_logged(local_rows):
    c = ctx()
    grid(c)
    assert len(c.batches) == len(RHOS)
    for i, b in enumerate(c.batches):
        assert (b["claim"], b["label"], b["chunk"], b["cached"], b["executor"]) == ("test.grid", "", i, False, "local")
        assert b["worker"] == "local" and b["device"] == "cpu" and b["hostname"] and b["wall_s"] >= 0


def test_cache_resumes_only_missing_batches(local_rows, tmp_path):
    first = ctx(cache_dir=str(tmp_path))
    pd.testing.assert_frame_equal(grid(first), local_rows, check_exact=True)
    files = sorted(tmp_path.glob("*.parquet"))
    assert len(files) == len(RHOS)
    # everything cached: nothing recomputed, identical table
    again = ctx(cache_dir=str(tmp_path))
    pd.testing.assert_frame_equal(grid(again), local_rows, check_exact=True)
    assert [b["cached"] for b in again.batches] == [True] * len(RHOS)
    # lose one batch: only that one is recomputed
    victim = tmp_path / f"{first.batches[2]['key']}"
    hit = [f for f in files if f.name.startswith(victim.name)]
    assert len(hit) == 1
    hit[0].unlink()
    third = ctx(cache_dir=str(tmp_path))
    pd.testing.assert_frame_equal(grid(third), local_rows, check_exact=True)
    assert [b["chunk"] for b in third.batches if not b["cached"]] == [2]


class Interrupted(RuntimeError):
    pass


class DiesAfter(LocalExecutor):
    """A local executor killed after k batches (like a sweep interrupted half way)."""

    def __init__(self, k):
        self.k = k

    def run(self, fn, items, on_done):
        for i, item in enumerate(items):
            if i == self.k:
                raise Interrupted(f"killed after {self.k} batches")
            on_done(i, fn(item))


def test_interrupted_sweep_resumes(local_rows, tmp_path):
    with pytest.raises(Interrupted):
        grid(ctx(cache_dir=str(tmp_path), executor=DiesAfter(3)))
    assert len(list(tmp_path.glob("*.parquet"))) == 3
    rerun = ctx(cache_dir=str(tmp_path))
    pd.testing.assert_frame_equal(grid(rerun), local_rows, check_exact=True)
    assert sum(not b["cached"] for b in rerun.batches) == len(RHOS) - 3
    assert [b["chunk"] for b in rerun.batches if not b["cached"]] == [3, 4]


def test_cache_key_changes_with_inputs(tmp_path):
    a, b = ctx(cache_dir=str(tmp_path)), ctx(cache_dir=str(tmp_path), seed=1)
    grid(a)
    grid(b)   # another global seed: other samples, other keys, all recomputed
    assert not any(x["cached"] for x in b.batches)
    assert {x["key"] for x in a.batches}.isdisjoint({x["key"] for x in b.batches})


def test_missing_dask_gives_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingExtra) as e:
        get_executor(ctx(executor="dask"))
    msg = str(e.value)
    assert "\n" not in msg and "dask" in msg and '".[distributed]"' in msg


def test_missing_submitit_gives_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)
    with pytest.raises(MissingExtra) as e:
        grid(ctx(executor="slurm"))
    msg = str(e.value)
    assert "\n" not in msg and "submitit" in msg and '".[distributed]"' in msg


def test_cli_missing_extra_exits_2(monkeypatch, capsys, tmp_path):
    from verify.cli import main
    monkeypatch.setitem(sys.modules, "submitit", None)
    rc = main(["rates", "--claim", "sam.constant_rho_floor", "--executor", "slurm", "--out", str(tmp_path),
               "--no-report"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "submitit" in err and ".[distributed]" in err


def test_dask_two_workers_bit_identical(local_rows, tmp_path):
    pytest.importorskip("dask.distributed")
    try:
        c = ctx(executor="dask", workers=2, cache_dir=str(tmp_path))
        rows = grid(c)
        pd.testing.assert_frame_equal(rows, local_rows, check_exact=True)
        workers = {b["worker"] for b in c.batches}
        assert all(w.startswith("tcp://") for w in workers)
        assert not any(b["cached"] for b in c.batches) and len(c.batches) == len(RHOS)
        # what dask cached is what a local rerun reads back
        again = ctx(cache_dir=str(tmp_path))
        pd.testing.assert_frame_equal(grid(again), local_rows, check_exact=True)
        assert all(b["cached"] for b in again.batches)
    finally:
        close_all()


def test_finals_are_rows_of_the_sweep_and_part_of_the_cache_key(tmp_path):
    # the per-run trace statistics (verify.finals) come back as rows at t = T, equal to what the engine's
    # final iterates and trajectory give, and a sweep asking for them is a different cache entry
    from optim.batched import run as engine_run
    from problems import Uniform, logistic
    problem, sampler = logistic(n=20, n_val=20, d=3, reg=0.1, seed=0), Uniform(batch=1)
    points = [Point(f"lr={lr:g}", {"lr": lr, "rho": 0.05}, T=40, name=name) for lr, name in ((0.1, "a"), (0.2, "b"))]
    c = Context(seeds=2, progress=False, cache_dir=str(tmp_path))
    rows = run_points(c, "test.finals", "sam", problem, sampler, points, problem_name="lg", finals=("val_loss", "x_inf_max"))
    assert set(rows["algorithm"]) == {"a", "b"}
    seed = c.derive_seed("test.finals", "lg", "sam", "")
    tr = engine_run("sam", problem, sampler, {"lr": np.repeat([0.1, 0.2], 2), "rho": 0.05}, T=40, R=4, seed=seed,
                    groups=np.tile(np.arange(2), 2), trajectory=True)
    for name, want in (("val_loss", problem.val.f(tr.x)), ("x_inf_max", np.abs(tr.trajectory).max(axis=(0, 2)))):
        got = rows[rows["metric"] == name]
        assert list(got["t"]) == [40] * 4
        np.testing.assert_allclose(got["value"].to_numpy(), want, rtol=1e-12)
    plain = Context(seeds=2, progress=False, cache_dir=str(tmp_path))
    run_points(plain, "test.finals", "sam", problem, sampler, points, problem_name="lg")
    assert not any(b["cached"] for b in plain.batches)


def test_unknown_final_is_one_line():
    with pytest.raises(ValueError, match="final statistic 'x_max': must be one of val_loss, x_inf_max"):
        run_points(Context(seeds=1, progress=False), "t", "sam", TwoQuadratics(p=0.5, k1=1.0, k2=2.0, c1=-1.0, c2=1.0),
                   Importance(p=0.5), [Point("p", {"lr": 0.1, "rho": 0.1}, T=5)], problem_name="q", finals=("x_max",))
