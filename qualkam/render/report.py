"""The project report: one self-contained HTML file to read, archive or send to a co-author.

Everything is inside the file (inline CSS, heatmaps as inline SVG, no scripts, no fonts or
images from elsewhere), so it opens offline, years later, exactly as written. Sections: the
project summary, the phase x code and source type x code heatmaps, a balance by phase for
each code attribute the codebook declares under ``compare`` (KAM's ``pole``: formal versus
post-bureaucratic), the triangulation table, saturation, negative cases, the framework
matrices' summaries (``qualkam.render.report_framework``), reliability, and the excerpts by code.
"""

from __future__ import annotations

import math
import re
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from qualkam.analysis.cases import cases_frame
from qualkam.analysis.excerpts import merge_codings, retrieve
from qualkam.analysis.matrix import NONE, build_matrix, codings_frame
from qualkam.analysis.triangulation import triangulation_table
from qualkam.coding.codebook import Comparison
from qualkam.coding.history import versions_in_use
from qualkam.errors import CodebookError, QualkamError
from qualkam.render.html import Cell, Table, anchor, excerpt_groups, render_page, table, trusted, value_cell
from qualkam.render.number import number
from qualkam.render.report_framework import framework_section
from qualkam.store.analysis import phase_ids, source_types_and_phases
from qualkam.store.audit import now
from qualkam.store.codings import coder_decisions, excerpt_counts, known_layer
from qualkam.store.layers import Layer
from qualkam.store.project import Project

SECTIONS = [
    ("summary", "Project summary"),
    ("phase-code", "Phase x code"),
    ("type-code", "Source type x code"),
    ("balance", "Balance by phase"),  # one section per attribute the codebook compares, none without
    ("triangulation", "Triangulation"),
    ("saturation", "Saturation"),
    ("negative", "Negative cases"),
    ("framework", "Framework matrices"),
    ("reliability", "Reliability between coders"),
    ("machine", "The machine against each person"),  # only with a trained model's figures
    ("excerpts", "Excerpts by code"),
]

# Colours of an attribute's values, in codebook order: a cool blue, a warm orange, then others.
PALETTE = ["#3b6ea8", "#e07b39", "#5b9a68", "#8e6bb0", "#c4a535", "#6f7b8a"]


def inline_svg(data: bytes, prefix: str) -> str:
    """Matplotlib's SVG made fit to sit inside HTML: no XML prolog, DOCTYPE, metadata or
    namespace URLs (the HTML parser knows SVG), and ids prefixed so two figures never clash.
    ``prefix`` is an id of qualkam's own (letters, digits, ``-`` and ``_``)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", prefix):
        raise ValueError(f"not an id: {prefix!r}")
    svg = data.decode("utf-8")
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', svg)
    return svg.strip().replace("<svg ", f'<svg role="img" aria-label="{prefix}" ', 1)


# matplotlib's "Blues" (ColorBrewer's nine blues, between which it interpolates).
BLUES = ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]
CELL_PX, FONT_PX, CHAR_PX = 28, 11, 6.6  # a cell holds a 4-digit count; label room per character


def blue(share: float) -> str:
    """The colour of ``share`` (0 to 1) on the Blues scale."""
    position = min(max(share, 0.0), 1.0) * (len(BLUES) - 1)
    low = min(int(position), len(BLUES) - 2)
    t = position - low
    a, b = (tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in BLUES[low : low + 2])
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def svg_heatmap(matrix: pd.DataFrame, title: str, label: str) -> str:
    """``matrix`` (rows x columns of counts) as an inline SVG heatmap: a cell per value with its
    count, the row and column names, a square-root colour scale (one big cell must not wash
    out the rest) and its key. Written directly, not by matplotlib: two heatmaps of a long
    codebook were the slowest part of a report, and the page needs nothing more. Every name is
    escaped (they come from the data)."""
    rows, cols = [str(r) for r in matrix.index], [str(c) for c in matrix.columns]
    values = matrix.to_numpy(dtype=float) if matrix.size else np.zeros((len(rows), len(cols)))
    top = max(values.max(initial=0.0), 1.0)
    left = 12 + CHAR_PX * max((len(r) for r in rows), default=4)
    head = 30 + CHAR_PX * 0.8 * max((len(c) for c in cols), default=4)  # column names at 50 degrees
    width = left + CELL_PX * max(len(cols), 1) + 120
    height = head + CELL_PX * max(len(rows), 1) + 40
    parts = [
        f'<svg role="img" aria-label="{escape(label)}" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="{FONT_PX}">',
        f'<text x="4" y="14" font-size="13">{escape(title)}</text>',
    ]
    if not rows or not cols:
        parts.append(f'<text x="{left}" y="{head}" fill="#666">nothing coded in this layer</text></svg>')
        return "".join(parts)
    for j, col in enumerate(cols):
        x = left + CELL_PX * (j + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="{head - 6:.1f}" transform="rotate(-50 {x:.1f} {head - 6:.1f})">{escape(col)}</text>'
        )
    for i, row in enumerate(rows):
        y = head + CELL_PX * i
        parts.append(f'<text x="{left - 6:.1f}" y="{y + CELL_PX / 2 + 4:.1f}" text-anchor="end">{escape(row)}</text>')
        for j in range(len(cols)):
            value = values[i, j]
            share = math.sqrt(value / top) if value > 0 else 0.0
            x = left + CELL_PX * j
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{CELL_PX - 1}" height="{CELL_PX - 1}" fill="{blue(share)}">'
                f"<title>{escape(row)} · {escape(cols[j])}: {number(value, places=3, whole=True)}</title></rect>"
            )
            if value:
                ink = "#ffffff" if share > 0.6 else "#08306b"
                parts.append(
                    f'<text x="{x + CELL_PX / 2 - 0.5:.1f}" y="{y + CELL_PX / 2 + 4:.1f}" text-anchor="middle" '
                    f'fill="{ink}">{number(value, places=3, whole=True)}</text>'
                )
    key_x, key_y = left + CELL_PX * len(cols) + 24, head
    for k in range(5):  # the key: 0 to the largest count, on the same square-root scale
        value = top * (k / 4) ** 2
        parts.append(
            f'<rect x="{key_x}" y="{key_y + 18 * (4 - k)}" width="16" height="17" fill="{blue(k / 4)}"/>'
            f'<text x="{key_x + 22}" y="{key_y + 18 * (4 - k) + 13}">{number(round(value), places=0)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


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
        "codebook_versions": versions_in_use(project),
        "cases": cases_frame(project),
    }


def _cases_table(cases: pd.DataFrame) -> Table | None:
    """The participants as cases (``qualkam cases list``), when a cases file gave them attributes
    of their own: matrices can then be read by those (``--rows case:site``)."""
    if cases.empty or cases["origin"].isna().all():
        return None
    shown = cases.drop(columns=["source_ids", "origin"]).set_index("case")
    return table(shown)


def _summary_view(info: dict[str, Any]) -> dict[str, Any]:
    c = info["counts"]
    stats = [
        (c["sources"], "sources"),
        (c["segments"], "segments"),
        (c["suggestions"], "suggestions"),
        (c["human_codings"], "human codings"),
        (len(info["coders"]), "coders"),
    ]
    return {
        "stats": stats,
        "codebook": info["codebook"],
        "codebook_versions": info["codebook_versions"],
        "cases": _cases_table(info["cases"]),
        "sources_by": table(info["sources_by"], total=True) if len(info["sources_by"]) else None,
        "coders": table(info["coders"]) if len(info["coders"]) else None,
    }


# A long codebook is shown in part, and the page says what is left out and where it is: the
# heatmaps draw the codes with the most coded segments (matplotlib's time and the SVG grow with
# every cell), the excerpts keep a budget shared fairly between the codes. Ordinary codebooks
# and projects fit whole.
HEATMAP_CODES = 130  # drawn whole up to this many coded codes: the built-in KAM codebook (127 codes)
HEATMAP_DRAWN = 40  # past it, the 40 most coded: a heatmap that reads at a glance (130 took seconds each)
EXCERPT_BUDGET = 3000
TABLE_ROWS = 130  # a longer table of codes (reliability) is collapsed: the page opens on the overview


def heatmap_codes(
    matrix: pd.DataFrame, limit: int = HEATMAP_CODES, drawn: int = HEATMAP_DRAWN
) -> tuple[list[str] | None, int]:
    """The codes both heatmaps draw (None: every one) and how many codes are coded in all:
    past ``limit``, the ``drawn`` codes with the most coded segments (in ``matrix``, rows x
    codes), in codebook order."""
    totals = matrix.sum(axis=0)
    if len(totals) <= limit:
        return None, len(totals)
    order = {code: i for i, code in enumerate(matrix.columns)}
    top = totals.sort_values(ascending=False, kind="stable").index[: min(drawn, limit)]
    return sorted(top, key=order.__getitem__), len(totals)


def _heatmap_view(
    matrix: pd.DataFrame, rows: str, layer: str, prefix: str, codes: list[str] | None = None, coded: int = 0
) -> dict[str, Any]:
    shown = matrix if codes is None else matrix[[c for c in codes if c in matrix.columns]]
    # Codes down the side: 40 code ids read across, phases or source types fit as columns.
    figure = svg_heatmap(shown.T, title=f"coded segments · code x {rows} · from {layer}", label=prefix)
    view: dict[str, Any] = {"svg": trusted(figure), "note": None}
    if codes is not None:
        flag = rows.replace("_", "-")
        view["note"] = (
            f"The {len(codes)} codes with the most coded segments, of the {coded} coded in this layer. "
            "Every code is in the table below (click to open) and in"
        )
        view["command"] = f"qualkam matrix --rows {flag} --cols code --from {layer}"
        whole = matrix.T
        whole.index.name = "code"
        view["table"] = table(whole, total=True)
        view["count"] = len(whole)
    return view


def comparisons(project: Project) -> tuple[list[Comparison], str | None]:
    """The code attributes the project's codebook declares under ``compare`` (and a note when
    its stored codebook cannot be read)."""
    try:
        book = project.codebook()
    except CodebookError as exc:
        return [], exc.problems[0]
    return (book.compare if book is not None else []), None


def _balance_view(
    project: Project, layer: str, comparison: Comparison, codings: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Coded segments per value of one code attribute, as shares of each phase's segments
    coded with a value of it: bars and the table they are drawn from."""
    key = comparison.attribute
    try:
        matrix = build_matrix(project, rows="phase", cols=f"attr:{key}", layer=layer, codings=codings)
    except QualkamError as exc:
        return {"problem": str(exc)}
    values = list(matrix.columns)
    colors = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(values)}
    note = comparison.description or (
        f"Coded segments per value of the code attribute “{key}”, as a share of each "
        f"phase's segments coded with a “{key}” value."
    )
    bars = []
    for phase, row in matrix.iterrows():
        total = int(row.sum())
        spans = []
        for value in values:
            share = row[value] / total if total else 0
            if share:
                spans.append(
                    {
                        "width": number(share * 100, places=1),
                        "color": colors[value],
                        "title": f"{value}: {int(row[value])}",
                        "percent": number(share * 100, places=0),
                    }
                )
        bars.append({"label": str(phase), "total": total, "spans": spans})
    shares = matrix.div(matrix.sum(axis=1).where(matrix.sum(axis=1) != 0), axis=0).fillna(0).round(2)
    frame = matrix.copy()
    for value in values:
        frame[f"{value} share"] = shares[value]
    return {
        "problem": None,
        "note": note,
        "legend": [(colors[v], v.replace("_", "-")) for v in values],
        "bars": bars,
        "table": table(frame, total=False),
    }


def _triangulation_view(project: Project, layer: str, codings: pd.DataFrame | None = None) -> dict[str, Any]:
    frame = triangulation_table(project, layer=layer, codings=codings)
    if frame.empty:
        return {"table": None}
    numeric = ("segments", "sources", "speakers")
    head = [Cell(c.replace("_", " "), "num" if c in numeric else "", head=True) for c in frame.columns]
    rows = []
    for record in frame.to_dict("records"):
        cells = []
        for column, value in record.items():
            if column in numeric:
                cells.append(value_cell(value))
            elif column == "flags":
                cells.append(Cell(str(value or ""), "flag"))
            elif column == "code":
                cells.append(Cell(str(value), href="#" + anchor(value)))
            else:
                cells.append(Cell(str(value or "")))
        rows.append(cells)
    return {"table": Table(head, rows, classes="data triangulation")}


SATURATION_ROWS = 40  # more sources than this: the tables are collapsed; the curve and the verdict say it


def _saturation_view(project: Project, layer: str, codings: pd.DataFrame | None = None) -> dict[str, Any]:
    """Saturation with the method's usual parameters (issue 16): the curve as SVG, the verdict,
    the runs, and the table per source collapsed; the command says how to vary them."""
    from qualkam.analysis.saturation import saturation
    from qualkam.render.saturation import svg_saturation

    result = saturation(project, layer=layer, codings=codings)
    runs = result.runs.rename(columns={"percent_new": "% new", "first_source": "from", "last_source": "to"})
    runs = runs.assign(within=runs["within"].map({True: "≤ threshold", False: ""}))
    sources = result.table.rename(
        columns={"order_value": result.order, "cumulative": "so far", "new_codes": "new codes"}
    )
    sources = sources.assign(in_base=sources["in_base"].map({True: "base", False: ""})).set_index("position")
    return {
        "svg": trusted(svg_saturation(result, label="saturation")),
        "verdict": result.verdict(),
        "notes": result.notes[1:] if result.point is None else result.notes,
        "runs": table(runs[["run", "first", "last", "from", "to", "new", "% new", "within"]], index=False)
        if len(runs)
        else None,
        "sources": table(sources),
        "count": result.sources,
        "long": result.sources > SATURATION_ROWS,
        "command": f"qualkam saturation --from {layer} --order date --base 4 --run 2 --threshold 5",
    }


NEGATIVE_SHARE = 0.75  # a striking absence: the code is in at least 3 of 4 comparable sources
NEGATIVE_ROWS = 15  # per compared attribute: a short list; the command gives them all


def _negative_view(project: Project, layer: str, codings: pd.DataFrame | None = None) -> dict[str, Any]:
    """Per compared attribute (phase, source type), the sources where a code is missing although
    most comparable sources (``NEGATIVE_SHARE``, of three or more) have it: a short list of the
    most striking, for codes without children (a parent repeats its children's absences)."""
    from qualkam.analysis.negative import negative_cases
    from qualkam.store.reads import code_tree

    tree = code_tree(project)
    parents = {node.parent for node in tree.values() if node.parent}
    leaves = [c for c in tree if c not in parents]
    parts = []
    for compare, name in (("phase", "phase"), ("source_type", "source type")):
        found = negative_cases(project, leaves, compare=compare, layer=layer, kinds=["source"], codings=codings)
        striking = found[(found["share_with_code"] >= NEGATIVE_SHARE) & (found["comparable"] >= 3)]
        striking = striking.sort_values(["share_with_code", "comparable"], ascending=False, kind="stable")
        shown = striking.head(NEGATIVE_ROWS)
        frame = pd.DataFrame(
            {
                name: shown["value"],
                "source": shown["case"],
                "code": shown["code"],
                "comparable sources with it": [
                    f"{w} of {c}" for w, c in zip(shown["with_code"], shown["comparable"], strict=True)
                ],
                "their segments with it": shown["code_segments"],
            }
        )
        parts.append(
            {
                "name": name,
                "flag": compare,
                "table": table(frame, index=False) if len(frame) else None,
                "count": len(striking),
                "shown": NEGATIVE_ROWS,
                "all": len(found),
            }
        )
    return {
        "parts": parts,
        "share": number(NEGATIVE_SHARE * 100, places=0),
        "command": f"qualkam negative-cases CODE --from {layer} --compare phase",
    }


def _reliability_view(project: Project, replicates: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Agreement between the coders (issue 4): per code with 95% intervals, thresholds and
    disagreement counts, and the overall set-based alpha; a note when fewer than two coders."""
    from qualkam.agreement.reliability import reliability
    from qualkam.store.reads import code_tree
    from qualkam.store.reads import coders as people

    coders = people(project, consensus=False)
    if len(coders) < 2:
        return {
            "problem": "Reliability needs two coders or more who coded the same sources "
            f"(this project has: {', '.join(coders) or 'none'}). See docs/reliability.md."
        }
    try:
        report = reliability(project, replicates=replicates, seed=seed)
    except QualkamError as exc:
        return {"problem": str(exc)}
    kappa = "cohen_kappa" if len(report.coders) == 2 else "fleiss_kappa"
    frame = report.per_code
    records = report.records()  # the values of the JSON, None where missing (issue 11)

    def column(key: str, places: int | None = 3) -> list[Any]:
        return [None if r.get(key) is None else round(r[key], places) if places else r[key] for r in records]

    def interval(r: dict[str, Any]) -> str:
        low, high = r.get("alpha_low"), r.get("alpha_high")
        return f"{number(low)} – {number(high)}" if low is not None and high is not None else ""

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
    total = len(code_tree(project))
    return {
        "problem": None,
        "unlisted": total - overall["n_codes"],  # no coder accepted them: nothing to agree on
        "total": total,
        "long": len(shown) > TABLE_ROWS,
        "coders": ", ".join(report.coders),
        "units": overall["n_units"],
        "codes": overall["n_codes"],
        "alpha": number(overall["krippendorff_alpha_sets"], places=3),
        "interpretation": overall["interpretation"] or "",
        "replicates": replicates,
        "disagreements": int(frame["n_disagree"].sum()),
        "table": table(shown, index=False),
    }


def per_code_cap(counts: list[int], budget: int = EXCERPT_BUDGET) -> int | None:
    """The most excerpts each code shows so that all of them fit ``budget`` (None: no cap
    needed). Shared fairly: a code with few excerpts shows them all, and what it leaves goes
    to the others. Never below 1, so every coded code shows one. Linear after a sort."""
    if sum(counts) <= budget:
        return None
    ordered = sorted(counts)
    used = 0
    for i, n in enumerate(ordered):
        rest = len(ordered) - i  # codes with n excerpts or more, each would take the cap
        if used + n * rest > budget:
            return max(1, (budget - used) // rest)
        used += n
    return None  # unreachable: the sum exceeds the budget


def _excerpts_view(project: Project, layer: str) -> dict[str, Any]:
    budget = EXCERPT_BUDGET  # read at call time, so a test can make it small
    # Count the excerpts (spans x code) per code first, then read only the codings of those
    # shown: reading and merging every coding of a long codebook's project cost more than the rest.
    counts = excerpt_counts(project, known_layer(project, layer))
    if not counts:
        return {"groups": []}
    cap = per_code_cap(list(counts.values()), budget)
    shown = merge_codings(retrieve(project, layer=layer, by_coder=True, per_code=cap))
    groups = excerpt_groups(shown)
    for group in groups:
        group["total"] = counts[group["code"]]
    return {
        "count": sum(counts.values()),
        "codes": len(counts),
        "groups": groups,
        "cap": cap,
        "shown": len(shown),
        "command": f"qualkam excerpts --from {layer} --format html",
    }


def _machine_view(project: Project) -> dict[str, Any] | None:
    """The newest model as a named coder (issue 15): its held-out agreement with each person
    per code, kept apart from people's reliability; None without a trained model's figures."""
    from qualkam.coding.learn.machine import NEAR_CHANCE, newest_machine_agreement

    found = newest_machine_agreement(project)
    if found is None:
        return None
    model_id, layer, figures = found
    rows = [(person, code, row) for person, codes in figures.items() for code, row in codes.items()]
    shown = pd.DataFrame(
        {
            "person": [person for person, _, _ in rows],
            "code": [code for _, code, _ in rows],
            "person's segments": [row["person"] for _, _, row in rows],
            "machine's segments": [row["machine"] for _, _, row in rows],
            "Cohen's κ": [row["kappa"] for _, _, row in rows],
            "Krippendorff's α": [row["alpha"] for _, _, row in rows],
            "near chance?": ["near chance" if row["near_chance"] else "" for _, _, row in rows],
        },
        dtype=object,
    )
    near = sum(1 for _, _, row in rows if row["near_chance"])
    return {
        "model": model_id,
        "layer": layer,
        "near": near,
        "rows": len(rows),
        "threshold": NEAR_CHANCE,
        "long": len(shown) > TABLE_ROWS,
        "table": table(shown, index=False),
    }


def build_report(project: Project, layer: str | Layer = "auto", title: str = "qualkam report") -> str:
    """The whole report as one HTML string (see the module docstring for what it holds)."""
    layer = str(known_layer(project, layer))
    info = summary(project)
    codings = codings_frame(project, layer)  # read once for the matrices and the triangulation
    by_phase = build_matrix(project, rows="phase", cols="code", layer=layer, codings=codings)
    by_type = build_matrix(project, rows="source_type", cols="code", layer=layer, codings=codings)
    codes, coded = heatmap_codes(by_phase, HEATMAP_CODES, HEATMAP_DRAWN)
    views = {
        "summary": ("summary", _summary_view(info)),
        "phase-code": ("heatmap", _heatmap_view(by_phase, "phase", layer, "phase-code", codes, coded)),
        "type-code": ("heatmap", _heatmap_view(by_type, "source_type", layer, "type-code", codes, coded)),
        "triangulation": ("triangulation", _triangulation_view(project, layer, codings)),
        "saturation": ("saturation", _saturation_view(project, layer, codings)),
        "negative": ("negative", _negative_view(project, layer, codings)),
        "framework": ("framework", framework_section(project, layer)),
        "reliability": ("reliability", _reliability_view(project)),
        "machine": ("machine", _machine_view(project)),
        "excerpts": ("excerpts", _excerpts_view(project, layer)),
    }
    declared, unread = comparisons(project)
    sections: list[dict[str, Any]] = []
    for key, name in SECTIONS:
        if key != "balance":
            kind, view = views[key]
            if view is None:  # a section with nothing to show (the machine, without a model)
                continue
            sections.append({"id": key, "name": name, "kind": kind, "view": view})
            continue
        for comparison in declared:  # the codebook's `compare`: a balance section each
            section_id = f"balance-{re.sub(r'[^A-Za-z0-9_-]', '-', comparison.attribute)}"
            taken = {s["id"] for s in sections} | set(views)
            section_id += f"-{len(sections)}" if section_id in taken else ""  # "a b" and "a-b" keep their own
            view = _balance_view(project, layer, comparison, codings)
            sections.append({"id": section_id, "name": comparison.title, "kind": "balance", "view": view})
        if unread:
            sections.append({"id": "balance", "name": name, "kind": "note", "view": {"note": unread}})
    # The two heatmaps sit side by side (the template pairs them): their code rows are the same,
    # so a code reads across both.
    subtitle = f"{project.path.name} · codings from {layer}" + (f" · {info['codebook']}" if info["codebook"] else "")
    return render_page(
        "report.html",
        title=title,
        subtitle=subtitle,
        project_name=project.path.name,
        project_path=str(project.path),
        written=now(),
        sections=sections,
    )
