"""People's codings: a person's decision on one code and segment, and a project copied for one
coder or merged back (``qualkam project clone|merge``)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualkam.errors import NotFoundError, QualkamError, StoreError
from qualkam.store.audit import now, record_audit
from qualkam.store.schema import row_id

if TYPE_CHECKING:
    from qualkam.store.project import Project


@dataclass
class Outcome:
    """What a decision did: ``inserted``, ``updated`` or ``unchanged``."""

    change: str
    coding_id: int
    status: str


def coding_row(project: Project, coding_id: int) -> dict[str, Any]:
    """A coding as the audit trail records it; NotFoundError when there is none."""
    row = project.conn.execute(
        'SELECT id, segment_id, source_id, start, "end", code_id, coder, origin, status, memo, created_at, updated_at '
        "FROM codings WHERE id = ?",
        (coding_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no coding {coding_id} in the project", argument="coding_id")
    return dict(row)


def write_decision(
    project: Project,
    coder: str,
    segment_id: int,
    code_id: str,
    action: str,
    memo: str | None = None,
    at: str | None = None,
    span: tuple[int, int] | None = None,
    via: str = "review",
    actor: str | None = None,
) -> Outcome:
    """Write one person's decision (``accept``, ``reject``, ``add`` or ``remove``) on a segment
    and code, with its audit line, in one transaction (a step of the caller's, if any).

    The decision covers ``span`` (by default the whole segment). A person has one row per exact
    span, code and coder: deciding again updates it, the same decision changes nothing. A
    ``remove`` of the whole segment rejects every coding of the coder with that code that counts
    for the segment (their spans kept), so the segment no longer does. The caller has checked
    the coder's name and the code."""
    with project.transaction() as conn:
        seg = conn.execute('SELECT id, source_id, start, "end" FROM segments WHERE id = ?', (segment_id,)).fetchone()
        if seg is None:
            raise NotFoundError(f"unknown segment {segment_id}")
        start, end = span if span else (seg["start"], seg["end"])
        status = "accepted" if action in ("accept", "add") else "rejected"
        machine = _machine_origin(conn, segment_id, code_id)
        existing = _person_row(conn, seg["source_id"], start, end, code_id, coder)
        if action == "remove" and span is None:
            covering = conn.execute(
                "SELECT c.id FROM coding_segments cs JOIN codings c ON c.id = cs.coding_id WHERE cs.segment_id = ? "
                "AND c.code_id = ? AND c.coder = ? AND c.status = 'accepted' ORDER BY c.id",
                (segment_id, code_id, coder),
            ).fetchall()
            if covering:
                outcomes = [
                    _update_row(project, row["id"], status, memo, None, "remove", at, via, actor or coder)
                    for row in covering
                ]
                return outcomes[0]
        if existing is None and action == "remove":
            if machine is None:
                raise QualkamError(f"segment {segment_id} has no code {code_id!r} from {coder} or the rules to remove")
        if existing is not None:
            origin = "human" if action == "add" else None
            return _update_row(project, existing, status, memo, origin, action, at, via, actor or coder, (start, end))
        origin = machine if machine is not None and action != "add" else "human"
        return _insert_row(
            project,
            seg["source_id"],
            segment_id,
            start,
            end,
            code_id,
            coder,
            origin,
            status,
            memo,
            at,
            via,
            action,
            actor,
        )


def write_span(
    project: Project,
    coder: str,
    source_id: str,
    start: int,
    end: int,
    code_id: str,
    memo: str | None = None,
    status: str = "accepted",
    at: str | None = None,
    via: str = "workspace",
    actor: str | None = None,
) -> Outcome:
    """A person's coding of any span [start, end) of a source (code points of its stored text),
    anchored to the first segment it overlaps. The same span, code and coder again changes
    nothing (or updates its status and memo). The caller has checked the coder and the code."""
    with project.transaction() as conn:
        row = conn.execute("SELECT length(text) FROM sources WHERE id = ?", (source_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no source {source_id!r} in the project", argument="source")
        if not 0 <= start < end <= row[0]:
            raise QualkamError(
                f"the span {start}-{end} is not inside source {source_id!r} ({row[0]} characters); "
                "a span needs 0 <= start < end <= the length of the text",
                arguments=("start", "end"),
            )
        anchor = conn.execute(
            'SELECT id FROM segments WHERE source_id = ? AND "end" > ? AND start < ? ORDER BY start LIMIT 1',
            (source_id, start, end),
        ).fetchone()
        if anchor is None:
            raise QualkamError(
                f"the span {start}-{end} of source {source_id!r} holds no segment's text (only the space "
                "between them); select some of the text",
                arguments=("start", "end"),
            )
        action = "add" if status == "accepted" else "reject"
        existing = _person_row(conn, source_id, start, end, code_id, coder)
        if existing is not None:
            return _update_row(project, existing, status, memo, None, action, at, via, actor or coder)
        machine = conn.execute(
            'SELECT origin FROM codings WHERE source_id = ? AND start = ? AND "end" = ? AND code_id = ? '
            "AND coder IS NULL ORDER BY score DESC LIMIT 1",
            (source_id, start, end, code_id),
        ).fetchone()
        origin = machine["origin"] if machine is not None and status == "rejected" else "human"
        return _insert_row(
            project, source_id, anchor["id"], start, end, code_id, coder, origin, status, memo, at, via, action, actor
        )


def _machine_origin(conn: sqlite3.Connection, segment_id: int, code_id: str) -> str | None:
    row = conn.execute(
        "SELECT origin FROM codings WHERE segment_id = ? AND code_id = ? AND coder IS NULL ORDER BY score DESC LIMIT 1",
        (segment_id, code_id),
    ).fetchone()
    return None if row is None else str(row["origin"])


def _person_row(conn: sqlite3.Connection, source_id: str, start: int, end: int, code_id: str, coder: str) -> int | None:
    row = conn.execute(
        'SELECT id FROM codings WHERE source_id = ? AND start = ? AND "end" = ? AND code_id = ? AND coder = ?',
        (source_id, start, end, code_id, coder),
    ).fetchone()
    return None if row is None else int(row["id"])


def _span_text(conn: sqlite3.Connection, source_id: str, start: int, end: int) -> str:
    return str(
        conn.execute(
            "SELECT substr(text, ?, ?) FROM sources WHERE id = ?", (start + 1, end - start, source_id)
        ).fetchone()[0]
    )


def _update_row(
    project: Project,
    coding_id: int,
    status: str,
    memo: str | None,
    origin: str | None,
    action: str,
    at: str | None,
    via: str,
    actor: str,
    span: tuple[int, int] | None = None,
) -> Outcome:
    """Change a person's row (status, memo, origin, span); the same values again change nothing."""
    before = coding_row(project, coding_id)
    start, end = span if span else (before["start"], before["end"])
    new_memo = memo if memo is not None else before["memo"]
    new_origin = origin or before["origin"]
    if (before["status"], before["memo"], before["origin"], before["start"], before["end"]) == (
        status,
        new_memo,
        new_origin,
        start,
        end,
    ):
        return Outcome("unchanged", coding_id, status)
    conn = project.conn
    conn.execute(
        'UPDATE codings SET status = ?, origin = ?, memo = ?, start = ?, "end" = ?, text = ?, updated_at = ? '
        "WHERE id = ?",
        (
            status,
            new_origin,
            new_memo,
            start,
            end,
            _span_text(conn, before["source_id"], start, end),
            at or now(),
            coding_id,
        ),
    )
    record_audit(project, actor, action, "coding", str(coding_id), before, coding_row(project, coding_id), via)
    return Outcome("updated", coding_id, status)


def _insert_row(
    project: Project,
    source_id: str,
    segment_id: int,
    start: int,
    end: int,
    code_id: str,
    coder: str,
    origin: str,
    status: str,
    memo: str | None,
    at: str | None,
    via: str,
    action: str,
    actor: str | None,
) -> Outcome:
    conn = project.conn
    stamp = at or now()
    coding_id = row_id(
        conn.execute(
            """INSERT INTO codings (segment_id, source_id, start, "end", text, code_id, coder, origin, status,
               score, evidence, memo, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '[]', ?, ?, ?)""",
            (
                segment_id,
                source_id,
                start,
                end,
                _span_text(conn, source_id, start, end),
                code_id,
                coder,
                origin,
                status,
                memo,
                stamp,
                stamp,
            ),
        )
    )
    record_audit(project, actor or coder, action, "coding", str(coding_id), None, coding_row(project, coding_id), via)
    return Outcome("inserted", coding_id, status)


def delete_coding(project: Project, coding_id: int, actor: str, via: str = "workspace") -> dict[str, Any]:
    """Delete a person's coding (the caller checked it is theirs); the audit line keeps it whole."""
    with project.transaction() as conn:
        before = coding_row(project, coding_id)
        conn.execute("DELETE FROM codings WHERE id = ?", (coding_id,))
        record_audit(project, actor, "delete", "coding", str(coding_id), before, None, via)
        return before


def set_coding_memo(project: Project, coding_id: int, memo: str | None, actor: str, via: str = "workspace") -> dict:
    """A person's memo on their own coding (None or empty clears it), with its audit line."""
    with project.transaction() as conn:
        before = coding_row(project, coding_id)
        memo = memo or None
        if before["memo"] != memo:
            conn.execute("UPDATE codings SET memo = ?, updated_at = ? WHERE id = ?", (memo, now(), coding_id))
            record_audit(project, actor, "memo", "coding", str(coding_id), before, coding_row(project, coding_id), via)
        return coding_row(project, coding_id)


def set_origin(project: Project, coding_id: int, origin: str) -> None:
    """Keep the origin (``rule``, ``model``) another project recorded for a merged coding."""
    with project.transaction() as conn:
        conn.execute("UPDATE codings SET origin = ? WHERE id = ?", (origin, coding_id))


def person_status(
    project: Project, segment_id: int, code_id: str, coder: str, span: tuple[int, int] | None = None
) -> str | None:
    """``accepted`` or ``rejected``: what ``coder`` decided on this code at ``span`` of the
    segment's source (by default the whole segment); None: nothing."""
    row = project.conn.execute(
        """SELECT c.status FROM codings c JOIN segments s ON s.id = ?
           WHERE c.source_id = s.source_id AND c.start = COALESCE(?, s.start) AND c."end" = COALESCE(?, s."end")
             AND c.code_id = ? AND c.coder = ?""",
        (segment_id, *(span or (None, None)), code_id, coder),
    ).fetchone()
    return None if row is None else str(row[0])


def source_ids_by_hash(project: Project) -> dict[str, str]:
    """The hash of a source's text -> its id: how a source is found again in another project."""
    return {r["content_hash"]: r["id"] for r in project.conn.execute("SELECT id, content_hash FROM sources")}


def segment_spans(project: Project, source_id: str) -> list[tuple[int, int, int]]:
    """(segment id, start, end) of a source's segments, in order."""
    return [
        (r[0], r[1], r[2])
        for r in project.conn.execute(
            'SELECT id, start, "end" FROM segments WHERE source_id = ? ORDER BY position', (source_id,)
        )
    ]


# -- a copy for one coder ------------------------------------------------------------------
def copy_project(project: Project, target: Path) -> None:
    """A byte-for-byte copy of the project's database at ``target`` (SQLite's backup API)."""
    with sqlite3.connect(target) as conn:
        project.conn.backup(conn)
    conn.close()


def keep_only(project: Project, coder: str, source: str) -> None:
    """Remove every other person's codings, memos, audit lines and review places (a copy for
    ``coder`` made from ``source``), in one transaction; then fold the log into the file."""
    with project.transaction() as conn:
        conn.execute("DELETE FROM codings WHERE coder IS NOT NULL AND coder != ?", (coder,))
        conn.execute("DELETE FROM memos WHERE coder != ?", (coder,))
        conn.execute("DELETE FROM audit WHERE actor != ? AND entity != 'codebook'", (coder,))
        conn.execute("DELETE FROM review_progress WHERE coder != ?", (coder,))
        record_audit(project, coder, "clone", "project", source, None, {"for": coder, "from": source})
    project.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# -- another project, read for a merge -----------------------------------------------------
@dataclass
class OtherProject:
    """What a merge takes from another project: people's codings (each with its source's text
    hash, as ``content_hash``, and its source id, as ``other_source``), memos, segments and
    source hashes."""

    codings: list[dict[str, Any]]
    memos: list[dict[str, Any]]
    segments: dict[int, dict[str, Any]]  # id -> id, start, end, content_hash
    hashes: dict[str, str]  # source id -> content hash
    coders: list[str]  # every person who coded there


def read_other(path: str | Path, coder: str | None = None) -> OtherProject:
    """Read another project's people's work (only ``coder``'s when given), without writing to it."""
    path = Path(path)
    if not path.is_file():
        raise QualkamError(f"no project file at {path}")
    try:
        # A URI, so the file opens read-only; quoted, so '#', '?' and '%' in a folder name stay
        # part of the path (unquoted, 'a#b.db' opened 'a' and failed).
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        names = {r[0] for r in conn.execute("SELECT name FROM migrations")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a qualkam project (SQLite says: {exc})") from exc
    try:
        if "002_people" not in names:
            raise StoreError(
                f"{path} was written by an older qualkam; open it once with this version "
                "(any command on it, e.g. 'qualkam audit') and merge again"
            )
        where, params = "c.coder IS NOT NULL", []
        if coder:
            where += " AND c.coder = ?"
            params.append(coder)
        return OtherProject(
            codings=[
                dict(r)
                for r in conn.execute(
                    f"""SELECT c.*, src.content_hash, src.id AS other_source FROM codings c
                        JOIN sources src ON src.id = c.source_id WHERE {where} ORDER BY c.id""",
                    params,
                )
            ],
            memos=[dict(r) for r in conn.execute("SELECT * FROM memos ORDER BY id")],
            segments={
                r["id"]: dict(r)
                for r in conn.execute(
                    'SELECT s.id, s.start, s."end", src.content_hash FROM segments s '
                    "JOIN sources src ON src.id = s.source_id"
                )
            },
            hashes={r[0]: r[1] for r in conn.execute("SELECT id, content_hash FROM sources")},
            coders=[r[0] for r in conn.execute("SELECT DISTINCT coder FROM codings WHERE coder IS NOT NULL")],
        )
    finally:
        conn.close()


def segments_of_coding(project: Project, coding_id: int) -> list[int]:
    """The segments a coding counts for (its anchor and every later one its span overlaps), in order."""
    return [
        int(r[0])
        for r in project.conn.execute(
            "SELECT cs.segment_id FROM coding_segments cs JOIN segments s ON s.id = cs.segment_id "
            "WHERE cs.coding_id = ? ORDER BY s.start",
            (coding_id,),
        )
    ]
