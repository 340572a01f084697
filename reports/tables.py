"""Loading a results directory and rendering the verdict table.

A results directory holds three files written by ``verify`` (see docs/results.md):

* ``results.parquet`` (or ``results.csv`` when pyarrow is missing) -- one tidy
  long table, one row per (run, checkpoint, metric);
* ``verdicts.json`` -- ``{"claims": [ {...one verdict per claim...} ]}``;
* ``provenance.json`` -- versions, device, git revision, command line, ...

Everything here reads only those files, so a report can be rebuilt elsewhere.
"""

from __future__ import annotations

import html
import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .style import TEX_SPECIAL

RESULT_COLUMNS = [
    "claim", "algorithm", "problem", "sampler", "point", "params",
    "seed", "T", "b", "t", "metric", "value", "diverged",
]
_STR_COLS = ["claim", "algorithm", "problem", "sampler", "point", "params", "metric"]
_INT_COLS = {"seed": 0, "T": 0, "b": 1, "t": 0}

# Columns of the verdict table (one row per claim), in order.
VERDICT_COLUMNS = [
    "claim", "paper", "theorem", "status", "algorithms", "problem", "metric",
    "prediction", "predicted_slope", "measured", "estimate", "ci_low", "ci_high",
    "verdict", "expected", "as_expected", "reason", "n_runs", "n_diverged",
    "bound_margin", "tolerance", "figure",
]
# What the human-facing tables show: (column in the table, header).
DISPLAY_COLUMNS = [
    ("claim", "Claim"),
    ("source", "Paper, theorem"),
    ("status", "Status"),
    ("prediction", "Prediction"),
    ("measured_ci", "Measured (95% CI)"),
    ("verdict_text", "Verdict"),
    ("rates_text", "Error rates (size, worst power)"),
    ("reason", "Reason"),
]
VERDICTS = ("holds", "violated", "inconclusive")


# ----------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------

def empty_results() -> pd.DataFrame:
    return normalise_results(pd.DataFrame({c: [] for c in RESULT_COLUMNS}))


def _to_bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    if pd.api.types.is_numeric_dtype(s):
        return s.fillna(0).astype(float).ne(0)
    m = s.astype(str).str.strip().str.lower()
    return m.isin(["true", "1", "yes", "t", "y", "1.0"])


def normalise_results(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of a results table with every contract column present and
    typed: strings (missing -> ""), ints (seed, T, b, t), float value, bool
    diverged.  Extra columns are kept.  Idempotent."""
    d = df.copy()
    for c in _STR_COLS:
        if c not in d.columns:
            d[c] = "{}" if c == "params" else ""
        d[c] = d[c].astype(object).where(d[c].notna(), "{}" if c == "params" else "")
        d[c] = d[c].map(lambda v: v if isinstance(v, str) else
                        (json.dumps(v, sort_keys=True) if isinstance(v, dict) else str(v)))
    for c, default in _INT_COLS.items():
        if c not in d.columns:
            d[c] = default
        d[c] = pd.to_numeric(d[c], errors="coerce").fillna(default).astype(np.int64)
    if "t" not in df.columns and "T" in df.columns:
        d["t"] = d["T"]
    d["value"] = pd.to_numeric(d["value"], errors="coerce").astype(float) if "value" in d.columns else np.nan
    if "diverged" not in d.columns:
        d["diverged"] = False
    d["diverged"] = _to_bool(d["diverged"])
    order = RESULT_COLUMNS + [c for c in d.columns if c not in RESULT_COLUMNS]
    return d[order].reset_index(drop=True)


def read_results(directory) -> pd.DataFrame:
    """The tidy results table of a directory (parquet preferred, CSV fallback);
    an empty, well-typed table when neither file exists."""
    directory = Path(directory)
    pq, csv = directory / "results.parquet", directory / "results.csv"
    if pq.exists():
        try:
            return normalise_results(pd.read_parquet(pq))
        except ImportError:
            if not csv.exists():
                raise
    if csv.exists():
        return normalise_results(pd.read_csv(csv, keep_default_na=True,
                                             dtype={"params": str, "point": str}))
    warnings.warn(f"no results.parquet or results.csv in {directory}; figures skipped")
    return empty_results()


def _read_json(path: Path, default):
    """The JSON in ``path`` (``default`` when it does not exist); ValueError naming the file when it is not JSON."""
    if not path.exists():
        return default
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"{path.name} is not UTF-8 JSON ({str(e).splitlines()[0][:80]})") from None


def normalise_verdicts(verdicts) -> list[dict]:
    """Accept ``{"claims": [...]}``, a bare list, or ``{claim_id: {...}}``; anything else (a number,
    a string, ``{"claims": 5}``) is a ValueError, one line."""
    if verdicts is None:
        return []
    if isinstance(verdicts, dict):
        if "claims" in verdicts:
            claims = verdicts["claims"]
        else:
            claims = [dict(v, claim=v.get("claim", k)) for k, v in verdicts.items()
                      if isinstance(v, dict)]
    else:
        claims = verdicts
    if not isinstance(claims, (list, tuple)):
        raise ValueError(f"verdicts of type {type(claims).__name__}: expected {{\"claims\": [verdict, ...]}}, "
                         "a list of verdicts or {claim id: verdict}")
    return [dict(c) for c in claims if isinstance(c, dict)]


def load_results(directory):
    """``(df, verdicts, provenance)`` from a results directory.

    ``verdicts`` is the list of claim verdict dicts (the ``"claims"`` entry of
    verdicts.json); ``provenance`` is the dict of provenance.json (``{}`` when
    absent).  Raises FileNotFoundError when the directory holds neither a
    results table nor verdicts.json.
    """
    directory = Path(directory)
    has_results = (directory / "results.parquet").exists() or (directory / "results.csv").exists()
    if not has_results and not (directory / "verdicts.json").exists():
        raise FileNotFoundError(f"{directory} holds no results.parquet/csv nor verdicts.json")
    df = read_results(directory)
    verdicts = normalise_verdicts(_read_json(directory / "verdicts.json", {"claims": []}))
    provenance = _read_json(directory / "provenance.json", {})
    if not isinstance(provenance, dict):
        provenance = {"provenance": provenance}
    return df, verdicts, provenance


# ----------------------------------------------------------------------------
# formatting helpers
# ----------------------------------------------------------------------------

def is_num(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
        and math.isfinite(float(v))


def fmt_num(v, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def fmt_ci(est, lo, hi) -> str:
    """``"-0.52 [-0.55, -0.49]"``; empty when there is no estimate."""
    if not is_num(est):
        return ""
    s = fmt_num(est)
    if is_num(lo) or is_num(hi):
        s += f" [{fmt_num(lo)}, {fmt_num(hi)}]"
    return s


def _as_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and math.isnan(v):
        return ""
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def _num_or_nan(v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return x


def flatten(d: Any, prefix: str = "") -> dict[str, str]:
    """Flatten nested dicts into ``{"a.b": "value"}``; lists become JSON."""
    out: dict[str, str] = {}
    if isinstance(d, dict):
        if not d and prefix:
            out[prefix] = "{}"
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            out.update(flatten(v, key))
    elif isinstance(d, (list, tuple)):
        out[prefix or "value"] = json.dumps(d, default=str)
    else:
        out[prefix or "value"] = "" if d is None else str(d)
    return out


# ----------------------------------------------------------------------------
# the verdict table
# ----------------------------------------------------------------------------

def rates_text(rates: dict | None) -> str:
    """The verdict's measured error rates in one line (verify.power.rates_text)."""
    from verify.power import rates_text as text
    return text(rates)


def verdict_table(verdicts) -> pd.DataFrame:
    """One row per claim (order of verdicts.json), columns ``VERDICT_COLUMNS``
    plus the display columns ``source``, ``measured_ci`` and ``verdict_text``."""
    rows = []
    for v in normalise_verdicts(verdicts):
        est, lo, hi = v.get("estimate"), v.get("ci_low"), v.get("ci_high")
        verdict = _as_text(v.get("verdict")) or "inconclusive"
        expected = _as_text(v.get("expected")) or "holds"
        measured = _as_text(v.get("measured"))
        ci = fmt_ci(est, lo, hi)
        if not ci or ci in measured:
            measured_ci = measured or "n/a"
        elif measured and fmt_num(est) in measured and (is_num(lo) or is_num(hi)):
            measured_ci = f"{measured}, 95% CI [{fmt_num(lo)}, {fmt_num(hi)}]"
        else:
            measured_ci = f"{measured}; {ci}" if measured else ci
        paper, theorem = _as_text(v.get("paper")), _as_text(v.get("theorem"))
        vt = verdict
        if expected != "holds":
            vt += " (as expected)" if verdict == expected else f" (expected {expected})"
        rows.append({
            "claim": _as_text(v.get("claim")),
            "paper": paper,
            "theorem": theorem,
            "status": _as_text(v.get("status")) or "confirmed",
            "algorithms": _as_text(v.get("algorithms")),
            "problem": _as_text(v.get("problem")),
            "metric": _as_text(v.get("metric")),
            "prediction": _as_text(v.get("prediction")),
            "predicted_slope": _num_or_nan(v.get("predicted_slope")),
            "measured": measured,
            "estimate": _num_or_nan(est),
            "ci_low": _num_or_nan(lo),
            "ci_high": _num_or_nan(hi),
            "verdict": verdict,
            "expected": expected,
            "as_expected": verdict == expected,
            "reason": _as_text(v.get("reason")),
            "n_runs": int(_num_or_nan(v.get("n_runs")) if is_num(v.get("n_runs")) else 0),
            "n_diverged": int(_num_or_nan(v.get("n_diverged")) if is_num(v.get("n_diverged")) else 0),
            "bound_margin": _num_or_nan(v.get("bound_margin")),
            "tolerance": _num_or_nan(v.get("tolerance")),
            "figure": _as_text(v.get("figure")) or "rate",
            "source": ", ".join(x for x in (paper, theorem) if x),
            "measured_ci": measured_ci,
            "verdict_text": vt,
            "rates_text": rates_text(v.get("error_rates") if isinstance(v.get("error_rates"), dict) else None),
        })
    cols = VERDICT_COLUMNS + ["source", "measured_ci", "verdict_text", "rates_text"]
    return pd.DataFrame(rows, columns=cols)


# ---- Markdown ---------------------------------------------------------------

def md_escape(s) -> str:
    s = _as_text(s).replace("\r", " ").replace("\n", " ")
    return s.replace("|", r"\|")


def markdown_table(rows: list[list], headers: list[str]) -> str:
    out = ["| " + " | ".join(md_escape(h) for h in headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(md_escape(c) for c in r) + " |")
    return "\n".join(out) + "\n"


MD_CELL = 120  # no cell of the Markdown verdict table is longer; the detail is in the claim's section
MD_COLUMNS = [("claim", "Claim"), ("source", "Paper, theorem"), ("status", "Status"),
              ("verdict_text", "Verdict"), ("measured_ci", "Measured (95% CI)"), ("reason", "Reason")]


def _md_short(text: str, link: str, limit: int = MD_CELL) -> str:
    """``text`` escaped, cut at a word so that the cell with its "... [more](#anchor)" stays within ``limit``."""
    text = md_escape(text)
    if len(text) <= limit:
        return text
    more = f" ... [more](#{link})"
    cut = text[: limit - len(more)].rsplit(" ", 1)[0].rstrip("\\")
    return cut + more


def table_to_markdown(table: pd.DataFrame) -> str:
    """The verdict table as a GitHub-flavoured Markdown table: short cells (at most ``MD_CELL``
    characters), each claim linked to its section below, where the full prediction, measurement and
    reason are."""
    headers = [h for _, h in MD_COLUMNS]
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for _, r in table.iterrows():
        link = anchor(r["claim"])
        cells = []
        for col, _h in MD_COLUMNS:
            val = r[col]
            if col == "claim":
                cells.append(f"[{md_escape(val)}](#{link})")
                continue
            if col == "status" and val == "reconstructed":
                val = "reconstructed (*)"
            if col == "verdict_text":
                cells.append(f"**{md_escape(val)}**")
                continue
            cells.append(_md_short(val, link))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


# ---- LaTeX ------------------------------------------------------------------

_LATEX_SPECIAL = {**TEX_SPECIAL, "$": r"\$", "|": r"\textbar{}"}
_LATEX_UNICODE = {
    "≤": r"$\le$", "≥": r"$\ge$", "≈": r"$\approx$", "≠": r"$\ne$", "±": r"$\pm$",
    "×": r"$\times$", "−": "-", "–": "--", "—": "---", "∞": r"$\infty$",
    "√": r"$\surd$", "→": r"$\to$", "∈": r"$\in$", "·": r"$\cdot$", "…": r"\dots{}",
    "‖": r"$\|$", "∇": r"$\nabla$", "Σ": r"$\Sigma$", "∑": r"$\sum$", "²": r"$^2$",
    "α": r"$\alpha$", "β": r"$\beta$", "γ": r"$\gamma$", "δ": r"$\delta$",
    "ε": r"$\varepsilon$", "η": r"$\eta$", "κ": r"$\kappa$", "λ": r"$\lambda$",
    "μ": r"$\mu$", "ρ": r"$\rho$", "σ": r"$\sigma$", "τ": r"$\tau$", "ξ": r"$\xi$",
    "Δ": r"$\Delta$", "θ": r"$\theta$", "φ": r"$\phi$",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in {**_LATEX_SPECIAL, **_LATEX_UNICODE}))


def latex_escape(s) -> str:
    """Escape text for LaTeX (specials, ``<``/``>`` and common Unicode)."""
    s = _as_text(s).replace("\r", " ").replace("\n", " ")
    mapping = {**_LATEX_SPECIAL, **_LATEX_UNICODE}
    s = _LATEX_RE.sub(lambda m: mapping[m.group(0)], s)
    # any other non-ASCII character would need inputenc; drop to '?' visibly
    return "".join(c if ord(c) < 128 else "?" for c in s)


# longtable with wrapped, ragged-right p{} columns (widths in \linewidth, summing with the column
# separators to less than it): the table breaks across pages between rows, and every cell wraps.
_P = r">{\raggedright\arraybackslash}p{%s\linewidth}"
# one per DISPLAY_COLUMNS entry; sum 0.86 + 14 x 3pt of column separators < \linewidth (345pt in article)
LATEX_WIDTHS = (0.12, 0.08, 0.11, 0.12, 0.12, 0.11, 0.08, 0.12)
LATEX_COLSPEC = "@{}" + "".join(_P % w for w in LATEX_WIDTHS) + "@{}"
LATEX_LINE = 100  # no line of verdicts.tex is longer: cells go on lines of their own, wrapped
LATEX_PACKAGES = ("longtable", "array")


def _clip(text: str, max_chars: int | None) -> str:
    text = _as_text(text)
    if max_chars is None or len(text) <= max_chars:
        return text
    cut = text[:max_chars].rsplit(" ", 1)[0]
    return cut + " ..."


def _wrap_source(text: str, width: int = LATEX_LINE) -> list[str]:
    """Break a LaTeX cell's source at spaces into lines of at most ``width`` characters (a space and a
    newline are the same to TeX), so the file stays readable and diffable."""
    import textwrap
    return textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False) or [""]


def table_to_latex(table: pd.DataFrame, max_chars: int | None = 400) -> str:
    """The verdict table as a LaTeX ``longtable`` (``\\usepackage{longtable,array}``; ``\\input{verdicts.tex}``
    in the body, not inside a float). It breaks across pages between rows, repeats its header, and
    wraps every cell in a ragged-right ``p{}`` column; a row cannot break across pages, so cells longer
    than ``max_chars`` are cut at a word with " ..." (a row then stays well under a page; the full
    text is in report.md / report.html). ``max_chars=None`` keeps everything."""
    header = "\n".join(_wrap_source(" & ".join(r"\textbf{" + latex_escape(h) + "}" for _, h in DISPLAY_COLUMNS)
                                    + r" \\", LATEX_LINE))
    lines = [
        "% samcheck verdict table; generated by reports.tables.table_to_latex",
        "% needs \\usepackage{longtable,array}; \\input it in the document body (it breaks across pages).",
        "% Status 'reconstructed': statement derived without the paper's full text.",
        f"% Cells longer than {max_chars} characters are shortened (full text in report.md)."
        if max_chars else "% Cells are not shortened.",
        r"\begingroup\footnotesize\setlength{\tabcolsep}{3pt}",
        r"\begin{longtable}{@{}",  # the column spec one column a line (spaces between columns are ignored)
        *(_P % w for w in LATEX_WIDTHS),
        "@{}}",
        r"\hline", header, r"\hline", r"\endfirsthead",
        r"\hline", header, r"\hline", r"\endhead",
        r"\hline", r"\endfoot",
    ]
    for _, r in table.iterrows():
        cells = []
        for col, _h in DISPLAY_COLUMNS:
            val = latex_escape(r[col] if col == "claim" else _clip(r[col], max_chars))
            if col == "claim":  # allow line breaks after dots and underscores
                val = val.replace(".", r".\allowbreak{}").replace(r"\_", r"\_\allowbreak{}")
                val = r"\texttt{" + val + "}"
            if col in ("status", "verdict_text"):  # hyphenation points for the narrow columns
                val = val.replace("reconstructed", r"recon\-structed").replace("inconclusive", r"incon\-clusive")
            if col == "status" and r[col] == "reconstructed":
                val = r"\textit{" + val + "}"
            if col == "verdict_text":
                val = r"\textbf{" + val + "}"
            cells.append(val)
        for i, cell in enumerate(cells):
            src = _wrap_source(cell, LATEX_LINE - 3)
            src[-1] += r" \\" if i == len(cells) - 1 else " &"
            lines += src
    lines += [r"\end{longtable}", r"\endgroup", ""]
    return "\n".join(lines)


# ---- HTML -------------------------------------------------------------------

def h(s) -> str:
    return html.escape(_as_text(s), quote=True)


def badge(verdict: str) -> str:
    v = verdict if verdict in VERDICTS else "inconclusive"
    return f'<span class="badge badge-{v}">{h(verdict)}</span>'


def status_tag(status: str) -> str:
    if status == "reconstructed":
        return ('<span class="tag tag-reconstructed" title="derived without the paper\'s '
                'full text">reconstructed</span>')
    return f'<span class="tag tag-confirmed">{h(status)}</span>'


def anchor(claim: str) -> str:
    return "claim-" + re.sub(r"[^A-Za-z0-9_-]+", "-", claim)


def table_to_html(table: pd.DataFrame, link_claims: bool = True) -> str:
    """The verdict table as an HTML ``<table class="verdicts">``."""
    out = ['<table class="verdicts">', "<thead><tr>"]
    out += [f"<th>{h(hd)}</th>" for _, hd in DISPLAY_COLUMNS]
    out.append("</tr></thead><tbody>")
    for _, r in table.iterrows():
        cls = "row-" + (r["verdict"] if r["verdict"] in VERDICTS else "inconclusive")
        out.append(f'<tr class="{cls}">')
        for col, _h in DISPLAY_COLUMNS:
            if col == "claim":
                cell = f"<code>{h(r['claim'])}</code>"
                if link_claims:
                    cell = f'<a href="#{anchor(r["claim"])}">{cell}</a>'
            elif col == "status":
                cell = status_tag(r["status"])
            elif col == "verdict_text":
                cell = badge(r["verdict"])
                if r["expected"] != "holds":
                    cell += f'<div class="expected">expected: {h(r["expected"])}'
                    cell += " &#10003;" if r["as_expected"] else " &#8212; <b>unexpected</b>"
                    cell += "</div>"
            else:
                cell = h(r[col])
            out.append(f"<td>{cell}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def html_kv_table(items: dict, cls: str = "kv") -> str:
    rows = "".join(f"<tr><th>{h(k)}</th><td><code>{h(v)}</code></td></tr>" for k, v in items.items())
    return f'<table class="{cls}"><tbody>{rows}</tbody></table>'


def html_table(rows: list[list], headers: list[str], cls: str = "plain") -> str:
    head = "".join(f"<th>{h(x)}</th>" for x in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, _Raw) else h(c)}</td>" for c in r)
                   + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class _Raw(str):
    """A string that html_table inserts without escaping (already HTML)."""


def raw(s: str) -> _Raw:
    return _Raw(s)


# ----------------------------------------------------------------------------
# summaries computed from the results table (display only)
# ----------------------------------------------------------------------------

_RUN_KEYS = ["algorithm", "problem", "sampler", "point", "seed", "T", "b"]


def diverged_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Runs and diverged runs per (claim, algorithm), from the results table.

    A run is one (algorithm, problem, sampler, point, seed, T, b); it counts as
    diverged when any of its rows has ``diverged``.  Theory rows are ignored."""
    cols = ["claim", "algorithm", "runs", "diverged", "fraction"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    m = df[(df["seed"] >= 0) & ~df["metric"].isin(["bound", "floor"])]
    if m.empty:
        return pd.DataFrame(columns=cols)
    runs = m.groupby(["claim"] + _RUN_KEYS, sort=False)["diverged"].any().reset_index()
    out = runs.groupby(["claim", "algorithm"], sort=False)["diverged"].agg(["size", "sum"])
    out = out.reset_index().rename(columns={"size": "runs", "sum": "diverged"})
    out["diverged"] = out["diverged"].astype(int)
    out["fraction"] = out["diverged"] / out["runs"]
    return out[cols]


def bound_slack(df: pd.DataFrame, verdicts) -> pd.DataFrame:
    """For claims with explicit-bound rows (metric "bound", seed -1): the mean
    over non-diverged seeds of the claim's metric against the bound at matching
    checkpoints.  Columns: claim, checkpoints, max_ratio (max of mean/bound;
    < 1 means the mean sits under the bound everywhere), n_above."""
    cols = ["claim", "checkpoints", "max_ratio", "n_above"]
    rows = []
    if df.empty:
        return pd.DataFrame(columns=cols)
    for v in normalise_verdicts(verdicts):
        claim, metric = v.get("claim"), v.get("metric")
        d = df[df["claim"] == claim]
        b = d[d["metric"] == "bound"]
        if b.empty or not metric:
            continue
        m = d[(d["metric"] == metric) & (d["seed"] >= 0)]
        if m.empty:
            continue
        div = m.groupby(_RUN_KEYS, sort=False)["diverged"].transform("any")
        m = m[~div & np.isfinite(m["value"])]
        b = b[np.isfinite(b["value"])]
        joined = pd.DataFrame()
        for keys in (["algorithm", "problem", "sampler", "point", "T", "b", "t"],
                     ["point", "T", "b", "t"], ["point", "T", "t"], ["T", "t"]):
            mm = m.groupby(keys)["value"].mean().rename("mean")
            bb = b.groupby(keys)["value"].mean().rename("bound")
            joined = pd.concat([mm, bb], axis=1, join="inner")
            if len(joined):
                break
        if joined.empty:
            continue
        pos = joined[joined["bound"] > 0]
        ratio = (pos["mean"] / pos["bound"]).max() if len(pos) else float("nan")
        rows.append({"claim": claim, "checkpoints": int(len(joined)),
                     "max_ratio": float(ratio),
                     "n_above": int((joined["mean"] > joined["bound"]).sum())})
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------
# provenance, short
# ----------------------------------------------------------------------------

PACKAGES = ("samcheck", "python", "torch", "numpy", "scipy", "pandas", "pyarrow", "matplotlib", "sympy", "tqdm")


def provenance_summary(prov: dict) -> list[tuple[str, str]]:
    """The provenance a reader checks first, as (label, text) pairs: revision, command, when, grid and
    seeds, device, CPU model, torch's CPU capability (SIMD path), BLAS, threads, package versions,
    wall time. Fields a provenance file lacks (an older run) read "not recorded"."""
    prov = prov if isinstance(prov, dict) else {}
    versions = {**(prov.get("versions") or {}), **{k: prov[k] for k in PACKAGES if prov.get(k)}}

    def get(*keys, fmt="{}"):
        vals = [prov.get(k) for k in keys]
        return fmt.format(*vals) if all(v not in (None, "") for v in vals) else None

    cap = get("cpu_capability")
    if cap and prov.get("aten_cpu_capability_env"):
        cap += f" (ATEN_CPU_CAPABILITY={prov['aten_cpu_capability_env']})"
    blas = ", ".join(x for x in (get("torch_blas", fmt="torch {}"), get("numpy_blas", fmt="numpy {}")) if x)
    threads = ", ".join(x for x in (get("engine_threads", fmt="engine {}"), get("torch_threads", fmt="torch {}"),
                                    get("cpu_count", fmt="{} CPUs")) if x)
    rows = [
        ("git revision", get("git_revision")),
        ("command", get("command")),
        ("when", get("timestamp")),
        ("grid, seeds", get("grid", "seeds_per_point", "global_seed", fmt="{}, {} per point, global seed {}")),
        ("device", ", ".join(x for x in (get("device"), get("device_name"), get("dtype"),
                                          get("engine_loop", fmt="{} loop")) if x) or None),
        ("CPU model", get("cpu_model")),
        ("CPU capability", cap),
        ("BLAS", blas or None),
        ("threads", threads or None),
        ("versions", ", ".join(f"{k} {versions[k]}" for k in (*PACKAGES, *sorted(set(versions) - set(PACKAGES)))
                               if k in versions) or None),
        ("wall time", get("wall_time_s", fmt="{} s")),
    ]
    return [(k, str(v) if v is not None else "not recorded") for k, v in rows]
