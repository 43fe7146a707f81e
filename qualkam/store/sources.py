"""Sources: their text, segments and machine suggestions, the files they came from, and the
headline counts."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
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
    with SourceWriter(project, record, codebook_id, origin) as writer:
        writer.add(segments, suggestions)
        return writer.finish()


PENDING_ROWS = 20_000  # suggestions held in memory before they wait in a temporary table


class SourceWriter:
    """One source written in parts, in one transaction: ``with SourceWriter(...) as w:``, then
    ``w.add(segments, suggestions)`` for each part in order and ``w.finish()``. Leaving the
    block with an error (or without ``finish``) rolls the source back whole (issue 14: a very
    large source is coded and stored a part at a time, so memory is bounded by a part, and a
    failure half-way leaves the project as it was).

    The rows are the ones ``store_source`` always wrote: segments in order (a segment whose
    span and text are unchanged keeps its id), people's codings re-anchored on moved text,
    segments no longer there deleted, then the machine suggestions. Suggestions are inserted
    last because every segment inserted after them would look through them (the coverage
    trigger of schema 006): beyond ``PENDING_ROWS`` they wait in a temporary table, on disk.
    Old segments not yet matched are told apart by a negative position while the source is
    written, so nothing of the source's size is held here.
    """

    def __init__(self, project: Project, record: SourceRecord, codebook_id: int | None, origin: str = "rule") -> None:
        self.project = project
        self.record = record
        self.codebook_id = codebook_id
        self.origin = origin
        self.result = StoreResult()
        self._stack: ExitStack | None = None
        self._conn: sqlite3.Connection | None = None
        self._stamp = ""
        self._had_segments = False  # the source was stored before: unchanged segments keep their ids
        self._pending: list[tuple] = []
        self._spilled = False
        self._finished = False

    def __enter__(self) -> SourceWriter:
        stack = ExitStack()
        conn = stack.enter_context(self.project.transaction())
        try:
            self._begin(conn)
        except BaseException:
            if not stack.__exit__(*sys.exc_info()):
                raise
        self._stack, self._conn = stack, conn
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        stack, self._stack, self._conn = self._stack, None, None
        if stack is None:
            return
        if kind is None and not self._finished:
            exc = RuntimeError("SourceWriter left without finish(): the source was not stored")
            stack.__exit__(RuntimeError, exc, None)
            raise exc
        stack.__exit__(kind, exc, tb)

    def abort(self) -> None:
        """Roll the source back (what a failure in the caller's own code calls)."""
        stack, self._stack, self._conn = self._stack, None, None
        if stack is not None:
            stack.__exit__(_Aborted, _Aborted(), None)

    def _begin(self, conn: sqlite3.Connection) -> None:
        # The text is bound as bytes cast to TEXT (the same value): a str bound as it is keeps
        # a UTF-8 copy of itself for as long as it lives, a second copy of a 200 MB source.
        record = self.record
        self._stamp = stamp = now()
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
            record.text.encode("utf-8"),  # bound as UTF-8 bytes, stored as TEXT (see below)
            record.unit,
            self.codebook_id,
            record.pipeline,
        )
        if old:
            conn.execute(
                """UPDATE sources SET path=?, format=?, encoding=?, content_hash=?, fingerprint=?, type=?, date=?,
                   phase=?, title=?, participants=?, attributes=?, text=CAST(? AS TEXT), unit=?, codebook_id=?,
                   pipeline=?, updated_at=? WHERE id=?""",
                values + (stamp, record.id),
            )
        else:
            conn.execute(
                """INSERT INTO sources (path, format, encoding, content_hash, fingerprint, type, date, phase, title,
                   participants, attributes, text, unit, codebook_id, pipeline, added_at, updated_at, id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?)""",
                values + (stamp, stamp, record.id),
            )
        conn.execute("DELETE FROM codings WHERE source_id = ? AND coder IS NULL", (record.id,))
        # Old segments get a negative position until a new segment with their span and text
        # takes them over; those still negative at the end are gone from the source.
        changed = conn.execute("UPDATE segments SET position = -1 - position WHERE source_id = ?", (record.id,))
        self._had_segments = changed.rowcount > 0

    def add(self, segments: Sequence[Segment], suggestions: Sequence[Sequence[Suggestion]]) -> None:
        """The next segments of the source, in order, with their suggestions."""
        conn = self._conn
        if conn is None:
            raise RuntimeError("SourceWriter.add outside its with block")
        record, stamp = self.record, self._stamp
        self.result.segments += len(segments)
        for seg, found in zip(segments, suggestions, strict=False):
            fields = (seg.position, seg.speaker, seg.role, seg.speaker_unit, seg.time_start, seg.time_end, seg.lemmas)
            row = None
            if self._had_segments:
                row = conn.execute(
                    """SELECT id FROM segments WHERE source_id = ? AND start = ? AND "end" = ? AND text = ?
                       AND position < 0 ORDER BY id DESC LIMIT 1""",
                    (record.id, seg.start, seg.end, seg.text),
                ).fetchone()
            if row is not None:
                seg_id = row[0]
                conn.execute(
                    """UPDATE segments SET position=?, speaker=?, role=?, speaker_unit=?, time_start=?, time_end=?,
                       lemmas=? WHERE id=?""",
                    fields + (seg_id,),
                )
            else:
                seg_id = row_id(
                    conn.execute(
                        """INSERT INTO segments (source_id, position, speaker, role, speaker_unit, time_start,
                       time_end, lemmas, start, "end", text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                        (record.id,) + fields + (seg.start, seg.end, seg.text),
                    )
                )
            for sug in found:
                evidence = json.dumps([e.as_dict() for e in sug.evidence], ensure_ascii=False)
                # A model suggestion carries its own origin, so one run can store rules and model.
                origin = getattr(sug, "origin", None) or self.origin
                self._pending.append(
                    (seg_id, record.id, seg.start, seg.end, seg.text, sug.code_id, origin, sug.score, evidence, stamp)
                )
            if len(self._pending) >= PENDING_ROWS:
                self._spill(conn)

    def _spill(self, conn: sqlite3.Connection) -> None:
        if not self._spilled:
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_PENDING} ({_PENDING_COLUMNS})")
            conn.execute(f"DELETE FROM {_PENDING}")
            self._spilled = True
        conn.executemany(f"INSERT INTO {_PENDING} ({_PENDING_COLUMNS}) VALUES ({', '.join('?' * 10)})", self._pending)
        self._pending.clear()

    def finish(self) -> StoreResult:
        """People's codings re-anchored, gone segments deleted, the suggestions written: the
        source is stored once the with block ends."""
        conn = self._conn
        if conn is None:
            raise RuntimeError("SourceWriter.finish outside its with block")
        record = self.record
        if self._spilled:
            self._spill(conn)
        _reanchor(conn, record, self.result)
        if record.state is not None:
            remember_files(self.project, [record.state])
        conn.execute("DELETE FROM segments WHERE source_id = ? AND position < 0", (record.id,))
        insert = """INSERT INTO codings (segment_id, source_id, start, "end", text, code_id, coder, origin, status,
           score, evidence, created_at, updated_at)"""
        if self._spilled:
            cursor = conn.execute(
                f"""{insert} SELECT segment_id, source_id, start, "end", text, code_id, NULL, origin, 'suggested',
                    score, evidence, stamp, stamp FROM {_PENDING} ORDER BY rowid"""
            )
            self.result.suggestions = cursor.rowcount
            conn.execute(f"DELETE FROM {_PENDING}")
        else:
            conn.executemany(
                f"{insert} VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 'suggested', ?, ?, ?, ?)",
                [(*row, row[-1]) for row in self._pending],
            )
            self.result.suggestions = len(self._pending)
            self._pending.clear()
        self._finished = True
        return self.result


class _Aborted(Exception):
    """What ``SourceWriter.abort`` rolls the transaction back with."""


_PENDING = "temp.qualkam_pending_codings"
_PENDING_COLUMNS = 'segment_id, source_id, start, "end", text, code_id, origin, score, evidence, stamp'


def _reanchor(conn: sqlite3.Connection, record: SourceRecord, result: StoreResult) -> None:
    """Move people's codings whose segment changed onto the new text; never delete them.

    A coding is found again by its own words: the occurrence nearest its old offset. Its
    anchor is then the first new segment it overlaps (it counts for every one it overlaps).
    If its words are gone, it stays in the store with no segment ("detached") and the run
    reports it. (The source's new segments have a position of 0 or more, old ones not kept
    a negative one: see ``SourceWriter``.)
    """
    human = conn.execute(
        """SELECT c.id, c.start, c.text, s.position FROM codings c LEFT JOIN segments s ON s.id = c.segment_id
           WHERE c.source_id = ? AND c.coder IS NOT NULL ORDER BY c.id""",
        (record.id,),
    ).fetchall()
    for coding_id, old_start, text, position in human:
        if position is not None and position >= 0:
            continue  # its segment is still there, unchanged
        hits = _occurrences(record.text, text)
        if not hits:
            conn.execute("UPDATE codings SET segment_id = NULL WHERE id = ?", (coding_id,))
            result.detached += 1
            continue
        start = min(hits, key=lambda pos: abs(pos - old_start))
        end = start + len(text)
        best = conn.execute(
            """SELECT id FROM segments WHERE source_id = ? AND position >= 0 AND "end" > ? AND start < ?
               ORDER BY position LIMIT 1""",
            (record.id, start, end),
        ).fetchone()
        conn.execute(
            'UPDATE codings SET segment_id = ?, start = ?, "end" = ? WHERE id = ?',
            (best[0] if best else None, start, end, coding_id),
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
