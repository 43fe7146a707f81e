"""Coding queries and the concordance as the workspace shows them (issue 16, points 1 and 2):
``qualkam.analysis.query`` and ``qualkam.analysis.kwic`` called for one :class:`Viewer`, with
the Excerpts page's filters, answered as plain data the Query and Concordance pages render.

The blind rule is ``workspace.viewer_layer``'s: a blind viewer reads their own codings (the
default) or the machine's suggestions, and naming another coder, in the layer or in the
``coder`` scope, is a ``ForbiddenError``. A query's codes and a hit's codes are read from that
one layer, so nothing another person decided reaches a blind page.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from qualkam.analysis.kwic import DEFAULT_CONTEXT, SORTS
from qualkam.analysis.workspace import (
    Viewer,
    _attribute_filter,
    coders_of,
    excerpt_rows,
    source_href,
    viewer_layer,
)
from qualkam.errors import QualkamError
from qualkam.render.number import plain as _plain
from qualkam.store.layers import Layer

if TYPE_CHECKING:
    import pandas as pd

    from qualkam.store.project import Project

DEFAULT_LIMIT = 500  # concordance hits a page lists (the total is always said)
# The scope filters a page offers, by library argument -> the query scope's key.
SCOPE_KEYS = {"phase": "phase", "source_type": "source_type", "speaker": "speaker", "role": "role"}


def _scope(
    project: Project,
    viewer: Viewer,
    *,
    phase: str | None = None,
    source_type: str | None = None,
    speaker: str | None = None,
    role: str | None = None,
    attribute: str | None = None,
    layer: str | None = None,
    coder: str | None = None,
    case: str | None = None,
) -> tuple[Layer | None, str, dict[str, list[str]]]:
    """The layer the viewer may read (None: a coder who has not coded yet), its name as asked,
    and the query scope (``where``) of the filters; ``coder`` keeps one person's codings and
    makes ``coder:NAME`` the default layer, as on the Excerpts page."""
    viewer.check_named(coder)
    asked = layer if not coder else (layer or f"coder:{coder}")
    parsed = viewer_layer(project, viewer, asked)
    label = str(parsed) if parsed is not None else (asked or f"coder:{viewer.coder}")
    where = {SCOPE_KEYS[name]: [value] for name, value in _given(phase, source_type, speaker, role) if value}
    wanted = _attribute_filter(attribute)
    if wanted is not None:
        from qualkam.analysis.query import ALIASES

        key = wanted[0].lower().replace(" ", "_")
        key = ALIASES.get(key, key)
        if key in where or key == "coder":
            raise QualkamError(
                f"{{argument}} {attribute!r} repeats the {key} filter; give that value once", argument="attribute"
            )
        where[key] = [wanted[1]]
    if case:
        key, value = _case_scope(case)
        where[key] = [value]
    if coder and parsed is not None:
        where["coder"] = [coder]
    return parsed, label, where


def _case_scope(case: str) -> tuple[str, str]:
    """The Excerpts page's ``case`` filter (``site:Leeds``, or ``case:NAME`` for one participant)
    as a query scope's key and value (``case:site``, ``Leeds``)."""
    from qualkam.analysis.workspace_cases import split_case_filter

    attribute, value = split_case_filter(case)
    return ("case" if attribute.casefold() == "case" else f"case:{attribute}"), value


def _given(phase: str | None, source_type: str | None, speaker: str | None, role: str | None) -> list[tuple[str, Any]]:
    return [("phase", phase), ("source_type", source_type), ("speaker", speaker), ("role", role)]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows as JSON takes them (numpy numbers as Python's, a missing value as None)."""
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def query(
    project: Project,
    viewer: Viewer,
    text: str,
    *,
    count_by: str | None = None,
    phase: str | None = None,
    source_type: str | None = None,
    speaker: str | None = None,
    role: str | None = None,
    attribute: str | None = None,
    layer: str | None = None,
    coder: str | None = None,
    case: str | None = None,
) -> dict[str, Any]:
    """A coding query (``qualkam.analysis.query.run_query``) for this viewer: ``hits`` (matching
    segments), ``in_scope``, the query as parsed, and either ``excerpts`` (one per coding, as
    :func:`qualkam.analysis.workspace.excerpts` gives them) or, with ``count_by``, ``counts``
    (``count_by``'s table as records). A query that does not parse is a ``QueryError`` naming
    its column, whatever the layer."""
    from qualkam.analysis import query as q

    if not isinstance(text, str) or not text.strip():
        raise QualkamError("{argument}: write a query, e.g. 'funding AND NOT hiring'", argument="query")
    node = q.parse(text)
    q.resolve(project, node)  # an unknown code is an error at its column, even with nothing to read
    parsed, label, where = _scope(
        project,
        viewer,
        phase=phase,
        source_type=source_type,
        speaker=speaker,
        role=role,
        attribute=attribute,
        layer=layer,
        coder=coder,
        case=case,
    )
    if parsed is None:
        # a coder with no codings yet: the scope stands, nothing in it matches
        result = q.run_query(project, node, where, "suggestions")
        result = replace(
            result,
            segment_ids=frozenset(),
            codings=result.codings.iloc[0:0],
            scope=replace(result.scope, layer=Layer.parse(label)),
        )
    else:
        result = q.run_query(project, node, where, parsed)
    answer: dict[str, Any] = {
        "query": result.text,
        "hits": len(result.segment_ids),
        "in_scope": len(result.scope.frame),
        "layer": label,
        "describe": result.describe(),
    }
    if count_by:
        table = q.count_by(project, result, count_by)
        answer["count_by"] = str(table.columns[0])
        answer["counts"] = _records(table)
        return answer
    frame = q.excerpts(project, result, by_coder=True) if result.segment_ids else None
    answer["excerpts"] = excerpt_rows(project, viewer, frame) if frame is not None else []
    return answer


def kwic(
    project: Project,
    viewer: Viewer,
    term: str,
    *,
    word: bool = False,
    sort: str = "source",
    context: int = DEFAULT_CONTEXT,
    code: str | None = None,
    limit: int | None = DEFAULT_LIMIT,
    phase: str | None = None,
    source_type: str | None = None,
    speaker: str | None = None,
    role: str | None = None,
    attribute: str | None = None,
    layer: str | None = None,
    coder: str | None = None,
    case: str | None = None,
) -> dict[str, Any]:
    """A concordance (``qualkam.analysis.kwic.concordance``) for this viewer: each hit with its
    left and right context, the link to the document at the hit, and the codes of the viewer's
    layer overlapping it; ``total`` hits, the first ``limit`` listed; ``labels`` names the codes."""
    from qualkam.analysis.kwic import concordance
    from qualkam.store.reads import code_tree

    if not isinstance(term, str) or not term.strip():
        raise QualkamError("{argument}: write a word or a phrase to look for, e.g. plan", argument="term")
    parsed, label, where = _scope(
        project,
        viewer,
        phase=phase,
        source_type=source_type,
        speaker=speaker,
        role=role,
        attribute=attribute,
        layer=layer,
        coder=coder,
        case=case,
    )
    options: dict[str, Any] = {"word": word, "context": context, "sort": sort, "where": where, "limit": limit}
    if parsed is None:
        # a coder with no codings yet: the hits stand, with no codes (and none carry a code asked for)
        frame = concordance(project, term, layer="suggestions", **options)
        words = list(frame.attrs.get("words", []))
        total = 0 if code else int(frame.attrs.get("total", len(frame)))
        frame = frame.iloc[0:0] if code else frame.assign(codes=[[] for _ in range(len(frame))])
    else:
        frame = concordance(project, term, layer=parsed, codes=[code] if code else (), **options)
        words = list(frame.attrs.get("words", []))
        total = int(frame.attrs.get("total", len(frame)))
    tree = code_tree(project)
    hits = []
    for row in frame.to_dict("records"):
        hits.append(
            {
                "source": row["source"],
                "segment": _plain(row["segment"]),
                "speaker": _plain(row["speaker"]),
                "role": _plain(row["role"]),
                "phase": _plain(row["phase"]),
                "start": int(row["start"]),
                "end": int(row["end"]),
                "left": row["left"],
                "match": row["match"],
                "right": row["right"],
                "codes": list(row["codes"]),
                "href": source_href(row["source"], int(row["start"]), int(row["end"])),
            }
        )
    shown = {c for h in hits for c in h["codes"]}
    return {
        "term": term,
        "words": words,
        "word": word,
        "sort": sort,
        "layer": label,
        "total": total,
        "hits": hits,
        "labels": {c: tree[c].label if c in tree else c for c in sorted(shown)},
    }


def choices(project: Project, viewer: Viewer) -> dict[str, list[str]]:
    """What the two pages' forms offer beyond the Excerpts filters: the attributes to count by
    (participants as cases and their attributes among them),
    the coders a scope may name (none listed in a blind session), the sort orders."""
    from qualkam.analysis.query import SEGMENT_KEYS
    from qualkam.analysis.workspace_cases import case_rows
    from qualkam.store.names import source_attribute_keys

    keys = [k for k in SEGMENT_KEYS if k not in ("title", "format")]
    return {
        "count_by": [*keys, *(k for k in source_attribute_keys(project) if k not in keys), *case_rows(project)],
        "coders": [] if viewer.blind else coders_of(project),
        "sorts": list(SORTS),
    }
