"""Building the report of a results directory: figures, pages and tables, written atomically.

``build_report(DIR)`` reads only ``DIR/results.parquet`` (or ``.csv``),
``DIR/verdicts.json`` and ``DIR/provenance.json`` and writes

* ``DIR/figures/<claim>.pdf`` and ``.png`` -- the figures (``reports.figures``);
* ``DIR/report.html`` -- a self-contained page (CSS inline, figures embedded as
  base64 PNG), so the single file can be mailed or archived;
* ``DIR/report.md`` -- the same content in Markdown, figures linked from
  ``figures/``;
* ``DIR/verdicts.tex`` -- the verdict table as a LaTeX ``longtable``;
* ``DIR/verdict_table.csv`` -- the verdict table as data (for diffs).

Another style (``style="paper"``) writes beside these, never over them: ``DIR/figures-paper/`` and
``DIR/report-paper.html`` / ``.md`` (the tables do not depend on the style).

The pieces: ``reports.tables`` loads the directory and builds the tables, ``reports.page`` says what
each section of the page holds, ``reports.html``, ``reports.markdown`` and ``reports.latex`` write
them out, ``reports.formatting`` is how numbers and text read in all of them.
"""

from __future__ import annotations

from pathlib import Path

from verify.results import atomic_write, atomic_write_text

from . import figures as figs
from .html import render_html
from .latex import table_to_latex
from .markdown import render_markdown
from .style import style_context
from .tables import bound_slack, diverged_counts, load_results, verdict_table


def existing_figures(fig_dir: Path, verdicts: list[dict]) -> dict[str, list[Path]]:
    """Figures already in ``fig_dir`` for each claim (by the file-name stem)."""
    out: dict[str, list[Path]] = {}
    for v in verdicts:
        claim = str(v.get("claim"))
        stem = figs.safe_name(claim)
        found = []
        if fig_dir.is_dir():
            for p in sorted(fig_dir.iterdir()):
                base = p.name[: -len(p.suffix)] if p.suffix else p.name
                if p.suffix in (".pdf", ".png") and (base == stem or base.startswith(stem + "__")):
                    found.append(p)
        out[claim] = found
    return out


def build_report(directory: str | Path, style: str = "default", strict: bool = False,
                 figures: bool = True) -> dict:
    """Build figures and report pages of a results directory.

    Returns ``{"html": Path, "markdown": Path, "latex": Path, "table_csv": Path,
    "figures": {claim: [Path, ...]}, "errors": {claim: message}}``.  With
    ``strict`` a failing figure raises instead of being noted in the page;
    ``figures=False`` rebuilds the tables and pages only, embedding the
    figures already in ``DIR/figures`` (if any).
    """
    directory = Path(directory)
    df, verdicts, provenance = load_results(directory)
    # another style writes beside the default one, never over it: figures-<style>/, report-<style>.html/.md
    suffix = "" if style == "default" else f"-{style}"
    fig_dir = directory / f"figures{suffix}"
    errors: dict[str, str] = {}
    if figures:
        with style_context(style):
            fig_paths = figs.make_figures(df, verdicts, fig_dir, strict=strict, errors=errors)
    else:
        fig_paths = existing_figures(fig_dir, verdicts)
    table = verdict_table(verdicts)
    slack = bound_slack(df, verdicts)
    divs = diverged_counts(df)
    args = (directory, verdicts, table, fig_paths, errors, provenance, slack, divs)
    paths = {
        "html": directory / f"report{suffix}.html",
        "markdown": directory / f"report{suffix}.md",
        "latex": directory / "verdicts.tex",
        "table_csv": directory / "verdict_table.csv",
    }
    atomic_write_text(paths["html"], render_html(*args))
    atomic_write_text(paths["markdown"], render_markdown(*args))
    atomic_write_text(paths["latex"], table_to_latex(table))
    atomic_write(paths["table_csv"], lambda tmp: table.to_csv(tmp, index=False))
    return {**paths, "figures": fig_paths, "figures_dir": fig_dir, "errors": errors}
