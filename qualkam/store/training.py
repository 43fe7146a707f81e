"""What training, evaluation and codebook lint read: people's decisions, the machine's
suggestions and the segments they sit on.

``train`` and ``evaluate`` compare the same two things (what a layer of people decided, what
the machine suggested, segment by segment), so they read them here, the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qualkam.store.layers import CONSENSUS, Layer
from qualkam.store.reads import coders as project_coders
from qualkam.store.schema import fetch_all

if TYPE_CHECKING:
    import pandas as pd

    from qualkam.store.project import Project

DECISION_COLUMNS = ["coder", "source", "segment", "code", "status"]


def layer_coders(project: Project, layer: Layer) -> list[str]:
    """The coders whose decisions make up a people's layer (``Layer.people``), as
    ``qualkam.store.layers`` defines it: ``human`` every coder, the consensus coder included
    (in the order they first coded); ``consensus`` the consensus coder; ``coder:NAME`` NAME.
    Whether they have coded anything is the caller's to check."""
    if not layer.people:
        raise ValueError(f"{layer} is not a layer of people's decisions")
    if layer.name == "human":
        return project_coders(project)
    return [CONSENSUS] if layer.name == CONSENSUS else [str(layer.coder)]


def decisions(project: Project, coders: Sequence[str]) -> pd.DataFrame:
    """Every decision (accepted or rejected) of ``coders`` and every segment it counts for (a
    coding counts for each segment its span overlaps: ``coding_segments``): coder, source,
    segment, code, status, in the order they were made. The accepted ones are the coders'
    layer; all of them say which sources the coders have seen."""
    import pandas as pd

    if not coders:
        return pd.DataFrame(columns=DECISION_COLUMNS)
    marks = ",".join("?" * len(coders))
    return pd.read_sql_query(
        f"""SELECT c.coder, c.source_id AS source, cs.segment_id AS segment, c.code_id AS code, c.status
            FROM codings c JOIN coding_segments cs ON cs.coding_id = c.id
            WHERE c.coder IN ({marks}) ORDER BY c.id, cs.segment_id""",
        project.conn,
        params=tuple(coders),
    )


def segments(project: Project) -> pd.DataFrame:
    """Every segment with its text, stored lemmas and who speaks: segment, source, position,
    text, lemmas, speaker, role, in reading order (source, then position)."""
    import pandas as pd

    return pd.read_sql_query(
        "SELECT id AS segment, source_id AS source, position, text, lemmas, speaker, role FROM segments "
        "ORDER BY source_id, position",
        project.conn,
    )


def segment_texts(project: Project) -> list[str]:
    """The text of every segment, in reading order."""
    return [r[0] for r in fetch_all(project, "SELECT text FROM segments ORDER BY source_id, position")]


def segments_per_source(project: Project) -> dict[str, int]:
    """Source id -> how many segments it has."""
    return {r[0]: int(r[1]) for r in fetch_all(project, "SELECT source_id, COUNT(*) FROM segments GROUP BY source_id")}


def segment_places(project: Project, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Segment id -> where it is and what it says: source, position, speaker, start, text."""
    found: dict[int, dict[str, Any]] = {}
    listed = sorted(set(ids))
    for i in range(0, len(listed), 500):  # SQLite caps the number of parameters
        chunk = listed[i : i + 500]
        for row in fetch_all(
            project,
            f"SELECT id, source_id, position, speaker, start, text FROM segments "
            f"WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            found[int(row["id"])] = {
                "source": row["source_id"],
                "position": int(row["position"]),
                "speaker": row["speaker"],
                "start": int(row["start"]),
                "text": row["text"],
            }
    return found


def rule_suggestions(project: Project) -> list[tuple[int, str]]:
    """(segment, code) of every rule suggestion on a segment, whatever people decided since
    (a suggestion is its whole segment, so its anchor is the one segment it counts for)."""
    return [
        (int(r[0]), r[1])
        for r in fetch_all(
            project,
            "SELECT DISTINCT segment_id, code_id FROM codings "
            "WHERE coder IS NULL AND origin = 'rule' AND segment_id IS NOT NULL",
        )
    ]


def suggestion_origins(project: Project, origins: Sequence[str]) -> set[str]:
    """Which of ``origins`` (``rule``, ``model``) the project holds suggestions of."""
    marks = ",".join("?" * len(origins))
    return {
        r[0]
        for r in fetch_all(
            project, f"SELECT DISTINCT origin FROM codings WHERE coder IS NULL AND origin IN ({marks})", tuple(origins)
        )
    }


@dataclass(frozen=True)
class StoredSuggestion:
    """A machine suggestion on a segment, as ``evaluate`` judges it."""

    segment: int
    source: str
    code: str
    origin: str
    score: float | None
    evidence: str | None  # the stored JSON list


def suggestions(project: Project, origins: Sequence[str]) -> list[StoredSuggestion]:
    """Every suggestion of ``origins`` on a segment (status ``suggested``), in store order."""
    marks = ",".join("?" * len(origins))
    return [
        StoredSuggestion(int(r[0]), r[1], r[2], r[3], r[4], r[5])
        for r in fetch_all(
            project,
            f"""SELECT segment_id, source_id, code_id, origin, score, evidence FROM codings
                WHERE coder IS NULL AND status = 'suggested' AND segment_id IS NOT NULL
                AND origin IN ({marks})""",
            tuple(origins),
        )
    ]


def people_accepted(project: Project) -> list[tuple[str, int]]:
    """(code, segment) of every code a person (any coder) accepted on a segment: each segment
    their coding's span covers."""
    return [
        (r[0], int(r[1]))
        for r in fetch_all(
            project,
            "SELECT c.code_id, cs.segment_id FROM codings c JOIN coding_segments cs ON cs.coding_id = c.id "
            "WHERE c.coder IS NOT NULL AND c.status = 'accepted'",
        )
    ]


def main_pipeline(project: Project) -> str | None:
    """The spaCy pipeline most of the project's sources were coded with (None: none recorded)."""
    row = fetch_all(
        project,
        "SELECT pipeline, COUNT(*) AS n FROM sources WHERE pipeline IS NOT NULL "
        "GROUP BY pipeline ORDER BY n DESC LIMIT 1",
    )
    return row[0][0] if row else None
