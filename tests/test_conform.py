"""python -m verify conform: the suite's own optimizers (tests/conform_optimizers.py), correct ones
conform, each planted bug is found with its first bad step and cause; CLI exit codes and report files."""
import json

import pytest
import torch

import conform_optimizers as co
from examples.my_sam import MySAM, sam_step
from verify.cli import main
from verify.conform import TOL, conform, default_cases


def _nan_at_zero_gradient(x, grad_fn, state, hp):
    """Functional SAM that normalises without a guard: NaN when s = 0."""
    s = grad_fn(x)
    return x - hp["lr"] * grad_fn(x + hp["rho"] * s / torch.linalg.vector_norm(s)), state


def _nan_below_float64(x, grad_fn, state, hp):
    """Correct in float64, NaN in any lower precision (the low-precision checks must see it)."""
    x1, state = co.functional_sam(x, grad_fn, state, hp)
    return (x1 if x.dtype == torch.float64 else x1 * float("nan")), state


SHORT = default_cases(T=30)


@pytest.mark.parametrize("obj,algo", [(MySAM, "sam"), (sam_step, "sam"), (co.two_step_sam(), "sam"), (co.two_step_sam("plus_1e-12"), "sam"),
                                      (co.functional_sam, "sam"),
                                      (co.functional_asam(), "asam"), (co.closure_adasam(), "adasam")],
                         ids=["examples.MySAM", "examples.sam_step", "two_step_sam", "davda54_norm_plus_1e-12", "functional_sam", "functional_asam", "closure_adasam"])
def test_correct_optimizers_conform_under_the_default(obj, algo):
    rep = conform(obj, algo, cases=SHORT)
    assert rep["conforms"] and rep["convention"] == {} and rep["cause"] is None
    assert all(c["max_rel_dev"] <= TOL and c["first_bad_step"] is None for c in rep["cases"])
    assert all(r["ok"] for r in rep["reductions"])


@pytest.mark.parametrize("obj,algo,code,check", [
    (co.two_step_sam("rho_or_default"), "sam", "reduction", "rho = 0 gives sgd"),
    (co.two_step_sam("eps_inside_norm"), "sam", "eps_inside_norm", None),
    (co.two_step_sam("not_undone"), "sam", "perturbation_not_undone", None),
    (co.closure_adasam("state_twice"), "adasam", "state_updated_twice", None),
    (co.closure_adasam("not_undone"), "adasam", "perturbation_not_undone", None),
    (_nan_at_zero_gradient, "sam", "reduction", "zero gradient stays finite (float64)"),
], ids=["rho0", "eps_inside_norm", "sam_not_undone", "adasam_state_twice", "adasam_not_undone", "nan_zero_grad"])
def test_planted_bugs_fail_with_step_and_cause(obj, algo, code, check):
    rep = conform(obj, algo, cases=SHORT)
    assert not rep["conforms"]
    assert rep["cause"]["code"] == code and rep["cause"]["step"] == 0
    if check is None:  # the iterates themselves deviate from the first update on, under every convention
        assert rep["convention"] is None
        assert min(c["first_bad_step"] for c in rep["default_cases"] if c["first_bad_step"] is not None) == 0
    else:
        failed = [r for r in rep["reductions"] if not r["ok"]]
        assert failed[0]["check"] == check and failed[0]["first_bad_step"] == 0
        assert check in rep["cause"]["text"]


def test_eps_inside_norm_names_the_fitted_constant():
    rep = conform(co.two_step_sam("eps_inside_norm"), "sam", cases=SHORT)
    assert "sqrt(||s||^2 + c) with c = 1e-06" in rep["cause"]["text"]


def test_adasam_v0_eps2_conforms_under_the_v0_switch():
    rep = conform(co.closure_adasam("v0_eps2"), "adasam", cases=SHORT)
    assert rep["conforms"] and rep["convention"] == {"v0": "eps2"}
    assert rep["cause"]["code"] == "convention" and "v0='eps2'" in rep["cause"]["text"]
    assert all(c["first_bad_step"] == 0 for c in rep["default_cases"])  # the default deviates at once
    strict = conform(co.closure_adasam("v0_eps2"), "adasam", cases=SHORT, strict=True)
    assert not strict["conforms"] and strict["cause"]["step"] == 0


def test_asam_without_eta_is_named_and_fails_strict():
    rep = conform(co.functional_asam("no_eta"), "asam", cases=SHORT)
    assert rep["conforms"] and rep["convention"] == {"eta_A": 0.0}  # T = |x|: the documented eta_A = 0
    strict = conform(co.functional_asam("no_eta"), "asam", cases=SHORT, strict=True)
    assert not strict["conforms"]
    assert strict["cause"]["code"] == "perturbation" and strict["cause"]["step"] == 0


@pytest.mark.parametrize("cls,algo,conv", [(torch.optim.SGD, "sgd", {}),
                                            (torch.optim.Adam, "adam", {"eps_mode": "add", "bias_correction": True}),
                                            (torch.optim.Adagrad, "adagrad", {"eps_mode": "add"})],
                         ids=["SGD", "Adam", "Adagrad"])
def test_torch_base_optimizers_are_fingerprinted(cls, algo, conv):
    """PyTorch's own optimizers through step(closure): Adam is the spec with eps added to sqrt(v) and
    bias correction (a pair of switches), Adagrad with eps added."""
    rep = conform(cls, algo, cases=SHORT)
    assert rep["conforms"] and rep["convention"] == conv


def test_sam_is_not_unified_sam():
    """A correct SAM is Unified SAM at lambda = 1 only: the lambda = 0 endpoint and the default lambda fail."""
    rep = conform(co.two_step_sam(), "unified_sam", cases=SHORT)
    assert not rep["conforms"] and rep["cause"]["code"] == "perturbation"
    assert {r["check"]: r["ok"] for r in rep["reductions"]}["lambda = 1 gives sam"]


def test_cli_exit_codes_and_report(tmp_path, capsys):
    out = tmp_path / "ok"
    assert main(["conform", "conform_optimizers:CorrectSAM", "--as", "sam", "--out", str(out)]) == 0
    rep = json.loads((out / "conform.json").read_text())
    assert rep["conforms"] and (out / "conform.md").exists() and (out / "conform.png").stat().st_size > 0
    assert main(["conform", "conform_optimizers:CorrectSAM", "--as", "sam", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["conform", "conform_optimizers:RhoZeroBug", "--as", "sam", "--out", str(tmp_path / "bug")]) == 1
    assert "cause [reduction] at step 0" in capsys.readouterr().out


@pytest.mark.parametrize("argv,msg", [
    (["nocolon", "--as", "sam"], "is not MODULE:NAME"),
    (["no_such_module_xyz:X", "--as", "sam"], "cannot import 'no_such_module_xyz'"),
    (["conform_optimizers:Missing", "--as", "sam"], "has no attribute 'Missing'"),
    (["conform_optimizers:CorrectSAM", "--as", "nope"], "unknown algorithm 'nope'"),
    (["conform_optimizers:CorrectSAM", "--as", "lets_sam"], "conformance supports"),
    (["conform_optimizers:CorrectSAM", "--as", "sam", "--hp", "rho=-1"], "rho=-1.0 is not allowed"),
    (["conform_optimizers:CorrectSAM", "--as", "sam", "--hp", "rho"], "expected k=v"),
    (["conform_optimizers:CorrectSAM", "--as", "sam", "--hp", "lam=0.5"], "unknown hyperparameter for sam"),
    (["conform_optimizers:CorrectSAM", "--as", "sam", "--hp", "lr=abc"], "lr=abc: not a number"),
    (["conform_optimizers:torch", "--as", "sam"], "neither an Optimizer class nor a callable"),
])
def test_cli_bad_input_is_one_line_exit_2(argv, msg, tmp_path, capsys):
    assert main(["conform", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_low_precision_checks_fail_where_float64_passes():
    rep = conform(_nan_below_float64, "sam", cases=SHORT)
    assert rep["convention"] == {} and not rep["conforms"]
    failed = {r["check"]: r["first_bad_step"] for r in rep["reductions"] if not r["ok"]}
    assert failed == {"zero gradient stays finite (float32)": 0, "zero gradient stays finite (bfloat16)": 0,
                      "float32 stays finite where float64 does": 0, "bfloat16 stays finite where float64 does": 0}
    assert rep["cause"]["code"] == "reduction" and rep["cause"]["step"] == 0
