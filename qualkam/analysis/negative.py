"""Negative cases (issue 16, point 6): where a code never occurs although it occurs in
comparable sources or speakers, listed for the researcher to check.

A case is a source, or a speaker (a participant, named as in the matrices: shorthand labels
such as I or R once per source), within a group of comparable cases: those sharing a value of
``compare`` (``phase``, ``source_type``, a speaker's ``role`` or ``unit``, or a source
attribute such as ``site``). A case is negative for a code in its group when none of its
segments there carries the code (or a code below it) while at least one other case of the
group has it. Sources with no value of ``compare`` are compared with each other under
``(none)``, as the matrices list them. ``compare`` may be a case attribute (``case:site``):
each segment then has its speaker's value, so participants, and the sources they speak in, are
compared within one site. Each row says how often the code occurs in the
comparable cases, so a striking absence (present in 9 of 10 comparable interviews) stands out
from a thin one (1 of 10).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from qualkam.analysis.cases import case_row_values, is_case_rows
from qualkam.analysis.matrix import SOURCE_FIELDS, _row_values, speaker_keys
from qualkam.choices import check_choice, check_known
from qualkam.store.codings import known_layer, layer_codings, segments_with_sources
from qualkam.store.layers import Layer
from qualkam.store.names import source_attribute_keys
from qualkam.store.project import Project
from qualkam.store.reads import CodeNode, code_tree
from qualkam.store.segments import SegmentFilter

KINDS = ("source", "speaker")
COMPARE = ("phase", "source_type", "role", "unit")  # or a source attribute
COLUMNS = [
    "code",
    "kind",
    "compare",
    "value",
    "case",
    "segments",
    "comparable",
    "with_code",
    "share_with_code",
    "code_segments",
]


def check_compare(project: Project, compare: str) -> str:
    """``phase``, ``source_type``, ``role``, ``unit``, a source attribute of the project, or a
    case attribute (``case:site``: participants of one site compared with each other)."""
    if is_case_rows(compare.strip()) and compare.strip() != "case":
        return compare.strip()
    fields = [*COMPARE, *(f for f in SOURCE_FIELDS if f not in ("source", "date", "title", "format"))]
    return check_choice(
        "comparison", compare, list(dict.fromkeys([*fields, *source_attribute_keys(project)])), "compare"
    )


def _cases(project: Project, segments: pd.DataFrame, compare: str, kinds: Sequence[str]) -> pd.DataFrame:
    """One row per segment and kind of case: segment, kind, value (of ``compare``), case."""
    if not len(segments):
        value = pd.Series([], dtype=object)
    elif is_case_rows(compare):
        value = case_row_values(project, segments, compare, "compare")
    else:
        value = _row_values(segments, compare)
    frames = []
    if "source" in kinds:
        frames.append(
            pd.DataFrame({"segment": segments["segment"], "kind": "source", "value": value, "case": segments["source"]})
        )
    if "speaker" in kinds:
        named = segments["speaker"].notna() & (segments["speaker"] != "")
        spoken = segments[named]
        frames.append(
            pd.DataFrame(
                {"segment": spoken["segment"], "kind": "speaker", "value": value[named], "case": speaker_keys(spoken)}
            )
        )
    if not frames:
        return pd.DataFrame(columns=["segment", "kind", "value", "case"])
    return pd.concat(frames, ignore_index=True)


def _counted_as(tree: dict[str, CodeNode], wanted: Sequence[str], below: bool) -> pd.DataFrame:
    """(coded, code): a coding of ``coded`` counts for ``code`` (itself, and with ``below`` every
    code above it), for the codes ``wanted``."""
    keep = set(wanted)
    pairs = []
    for node in tree.values():
        current: str | None = node.id
        seen: set[str] = set()
        while current is not None and current not in seen:  # a cycle (a codebook bug) does not loop
            seen.add(current)
            if current in keep:
                pairs.append((node.id, current))
            if not below:
                break
            parent = tree.get(current)
            current = parent.parent if parent is not None else None
    return pd.DataFrame(pairs, columns=["coded", "code"])


def _negatives(cases: pd.DataFrame, hits: pd.DataFrame, compare: str) -> pd.DataFrame:
    """Every negative case at once: ``cases`` (segment, kind, value, case) and ``hits`` (segment,
    code). Linear in the segments and codings, plus one row per case and code its group has."""
    if cases.empty or hits.empty:
        return pd.DataFrame(columns=COLUMNS)
    sizes = cases.groupby(["kind", "value", "case"], sort=False)["segment"].nunique().rename("segments").reset_index()
    comparable = sizes.groupby(["kind", "value"], sort=False).size().rename("comparable").reset_index()
    coded = cases.merge(hits, on="segment").drop_duplicates(["kind", "value", "case", "segment", "code"])
    present = coded.groupby(["kind", "value", "case", "code"], sort=False).size().rename("n").reset_index()
    groups = (
        present.groupby(["kind", "value", "code"], sort=False)
        .agg(with_code=("case", "size"), code_segments=("n", "sum"))
        .reset_index()
    )
    # every case of a group x every code the group has, less the pairs where the case has it
    candidates = sizes.merge(groups, on=["kind", "value"])
    candidates = candidates.merge(present[["kind", "value", "case", "code"]], how="left", indicator=True)
    negative = candidates[candidates["_merge"] == "left_only"].merge(comparable, on=["kind", "value"])
    return pd.DataFrame(
        {
            "code": negative["code"].astype(str),
            "kind": negative["kind"],
            "compare": compare,
            "value": negative["value"].astype(str),
            "case": negative["case"].astype(str),
            "segments": negative["segments"].astype(int),
            "comparable": negative["comparable"].astype(int),
            "with_code": negative["with_code"].astype(int),
            "share_with_code": (negative["with_code"] / negative["comparable"]).round(3),
            "code_segments": negative["code_segments"].astype(int),
        },
        columns=COLUMNS,
    )


def negative_cases(
    project: Project,
    code: str | Sequence[str] | None,
    compare: str = "phase",
    layer: str | Layer = "auto",
    kinds: Sequence[str] = KINDS,
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
    phases: Sequence[str] = (),
    source_types: Sequence[str] = (),
    roles: Sequence[str] = (),
    below: bool = True,
    codings: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The negative cases of ``code`` (one id, several, or None for every code of the codebook,
    each on its own) when compared by ``compare`` (see the module docstring), one row each
    (COLUMNS): the code, the kind of case (source or speaker), the compared attribute and the
    group's value, the case and its segments in the group, the comparable cases in the group,
    how many of them have the code (and that share), and the group's segments with the code.
    Sorted by code, kind, then the most striking absences first (the highest share).

    ``below``: a code counts with the codes below it (a source coded with a child of ``control``
    is not a negative case of ``control``). ``codings``: the layer's codings with these filters
    when the caller has read them already."""
    for kind in kinds:
        check_choice("kind of case", kind, KINDS, "kinds")
    compare = check_compare(project, compare)
    parsed = known_layer(project, layer)
    tree = code_tree(project)
    if code is None:
        wanted = list(tree)
    else:
        wanted = check_known(project, "code", [code] if isinstance(code, str) else list(code), "code")
    where = SegmentFilter(sources=sources, phases=phases, speakers=speakers, roles=roles, source_types=source_types)
    segments = segments_with_sources(project, where)
    segments["unit"] = segments["speaker_unit"]
    frame = codings if codings is not None else layer_codings(project, parsed, where)
    cases = _cases(project, segments, compare, kinds)
    counted = _counted_as(tree, wanted, below)
    hits = (
        frame[["segment", "code"]]
        .rename(columns={"code": "coded"})
        .merge(counted, on="coded")[["segment", "code"]]
        .drop_duplicates()
    )
    table = _negatives(cases, hits, compare)
    order = {c: i for i, c in enumerate(wanted)}
    table = table.assign(
        _code=table["code"].map(order), _kind=table["kind"].map({k: i for i, k in enumerate(KINDS)})
    ).sort_values(
        ["_code", "_kind", "share_with_code", "value", "segments", "case"],
        ascending=[True, True, False, True, False, True],
        kind="stable",
    )
    return table.drop(columns=["_code", "_kind"]).reset_index(drop=True)
