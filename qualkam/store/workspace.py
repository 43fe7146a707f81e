"""Reads the coding workspace (``qualkam serve``) needs beyond the shared ones: a source as the
document page shows it, its people's codings and the suggestions a coder has not decided, and
per-source and per-code counts for one coder or for everyone.

Every read names the coders it may return (``coders``): the web layer's blind rule is applied
here, in the SQL, so a blind coder's answer is never built from another person's rows.
Writes are not here: they go through ``qualkam.coding.spans`` (one transaction each).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qualkam.store.project import Project

# A person's coding the workspace shows: accepted, still anchored in its source's text (a
# detached coding's offsets no longer point at its words).
_SHOWN = "c.coder IS NOT NULL AND c.status = 'accepted' AND c.segment_id IS NOT NULL"
# A machine suggestion ``?`` (a coder) has not decided: no row of theirs on its segment and code
# (the rule of ``qualkam.store.layers``, for one person instead of anyone).
_UNDECIDED_BY = (
    "c.coder IS NULL AND NOT EXISTS (SELECT 1 FROM codings d WHERE d.segment_id = c.segment_id "
    "AND d.code_id = c.code_id AND d.coder = ?)"
)


def _in(column: str, values: Sequence[Any]) -> str:
    return f"{column} IN ({', '.join('?' * len(values))})"


def source_exists(project: Project, source_id: str) -> bool:
    """Whether the project holds a source with this id."""
    return project.conn.execute("SELECT 1 FROM sources WHERE id = ?", (source_id,)).fetchone() is not None


def source_summaries(project: Project) -> list[dict[str, Any]]:
    """Every source, by id: id, title, type, phase, date, attributes (a dict), participants (a
    dict), speakers (in order of first turn), segments and words (whitespace-separated)."""
    speakers: dict[str, list[str]] = {}
    for source, speaker in project.conn.execute(
        "SELECT source_id, speaker FROM segments WHERE speaker IS NOT NULL AND speaker <> '' "
        "GROUP BY source_id, speaker ORDER BY source_id, MIN(position)"
    ):
        speakers.setdefault(source, []).append(speaker)
    segments = dict(project.conn.execute("SELECT source_id, COUNT(*) FROM segments GROUP BY source_id").fetchall())
    rows = project.conn.execute(
        "SELECT id, title, type, phase, date, attributes, participants, text FROM sources ORDER BY id"
    ).fetchall()
    return [
        {
            "id": r["id"],
            "title": r["title"],
            "type": r["type"],
            "phase": r["phase"],
            "date": r["date"],
            "attributes": json.loads(r["attributes"] or "{}"),
            "participants": json.loads(r["participants"] or "{}"),
            "speakers": speakers.get(r["id"], []),
            "segments": int(segments.get(r["id"], 0)),
            "words": len(r["text"].split()),
        }
        for r in rows
    ]


def coded_segments(project: Project, coder: str) -> dict[str, int]:
    """Source id -> how many of its segments ``coder`` has coded (accepted codings; a span counts
    for every segment it overlaps, as ``coding_segments`` lists them)."""
    return dict(
        project.conn.execute(
            f"SELECT c.source_id, COUNT(DISTINCT cs.segment_id) FROM codings c "
            f"JOIN coding_segments cs ON cs.coding_id = c.id WHERE {_SHOWN} AND c.coder = ? GROUP BY c.source_id",
            (coder,),
        ).fetchall()
    )


def waiting_suggestions(project: Project, coder: str | None) -> dict[str, int]:
    """Source id -> machine suggestions ``coder`` has not decided (every suggestion for None)."""
    if coder is None:
        sql, params = "SELECT source_id, COUNT(*) FROM codings c WHERE c.coder IS NULL GROUP BY source_id", []
    else:
        sql, params = f"SELECT source_id, COUNT(*) FROM codings c WHERE {_UNDECIDED_BY} GROUP BY source_id", [coder]
    return dict(project.conn.execute(sql, params).fetchall())


def source_document(project: Project, source_id: str) -> dict[str, Any] | None:
    """A source's fields and stored text (CRLF as stored), with its attributes as a dict; None
    when there is no such source."""
    row = project.conn.execute(
        "SELECT id, title, type, phase, date, attributes, participants, text FROM sources WHERE id = ?", (source_id,)
    ).fetchone()
    if row is None:
        return None
    found = dict(row)
    found["attributes"] = json.loads(found["attributes"] or "{}")
    found["participants"] = json.loads(found["participants"] or "{}")
    return found


def source_segments(project: Project, source_id: str) -> list[dict[str, Any]]:
    """A source's segments in reading order: id, start, end, speaker, role, time_start, time_end."""
    return [
        dict(r)
        for r in project.conn.execute(
            'SELECT id, start, "end", speaker, role, time_start, time_end FROM segments '
            "WHERE source_id = ? ORDER BY position",
            (source_id,),
        )
    ]


def source_codings(
    project: Project, source_id: str, coders: Sequence[str] | None = None, hide_rejected_by: str | None = None
) -> list[dict[str, Any]]:
    """People's accepted codings on a source, by start: id, start, end, code, coder, status,
    origin, memo, updated_at. ``coders`` keeps only theirs (None: everyone's; empty: none)."""
    if coders is not None and not coders:
        return []
    where, params = [_SHOWN, "c.source_id = ?"], [source_id]
    if coders is not None:
        where.append(_in("c.coder", coders))
        params += list(coders)
    return [
        dict(r)
        for r in project.conn.execute(
            f"""SELECT c.id, c.start, c."end", c.code_id AS code, c.coder, c.status, c.origin, c.memo, c.updated_at
                FROM codings c WHERE {" AND ".join(where)} ORDER BY c.start, c."end", c.code_id, c.coder, c.id""",
            params,
        )
    ]


def source_suggestions(project: Project, source_id: str, coder: str | None) -> list[dict[str, Any]]:
    """The machine's suggestions on a source that ``coder`` has not decided (all for None), by
    start: id, start, end, segment, code, origin, score, evidence (a list of dicts)."""
    if coder is None:
        condition, params = "c.coder IS NULL", [source_id]
    else:
        condition, params = _UNDECIDED_BY, [coder, source_id]
    rows = project.conn.execute(
        f"""SELECT c.id, c.start, c."end", c.segment_id AS segment, c.code_id AS code, c.origin, c.score, c.evidence
            FROM codings c WHERE {condition} AND c.source_id = ? ORDER BY c.start, c.code_id, c.id""",
        params,
    ).fetchall()
    out = []
    for r in rows:
        found = dict(r)
        found["evidence"] = json.loads(found["evidence"] or "[]")
        out.append(found)
    return out


def code_counts(project: Project, coders: Sequence[str] | None = None) -> dict[str, int]:
    """Code id -> people's accepted codings of it (``coders``' only when given; empty: none)."""
    if coders is not None and not coders:
        return {}
    where, params = [_SHOWN], []
    if coders is not None:
        where.append(_in("c.coder", coders))
        params += list(coders)
    return dict(
        project.conn.execute(
            f"SELECT c.code_id, COUNT(*) FROM codings c WHERE {' AND '.join(where)} GROUP BY c.code_id", params
        ).fetchall()
    )


def suggestion_counts(project: Project) -> dict[str, int]:
    """Code id -> the machine's suggestions of it."""
    return dict(
        project.conn.execute("SELECT code_id, COUNT(*) FROM codings WHERE coder IS NULL GROUP BY code_id").fetchall()
    )


def segment_texts(project: Project, segment_ids: Sequence[int]) -> dict[int, str]:
    """Segment id -> its text: the context an excerpt is quoted in."""
    wanted = sorted({int(s) for s in segment_ids})
    found: dict[int, str] = {}
    for i in range(0, len(wanted), 500):  # SQLite's limit on parameters
        chunk = wanted[i : i + 500]
        found.update(
            (int(r[0]), str(r[1]))
            for r in project.conn.execute(f"SELECT id, text FROM segments WHERE {_in('id', chunk)}", chunk)
        )
    return found


def coding_summary(project: Project, coding_id: int) -> dict[str, Any] | None:
    """One coding as the workspace shows it (the fields of ``source_codings``, with its source
    and text); None when there is no such coding."""
    row = project.conn.execute(
        """SELECT c.id, c.source_id AS source, c.start, c."end", c.code_id AS code, c.coder, c.status, c.origin,
                  c.memo, c.updated_at, c.text FROM codings c WHERE c.id = ?""",
        (coding_id,),
    ).fetchone()
    return None if row is None else dict(row)


def people_coding(
    project: Project, source_id: str, start: int, end: int, code: str, coder: str
) -> dict[str, Any] | None:
    """The accepted coding of exactly this span and code by ``coder``, if any (its id, status)."""
    row = project.conn.execute(
        'SELECT id, status FROM codings WHERE source_id = ? AND start = ? AND "end" = ? AND code_id = ? AND coder = ? '
        "AND status = 'accepted'",
        (source_id, start, end, code, coder),
    ).fetchone()
    return None if row is None else dict(row)
