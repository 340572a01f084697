"""Names and labels of figures: metric and axis labels, algorithm names, parameter symbols.

Why a module of its own: every figure family labels the same quantities, and one table keeps the
legends, axes and the report's captions consistent.
"""

from __future__ import annotations

import re

from ..style import txt

METRIC_LABELS = {
    "f_gap": r"$f(x_t) - f^\star$",
    "grad_sq": r"$\|\nabla f(x_t)\|^2$",
    "dist_sq": r"$\|x_t - x^\star\|^2$",
    "grad_sq_avg": r"$\frac{1}{t}\sum_{s<t}\|\nabla f(x_s)\|^2$",
    "grad_sq_tail_avg": r"$\frac{2}{t}\sum_{t/2\leq s<t}\|\nabla f(x_s)\|^2$",
    "grad_sq_min": r"$\min_{s\leq t}\|\nabla f(x_s)\|^2$",
    "rho": r"$\rho_t$",
    "eff_radius": r"effective radius",
    "val_loss": r"validation loss",
}
# the same quantities as final values of runs of horizon T (plots against T or b)
METRIC_LABELS_FINAL = {
    "f_gap": r"$f(x_T) - f^\star$",
    "grad_sq": r"$\|\nabla f(x_T)\|^2$",
    "dist_sq": r"$\|x_T - x^\star\|^2$",
    "grad_sq_avg": r"$\frac{1}{T}\sum_{t<T}\|\nabla f(x_t)\|^2$",
    "grad_sq_tail_avg": r"$\frac{2}{T}\sum_{T/2\leq t<T}\|\nabla f(x_t)\|^2$",
    "grad_sq_min": r"$\min_{t\leq T}\|\nabla f(x_t)\|^2$",
}
METRIC_SHORT = {
    "f_gap": r"$f - f^\star$",
    "grad_sq": r"$\|\nabla f\|^2$",
    "dist_sq": r"$\|x - x^\star\|^2$",
    "grad_sq_avg": r"avg $\|\nabla f\|^2$",
    "grad_sq_tail_avg": r"tail avg $\|\nabla f\|^2$",
    "grad_sq_min": r"min $\|\nabla f\|^2$",
    "rho": r"$\rho_t$",
    "eff_radius": "eff. radius",
    "val_loss": "val. loss",
}
AXIS_LABELS = {
    "T": r"horizon $T$ (iterations)",
    "t": r"iteration $t$",
    "b": r"batch size $b$",
    "bT": r"$bT$ (samples)",
    "lambda": r"$\lambda$",
    "rho": r"$\rho$",
    "eta": r"$\eta$",
    "rho0": r"$\rho_0$",
}
ALGO_NAMES = {
    "adasam": "AdaSAM",
    "lightsam1": "LightSAM-I",
    "lightsam2": "LightSAM-II",
    "lightsam3": "LightSAM-III",
    "sam": "SAM",
    "sam_sgd": "SAM (SGD)",
    "usam": "USAM",
    "unified_sam": "Unified SAM",
    "lets_sam": "LETS-SAM",
    "lets_asam": "LETS-ASAM",
    "asam": "ASAM",
    "sgd": "SGD",
    "adam": "Adam",
    "amsgrad": "AMSGrad",
}
PARAM_SYMBOLS = {
    "eps": r"$\epsilon$", "epsilon": r"$\epsilon$",
    "rho": r"$\rho$", "rho0": r"$\rho_0$", "rho_0": r"$\rho_0$",
    "eta": r"$\eta$", "gamma": r"$\gamma$", "lam": r"$\lambda$", "lambda": r"$\lambda$",
    "tau": r"$\tau$", "kappa": r"$\kappa$", "sigma": r"$\sigma$", "mu": r"$\mu$",
    "beta": r"$\beta$",
}


def safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(s)).strip("_") or "claim"


def algo_name(a: str) -> str:
    return ALGO_NAMES.get(str(a), str(a))


def metric_label(m: str, short: bool = False, final: bool = False) -> str:
    """Axis label of a metric; ``final``: its value at the end of a run of
    horizon T (plots against T or b)."""
    if final and not short and m in METRIC_LABELS_FINAL:
        return METRIC_LABELS_FINAL[m]
    table = METRIC_SHORT if short else METRIC_LABELS
    label = table.get(m, txt(m))
    if final and (short or m not in METRIC_LABELS):
        label += " at $t=T$"
    return label


_KEY_RE = re.compile(r"(?<![A-Za-z0-9_])("
                     + "|".join(sorted(map(re.escape, PARAM_SYMBOLS), key=len, reverse=True))
                     + r")\s*=")


def pretty_point(p: str) -> str:
    """``"rho=1,eta=10"`` -> ``"$\\rho$=1, $\\eta$=10"``: known parameter
    names become symbols wherever they appear; the rest is kept (escaped for
    the active renderer)."""
    p = str(p)
    out, pos = [], 0
    for m in _KEY_RE.finditer(p):
        out.append(txt(p[pos:m.start()]))
        out.append(PARAM_SYMBOLS[m.group(1)] + "=")
        pos = m.end()
    out.append(txt(p[pos:]))
    return re.sub(r",(?=\S)", ", ", "".join(out))


def distinct_labels(labels: list[str]) -> list[str]:
    """Drop the ``key=value`` tokens that every label shares (``"d=2 x0=0
    lam=0"`` ... -> ``"lam=0"`` ...); labels left empty keep their full text."""
    if len(labels) < 2:
        return list(labels)
    split = [[t for t in re.split(r",\s*|\s+", lab) if t] for lab in labels]
    common = set.intersection(*(set(t for t in toks if "=" in t) for toks in split))
    out = []
    for lab, toks in zip(labels, split):
        kept = [t for t in toks if t not in common]
        out.append(" ".join(kept) if kept else lab)
    return out


def pretty_label(s) -> str:
    """Sampler/problem names for legends: underscores become spaces."""
    return txt(str(s).replace("_", " "))


def series_label(key: dict, vary: list[str]) -> str:
    parts = []
    for c in vary:
        v = key[c]
        if c == "algorithm":
            parts.append(txt(algo_name(v)))
        elif c == "point":
            parts.append(pretty_point(v))
        elif c == "b":
            parts.append(f"$b$={v}")
        elif c == "T":
            parts.append(f"$T$={v}")
        else:
            parts.append(pretty_label(v))
    return ", ".join(p for p in parts if p)


def natural_key(s):
    """Sort labels such as "eps=1e-08" < "eps=0.1" numerically where possible."""
    nums = re.findall(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", str(s))
    try:
        return (0, tuple(float(n) for n in nums), str(s))
    except ValueError:
        return (1, (), str(s))
