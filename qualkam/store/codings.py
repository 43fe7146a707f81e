"""Codings read for analysis: the codings of a layer joined with their segment and source,
with the filters of matrices, excerpts, search and reliability.

Segment-level reads (matrices, search, reliability units) count a coding for every segment
its span covers (``coding_segments``); span-level reads (excerpts, character-level
reliability) take each coding's own span once (docs/architecture.md, "Spans and segments").

Every function takes names already checked by its caller (``qualkam.choices``) and a parsed
``Layer``; each returns a DataFrame (or plain values). ``known_layer`` parses a layer for a
project, so a misspelt coder is an error rather than an empty result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qualkam.store.layers import CONSENSUS, NAMES, PEOPLE, Layer
from qualkam.store.reads import coders as project_coders
from qualkam.store.schema import fetch_all
from qualkam.store.segments import SegmentFilter

if TYPE_CHECKING:
    import pandas as pd

    from qualkam.store.project import Project


def known_layer(project: Project, value: str | Layer, argument: str = "layer", allowed: Sequence[str] = NAMES) -> Layer:
    """``Layer.parse`` for this project: ``coder:NAME`` must name one of its coders
    (with the choices and a did-you-mean), since a misspelt coder would silently give nothing."""
    layer = Layer.parse(value, argument=argument, allowed=allowed)
    if layer.name == "coder":
        from qualkam.choices import unknown

        known = project_coders(project)
        if layer.coder not in known:
            raise unknown("coder", layer.coder, known, argument)
    return layer


def layer_people(project: Project, value: str | Layer, argument: str = "layer") -> list[str]:
    """The coders whose decisions make a people's layer (``human``, ``consensus``,
    ``coder:NAME``): for ``human`` every person who coded, the consensus coder included,
    in the order they first coded. Another layer is an error naming ``argument``."""
    layer = known_layer(project, value, argument, allowed=PEOPLE)
    if layer.name == "coder":
        return [str(layer.coder)]
    if layer.name == CONSENSUS:
        return [CONSENSUS]
    return project_coders(project)


def _among(where: list[str], args: list[Any], column: str, values: Sequence[Any]) -> None:
    where.append(f"{column} IN ({','.join('?' * len(values))})")
    args.extend(values)


def _frame(project: Project, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    import pandas as pd

    return pd.read_sql_query(sql, project.conn, params=list(params))


def layer_codings(project: Project, layer: Layer, where: SegmentFilter | None = None) -> pd.DataFrame:
    """One row per coding of ``layer`` and segment it counts for (every segment its span
    overlaps: ``coding_segments``) that passes ``where`` (its names checked), joined with that
    segment and its source (the source's attributes as JSON text), ordered by source, position
    and code. A coder's two spans of one code in one segment are two rows of that segment:
    count distinct segments."""
    condition, params = layer.sql("c")
    conditions, args = (where or SegmentFilter()).sql(project)
    sql = f"""
        SELECT c.id AS coding_id, cs.segment_id AS segment, s.position, src.id AS source, s.speaker, s.role,
               s.speaker_unit, src.type AS source_type, src.phase, src.date, src.title, src.format,
               src.attributes AS source_attributes, c.code_id AS code, c.coder, c.origin, c.status
        FROM codings c JOIN coding_segments cs ON cs.coding_id = c.id JOIN segments s ON s.id = cs.segment_id
        JOIN sources src ON src.id = c.source_id
        WHERE {" AND ".join([condition, *conditions])}
        ORDER BY src.id, s.position, c.code_id
    """
    return _frame(project, sql, [*params, *args])


def segments_with_sources(project: Project, where: SegmentFilter | None = None) -> pd.DataFrame:
    """Every segment that passes ``where``, coded or not, with its source's fields (the
    denominator of a share)."""
    conditions, args = (where or SegmentFilter()).sql(project)
    sql = f"""SELECT s.id AS segment, s.position, src.id AS source, s.speaker, s.role, s.speaker_unit,
                     src.type AS source_type, src.phase, src.date, src.title, src.format,
                     src.attributes AS source_attributes
              FROM segments s JOIN sources src ON src.id = s.source_id WHERE {" AND ".join(["1 = 1", *conditions])}
              ORDER BY src.id, s.position"""
    return _frame(project, sql, args)


def _excerpt_where(
    layer: Layer,
    codes: Sequence[str] = (),
    phases: Sequence[str] = (),
    source_types: Sequence[str] = (),
    roles: Sequence[str] = (),
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
    coders: Sequence[str] = (),
    statuses: Sequence[str] = (),
) -> tuple[list[str], list[Any]]:
    """The conditions (on ``codings c`` joined with ``sources src``) of ``excerpt_codings``."""
    condition, params = layer.sql("c")
    where, args = [condition], list(params)
    if layer.name != "all":
        where.append("c.segment_id IS NOT NULL")
    for column, values in (
        ("c.code_id", codes),
        ("src.phase", phases),
        ("src.type", source_types),
        ("src.id", sources),
        ("c.coder", coders),
        ("c.status", statuses),
    ):
        if values:
            _among(where, args, column, values)
    for column, values in (("fs.role", roles), ("fs.speaker", speakers)):
        if values:
            where.append(
                "EXISTS (SELECT 1 FROM coding_segments fcs JOIN segments fs ON fs.id = fcs.segment_id "
                f"WHERE fcs.coding_id = c.id AND {column} IN ({','.join('?' * len(values))}))"
            )
            args.extend(values)
    return where, args


# An excerpt is a code on an exact span (``merge_codings``): codings of one code with the same
# source, start and end are one excerpt; a detached coding (no segment) is one of its own.
_SPAN_START = "CASE WHEN c.segment_id IS NULL THEN -c.id ELSE c.start END"
_SPAN_END = 'CASE WHEN c.segment_id IS NULL THEN -1 ELSE c."end" END'
_SPAN_COLUMNS = f"c.code_id AS code, c.source_id AS source, {_SPAN_START} AS span_start, {_SPAN_END} AS span_end"


def excerpt_counts(project: Project, layer: Layer, **filters: Sequence[str]) -> dict[str, int]:
    """Per code, how many excerpts (distinct spans) ``excerpt_codings`` with these filters
    gives, codes in codebook order; a code without any is left out."""
    where, args = _excerpt_where(layer, **filters)
    sql = f"""
        SELECT d.code, COUNT(*) FROM (
            SELECT DISTINCT {_SPAN_COLUMNS}
            FROM codings c JOIN sources src ON src.id = c.source_id
            WHERE {" AND ".join(f"({w})" for w in where)}) d
        LEFT JOIN codes k ON k.id = d.code
        GROUP BY d.code ORDER BY COALESCE(k.position, 1e9), d.code
    """
    return {str(code): int(n) for code, n in fetch_all(project, sql, args)}


def excerpt_codings(
    project: Project,
    layer: Layer,
    *,
    codes: Sequence[str] = (),
    phases: Sequence[str] = (),
    source_types: Sequence[str] = (),
    roles: Sequence[str] = (),
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
    coders: Sequence[str] = (),
    statuses: Sequence[str] = (),
    per_code: int | None = None,
) -> pd.DataFrame:
    """One row per coding of ``layer`` that passes every filter, with what an excerpt shows:
    its own span (``start``, ``end``, ``text``), the passage around it (``context``: the source's
    text from the first segment it covers to the last, span included; ``context_start`` its
    offset), its anchor segment and source, the code's label, definition and colour, the
    phase's label, and the machine's score and evidence (a person's coding made from a
    suggestion, or covering a suggestion's segment, carries the suggestion's). Speaker, role,
    unit and ``time_start`` are the anchor's, ``time_end`` the last covered segment's; a
    speaker or role filter keeps a coding when any segment it covers passes. Ordered by code,
    phase, date, source, offset, suggestion before people. Codings whose words left the source
    (no segment) are kept only in the ``all`` layer.

    ``per_code``: only the codings of each code's first ``per_code`` excerpts (distinct spans,
    as ``excerpt_counts`` counts them) in that order, chosen in SQL, so a report of a long
    codebook reads and joins only what it shows."""
    where, args = _excerpt_where(
        layer,
        codes=codes,
        phases=phases,
        source_types=source_types,
        roles=roles,
        sources=sources,
        speakers=speakers,
        coders=coders,
        statuses=statuses,
    )
    head, head_args = "", list[Any]()
    if per_code is not None:
        # Each coding's place in the order below, each span's first place, then the first
        # per_code spans of each code (no join: window functions over one pass); the span's
        # end and the coding's id settle ties the order leaves.
        order = 'COALESCE(p.position, 1e9), src.date, src.id, c.start, c.coder IS NOT NULL, c.coder, c."end", c.id'
        head = f"""
        WITH placed AS (
            SELECT c.id, {_SPAN_COLUMNS}, ROW_NUMBER() OVER (ORDER BY {order}) AS place
            FROM codings c JOIN sources src ON src.id = c.source_id LEFT JOIN phases p ON p.id = src.phase
            WHERE {" AND ".join(f"({w})" for w in where)}),
        spans AS (
            SELECT id, code, MIN(place) OVER (PARTITION BY code, source, span_start, span_end) AS first_place
            FROM placed),
        ranked AS (
            SELECT id, DENSE_RANK() OVER (PARTITION BY code ORDER BY first_place) AS nth_span FROM spans),
        kept AS (SELECT id FROM ranked WHERE nth_span <= ?)
        """
        # The kept codings passed every condition already: the main query looks them up by id.
        head_args, where, args = [*args, per_code], ["c.id IN (SELECT id FROM kept)"], []
    # A span inside its anchor segment (most codings: whole segments) needs only that segment;
    # one running past it reads the segments it covers, and its context is cut from the source.
    inside = 'c.start >= s.start AND c."end" <= s."end"'
    anchor = "m.segment_id = c.segment_id"
    covered = "m.segment_id IN (SELECT x.segment_id FROM coding_segments x WHERE x.coding_id = c.id)"
    suggested = "m.code_id = c.code_id AND m.coder IS NULL"
    context_start = "MIN(c.start, s.start)"
    last = "FROM coding_segments lcs JOIN segments l ON l.id = lcs.segment_id WHERE lcs.coding_id = c.id"
    context_end = f'MAX(c."end", (SELECT MAX(l."end") {last}))'
    last_time = f"(SELECT l.time_end {last} ORDER BY l.start DESC LIMIT 1)"
    sql = f"""{head}
        SELECT c.id AS coding_id, src.id AS source, c.segment_id AS segment, s.speaker, s.role,
               s.speaker_unit AS unit, src.type AS source_type, src.phase, src.date, s.time_start,
               CASE WHEN c."end" > s."end" THEN COALESCE({last_time}, s.time_end) ELSE s.time_end END AS time_end,
               c.start, c."end" AS "end", c.code_id AS code,
               COALESCE(k.label, c.code_id) AS code_label, c.coder, c.origin, c.status,
               COALESCE(c.score, CASE WHEN c."end" > s."end"
                   THEN (SELECT MAX(m.score) FROM codings m WHERE {covered} AND {suggested})
                   ELSE (SELECT MAX(m.score) FROM codings m WHERE {anchor} AND {suggested}) END) AS score,
               CASE WHEN c.evidence != '[]' THEN c.evidence ELSE COALESCE(CASE WHEN c."end" > s."end"
                   THEN (SELECT m.evidence FROM codings m WHERE {covered} AND {suggested} ORDER BY m.score DESC LIMIT 1)
                   ELSE (SELECT m.evidence FROM codings m WHERE {anchor} AND {suggested} ORDER BY m.score DESC LIMIT 1)
                   END, '[]') END AS evidence,
               c.text, COALESCE(p.label, src.phase) AS phase_label, src.title,
               k.definition AS code_definition, k.color AS code_color,
               CASE WHEN s.id IS NULL THEN c.text WHEN {inside} THEN s.text END AS context,
               CASE WHEN s.id IS NULL THEN c.start ELSE {context_start} END AS context_start,
               CASE WHEN s.id IS NOT NULL AND NOT ({inside}) THEN {context_end} END AS context_end
        FROM codings c LEFT JOIN segments s ON s.id = c.segment_id JOIN sources src ON src.id = c.source_id
        LEFT JOIN codes k ON k.id = c.code_id LEFT JOIN phases p ON p.id = src.phase
        WHERE {" AND ".join(f"({w})" for w in where)}
        ORDER BY COALESCE(k.position, 1e9), c.code_id, COALESCE(p.position, 1e9), src.date, src.id, c.start,
                 c.coder IS NOT NULL, c.coder
    """
    frame = _frame(project, sql, [*head_args, *args])
    wide = frame["context_end"].notna()
    if wide.any():  # cut from each source's text, read once (not once per coding)
        texts = {
            name: fetch_all(project, "SELECT text FROM sources WHERE id = ?", (name,))[0][0]
            for name in set(frame.loc[wide, "source"])
        }
        frame.loc[wide, "context"] = [
            texts[source][int(a) : int(b)]
            for source, a, b in frame.loc[wide, ["source", "context_start", "context_end"]].itertuples(index=False)
        ]
    return frame.drop(columns="context_end")


def search_candidates(
    project: Project,
    layer: Layer,
    words: Sequence[str],
    *,
    codes: Sequence[str] = (),
    phases: Sequence[str] = (),
    source_types: Sequence[str] = (),
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Segments that may hold every word (their stored lemmas contain each, or they have no
    lemmas yet) and pass the filters, with the codes of ``layer`` that count for them (a
    coding counts for every segment its span covers) as ``a,b`` text; ``codes`` keeps segments
    coded in ``layer`` with one of them. By date, source, position."""
    condition, layer_params = layer.sql("c")
    where: list[str] = []
    args: list[Any] = []
    for word in dict.fromkeys(words):
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("(s.lemmas IS NULL OR s.lemmas LIKE ? ESCAPE '\\')")
        args.append(f"%{escaped}%")
    if codes:
        where.append(
            "EXISTS (SELECT 1 FROM coding_segments cs JOIN codings c ON c.id = cs.coding_id "
            f"WHERE cs.segment_id = s.id AND {condition} AND c.code_id IN ({','.join('?' * len(codes))}))"
        )
        args += [*layer_params, *codes]
    filters = (("src.phase", phases), ("src.type", source_types), ("src.id", sources), ("s.speaker", speakers))
    for column, values in filters:
        if values:
            _among(where, args, column, values)
    sql = f"""
        SELECT src.id AS source, s.id AS segment, s.speaker, s.role, s.speaker_unit AS unit,
               src.type AS source_type, src.phase, src.date, s.start, s."end" AS "end", s.lemmas, s.text,
               (SELECT group_concat(DISTINCT c.code_id) FROM coding_segments cs JOIN codings c ON c.id = cs.coding_id
                WHERE cs.segment_id = s.id AND {condition}) AS codes
        FROM segments s JOIN sources src ON src.id = s.source_id
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY src.date, src.id, s.position
    """
    return [dict(r) for r in project.conn.execute(sql, [*layer_params, *args]).fetchall()]


def decisions(project: Project, coders: Sequence[str], per_segment: bool = False) -> pd.DataFrame:
    """Every decision (accepted or rejected) of ``coders`` on a segment: coding_id, segment_id,
    source, start, end (the coding's own span), code, coder, status. One row per coding, at
    its anchor (character-level reliability takes each span once); with ``per_segment`` one row
    per coding and segment it counts for (every segment its span overlaps), ``segment_id``
    being that segment (segment- and sentence-level reliability)."""
    if per_segment:
        segment, join, placed = "cs.segment_id", "JOIN coding_segments cs ON cs.coding_id = c.id", ""
    else:
        segment, join, placed = "c.segment_id", "", "AND c.segment_id IS NOT NULL"
    return _frame(
        project,
        f"""SELECT c.id AS coding_id, {segment} AS segment_id, c.source_id AS source, c.start, c."end",
                   c.code_id AS code, c.coder, c.status
            FROM codings c {join} WHERE c.coder IN ({",".join("?" * len(coders))}) {placed}""",
        coders,
    )


def codes_accepted_by(project: Project, coders: Sequence[str]) -> set[str]:
    """The codes any of ``coders`` accepted somewhere."""
    rows = project.conn.execute(
        f"SELECT DISTINCT code_id FROM codings WHERE status = 'accepted' AND coder IN ({','.join('?' * len(coders))})",
        tuple(coders),
    ).fetchall()
    return {r[0] for r in rows}


def coder_decisions(project: Project) -> pd.DataFrame:
    """Per coder (index, in the order they first coded): accepted, rejected, and the segments
    decided (every segment one of their codings covers)."""
    return _frame(
        project,
        """SELECT c.coder, SUM(c.status = 'accepted') AS accepted, SUM(c.status = 'rejected') AS rejected,
                  (SELECT COUNT(DISTINCT cs.segment_id) FROM codings d JOIN coding_segments cs ON cs.coding_id = d.id
                   WHERE d.coder = c.coder) AS segments
           FROM codings c WHERE c.coder IS NOT NULL GROUP BY c.coder ORDER BY MIN(c.id)""",
    ).set_index("coder")
