"""Output a person can read (issue 18, point 3, 5): the terminal verdict table fits 100 columns, the
progress says which claim, batch and ETA (one line per batch when piped), rates and report print the
paths they wrote, the LaTeX table compiles onto pages, Markdown cells are short, the HTML page has a
table of contents and collapsible claims, every provenance names the machine and report shows it,
and report --style paper writes beside the default figures.

The verdicts in tests/data/quick_seed0/ are real: ``python -m verify rates --quick`` (seed 0, 8 seeds,
every claim) at revision b95a8f5; provenance.json is that run's, its batch log cut to two entries."""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports import build_report
from reports.latex import table_to_latex
from reports.markdown import MD_CELL, table_to_markdown
from reports.tables import provenance_summary, verdict_table as report_table
from verify.cli import TABLE_WIDTH, main, verdict_table
from verify.progress import BatchLog, Progress

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "quick_seed0"
VERDICTS = json.loads((DATA / "verdicts.json").read_text())["claims"]
PROVENANCE = json.loads((DATA / "provenance.json").read_text())


def _real_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    for name in ("verdicts.json", "provenance.json"):
        shutil.copy(DATA / name, d / name)
    return d


# ---- the terminal verdict table ------------------------------------------------------------------

def test_real_verdicts_are_long():
    """The fixture would break the old table: reasons of hundreds of characters."""
    assert max(len(v["reason"]) for v in VERDICTS) > 500 and len(VERDICTS) == 11


def test_terminal_table_fits_100_columns():
    text = verdict_table(VERDICTS)
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= TABLE_WIDTH == 100
    body = [ln for ln in lines[2:] if ln.split() and ln.split()[0] in {v["claim"] for v in VERDICTS}]
    assert [ln.split()[0] for ln in body] == [v["claim"] for v in VERDICTS]   # one line per claim, in order
    by_claim = {ln.split()[0]: ln for ln in body}
    assert by_claim["unified.thm3_5_decreasing"].split()[1:3] == ["confirmed", "holds"]
    assert "slope_lam1 -1.03 [-1.08, -0.97]" in by_claim["unified.thm3_5_decreasing"]
    assert "violated!" in by_claim["lightsam.any_rho"]          # differs from the expected verdict
    assert "violated (ctl)" in by_claim["sam.constant_rho_floor"]  # negative control, as expected
    assert "inconclusive" in by_claim["lets.rho_init_robustness"]
    for v in VERDICTS:  # the reasons are in the report, not here
        assert v["reason"][:60] not in text


def test_terminal_table_fits_a_narrower_width_too():
    assert max(len(ln) for ln in verdict_table(VERDICTS, width=80).splitlines()) <= 80


# ---- progress ------------------------------------------------------------------------------------

class _B:
    def __init__(self, label):
        self.claim, self.algorithm, self.label = "unified.thm3_5_decreasing", "unified_sam", label


def test_progress_piped_one_line_per_computed_batch():
    now = [0.0]
    out = io.StringIO()
    p = Progress(2, tty=False, stream=out, clock=lambda: now[0])
    p.start_claim("unified.thm3_5_decreasing")
    for k in (1, 2, 3):
        now[0] += 2.0
        p(_B("lam=1"), {"cached": False, "wall_s": 2.0}, k, 4)
    p(_B("lam=1"), {"cached": True}, 4, 4)          # cached: no line of its own
    p.end_claim("holds")
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and all(len(ln) <= 100 for ln in lines)
    assert lines[0].startswith("[1/2] unified.thm3_5_decreasing batch 1/4 lam=1 in 2.0 s")
    assert "ETA 6 s + ? for 1 claim" in lines[0]        # 3 batches left at 2 s, the next claim unknown
    assert "ETA 2 s" in lines[2]
    assert "done: holds (4 batches, 1 cached, 6 s)" in lines[3] and "ETA 6 s" in lines[3]  # next claim ~ 6 s


def test_batch_log_carries_the_hook_through_run_batches(monkeypatch):
    """verify.executors.run_batches calls the hook of ctx.batches once per batch with (finished, total)."""
    from verify import executors
    from verify.claim import Context
    seen = []
    ctx = Context(progress=False)
    ctx.batches = BatchLog(on_batch=lambda b, info, done, total: seen.append((b.label, done, total)))
    monkeypatch.setattr(executors, "run_batch", lambda b: (pd.DataFrame({"x": [b.index]}), {"wall_s": 0.0}))

    class _Batch:
        def __init__(self, i):
            self.claim, self.label, self.index, self.algorithm, self.problem_name, self.T = "c", f"b{i}", i, "sam", "p", [1]
    rows = executors.run_batches(ctx, [_Batch(0), _Batch(1), _Batch(2)])
    assert list(rows["x"]) == [0, 1, 2]
    assert seen == [("b0", 1, 3), ("b1", 2, 3), ("b2", 3, 3)] and len(ctx.batches) == 3


def test_rates_piped_shows_batches_and_prints_what_it_wrote(tmp_path):
    out = tmp_path / "o"
    r = subprocess.run([sys.executable, "-m", "verify", "rates", "--claim", "sam.deterministic_sc", "--seeds", "2",
                        "--out", str(out), "--no-cache", "--eager"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("[1/1] sam.deterministic_sc")]
    assert any(re.search(r"batch \d+/\d+", ln) and "ETA" in ln for ln in err), r.stderr
    assert err[-1].startswith("[1/1] sam.deterministic_sc done: violated")
    assert "Traceback" not in r.stderr
    table = r.stdout.split("\nreasons, predictions", 1)[0]
    assert max(len(ln) for ln in table.splitlines()) <= 100
    wrote = r.stdout.split("wrote:\n", 1)[1].splitlines()
    paths = dict(re.match(r"\s+([^:]+):\s+(\S+)", ln).groups() for ln in wrote)
    assert set(paths) == {"results table", "verdicts", "provenance", "report (Markdown)", "report (HTML)",
                          "LaTeX table", "verdict table CSV", "figures"}
    for label, p in paths.items():
        assert Path(p).exists(), label
    assert Path(paths["figures"]) == out / "figures" and any((out / "figures").iterdir())
    assert "PosixPath" not in r.stdout


# ---- report pages --------------------------------------------------------------------------------

def test_markdown_cells_short_and_linked():
    md = table_to_markdown(report_table(VERDICTS))
    rows = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert len(rows) == 1 + len(VERDICTS)
    for row in rows:
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        assert max(len(c.strip()) for c in cells) <= MD_CELL == 120, row
    assert sum("[more](#claim-" in r for r in rows) >= 5   # the long reasons are cut and linked


def test_report_pages_toc_details_and_provenance(tmp_path, capsys):
    d = _real_dir(tmp_path)
    assert main(["report", str(d)]) == 0
    out = capsys.readouterr().out
    md = (d / "report.md").read_text()
    html = (d / "report.html").read_text()
    for v in VERDICTS:
        a = "claim-" + re.sub(r"[^A-Za-z0-9_-]+", "-", v["claim"])
        assert f'<a id="{a}"></a>' in md and f"](#{a})" in md             # linked section in Markdown
        assert f'<li><a href="#{a}">' in html and f'id="{a}"><details class="claim"' in html   # TOC, collapsible
    assert html.count('<details class="claim"') == len(VERDICTS)
    # provenance: a short block in both pages and in the terminal
    for label, value in provenance_summary(PROVENANCE):
        assert value != "not recorded", label
        assert f"{label}: `{value}`" in md
        assert f"  {label + ':':<17} {value}" in out
    assert "CPU capability: `AVX2`" in md and "AMD EPYC" in html
    assert "PosixPath" not in out and "errors:" not in out and "wrote:" in out


def test_latex_table_compiles_onto_pages(tmp_path):
    tex = table_to_latex(report_table(VERDICTS))
    body = [ln for ln in tex.splitlines() if not ln.startswith("%")]
    assert r"\begin{longtable}{@{}" in body and r"\end{longtable}" in body
    assert max(len(ln) for ln in tex.splitlines()) <= 100
    assert len(re.findall(r"\\arraybackslash\}p\{", tex)) == 8
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed: structure checked only")
    (tmp_path / "verdicts.tex").write_text(tex)
    (tmp_path / "doc.tex").write_text("\\documentclass[a4paper]{article}\n\\usepackage{longtable,array}\n"
                                      "\\begin{document}\n\\input{verdicts.tex}\n\\end{document}\n")
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert r.returncode == 0, log[-2000:]
    assert "Overfull \\vbox" not in log
    assert "in alignment" not in log   # the table's rows fit the text width (no overfull alignment)
    pages = int(re.search(r"Output written on doc\.pdf \((\d+) pages?", log).group(1))
    assert 2 <= pages <= 12   # every row on a page (the old tabular: one blank page, 3 of 11 rows)


# ---- provenance ----------------------------------------------------------------------------------

def test_every_provenance_names_the_machine():
    from verify.claim import Context
    from verify.results import provenance
    p = provenance(Context(), ["python -m verify", "rates"], 0.0, ["x"])
    for key in ("cpu_model", "cpu_capability", "torch_blas", "numpy_blas", "torch_threads", "engine_threads",
                "cpu_count", "git_revision", "python", "torch", "numpy", "scipy", "pandas", "matplotlib",
                "pyarrow", "tqdm", "samcheck"):
        assert p.get(key) not in (None, ""), key
    assert dict(provenance_summary(p))["CPU capability"] == p["cpu_capability"]


def test_provenance_summary_of_an_old_file_says_not_recorded():
    s = dict(provenance_summary({"git_revision": "abc", "versions": {"torch": "2.3.1"}}))
    assert s["git revision"] == "abc" and s["versions"] == "torch 2.3.1" and s["CPU model"] == "not recorded"


# ---- styles --------------------------------------------------------------------------------------

def test_paper_style_writes_beside_the_default(tmp_path, monkeypatch):
    from reports import style
    monkeypatch.setattr(style.shutil, "which", lambda name: None)  # mathtext: a partial TeX install lacks cm-super
    d = tmp_path / "run"
    d.mkdir()
    t = np.array([1, 10, 100, 1000])
    rows = pd.DataFrame({"claim": "x", "algorithm": "sam", "problem": "quadratic", "sampler": "uniform",
                         "point": "p", "params": "{}", "seed": np.repeat([0, 1], 4), "T": 1000, "b": 1,
                         "t": np.tile(t, 2), "metric": "f_gap", "value": np.tile(1.0 / t, 2), "diverged": False})
    rows.to_csv(d / "results.csv", index=False)
    (d / "verdicts.json").write_text(json.dumps({"claims": [{"claim": "x", "metric": "f_gap", "figure": "rate",
                                                             "verdict": "holds", "expected": "holds"}]}))
    default = build_report(d)
    before = {p.name: p.read_bytes() for p in (d / "figures").iterdir()}
    html = (d / "report.html").read_text()
    paper = build_report(d, style="paper")
    assert before and {p.name: p.read_bytes() for p in (d / "figures").iterdir()} == before
    assert paper["figures_dir"] == d / "figures-paper" and (d / "figures-paper").is_dir()
    assert sorted(p.name for p in (d / "figures-paper").iterdir()) == sorted(before)
    assert paper["html"] == d / "report-paper.html" and (d / "report.html").read_text() == html
    assert default["figures_dir"] == d / "figures"


# ---- README --------------------------------------------------------------------------------------

def test_readme_synopsis_names_every_subcommand_and_flag():
    """Every subcommand and every long option of its --help is in the README's Command line block."""
    import argparse
    from verify.cli import _parser
    block = re.search(r"## Command line\n\n```\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        lines = [ln for ln in block.split("python -m verify ")[1:] if ln.startswith(name + " ") or ln.strip() == name]
        assert lines, f"subcommand {name} missing from the README synopsis"
        text = lines[0] + (" " + block if "every rates option" in lines[0] else "")
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert re.search(re.escape(flag) + r"(?![\w-])", text), f"{name} {flag} missing from the README"


def test_readme_claims_table_names_its_grid_and_links_the_full_grid_differences():
    text = (ROOT / "README.md").read_text()
    section = text.split("## What the claims say today", 1)[1].split("\n## ", 1)[0]
    assert "quick grid" in section.split("|", 1)[0] and "](#full-grid-verdicts)" in section
    assert '<a id="full-grid-verdicts"></a>' in section
    assert section.count("(full grid: inconclusive)") == 2
