"""One visual style for every samcheck figure.

* Widths follow a two-column paper: ``ONE_COL`` (3.4 in) and ``TWO_COL`` (7 in).
* Colours come from the Okabe-Ito palette, which stays distinguishable under the
  common forms of colour blindness; sequential maps are viridis / cividis.
* ``use_style("paper")`` switches to serif fonts and, only when a TeX install is
  found (``shutil.which("latex")``), to ``text.usetex``; without TeX it silently
  uses matplotlib's bundled STIX fonts instead.
* ``save(fig, stem)`` writes ``stem.pdf`` (vector) and ``stem.png`` (200 dpi).

Figures are built on :class:`matplotlib.figure.Figure` directly, never through
pyplot, so nothing here selects or needs an interactive backend (PNG output goes
through Agg).
"""

from __future__ import annotations

import contextlib
import math
import re
import functools
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatterSciNotation

from verify.results import atomic_write

# Okabe & Ito (2008), "Color universal design". Black first is the usual order;
# we start with the coloured entries and keep black for theory lines.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
# Cycle used for data series (yellow last: it is faint on white).
PALETTE = [
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["orange"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["black"],
    OKABE_ITO["yellow"],
]
THEORY_COLOR = "#000000"
GREY = "#7f7f7f"
VERDICT_COLORS = {
    "holds": OKABE_ITO["bluish_green"],
    "violated": OKABE_ITO["vermillion"],
    "inconclusive": OKABE_ITO["orange"],
}
SEQ_CMAP = "viridis"
FRACTION_CMAP = "cividis"

ONE_COL = 3.4  # inches
TWO_COL = 7.0  # inches
DPI = 200

BASE_RC = {
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "savefig.bbox": None,
    "savefig.pad_inches": 0.02,
    "figure.constrained_layout.use": True,
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 6.5,
    "legend.title_fontsize": 7,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "legend.borderaxespad": 0.3,
    "legend.columnspacing": 1.0,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.grid": True,
    "axes.grid.which": "major",
    "grid.color": "#dddddd",
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.7,
    "lines.linewidth": 1.3,
    "lines.markersize": 3.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "image.cmap": SEQ_CMAP,
    "axes.unicode_minus": False,  # ASCII minus works with and without TeX
}

# Paper figures embed TrueType (Type 42) fonts: text stays editable and
# publishers' PDF checkers reject Type 3.  Quick reports keep matplotlib's
# Type 3 default, which writes PDFs markedly faster.
_TYPE42 = {"pdf.fonttype": 42, "ps.fonttype": 42}

DEFAULT_RC = {
    **BASE_RC,
    "pdf.fonttype": 3,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
    "text.usetex": False,
}

PAPER_RC_NOTEX = {
    **BASE_RC,
    **_TYPE42,
    "font.family": "serif",
    "font.serif": ["STIXGeneral", "DejaVu Serif"],
    "mathtext.fontset": "stix",
    "text.usetex": False,
}

PAPER_RC_TEX = {
    **BASE_RC,
    **_TYPE42,
    "font.family": "serif",
    "text.usetex": True,
    "text.latex.preamble": r"\usepackage{amsmath}\usepackage{amssymb}",
}

STYLES = ("default", "paper")


@functools.lru_cache(maxsize=1)
def tex_available() -> bool:
    """True when matplotlib's TeX text can work: ``latex`` and ``dvipng`` on PATH and the cm-super fonts
    (type1ec.sty) installed; a bare TeX installation without them makes every usetex figure fail."""
    if not (shutil.which("latex") and shutil.which("dvipng") and shutil.which("kpsewhich")):
        return False
    found = subprocess.run(["kpsewhich", "type1ec.sty"], capture_output=True, text=True, timeout=30)
    return bool(found.stdout.strip())


def rc_for(style: str = "default") -> dict:
    """The rcParams dict of a named style ("default" or "paper")."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")
    if style == "paper":
        return dict(PAPER_RC_TEX if tex_available() else PAPER_RC_NOTEX)
    return dict(DEFAULT_RC)


def use_style(style: str = "default") -> dict:
    """Apply a style globally (``mpl.rcParams.update``); returns the rc dict.

    Prefer :func:`style_context` inside library code, which restores the
    previous settings afterwards.
    """
    rc = rc_for(style)
    mpl.rcParams.update(rc)
    return rc


@contextlib.contextmanager
def style_context(style: str = "default") -> Iterator[dict]:
    """Context manager applying a style temporarily."""
    rc = rc_for(style)
    with mpl.rc_context(rc):
        yield rc


def usetex_on() -> bool:
    return bool(mpl.rcParams.get("text.usetex", False))


TEX_SPECIAL = {  # TeX escapes for text outside $...$ (latex.py adds $ and |)
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_TEX_RE = re.compile("|".join(re.escape(k) for k in TEX_SPECIAL))


def _escape_plain_tex(s: str) -> str:
    return _TEX_RE.sub(lambda m: TEX_SPECIAL[m.group(0)], s)


def txt(s) -> str:
    """Make free text (labels taken from data) safe for the active renderer.

    Segments between ``$...$`` are kept as math.  Under ``text.usetex`` the text
    outside math is TeX-escaped; under mathtext a lone ``$`` is escaped.
    """
    s = str(s)
    parts = s.split("$")
    if len(parts) % 2 == 0:  # unbalanced dollars: treat everything as text
        return _escape_plain_tex(s) if usetex_on() else s.replace("$", r"\$")
    if not usetex_on():
        return s
    return "$".join(p if i % 2 else _escape_plain_tex(p) for i, p in enumerate(parts))


_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def sci_text(x: float) -> str:
    """Compact tick text without mathtext: ``10\u207b\u00b3``, ``0.3``, ``3\u00d710\u207b\u2075``."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    e = math.log10(abs(x))
    sign = "-" if x < 0 else ""
    if abs(e - round(e)) < 1e-9:
        return sign + "10" + str(int(round(e))).translate(_SUPERSCRIPT)
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:g}"
    k = int(math.floor(e))
    coef = abs(x) / 10.0 ** k
    return f"{sign}{coef:.2g}\u00d710" + str(k).translate(_SUPERSCRIPT)


class LogTickFormatter(LogFormatterSciNotation):
    """matplotlib's choice of which log ticks to label, rendered as plain
    Unicode text (``10\u207b\u00b3``) instead of mathtext: as legible, and much
    cheaper to lay out.  Under ``text.usetex`` the usual TeX labels are kept."""

    def __call__(self, x, pos=None):
        s = super().__call__(x, pos)
        if not s or usetex_on() or self._base != 10 or not _font_has_superscripts():
            return s
        return sci_text(x)


_SUPERSCRIPT_FONTS: dict[tuple, bool] = {}


def _font_has_superscripts() -> bool:
    """Whether the current text font has the superscript digits and minus
    (DejaVu does, STIX does not); otherwise ticks keep mathtext labels."""
    rc = mpl.rcParams
    key = (tuple(rc["font.family"]), tuple(rc["font.sans-serif"]), tuple(rc["font.serif"]))
    if key not in _SUPERSCRIPT_FONTS:
        from matplotlib import font_manager
        from matplotlib.ft2font import FT2Font
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=rc["font.family"]),
                                         fallback_to_default=True)
            font = FT2Font(path)
            _SUPERSCRIPT_FONTS[key] = all(font.get_char_index(ord(c)) != 0
                                          for c in "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2079\u00d7")
        except Exception:  # noqa: BLE001
            _SUPERSCRIPT_FONTS[key] = False
    return _SUPERSCRIPT_FONTS[key]


def log_axis(axis, minor_decades: float = 1.0) -> None:
    """Put the compact formatters on a log-scaled axis (``ax.xaxis``/``ax.yaxis``).

    Minor ticks (2, 3, 5, ...) are labelled when the axis spans at most
    ``minor_decades`` decades (matplotlib's default is 1)."""
    axis.set_major_formatter(LogTickFormatter(base=10.0))
    axis.set_minor_formatter(LogTickFormatter(base=10.0, labelOnlyBase=False,
                                              minor_thresholds=(minor_decades, 0.4)))


def new_figure(width: float = ONE_COL, height: float | None = None) -> Figure:
    """A pyplot-free figure with constrained layout (no overlapping text) on an
    Agg canvas (so text can be measured before saving)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    if height is None:
        height = width * 0.75
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _stem_path(path_stem, suffix: str) -> Path:
    p = Path(path_stem)
    # never Path.with_suffix: stems such as "adasam.linear_speedup" contain dots
    return p.parent / (p.name + suffix)


def _savefig(fig: Figure, path: Path, dpi: int) -> None:
    """fig.savefig, atomically: a killed report never leaves half an image."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi))


def save(fig: Figure, path_stem, dpi: int = DPI) -> list[Path]:
    """Write ``<stem>.pdf`` and ``<stem>.png`` (``dpi``); return both paths.

    If TeX rendering fails (a TeX install missing a package, say), the figure is
    re-saved with ``text.usetex`` off rather than aborting the report.
    """
    out = [_stem_path(path_stem, ".pdf"), _stem_path(path_stem, ".png")]
    out[0].parent.mkdir(parents=True, exist_ok=True)
    engine = fig.get_layout_engine()
    try:
        # PNG first: drawing it runs the layout engine once; the PDF then reuses
        # those positions (layout is in figure-relative units, dpi-independent)
        _savefig(fig, out[1], dpi)
        if engine is not None:
            fig.set_layout_engine("none")
        _savefig(fig, out[0], dpi)
    except Exception:
        if not usetex_on():
            raise
        with mpl.rc_context({"text.usetex": False}):
            for t in fig.findobj(lambda a: hasattr(a, "set_usetex")):
                t.set_usetex(False)
            for p in (out[1], out[0]):
                _savefig(fig, p, dpi)
    finally:
        if engine is not None and fig.get_layout_engine() is not engine:
            try:
                fig.set_layout_engine(engine)
            except RuntimeError:
                pass
    return out
