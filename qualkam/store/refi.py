"""The reads and writes of REFI-QDA exchange: what an export takes from the project, what an
import looks up, and the GUIDs remembered per object (``refi_guids``).

Import writes run inside the caller's ``project.transaction()``: an import is one transaction.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import TYPE_CHECKING, Any

from qualkam.store.audit import record_audit
from qualkam.store.codebooks import current_codebook_row, save_codebook
from qualkam.store.layers import Layer
from qualkam.store.sources import store_source

if TYPE_CHECKING:
    from collections.abc import Sequence

    from qualkam.coding.codebook import Codebook
    from qualkam.coding.segment import Segment
    from qualkam.store.project import Project
    from qualkam.store.sources import SourceRecord

# A fixed namespace for qualkam's name-based GUIDs (uuid5 of the project's URL).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/qualkam/qualkam/refi-qda")


def name_guid(kind: str, key: str) -> str:
    """The name-based GUID of an object nothing is remembered for (no project needed)."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}")).upper()


# -- GUIDs -------------------------------------------------------------------------------------
def guid_for(project: Project, kind: str, local_id: str) -> str:
    """The GUID of a project object: remembered if it was imported, else name-based."""
    row = project.conn.execute(
        "SELECT guid FROM refi_guids WHERE kind = ? AND local_id = ?", (kind, str(local_id))
    ).fetchone()
    if row is not None:
        return str(row[0])
    return name_guid(kind, str(local_id))


def guid_known(project: Project, kind: str, local_id: str, guid: str) -> bool:
    """Whether the object has a remembered GUID already, or ``guid`` is taken in its kind."""
    row = project.conn.execute(
        "SELECT 1 FROM refi_guids WHERE (kind = ? AND local_id = ?) OR (kind = ? AND guid = ?)",
        (kind, str(local_id), kind, guid),
    ).fetchone()
    return row is not None


def remember(project: Project, kind: str, local_id: str, guid: str) -> None:
    """Record the GUID an imported object came with (inside the caller's transaction)."""
    project.conn.execute(
        "INSERT OR REPLACE INTO refi_guids (kind, local_id, guid) VALUES (?, ?, ?)", (kind, str(local_id), guid)
    )


def remembered_code(project: Project, guid: str) -> str | None:
    """The code id a GUID was remembered for, if any."""
    row = project.conn.execute("SELECT local_id FROM refi_guids WHERE kind = 'code' AND guid = ?", (guid,)).fetchone()
    return None if row is None else str(row[0])


# -- what an export reads ------------------------------------------------------------------------
def sources(project: Project) -> list[sqlite3.Row]:
    """Every source with its metadata and text, by id."""
    return project.conn.execute(
        "SELECT id, type, date, phase, title, participants, attributes, text, unit, added_at, updated_at "
        "FROM sources ORDER BY id"
    ).fetchall()


def codings(project: Project, layer: Layer) -> list[sqlite3.Row]:
    """The codings of ``layer`` with what an export writes of them, in text order."""
    condition, params = layer.sql("c")
    return project.conn.execute(
        f'SELECT c.id, c.segment_id, c.source_id, c.start, c."end", c.text, c.code_id, c.coder, c.created_at, '
        f"c.updated_at, c.memo, c.score, c.origin, c.evidence FROM codings c WHERE {condition} "
        f'ORDER BY c.source_id, c.start, c."end", c.coder, c.id',
        params,
    ).fetchall()


def memos(project: Project, coder: str | None = None) -> list[sqlite3.Row]:
    """Every memo (one coder's when given), oldest first."""
    sql = "SELECT id, target_type, target_id, coder, text, created_at, updated_at FROM memos"
    if coder:
        return project.conn.execute(sql + " WHERE coder = ? ORDER BY id", (coder,)).fetchall()
    return project.conn.execute(sql + " ORDER BY id").fetchall()


def authors(project: Project) -> list[str]:
    """Everyone who has coded or written a memo, by name."""
    rows = project.conn.execute(
        "SELECT DISTINCT coder FROM codings WHERE coder IS NOT NULL UNION SELECT coder FROM memos ORDER BY 1"
    )
    return [r[0] for r in rows]


def codes(project: Project) -> list[sqlite3.Row]:
    """Every code, current and retired, in codebook order (position, then id)."""
    return project.conn.execute(
        "SELECT id, parent, label, definition, color, attributes, retired_at FROM codes ORDER BY position, id"
    ).fetchall()


def current_codebook(project: Project) -> sqlite3.Row | None:
    """The stored codebook version the current codes come from (its YAML has include / exclude)."""
    return current_codebook_row(project)


def segment_places(project: Project) -> dict[int, sqlite3.Row]:
    """Segment id -> (id, source_id, start, end)."""
    return {r["id"]: r for r in project.conn.execute('SELECT id, source_id, start, "end" FROM segments')}


def codebook_times(project: Project) -> list[str]:
    """When each codebook version was loaded."""
    return [r[0] for r in project.conn.execute("SELECT loaded_at FROM codebooks")]


def beginnings(project: Project) -> list[str]:
    """When each codebook version was loaded and each source added: the project began at the first."""
    return [
        r[0] for r in project.conn.execute("SELECT loaded_at FROM codebooks UNION ALL SELECT added_at FROM sources")
    ]


def segments_by_source(project: Project) -> dict[str, list[dict[str, Any]]]:
    """Source id -> its segments (start, end, speaker, role, speaker_unit, times) in text order."""
    found: dict[str, list[dict[str, Any]]] = {}
    for row in project.conn.execute(
        'SELECT source_id, start, "end", speaker, role, speaker_unit, time_start, time_end '
        "FROM segments ORDER BY source_id, start, position"
    ):
        found.setdefault(row["source_id"], []).append(dict(row))
    return found


# -- what an import reads and writes ---------------------------------------------------------------
def code_places(project: Project) -> dict[str, tuple[str | None, str]]:
    """Code id -> (parent, label), current and retired codes."""
    return {r["id"]: (r["parent"], r["label"]) for r in project.conn.execute("SELECT id, parent, label FROM codes")}


def majority_codebook(project: Project) -> sqlite3.Row | None:
    """The codebook version (id, yaml, path) most current codes come from; None without one."""
    row = project.conn.execute(
        "SELECT codebook_id, COUNT(*) AS n FROM codes WHERE retired_at IS NULL "
        "AND codebook_id IS NOT NULL GROUP BY codebook_id ORDER BY n DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    result: sqlite3.Row | None = project.conn.execute(
        "SELECT id, yaml, path FROM codebooks WHERE id = ?", (row[0],)
    ).fetchone()
    return result


def add_codebook_version(project: Project, codebook: Codebook, actor: str) -> int:
    """Store a codebook version (inside the caller's transaction); its id."""
    return save_codebook(project, codebook, actor)


def source_hashes(project: Project) -> dict[str, str]:
    """Content hash -> source id."""
    return {r["content_hash"]: r["id"] for r in project.conn.execute("SELECT id, content_hash FROM sources")}


def usual_pipeline(project: Project) -> tuple[str | None, str | None]:
    """(unit, pipeline) most sources were coded with; (None, None) without sources."""
    row = project.conn.execute(
        "SELECT unit, pipeline, COUNT(*) AS n FROM sources GROUP BY unit, pipeline ORDER BY n DESC LIMIT 1"
    ).fetchone()
    return (row["unit"], row["pipeline"]) if row else (None, None)


def code_ids(project: Project) -> list[str]:
    """Every code id, current and retired."""
    return [r[0] for r in project.conn.execute("SELECT id FROM codes")]


def add_source(
    project: Project,
    record: SourceRecord,
    codebook_id: int | None,
    segments: Sequence[Segment],
    suggestions: Sequence[Sequence[Any]],
) -> None:
    """Store an imported source with its segments and the rules' suggestions (inside the
    caller's transaction), as ``qualkam code`` stores a source."""
    store_source(project, record, codebook_id, segments, suggestions, "rule")


def audit(project: Project, actor: str, entity: str, entity_id: str, summary: Any, note: str | None) -> None:
    """The audit line of an import (inside the caller's transaction)."""
    record_audit(project, actor, "import", entity, entity_id, None, summary, note)
