"""Behaviour of the figure modules that the report tests do not pin down: the verdict title,
eps in units of s, the violated cells of the LightSAM heatmap, distinct LETS line styles, and
that slopes come from the verdict (stored) or from ``verify.stats`` (local), never another method.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reports.figures import common, make_figures
from reports.figures.adasam import eps_label
from reports.figures.data import local_slope
from reports.figures.lets import algo_styles
from reports.figures.lightsam import violated_cells
from verify.stats import fit_loglog_slope


def _rows(params: dict) -> pd.DataFrame:
    return pd.DataFrame({"params": [json.dumps(params)]})


def test_eps_label_in_units_of_s():
    assert eps_label(_rows({"eps": 0.00782, "eps_rel": "0.1 s"})) == \
        (r"$\epsilon$ = 0.1 s", pytest.approx(0.0782))
    assert eps_label(_rows({"eps": 0.0782, "eps_rel": "1 s"}))[0] == r"$\epsilon$ = s"
    assert eps_label(_rows({"eps": 0.782, "eps_rel": "10 s"}))[0] == r"$\epsilon$ = 10 s"
    assert eps_label(_rows({"eps": 1e-8, "eps_rel": "1e-8 (absolute)"})) == (r"$\epsilon$ = 1e-8", None)
    assert eps_label(_rows({"eps": 0.1})) == (None, None)


def test_violated_cells_from_the_regime_map():
    v = {"regime_map": [
        {"algorithm": "sam", "rho": 1.0, "eta": 1000.0, "verdict": "violated"},
        {"algorithm": "sam", "rho": 1e-3, "eta": 1e-3, "verdict": "holds"},
        {"algorithm": "lightsam1", "rho": 1.0, "eta": 1.0, "verdict": "violated"}]}
    grid = np.array([1e-3, 1.0, 1e3])
    assert violated_cells(v, "sam", grid, grid) == [(1, 2)]
    assert violated_cells(v, "lightsam1", grid, grid) == [(1, 1)]
    assert violated_cells(v, "lightsam2", grid, grid) == []


def test_lets_algorithms_differ_in_colour_style_and_marker():
    sty = algo_styles(["lets_sam", "lets_asam", "sam", "lets_sam(beta=1)"])
    for k in range(3):
        assert len({s[k] for s in sty.values()}) == 4


def _rate_frame(rng) -> pd.DataFrame:
    rows = []
    for T in (100, 300, 1000, 3000):
        for s in range(5):
            rows.append({"claim": "c", "algorithm": "sam", "metric": "f_gap", "T": T, "t": T,
                         "seed": s, "value": T ** -0.5 * np.exp(0.1 * rng.standard_normal()),
                         "diverged": False, "point": "", "params": "{}"})
    return pd.DataFrame(rows)


def test_local_slope_is_the_verdicts_method():
    df = _rate_frame(np.random.default_rng(1)).assign(ok=True)
    pv = df.pivot_table(index="seed", columns="T", values="value")
    fit = fit_loglog_slope(pv.columns.to_numpy(float), pv.to_numpy())
    assert local_slope(df, "T") == (fit.slope, fit.ci_low, fit.ci_high)


@pytest.fixture
def captured(monkeypatch):
    """The figures passed to style.save, instead of writing them."""
    figs = []
    monkeypatch.setattr(common.st, "save", lambda fig, stem: figs.append(fig) or [stem])
    return figs


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def test_figure_title_and_stored_fit(captured, tmp_path):
    df = _rate_frame(np.random.default_rng(0))
    v = {"claim": "c", "metric": "f_gap", "figure": "rate", "verdict": "violated",
         "expected": "holds", "fit": {"slope": -0.123, "ci_low": -0.2, "ci_high": -0.05}}
    make_figures(df, [v], tmp_path, strict=True)
    (fig,) = captured
    assert fig._suptitle.get_text() == "c: violated (expected holds)"
    texts = _legend_texts(fig)
    assert any("slope -0.12 [-0.20, -0.05]" in t for t in texts), texts
    assert not any("local fit" in t for t in texts)


def test_local_fit_is_marked(captured, tmp_path):
    df = _rate_frame(np.random.default_rng(0))
    make_figures(df, [{"claim": "c", "metric": "f_gap", "figure": "rate", "verdict": "holds"}],
                 tmp_path, strict=True)
    texts = _legend_texts(captured[0])
    assert any("(local fit)" in t for t in texts), texts
    assert captured[0]._suptitle.get_text() == "c: holds"
