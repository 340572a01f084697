"""The command line under random input: argument lists mixing the real subcommands and flags with
garbage, and corrupt files, thrown at ``verify.cli.main`` in-process. Whatever comes in, the exit
code is 0, 1 or 2, nothing on stderr is a traceback and an error is at most two lines. No claim is
computed: the claims' sweeps (``run_claims``, ``power.measure``) and the executors are replaced by
stand-ins, so a run that passes every check ends at once, writing (empty) results into a temporary
directory; the committed baseline and power file are never written."""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify import cli
from verify.executors import LocalExecutor
from verify.results import COLUMNS

PATH_FLAGS = {"out", "cache", "baseline", "dir"}  # dests whose values are paths: drawn from PATHS
PATHS = ["corrupt", "empty", "a_file", "missing/sub", "baseline.json", "corrupt/results.parquet",
         "/proc/samcheck-unwritable", "", "."]
VALUES = ["0", "1", "2", "-1", "8", "1e400", "-1e400", "nan", "inf", "0.5", "99999999999999999999", "x", "",
          "-", "--", "sam", "sgd", "nope", "sam.deterministic_sc", "unified.importance", "cpu", "cuda", "mps",
          "local", "dask", "slurm", "default", "paper", "float32", "--quick", "-h"]
CORRUPT = [b"", b"[]", b"{}", b"null", b"3", b'"text"', b'{"claims": ', b'{"claims": 5}', b'{"claims": [1, "a"]}',
           b'{"claims": {"c": {"verdict": "holds"}}}', b'{"claims": {"c": {"verdict": 1, "numbers": []}}}',
           b'{"claims": [{"claim": "c", "verdict": "holds", "expected": "holds"}]}',
           b'{"claims": [{"claim": 1, "verdict": 3, "estimate": "a", "ci_low": [], "n_runs": "z", "numbers": 2}]}',
           b'{"c": {"verdict": "holds"}}', b'{"c": 1}', b"\x00\xff\xfe", b"PAR1", b"PAR1\x00\x00PAR1"]
TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_=.", max_size=10)
GARBAGE = st.sampled_from(VALUES) | TOKEN


def _options() -> dict[str, list[argparse.Action]]:
    """Every subcommand's actions, read from the real parser (so a new flag is fuzzed too)."""
    sub = next(a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: [a for a in p._actions if not isinstance(a, argparse._HelpAction)] for name, p in sub.choices.items()}


OPTIONS = _options()


def _value(action: argparse.Action) -> st.SearchStrategy[str]:
    """A value for an option: one of its choices, a path when it names one, else an interesting or
    random string."""
    if action.dest in PATH_FLAGS:
        return st.sampled_from(PATHS)
    if action.choices:
        return st.sampled_from(list(action.choices))
    return GARBAGE


@st.composite
def argv(draw) -> list[str]:
    """A subcommand (or a random token) with its positional arguments, then real options with values
    (one in ten garbage), and one item in ten a random token anywhere."""
    cmd = draw(st.sampled_from([*OPTIONS, None])) or draw(TOKEN)
    actions = OPTIONS.get(cmd, [])
    options = [a for a in actions if a.option_strings]

    def value(action: argparse.Action) -> str:
        return draw(GARBAGE if draw(st.integers(0, 9)) == 9 else _value(action))

    out = [cmd, *(value(a) for a in actions if not a.option_strings)]
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.integers(0, 9)) == 9:
            out.insert(draw(st.integers(0, len(out))), draw(GARBAGE))
        elif options:
            action = draw(st.sampled_from(options))
            out.append(draw(st.sampled_from(action.option_strings)))
            if action.nargs != 0:
                out.append(value(action))
    return out


class Reached(Exception):
    """Raised by the stand-ins of power.measure and power.record: every check passed and a real
    measurement would start."""


def _no_claims(claims, ctx):
    """Stand-in of run_claims: no rows, no verdicts, at once."""
    return pd.DataFrame(columns=COLUMNS), []


def _reached(*args, **kwargs):
    raise Reached


def _print_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def _as_on_the_command_line():
    """Warnings printed on stderr under Python's default filters, as ``python -m verify`` shows them
    (pytest would record them instead)."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        warnings.showwarning = _print_warning
        yield


def _workdir(root: Path, files: dict[str, bytes]) -> None:
    """The directories and files the drawn paths name: a results directory (``corrupt``), an empty
    one, a plain file, and ``files`` ({relative path: content}: the corrupt ones)."""
    (root / "corrupt").mkdir()
    (root / "empty").mkdir()
    (root / "a_file").write_bytes(b"not a directory")
    for name, content in files.items():
        (root / name).write_bytes(content)


def cli_main(args: list[str], root: Path, run_claims=_no_claims) -> tuple[int, str]:
    """(exit code, stderr) of ``verify.cli.main(args)`` run in ``root`` with the stand-ins in place
    (``run_claims=_reached``: exit 0 when the claims would run)."""
    err = io.StringIO()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with mock.patch.object(cli, "run_claims", run_claims), \
                mock.patch("verify.power.measure", _reached), mock.patch("verify.power.record", _reached), \
                mock.patch("verify.executors.get_executor", lambda ctx: LocalExecutor()), \
                mock.patch("verify.check.BASELINE", root / "default-baseline.json"), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err), _as_on_the_command_line():
            try:
                code = cli.main(args)
            except SystemExit as e:
                code = 0 if e.code is None else e.code
            except Reached:
                code = 0
    finally:
        os.chdir(cwd)
    return code, err.getvalue()


def test_the_stand_ins_end_a_run_that_passes_every_check():
    """The harness itself: a valid rates run ends at once with exit 0 and writes its (empty) results;
    a check against a missing baseline is still refused."""
    with tempfile.TemporaryDirectory() as tmp:
        code, err = cli_main(["rates", "--out", "run", "--no-report"], Path(tmp))
        assert code == 0 and err == ""
        assert (Path(tmp) / "run" / "verdicts.json").exists()
        code, err = cli_main(["check"], Path(tmp))
        assert code == 2 and "default-baseline.json does not exist" in err


CORRUPT_FILE = st.sampled_from(CORRUPT) | st.binary(max_size=64)


@settings(max_examples=60, deadline=None)
@given(args=argv(), results=CORRUPT_FILE | st.none(), verdicts=CORRUPT_FILE | st.none(),
       provenance=CORRUPT_FILE | st.none(), baseline=CORRUPT_FILE)
def test_random_arguments_and_corrupt_files(args, results, verdicts, provenance, baseline):
    """None: that file is absent."""
    drawn = {"corrupt/results.parquet": results, "corrupt/verdicts.json": verdicts,
             "corrupt/provenance.json": provenance, "baseline.json": baseline}
    files = {name: content for name, content in drawn.items() if content is not None}
    with tempfile.TemporaryDirectory() as tmp:
        _workdir(Path(tmp), files)
        code, err = cli_main(args, Path(tmp))
    assert code in (0, 1, 2), (code, err)
    assert "Traceback (most recent call last)" not in err
    assert len(err.splitlines()) <= 2, err


# ----------------------------------------------------------------------------------------------
# what the fuzzing found, pinned
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,message", [
    (["rates", "--seeds", "x"], "python -m verify rates: argument --seeds: invalid int value: 'x'"),
    (["nope"], "argument cmd: invalid choice: 'nope'"),
    ([], "the following arguments are required: cmd"),
    (["rates", "--quick", "--full"], "argument --full: not allowed with argument --quick"),
    (["report"], "python -m verify report: the following arguments are required: dir"),
    (["list", "x"], "unrecognized arguments: x"),
])
def test_usage_errors_are_one_line(tmp_path, args, message):
    """argparse would print its whole usage (several lines) before the error."""
    code, err = cli_main(args, tmp_path)
    assert code == 2 and message in err
    assert err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.parametrize("files,message", [
    ({"verdicts.json": b'{"claims": 5}'}, "verdicts of type int: expected"),
    ({"verdicts.json": b"3"}, "verdicts of type int: expected"),
    ({"verdicts.json": b'{"claims": '}, "verdicts.json is not UTF-8 JSON"),
    ({"verdicts.json": b"\x00\xff"}, "verdicts.json is not UTF-8 JSON"),
    ({"verdicts.json": b"[]", "provenance.json": b'{"x'}, "provenance.json is not UTF-8 JSON"),
    ({"results.csv": b""}, "EmptyDataError"),
])
def test_report_of_broken_verdicts_is_one_line_exit_2(tmp_path, files, message):
    """Broken JSON beside no results table: one line naming the directory and the file, no warning first."""
    _workdir(tmp_path, {f"corrupt/{name}": content for name, content in files.items()})
    code, err = cli_main(["report", "corrupt"], tmp_path)
    assert code == 2 and err.startswith("error: report corrupt: its results files cannot be read") and message in err
    assert err.count("\n") == 1


def test_report_warns_once_in_one_line(tmp_path):
    """Verdicts without a results table make a report without figures: one warning line, exit 0;
    when the report then cannot be written, the error is the second line."""
    _workdir(tmp_path, {})
    code, err = cli_main(["report", "empty"], tmp_path)
    assert code == 2 and err == "error: report empty: no results.parquet, results.csv or verdicts.json in it " \
                                "(a directory written by python -m verify rates)\n"
    (tmp_path / "only_verdicts").mkdir()
    (tmp_path / "only_verdicts" / "verdicts.json").write_text('{"claims": [{"claim": "c", "verdict": "holds"}]}')
    code, err = cli_main(["report", "only_verdicts"], tmp_path)
    assert code == 0 and err == "warning: no results.parquet or results.csv in only_verdicts; figures skipped\n"
    shutil.rmtree(tmp_path / "only_verdicts" / "figures")
    (tmp_path / "only_verdicts" / "figures").write_text("a file where the figures go")
    code, err = cli_main(["report", "only_verdicts"], tmp_path)
    assert code == 2 and err.count("\n") == 2 and err.startswith("warning: ")
    assert "error: report only_verdicts: cannot write only_verdicts/figures (File exists)" in err


def test_report_of_a_file_says_it_is_not_a_directory(tmp_path):
    _workdir(tmp_path, {})
    assert cli_main(["report", "a_file"], tmp_path) == (2, "error: report a_file: not a directory\n")


@pytest.mark.parametrize("baseline,message", [
    (b"{}", "baseline baseline.json has no 'claims' object"),
    (b'{"claims": ', "baseline baseline.json is not readable JSON"),
])
def test_update_baseline_refuses_a_corrupt_baseline_before_the_claims_run(tmp_path, baseline, message):
    """It used to run every claim (minutes), then fail reading the old baseline with a traceback."""
    _workdir(tmp_path, {"baseline.json": baseline})
    code, err = cli_main(["check", "--update-baseline", "--baseline", "baseline.json"], tmp_path, run_claims=_reached)
    assert code == 2 and message in err and err.endswith(": fix or delete it first\n") and err.count("\n") == 1


@pytest.mark.parametrize("path,message", [
    ("a_file/baseline.json", "--baseline a_file/baseline.json: cannot be written (Not a directory)"),
    ("missing/baseline.json", "--baseline missing/baseline.json: cannot be written (No such file or directory)"),
    ("/proc/samcheck.json", "--baseline /proc/samcheck.json: cannot be written"),
    ("empty", "baseline empty is not readable JSON (IsADirectoryError)"),
])
def test_update_baseline_refuses_an_unwritable_path_before_the_claims_run(tmp_path, path, message):
    _workdir(tmp_path, {})
    code, err = cli_main(["check", "--update-baseline", "--baseline", path], tmp_path, run_claims=_reached)
    assert code == 2 and message in err and err.count("\n") == 1


def test_update_baseline_writes_a_new_baseline(tmp_path):
    """The refusals above leave the ordinary update alone: a missing baseline is created."""
    code, err = cli_main(["check", "--update-baseline", "--baseline", "new.json", "--claim", "sam.deterministic_sc"],
                         tmp_path)
    assert code == 0 and err == "" and json.loads((tmp_path / "new.json").read_text()) == {"claims": {}}


def test_record_refuses_an_unwritable_power_file_before_measuring(tmp_path):
    with mock.patch("verify.power.POWER_FILE", tmp_path / "missing" / "power.json"):
        code, err = cli_main(["power", "--claim", "sam.deterministic_sc", "--record", "--out", "o"], tmp_path)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: --record {tmp_path}/missing/power.json: cannot be written")
