"""The report as one self-contained HTML page (``report.html``): CSS inline, figures embedded as
base64 PNG, so the single file can be mailed or archived.

The escaping and table helpers (``h``, ``badge``, ``html_table``, ...) are here too; what each
section says comes from ``reports.page``.
"""

from __future__ import annotations

import base64
import html
import struct
from pathlib import Path
from typing import Any

import pandas as pd

from verify.stats import VERDICTS

from . import page
from .formatting import anchor, as_text, flatten, fmt_ci
from .tables import DISPLAY_COLUMNS, provenance_summary

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


def h(s: Any) -> str:
    """``s`` as HTML text, quotes escaped too (safe in attributes)."""
    return html.escape(as_text(s), quote=True)


def badge(verdict: str) -> str:
    """The verdict as a coloured pill (an unknown verdict is drawn as inconclusive)."""
    v = verdict if verdict in VERDICTS else "inconclusive"
    return f'<span class="badge badge-{v}">{h(verdict)}</span>'


def status_tag(status: str) -> str:
    """The claim's status tag; "reconstructed" is marked and explained on hover."""
    if status == "reconstructed":
        return ('<span class="tag tag-reconstructed" title="derived without the paper\'s '
                'full text">reconstructed</span>')
    return f'<span class="tag tag-confirmed">{h(status)}</span>'


def table_to_html(table: pd.DataFrame, link_claims: bool = True) -> str:
    """The verdict table as an HTML ``<table class="verdicts">``."""
    out = ['<table class="verdicts">', "<thead><tr>"]
    out += [f"<th>{h(hd)}</th>" for _, hd in DISPLAY_COLUMNS]
    out.append("</tr></thead><tbody>")
    for _, r in table.iterrows():
        cls = "row-" + (r["verdict"] if r["verdict"] in VERDICTS else "inconclusive")
        out.append(f'<tr class="{cls}">')
        for col, _h in DISPLAY_COLUMNS:
            if col == "claim":
                cell = f"<code>{h(r['claim'])}</code>"
                if link_claims:
                    cell = f'<a href="#{anchor(r["claim"])}">{cell}</a>'
            elif col == "status":
                cell = status_tag(r["status"])
            elif col == "verdict_text":
                cell = badge(r["verdict"])
                if r["expected"] != "holds":
                    cell += f'<div class="expected">expected: {h(r["expected"])}'
                    cell += " &#10003;" if r["as_expected"] else " &#8212; <b>unexpected</b>"
                    cell += "</div>"
            else:
                cell = h(r[col])
            out.append(f"<td>{cell}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def html_kv_table(items: dict, cls: str = "kv") -> str:
    """A two-column key/value table, values in ``<code>``."""
    rows = "".join(f"<tr><th>{h(k)}</th><td><code>{h(v)}</code></td></tr>" for k, v in items.items())
    return f'<table class="{cls}"><tbody>{rows}</tbody></table>'


def html_table(rows: list[list], headers: list[str], cls: str = "plain") -> str:
    """A table with a header row; cells escaped unless wrapped in ``raw``."""
    head = "".join(f"<th>{h(x)}</th>" for x in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, _Raw) else h(c)}</td>" for c in r)
                   + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class _Raw(str):
    """A string that html_table inserts without escaping (already HTML)."""


def raw(s: str) -> _Raw:
    """Mark ``s`` as HTML already, for ``html_table`` to insert as it is."""
    return _Raw(s)


def _png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) in pixels from a PNG's header; None when the file is not a PNG."""
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
    """An ``<img>`` with the PNG embedded, sized as the figure's inches would be on paper."""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    size = _png_size(png)
    width = ""
    if size:
        # 200-dpi PNG shown at ~110 CSS px per inch: 3.4 in -> 374 px, 7 in -> 770 px
        width = f' width="{int(round(size[0] / 200 * 110))}"'
    return f'<img src="data:image/png;base64,{data}" alt="{h(alt)}"{width}>'




def _head(directory: Path, verdicts: list[dict], table: pd.DataFrame, provenance: dict) -> list[str]:
    """From ``<!DOCTYPE html>`` to the verdict table: counts, reconstructed note, contents, provenance."""
    counts = page.summary_counts(table)
    title = "samcheck verification report"
    stamp = provenance.get("timestamp") if isinstance(provenance, dict) else None
    sub = f"{len(table)} claims"
    if stamp:
        sub += f" &middot; results of {h(stamp)}"
    if isinstance(provenance, dict) and provenance.get("git_revision"):
        sub += f" &middot; revision <code>{h(provenance['git_revision'])}</code>"
    return [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{h(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{h(title)}</h1>", f'<p class="sub">{sub}</p>',
        '<div class="summary">',
        *(f'<div class="card"><b>{counts[k]}</b>{badge(k)}</div>' for k in VERDICTS),
        f'<div class="card"><b>{counts["unexpected"]}</b>unexpected verdicts</div>',
        "</div>",
        f'<div class="note">{status_tag("reconstructed")} {h(page.RECONSTRUCTED_NOTE)}</div>',
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


def _claim(directory: Path, v: dict, figures: dict, fig_errors: dict) -> list[str]:
    """One claim's collapsible article: heading with badges, facts, reason, per-point verdicts,
    more values, figures."""
    claim = str(v.get("claim"))
    verdict = str(v.get("verdict") or "inconclusive")
    head = f"<code>{h(claim)}</code> {badge(verdict)} {status_tag(str(v.get('status') or 'confirmed'))}"
    if (v.get("expected") or "holds") != "holds":
        head += f' <span class="tag tag-control">negative control: expected {h(v.get("expected"))}</span>'
    parts = [f'<article class="claim" id="{anchor(claim)}"><details class="claim" open>'
             f"<summary><h3>{head}</h3></summary>",
             '<dl class="facts">' + "".join(f"<dt>{h(k)}</dt><dd>{h(x)}</dd>"
                                           for k, x in page.facts(v)) + "</dl>"]
    if v.get("reason"):
        parts.append(f'<div class="reason"><b>Reason.</b> {h(v.get("reason"))}</div>')
    rm = page.regime_rows(v)
    if rm:
        table_html = html_table(
            [[raw(f"<code>{h(e.get('point'))}</code>"), raw(badge(str(e.get("verdict") or ""))),
              fmt_ci(e.get("estimate"), e.get("ci_low"), e.get("ci_high")) or "n/a",
              e.get("reason", "")] for e in rm],
            page.REGIME_HEADERS)
        counts = ", ".join(f"{k} {n}" for k, n in page.count_verdicts(rm).items())
        opened = " open" if len(rm) <= 12 else ""
        parts.append(f"<details{opened}><summary><b>Per grid point</b> ({len(rm)}: {h(counts)})"
                     f"</summary>{table_html}</details>")
    more = page.more_values(v)
    if more:
        parts.append(f"<details><summary><b>More reported values</b> ({len(more)})</summary>"
                     f"{html_kv_table(more)}</details>")
    parts += _figures(directory, v, claim, figures, fig_errors)
    parts.append("</details></article>")
    return parts


def _figures(directory: Path, v: dict, claim: str, figures: dict, fig_errors: dict) -> list[str]:
    """The claim's figures (PNG embedded, PDF linked), or a warning saying why there is none."""
    parts = []
    fpaths = figures.get(claim) or []
    pairs = page.figure_pairs(fpaths)
    for pdf, png in pairs:
        if png is None or not png.exists():
            continue
        cap = page.caption(v, png, len(pairs))
        link = f' <a href="{h(page.rel_path(pdf, directory))}">PDF</a>' if pdf is not None else ""
        parts.append(f"<figure>{_img_tag(png, f'{claim} figure')}"
                     f"<figcaption>{h(cap)}{link}</figcaption></figure>")
    if claim in fig_errors:
        parts.append(f'<div class="warn">Figure failed: <code>{h(fig_errors[claim])}</code></div>')
    elif not fpaths:
        parts.append('<div class="warn">No figure: the results table holds no rows '
                     f"of this claim's metric (<code>{h(v.get('metric'))}</code>).</div>")
    return parts


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


def _tail(verdicts: list[dict], provenance: dict, slack: pd.DataFrame, divs: pd.DataFrame) -> list[str]:
    """Bound margins, diverged runs, provenance and the closing tags."""
    parts = ['<h2 id="bounds">Bound margins</h2>']
    brows = page.bound_rows(verdicts, slack)
    if brows:
        parts.append(html_table(brows, page.BOUND_HEADERS))
        parts.append('<p class="sub">Bound margin and tolerance as reported by the verdict '
                     "(definitions in each claim file); max mean/bound and checkpoints above "
                     "are recomputed from the results table (mean over non-diverged seeds "
                     "against the explicit-bound rows).</p>")
    else:
        parts.append('<p class="sub">No claim reports a bound margin.</p>')
    parts.append('<h2 id="diverged">Diverged runs</h2>')
    parts.append(html_table(page.div_rows(verdicts, divs), page.DIV_HEADERS))
    parts.append('<h2 id="provenance">Provenance</h2>')
    flat = flatten(provenance) if provenance else {}
    parts.append(html_kv_table(dict(provenance_summary(provenance))))
    parts.append(f"<details><summary><b>Every provenance field</b> ({len(flat)})</summary>{html_kv_table(flat)}</details>"
                 if flat else '<p class="sub">No provenance.json.</p>')
    parts.append('<footer>Built by <code>reports.build_report</code> from results.parquet / '
                 "results.csv, verdicts.json and provenance.json alone.</footer>")
    parts.append("</main></body></html>")
    return parts


def render_html(directory: Path, verdicts: list[dict], table: pd.DataFrame, figures: dict,
                fig_errors: dict, provenance: dict, slack: pd.DataFrame,
                divs: pd.DataFrame) -> str:
    """The text of report.html for a results directory (arguments as ``reports.build.build_report`` makes them)."""
    parts = _head(directory, verdicts, table, provenance)
    for v in verdicts:
        parts += _claim(directory, v, figures, fig_errors)
    if (directory / "power_summary.csv").exists():
        parts.append(_power_html(directory))
    parts += _tail(verdicts, provenance, slack, divs)
    return "\n".join(parts) + "\n"
