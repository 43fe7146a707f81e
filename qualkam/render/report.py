"""The project report: one self-contained HTML file to read, archive or send to a co-author.

Everything is inside the file (inline CSS, heatmaps as inline SVG, no scripts, no fonts or
images from elsewhere), so it opens offline, years later, exactly as written. Sections: the
project summary, the phase x code and source type x code heatmaps, a balance by phase for
each code attribute the codebook declares under ``compare`` (KAM's ``pole``: formal versus
post-bureaucratic), the triangulation table, and the excerpts by code.
"""

from __future__ import annotations

import html
import numbers
import re
from typing import Any

import pandas as pd

from qualkam.analysis.excerpts import EXCERPTS_CSS, PAGE_CSS, excerpts_html_section, retrieve
from qualkam.analysis.matrix import NONE, build_matrix
from qualkam.analysis.triangulation import triangulation_table
from qualkam.coding.codebook import Comparison
from qualkam.errors import CodebookError, QualkamError
from qualkam.render.plot import heatmap
from qualkam.store.analysis import phase_ids, source_types_and_phases
from qualkam.store.audit import now
from qualkam.store.codings import coder_decisions, known_layer
from qualkam.store.layers import Layer
from qualkam.store.project import Project

esc = html.escape

SECTIONS = [
    ("summary", "Project summary"),
    ("phase-code", "Phase x code"),
    ("type-code", "Source type x code"),
    ("balance", "Balance by phase"),  # one section per attribute the codebook compares, none without
    ("triangulation", "Triangulation"),
    ("reliability", "Reliability between coders"),
    ("excerpts", "Excerpts by code"),
]

# Colours of an attribute's values, in codebook order: a cool blue, a warm orange, then others.
PALETTE = ["#3b6ea8", "#e07b39", "#5b9a68", "#8e6bb0", "#c4a535", "#6f7b8a"]

REPORT_CSS = """
main { max-width: 80rem; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr)); gap: 0 2rem; }
nav.toc { background: #f4f6f9; border-radius: 6px; padding: .6rem 1rem; margin: 0 0 2rem; font-size: .95rem; }
nav.toc ol { margin: .2rem 0; padding-left: 1.3rem; columns: 2; }
section.part { margin: 0 0 3rem; }
h2 { font-size: 1.35rem; border-bottom: 2px solid #e3e7ee; padding-bottom: .25rem; margin: 2.2rem 0 .9rem; }
.note { color: #5a6372; font-size: .9rem; margin: .3rem 0 .9rem; }
.stats { display: flex; flex-wrap: wrap; gap: .8rem; margin: 0 0 1.2rem; padding: 0; list-style: none; }
.stats li { background: #f4f6f9; border-radius: 6px; padding: .5rem .9rem; min-width: 7.5rem; }
.stats b { display: block; font-size: 1.4rem; }
.stats span { color: #5a6372; font-size: .85rem; }
table.data { border-collapse: collapse; font-size: .88rem; margin: .4rem 0 1.2rem; }
table.data th, table.data td { border-bottom: 1px solid #e3e7ee; padding: .3rem .6rem; text-align: left;
  vertical-align: top; }
table.data thead th { background: #f4f6f9; border-bottom: 2px solid #d5dbe4; }
table.data td.num, table.data th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.data tbody tr:nth-child(even) { background: #fafbfc; }
table.data td.zero { color: #b5bcc7; }
table.data tr.total td { font-weight: 600; border-top: 2px solid #d5dbe4; }
table.data .flag { color: #a24a00; min-width: 9rem; }
table.triangulation { width: 100%; }
table.triangulation td:nth-child(2) { min-width: 9rem; }
.figure { overflow-x: auto; margin: .4rem 0 1.2rem; }
.figure svg { max-width: 100%; height: auto; }
.bars { margin: .6rem 0 1.2rem; }
.bar-row { display: grid; grid-template-columns: 13rem 1fr 4rem; align-items: center; gap: .6rem; margin: .35rem 0; }
.bar-row .label { font-size: .9rem; }
.bar { display: flex; height: 1.5rem; background: #eef1f5; border-radius: 3px; overflow: hidden; }
.bar span { display: block; height: 100%; color: #fff; font-size: .75rem; line-height: 1.5rem; text-align: center;
  overflow: hidden; white-space: nowrap; }
.bar-row .n { font-size: .85rem; color: #5a6372; text-align: right; }
.legend { font-size: .85rem; margin: .3rem 0; }
.legend i { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin: 0 .3rem 0 .9rem;
  vertical-align: -1px; }
footer.meta { color: #8a93a1; font-size: .8rem; margin-top: 3rem; }
"""


# -- small HTML builders --------------------------------------------------------------------
def _cell(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or pd.isna(value):
        return f"<td>{esc('' if value is None or (isinstance(value, float) and pd.isna(value)) else str(value))}</td>"
    text = str(int(value)) if float(value).is_integer() else f"{value:.2f}"
    return f'<td class="num{" zero" if value == 0 else ""}">{text}</td>'


def table_html(frame: pd.DataFrame, index: bool = True, total: bool = False, caption: str = "") -> str:
    """A DataFrame as an escaped HTML table; numbers right-aligned, zeros greyed, optional totals row."""
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    head = ([f"<th>{esc(str(frame.index.name or ''))}</th>"] if index else []) + [
        f'<th class="{"num" if n else ""}">{esc(str(c))}</th>' for c, n in zip(frame.columns, numeric)
    ]
    rows = []
    for name, row in frame.iterrows():
        cells = ([f"<th>{esc(str(name))}</th>"] if index else []) + [_cell(v) for v in row]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    if total:
        sums = [_cell(frame[c].sum()) if n else "<td></td>" for c, n in zip(frame.columns, numeric)]
        rows.append(f'<tr class="total">{"<td>total</td>" if index else ""}{"".join(sums)}</tr>')
    cap = f'<caption class="note">{esc(caption)}</caption>' if caption else ""
    return f'<table class="data">{cap}<thead><tr>{"".join(head)}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def inline_svg(data: bytes, prefix: str) -> str:
    """Matplotlib's SVG made fit to sit inside HTML: no XML prolog, DOCTYPE, metadata or
    namespace URLs (the HTML parser knows SVG), and ids prefixed so two figures never clash."""
    svg = data.decode("utf-8")
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', svg)
    return svg.strip().replace("<svg ", f'<svg role="img" aria-label="{esc(prefix)}" ', 1)


# -- sections -------------------------------------------------------------------------------
def _phase_order(project: Project) -> list[str]:
    return phase_ids(project)


def summary(project: Project) -> dict[str, Any]:
    """The numbers of the summary: counts, sources by type and phase, coders and their decisions."""
    counts = project.counts()
    sources = source_types_and_phases(project, NONE)
    if len(sources):
        by = pd.crosstab(sources["type"], sources["phase"])
        phases = [p for p in _phase_order(project) if p in by.columns]
        rest = sorted(c for c in by.columns if c not in phases and c != NONE) + ([NONE] if NONE in by.columns else [])
        by = by[phases + rest]
        by["all phases"] = by.sum(axis=1)
    else:
        by = pd.DataFrame()
    by.index.name, by.columns.name = "source type", None
    coders = coder_decisions(project)
    book = project.codebook_row()  # the project's own codebook, not the last one loaded
    return {
        "counts": counts,
        "sources_by": by,
        "coders": coders,
        "codebook": f"{book['name']} {book['version']}" if book else None,
    }


def _summary_html(info: dict[str, Any]) -> str:
    c = info["counts"]
    stats = [
        (c["sources"], "sources"),
        (c["segments"], "segments"),
        (c["suggestions"], "suggestions"),
        (c["human_codings"], "human codings"),
        (len(info["coders"]), "coders"),
    ]
    parts = ['<ul class="stats">'] + [f"<li><b>{n}</b><span>{esc(label)}</span></li>" for n, label in stats] + ["</ul>"]
    if info["codebook"]:
        parts.append(f'<p class="note">Codebook: {esc(info["codebook"])}.</p>')
    if len(info["sources_by"]):
        parts.append("<h3>Sources by type and phase</h3>")
        parts.append(table_html(info["sources_by"], total=True))
    parts.append("<h3>Coders</h3>")
    if len(info["coders"]):
        parts.append(table_html(info["coders"]))
    else:
        parts.append('<p class="note">No person has coded yet: everything below is the rules\' suggestions.</p>')
    return "\n".join(parts)


def _heatmap_html(project: Project, rows: str, layer: str, prefix: str) -> str:
    matrix = build_matrix(project, rows=rows, cols="code", layer=layer)
    # Codes down the side: 40 code ids read across, phases or source types fit as columns.
    figure = heatmap(matrix.T, title=f"coded segments · code x {rows} · from {layer}", fmt="svg")
    return f'<div class="figure">{inline_svg(figure, prefix)}</div>'


def comparisons(project: Project) -> tuple[list[Comparison], str | None]:
    """The code attributes the project's codebook declares under ``compare`` (and a note when
    its stored codebook cannot be read)."""
    try:
        book = project.codebook()
    except CodebookError as exc:
        return [], exc.problems[0]
    return (book.compare if book is not None else []), None


def _balance_html(project: Project, layer: str, comparison: Comparison) -> str:
    """Coded segments per value of one code attribute, as shares of each phase's segments
    coded with a value of it: bars and the table they are drawn from."""
    key = comparison.attribute
    try:
        matrix = build_matrix(project, rows="phase", cols=f"attr:{key}", layer=layer)
    except QualkamError as exc:
        return f'<p class="note">{esc(str(exc))}</p>'
    values = list(matrix.columns)
    colors = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(values)}
    note = comparison.description or (
        f"Coded segments per value of the code attribute “{key}”, as a share of each "
        f"phase's segments coded with a “{key}” value."
    )
    parts = [
        f'<p class="note">{esc(note)}</p>',
        '<div class="legend">'
        + "".join(f'<i style="background:{colors[v]}"></i>{esc(v.replace("_", "-"))}' for v in values)
        + "</div>",
        '<div class="bars">',
    ]
    for phase, row in matrix.iterrows():
        total = int(row.sum())
        spans = []
        for value in values:
            share = row[value] / total if total else 0
            if share:
                spans.append(
                    f'<span style="width:{share * 100:.1f}%;background:{colors[value]}" '
                    f'title="{esc(value)}: {int(row[value])}">{share * 100:.0f}%</span>'
                )
        parts.append(
            f'<div class="bar-row"><span class="label">{esc(str(phase))}</span>'
            f'<div class="bar">{"".join(spans)}</div><span class="n">n = {total}</span></div>'
        )
    parts.append("</div>")
    shares = matrix.div(matrix.sum(axis=1).where(matrix.sum(axis=1) != 0), axis=0).fillna(0).round(2)
    table = matrix.copy()
    for value in values:
        table[f"{value} share"] = shares[value]
    parts.append(table_html(table, total=False))
    return "\n".join(parts)


def _triangulation_html(project: Project, layer: str) -> str:
    table = triangulation_table(project, layer=layer)
    if table.empty:
        return '<p class="note">Nothing is coded in this layer yet.</p>'
    rows = []
    numeric = ("segments", "sources", "speakers")
    head = "".join(
        f'<th class="{"num" if c in numeric else ""}">{esc(c.replace("_", " "))}</th>' for c in table.columns
    )
    for record in table.to_dict("records"):
        cells = []
        for column, value in record.items():
            if column in numeric:
                cells.append(_cell(value))
            elif column == "flags":
                cells.append(f'<td class="flag">{esc(str(value or ""))}</td>')
            elif column == "code":
                cells.append(
                    f'<td><a href="#code-{esc(re.sub(r"[^A-Za-z0-9_-]", "-", str(value)))}">{esc(str(value))}</a></td>'
                )
            else:
                cells.append(f"<td>{esc(str(value or ''))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    note = (
        '<p class="note">Per code: the independent sources, speakers, source types, phases and roles that '
        "support it. Flags name thin support (one source type, one speaker, one source).</p>"
    )
    return (
        f'{note}<table class="data triangulation"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _reliability_html(project: Project, replicates: int = 1000, seed: int = 0) -> str:
    """Agreement between the coders (issue 4): per code with 95% intervals, thresholds and
    disagreement counts, and the overall set-based alpha; a note when fewer than two coders."""
    from qualkam.agreement.reliability import reliability
    from qualkam.agreement.units import project_coders

    coders = project_coders(project)
    if len(coders) < 2:
        return (
            '<p class="note">Reliability needs two coders or more who coded the same sources '
            f"(this project has: {esc(', '.join(coders) or 'none')}). See docs/reliability.md.</p>"
        )
    try:
        report = reliability(project, replicates=replicates, seed=seed)
    except QualkamError as exc:
        return f'<p class="note">{esc(str(exc))}</p>'
    kappa = "cohen_kappa" if len(report.coders) == 2 else "fleiss_kappa"
    frame = report.per_code
    records = report.records()  # the values of the JSON, None where missing (issue 11)

    def column(key: str, places: int | None = 3) -> list[Any]:
        return [None if r.get(key) is None else round(r[key], places) if places else r[key] for r in records]

    def interval(r: dict[str, Any]) -> str:
        low, high = r.get("alpha_low"), r.get("alpha_high")
        return f"{low:.3f} – {high:.3f}" if low is not None and high is not None else ""

    shown = pd.DataFrame(
        {
            "code": column("code", None),
            "units": column("n_pairable", None),
            "differ": column("n_disagree", None),
            "prevalence": column("prevalence"),
            "% agreement": column("percent_agreement"),
            ("Cohen's κ" if kappa == "cohen_kappa" else "Fleiss' κ"): column(kappa),
            "κ band": column("kappa_interpretation", None),
            "Gwet's AC1": column("gwet_ac1"),
            "Krippendorff's α": column("krippendorff_alpha"),
            "α 95% interval": [interval(r) for r in records],
            "P(α < .667)": column("p_alpha_below_minimum") if "p_alpha_below_minimum" in frame else "",
            "α verdict": column("alpha_interpretation", None),
            "κ unstable?": ["rare code: read AC1, α" if r["paradox_warning"] is not None else "" for r in records],
        },
        dtype=object,
    )
    overall = report.overall
    note = (
        f'<p class="note">Coders {esc(", ".join(report.coders))}; unit: segment; {overall["n_units"]} units, '
        f"{overall['n_codes']} codes. Overall Krippendorff's α over the set of codes per unit (MASI): "
        f"<strong>{overall['krippendorff_alpha_sets']:.3f}</strong> ({esc(overall['interpretation'] or '')}). "
        "Thresholds: α ≥ .800 reliable, ≥ .667 tentative conclusions only (Krippendorff 2004); κ bands after "
        f"Landis &amp; Koch (1977); intervals from {replicates} bootstrap replicates (Hayes &amp; Krippendorff "
        "2007), seed 0. “κ unstable?” marks codes so rare (or so common) that kappa is unstable, the kappa paradox: read "
        "AC1 and α there. "
        f"{int(frame['n_disagree'].sum())} unit-code disagreements in all; "
        "<code>qualkam disagreements</code> lists them.</p>"
    )
    return note + table_html(shown, index=False)


def _excerpts_html(project: Project, layer: str) -> str:
    frame = retrieve(project, layer=layer)
    if frame.empty:
        return '<p class="note">No coded excerpts in this layer.</p>'
    return (
        f'<p class="note">{len(frame)} excerpts under {frame["code"].nunique()} codes; evidence words are '
        "marked. The same list as <code>qualkam excerpts --format html</code>.</p>"
        + excerpts_html_section(frame, heading_level=3)
    )


def build_report(project: Project, layer: str | Layer = "auto", title: str = "qualkam report") -> str:
    """The whole report as one HTML string (see the module docstring for what it holds)."""
    layer = str(known_layer(project, layer))
    info = summary(project)
    bodies = {
        "summary": _summary_html(info),
        "phase-code": _heatmap_html(project, "phase", layer, "phase-code"),
        "type-code": _heatmap_html(project, "source_type", layer, "type-code"),
        "triangulation": _triangulation_html(project, layer),
        "reliability": _reliability_html(project),
        "excerpts": _excerpts_html(project, layer),
    }
    declared, unread = comparisons(project)
    sections = []
    for key, name in SECTIONS:
        if key != "balance":
            sections.append((key, name))
            continue
        for comparison in declared:  # the codebook's `compare`: a balance section each
            anchor = f"balance-{re.sub(r'[^A-Za-z0-9_-]', '-', comparison.attribute)}"
            anchor += f"-{len(sections)}" if anchor in bodies else ""  # "a b" and "a-b" keep their own
            sections.append((anchor, comparison.title))
            bodies[anchor] = _balance_html(project, layer, comparison)
        if unread:
            sections.append(("balance", name))
            bodies["balance"] = f'<p class="note">{esc(unread)}</p>'
    toc = "".join(f'<li><a href="#{key}">{esc(name)}</a></li>' for key, name in sections)
    rendered = {
        key: f'<section class="part" id="{key}"><h2>{esc(name)}</h2>\n{bodies[key]}\n</section>'
        for key, name in sections
    }
    # The two heatmaps side by side: their code rows are the same, so a code reads across both.
    rendered["phase-code"] = f'<div class="pair">{rendered["phase-code"]}\n{rendered.pop("type-code")}</div>'
    body = "\n".join(rendered.values())
    subtitle = f"{project.path.name} · codings from {layer}" + (f" · {info['codebook']}" if info["codebook"] else "")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)} · {esc(project.path.name)}</title>",
            f"<style>{PAGE_CSS}{REPORT_CSS}{EXCERPTS_CSS}</style></head>",
            "<body><main>",
            f"<h1>{esc(title)}</h1>",
            f'<p class="subtitle">{esc(subtitle)}</p>',
            f'<nav class="toc"><ol>{toc}</ol></nav>',
            body,
            f'<footer class="meta">Written by qualkam at {esc(now())} from {esc(str(project.path))}. '
            "Self-contained: no scripts, no external files.</footer>",
            "</main></body></html>",
            "",
        ]
    )
