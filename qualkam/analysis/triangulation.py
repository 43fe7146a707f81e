"""Triangulation: for each code, how many independent sources, speakers, source types,
phases and roles support it, and where that support is thin.

A finding resting on one interview, one voice or one kind of document is weaker than one
seen across meetings, e-mails and field notes; the ``flags`` column names that weakness so
it is seen before a code is written up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from qualkam.analysis.matrix import NONE, code_table, codings_frame, speaker_keys
from qualkam.render.number import missing
from qualkam.store.analysis import phase_ids
from qualkam.store.layers import Layer
from qualkam.store.project import Project

COLUMNS = ["code", "label", "segments", "sources", "speakers", "source_types", "phases", "roles", "flags"]
FLAGS = ("one source type", "one speaker", "no named speaker", "one source")


def _values(series: Iterable[Any], order: list[str] | None = None, keep_none: bool = True) -> list[str]:
    """Distinct values, ``(none)`` last when kept; in ``order`` first when one is given."""
    present = {NONE if missing(v) or v == "" else str(v) for v in series}
    if not keep_none:
        present.discard(NONE)
    known = [v for v in (order or []) if v in present]
    rest = sorted(v for v in present if v not in known and v != NONE)
    return known + rest + ([NONE] if NONE in present else [])


def _lists(frame: pd.DataFrame, column: str, order: list[str] | None = None, keep_none: bool = True) -> dict[str, str]:
    """Per code, its distinct values of ``column`` as ``_values`` lists them, joined by ``, ``:
    read from the distinct (code, value) pairs, so linear in the rows."""
    pairs = frame[["code", column]].drop_duplicates()
    present: dict[str, list[Any]] = {}
    for code, value in zip(pairs["code"], pairs[column], strict=True):
        present.setdefault(code, []).append(value)
    return {code: ", ".join(_values(values, order, keep_none)) for code, values in present.items()}


def count_known(items: str) -> int:
    """How many values a listed column names, ``(none)`` left out: sources without a phase
    or type are support, but not another phase or type (issue 11)."""
    return sum(1 for item in items.split(", ") if item and item != NONE) if items else 0


def triangulation_table(
    project: Project,
    layer: str | Layer = "auto",
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
    phases: Sequence[str] = (),
    codings: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per code with codings in ``layer``, in codebook order (see COLUMNS).

    ``sources`` counts independent sources; ``speakers`` counts distinct people, with
    shorthand labels (I, R) once per source as in the matrices. Source types and phases list
    ``(none)`` for sources without one, since the source still counts; roles list only the
    roles known; counts of these lists (``count_known``) leave ``(none)`` out. ``flags`` is a
    comma list: "one source type" (one known type at most), "one speaker" (or "no named
    speaker" when no supporting segment names one), "one source"; empty when support is broad.
    ``codings``: ``codings_frame`` of this layer and these filters when the caller has read it.
    """
    frame = codings if codings is not None else codings_frame(project, layer, sources, speakers, phases)
    codes = code_table(project)
    labels = dict(zip(codes["id"], codes["label"], strict=True))
    order = list(codes["id"]) + sorted(set(frame["code"]) - set(codes["id"]))
    phase_order = phase_ids(project)
    named = frame["speaker"].notna() & (frame["speaker"] != "")
    frame = frame.assign(who=speaker_keys(frame).where(named))
    # Counts and value lists per code from grouped, de-duplicated columns: linear in the codings
    # (a filter per code, or even a slice per code, made the table most of a 2,000-code report).
    grouped = frame.groupby("code", sort=False)
    segments = grouped["segment"].nunique()
    source_counts = grouped["source"].nunique()
    speaker_counts = grouped["who"].nunique()  # NaN (no named speaker) is not counted
    types = _lists(frame, "source_type")
    phase_lists = _lists(frame, "phase", phase_order)
    roles = _lists(frame, "role", keep_none=False)
    rows = []
    for code in order:
        if code not in segments.index:
            continue
        n_speakers = int(speaker_counts[code])
        n_sources = int(source_counts[code])
        flags = []
        if count_known(types[code]) <= 1:  # sources with no type are no second kind of source
            flags.append("one source type")
        if n_speakers == 1:
            flags.append("one speaker")
        elif n_speakers == 0:
            flags.append("no named speaker")
        if n_sources == 1:
            flags.append("one source")
        rows.append(
            {
                "code": code,
                "label": labels.get(code, code),
                "segments": int(segments[code]),
                "sources": n_sources,
                "speakers": n_speakers,
                "source_types": types[code],
                "phases": phase_lists[code],
                "roles": roles.get(code, ""),
                "flags": ", ".join(flags),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
