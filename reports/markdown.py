"""The report as Markdown (``report.md``): the verdict table with short cells, one section per claim,
figures linked from ``figures/``.

Same content as report.html (``reports.page`` says what each section holds), in a form that reads
in a terminal or on GitHub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from . import page
from .formatting import anchor, as_text, flatten, fmt_ci
from .tables import provenance_summary


def md_escape(s: Any) -> str:
    """Text for one Markdown table cell: on one line, ``|`` escaped."""
    s = as_text(s).replace("\r", " ").replace("\n", " ")
    return s.replace("|", r"\|")


def markdown_table(rows: list[list], headers: list[str]) -> str:
    """A GitHub-flavoured Markdown table, every cell escaped."""
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


def _head(table: pd.DataFrame, provenance: dict) -> list[str]:
    """Title, counts, the reconstructed note, provenance in one line and the verdict table."""
    counts = page.summary_counts(table)
    out = ["# samcheck verification report", ""]
    meta = [f"{len(table)} claims"]
    if provenance.get("timestamp"):
        meta.append(f"results of {provenance['timestamp']}")
    if provenance.get("git_revision"):
        meta.append(f"revision `{provenance['git_revision']}`")
    out += [" · ".join(meta), "",
            f"**{counts['holds']} holds · {counts['violated']} violated · "
            f"{counts['inconclusive']} inconclusive · {counts['unexpected']} unexpected**", "",
            f"> (*) **reconstructed**: {page.RECONSTRUCTED_NOTE}", "",
            "**Provenance:** " + " · ".join(f"{k}: `{x}`" for k, x in provenance_summary(provenance)), "",
            "## Verdict table", "", table_to_markdown(table),
            "Negative controls are expected to come out *violated*. Each claim links to its section below "
            "(prediction, measurement, reason, per-point verdicts, figures).", "",
            "## Claims and figures", ""]
    return out


def _claim(directory: Path, v: dict, figures: dict, fig_errors: dict) -> list[str]:
    """One claim's section: heading with tags, facts, reason, per-point verdicts, more values, figures."""
    claim = str(v.get("claim"))
    tags = [f"**{v.get('verdict') or 'inconclusive'}**"]
    if v.get("status") == "reconstructed":
        tags.append("*reconstructed* (*)")
    if (v.get("expected") or "holds") != "holds":
        tags.append(f"negative control, expected {v.get('expected')}")
    out = [f'<a id="{anchor(claim)}"></a>', "", f"### `{claim}` — " + " · ".join(tags), ""]
    out += [f"- **{k}:** {md_escape(x)}" for k, x in page.facts(v)]
    out.append("")
    if v.get("reason"):
        out += [f"**Reason.** {md_escape(v.get('reason'))}", ""]
    rm = page.regime_rows(v)
    more = page.more_values(v)
    if rm:
        out += [f"Per grid point ({len(rm)}):", "", markdown_table(
            [[f"`{e.get('point')}`", e.get("verdict", ""),
              fmt_ci(e.get("estimate"), e.get("ci_low"), e.get("ci_high")) or "n/a",
              e.get("reason", "")] for e in rm],
            page.REGIME_HEADERS)]
    if more:
        out += ["<details><summary>More reported values</summary>", "",
                markdown_table([[k, x] for k, x in more.items()], ["key", "value"]),
                "</details>", ""]
    return out + _figures(directory, v, claim, figures, fig_errors)


def _figures(directory: Path, v: dict, claim: str, figures: dict, fig_errors: dict) -> list[str]:
    """The claim's figures (PNG shown, PDF linked), or why there is none."""
    out: list[str] = []
    fpaths = figures.get(claim) or []
    pairs = page.figure_pairs(fpaths)
    for pdf, png in pairs:
        cap = page.caption(v, png, len(pairs))
        if png is not None:
            out.append(f"![{claim}]({page.rel_path(png, directory)})")
            out.append("")
            out.append(f"*{cap}*" + (f" [PDF]({page.rel_path(pdf, directory)})" if pdf else ""))
            out.append("")
    if claim in fig_errors:
        out += [f"> Figure failed: `{fig_errors[claim]}`", ""]
    elif not fpaths:
        out += [f"> No figure: no rows of metric `{v.get('metric')}` in the results.", ""]
    return out


def _tail(directory: Path, verdicts: list[dict], provenance: dict, slack: pd.DataFrame,
          divs: pd.DataFrame) -> list[str]:
    """Error rates (when ``verify power`` wrote them), bound margins, diverged runs, provenance."""
    out: list[str] = []
    if (directory / "power.md").exists():
        out += [(directory / "power.md").read_text(encoding="utf-8"), ""]
        if (directory / "power.png").exists():
            out += ["![operating characteristic](power.png)", ""]
    out += ["## Bound margins", ""]
    brows = page.bound_rows(verdicts, slack)
    out += [markdown_table(brows, page.BOUND_HEADERS) if brows else "No claim reports a bound margin.",
            ""]
    out += ["## Diverged runs", "", markdown_table(page.div_rows(verdicts, divs), page.DIV_HEADERS), ""]
    out += ["## Provenance", ""]
    out += [markdown_table(provenance_summary(provenance), ["provenance", "value"]), ""]
    flat = flatten(provenance) if provenance else {}
    out += [markdown_table([[k, f"`{x}`" if x else ""] for k, x in flat.items()], ["key", "value"])
            if flat else "No provenance.json.", ""]
    return out


def render_markdown(directory: Path, verdicts: list[dict], table: pd.DataFrame, figures: dict,
                    fig_errors: dict, provenance: dict, slack: pd.DataFrame,
                    divs: pd.DataFrame) -> str:
    """The text of report.md for a results directory (arguments as ``reports.build.build_report`` makes them)."""
    out = _head(table, provenance)
    for v in verdicts:
        out += _claim(directory, v, figures, fig_errors)
    out += _tail(directory, verdicts, provenance, slack, divs)
    return "\n".join(out)
