"""Counterfeits and the error rates of verdicts (python -m verify power)."""
import inspect
from dataclasses import replace
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from verify import power
from verify.claim import Context, Counterfeit
from verify.registry import all_claims
from verify.stats import SlopeFit, holm, slope_pvalue, wilson_interval

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = all_claims()


@pytest.mark.parametrize("cid", list(CLAIMS))
def test_every_claim_declares_counterfeits(cid):
    """At least two known-false variants, each a configuration of the claim's own run and judge."""
    claim = CLAIMS[cid]
    assert len(claim.counterfeits) >= 2, f"{cid} declares {len(claim.counterfeits)} counterfeits"
    run_params = inspect.signature(claim.run).parameters
    judge_params = inspect.signature(claim.judge).parameters
    for cf in claim.counterfeits:
        assert cf.change and cf.behaviour
        assert set(cf.run) <= set(run_params), f"{cid}~{cf.name}: run takes no {set(cf.run) - set(run_params)}"
        assert set(cf.judge) <= set(judge_params), f"{cid}~{cf.name}: judge takes no {set(cf.judge) - set(judge_params)}"
        assert cf.run or cf.judge, f"{cid}~{cf.name} changes nothing"
        variant = claim.counterfeit(cf.name)
        assert variant.id == f"{cid}~{cf.name}" and variant.expected == cf.expected
        assert variant.counterfeit_of == cid
        if claim.expected == "holds":
            assert cf.expected == "violated"
    assert [v.id for v in claim.variants()][0] == cid


@pytest.mark.parametrize("cid", list(CLAIMS))
def test_first_counterfeit_is_rejected_on_the_quick_grid(cid):
    """The claim's first counterfeit gets its expected verdict ("violated" for a claim that holds) on
    the quick grid at global seed 0: the verdict rule can fail."""
    claim = CLAIMS[cid]
    variant = claim.counterfeit(claim.counterfeits[0].name)
    rows = variant.execute(Context(quick=True, seeds=8, seed=0, progress=False))
    assert set(rows["claim"]) == {variant.id}
    verdict = variant.verdict(rows)
    assert verdict["verdict"] == variant.expected, verdict["reason"]


def test_counterfeit_api_errors():
    claim = CLAIMS["sam.deterministic_sc"]
    with pytest.raises(ValueError, match="has no counterfeit 'nope'"):
        claim.counterfeit("nope")
    with pytest.raises(ValueError, match="must be holds or violated"):
        Counterfeit("x", "c", "b", run={"a": 1}, expected="inconclusive")
    with pytest.raises(ValueError, match="identifier"):
        Counterfeit("not a name", "c", "b")


def test_repeat_blocks_renumber_seeds_and_share_theory_rows():
    rows = pd.DataFrame({"seed": [-1, 0, 1, 2, 3, 4, 5], "value": np.arange(7.0)})
    blocks = dict(power.repeat_blocks(rows, seeds=2, repeats=3))
    assert list(blocks) == [0, 1, 2]
    for r, b in blocks.items():
        assert b["seed"].tolist() == [-1, 0, 1]
        assert b["value"].tolist() == [0.0, 1.0 + 2 * r, 2.0 + 2 * r]


def test_summarize_counts_size_and_power():
    table = pd.DataFrame({
        "claim": "c", "variant": ["claim"] * 4 + ["slow"] * 4, "role": ["claim"] * 4 + ["counterfeit"] * 4,
        "expected": ["holds"] * 4 + ["violated"] * 4,
        "verdict": ["holds", "holds", "violated", "inconclusive", "violated", "violated", "violated", "holds"]})
    s = power.summarize(table).set_index("variant")
    assert s.loc["claim", "measure"] == "size" and s.loc["claim", "rate"] == 0.25
    assert s.loc["claim", "p_inconclusive"] == 0.25 and s.loc["claim", "p_expected"] == 0.5
    assert s.loc["slow", "measure"] == "power" and s.loc["slow", "rate"] == 0.75
    assert (s.loc["slow", "rate_low"], s.loc["slow", "rate_high"]) == pytest.approx(wilson_interval(3, 4))
    c = power.claim_summary(power.summarize(table))["c"]
    assert c["worst_counterfeit"] == "slow" and c["worst_power"] == 0.75
    assert not c["meets_targets"] and not c["gate_verdict"]


def test_wilson_interval_matches_the_formula():
    k, n, z = 3, 20, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson_interval(k, n) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(0, 0) != wilson_interval(0, 0)  # NaN


def test_holm_step_down():
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == [True, False, False, True]
    assert holm([0.04, 0.04]).tolist() == [False, False]
    assert holm([0.01, np.nan]).tolist() == [True, False]
    assert holm([0.03]).tolist() == [True]
    assert holm([0.03, np.nan]).tolist() == [False, False]  # an unresolved test still counts in m


def test_slope_pvalue_reads_the_t_interval_back():
    from scipy.stats import t
    q = t.ppf(0.975, 7)
    fit = SlopeFit(0.3, 0.3 - q * 0.1, 0.3 + q * 0.1, 0.0, 5, 8, 0.95)
    assert slope_pvalue(fit, 0.1) == pytest.approx(t.sf(2.0, 7))
    assert slope_pvalue(SlopeFit(0.2, 0.2, 0.2, 0, 5, 8, 0.95), 0.1) == 0.0
    assert slope_pvalue(SlopeFit(0.0, 0.0, 0.0, 0, 5, 8, 0.95), 0.1) == 1.0
    assert np.isnan(slope_pvalue(SlopeFit(0.2, np.nan, np.nan, 0, 5, 1, 0.95), 0.1))


def test_verdict_gated_reads_the_power_file(tmp_path):
    path = tmp_path / "power.json"
    assert not power.verdict_gated("c", path)
    power.record("quick", "cmd", 20, 8, {"c": {"gate_verdict": True}, "d": {"gate_verdict": False}}, path)
    assert power.verdict_gated("c", path) and not power.verdict_gated("d", path)
    power.record("quick", "cmd", 20, 8, {"d": {"gate_verdict": True}}, path)
    assert power.verdict_gated("c", path) and power.verdict_gated("d", path)


def test_committed_power_file_covers_every_claim():
    data = power.load_power_file()
    assert set(data["quick"]["claims"]) == set(CLAIMS)
    assert data["quick"]["repeats"] >= 10 and data["quick"]["command"].startswith("python -m verify power")


def test_power_cli_writes_table_figure_and_section(tmp_path):
    out = subprocess.run([sys.executable, "-m", "verify", "power", "--claim", "unified.cor3_4_plateau",
                          "--repeats", "2", "--out", str(tmp_path), "--no-cache"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "unified.cor3_4_plateau" in out.stdout and "size" in out.stdout and "power" in out.stdout
    table = pd.read_parquet(tmp_path / "power.parquet")
    n_variants = 1 + len(CLAIMS["unified.cor3_4_plateau"].counterfeits)
    assert len(table) == 2 * n_variants and set(table["repeat"]) == {0, 1}
    summary = json.loads((tmp_path / "power.json").read_text())
    assert "cpu_capability" in summary["provenance"] and summary["provenance"]["repeats"] == 2
    assert (tmp_path / "power.png").stat().st_size > 0 and (tmp_path / "power.pdf").exists()
    assert "Error rates of the verdicts" in (tmp_path / "power.md").read_text()


def test_power_cli_bad_repeats_is_one_line():
    out = subprocess.run([sys.executable, "-m", "verify", "power", "--repeats", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--repeats 0" in out.stderr and out.stderr.count("\n") == 1


@pytest.mark.slow
@pytest.mark.parametrize("cid", list(CLAIMS))
def test_size_at_another_global_seed(cid):
    """Size of every claim whose committed quick measurement meets the gate's level, re-measured at
    global seed 1 over 10 repeats: at most 1 of 10 repeats may give the opposite decisive verdict
    (with a true size of 5% that happens with probability 0.91)."""
    if not power.verdict_gated(cid):
        pytest.skip(f"{cid}: committed quick-grid error rates below the gate's level (numbers-only claim)")
    claim = CLAIMS[cid]
    alone = replace(claim, counterfeits=())
    table = power.measure(alone, Context(quick=True, seeds=8, seed=1, progress=False), repeats=10)
    wrong = (table["verdict"] == power.OPPOSITE[claim.expected]).sum()
    assert wrong <= 1, table["reason"].tolist()


def test_list_shows_both_grids_measurements(capsys):
    from verify.cli import main
    committed = power.load_power_file()
    assert main(["list"]) == 0
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ") and "counterfeits" in ln}
    for grid in ("quick", "full"):
        for cid, m in committed.get(grid, {}).get("claims", {}).items():
            assert f"{grid} {m['size']:.2f}/{m['worst_power']:.2f}" in lines[cid]
    assert all(len(ln) <= 100 for ln in lines.values())
