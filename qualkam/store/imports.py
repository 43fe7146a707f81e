"""The reads and writes of coding sheets and of importing people's codings (sheets, long CSVs,
REFI-QDA selections): segments with their context, suggestions and decisions, memos added once.

Writes run inside the caller's ``project.transaction()``: an import is one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from qualkam.store.audit import now, record_audit

if TYPE_CHECKING:
    from qualkam.store.project import Project


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def sheet_segments(
    project: Project, sources: Sequence[str] = (), phases: Sequence[str] = (), speakers: Sequence[str] = ()
) -> list[sqlite3.Row]:
    """Segments (id, source_id, position, speaker, role, text, phase) in source and position order,
    only those of ``sources``, of sources in ``phases`` and by ``speakers`` when given."""
    where: list[str] = []
    params: list[str] = []
    if speakers:
        where.append(f"s.speaker IN ({_marks(speakers)})")
        params += list(speakers)
    if sources:
        where.append(f"src.id IN ({_marks(sources)})")
        params += list(sources)
    if phases:
        where.append(f"src.phase IN ({_marks(phases)})")
        params += list(phases)
    return project.conn.execute(
        f"""SELECT s.id, s.source_id, s.position, s.speaker, s.role, s.text, src.phase
            FROM segments s JOIN sources src ON src.id = s.source_id
            {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY s.source_id, s.position""",
        params,
    ).fetchall()


def suggestions_by_segment(project: Project) -> list[sqlite3.Row]:
    """The machine's suggestions (segment_id, code_id, score, evidence), per segment best first,
    ties in codebook order."""
    return project.conn.execute(
        """SELECT c.segment_id, c.code_id, c.score, c.evidence FROM codings c
           LEFT JOIN codes k ON k.id = c.code_id
           WHERE c.coder IS NULL ORDER BY c.segment_id, c.score DESC, k.position"""
    ).fetchall()


def coder_decisions(project: Project, coder: str) -> list[sqlite3.Row]:
    """One coder's decisions (segment_id, code_id, status) in codebook order: a coding counts for
    every segment its span overlaps (``coding_segments``), once per segment, code and status."""
    return project.conn.execute(
        """SELECT DISTINCT cs.segment_id, c.code_id, c.status, k.position FROM codings c
           JOIN coding_segments cs ON cs.coding_id = c.id
           LEFT JOIN codes k ON k.id = c.code_id
           WHERE c.coder = ? ORDER BY k.position, c.code_id, cs.segment_id, c.status""",
        (coder,),
    ).fetchall()


def segments_coded_with(project: Project, code_ids: Sequence[str]) -> set[int]:
    """Segments where any of ``code_ids`` is suggested or coded by anyone (a span counts for
    every segment it overlaps)."""
    if not code_ids:
        return set()
    rows = project.conn.execute(
        f"""SELECT DISTINCT cs.segment_id FROM codings c JOIN coding_segments cs ON cs.coding_id = c.id
            WHERE c.code_id IN ({_marks(code_ids)})""",
        list(code_ids),
    )
    return {r[0] for r in rows}


def segment_texts(project: Project) -> dict[int, tuple[str, str]]:
    """Segment id -> (source id, text)."""
    return {r[0]: (r[1], r[2]) for r in project.conn.execute("SELECT id, source_id, text FROM segments")}


def source_lengths(project: Project) -> dict[str, int]:
    """Source id -> length of its stored text (code points)."""
    return {r[0]: r[1] for r in project.conn.execute("SELECT id, length(text) FROM sources")}


def segment_spans(project: Project, source_id: str) -> list[tuple[int, int, int]]:
    """A source's segments as (id, start, end), in text order."""
    return [
        (r[0], r[1], r[2])
        for r in project.conn.execute(
            'SELECT id, start, "end" FROM segments WHERE source_id = ? ORDER BY start', (source_id,)
        )
    ]


def suggested_pairs(project: Project, source_id: str | None = None) -> set[tuple[int, str]]:
    """(segment id, code id) of every machine suggestion, of one source when given."""
    if source_id is None:
        rows = project.conn.execute("SELECT segment_id, code_id FROM codings WHERE coder IS NULL")
    else:
        rows = project.conn.execute(
            "SELECT segment_id, code_id FROM codings WHERE source_id = ? AND coder IS NULL", (source_id,)
        )
    return {(r[0], r[1]) for r in rows}


def coder_spans(project: Project, coder: str) -> dict[tuple[int, str], list[tuple[int, int]]]:
    """(segment id, code id) -> the (start, end) of each of one coder's codings that counts for
    that segment (its span overlaps it), in text order."""
    rows = project.conn.execute(
        """SELECT cs.segment_id, c.code_id, c.start, c."end" FROM codings c
           JOIN coding_segments cs ON cs.coding_id = c.id
           WHERE c.coder = ? ORDER BY c.start, c."end", c.id""",
        (coder,),
    )
    found: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for r in rows:
        found.setdefault((r[0], r[1]), []).append((r[2], r[3]))
    return found


def span_segments(project: Project, source_id: str, start: int, end: int) -> tuple[int, list[int]] | None:
    """(length of the source's text, the segments [start, end) overlaps by a character, in text
    order); None when there is no such source."""
    row = project.conn.execute("SELECT length(text) FROM sources WHERE id = ?", (source_id,)).fetchone()
    if row is None:
        return None
    ids = project.conn.execute(
        'SELECT id FROM segments WHERE source_id = ? AND "end" > ? AND start < ? ORDER BY start',
        (source_id, start, end),
    )
    return int(row[0]), [int(r[0]) for r in ids]


def is_suggested(project: Project, segment_id: int, code_id: str) -> bool:
    """Whether the machine suggested ``code_id`` for the segment."""
    row = project.conn.execute(
        "SELECT 1 FROM codings WHERE segment_id = ? AND code_id = ? AND coder IS NULL LIMIT 1", (segment_id, code_id)
    ).fetchone()
    return row is not None


def add_memo_once(
    project: Project,
    target_type: str,
    target_id: str | None,
    coder: str,
    text: str,
    via: str,
    created: str | None = None,
    modified: str | None = None,
) -> tuple[int, bool]:
    """A memo, once: the same words by the same coder on the same target are not added again.
    (memo id, whether it is new); a new one is audited. Inside the caller's transaction."""
    conn = project.conn
    row = conn.execute(
        "SELECT id FROM memos WHERE target_type = ? AND target_id IS ? AND coder = ? AND text = ?",
        (target_type, target_id, coder, text),
    ).fetchone()
    if row is not None:
        return int(row[0]), False
    created = created or now()
    memo_id = conn.execute(
        "INSERT INTO memos (target_type, target_id, coder, text, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        (target_type, target_id, coder, text, created, modified or created),
    ).lastrowid
    assert memo_id is not None
    record_audit(project, coder, "memo", target_type, target_id, None, {"memo": memo_id, "text": text}, via)
    return int(memo_id), True
