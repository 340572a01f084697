"""What each section of the report page says, shared by report.html (``reports.html``) and
report.md (``reports.markdown``).

Each function turns a verdict (or the tables of ``reports.tables``) into plain rows and labels; the
two renderers only mark them up, so the HTML and Markdown pages carry the same facts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from verify.stats import VERDICTS

from . import figures as figs
from .formatting import flatten, fmt_ci, fmt_num, is_num, rates_text
from .implementation import implementation_fact

RECONSTRUCTED_NOTE = (
    "Claims tagged reconstructed state a theorem as it was derived here without "
    "the paper's full text (from the abstract, the official code and the surrounding "
    "literature); constants, schedules or the exact form may differ from the published "
    "statement."
)
REGIME_HEADERS = ["point", "verdict", "estimate [95% CI]", "reason"]
BOUND_HEADERS = ["claim", "verdict", "bound margin", "tolerance", "max mean/bound",
                 "checkpoints above bound"]
DIV_HEADERS = ["claim", "algorithm", "runs", "diverged", "fraction"]


def rel_path(path: Path, root: Path) -> str:
    """``path`` relative to the results directory (as the pages link it), else as it is."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def facts(v: dict) -> list[tuple[str, str]]:
    """(label, value) pairs describing one claim verdict."""
    est = fmt_ci(v.get("estimate"), v.get("ci_low"), v.get("ci_high"))
    fit = v.get("fit") if isinstance(v.get("fit"), dict) else None
    rows = [
        ("Paper", v.get("paper")),
        ("Theorem", v.get("theorem")),
        ("Status", v.get("status")),
        ("Algorithms", ", ".join(map(str, v.get("algorithms") or []))
            if isinstance(v.get("algorithms"), (list, tuple)) else v.get("algorithms")),
        ("Implementation", implementation_fact(v)),
        ("Problem", v.get("problem")),
        ("Measured quantity", v.get("metric")),
        ("Main axis", v.get("x")),
        ("Prediction", v.get("prediction")),
        ("Predicted slope", fmt_num(v.get("predicted_slope")) if is_num(v.get("predicted_slope")) else None),
        ("Measured", v.get("measured")),
        ("Estimate [95% CI]", est or None),
        ("Fit", (f"slope {fmt_ci(fit.get('slope'), fit.get('ci_low'), fit.get('ci_high'))}, "
                 f"intercept {fmt_num(fit.get('intercept'))}") if fit else None),
        ("Tolerance", fmt_num(v.get("tolerance")) if is_num(v.get("tolerance")) else None),
        ("Bound margin", fmt_num(v.get("bound_margin")) if is_num(v.get("bound_margin")) else None),
        ("Tolerance reason", v.get("tolerance_reason")),
        ("Runs (diverged)", f"{v.get('n_runs', 'n/a')} ({v.get('n_diverged', 'n/a')})"),
        ("Expected verdict", v.get("expected") or "holds"),
        ("Error rates", rates_text(v.get("error_rates")) if isinstance(v.get("error_rates"), dict) else None),
        ("Counterfeits", "; ".join(f"~{c.get('name')}: {c.get('change')} -> {c.get('expected')}"
                                   for c in v.get("counterfeits") or [] if isinstance(c, dict)) or None),
        ("Headline", v.get("headline")),
        ("Schedule", v.get("schedule")),
        ("Assumptions", v.get("assumptions")),
        ("Fit window", v.get("fit_window")),
    ]
    return [(k, str(x)) for k, x in rows if x not in (None, "")]


# verdict fields shown above; anything else a claim reports goes to "more"
_SHOWN = {"claim", "paper", "theorem", "status", "algorithms", "problem", "metric", "x",
          "prediction", "predicted_slope", "measured", "estimate", "ci_low", "ci_high", "fit",
          "tolerance", "bound_margin", "tolerance_reason", "n_runs", "n_diverged", "expected",
          "headline", "schedule", "assumptions", "fit_window", "verdict", "reason", "regime_map",
          "figure", "error_rates", "counterfeits", "counterfeit_of", "implementation"}


def more_values(v: dict) -> dict[str, str]:
    """The claim's other reported fields, flattened (``numbers.slope_T.value``...)."""
    out: dict[str, str] = {}
    for k, x in v.items():
        if k in _SHOWN:
            continue
        for kk, vv in flatten(x, k).items():
            try:
                out[kk] = fmt_num(float(vv)) if vv not in ("", "True", "False") else vv
            except ValueError:
                out[kk] = vv
    return out


def count_verdicts(rows: list[dict]) -> dict[str, int]:
    """{verdict: how many} of a claim's per-point rows, in order of first appearance."""
    out: dict[str, int] = {}
    for e in rows:
        k = str(e.get("verdict") or "n/a")
        out[k] = out.get(k, 0) + 1
    return out


def regime_rows(v: dict) -> list[dict]:
    """The claim's per-grid-point verdicts (its ``regime_map``), malformed entries skipped."""
    return [e for e in (v.get("regime_map") or []) if isinstance(e, dict)]


def figure_pairs(paths: list[Path]) -> list[tuple[Path | None, Path | None]]:
    """Pair each figure's pdf and png: [(pdf, png), ...] in order."""
    stems: dict[str, dict[str, Path]] = {}
    for p in paths:
        p = Path(p)
        stems.setdefault(p.name[: -len(p.suffix)] if p.suffix else p.name, {})[p.suffix] = p
    return [(d.get(".pdf"), d.get(".png")) for d in stems.values()]


def caption(v: dict, png: Path | None, n_figs: int) -> str:
    """Caption of a figure; with several figures per claim (e.g. AdaSAM's full
    and tail averages, stem suffix ``__<metric>``) it names the metric shown."""
    cap = figs.CAPTIONS.get(figs.figure_kind(v), "")
    if n_figs > 1 and png is not None:
        stem = png.name[: -len(png.suffix)]
        metric = stem.split("__", 1)[1] if "__" in stem else str(v.get("metric") or "")
        if metric:
            cap = f"Metric {metric}. " + cap
    return cap


def summary_counts(table: pd.DataFrame) -> dict[str, int]:
    """Claims per verdict, and how many decisive verdicts differ from the expected one."""
    c = {k: int((table["verdict"] == k).sum()) for k in VERDICTS}
    c["unexpected"] = int((~table["as_expected"] & (table["verdict"] != "inconclusive")).sum())
    return c


def bound_rows(verdicts: list[dict], slack: pd.DataFrame) -> list[list]:
    """Rows under ``BOUND_HEADERS``: each claim with a bound margin or explicit-bound rows."""
    sl = {r["claim"]: r for _, r in slack.iterrows()} if len(slack) else {}
    rows = []
    for v in verdicts:
        c = str(v.get("claim"))
        if not is_num(v.get("bound_margin")) and c not in sl:
            continue
        s = sl.get(c)
        rows.append([c, str(v.get("verdict") or ""),
                     fmt_num(v.get("bound_margin")) if is_num(v.get("bound_margin")) else "n/a",
                     fmt_num(v.get("tolerance")) if is_num(v.get("tolerance")) else "n/a",
                     fmt_num(s["max_ratio"]) if s is not None else "n/a",
                     f"{int(s['n_above'])}/{int(s['checkpoints'])}" if s is not None else "n/a"])
    return rows


def div_rows(verdicts: list[dict], divs: pd.DataFrame) -> list[list]:
    """Rows under ``DIV_HEADERS``: runs and diverged runs per (claim, algorithm), from the results
    table, else the verdict's own counts."""
    rows = []
    for v in verdicts:
        c = str(v.get("claim"))
        sub = divs[divs["claim"] == c] if len(divs) else divs
        if len(sub):
            for _, r in sub.iterrows():
                rows.append([c, str(r["algorithm"]), str(int(r["runs"])), str(int(r["diverged"])),
                             f"{r['fraction']:.1%}"])
        else:
            n, k = v.get("n_runs"), v.get("n_diverged")
            frac = f"{k / n:.1%}" if is_num(n) and is_num(k) and n else "n/a"
            rows.append([c, "(verdict)", str(n if n is not None else "n/a"),
                         str(k if k is not None else "n/a"), frac])
    return rows
