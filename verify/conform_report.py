"""The conformance report: DIR/conform.json, DIR/conform.md and DIR/conform.png, each written atomically."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .results import atomic_write, atomic_write_text

FILES = ("conform.json", "conform.md", "conform.png")


def _json(v):
    if isinstance(v, np.ndarray):
        return [float(a) if np.isfinite(a) else None for a in v]
    if isinstance(v, np.generic):
        return v.item()
    return str(v)


def summary(rep: dict) -> str:
    """The printed lines: verdict, convention, cause, per-case deviations, reductions."""
    conv = rep["convention"]
    verdict = "CONFORMS" if rep["conforms"] else "DOES NOT CONFORM"
    how = ("" if not rep["conforms"] else " (default convention)" if conv == {} else
           " under " + ", ".join(f"{k}={v!r}" for k, v in conv.items()))
    lines = [f"{rep['target']} as {rep['algo']} ({rep['interface']} interface): {verdict}{how}",
             f"  tolerance: max relative deviation of the iterates {rep['tolerance']:g} per step"]
    if rep["cause"]:
        c = rep["cause"]
        lines.append(f"  cause [{c['code']}] at step {c['step']} ({c['case']}): {c['text']}")
    for c in rep["default_cases"]:
        step = "none" if c["first_bad_step"] is None else c["first_bad_step"]
        lines.append(f"  {c['case']:20s} default convention: max rel. dev {c['max_rel_dev']:.3g}, first bad step {step}"
                     + (f", raised {c['error']}" if c["error"] else ""))
    if conv:
        for c in rep["cases"]:
            lines.append(f"  {c['case']:20s} under the switch: max rel. dev {c['max_rel_dev']:.3g}")
    for r in rep["reductions"]:
        lines.append(f"  {'ok  ' if r['ok'] else 'FAIL'} {r['check']}" + ("" if r["ok"] else
                     f" (step {r['first_bad_step']}, {r['case']}: {r['detail']})"))
    if rep["not_taken"]:
        lines.append("  not taken by the constructor (its own defaults must equal these): "
                     + ", ".join(f"{k}={rep['hp'][k]!r}" for k in rep["not_taken"]))
    lines.append(f"  {len(rep['tried'])} convention(s) tried, {rep['wall_s']:.1f} s")
    return "\n".join(lines)


def write(out: Path, rep: dict) -> dict[str, Path]:
    """The three files in ``out`` (created if missing); returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": atomic_write_text(out / "conform.json", json.dumps(rep, indent=1, default=_json)),
             "markdown": atomic_write_text(out / "conform.md", _markdown(rep)),
             "figure": atomic_write(out / "conform.png", lambda tmp: _figure(rep, tmp))}
    return paths


def _markdown(rep: dict) -> str:
    rows = "\n".join(f"| {c['case']} | {c['T']} | {c['max_rel_dev']:.3g} | "
                     f"{'-' if c['first_bad_step'] is None else c['first_bad_step']} |" for c in rep["default_cases"])
    reds = "\n".join(f"| {r['check']} | {'ok' if r['ok'] else 'fails'} | {r['detail']} |" for r in rep["reductions"])
    tried = "\n".join(f"| {', '.join(f'{k}={v!r}' for k, v in t['switch'].items()) or 'default'} | "
                      f"{t['max_rel_dev']:.3g} |" for t in rep["tried"])
    return (f"# Conformance of `{rep['target']}` to {rep['algo']}\n\n```\n{summary(rep)}\n```\n\n"
            f"Hyperparameters: {rep['hp']}\n\n## Deviation from the reference (default convention)\n\n"
            f"| case | T | max rel. deviation | first bad step |\n|---|---|---|---|\n{rows}\n\n"
            f"## Conventions tried\n\n| switch | max rel. deviation |\n|---|---|\n{tried}\n\n"
            f"## Reductions\n\n| check | result | detail |\n|---|---|---|\n{reds}\n\n![deviation per step](conform.png)\n")


def _figure(rep: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for c in rep["default_cases"]:
        ax.semilogy(np.maximum(c["dev"], 1e-18), label=f"{c['case']} (default)")
    if rep["convention"]:
        for c in rep["cases"]:
            ax.semilogy(np.maximum(c["dev"], 1e-18), "--", label=f"{c['case']} (switch)")
    ax.axhline(rep["tolerance"], color="k", lw=0.8, ls=":", label="tolerance")
    ax.set_xlabel("iterate t")
    ax.set_ylabel("||x_user - x_ref|| / ||x_ref||")
    ax.set_title(f"{rep['target']} vs {rep['algo']}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
