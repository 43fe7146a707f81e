"""The SQL of people's decisions on suggestions: the review queue and its saved progress,
a segment in context, and what reconciling coders needs to know of the consensus coder.

``qualkam.coding.review`` and ``qualkam.coding.reconcile`` decide what to ask; this module
only reads and writes the rows they ask about.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qualkam.store.project import Project

QUEUE_STATUSES = ("suggested", "accepted", "rejected", "all")


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def queue_items(
    project: Project,
    coder: str,
    status: str,
    codes: Sequence[str] = (),
    sources: Sequence[str] = (),
    phases: Sequence[str] = (),
    speakers: Sequence[str] = (),
) -> list[tuple[int, str]]:
    """(segment id, code id) pairs of a review queue in reading order (source, position, code).

    ``status``: ``suggested`` the machine's suggestions ``coder`` has not decided yet (no
    coding of theirs with that code covers the segment); ``accepted`` / ``rejected`` what
    ``coder`` decided so, on every segment the coding's span covers; ``all`` both machine suggestions
    and every coding of ``coder``. The other arguments narrow it (empty: no filter); ``codes``
    are taken as given (the caller expands a code to the codes below it)."""
    if status not in QUEUE_STATUSES:
        raise ValueError(f"status {status!r}")
    where, params = ["1 = 1"], []
    for column, names in (("s.source_id", sources), ("src.phase", phases), ("s.speaker", speakers)):
        if names:
            where.append(f"{column} IN ({_marks(names)})")
            params += list(names)
    code_clause = f" AND c.code_id IN ({_marks(codes)})" if codes else ""
    # A coding is in the queue of every segment its span covers (a suggestion: its own segment).
    head = """SELECT DISTINCT s.id, c.code_id, src.id AS src, s.position FROM codings c
              JOIN coding_segments cs ON cs.coding_id = c.id JOIN segments s ON s.id = cs.segment_id
              JOIN sources src ON src.id = s.source_id"""
    tail = "ORDER BY src.id, s.position, c.code_id"
    filters = " AND ".join(where)
    if status == "suggested":
        sql = f"""{head} WHERE c.coder IS NULL {code_clause} AND {filters}
                  AND NOT EXISTS (SELECT 1 FROM coding_segments dcs JOIN codings d ON d.id = dcs.coding_id
                                  WHERE dcs.segment_id = s.id AND d.code_id = c.code_id AND d.coder = ?) {tail}"""
        rows = project.conn.execute(sql, (*codes, *params, coder)).fetchall()
    elif status in ("accepted", "rejected"):
        sql = f"{head} WHERE c.coder = ? AND c.status = ? {code_clause} AND {filters} {tail}"
        rows = project.conn.execute(sql, (coder, status, *codes, *params)).fetchall()
    else:
        sql = f"{head} WHERE (c.coder IS NULL OR c.coder = ?) {code_clause} AND {filters} {tail}"
        rows = project.conn.execute(sql, (coder, *codes, *params)).fetchall()
    return [(r[0], r[1]) for r in rows]


def model_scores(project: Project) -> dict[tuple[int, str], float]:
    """(segment id, code id) -> the highest score the trained model gave that pair."""
    rows = project.conn.execute(
        "SELECT segment_id, code_id, MAX(score) FROM codings WHERE coder IS NULL AND origin = 'model' "
        "AND score IS NOT NULL GROUP BY segment_id, code_id"
    ).fetchall()
    return {(r[0], r[1]): r[2] for r in rows}


def last_reviewed(project: Project, coder: str, queue: str) -> int | None:
    """The segment ``coder`` last handled in the review queue named ``queue`` (None: none yet)."""
    row = project.conn.execute(
        "SELECT segment_id FROM review_progress WHERE coder = ? AND queue = ?", (coder, queue)
    ).fetchone()
    return None if row is None else row[0]


def save_review_progress(project: Project, coder: str, queue: str, segment_id: int) -> None:
    """Remember the last segment handled in a queue (its own small transaction)."""
    from qualkam.store.audit import now

    with project.transaction() as conn:
        conn.execute(
            """INSERT INTO review_progress (coder, queue, segment_id, updated_at) VALUES (?, ?, ?, ?)
               ON CONFLICT(coder, queue) DO UPDATE SET segment_id = excluded.segment_id,
               updated_at = excluded.updated_at""",
            (coder, queue, segment_id, now()),
        )


def reading_positions(project: Project, segment_ids: Sequence[int]) -> dict[int, tuple[str, int]]:
    """Segment id -> (source id, position): where each segment stands in reading order."""
    ids = list(dict.fromkeys(segment_ids))
    if not ids:
        return {}
    rows = project.conn.execute(
        f"SELECT s.id, s.source_id, s.position FROM segments s WHERE s.id IN ({_marks(ids)})", ids
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


@dataclass
class SegmentInContext:
    """One segment as a reviewer sees it: who spoke, where, the turns around it, what the
    machine suggested and what ``coder`` decided."""

    id: int
    source: str
    source_type: str | None
    phase: str | None
    speaker: str | None
    role: str | None
    time_start: str | None
    text: str
    start: int
    before: str | None
    after: str | None
    suggestions: list[dict[str, Any]] = field(default_factory=list)  # code, score, origin, evidence; best first
    decisions: dict[str, str] = field(default_factory=dict)  # code -> accepted / rejected


def _neighbour(project: Project, source: str, position: int) -> str | None:
    row = project.conn.execute(
        "SELECT speaker, text FROM segments WHERE source_id = ? AND position = ?", (source, position)
    ).fetchone()
    if row is None:
        return None
    speaker, text = row
    return f"{speaker}: {text}" if speaker else text


def segment_in_context(project: Project, segment_id: int, coder: str) -> SegmentInContext | None:
    """The segment with its context (None: no such segment any more)."""
    s = project.conn.execute(
        """SELECT s.*, src.type AS source_type, src.phase FROM segments s JOIN sources src ON src.id = s.source_id
           WHERE s.id = ?""",
        (segment_id,),
    ).fetchone()
    if s is None:
        return None
    suggestions = [
        {"code": r["code_id"], "score": r["score"], "origin": r["origin"], "evidence": json.loads(r["evidence"])}
        for r in project.conn.execute(
            "SELECT code_id, score, origin, evidence FROM codings WHERE segment_id = ? AND coder IS NULL "
            "ORDER BY score DESC, code_id",
            (segment_id,),
        )
    ]
    decisions = {  # every coding of the coder that covers the segment; an accepted one wins (it counts)
        r[0]: r[1]
        for r in project.conn.execute(
            "SELECT c.code_id, c.status FROM coding_segments cs JOIN codings c ON c.id = cs.coding_id "
            "WHERE cs.segment_id = ? AND c.coder = ? ORDER BY c.status = 'accepted', c.id",
            (segment_id, coder),
        )
    }
    return SegmentInContext(
        id=segment_id,
        source=s["source_id"],
        source_type=s["source_type"],
        phase=s["phase"],
        speaker=s["speaker"],
        role=s["role"],
        time_start=s["time_start"],
        text=s["text"],
        start=s["start"],
        before=_neighbour(project, s["source_id"], s["position"] - 1),
        after=_neighbour(project, s["source_id"], s["position"] + 1),
        suggestions=suggestions,
        decisions=decisions,
    )


# -- reconciling coders ---------------------------------------------------------------------
def segments_coded_by(project: Project, coder: str, codes: Sequence[str]) -> set[int]:
    """Segments where ``coder`` has any coding (accepted or rejected) of one of ``codes``
    (every segment such a coding's span covers)."""
    if not codes:
        return set()
    rows = project.conn.execute(
        f"SELECT DISTINCT cs.segment_id FROM codings c JOIN coding_segments cs ON cs.coding_id = c.id "
        f"WHERE c.coder = ? AND c.code_id IN ({_marks(codes)})",
        (coder, *codes),
    ).fetchall()
    return {r[0] for r in rows}


def accepted_codes(project: Project, coder: str, segment_id: int, codes: Sequence[str]) -> frozenset[str]:
    """Which of ``codes`` ``coder`` holds as accepted on one segment: an accepted coding of
    theirs covers it (inside a caller's transaction too: the same connection sees its own
    writes)."""
    if not codes:
        return frozenset()
    rows = project.conn.execute(
        f"SELECT DISTINCT c.code_id FROM coding_segments cs JOIN codings c ON c.id = cs.coding_id "
        f"WHERE cs.segment_id = ? AND c.coder = ? AND c.status = 'accepted' AND c.code_id IN ({_marks(codes)})",
        (segment_id, coder, *codes),
    ).fetchall()
    return frozenset(r[0] for r in rows)


def segment_ids(project: Project) -> set[int]:
    """Every segment id of the project."""
    return {r[0] for r in project.conn.execute("SELECT id FROM segments")}
