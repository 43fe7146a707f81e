"""Heatmaps of matrices, as PNG, SVG or PDF, for papers, slides and the HTML report.

Drawn on matplotlib's Agg canvas attached to each figure (never ``pyplot``), so it works
headless, in a thread, or in a notebook without changing the notebook's backend. The
figure grows with the matrix so 40 codes stay legible, and axes show code ids (labels
are too long to fit 40 of them).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pandas as pd

from qualkam.errors import QualkamError
from qualkam.render.files import write_bytes
from qualkam.render.number import number

FORMATS = ("png", "svg", "pdf")
_NAMES = ".png, .svg or .pdf"
CELL = 0.42  # inches per cell: room for a 3-digit count or "0.25" at 8pt
LABEL_FONT = 8
DPI = 120


def image_format(path: str | Path | None = None, fmt: str | None = None) -> str:
    """``png``, ``svg`` or ``pdf``, from ``fmt`` or the file's suffix; checked before any work is done."""
    suffix = Path(path).suffix.lower().lstrip(".") if path is not None else ""
    if fmt is not None:
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise QualkamError(f"cannot draw a heatmap as {fmt!r}; use {', '.join(FORMATS)}")
        if suffix and suffix != fmt:
            raise QualkamError(f"{path}: the suffix says .{suffix} but the format asked for is {fmt}; make them agree")
        return fmt
    if path is None:
        return "png"
    if suffix not in FORMATS:
        shown = f"'.{suffix}'" if suffix else "no suffix"
        raise QualkamError(f"{path}: cannot draw a heatmap as {shown}; name the file {_NAMES}")
    return suffix


def _cell_text(value: Any) -> str:
    if value == 0:
        return ""
    text = number(value, places=3, dash="", whole=True)
    if "." in text:  # shares and row proportions: up to 3 decimals, as stored, without the leading 0
        text = text.rstrip("0")
        return text[1:] if text.startswith("0.") else text
    return text


def _figure(matrix: pd.DataFrame, title: str) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here: matplotlib is slow to load
    from matplotlib.colors import PowerNorm
    from matplotlib.figure import Figure

    n_rows, n_cols = matrix.shape
    longest_row = max((len(str(v)) for v in matrix.index), default=1)
    longest_col = max((len(str(v)) for v in matrix.columns), default=1)
    # Room for the labels (about 0.075 in per character at 8pt), then one square per cell.
    left, bottom = 0.3 + 0.075 * longest_row, 0.3 + 0.075 * longest_col * math.sin(math.radians(60))
    width = left + max(n_cols, 1) * CELL + 1.4  # + colour bar
    height = bottom + max(n_rows, 1) * CELL + (0.6 if title else 0.3)
    fig = Figure(figsize=(max(width, 3.0), max(height, 2.0)), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes(
        (
            left / fig.get_figwidth(),
            bottom / fig.get_figheight(),
            n_cols * CELL / fig.get_figwidth() if n_cols else 0.5,
            n_rows * CELL / fig.get_figheight() if n_rows else 0.5,
        )
    )
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    if matrix.empty:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "nothing coded in this layer", ha="center", va="center", fontsize=9, color="0.4")
        return fig
    values = matrix.to_numpy(dtype=float)
    # A square-root scale: one big cell (a co-occurrence diagonal) must not wash out the rest.
    norm = PowerNorm(gamma=0.5, vmin=0, vmax=float(values.max()) or 1.0)
    image = ax.imshow(values, cmap="Blues", norm=norm, aspect="equal", interpolation="nearest")
    ax.set_xticks(
        range(n_cols),
        [str(c) for c in matrix.columns],
        rotation=60,
        ha="right",
        rotation_mode="anchor",
        fontsize=LABEL_FONT,
    )
    ax.set_yticks(range(n_rows), [str(r) for r in matrix.index], fontsize=LABEL_FONT)
    ax.set_xlabel(str(matrix.columns.name or ""), fontsize=9)
    ax.set_ylabel(str(matrix.index.name or ""), fontsize=9)
    ax.tick_params(length=0)
    # Thin white grid between cells so neighbouring counts read as separate.
    ax.set_xticks([x - 0.5 for x in range(1, n_cols)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, n_rows)], minor=True)
    ax.grid(which="minor", color="white", linewidth=0.8)
    ax.tick_params(which="minor", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for i in range(n_rows):
        for j in range(n_cols):
            text = _cell_text(matrix.iat[i, j])
            if text:
                dark = float(norm(values[i, j])) > 0.6
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7 if len(text) > 3 else 8,
                    color="white" if dark else "#08306b",
                )
    bar_left = (left + n_cols * CELL + 0.25) / fig.get_figwidth()
    bar_height = min(n_rows * CELL, 3.0) / fig.get_figheight()
    bar_bottom = (bottom + n_rows * CELL) / fig.get_figheight() - bar_height  # top-aligned with the cells
    bar = fig.add_axes((bar_left, bar_bottom, 0.18 / fig.get_figwidth(), bar_height))
    fig.colorbar(image, cax=bar).ax.tick_params(labelsize=7)
    return fig


# No dates in SVG or PDF, so the same matrix gives the same file and reruns don't churn.
_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": "qualkam"},
    "svg": {"Date": None},
    "pdf": {"Creator": "qualkam", "Producer": None, "CreationDate": None},
}


def heatmap(matrix: pd.DataFrame, path: str | Path | None = None, title: str = "", fmt: str | None = None) -> bytes:
    """Draw ``matrix`` as a heatmap and return the PNG, SVG or PDF bytes; write ``path`` too if given.

    The format comes from ``fmt`` or the suffix of ``path`` (PNG when neither says). SVG keeps
    its text as text, so labels stay searchable and sharp when embedded in HTML.
    """
    return figure_bytes(_figure(matrix, title), image_format(path, fmt), path)


def figure_bytes(fig: Any, kind: str, path: str | Path | None = None) -> bytes:
    """A figure's bytes in ``kind`` (png, svg, pdf), written to ``path`` too if given. A fixed
    salt and no date: the same figure gives the same file, so reruns don't churn."""
    from matplotlib import rc_context

    buffer = io.BytesIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "qualkam"}):
        fig.savefig(buffer, format=kind, bbox_inches="tight", pad_inches=0.15, metadata=_METADATA[kind])
    data = buffer.getvalue()
    if path is not None:
        write_bytes(data, path)
    return data
