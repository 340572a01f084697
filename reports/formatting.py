"""Numbers and text as every report output writes them (HTML, Markdown, LaTeX, the verdict table).

One place for "n/a", three significant digits, ``est [lo, hi]`` intervals, flattened dicts and the
claim anchors, so the outputs agree on how a value reads.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np


def is_num(v: Any) -> bool:
    """Whether ``v`` is a finite number (bools are not numbers here)."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
        and math.isfinite(float(v))


def fmt_num(v: Any, digits: int = 3) -> str:
    """``v`` with ``digits`` significant digits; integers whole, "n/a" for None or NaN."""
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


def fmt_ci(est: Any, lo: Any, hi: Any) -> str:
    """``"-0.52 [-0.55, -0.49]"``; empty when there is no estimate."""
    if not is_num(est):
        return ""
    s = fmt_num(est)
    if is_num(lo) or is_num(hi):
        s += f" [{fmt_num(lo)}, {fmt_num(hi)}]"
    return s


def as_text(v: Any) -> str:
    """A cell's text: "" for None and NaN, lists joined with commas, anything else ``str``."""
    if v is None:
        return ""
    if isinstance(v, float) and math.isnan(v):
        return ""
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


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


def rates_text(rates: dict | None) -> str:
    """The verdict's measured error rates in one line (verify.power.rates_text)."""
    from verify.power import rates_text as text
    return text(rates)


def anchor(claim: str) -> str:
    """The id of a claim's section in report.html and report.md (``claim-`` + the id, URL-safe)."""
    return "claim-" + re.sub(r"[^A-Za-z0-9_-]+", "-", claim)
