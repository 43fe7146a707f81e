"""What the coding workspace shows, as plain data: the source list with one coder's counts, a
document with its codings and the suggestions waiting, the codebook with counts, excerpts, a
matrix and two coders compared. ``qualkam serve`` answers with these; a notebook can call them.

The blind rule lives here (issue 13): a :class:`Viewer` that is ``blind`` never receives
another person's codings from any function of this module, and naming another coder is a
``ForbiddenError``. Machine suggestions are shown to everyone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qualkam.choices import check_known, unknown
from qualkam.errors import ForbiddenError, NotFoundError, QualkamError
from qualkam.store import workspace as store
from qualkam.store.layers import CONSENSUS, Layer
from qualkam.store.names import known_names
from qualkam.store.project import Project
from qualkam.store.reads import code_tree
from qualkam.store.reads import coders as project_coders

if TYPE_CHECKING:
    import pandas as pd

# A source id from a URL: qualkam names a source by its path in the folder it was coded from
# ("interviews/Zoë 2"), so folders, spaces and accents are allowed; control characters and
# overlong ids are not, and the id must be one the project holds (looked up as a parameter).
SOURCE_ID = re.compile(r"[^\x00-\x1f\x7f]{1,500}")
MATRIX_BY = ("phase", "source_type", "role", "speaker", "attribute:KEY", "case", "case:ATTRIBUTE")


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the coder (None before they gave a name) and whether the session is blind
    (then ``coder`` is set and sees only their own codings)."""

    coder: str | None = None
    blind: bool = False

    def __post_init__(self) -> None:
        if self.blind and not self.coder:
            raise QualkamError("blind coding needs a coder: give {argument} NAME", argument="coder")

    def check_named(self, name: str | None) -> None:
        """In a blind session, naming another coder is forbidden."""
        if self.blind and name is not None and name != self.coder:
            raise ForbiddenError(f"this session is blind: {self.coder} sees only their own codings, not {name}'s")

    def visible(self) -> list[str] | None:
        """The coders whose codings this viewer may see (None: everyone)."""
        return [str(self.coder)] if self.blind else None


def source_href(source_id: str, start: int | None = None, end: int | None = None) -> str:
    """The document page of a source (its id quoted for a URL), at a span when given."""
    from urllib.parse import quote

    return f"/sources/{quote(source_id, safe='/')}" + (f"#c-{start}-{end}" if start is not None else "")


def check_source(project: Project, source_id: str) -> str:
    """A source id from a URL: the safe characters only, and a source the project holds."""
    if not SOURCE_ID.fullmatch(source_id or "") or not store.source_exists(project, source_id):
        raise NotFoundError(f"no source {source_id!r} in this project")
    return source_id


def check_coding(project: Project, viewer: Viewer, coding_id: int, suggestion: bool = False) -> None:
    """In a blind session, another person's coding is as if it did not exist: NotFoundError
    (so an error never names its coder), and so is a person's coding given as a suggestion.
    Outside a blind session the library's own checks say why (another person's: 403)."""
    if not viewer.blind:
        return
    row = store.coding_summary(project, coding_id)
    if row is None or (row["coder"] is not None and row["coder"] != viewer.coder):
        raise NotFoundError(f"no {'suggestion' if suggestion else 'coding'} {coding_id} of {viewer.coder}'s")
    if suggestion and row["coder"] is not None:
        raise NotFoundError(f"no suggestion {coding_id}: it is {viewer.coder}'s own coding")


def session(project: Project, viewer: Viewer) -> dict[str, Any]:
    """The session as the pages start from it: the coder, blind or not, the project, the coders
    (none listed in a blind session)."""
    return {
        "coder": viewer.coder,
        "blind": viewer.blind,
        "project": str(project.path),
        "coders": [] if viewer.blind else project_coders(project, consensus=False),
    }


def _attribute_filter(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    key, sep, wanted = value.partition(":")
    if not sep or not key.strip():
        raise QualkamError(
            f"{{argument}} {value!r}: write a source attribute as KEY:VALUE, e.g. site:north", argument="attribute"
        )
    return key.strip(), wanted.strip()


def _attribute_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _one_known(project: Project, kind: str, value: str | None, argument: str) -> str | None:
    """``value`` checked against the project's names of ``kind`` (did-you-mean on a typo); None stays None."""
    if value is None:
        return None
    return check_known(project, kind, [value], argument)[0]


def source_list(
    project: Project,
    viewer: Viewer,
    *,
    source_type: str | None = None,
    phase: str | None = None,
    speaker: str | None = None,
    attribute: str | None = None,
) -> list[dict[str, Any]]:
    """Every source that passes the filters (type, phase, a speaker who talks in it, an
    attribute ``KEY:VALUE``), each with the segments the viewer has coded (``coded``) and the
    suggestions waiting for their decision (``waiting``)."""
    wanted_type = _one_known(project, "source type", source_type, "source_type")
    wanted_phase = _one_known(project, "phase", phase, "phase")
    wanted_speaker = _one_known(project, "speaker", speaker, "speaker")
    wanted_attribute = _attribute_filter(attribute)
    coded = store.coded_segments(project, viewer.coder) if viewer.coder else {}
    waiting = store.waiting_suggestions(project, viewer.coder)
    out = []
    for row in store.source_summaries(project):
        if wanted_type is not None and row["type"] != wanted_type:
            continue
        if wanted_phase is not None and row["phase"] != wanted_phase:
            continue
        if wanted_speaker is not None and wanted_speaker not in row["speakers"]:
            continue
        if wanted_attribute is not None:
            key, value = wanted_attribute
            if key not in row["attributes"] or _attribute_text(row["attributes"][key]) != value:
                continue
        out.append(
            {
                "id": row["id"],
                "title": row["title"],
                "type": row["type"],
                "phase": row["phase"],
                "date": row["date"],
                "attributes": row["attributes"],
                "speakers": row["speakers"],
                "segments": row["segments"],
                "words": row["words"],
                "coded": int(coded.get(row["id"], 0)),
                "waiting": int(waiting.get(row["id"], 0)),
            }
        )
    return out


def filter_choices(project: Project) -> dict[str, list[str]]:
    """The values the source filters can take: types, phases, speakers, attributes (KEY:VALUE)."""
    attributes: dict[str, None] = {}
    for row in store.source_summaries(project):
        for key, value in sorted(row["attributes"].items()):
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                attributes[f"{key}:{_attribute_text(value)}"] = None
    return {
        "types": known_names(project, "source type"),
        "phases": known_names(project, "phase"),
        "speakers": known_names(project, "speaker"),
        "roles": known_names(project, "role"),
        "attributes": sorted(attributes),
    }


def document(project: Project, source_id: str, viewer: Viewer) -> dict[str, Any]:
    """A source as the document page codes it: its fields, the stored ``text`` (offsets are code
    points of it), segments, people's accepted codings (a blind viewer's own only) and the
    machine's suggestions the viewer has not decided."""
    check_source(project, source_id)
    found = store.source_document(project, source_id)
    assert found is not None  # checked above
    return {
        "id": found["id"],
        "title": found["title"],
        "type": found["type"],
        "phase": found["phase"],
        "date": found["date"],
        "attributes": found["attributes"],
        "text": found["text"],
        "segments": store.source_segments(project, source_id),
        "codings": store.source_codings(project, source_id, viewer.visible()),
        "suggestions": store.source_suggestions(project, source_id, viewer.coder),
    }


def codebook(project: Project, viewer: Viewer) -> list[dict[str, Any]]:
    """The current code tree in codebook order with what a coder reads (definition, include,
    exclude, examples, colour) and ``count``: people's accepted codings of the code (a blind
    viewer's own only), and ``suggested``: the machine's suggestions of it."""
    book = project.codebook(strict=False)
    details = book.codes if book is not None else {}
    counts = store.code_counts(project, viewer.visible())
    suggested = store.suggestion_counts(project)
    out = []
    for node in code_tree(project, retired=False).values():
        code = details.get(node.id)
        out.append(
            {
                "id": node.id,
                "label": node.label,
                "parent": node.parent,
                "definition": node.definition,
                "include": list(code.include) if code else [],
                "exclude": list(code.exclude) if code else [],
                "examples": list(code.examples) if code else [],
                "color": node.color,
                "count": int(counts.get(node.id, 0)),
                "suggested": int(suggested.get(node.id, 0)),
            }
        )
    return out


def viewer_layer(project: Project, viewer: Viewer, layer: str | None) -> Layer | None:
    """The layer a page reads for this viewer: ``layer`` as given (default ``auto``); a blind
    viewer reads their own codings (``coder:NAME``, the default) or the ``suggestions``, nothing
    built from other people's decisions (``auto`` hides what someone else decided). None when
    it would name a coder who has not coded yet (an empty answer, not an error)."""
    if viewer.blind:
        parsed = Layer.parse(layer or f"coder:{viewer.coder}")
        if parsed.name == "coder":
            viewer.check_named(parsed.coder)
        elif parsed.name != "suggestions":
            raise ForbiddenError(
                f"this session is blind: it reads coder:{viewer.coder} or suggestions, not the layer {parsed}"
            )
    else:
        parsed = Layer.parse(layer or "auto")
    if parsed.name == "coder" and parsed.coder not in project_coders(project):
        if viewer.blind or parsed.coder == viewer.coder:
            return None
        raise unknown("coder", parsed.coder, project_coders(project), "layer")
    return parsed


def _sources_with(project: Project, attribute: str | None) -> list[str] | None:
    wanted = _attribute_filter(attribute)
    if wanted is None:
        return None
    key, value = wanted
    return [
        row["id"]
        for row in store.source_summaries(project)
        if key in row["attributes"] and _attribute_text(row["attributes"][key]) == value
    ]


def excerpts(
    project: Project,
    viewer: Viewer,
    *,
    code: str | None = None,
    phase: str | None = None,
    source_type: str | None = None,
    speaker: str | None = None,
    role: str | None = None,
    attribute: str | None = None,
    layer: str | None = None,
    coder: str | None = None,
    case: str | None = None,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """Coded excerpts, one per coding (``qualkam.analysis.excerpts.retrieve`` with ``by_coder``),
    each with its exact span, the segment it starts in as ``context`` and the link back to its
    place in the document (``href``). ``coder`` keeps one person's codings; ``case``
    (``ATTRIBUTE:VALUE``, ``qualkam.analysis.workspace_cases``) the speakers of those cases;
    ``source`` one source (a framework's cell by source)."""
    from qualkam.analysis.excerpts import retrieve

    viewer.check_named(coder)
    parsed = viewer_layer(project, viewer, layer if not coder else (layer or f"coder:{coder}"))
    sources = _sources_with(project, attribute)
    if source:
        one = str(_one_known(project, "source", source, "source"))
        sources = [one] if sources is None or one in sources else []
    speakers = [speaker] if speaker else []
    if case:
        from qualkam.analysis.workspace_cases import narrow_speakers

        speakers = narrow_speakers(project, speakers, case)
        if not speakers:
            return []
    if parsed is None or sources == []:
        return []
    frame = retrieve(
        project,
        codes=[code] if code else (),
        phases=[phase] if phase else (),
        source_types=[source_type] if source_type else (),
        speakers=speakers,
        roles=[role] if role else (),
        coders=[coder] if coder else (),
        layer=parsed,
        by_coder=True,
        sources=sources or (),
    )
    return excerpt_rows(project, viewer, frame)


def excerpt_rows(project: Project, viewer: Viewer, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``retrieve(..., by_coder=True)`` rows as the pages show them: the span, the segment it
    starts in as ``context``, the link into the document (``href``); never another person's
    coding for a blind viewer (the layer keeps them out already; this holds even if a layer changes)."""
    visible = viewer.visible()
    rows = frame.to_dict("records")
    if visible is not None:
        rows = [r for r in rows if r["coder"] is None or r["coder"] in visible]
    context = store.segment_texts(project, [int(r["segment"]) for r in rows if _present(r["segment"])])
    return [
        {
            "coding_id": int(r["coding_id"]),
            "source": r["source"],
            "title": r["title"] if _present(r["title"]) else None,
            "start": int(r["start"]),
            "end": int(r["end"]),
            "text": r["text"],
            "context": context.get(int(r["segment"]), "") if _present(r["segment"]) else "",
            "code": r["code"],
            "code_label": r["code_label"],
            "coder": r["coder"] if _present(r["coder"]) else None,
            "status": r["status"],
            "speaker": r["speaker"] if _present(r["speaker"]) else None,
            "phase": r["phase"] if _present(r["phase"]) else None,
            "href": source_href(r["source"], int(r["start"]), int(r["end"])),
        }
        for r in rows
    ]


def _present(value: Any) -> bool:
    from qualkam.analysis.excerpts import present

    return bool(present(value))


def matrix(project: Project, viewer: Viewer, by: str = "phase", layer: str | None = None) -> dict[str, Any]:
    """Rows (values of ``by``: phase, source_type, role, speaker, attribute:KEY, or case and
    case:ATTRIBUTE, participants as cases) x codes:
    distinct coded segments per cell (``qualkam.analysis.matrix.build_matrix``), as lists."""
    from qualkam.analysis.matrix import build_matrix

    rows_field = by
    if by.startswith("attribute:"):
        rows_field = by[len("attribute:") :].strip()
        if not rows_field:
            raise QualkamError("{argument} 'attribute:' names no attribute; write attribute:KEY", argument="by")
    elif by == "case" or by.startswith("case:"):
        from qualkam.analysis.workspace_cases import check_case_rows

        rows_field = by = check_case_rows(project, by)
    elif by not in MATRIX_BY:
        raise unknown("matrix rows", by, MATRIX_BY, "by")
    parsed = viewer_layer(project, viewer, layer)
    if parsed is None:
        return {"by": by, "rows": [], "columns": [], "cells": []}
    table = build_matrix(project, rows=rows_field, cols="code", layer=parsed)
    return {
        "by": by,
        "rows": [str(r) for r in table.index],
        "columns": [str(c) for c in table.columns],
        "cells": [[int(v) for v in row] for row in table.to_numpy().tolist()],
    }


def compare(project: Project, source_id: str, a: str, b: str, viewer: Viewer) -> dict[str, Any]:
    """Two coders' codings of one source side by side, the consensus coder's, and each span and
    code only one of them has (``disagreements``). Not for a blind session."""
    if viewer.blind:
        raise ForbiddenError("this session is blind: comparing coders would show another coder's codings")
    check_source(project, source_id)
    known = project_coders(project)
    for name, argument in ((a, "a"), (b, "b")):
        if name not in known:
            raise unknown("coder", name, known, argument)
    found = store.source_document(project, source_id)
    assert found is not None
    mine = store.source_codings(project, source_id, [a])
    theirs = store.source_codings(project, source_id, [b])
    spans_a = {(c["start"], c["end"], c["code"]) for c in mine}
    spans_b = {(c["start"], c["end"], c["code"]) for c in theirs}
    return {
        "id": source_id,
        "title": found["title"],
        "text": found["text"],
        "segments": store.source_segments(project, source_id),
        "a": mine,
        "b": theirs,
        "consensus": store.source_codings(project, source_id, [CONSENSUS]),
        "disagreements": [
            {
                "start": start,
                "end": end,
                "code": code,
                "a": (start, end, code) in spans_a,
                "b": (start, end, code) in spans_b,
            }
            for start, end, code in sorted(spans_a ^ spans_b)
        ],
    }


def coders_of(project: Project, exclude: Sequence[str] = ()) -> list[str]:
    """The people who have coded (not the consensus coder), for the compare page's choices."""
    return [c for c in project_coders(project, consensus=False) if c not in exclude]
