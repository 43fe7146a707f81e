"""Matrices for triangulation: any source or segment attribute x codes (or code groups).

A matrix is read from one *layer* of codings (``auto`` by default; what each layer holds:
``qualkam.store.layers``).

A cell counts distinct segments, sources or speakers, or gives a ``share`` of the row's
segments; ``normalize="row"`` turns any matrix into row proportions so rows of different
sizes (a long interview phase, a short meeting phase) can be compared. ``cooccurrence``
gives the code x code matrix: which codes are applied together.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import pandas as pd

from qualkam.choices import check_choice, unknown
from qualkam.errors import QualkamError
from qualkam.render.number import missing
from qualkam.sources.turns import generic_label
from qualkam.store.analysis import phase_ids
from qualkam.store.codings import known_layer, layer_codings, segments_with_sources
from qualkam.store.layers import Layer
from qualkam.store.names import source_attribute_keys
from qualkam.store.project import Project
from qualkam.store.reads import code_tree
from qualkam.store.segments import SegmentFilter

NONE = "(none)"
SEGMENT_FIELDS = {"speaker", "role", "speaker_unit", "unit"}
SOURCE_FIELDS = {"phase", "source_type", "source", "date", "title", "format"}
ROW_FIELDS = ("phase", "source_type", "role", "speaker", "unit", "source", "date", "title", "format", "code")
VALUES = ("segments", "share", "sources", "speakers")
NORMALIZE = ("none", "row")
DECIMALS = 3


def codings_frame(
    project: Project,
    layer: str | Layer = "auto",
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
    phases: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per coding in the layer, joined with its segment and source, attributes expanded;
    ``sources``, ``speakers``, ``phases`` keep only those."""
    parsed = known_layer(project, layer)
    frame = layer_codings(project, parsed, SegmentFilter(sources=sources, phases=phases, speakers=speakers))
    frame["unit"] = frame["speaker_unit"]
    return frame


def segments_frame(
    project: Project, sources: Sequence[str] = (), speakers: Sequence[str] = (), phases: Sequence[str] = ()
) -> pd.DataFrame:
    """Every segment of the project, coded or not, with its source's fields: the
    denominator of a share, since a row's uncoded segments are part of its evidence."""
    frame = segments_with_sources(project, SegmentFilter(sources=sources, phases=phases, speakers=speakers))
    frame["unit"] = frame["speaker_unit"]
    return frame


def code_table(project: Project) -> pd.DataFrame:
    """The project's codes (current ones first, then retired ones) in codebook order, with
    their attributes as a dict."""
    nodes = code_tree(project).values()
    return pd.DataFrame(
        {
            "id": [n.id for n in nodes],
            "parent": [n.parent for n in nodes],
            "label": [n.label for n in nodes],
            "attributes": [n.attributes for n in nodes],
            "position": [n.position for n in nodes],
        },
        columns=["id", "parent", "label", "attributes", "position"],
    )


def one_spelling(names: pd.Series) -> pd.Series:
    """One spelling per name, ignoring case: a speaker is ``Martin Greaves`` in one transcript
    and ``MARTIN GREAVES`` in another, one person and one row, as a speaker filter (which
    ignores case) counts them. The spelling kept is one not all in capitals, then the first."""
    present = sorted({n for n in names.dropna().unique() if isinstance(n, str) and n}, key=lambda n: (n.isupper(), n))
    chosen: dict[str, str] = {}
    for name in present:
        chosen.setdefault(name.casefold(), name)
    if len(chosen) == len(present):  # no name in two spellings
        return names
    mapped = names.map({name: chosen[name.casefold()] for name in present})
    return mapped.where(mapped.notna(), names)


def speaker_keys(frame: pd.DataFrame) -> pd.Series:
    """Who a speaker is across sources: the name, except for generic labels (I, R, T, Speaker 2
    ...), which name a different person in every source and so count once per source."""
    speakers = one_spelling(frame["speaker"])
    generic = {s: generic_label(s) for s in speakers.dropna().unique() if isinstance(s, str)}
    short = speakers.map(lambda s: generic.get(s, False)).astype(bool)
    return speakers.where(~short, frame["source"] + ": " + speakers)


def _raw_values(frame: pd.DataFrame, rows: str) -> pd.Series:
    if rows in SOURCE_FIELDS:
        return frame[rows]
    if rows in SEGMENT_FIELDS:
        # The speaker's own value (participants metadata), else the source attribute of that
        # name: `unit` is the speaker's unit, or the unit a whole source is about.
        name = "unit" if rows == "speaker_unit" else rows
        fallback = frame["source_attributes"].map(lambda text: json.loads(text).get(name))
        values = frame[rows].where(frame[rows].notna() & (frame[rows] != ""), fallback)
        return one_spelling(values) if rows == "speaker" else values
    # dtype object: pandas would turn [175, None] into [175.0, NaN] and the row "175.0" (issue 11)
    return pd.Series(
        [json.loads(text).get(rows) for text in frame["source_attributes"]], index=frame.index, dtype=object
    )


def attribute_values(frame: pd.DataFrame, name: str) -> pd.Series:
    """Each row's value of a source or segment field or a source attribute (``site``), as a
    matrix row names it (``value_text``; ``(none)`` when missing): one meaning for a matrix's
    rows and a query's scope and counts (``qualkam.analysis.query``)."""
    return _raw_values(frame, name).map(value_text).astype(object)


def _row_values(frame: pd.DataFrame, rows: str) -> pd.Series:
    values = _raw_values(frame, rows)
    if rows not in SOURCE_FIELDS | SEGMENT_FIELDS and values.isna().all() and len(frame):
        raise QualkamError(
            f"no source has the attribute {rows!r}; {{argument}} can be phase, source_type, role, speaker, "
            "unit, source, date, or a source attribute such as site",
            argument="rows",
        )
    return values.map(value_text).astype(object)


def value_text(value: Any) -> str:
    """An attribute's value as a row name: ``(none)`` when missing, a whole number without
    ``.0`` (a float column's 175.0 is the 175 that someone wrote), anything else as written."""
    if missing(value) or value == "":
        return NONE
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _natural(value: str) -> tuple[int, float, str]:
    """Numbers in numeric order (9 before 175), before any text in text order."""
    try:
        number = float(value)
    except ValueError:
        return (1, 0.0, value)
    return (0, number, value) if math.isfinite(number) else (1, 0.0, value)


def row_order(project: Project, rows: str, present: list[str]) -> list[str]:
    """Row values in a matrix's order: declared phases first, numbers in numeric order, ``(none)`` last."""
    if rows == "phase":
        declared = phase_ids(project)
        return (
            declared
            + sorted(p for p in present if p not in declared and p != NONE)
            + ([NONE] if NONE in present else [])
        )
    return sorted((p for p in present if p != NONE), key=_natural) + ([NONE] if NONE in present else [])


def _code_order(codes: pd.DataFrame, used: set[str]) -> list[str]:
    """Codebook order; a parent code only when something is coded with it (leaves always,
    since an empty leaf is a finding and an empty parent is just a heading)."""
    parents = set(codes["parent"].dropna())
    return [c for c in codes["id"] if c in used or c not in parents]


def normalize_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Each cell divided by its row total (0 for an empty row), rounded to 3 decimals."""
    totals = table.sum(axis=1)
    shares = table.div(totals.where(totals != 0), axis=0).fillna(0.0)
    return shares.astype(float).round(DECIMALS)


def build_matrix(
    project: Project,
    rows: str = "phase",
    cols: str = "code",
    value: str = "segments",
    layer: str | Layer = "auto",
    normalize: str = "none",
    window: int = 0,
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
    phases: Sequence[str] = (),
    codings: pd.DataFrame | None = None,
    cases: Sequence[str] = (),
) -> pd.DataFrame:
    """Rows x columns table: distinct segments, sources or speakers per cell, or the
    ``share`` of the row's segments (coded or not) that carry the column's code.

    ``cols`` is ``code`` or ``attr:NAME`` (codes grouped by a code attribute such as pole);
    every phase the codebook declares is a row even when it is empty, because an absence
    is a finding too. ``rows="code", cols="code"`` is the co-occurrence matrix (see
    ``cooccurrence``; ``window`` only applies there). ``normalize="row"`` divides each
    cell by its row total. ``codings``: ``codings_frame`` of this layer and these filters when
    the caller has read it already (a report draws several matrices from one read).
    ``rows`` ``case`` or ``case:ATTRIBUTE`` and ``cases`` filters (``site=Leeds``): participants
    as cases (``qualkam.analysis.cases``).
    """
    from qualkam.analysis.cases import case_row_values, is_case_rows, speakers_with_cases

    speakers = speakers_with_cases(project, speakers, cases)
    value = check_choice("value", value, VALUES, "value")
    normalize = check_choice("normalization", normalize, NORMALIZE, "normalize")
    layer = known_layer(project, layer)
    if rows != "code" and rows not in SOURCE_FIELDS | SEGMENT_FIELDS and not is_case_rows(rows):
        check_choice("row attribute", rows, [*ROW_FIELDS, *source_attribute_keys(project)], "rows")
    filters = {"sources": sources, "speakers": speakers, "phases": phases}
    if rows == "code":
        if cols != "code":
            raise QualkamError(
                f"{{rows}} code goes with {{cols}} code (the co-occurrence matrix), not {{cols}} {cols}; "
                "for codes down the side use {rows} ATTRIBUTE and read the table transposed",
                arguments=("rows", "cols"),
            )
        if value != "segments":
            raise QualkamError(
                f"co-occurrence counts segments; {{value}} {value} applies to attribute x code "
                "matrices (leave {value} segments, or use {rows} phase, source_type, ...)",
                arguments=("value", "rows"),
            )
        table = cooccurrence(project, layer, window, **filters)
        return normalize_rows(table) if normalize == "row" else table
    if window:
        raise QualkamError(
            "{window} applies to the co-occurrence matrix only ({rows} code {cols} code)",
            arguments=("window", "rows", "cols"),
        )
    frame = codings if codings is not None else codings_frame(project, layer, **filters)
    codes = code_table(project)
    if cols == "code":
        order = _code_order(codes, set(frame["code"]))
        frame = frame.assign(col=frame["code"])
    elif cols.startswith("attr:") and cols[5:]:
        key = cols[5:]
        mapping = {row.id: row.attributes.get(key) for row in codes.itertuples() if row.attributes.get(key) is not None}
        if not mapping:
            keys = sorted({k for attributes in codes["attributes"] for k in attributes})
            raise unknown("code attribute", key, keys, "cols")
        order = list(dict.fromkeys(str(v) for v in mapping.values()))
        frame = frame.assign(col=frame["code"].map(lambda c: None if mapping.get(c) is None else str(mapping[c])))
        frame = frame[frame["col"].notna()]
    else:
        raise unknown("column kind", cols, ["code", "attr:NAME"], "cols")

    def row_values(part: pd.DataFrame) -> pd.Series:
        return case_row_values(project, part, rows) if is_case_rows(rows) else _row_values(part, rows)

    frame = frame.assign(row=row_values(frame))
    measure = {"segments": "segment", "share": "segment", "sources": "source", "speakers": "speaker"}[value]
    if value == "speakers":
        frame = frame[frame["speaker"].notna()]
        frame = frame.assign(speaker=speaker_keys(frame))
    counts = frame.groupby(["row", "col"])[measure].nunique()
    table = counts.unstack("col", fill_value=0) if len(counts) else pd.DataFrame()
    present = list(table.index) if len(table) else []
    if value == "share":
        # The denominator is every segment with that row value, coded or not.
        segments = segments_frame(project, **filters)
        totals = segments.assign(row=row_values(segments)).groupby("row")["segment"].nunique()
        present = list(dict.fromkeys(present + list(totals.index)))
    order_of_rows = row_order(project, rows, present)
    table = table.reindex(index=order_of_rows, columns=order, fill_value=0).fillna(0).astype(int)
    if value == "share":
        denominators = totals.reindex(order_of_rows).fillna(0)
        table = table.div(denominators.where(denominators != 0), axis=0).fillna(0.0).astype(float).round(DECIMALS)
    if normalize == "row":
        table = normalize_rows(table)
    table.index.name = rows
    table.columns.name = cols
    return table


def cooccurrence(
    project: Project,
    layer: str | Layer = "auto",
    window: int = 0,
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
    phases: Sequence[str] = (),
) -> pd.DataFrame:
    """Code x code matrix, square and in codebook order: which codes are applied together.

    Off the diagonal, a cell counts the segments carrying both codes; with ``window=N``
    it counts pairs of segments of the same source at most N positions apart (a segment
    paired with itself included) where one carries each code, because in talk a theme
    and its counterpart are often a turn or two apart. The diagonal is always the number
    of segments with that code.
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise QualkamError(
            f"{{argument}} must be a whole number of segments, 0 or more; got {window!r}", argument="window"
        )
    frame = codings_frame(project, layer, sources, speakers, phases)
    codes = code_table(project)
    order = _code_order(codes, set(frame["code"]))
    known = set(order)
    frame = frame[frame["code"].isin(known)]
    # source -> position -> codes on that segment (a code once, even if several coders chose it)
    by_source: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for source, position, code in frame[["source", "position", "code"]].itertuples(index=False):
        by_source[source][int(position)].add(code)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for positions in by_source.values():
        for position, here in positions.items():
            for code in here:
                counts[code, code] += 1
            for a, b in combinations(sorted(here), 2):
                counts[a, b] += 1
            for step in range(1, window + 1):
                there = positions.get(position + step)
                if not there:
                    continue
                # One pair of segments counts once for a pair of codes, whichever way round.
                pairs = {(min(a, b), max(a, b)) for a in here for b in there if a != b}
                for a, b in pairs:
                    counts[a, b] += 1
    table = pd.DataFrame(0, index=order, columns=order, dtype=int)
    for (a, b), n in counts.items():
        table.loc[a, b] = n
        table.loc[b, a] = n
    table.index.name = "code"
    table.columns.name = "code"
    return table


def cooccurrence_pairs(matrix: pd.DataFrame) -> pd.DataFrame:
    """The non-zero cells above the diagonal of a co-occurrence matrix, largest first: the
    readable form of a 40 x 40 matrix in a terminal or a report."""
    codes = list(matrix.index)
    values = matrix.to_numpy()
    rows = [
        {"code": a, "with": b, "count": values[i, j], "code_segments": values[i, i], "with_segments": values[j, j]}
        for i, a in enumerate(codes)
        for j, b in enumerate(codes)
        if j > i and values[i, j]
    ]
    frame = pd.DataFrame(rows, columns=["code", "with", "count", "code_segments", "with_segments"])
    # Stable sort: equal counts stay in codebook order.
    return frame.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)
