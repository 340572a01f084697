"""Figures for the claims of samcheck, one module per claim family.

``make_figures(df, verdicts, out_dir)`` draws every claim; ``FIGURES`` maps a figure kind to its
function and ``CAPTIONS`` to its caption. Layout: ``common`` (drawing helpers), ``data`` (rows,
seed statistics from ``verify.stats``, the fits a verdict stored), ``labels``, one module per
family (``rate``, ``adasam``, ``lightsam``, ``unified``, ``unified_lambda``, ``lets``, ``sam``)
and ``dispatch``.
"""

from .dispatch import CAPTIONS, FIGURES, figure_kind, make_figures
from .labels import safe_name

__all__ = ["CAPTIONS", "FIGURES", "figure_kind", "make_figures", "safe_name"]
