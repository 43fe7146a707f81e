"""People's codings: a person's decision on one code and segment, and a project copied for one
coder or merged back (``qualkam project clone|merge``)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualkam.errors import QualkamError, StoreError
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
    """A coding as the audit trail records it."""
    row = project.conn.execute(
        'SELECT id, segment_id, source_id, start, "end", code_id, coder, origin, status, memo, created_at, updated_at '
        "FROM codings WHERE id = ?",
        (coding_id,),
    ).fetchone()
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
    and code, with its audit line, in one transaction (a step of the caller's, if any). One row
    per (segment, code, coder): deciding again updates it, the same decision changes nothing.
    The caller has checked the coder's name and the code."""
    with project.transaction() as conn:
        seg = conn.execute(
            'SELECT id, source_id, start, "end", text FROM segments WHERE id = ?', (segment_id,)
        ).fetchone()
        if seg is None:
            raise QualkamError(f"unknown segment {segment_id}")
        start, end = span if span else (seg["start"], seg["end"])
        text = conn.execute(
            "SELECT substr(text, ?, ?) FROM sources WHERE id = ?", (start + 1, end - start, seg["source_id"])
        ).fetchone()[0]
        machine = conn.execute(
            "SELECT origin FROM codings WHERE segment_id = ? AND code_id = ? AND coder IS NULL "
            "ORDER BY score DESC LIMIT 1",
            (segment_id, code_id),
        ).fetchone()
        existing = conn.execute(
            "SELECT id FROM codings WHERE segment_id = ? AND code_id = ? AND coder = ?", (segment_id, code_id, coder)
        ).fetchone()
        status = "accepted" if action in ("accept", "add") else "rejected"
        if existing is None and action == "remove" and machine is None:
            raise QualkamError(f"segment {segment_id} has no code {code_id!r} from {coder} or the rules to remove")
        stamp = at or now()
        if existing is not None:
            before = coding_row(project, existing["id"])
            new_memo = memo if memo is not None else before["memo"]
            same_span = (before["start"], before["end"]) == (start, end)
            if before["status"] == status and new_memo == before["memo"] and same_span:
                return Outcome("unchanged", before["id"], status)
            origin = before["origin"] if action != "add" else "human"
            conn.execute(
                'UPDATE codings SET status = ?, origin = ?, memo = ?, start = ?, "end" = ?, text = ?, '
                "updated_at = ? WHERE id = ?",
                (status, origin, new_memo, start, end, text, stamp, before["id"]),
            )
            after = coding_row(project, before["id"])
            record_audit(project, actor or coder, action, "coding", str(before["id"]), before, after, via)
            return Outcome("updated", before["id"], status)
        origin = machine["origin"] if machine is not None and action != "add" else "human"
        coding_id = row_id(
            conn.execute(
                """INSERT INTO codings (segment_id, source_id, start, "end", text, code_id, coder, origin, status,
                   score, evidence, memo, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '[]', ?, ?, ?)""",
                (segment_id, seg["source_id"], start, end, text, code_id, coder, origin, status, memo, stamp, stamp),
            )
        )
        after = coding_row(project, coding_id)
        record_audit(project, actor or coder, action, "coding", str(coding_id), None, after, via)
        return Outcome("inserted", coding_id, status)


def set_origin(project: Project, coding_id: int, origin: str) -> None:
    """Keep the origin (``rule``, ``model``) another project recorded for a merged coding."""
    with project.transaction() as conn:
        conn.execute("UPDATE codings SET origin = ? WHERE id = ?", (origin, coding_id))


def person_status(project: Project, segment_id: int, code_id: str, coder: str) -> str | None:
    """``accepted`` or ``rejected``: what ``coder`` decided on this segment and code (None: nothing)."""
    row = project.conn.execute(
        "SELECT status FROM codings WHERE segment_id = ? AND code_id = ? AND coder = ?", (segment_id, code_id, coder)
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
