"""Matrices for triangulation: any source or segment attribute x codes (or code groups).

A matrix is read from one *layer* of codings:

- ``auto`` (default): what the project currently holds as coded: every accepted human
  coding, plus every machine suggestion that no person has rejected;
- ``suggestions``: machine suggestions only;
- ``human``: accepted human codings of any coder;
- ``coder:NAME``: one coder's accepted codings;
- ``consensus``: the accepted codings of the coder named ``consensus``.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from .errors import QualkamError
from .store import Project
from .turns import SHORTHAND

NONE = "(none)"
SEGMENT_FIELDS = {"speaker", "role", "speaker_unit", "unit"}
SOURCE_FIELDS = {"phase", "source_type", "source", "date", "title", "format"}
VALUES = ("segments", "sources", "speakers")

_LAYER_SQL = {
    "auto": (
        "((c.coder IS NOT NULL AND c.status = 'accepted') OR (c.coder IS NULL AND NOT EXISTS ("
        "SELECT 1 FROM codings r WHERE r.segment_id = c.segment_id AND r.code_id = c.code_id "
        "AND r.coder IS NOT NULL AND r.status = 'rejected')))"
    ),
    "suggestions": "c.coder IS NULL",
    "human": "c.coder IS NOT NULL AND c.status = 'accepted'",
    "consensus": "c.coder = 'consensus' AND c.status = 'accepted'",
}


def layer_filter(layer: str) -> tuple[str, tuple[Any, ...]]:
    """SQL condition (on alias ``c``) and parameters for a layer name."""
    if layer in _LAYER_SQL:
        return _LAYER_SQL[layer], ()
    if layer.startswith("coder:") and layer[6:]:
        return "c.coder = ? AND c.status = 'accepted'", (layer[6:],)
    raise QualkamError(f"unknown layer {layer!r}; use auto, suggestions, human, consensus or coder:NAME")


def codings_frame(project: Project, layer: str = "auto") -> pd.DataFrame:
    """One row per coding in the layer, joined with its segment and source, attributes expanded."""
    condition, params = layer_filter(layer)
    sql = f"""
        SELECT c.id AS coding_id, c.segment_id AS segment, src.id AS source, s.speaker, s.role,
               s.speaker_unit, src.type AS source_type, src.phase, src.date, src.title, src.format,
               src.attributes AS source_attributes, c.code_id AS code, c.coder, c.origin, c.status
        FROM codings c JOIN segments s ON s.id = c.segment_id JOIN sources src ON src.id = c.source_id
        WHERE {condition}
        ORDER BY src.id, s.position, c.code_id
    """
    frame = pd.read_sql_query(sql, project.conn, params=params)
    frame["unit"] = frame["speaker_unit"]
    return frame


def code_table(project: Project) -> pd.DataFrame:
    """The current codes in codebook order, with their attributes as a dict."""
    frame = pd.read_sql_query("SELECT id, parent, label, attributes, position FROM codes ORDER BY position", project.conn)
    frame["attributes"] = frame["attributes"].map(json.loads)
    return frame


def speaker_keys(frame: pd.DataFrame) -> pd.Series:
    """Who a speaker is across sources: the name, except for shorthand labels (I, R, ...),
    which name a different person in every interview and so count once per source."""
    short = frame["speaker"].str.casefold().isin(SHORTHAND.keys())
    return frame["speaker"].where(~short, frame["source"] + ": " + frame["speaker"])


def _row_values(frame: pd.DataFrame, rows: str) -> pd.Series:
    if rows in SOURCE_FIELDS or rows in SEGMENT_FIELDS:
        values = frame[rows]
    else:
        values = frame["source_attributes"].map(lambda text: json.loads(text).get(rows))
        if values.isna().all() and len(frame):
            raise QualkamError(
                f"no source has the attribute {rows!r}; rows can be phase, source_type, role, speaker, "
                "unit, source, date, or a source attribute such as site"
            )
    return values.map(lambda v: NONE if v is None or v == "" or (isinstance(v, float) and pd.isna(v)) else str(v))


def _row_order(project: Project, rows: str, present: list[str]) -> list[str]:
    if rows == "phase":
        declared = [r[0] for r in project.query("SELECT id FROM phases ORDER BY position")]
        return declared + sorted(p for p in present if p not in declared and p != NONE) + ([NONE] if NONE in present else [])
    return sorted(p for p in present if p != NONE) + ([NONE] if NONE in present else [])


def build_matrix(project: Project, rows: str = "phase", cols: str = "code", value: str = "segments",
                 layer: str = "auto") -> pd.DataFrame:
    """Rows x columns table of counts: distinct segments, sources or speakers per cell.

    ``cols`` is ``code`` or ``attr:NAME`` (codes grouped by a code attribute such as pole);
    every phase the codebook declares is a row even when it is empty, because an absence
    is a finding too.
    """
    if value not in VALUES:
        raise QualkamError(f"unknown --value {value!r}; use {', '.join(VALUES)}")
    frame = codings_frame(project, layer)
    codes = code_table(project)
    if cols == "code":
        order = [c for c in codes["id"] if c in set(frame["code"]) or not (codes["parent"] == c).any()]
        frame = frame.assign(col=frame["code"])
    elif cols.startswith("attr:") and cols[5:]:
        key = cols[5:]
        mapping = {row.id: row.attributes.get(key) for row in codes.itertuples() if row.attributes.get(key) is not None}
        if not mapping:
            raise QualkamError(f"no code has the attribute {key!r}; check the codebook's code attributes")
        order = list(dict.fromkeys(str(v) for v in mapping.values()))
        frame = frame.assign(col=frame["code"].map(lambda c: None if mapping.get(c) is None else str(mapping[c])))
        frame = frame[frame["col"].notna()]
    else:
        raise QualkamError(f"unknown --cols {cols!r}; use code or attr:NAME (e.g. attr:pole)")
    frame = frame.assign(row=_row_values(frame, rows))
    measure = {"segments": "segment", "sources": "source", "speakers": "speaker"}[value]
    if value == "speakers":
        frame = frame[frame["speaker"].notna()]
        frame = frame.assign(speaker=speaker_keys(frame))
    counts = frame.groupby(["row", "col"])[measure].nunique()
    table = counts.unstack("col", fill_value=0) if len(counts) else pd.DataFrame()
    row_order = _row_order(project, rows, list(table.index) if len(table) else [])
    table = table.reindex(index=row_order, columns=order, fill_value=0).fillna(0).astype(int)
    table.index.name = rows
    table.columns.name = cols
    return table
