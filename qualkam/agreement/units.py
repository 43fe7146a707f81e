"""From people's codings to reliability data: who coded what, in which units.

The rule for missing data (documented in docs/reliability.md): a coder has *seen* a source
when they made at least one decision in it (accepted or rejected, by review, sheet, import
or merge). For every source a coder has seen, each of its units is coded 1 (the coder
accepted the code there) or 0 (they did not); for a source the coder has not seen, the
coder's values are missing. A rejected suggestion therefore counts as 0, like a code the
coder never gave. The ``consensus`` coder is a result, not a rater, and is left out unless
named.

Units: ``segment`` (the project's segments; a coding counts for every segment its span
overlaps, by at least one character, as in matrices), ``sentence`` (each segment cut by the
pipeline's sentencizer; within each segment a coding counts for, it codes the sentences it
covers at least half of and the one holding at least half of it: ``sentences_of_span``), or
``character`` (each coding's exact span, once, for unitized alpha: ``coder_spans``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qualkam.choices import check_all, check_choice, check_known
from qualkam.errors import QualkamError
from qualkam.store.analysis import segments_table, source_lengths, sources_in_phases
from qualkam.store.codings import codes_accepted_by, decisions
from qualkam.store.layers import CONSENSUS
from qualkam.store.project import Project
from qualkam.store.reads import code_tree
from qualkam.store.reads import coders as coders_of

UNITS = ("segment", "sentence", "character")


@dataclass
class CodingData:
    """Presence of each code for each coder in each unit: codes x coders x units, NaN = missing."""

    coders: list[str]
    codes: list[str]
    units: pd.DataFrame  # one row per unit: unit id, source, segment, start, end, text
    presence: np.ndarray

    def sets(self) -> list[list[frozenset[str] | None]]:
        """Coders x units: the set of codes each coder gave each unit (None where missing)."""
        result = []
        for c in range(len(self.coders)):
            ratings = self.presence[:, c, :]  # codes x units
            missing = np.isnan(ratings).any(axis=0)
            given: list[list[str]] = [[] for _ in range(len(self.units))]
            for code, unit in zip(*np.nonzero(ratings == 1), strict=True):  # one pass over what was given
                given[unit].append(self.codes[code])
            result.append([None if gone else frozenset(names) for gone, names in zip(missing, given, strict=True)])
        return result


def resolve_coders(project: Project, coders: list[str] | None) -> list[str]:
    known = coders_of(project)
    known = [c for c in known if c != CONSENSUS] + [c for c in known if c == CONSENSUS]
    chosen = check_all("coder", coders, known, "coders") if coders else [c for c in known if c != CONSENSUS]
    if len(set(chosen)) < 2:
        raise QualkamError(
            f"agreement needs at least two coders; this project has {', '.join(known) or 'none'} "
            "(merge another coder's project with 'qualkam project merge', or import their codings)",
            argument="coders",
        )
    return list(dict.fromkeys(chosen))


def resolve_codes(project: Project, coders: list[str], codes: list[str] | None) -> list[str]:
    """The codes to measure: those given (checked), else every code some coder accepted."""
    order = list(code_tree(project))
    if codes:
        codes = check_all("code", codes, order, "codes")
        return [c for c in order if c in codes]
    used = codes_accepted_by(project, coders)
    return [c for c in order if c in used]


def sentences_of_span(start: int, end: int, sentences: Sequence[tuple[int, int, int]]) -> list[int]:
    """The sentences (unit index, start, end) a span [start, end) codes: each it covers at least
    half of, and the one that holds at least half of the span, so a short quote inside a long
    sentence codes it and a span running a few words into the next sentence does not."""
    hits = []
    for index, first, last in sentences:
        shared = min(end, last) - max(start, first)
        if shared > 0 and (2 * shared >= last - first or 2 * shared >= end - start):
            hits.append(index)
    return hits


def seen_sources(codings: pd.DataFrame, coders: list[str]) -> dict[str, set[str]]:
    """Coder -> the sources they made at least one decision in."""
    return {coder: set(codings.loc[codings["coder"] == coder, "source"]) for coder in coders}


def _segment_units(project: Project, sources: set[str]) -> pd.DataFrame:
    frame = segments_table(project)
    frame = frame[frame["source"].isin(sources)].reset_index(drop=True)
    frame.insert(0, "unit", frame["segment"].astype(str))
    return frame


def _sentence_units(segments: pd.DataFrame) -> pd.DataFrame:
    from qualkam.coding.nlp import load_pipeline, pipe  # spaCy loads only for sentence units (seconds)

    nlp = load_pipeline()
    rows = []
    for seg, doc in zip(segments.itertuples(index=False), pipe(nlp, segments["text"].tolist()), strict=True):
        for index, sent in enumerate(doc.sents):
            text = sent.text.strip()
            if text:
                start = seg.start + sent.start_char + (len(sent.text) - len(sent.text.lstrip()))
                rows.append(
                    (f"{seg.segment}.{index}", seg.segment, seg.source, start, start + len(text), text, seg.speaker)
                )
    return pd.DataFrame(rows, columns=["unit", "segment", "source", "start", "end", "text", "speaker"])


def source_filter(project: Project, sources: Sequence[str] = (), phases: Sequence[str] = ()) -> set[str] | None:
    """The source ids ``sources`` and ``phases`` keep (each name checked); None: no filter."""
    if not sources and not phases:
        return None
    kept = set(check_known(project, "source", sources, "sources")) if sources else None
    if phases:
        in_phase = sources_in_phases(project, check_known(project, "phase", phases, "phases"))
        kept = in_phase if kept is None else kept & in_phase
    return kept


def coding_data(
    project: Project,
    coders: list[str] | None = None,
    codes: list[str] | None = None,
    unit: str = "segment",
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
    phases: Sequence[str] = (),
) -> CodingData:
    """Reliability data for segment or sentence units (character units: see ``coder_spans``);
    ``sources``, ``speakers`` and ``phases`` keep only those units."""
    unit = check_choice("unit", unit, ("segment", "sentence"), "unit")
    coders = resolve_coders(project, coders)
    codes = resolve_codes(project, coders, codes)
    if not codes:
        raise QualkamError("no code has been accepted by these coders yet; nothing to compare", argument="codes")
    codings = decisions(project, coders, per_segment=True)
    seen = seen_sources(codings, coders)
    units = _segment_units(project, set().union(*seen.values()))
    kept = source_filter(project, sources, phases)
    if kept is not None:
        units = units[units["source"].isin(kept)].reset_index(drop=True)
    if speakers:
        units = units[units["speaker"].isin(check_known(project, "speaker", speakers, "speakers"))]
        units = units.reset_index(drop=True)
    if unit == "sentence":
        units = _sentence_units(units)
    presence = np.full((len(codes), len(coders), len(units)), np.nan)
    code_index = {c: i for i, c in enumerate(codes)}
    for j, coder in enumerate(coders):
        presence[:, j, units["source"].isin(seen[coder]).to_numpy()] = 0.0
    accepted = codings[(codings["status"] == "accepted") & codings["code"].isin(code_index)]
    if unit == "segment":
        where = {seg: i for i, seg in enumerate(units["segment"])}
        for row in accepted.itertuples(index=False):
            if row.segment_id in where:
                presence[code_index[row.code], coders.index(row.coder), where[row.segment_id]] = 1.0
    else:
        by_segment: dict[int, list[tuple[int, int, int]]] = {}
        for i, row in enumerate(units.itertuples(index=False)):
            by_segment.setdefault(row.segment, []).append((i, row.start, row.end))
        for row in accepted.itertuples(index=False):
            for i in sentences_of_span(row.start, row.end, by_segment.get(row.segment_id, [])):
                presence[code_index[row.code], coders.index(row.coder), i] = 1.0
    return CodingData(coders, codes, units, presence)


def coder_spans(
    project: Project,
    coders: list[str] | None = None,
    codes: list[str] | None = None,
    sources_only: Sequence[str] = (),
    phases: Sequence[str] = (),
) -> tuple[list[str], list[str], dict[str, tuple[dict[str, list[tuple[int, int, str]]], int]]]:
    """Character-level data: each coder's accepted spans, source by source, exactly as coded
    (a span across segments is one span).

    Returns (coders, codes, ``{source: ({coder: [(start, end, code)]}, length)}``), the shape
    ``qualkam.agreement.unitized.unitized_alpha_sources`` takes. A coder appears in a source only if
    they have seen it (an empty list: seen, nothing marked), so a source nobody else saw
    is missing for them rather than "nothing found".
    """
    coders = resolve_coders(project, coders)
    codes = resolve_codes(project, coders, codes)
    codings = decisions(project, coders)  # one row per coding: its exact span, never cut per segment
    seen = seen_sources(codings, coders)
    lengths = source_lengths(project)
    accepted = codings[(codings["status"] == "accepted") & codings["code"].isin(codes)]
    sources: dict[str, tuple[dict[str, list[tuple[int, int, str]]], int]] = {}
    kept = source_filter(project, sources_only, phases)
    if kept is not None:
        accepted = accepted[accepted["source"].isin(kept)]
    for source in sorted(set().union(*seen.values()) & (kept if kept is not None else set(lengths))):
        spans: dict[str, list[tuple[int, int, str]]] = {coder: [] for coder in coders if source in seen[coder]}
        sources[source] = (spans, lengths[source])
    for row in accepted.itertuples(index=False):
        sources[row.source][0][row.coder].append((int(row.start), int(row.end), row.code))
    return coders, codes, sources
