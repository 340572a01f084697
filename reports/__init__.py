"""Figures, report pages and results tables of samcheck.

``build_report(DIR)`` turns a results directory (results.parquet or .csv,
verdicts.json, provenance.json) into figures, report.html, report.md and
verdicts.tex; ``load_results(DIR)`` returns ``(df, verdicts, provenance)``.
"""

from .build import build_report
from .tables import load_results, verdict_table
from .figures import make_figures
from .style import use_style, style_context, save

__all__ = ["build_report", "load_results", "verdict_table", "make_figures",
           "use_style", "style_context", "save"]
