"""Reads of sources, segments and phases that analysis and agreement need.

(The codings themselves, by layer: ``qualkam.store.codings``; coders and the code tree:
``qualkam.store.reads``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from qualkam.store.project import Project


@dataclass(frozen=True)
class Phase:
    """A phase the codebook declares."""

    id: str
    label: str


def phases(project: Project) -> list[Phase]:
    """The phases the codebook declares, in its order."""
    rows = project.conn.execute("SELECT id, label FROM phases ORDER BY position").fetchall()
    return [Phase(r[0], r[1]) for r in rows]


def phase_ids(project: Project) -> list[str]:
    """The ids of ``phases``."""
    return [p.id for p in phases(project)]


def segments_table(project: Project) -> pd.DataFrame:
    """Every segment: segment, source, start, end, text, speaker; by source and position."""
    import pandas as pd

    return pd.read_sql_query(
        'SELECT id AS segment, source_id AS source, start, "end", text, speaker FROM segments '
        "ORDER BY source_id, position",
        project.conn,
    )


def sources_in_phases(project: Project, phase_ids: Sequence[str]) -> set[str]:
    """The ids of the sources of these phases."""
    marks = ",".join("?" * len(phase_ids))
    return {r[0] for r in project.conn.execute(f"SELECT id FROM sources WHERE phase IN ({marks})", tuple(phase_ids))}


def source_lengths(project: Project) -> dict[str, int]:
    """Source id -> length of its text in characters."""
    return {r[0]: r[1] for r in project.conn.execute("SELECT id, length(text) FROM sources")}


def source_types_and_phases(project: Project, missing: str) -> pd.DataFrame:
    """One row per source: its type and phase, ``missing`` where it has none."""
    import pandas as pd

    return pd.read_sql_query(
        "SELECT COALESCE(type, ?) AS type, COALESCE(phase, ?) AS phase FROM sources",
        project.conn,
        params=(missing, missing),
    )


def main_pipeline(project: Project) -> str | None:
    """The spaCy pipeline most sources were processed with (None when none is recorded)."""
    row = project.conn.execute(
        "SELECT pipeline, COUNT(*) AS n FROM sources WHERE pipeline IS NOT NULL GROUP BY pipeline ORDER BY n DESC"
    ).fetchone()
    return row["pipeline"] if row else None


def sources_as_added(project: Project) -> list[str]:
    """Every source id in the order the sources were first added to the project (the "given"
    order of a saturation table, issue 16)."""
    return [r[0] for r in project.conn.execute("SELECT id FROM sources ORDER BY added_at, rowid")]
