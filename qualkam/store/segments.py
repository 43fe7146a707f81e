"""Segments and codings as tables, filtered by source, phase, speaker, role and source type.

What a notebook reads first (``qualkam.open(path).segments()``, ``.codings(layer)``): one row
per segment, or per coding of a layer, with the segment's speaker and the source's phase and
type beside it. Every name a filter gives is checked against the project (did-you-mean on a
typo, the error naming the argument), so a misspelt speaker is an error, never an empty table.
pandas is imported only when a table is built, so importing the store stays light.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qualkam.choices import check_known
from qualkam.store.layers import Layer
from qualkam.store.reads import code_and_below

if TYPE_CHECKING:
    import pandas as pd

    from qualkam.store.project import Project

SEGMENT_COLUMNS = [
    "segment",
    "source",
    "position",
    "start",
    "end",
    "speaker",
    "role",
    "unit",
    "time_start",
    "time_end",
    "source_type",
    "phase",
    "date",
    "title",
    "text",
]
CODING_COLUMNS = [
    "coding",
    "segment",
    "source",
    "position",
    "start",
    "end",
    "code",
    "coder",
    "origin",
    "status",
    "score",
    "evidence",
    "memo",
    "speaker",
    "role",
    "unit",
    "source_type",
    "phase",
    "date",
    "text",
]

_SEGMENT_SQL = """
    SELECT s.id AS segment, src.id AS source, s.position, s.start, s."end" AS "end", s.speaker, s.role,
           s.speaker_unit AS unit, s.time_start, s.time_end, src.type AS source_type, src.phase, src.date,
           src.title, s.text
    FROM segments s JOIN sources src ON src.id = s.source_id
    WHERE {where}
    ORDER BY src.id, s.position
"""
_CODING_SQL = """
    SELECT c.id AS coding, c.segment_id AS segment, src.id AS source, s.position, c.start, c."end" AS "end",
           c.code_id AS code, c.coder, c.origin, c.status, c.score, c.evidence, c.memo, s.speaker, s.role,
           s.speaker_unit AS unit, src.type AS source_type, src.phase, src.date, c.text
    FROM codings c JOIN segments s ON s.id = c.segment_id JOIN sources src ON src.id = c.source_id
    WHERE {where}
    ORDER BY src.id, s.position, c.start, c.code_id, c.coder IS NOT NULL, c.coder, c.id
"""


@dataclass(frozen=True)
class SegmentFilter:
    """Which segments to keep: each list holds alternatives (OR), the lists must all hold (AND);
    an empty list keeps everything. Names are checked against the project when applied."""

    sources: Sequence[str] = ()
    phases: Sequence[str] = ()
    speakers: Sequence[str] = ()
    roles: Sequence[str] = ()
    source_types: Sequence[str] = ()

    def sql(self, project: Project, segment: str = "s") -> tuple[list[str], list[Any]]:
        """Conditions on the segments (as ``segment``) and ``src`` (sources), and their parameters."""
        where: list[str] = []
        params: list[Any] = []
        for column, kind, argument, given in (
            ("src.id", "source", "sources", self.sources),
            ("src.phase", "phase", "phases", self.phases),
            (f"{segment}.speaker", "speaker", "speakers", self.speakers),
            (f"{segment}.role", "role", "roles", self.roles),
            ("src.type", "source type", "source_types", self.source_types),
        ):
            names = check_known(project, kind, list(given), argument)
            if names:
                where.append(f"{column} IN ({', '.join('?' * len(names))})")
                params += names
        return where, params

    def covering_sql(self, project: Project) -> tuple[list[str], list[Any]]:
        """Conditions on a coding ``c`` (and ``src``): it passes when a segment it counts for
        (``coding_segments``) passes. Speakers and roles belong to segments, so a span that runs
        from one speaker's turn into another's passes for either; sources, phases and types
        hold for the whole span."""
        if not (self.speakers or self.roles):
            return self.sql(project)
        conditions, params = self.sql(project, segment="fs")
        return [
            "EXISTS (SELECT 1 FROM coding_segments fcs JOIN segments fs ON fs.id = fcs.segment_id "
            f"WHERE fcs.coding_id = c.id AND {' AND '.join(conditions)})"
        ], params


def segments(project: Project, where: SegmentFilter | None = None) -> pd.DataFrame:
    """Every segment that passes ``where``, coded or not, in source and reading order."""
    import pandas as pd

    conditions, params = (where or SegmentFilter()).sql(project)
    sql = _SEGMENT_SQL.format(where=" AND ".join(conditions) or "1 = 1")
    return pd.read_sql_query(sql, project.conn, params=params)[SEGMENT_COLUMNS]


def codings(
    project: Project, layer: Layer | str = "auto", where: SegmentFilter | None = None, codes: Sequence[str] = ()
) -> pd.DataFrame:
    """One row per coding of ``layer`` (``qualkam.store.layers``) that counts for a segment
    passing ``where`` (any segment its span covers); ``codes`` keeps those codes and every code
    below them. ``start``, ``end`` and ``text`` are the coding's own span; ``segment``,
    ``position`` and the speaker's fields are its anchor's (the first segment it overlaps).
    ``evidence`` is a list of dicts (source offsets, words, rule); ``coder`` is None for a
    machine suggestion. A person's coding whose words have left the source (no segment) is
    not listed."""
    import pandas as pd

    from qualkam.store.codings import known_layer  # it reads segments through this module

    condition, params = known_layer(project, layer).sql("c")
    conditions, filter_params = (where or SegmentFilter()).covering_sql(project)
    conditions = [f"({condition})", *conditions]
    all_params = [*params, *filter_params]
    if codes:
        wanted = code_and_below(project, check_known(project, "code", list(codes), "codes"))
        conditions.append(f"c.code_id IN ({', '.join('?' * len(wanted))})")
        all_params += wanted
    sql = _CODING_SQL.format(where=" AND ".join(conditions))
    frame = pd.read_sql_query(sql, project.conn, params=all_params)
    frame["evidence"] = frame["evidence"].map(lambda raw: json.loads(raw or "[]"))
    return frame[CODING_COLUMNS]
