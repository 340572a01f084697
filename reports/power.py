"""The operating characteristic of every claim's verdict: a figure and a Markdown section.

Both are drawn from the power summary written by ``python -m verify power`` (``power_summary.csv``:
one row per claim and variant with its verdict counts and Wilson intervals); nothing is recomputed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .style import GREY, TWO_COL, VERDICT_COLORS, new_figure, save, style_context

ORDER = ("holds", "inconclusive", "violated")


def power_figure(summary: pd.DataFrame, path_stem, style: str = "default") -> list[Path]:
    """One panel per claim: for the claim and each counterfeit, the share of repeats giving each
    verdict (stacked bars), the expected verdict marked with a black edge, and the Wilson 95%
    interval of P(expected) as an error bar."""
    claims = list(dict.fromkeys(summary["claim"]))
    with style_context(style):
        fig = new_figure(TWO_COL, 0.45 + 0.32 * len(summary) + 0.25 * len(claims))
        axes = fig.subplots(len(claims), 1, squeeze=False,
                            height_ratios=[max(1, (summary["claim"] == c).sum()) for c in claims])[:, 0]
        for ax, cid in zip(axes, claims):
            _panel(ax, summary[summary["claim"] == cid])
        axes[-1].set_xlabel("share of repeats")
        handles = [ax.patches[i] for i in range(len(ORDER))] if axes[0].patches else []
        if handles:
            fig.legend(handles, ORDER, loc="outside upper center", ncol=3, frameon=False)
        return save(fig, path_stem)


def _panel(ax, g: pd.DataFrame) -> None:
    """Stacked verdict shares of one claim's variants, expected verdict outlined."""
    g = g.iloc[::-1]
    y = np.arange(len(g))
    left = np.zeros(len(g))
    for verdict in ORDER:
        share = g[f"n_{verdict}"].to_numpy() / g["repeats"].to_numpy()
        edge = ["black" if e == verdict else "none" for e in g["expected"]]
        ax.barh(y, share, left=left, color=VERDICT_COLORS[verdict], edgecolor=edge, linewidth=1.2)
        left += share
    lo = g["p_expected"] - g["p_expected_low"]
    hi = g["p_expected_high"] - g["p_expected"]
    ax.errorbar(g["p_expected"], y, xerr=[lo, hi], fmt="none", ecolor=GREY, capsize=2, lw=0.8)
    labels = [("claim" if r == "claim" else f"~{v}") + f" (expect {e})"
              for r, v, e in zip(g["role"], g["variant"], g["expected"])]
    ax.set_yticks(y, labels, fontsize="small")
    ax.set_xlim(0, 1)
    ax.set_title(g["claim"].iloc[0], loc="left", fontsize="small")


def power_markdown(summary: pd.DataFrame, per_claim: dict, repeats: int, grid: str) -> str:
    """The report section: per claim size and P(inconclusive), then power per counterfeit."""
    lines = [f"## Error rates of the verdicts ({grid} grid, {repeats} repeats)", "",
             "Size = P(opposite decisive verdict | true claim); power = P(expected verdict | counterfeit); "
             "95% Wilson intervals. Targets: size <= 5%, power >= 90%.", "",
             "| claim | variant | expected | holds / inconclusive / violated | rate (95% CI) |",
             "|---|---|---|---|---|"]
    for _, r in summary.iterrows():
        lines.append(f"| {r['claim']} | {'(claim)' if r['role'] == 'claim' else r['variant']} | {r['expected']} | "
                     f"{r['n_holds']} / {r['n_inconclusive']} / {r['n_violated']} | {r['measure']} "
                     f"{r['rate']:.2f} [{r['rate_low']:.2f}, {r['rate_high']:.2f}] |")
    lines += ["", "| claim | size | P(inconclusive) | worst power | meets targets | gate compares verdict |",
              "|---|---|---|---|---|---|"]
    for cid, c in per_claim.items():
        worst = f"{c['worst_power']:.2f} (~{c['worst_counterfeit']})" if c["worst_counterfeit"] else "none declared"
        lines.append(f"| {cid} | {c['size']:.2f} | {c['p_inconclusive']:.2f} | {worst} | "
                     f"{'yes' if c['meets_targets'] else 'no'} | {'yes' if c['gate_verdict'] else 'numbers only'} |")
    return "\n".join(lines) + "\n"
