"""Sources: their text, segments and machine suggestions, the files they came from, and the
headline counts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qualkam.store.audit import now
from qualkam.store.schema import row_id

if TYPE_CHECKING:
    from qualkam.coding.segment import Segment
    from qualkam.coding.suggest import Suggestion
    from qualkam.store.project import Project


@dataclass
class FileState:
    """A file as the project last saw it: its stat key, its source, the warnings it gave."""

    path: str  # absolute
    key: str | None  # None: changed too recently to trust its stat next time
    source_id: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class SourceRecord:
    """A source ready to be stored (text plus metadata)."""

    id: str
    path: str
    format: str
    encoding: str | None
    content_hash: str
    fingerprint: str
    type: str | None
    date: str | None
    phase: str | None
    title: str | None
    participants: dict[str, Any]
    attributes: dict[str, Any]
    text: str
    unit: str
    pipeline: str
    state: FileState | None = None  # the file it came from, remembered with it


@dataclass
class StoreResult:
    """What storing one source did to the people's codings in it."""

    reanchored: int = 0
    detached: int = 0
    suggestions: int = 0
    segments: int = 0


def remember_files(project: Project, states: Sequence[FileState]) -> None:
    """Record (or, for a key None, forget) files' states, in one transaction (a step of the
    caller's, if any); nothing is written when there are none."""
    if not states:
        return
    with project.transaction() as conn:
        conn.executemany("DELETE FROM source_files WHERE path = ?", [(s.path,) for s in states if s.key is None])
        conn.executemany(
            "INSERT OR REPLACE INTO source_files (path, source_id, key, warnings) VALUES (?, ?, ?, ?)",
            [
                (s.path, s.source_id, s.key, json.dumps(s.warnings, ensure_ascii=False))
                for s in states
                if s.key is not None
            ],
        )


def fingerprints(project: Project) -> dict[str, str]:
    """Source id -> fingerprint of what it was last coded from (text, metadata, settings)."""
    return {row[0]: row[1] for row in project.conn.execute("SELECT id, fingerprint FROM sources")}


def file_states(project: Project) -> dict[str, FileState]:
    """Absolute path -> the file's state when it was last coded, for sources still stored."""
    return {
        row[0]: FileState(row[0], row[2], row[1], json.loads(row[3]))
        for row in project.conn.execute(
            "SELECT f.path, f.source_id, f.key, f.warnings FROM source_files f JOIN sources s ON s.id = f.source_id"
        )
    }


def source_paths(project: Project) -> dict[str, str]:
    """Source id -> the path it was read from."""
    return {row[0]: row[1] for row in project.conn.execute("SELECT id, path FROM sources")}


def counts(project: Project) -> dict[str, int]:
    """Headline numbers for the summary."""
    one = lambda sql: int(project.conn.execute(sql).fetchone()[0])  # noqa: E731
    return {
        "sources": one("SELECT COUNT(*) FROM sources"),
        "segments": one("SELECT COUNT(*) FROM segments"),
        "suggestions": one("SELECT COUNT(*) FROM codings WHERE coder IS NULL"),
        "human_codings": one("SELECT COUNT(*) FROM codings WHERE coder IS NOT NULL"),
        "detached": one("SELECT COUNT(*) FROM codings WHERE segment_id IS NULL"),
    }


def store_source(
    project: Project,
    record: SourceRecord,
    codebook_id: int | None,
    segments: Sequence[Segment],
    suggestions: Sequence[Sequence[Suggestion]],
    origin: str = "rule",
) -> StoreResult:
    """Write one source, its segments and fresh machine suggestions in one transaction (a
    step of the caller's, if any). People's codings on it are kept, re-anchored on moved text."""
    with project.transaction() as conn:
        return _store_source(project, conn, record, codebook_id, segments, suggestions, origin)


def _store_source(
    project: Project,
    conn: sqlite3.Connection,
    record: SourceRecord,
    codebook_id: int | None,
    segments: Sequence[Segment],
    suggestions: Sequence[Sequence[Suggestion]],
    origin: str,
) -> StoreResult:
    stamp = now()
    result = StoreResult(segments=len(segments))
    old = conn.execute("SELECT added_at FROM sources WHERE id = ?", (record.id,)).fetchone()
    values = (
        record.path,
        record.format,
        record.encoding,
        record.content_hash,
        record.fingerprint,
        record.type,
        record.date,
        record.phase,
        record.title,
        json.dumps(record.participants, sort_keys=True),
        json.dumps(record.attributes, sort_keys=True, default=str),
        record.text,
        record.unit,
        codebook_id,
        record.pipeline,
    )
    if old:
        conn.execute(
            """UPDATE sources SET path=?, format=?, encoding=?, content_hash=?, fingerprint=?, type=?, date=?,
               phase=?, title=?, participants=?, attributes=?, text=?, unit=?, codebook_id=?, pipeline=?,
               updated_at=? WHERE id=?""",
            values + (stamp, record.id),
        )
    else:
        conn.execute(
            """INSERT INTO sources (path, format, encoding, content_hash, fingerprint, type, date, phase, title,
               participants, attributes, text, unit, codebook_id, pipeline, added_at, updated_at, id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            values + (stamp, stamp, record.id),
        )
    conn.execute("DELETE FROM codings WHERE source_id = ? AND coder IS NULL", (record.id,))
    existing = {
        (row["start"], row["end"], row["text"]): row["id"]
        for row in conn.execute('SELECT id, start, "end", text FROM segments WHERE source_id = ?', (record.id,))
    }
    new_ids: list[int] = []
    kept: set[int] = set()
    for seg in segments:
        fields = (seg.position, seg.speaker, seg.role, seg.speaker_unit, seg.time_start, seg.time_end, seg.lemmas)
        seg_id = existing.get((seg.start, seg.end, seg.text))
        if seg_id is not None and seg_id not in kept:
            conn.execute(
                """UPDATE segments SET position=?, speaker=?, role=?, speaker_unit=?, time_start=?, time_end=?,
                   lemmas=? WHERE id=?""",
                fields + (seg_id,),
            )
        else:
            seg_id = row_id(
                conn.execute(
                    """INSERT INTO segments (source_id, position, speaker, role, speaker_unit, time_start, time_end,
                   lemmas, start, "end", text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (record.id,) + fields + (seg.start, seg.end, seg.text),
                )
            )
        kept.add(seg_id)
        new_ids.append(seg_id)
    _reanchor(conn, record, segments, new_ids, kept, result)
    if record.state is not None:
        remember_files(project, [record.state])
    stale = [seg_id for seg_id in existing.values() if seg_id not in kept]
    conn.executemany("DELETE FROM segments WHERE id = ?", [(s,) for s in stale])
    rows = []
    for seg, seg_id, found in zip(segments, new_ids, suggestions, strict=False):
        for sug in found:
            evidence = json.dumps([e.as_dict() for e in sug.evidence], ensure_ascii=False)
            # A model suggestion carries its own origin, so one run can store rules and model.
            rows.append(
                (
                    seg_id,
                    record.id,
                    seg.start,
                    seg.end,
                    seg.text,
                    sug.code_id,
                    getattr(sug, "origin", None) or origin,
                    sug.score,
                    evidence,
                    stamp,
                    stamp,
                )
            )
    conn.executemany(
        """INSERT INTO codings (segment_id, source_id, start, "end", text, code_id, coder, origin, status, score,
           evidence, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 'suggested', ?, ?, ?, ?)""",
        rows,
    )
    result.suggestions = len(rows)
    return result


def _reanchor(
    conn: sqlite3.Connection,
    record: SourceRecord,
    segments: Sequence[Segment],
    seg_ids: list[int],
    kept: set[int],
    result: StoreResult,
) -> None:
    """Move people's codings whose segment changed onto the new text; never delete them.

    A coding is found again by its own words: the occurrence nearest its old offset. Its
    anchor is then the first new segment it overlaps (it counts for every one it overlaps).
    If its words are gone, it stays in the store with no segment ("detached") and the run
    reports it.
    """
    human = conn.execute(
        'SELECT id, segment_id, start, "end", text FROM codings WHERE source_id = ? AND coder IS NOT NULL',
        (record.id,),
    ).fetchall()
    for row in human:
        if row["segment_id"] in kept:
            continue
        hits = _occurrences(record.text, row["text"])
        if not hits:
            conn.execute("UPDATE codings SET segment_id = NULL WHERE id = ?", (row["id"],))
            result.detached += 1
            continue
        start = min(hits, key=lambda pos: abs(pos - row["start"]))
        end = start + len(row["text"])
        best = next(
            (
                seg_id
                for seg, seg_id in zip(segments, seg_ids, strict=False)
                if min(end, seg.end) > max(start, seg.start)
            ),
            None,
        )
        conn.execute(
            'UPDATE codings SET segment_id = ?, start = ?, "end" = ? WHERE id = ?', (best, start, end, row["id"])
        )
        result.reanchored += 1


def _occurrences(text: str, needle: str) -> list[int]:
    if not needle:
        return []
    hits, pos = [], text.find(needle)
    while pos != -1:
        hits.append(pos)
        pos = text.find(needle, pos + 1)
    return hits
