"""The report page of a results directory.

``build_report(DIR)`` reads only ``DIR/results.parquet`` (or ``.csv``),
``DIR/verdicts.json`` and ``DIR/provenance.json`` and writes

* ``DIR/figures/<claim>.pdf`` and ``.png`` -- the figures (``reports.figures``);
* ``DIR/report.html`` -- a self-contained page (CSS inline, figures embedded as
  base64 PNG), so the single file can be mailed or archived;
* ``DIR/report.md`` -- the same content in Markdown, figures linked from
  ``figures/``;
* ``DIR/verdicts.tex`` -- the verdict table as a LaTeX ``tabular``;
* ``DIR/verdict_table.csv`` -- the verdict table as data (for diffs).

Another style (``style="paper"``) writes beside these, never over them: ``DIR/figures-paper/`` and
``DIR/report-paper.html`` / ``.md`` (the tables do not depend on the style).
"""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pandas as pd

from verify.results import atomic_write, atomic_write_text

from . import figures as figs
from .style import style_context
from .tables import (
    anchor, badge, bound_slack, diverged_counts, flatten, fmt_ci, fmt_num, h,
    html_kv_table, html_table, is_num, load_results, markdown_table, md_escape, provenance_summary, raw,
    rates_text, status_tag, table_to_html, table_to_latex, table_to_markdown, verdict_table,
)

RECONSTRUCTED_NOTE = (
    "Claims tagged reconstructed state a theorem as it was derived here without "
    "the paper's full text (from the abstract, the official code and the surrounding "
    "literature); constants, schedules or the exact form may differ from the published "
    "statement."
)

CSS = """
:root { --fg:#1d1d1f; --muted:#5f6368; --line:#e3e3e3; --bg:#ffffff; --soft:#f6f7f9;
  --holds:#0b6e4f; --holds-bg:#e1f3ea; --violated:#b3261e; --violated-bg:#fbe4e2;
  --incon:#8a5a00; --incon-bg:#fff1d1; --recon:#5b3f99; --recon-bg:#efe8fb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width:1040px; margin:0 auto; padding:28px 22px 60px; }
h1 { font-size:26px; margin:0 0 4px; }
h2 { font-size:20px; margin:38px 0 12px; padding-bottom:4px; border-bottom:1px solid var(--line); }
h3 { font-size:17px; margin:0 0 8px; display:flex; flex-wrap:wrap; gap:8px; align-items:center; }
code { font:13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
a { color:#0b57d0; text-decoration:none; } a:hover { text-decoration:underline; }
.sub { color:var(--muted); margin:0 0 16px; }
.summary { display:flex; flex-wrap:wrap; gap:10px; margin:14px 0; }
.summary .card { background:var(--soft); border:1px solid var(--line); border-radius:8px;
  padding:8px 14px; min-width:120px; }
.summary .card b { font-size:20px; display:block; }
.note { background:var(--recon-bg); border-left:4px solid var(--recon); padding:10px 14px;
  border-radius:4px; margin:14px 0; font-size:14px; }
.warn { background:var(--incon-bg); border-left:4px solid var(--incon); padding:8px 14px;
  border-radius:4px; margin:10px 0; font-size:14px; }
nav ol { margin:4px 0; padding-left:22px; columns:2; font-size:14px; }
table { border-collapse:collapse; width:100%; font-size:13.5px; margin:8px 0 14px; }
th, td { border-bottom:1px solid var(--line); padding:6px 8px; text-align:left; vertical-align:top; }
thead th { background:var(--soft); font-weight:600; position:sticky; top:0; }
table.verdicts td:first-child { white-space:nowrap; }
table.kv th { width:28%; font-weight:600; background:var(--soft); }
table.kv td code { word-break:break-all; }
details { margin:8px 0; } summary { cursor:pointer; font-size:14px; }
details.claim > summary { list-style-position:outside; } details.claim > summary h3 { display:inline-flex; }
nav.toc ol ol { columns:1; padding-left:18px; }
.prov { background:var(--soft); border:1px solid var(--line); border-radius:6px; padding:8px 12px;
  font-size:13px; margin:10px 0; }
.badge { display:inline-block; padding:1px 9px; border-radius:999px; font-size:12.5px;
  font-weight:600; letter-spacing:.02em; white-space:nowrap; }
.badge-holds { background:var(--holds-bg); color:var(--holds); border:1px solid var(--holds); }
.badge-violated { background:var(--violated-bg); color:var(--violated); border:1px solid var(--violated); }
.badge-inconclusive { background:var(--incon-bg); color:var(--incon); border:1px solid var(--incon); }
.tag { display:inline-block; padding:0 7px; border-radius:4px; font-size:12px; white-space:nowrap; }
.tag-reconstructed { background:var(--recon-bg); color:var(--recon); border:1px dashed var(--recon); }
.tag-confirmed { background:var(--soft); color:var(--muted); border:1px solid var(--line); }
.tag-control { background:#e8f0fe; color:#174ea6; border:1px solid #aecbfa; }
.expected { font-size:12px; color:var(--muted); margin-top:3px; white-space:nowrap; }
article.claim { border:1px solid var(--line); border-radius:10px; padding:16px 18px;
  margin:18px 0; }
dl.facts { display:grid; grid-template-columns:170px 1fr; gap:3px 14px; margin:8px 0 10px;
  font-size:14px; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
.reason { background:var(--soft); border-radius:6px; padding:8px 12px; font-size:14px; }
figure { margin:14px 0 6px; }
figure img { max-width:100%; height:auto; display:block; }
figcaption { color:var(--muted); font-size:13px; margin-top:4px; }
footer { color:var(--muted); font-size:12.5px; margin-top:40px; }
@media print { thead th { position:static; } article.claim { break-inside:avoid; } }
"""


def _png_size(path: Path) -> tuple[int, int] | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
        if head[:8] != b"\x89PNG\r\n\x1a\n":
            return None
        w, hgt = struct.unpack(">II", head[16:24])
        return int(w), int(hgt)
    except OSError:
        return None


def _img_tag(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    size = _png_size(png)
    width = ""
    if size:
        # 200-dpi PNG shown at ~110 CSS px per inch: 3.4 in -> 374 px, 7 in -> 770 px
        width = f' width="{int(round(size[0] / 200 * 110))}"'
    return f'<img src="data:image/png;base64,{data}" alt="{h(alt)}"{width}>'


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _facts(v: dict) -> list[tuple[str, str]]:
    """(label, value) pairs describing one claim verdict."""
    est = fmt_ci(v.get("estimate"), v.get("ci_low"), v.get("ci_high"))
    fit = v.get("fit") if isinstance(v.get("fit"), dict) else None
    rows = [
        ("Paper", v.get("paper")),
        ("Theorem", v.get("theorem")),
        ("Status", v.get("status")),
        ("Algorithms", ", ".join(map(str, v.get("algorithms") or []))
            if isinstance(v.get("algorithms"), (list, tuple)) else v.get("algorithms")),
        ("Problem", v.get("problem")),
        ("Measured quantity", v.get("metric")),
        ("Main axis", v.get("x")),
        ("Prediction", v.get("prediction")),
        ("Predicted slope", fmt_num(v.get("predicted_slope")) if is_num(v.get("predicted_slope")) else None),
        ("Measured", v.get("measured")),
        ("Estimate [95% CI]", est or None),
        ("Fit", (f"slope {fmt_ci(fit.get('slope'), fit.get('ci_low'), fit.get('ci_high'))}, "
                 f"intercept {fmt_num(fit.get('intercept'))}") if fit else None),
        ("Tolerance", fmt_num(v.get("tolerance")) if is_num(v.get("tolerance")) else None),
        ("Bound margin", fmt_num(v.get("bound_margin")) if is_num(v.get("bound_margin")) else None),
        ("Tolerance reason", v.get("tolerance_reason")),
        ("Runs (diverged)", f"{v.get('n_runs', 'n/a')} ({v.get('n_diverged', 'n/a')})"),
        ("Expected verdict", v.get("expected") or "holds"),
        ("Error rates", rates_text(v.get("error_rates")) if isinstance(v.get("error_rates"), dict) else None),
        ("Counterfeits", "; ".join(f"~{c.get('name')}: {c.get('change')} -> {c.get('expected')}"
                                   for c in v.get("counterfeits") or [] if isinstance(c, dict)) or None),
        ("Headline", v.get("headline")),
        ("Schedule", v.get("schedule")),
        ("Assumptions", v.get("assumptions")),
        ("Fit window", v.get("fit_window")),
    ]
    return [(k, str(x)) for k, x in rows if x not in (None, "")]


# verdict fields shown above; anything else a claim reports goes to "more"
_SHOWN = {"claim", "paper", "theorem", "status", "algorithms", "problem", "metric", "x",
          "prediction", "predicted_slope", "measured", "estimate", "ci_low", "ci_high", "fit",
          "tolerance", "bound_margin", "tolerance_reason", "n_runs", "n_diverged", "expected",
          "headline", "schedule", "assumptions", "fit_window", "verdict", "reason", "regime_map",
          "figure", "error_rates", "counterfeits", "counterfeit_of"}


def _more(v: dict) -> dict[str, str]:
    """The claim's other reported fields, flattened (``numbers.slope_T.value``...)."""
    out: dict[str, str] = {}
    for k, x in v.items():
        if k in _SHOWN:
            continue
        for kk, vv in flatten(x, k).items():
            try:
                out[kk] = fmt_num(float(vv)) if vv not in ("", "True", "False") else vv
            except ValueError:
                out[kk] = vv
    return out


def _count_verdicts(rows: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in rows:
        k = str(e.get("verdict") or "n/a")
        out[k] = out.get(k, 0) + 1
    return out


def _regime_rows(v: dict) -> list[dict]:
    return [e for e in (v.get("regime_map") or []) if isinstance(e, dict)]


def _figure_names(paths: list[Path]) -> list[tuple[Path | None, Path | None]]:
    """Pair each figure's pdf and png: [(pdf, png), ...] in order."""
    stems: dict[str, dict[str, Path]] = {}
    for p in paths:
        p = Path(p)
        stems.setdefault(p.name[: -len(p.suffix)] if p.suffix else p.name, {})[p.suffix] = p
    return [(d.get(".pdf"), d.get(".png")) for d in stems.values()]


def _caption(v: dict, png: Path | None, n_figs: int) -> str:
    """Caption of a figure; with several figures per claim (e.g. AdaSAM's full
    and tail averages, stem suffix ``__<metric>``) it names the metric shown."""
    cap = figs.CAPTIONS.get(figs.figure_kind(v), "")
    if n_figs > 1 and png is not None:
        stem = png.name[: -len(png.suffix)]
        metric = stem.split("__", 1)[1] if "__" in stem else str(v.get("metric") or "")
        if metric:
            cap = f"Metric {metric}. " + cap
    return cap


def _summary_counts(table: pd.DataFrame) -> dict[str, int]:
    c = {k: int((table["verdict"] == k).sum()) for k in ("holds", "violated", "inconclusive")}
    c["unexpected"] = int((~table["as_expected"] & (table["verdict"] != "inconclusive")).sum())
    return c


# ----------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------

def render_html(directory: Path, verdicts: list[dict], table: pd.DataFrame, figures: dict,
                fig_errors: dict, provenance: dict, slack: pd.DataFrame,
                divs: pd.DataFrame) -> str:
    counts = _summary_counts(table)
    title = "samcheck verification report"
    stamp = provenance.get("timestamp") if isinstance(provenance, dict) else None
    sub = f"{len(table)} claims"
    if stamp:
        sub += f" &middot; results of {h(stamp)}"
    if isinstance(provenance, dict) and provenance.get("git_revision"):
        sub += f" &middot; revision <code>{h(provenance['git_revision'])}</code>"
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{h(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{h(title)}</h1>", f'<p class="sub">{sub}</p>',
        '<div class="summary">',
        f'<div class="card"><b>{counts["holds"]}</b>{badge("holds")}</div>',
        f'<div class="card"><b>{counts["violated"]}</b>{badge("violated")}</div>',
        f'<div class="card"><b>{counts["inconclusive"]}</b>{badge("inconclusive")}</div>',
        f'<div class="card"><b>{counts["unexpected"]}</b>unexpected verdicts</div>',
        "</div>",
        f'<div class="note">{status_tag("reconstructed")} {h(RECONSTRUCTED_NOTE)}</div>',
        '<nav class="toc"><b>Contents</b><ol>',
        '<li><a href="#verdicts">Verdict table</a></li>',
        '<li><a href="#claims">Claims and figures</a><ol>'
        + "".join(f'<li><a href="#{anchor(str(v.get("claim")))}"><code>{h(v.get("claim"))}</code></a> '
                  f'{h(v.get("verdict") or "inconclusive")}</li>' for v in verdicts) + "</ol></li>",
        *(['<li><a href="#power">Error rates of the verdicts</a></li>']
          if (directory / "power_summary.csv").exists() else []),
        '<li><a href="#bounds">Bound margins</a></li>',
        '<li><a href="#diverged">Diverged runs</a></li>',
        '<li><a href="#provenance">Provenance</a></li>',
        "</ol></nav>",
        '<div class="prov"><b>Provenance.</b> ' + " &middot; ".join(
            f"{h(k)}: <code>{h(x)}</code>" for k, x in provenance_summary(provenance)) + "</div>",
        '<h2 id="verdicts">Verdict table</h2>',
        table_to_html(table),
        '<p class="sub">Negative controls are expected to come out <i>violated</i>; '
        "<b>unexpected</b> marks a verdict that differs from the expected one.</p>",
        '<h2 id="claims">Claims and figures</h2>',
    ]
    for v in verdicts:
        claim = str(v.get("claim"))
        verdict = str(v.get("verdict") or "inconclusive")
        head = f"<code>{h(claim)}</code> {badge(verdict)} {status_tag(str(v.get('status') or 'confirmed'))}"
        if (v.get("expected") or "holds") != "holds":
            head += f' <span class="tag tag-control">negative control: expected {h(v.get("expected"))}</span>'
        parts.append(f'<article class="claim" id="{anchor(claim)}"><details class="claim" open>'
                     f"<summary><h3>{head}</h3></summary>")
        parts.append('<dl class="facts">' + "".join(f"<dt>{h(k)}</dt><dd>{h(x)}</dd>"
                                                   for k, x in _facts(v)) + "</dl>")
        if v.get("reason"):
            parts.append(f'<div class="reason"><b>Reason.</b> {h(v.get("reason"))}</div>')
        rm = _regime_rows(v)
        if rm:
            table_html = html_table(
                [[raw(f"<code>{h(e.get('point'))}</code>"), raw(badge(str(e.get("verdict") or ""))),
                  fmt_ci(e.get("estimate"), e.get("ci_low"), e.get("ci_high")) or "n/a",
                  e.get("reason", "")] for e in rm],
                ["point", "verdict", "estimate [95% CI]", "reason"])
            counts = ", ".join(f"{k} {n}" for k, n in _count_verdicts(rm).items())
            opened = " open" if len(rm) <= 12 else ""
            parts.append(f"<details{opened}><summary><b>Per grid point</b> ({len(rm)}: {h(counts)})"
                         f"</summary>{table_html}</details>")
        more = _more(v)
        if more:
            parts.append(f"<details><summary><b>More reported values</b> ({len(more)})</summary>"
                         f"{html_kv_table(more)}</details>")
        fpaths = figures.get(claim) or []
        pairs = _figure_names(fpaths)
        for pdf, png in pairs:
            if png is None or not png.exists():
                continue
            cap = _caption(v, png, len(pairs))
            link = f' <a href="{h(_rel(pdf, directory))}">PDF</a>' if pdf is not None else ""
            parts.append(f"<figure>{_img_tag(png, f'{claim} figure')}"
                         f"<figcaption>{h(cap)}{link}</figcaption></figure>")
        if claim in fig_errors:
            parts.append(f'<div class="warn">Figure failed: <code>{h(fig_errors[claim])}</code></div>')
        elif not fpaths:
            parts.append('<div class="warn">No figure: the results table holds no rows '
                         f"of this claim's metric (<code>{h(v.get('metric'))}</code>).</div>")
        parts.append("</details></article>")
    if (directory / "power_summary.csv").exists():
        parts.append(_power_html(directory))
    # bound margins
    parts.append('<h2 id="bounds">Bound margins</h2>')
    brows = _bound_rows(verdicts, slack)
    if brows:
        parts.append(html_table(brows, BOUND_HEADERS))
        parts.append('<p class="sub">Bound margin and tolerance as reported by the verdict '
                     "(definitions in each claim file); max mean/bound and checkpoints above "
                     "are recomputed from the results table (mean over non-diverged seeds "
                     "against the explicit-bound rows).</p>")
    else:
        parts.append('<p class="sub">No claim reports a bound margin.</p>')
    # diverged runs
    parts.append('<h2 id="diverged">Diverged runs</h2>')
    parts.append(html_table(_div_rows(verdicts, divs), DIV_HEADERS))
    # provenance
    parts.append('<h2 id="provenance">Provenance</h2>')
    flat = flatten(provenance) if provenance else {}
    parts.append(html_kv_table(dict(provenance_summary(provenance))))
    parts.append(f"<details><summary><b>Every provenance field</b> ({len(flat)})</summary>{html_kv_table(flat)}</details>"
                 if flat else '<p class="sub">No provenance.json.</p>')
    parts.append('<footer>Built by <code>reports.build_report</code> from results.parquet / '
                 "results.csv, verdicts.json and provenance.json alone.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _power_html(directory: Path) -> str:
    """The error-rates section of a directory written by ``python -m verify power``."""
    summary = pd.read_csv(directory / "power_summary.csv")
    rows = [[r["claim"], "(claim)" if r["role"] == "claim" else f"~{r['variant']}", r["expected"],
             f"{r['n_holds']} / {r['n_inconclusive']} / {r['n_violated']}",
             f"{r['measure']} {r['rate']:.2f} [{r['rate_low']:.2f}, {r['rate_high']:.2f}]"]
            for _, r in summary.iterrows()]
    png = directory / "power.png"
    fig = f"<figure>{_img_tag(png, 'operating characteristic')}</figure>" if png.exists() else ""
    return ('<h2 id="power">Error rates of the verdicts</h2><p class="sub">Size = P(opposite decisive verdict | '
            "true claim); power = P(expected verdict | counterfeit); 95% Wilson intervals.</p>"
            + html_table(rows, ["claim", "variant", "expected", "holds / inconclusive / violated", "rate (95% CI)"])
            + fig)


BOUND_HEADERS = ["claim", "verdict", "bound margin", "tolerance", "max mean/bound",
                 "checkpoints above bound"]
DIV_HEADERS = ["claim", "algorithm", "runs", "diverged", "fraction"]


def _bound_rows(verdicts: list[dict], slack: pd.DataFrame) -> list[list]:
    sl = {r["claim"]: r for _, r in slack.iterrows()} if len(slack) else {}
    rows = []
    for v in verdicts:
        c = str(v.get("claim"))
        if not is_num(v.get("bound_margin")) and c not in sl:
            continue
        s = sl.get(c)
        rows.append([c, str(v.get("verdict") or ""),
                     fmt_num(v.get("bound_margin")) if is_num(v.get("bound_margin")) else "n/a",
                     fmt_num(v.get("tolerance")) if is_num(v.get("tolerance")) else "n/a",
                     fmt_num(s["max_ratio"]) if s is not None else "n/a",
                     f"{int(s['n_above'])}/{int(s['checkpoints'])}" if s is not None else "n/a"])
    return rows


def _div_rows(verdicts: list[dict], divs: pd.DataFrame) -> list[list]:
    rows = []
    for v in verdicts:
        c = str(v.get("claim"))
        sub = divs[divs["claim"] == c] if len(divs) else divs
        if len(sub):
            for _, r in sub.iterrows():
                rows.append([c, str(r["algorithm"]), str(int(r["runs"])), str(int(r["diverged"])),
                             f"{r['fraction']:.1%}"])
        else:
            n, k = v.get("n_runs"), v.get("n_diverged")
            frac = f"{k / n:.1%}" if is_num(n) and is_num(k) and n else "n/a"
            rows.append([c, "(verdict)", str(n if n is not None else "n/a"),
                         str(k if k is not None else "n/a"), frac])
    return rows


# ----------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------

def render_markdown(directory: Path, verdicts: list[dict], table: pd.DataFrame, figures: dict,
                    fig_errors: dict, provenance: dict, slack: pd.DataFrame,
                    divs: pd.DataFrame) -> str:
    counts = _summary_counts(table)
    out = ["# samcheck verification report", ""]
    meta = [f"{len(table)} claims"]
    if provenance.get("timestamp"):
        meta.append(f"results of {provenance['timestamp']}")
    if provenance.get("git_revision"):
        meta.append(f"revision `{provenance['git_revision']}`")
    out += [" · ".join(meta), "",
            f"**{counts['holds']} holds · {counts['violated']} violated · "
            f"{counts['inconclusive']} inconclusive · {counts['unexpected']} unexpected**", "",
            f"> (*) **reconstructed**: {RECONSTRUCTED_NOTE}", "",
            "**Provenance:** " + " · ".join(f"{k}: `{x}`" for k, x in provenance_summary(provenance)), "",
            "## Verdict table", "", table_to_markdown(table),
            "Negative controls are expected to come out *violated*. Each claim links to its section below "
            "(prediction, measurement, reason, per-point verdicts, figures).", "",
            "## Claims and figures", ""]
    for v in verdicts:
        claim = str(v.get("claim"))
        tags = [f"**{v.get('verdict') or 'inconclusive'}**"]
        if v.get("status") == "reconstructed":
            tags.append("*reconstructed* (*)")
        if (v.get("expected") or "holds") != "holds":
            tags.append(f"negative control, expected {v.get('expected')}")
        out += [f'<a id="{anchor(claim)}"></a>', "", f"### `{claim}` — " + " · ".join(tags), ""]
        out += [f"- **{k}:** {md_escape(x)}" for k, x in _facts(v)]
        out.append("")
        if v.get("reason"):
            out += [f"**Reason.** {md_escape(v.get('reason'))}", ""]
        rm = _regime_rows(v)
        more = _more(v)
        if rm:
            out += [f"Per grid point ({len(rm)}):", "", markdown_table(
                [[f"`{e.get('point')}`", e.get("verdict", ""),
                  fmt_ci(e.get("estimate"), e.get("ci_low"), e.get("ci_high")) or "n/a",
                  e.get("reason", "")] for e in rm],
                ["point", "verdict", "estimate [95% CI]", "reason"])]
        if more:
            out += ["<details><summary>More reported values</summary>", "",
                    markdown_table([[k, x] for k, x in more.items()], ["key", "value"]),
                    "</details>", ""]
        fpaths = figures.get(claim) or []
        pairs = _figure_names(fpaths)
        for pdf, png in pairs:
            cap = _caption(v, png, len(pairs))
            if png is not None:
                out.append(f"![{claim}]({_rel(png, directory)})")
                out.append("")
                out.append(f"*{cap}*" + (f" [PDF]({_rel(pdf, directory)})" if pdf else ""))
                out.append("")
        if claim in fig_errors:
            out += [f"> Figure failed: `{fig_errors[claim]}`", ""]
        elif not fpaths:
            out += [f"> No figure: no rows of metric `{v.get('metric')}` in the results.", ""]
    if (directory / "power.md").exists():
        out += [(directory / "power.md").read_text(encoding="utf-8"), ""]
        if (directory / "power.png").exists():
            out += ["![operating characteristic](power.png)", ""]
    out += ["## Bound margins", ""]
    brows = _bound_rows(verdicts, slack)
    out += [markdown_table(brows, BOUND_HEADERS) if brows else "No claim reports a bound margin.",
            ""]
    out += ["## Diverged runs", "", markdown_table(_div_rows(verdicts, divs), DIV_HEADERS), ""]
    out += ["## Provenance", ""]
    out += [markdown_table(provenance_summary(provenance), ["provenance", "value"]), ""]
    flat = flatten(provenance) if provenance else {}
    out += [markdown_table([[k, f"`{x}`" if x else ""] for k, x in flat.items()], ["key", "value"])
            if flat else "No provenance.json.", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------

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


def build_report(directory, style: str = "default", strict: bool = False,
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
