"""The saturation curve (issue 16): new codes per source as bars, distinct codes so far as a
line, the base shaded and the saturation point marked.

Two drawings of one figure: ``saturation_image`` with matplotlib for a file (PNG, SVG or PDF,
as ``qualkam matrix --plot`` draws heatmaps), and ``svg_saturation``, written directly for the
HTML report (no matplotlib in a report, as for its heatmaps). Source ids are data: escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from qualkam.render.plot import DPI, figure_bytes, image_format

if TYPE_CHECKING:
    from qualkam.analysis.saturation import Saturation

BASE_FILL, NEW_FILL, LINE, MARK = "#c6dbef", "#6baed6", "#08306b", "#e07b39"


def _title(result: Saturation) -> str:
    if result.point is None:
        return f"saturation not reached · {result.parameters()} · from {result.layer}"
    return (
        f"saturation at {result.point} sources (+{result.run} confirming) · {result.parameters()} · from {result.layer}"
    )


def saturation_image(result: Saturation, path: str | Path | None = None, fmt: str | None = None) -> bytes:
    """Draw the curve and return the PNG, SVG or PDF bytes; write ``path`` too if given."""
    kind = image_format(path, fmt)
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here: matplotlib is slow to load
    from matplotlib.figure import Figure

    table = result.table
    n = len(table)
    fig = Figure(figsize=(max(5.0, min(0.32 * n + 2.0, 16.0)), 3.6), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.suptitle(_title(result), fontsize=9, x=0.01, ha="left")
    if n == 0:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no sources in scope", ha="center", va="center", fontsize=9, color="0.4")
    else:
        x = list(table["position"])
        colors = [BASE_FILL if b else NEW_FILL for b in table["in_base"]]
        ax.bar(x, list(table["new"]), color=colors, width=0.7, label="new codes in the source")
        ax.plot(x, list(table["cumulative"]), color=LINE, marker="o", markersize=3, label="distinct codes so far")
        ax.axvspan(0.5, min(result.base, n) + 0.5, color=BASE_FILL, alpha=0.35, lw=0, label=f"base ({result.base})")
        if result.point is not None and result.through is not None:
            ax.axvline(result.point + 0.5, color=MARK, lw=1.5, label=f"saturation ({result.point})")
            ax.axvspan(result.point + 0.5, result.through + 0.5, color=MARK, alpha=0.12, lw=0, label="confirming run")
        ax.set_xlim(0.5, n + 0.5)
        ax.set_ylim(0, max(int(table["cumulative"].max()), 1) * 1.08)
        step = max(1, n // 25)
        ax.set_xticks(x[::step])
        ax.tick_params(labelsize=7)
        ax.set_xlabel(f"sources, by {result.order}", fontsize=8)
        ax.set_ylabel("codes", fontsize=8)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return figure_bytes(fig, kind, path)


WIDTH_PX, HEIGHT_PX, LEFT, RIGHT, TOP, BOTTOM = 720, 260, 44, 16, 30, 40


def svg_saturation(result: Saturation, label: str = "saturation") -> str:
    """The curve as inline SVG for the report: a bar per source (new codes; the base's paler), the
    line of distinct codes so far, the saturation point and its confirming run marked, and a
    tooltip per source naming it and its new codes."""
    table = result.table
    n = len(table)
    parts = [
        f'<svg role="img" aria-label="{escape(label)}" width="{WIDTH_PX}" height="{HEIGHT_PX}" '
        f'viewBox="0 0 {WIDTH_PX} {HEIGHT_PX}" font-family="sans-serif" font-size="11">',
        f'<text x="4" y="14" font-size="12">{escape(_title(result))}</text>',
    ]
    if n == 0:
        parts.append(f'<text x="{LEFT}" y="{TOP + 20}" fill="#666">no sources in scope</text></svg>')
        return "".join(parts)
    plot_w, plot_h = WIDTH_PX - LEFT - RIGHT, HEIGHT_PX - TOP - BOTTOM
    top = max(int(table["cumulative"].max()), 1)
    step = plot_w / n

    def x_of(position: float) -> float:  # the left edge of a source's slot (1-based)
        return LEFT + (position - 1) * step

    def y_of(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    base = min(result.base, n)
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{base * step:.1f}" height="{plot_h}" fill="{BASE_FILL}" opacity="0.35"/>'
    )
    if result.point is not None and result.through is not None:
        x0 = x_of(result.point + 1)
        parts.append(
            f'<rect x="{x0:.1f}" y="{TOP}" width="{(result.through - result.point) * step:.1f}" height="{plot_h}" '
            f'fill="{MARK}" opacity="0.12"/>'
            f'<line x1="{x0:.1f}" y1="{TOP}" x2="{x0:.1f}" y2="{TOP + plot_h}" stroke="{MARK}" stroke-width="2"/>'
            f'<text x="{x0 + 3:.1f}" y="{TOP + 12}" fill="{MARK}">saturation: {result.point}</text>'
        )
    for k in range(5):  # the y axis: 0 to the most codes
        value = round(top * k / 4)
        y = y_of(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{value}</text>'
        )
    points = []
    every = max(1, n // 25)
    for row in table.itertuples(index=False):
        x = x_of(row.position)
        height = plot_h * row.new / top
        tip = f"{row.position}. {row.source} ({row.order_value}): {row.new} new, {row.cumulative} so far"
        if row.new_codes:
            tip += f": {row.new_codes}"
        parts.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{TOP + plot_h - height:.1f}" width="{step * 0.7:.1f}" '
            f'height="{height:.1f}" fill="{BASE_FILL if row.in_base else NEW_FILL}"><title>{escape(tip)}</title></rect>'
        )
        points.append(f"{x + step / 2:.1f},{y_of(row.cumulative):.1f}")
        if (row.position - 1) % every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle">{row.position}</text>'
            )
    parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{LINE}" stroke-width="1.5"/>')
    parts.extend(f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.5" fill="{LINE}"/>' for p in points)
    legend: list[tuple[str, str]] = [
        (BASE_FILL, f"new codes, base ({result.base})"),
        (NEW_FILL, "new codes"),
        (LINE, "distinct codes so far"),
    ]
    x = LEFT
    for color, text in legend:
        parts.append(
            f'<rect x="{x}" y="{HEIGHT_PX - 14}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="{HEIGHT_PX - 5}">{escape(text)}</text>'
        )
        x += 24 + int(len(text) * 6.2)
    parts.append(
        f'<text x="{LEFT + plot_w}" y="{HEIGHT_PX - 5}" text-anchor="end">sources, by {escape(result.order)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
