"""The reads of codebook history (migration 007): every stored codebook version, when each was
made current and from where, the codings made under each, and the mappings migrations recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qualkam.store.project import Project


@dataclass
class StoredVersion:
    """One stored codebook version. ``number`` counts versions in the order the project first
    stored them (1 is the first); ``loads`` every time it became current (path, at, actor)."""

    id: int
    number: int
    name: str
    version: str
    hash: str
    path: str | None
    loaded_at: str
    yaml: str
    current: bool = False
    loads: list[dict[str, Any]] = field(default_factory=list)
    people_codings: int = 0
    suggestions: int = 0


def stored_versions(project: Project) -> list[StoredVersion]:
    """Every codebook version the project stored, oldest first, with its loads and the codings
    made under it (people's and suggestions apart)."""
    conn = project.conn
    current = conn.execute("SELECT value FROM meta WHERE key = 'codebook_id'").fetchone()
    versions = [
        StoredVersion(
            id=int(r["id"]),
            number=number,
            name=r["name"],
            version=r["version"],
            hash=r["hash"],
            path=r["path"],
            loaded_at=r["loaded_at"],
            yaml=r["yaml"],
            current=current is not None and int(current[0]) == int(r["id"]),
        )
        for number, r in enumerate(
            conn.execute("SELECT id, name, version, hash, path, loaded_at, yaml FROM codebooks ORDER BY id"), start=1
        )
    ]
    by_id = {v.id: v for v in versions}
    for r in conn.execute("SELECT codebook_id, at, path, actor FROM codebook_loads ORDER BY id"):
        if r["codebook_id"] in by_id:
            by_id[r["codebook_id"]].loads.append({"at": r["at"], "path": r["path"], "actor": r["actor"]})
    for r in conn.execute(
        "SELECT codebook_id, SUM(coder IS NOT NULL), SUM(coder IS NULL) FROM codings "
        "WHERE codebook_id IS NOT NULL GROUP BY codebook_id"
    ):
        if r[0] in by_id:
            by_id[r[0]].people_codings, by_id[r[0]].suggestions = int(r[1]), int(r[2])
    return versions


def codings_before_history(project: Project) -> tuple[int, int]:
    """(people's codings, suggestions) that record no codebook version: made before migration
    007 in a project that had stored more than one version."""
    row = project.conn.execute(
        "SELECT COALESCE(SUM(coder IS NOT NULL), 0), COALESCE(SUM(coder IS NULL), 0) FROM codings "
        "WHERE codebook_id IS NULL"
    ).fetchone()
    return int(row[0]), int(row[1])


def recorded_migrations(project: Project) -> list[dict[str, Any]]:
    """Each ``qualkam codebook migrate`` recorded in the audit trail: the version it made current
    (``codebook_id``), when, and its renames (old -> new) and splits (old -> [new, ...])."""
    found = []
    for r in project.conn.execute(
        "SELECT at, entity_id, after FROM audit WHERE action = 'migrate' AND entity = 'codebook' ORDER BY id"
    ):
        after = json.loads(r["after"] or "{}")
        found.append(
            {
                "codebook_id": int(r["entity_id"]),
                "at": r["at"],
                "renames": dict(after.get("renames") or {}),
                "splits": {k: list(v) for k, v in (after.get("splits") or {}).items()},
            }
        )
    return found


def coding_versions(project: Project) -> list[dict[str, Any]]:
    """Each coding's id, anchor segment, code, coder (None: a suggestion) and the number of the
    codebook version it was made under (None: before history), by coding id."""
    numbers = {int(r[0]): n for n, r in enumerate(project.conn.execute("SELECT id FROM codebooks ORDER BY id"), 1)}
    return [
        {
            "coding": int(r["id"]),
            "segment": r["segment_id"],
            "code": r["code_id"],
            "coder": r["coder"],
            "codebook_version": None if r["codebook_id"] is None else numbers.get(int(r["codebook_id"])),
        }
        for r in project.conn.execute("SELECT id, segment_id, code_id, coder, codebook_id FROM codings ORDER BY id")
    ]
