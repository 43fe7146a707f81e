"""HTML through Jinja2 templates (issue 12): the one way qualkam writes a page.

The templates and the stylesheet ship inside the package (``qualkam/render/templates``): one
base layout (``base.html``), one stylesheet (``qualkam.css``, inlined so a page stays a single
self-contained file) and one table macro (``macros.html``) for the report, the excerpts page
and the disagreements page. Autoescape is on, and text from the data (a code label, a source
title, a transcript) reaches a template only as a variable, never as template source: a
``<script>`` or a ``{{ ... }}`` in a transcript shows as text and is never run or evaluated.
Python builds plain views (tables of cells, excerpts cut into marked and unmarked pieces); the
templates only lay them out.
"""

from __future__ import annotations

import functools
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from qualkam.render.number import DASH, missing, number

if TYPE_CHECKING:
    import jinja2
    import pandas as pd

    from qualkam.analysis.disagreements import DisagreementReport

TEMPLATES = "templates"
STYLESHEET = "qualkam.css"


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment over the package's templates, with autoescape on."""
    import jinja2  # imported here: only commands that write HTML need it
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("qualkam.render", TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["stylesheet"] = Markup(
        resources.files("qualkam.render").joinpath(TEMPLATES).joinpath(STYLESHEET).read_text("utf-8")
    )
    return env


def render_page(template: str, **context: Any) -> str:
    """A page from one of the package's templates; ``context`` holds data, escaped on output."""
    return environment().get_template(template).render(**context)


def trusted(markup: str) -> Any:
    """Markup qualkam made itself (matplotlib's SVG), to be placed as it is."""
    from markupsafe import Markup

    return Markup(markup)


def anchor(code_id: str) -> str:
    """The id of a code's section: ``code-`` and the id with anything unusual made a dash."""
    return "code-" + re.sub(r"[^A-Za-z0-9_-]", "-", str(code_id))


# -- the one table --------------------------------------------------------------------------
@dataclass
class Cell:
    """One cell of a table: its text, its classes (``num``, ``zero``...), a link, and
    whether it heads a row (``th``)."""

    text: str
    classes: str = ""
    href: str | None = None
    head: bool = False


@dataclass
class Table:
    """What the ``table`` macro draws: a header row, body rows and an optional totals row."""

    head: list[Cell]
    rows: list[list[Cell]]
    total: list[Cell] = field(default_factory=list)
    caption: str = ""
    classes: str = "data"


def value_cell(value: Any, places: int = 2, dash: str = "", whole: bool = True) -> Cell:
    """A number right-aligned (and greyed when zero), anything else as text."""
    text = number(value, places=places, dash=dash, whole=whole)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or missing(value):
        return Cell(text)
    return Cell(text, "num zero" if value == 0 else "num")


def table(
    frame: pd.DataFrame,
    index: bool = True,
    total: bool = False,
    caption: str = "",
    places: int = 2,
    dash: str = "",
    whole: bool = True,
    classes: str = "data",
) -> Table:
    """A DataFrame as a ``Table``: the index (if shown) heads each row, numbers are formatted
    by ``number`` (``places``, ``dash``, ``whole``) and right-aligned, zeros greyed, and
    ``total`` adds a row of column sums."""
    import pandas as pd

    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    head = ([Cell(str(frame.index.name or ""), head=True)] if index else []) + [
        Cell(str(c), "num" if n else "", head=True) for c, n in zip(frame.columns, numeric, strict=True)
    ]
    rows = []
    for name, row in frame.iterrows():
        cells = [value_cell(v, places, dash, whole) for v in row]
        rows.append(([Cell(str(name), head=True)] if index else []) + cells)
    sums = []
    if total:
        columns = zip(frame.columns, numeric, strict=True)
        sums = [Cell("total")] if index else []
        sums += [value_cell(frame[c].sum(), places, dash, whole) if n else Cell("") for c, n in columns]
    return Table(head, rows, sums, caption, classes)


# -- excerpts -------------------------------------------------------------------------------
@dataclass
class Piece:
    """A stretch of an excerpt's text, ``marked`` when it is evidence."""

    text: str
    marked: bool = False


def pieces(text: str, spans: Sequence[tuple[int, int]]) -> list[Piece]:
    """``text`` cut at the (merged, ordered) ``spans``, which become marked pieces."""
    out, at = [], 0
    for a, b in spans:
        out += [Piece(text[at:a]), Piece(text[a:b], True)]
        at = b
    out.append(Piece(text[at:]))
    return [p for p in out if p.text]


_COLOR = re.compile(r"^#[0-9a-fA-F]{3,8}$")


def excerpt_groups(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The excerpts under each code, in codebook order, as the ``excerpts`` macro draws them."""
    from qualkam.analysis.excerpts import _groups, attribution, coding_note, mark_spans, span_in_context

    groups = []
    for head, rows in _groups(frame):
        color = head["color"] if head["color"] and _COLOR.match(head["color"]) else None
        excerpts = []
        for row in rows:
            text = row["text"].strip("\n")
            lead = len(row["text"]) - len(row["text"].lstrip("\n"))
            spans = mark_spans(text, int(row["start"]) + lead, row["evidence"])
            around = span_in_context(row)
            excerpts.append(
                {
                    "pieces": pieces(text, spans),
                    "context": pieces(*around) if around else [],
                    "attribution": " · ".join(attribution(row)),
                    "note": coding_note(row),
                }
            )
        groups.append(
            {
                "code": head["code"],
                "label": head["label"],
                "anchor": anchor(head["code"]),
                "definition": " ".join(head["definition"].split()) if head["definition"] else "",
                "color": color,
                "excerpts": excerpts,
            }
        )
    return groups


def excerpts_page(frame: pd.DataFrame, title: str = "Coded excerpts", subtitle: str = "") -> str:
    """The excerpts as one self-contained HTML file: inline CSS, no scripts, no external references."""
    return render_page("excerpts.html", title=title, subtitle=subtitle, groups=excerpt_groups(frame))


# -- disagreements --------------------------------------------------------------------------
def disagreements_page(report: DisagreementReport, title: str = "Disagreements between coders") -> str:
    """A disagreement audit as one self-contained HTML file: the differing units with each
    coder's codes, then the confusion, agreement, kappa and prevalence tables."""
    from qualkam.analysis.disagreements import (
        NO_CODE,
        PER_UNIT,
        coder_column,
        confusion_view,
        prevalence_view,
        summary,
    )

    units = []
    for row in report.units.to_dict("records"):
        where = f"{row['source']} · {report.unit} {row['unit']}" + (f" · {row['speaker']}" if row["speaker"] else "")
        given = [{"coder": coder, "codes": row[coder_column(coder)]} for coder in report.coders]
        units.append({"where": where, "text": row["text"].strip(), "given": given})

    def grid(
        frame: pd.DataFrame, index: bool = True
    ) -> Table:  # shares and coefficients to 3 places, a dash when missing
        return table(frame, index=index, places=3, dash=DASH, whole=False)

    return render_page(
        "disagreements.html",
        title=title,
        subtitle=summary(report),
        units=units,
        differ=report.differ,
        pairwise=len(report.coders) > 2,
        confusion=grid(confusion_view(report), index=False),
        agreement=grid(report.agreement),
        kappa=grid(report.kappa) if report.kappa is not None else None,
        prevalence=grid(prevalence_view(report)),
        no_code=NO_CODE,
        per_unit=PER_UNIT,
    )
