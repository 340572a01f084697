"""The CI regression gate (python -m verify check) and run-to-run determinism."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from verify import check
from verify.claim import Context
from verify.registry import all_claims

ROOT = Path(__file__).resolve().parent.parent


def test_same_seed_same_machine_bit_identical_tables():
    claim = all_claims()["sam.deterministic_sc"]
    a = claim.execute(Context(seeds=2, seed=3, progress=False))
    b = claim.execute(Context(seeds=2, seed=3, progress=False))
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_other_seed_changes_a_stochastic_table():
    claim = all_claims()["sam.constant_rho_floor"]
    a = claim.execute(Context(seeds=2, seed=0, progress=False))
    b = claim.execute(Context(seeds=2, seed=1, progress=False))
    assert not a["value"].equals(b["value"])


def test_drift_rule():
    base = {"c": {"verdict": "holds", "expected": "holds",
                  "numbers": {"slope": {"value": -0.5, "ci_low": -0.55, "ci_high": -0.45}}}}
    same = {"c": {"verdict": "holds", "expected": "holds",
                  "numbers": {"slope": {"value": -0.47, "ci_low": -0.52, "ci_high": -0.42}}}}
    moved = {"c": {"verdict": "holds", "expected": "holds",
                   "numbers": {"slope": {"value": -0.3, "ci_low": -0.35, "ci_high": -0.25}}}}
    flipped = {"c": {"verdict": "violated", "expected": "holds", "numbers": same["c"]["numbers"]}}
    assert check.drift(base, same) == []
    assert check.drift(base, moved) == ["c: slope -0.5 [-0.55, -0.45] -> -0.3 [-0.35, -0.25] (CIs do not overlap)"]
    assert check.drift(base, flipped) == ["c: verdict holds -> violated"]
    unsure = {"c": {**flipped["c"], "verdict": "inconclusive"}}
    assert check.drift(base, unsure) == ["c: verdict holds -> inconclusive"]
    assert check.drift(base, unsure, decisive_only=True) == []
    assert check.drift(base, flipped, decisive_only=True) == ["c: verdict holds -> violated"]
    assert check.drift(base, {}) == ["c: missing from this run (in the baseline)"]
    point = {"c": {"verdict": "holds", "expected": "holds",
                   "numbers": {"slope": {"value": 1.0, "ci_low": 1.0, "ci_high": 1.0}}}}
    nudged = {"c": {**point["c"], "numbers": {"slope": {"value": 1 + 1e-12, "ci_low": 1 + 1e-12,
                                                          "ci_high": 1 + 1e-12}}}}
    moved_point = {"c": {**point["c"], "numbers": {"slope": {"value": 1 + 1e-6, "ci_low": 1 + 1e-6,
                                                               "ci_high": 1 + 1e-6}}}}
    assert check.drift(point, nudged) == []
    assert len(check.drift(point, moved_point)) == 1


def test_baseline_covers_every_claim():
    baseline = json.loads(check.BASELINE.read_text())["claims"]
    assert set(baseline) == set(all_claims())
    for cid, entry in baseline.items():
        assert entry["numbers"], f"{cid} has no gated numbers"


def test_gate_passes_on_main():
    """The gate itself: every claim's quick grid against verify/baseline.json, here with the engine's
    eager loop (the baseline was made with the compiled loop, which .ci/run gates too): verdicts and
    gated numbers must not depend on which loop ran them."""
    out = subprocess.run([sys.executable, "-m", "verify", "check", "--eager"], cwd=ROOT, capture_output=True,
                         text=True, timeout=1200)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no drift" in out.stdout
    table = [line for line in out.stdout.splitlines() if not line.startswith("no drift")]   # that one names a path
    assert all(len(line) <= 100 for line in table), "the gate's table is wrapped at 100 columns"


def test_gate_fails_on_a_moved_baseline(tmp_path):
    """A baseline whose slope CI excludes today's value makes the gate exit 1 naming the claim."""
    baseline = json.loads(check.BASELINE.read_text())["claims"]
    cid = "sam.deterministic_sc"
    entry = baseline[cid]
    name, num = next(iter(entry["numbers"].items()))
    shift = 10 * (abs(num["value"]) + 1)
    entry["numbers"][name] = {"value": num["value"] + shift, "ci_low": num["value"] + shift - 1e-9,
                              "ci_high": num["value"] + shift + 1e-9}
    path = tmp_path / "baseline.json"
    check.save(path, {cid: entry})
    out = subprocess.run([sys.executable, "-m", "verify", "check", "--claim", cid, "--baseline", str(path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 1
    assert out.stdout.startswith(f"{cid}: {name}")


@pytest.mark.parametrize("args,message", [
    (["rates", "--algo", "nope"], "unknown algorithm 'nope'"),
    (["rates", "--claim", "nope"], "unknown claim 'nope'"),
    (["rates", "--seeds", "1"], "--seeds 1"),
    (["rates", "--device", "tpu"], "--device tpu"),
    (["rates", "--out", "/proc/samcheck-unwritable"], "--out /proc/samcheck-unwritable"),
    (["check", "--baseline", "/nonexistent/b.json"], "does not exist"),
    (["check", "--claim", "nope"], "unknown claim 'nope'"),
    (["report", "/nonexistent/dir"], "no such directory"),
    (["rates", "--max-memory", "inf"], "--max-memory inf"),
    (["rates", "--max-memory", "nan"], "--max-memory nan"),
    (["rates", "--workers", "4"], "--workers 4: the local executor"),
    (["rates", "--algo", "sam", "--claim", "unified.importance"], "does not involve --algo sam"),
    (["check", "--threads", "0"], "--threads 0"),
    (["power", "--claim", "nope"], "unknown claim 'nope'"),
])
def test_cli_bad_input_is_one_line_exit_2(args, message):
    """Bad input: one line on stderr, exit code 2, no traceback."""
    out = subprocess.run([sys.executable, "-m", "verify", *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    assert message in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize("content", ['{"claims": ', "[]", "{}", '{"claims": {"c": {"verdict": "holds"}}}', "\x00\xff"])
def test_broken_baseline_is_exit_2_with_its_path(tmp_path, content):
    """A broken baseline is bad input (exit 2, one line naming the file), never the drift code 1."""
    path = tmp_path / "baseline.json"
    path.write_bytes(content.encode("latin-1"))
    out = subprocess.run([sys.executable, "-m", "verify", "check", "--baseline", str(path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and str(path) in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize("content", [None, b"garbage", bytes(range(256))])
def test_report_of_a_broken_directory_is_exit_2(tmp_path, content):
    if content is not None:
        (tmp_path / "results.parquet").write_bytes(content)
    out = subprocess.run([sys.executable, "-m", "verify", "report", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and str(tmp_path) in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_out_with_an_earlier_run_is_refused_unless_overwrite(tmp_path):
    (tmp_path / "results.parquet").write_bytes(b"earlier")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "old.png").write_bytes(b"earlier")
    args = [sys.executable, "-m", "verify", "rates", "--claim", "sam.deterministic_sc", "--no-report", "--seeds", "2",
            "--out", str(tmp_path), "--no-cache"]
    refused = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr
    assert (tmp_path / "results.parquet").read_bytes() == b"earlier"
    done = subprocess.run(args + ["--overwrite"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "figures").exists() and (tmp_path / "verdicts.json").exists()


def test_default_output_directories_are_unique(tmp_path):
    from verify.cli import _check_out
    import os
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        made = {_check_out(None) for _ in range(3)}
    finally:
        os.chdir(cwd)
    assert len(made) == 3


def test_cuda_requested_without_cuda():
    import torch
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    out = subprocess.run([sys.executable, "-m", "verify", "rates", "--device", "cuda"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "CUDA is not available" in out.stderr and out.stderr.count("\n") == 1


def test_algorithm_without_claim_says_so(tmp_path):
    out = subprocess.run([sys.executable, "-m", "verify", "rates", "--algo", "sgd", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "has no claim" in out.stdout


def test_strict_exits_1_when_a_verdict_differs_from_expected(tmp_path):
    """lightsam.any_rho's quick grid is inconclusive (pre-asymptotic points) while it expects holds."""
    args = [sys.executable, "-m", "verify", "rates", "--claim", "lightsam.any_rho", "--no-report", "--out", str(tmp_path)]
    plain = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    strict = subprocess.run(args + ["--strict", "--overwrite"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    verdicts = json.loads((tmp_path / "verdicts.json").read_text())["claims"]
    assert plain.returncode == 0
    assert strict.returncode == (1 if verdicts[0]["verdict"] != verdicts[0]["expected"] else 0)
    assert (tmp_path / "results.parquet").exists() and (tmp_path / "provenance.json").exists()


def test_family_wise_widening():
    """With m gated numbers each 95% CI is widened by z(1 - 0.05/2m)/z(0.975) before the overlap test."""
    assert check.family_factor(1) == pytest.approx(1.0)
    assert check.family_factor(50) == pytest.approx(3.29053 / 1.95996, rel=1e-4)
    base = {f"c{i}": {"verdict": "holds", "expected": "holds",
                      "numbers": {"x": {"value": 0.0, "ci_low": -1.0, "ci_high": 1.0}}} for i in range(50)}
    near = {k: {**v, "numbers": {"x": {"value": 2.5, "ci_low": 1.5, "ci_high": 3.5}}} for k, v in base.items()}
    far = {k: {**v, "numbers": {"x": {"value": 4.0, "ci_low": 3.0, "ci_high": 5.0}}} for k, v in base.items()}
    assert check.drift(base, near) == []
    assert len(check.drift(base, far)) == 50


def test_eager_flag_turns_the_compiled_loop_off_and_is_part_of_the_cache_key():
    """verify runs the engine's compiled loop unless --eager; the two loops agree to round-off only,
    so a cached batch of one is never served to the other."""
    from dataclasses import replace

    from verify.cache import batch_key
    from verify.cli import _context, _parser
    from verify.executors import Batch
    assert _context(_parser().parse_args(["rates"])).compile
    assert not _context(_parser().parse_args(["rates", "--eager"])).compile
    batch = Batch(claim="c", label="", index=0, algorithm="sam", problem=None, problem_name="p", sampler=None,
                  hp={"lr": 0.1}, T=pd.Series([3]).to_numpy(), groups=pd.Series([0]).to_numpy(), seed=1,
                  meta=pd.DataFrame({"seed": [0]}))
    assert batch_key(batch) != batch_key(replace(batch, compile=False))


def test_check_summary_wraps_every_number_within_100_columns():
    from verify.cli import check_summary
    nums = {f"number_{i}": {"value": i + 0.5, "ci_low": i, "ci_high": i + 1.0} for i in range(12)}
    text = check_summary({"some.claim": {"verdict": "holds", "numbers": nums}})
    assert all(len(line) <= 100 for line in text.splitlines()) and len(text.splitlines()) > 1
    assert text.startswith("some.claim") and " holds " in text.splitlines()[0]
    assert all(f"number_{i} {i + 0.5:.3g} [{i:.3g}, {i + 1.0:.3g}]" in " ".join(text.split()) for i in range(12))
