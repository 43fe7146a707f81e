"""Cases (issue 16, point 7): participants as cases across sources. What the segments and the
sources' participants metadata say about each speaker, and the attributes set for a case
(a cases file, ``qualkam cases import``, a REFI-QDA project's Cases), kept in ``cases``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from qualkam.store.audit import now, record_audit

if TYPE_CHECKING:
    from qualkam.store.project import Project


def speaker_rows(project: Project) -> list[dict[str, Any]]:
    """Per speaker spelling, role, unit and source: how many segments (the evidence a case is
    built from)."""
    return [
        {"speaker": r[0], "role": r[1], "unit": r[2], "source": r[3], "segments": int(r[4])}
        for r in project.conn.execute(
            "SELECT speaker, role, speaker_unit, source_id, COUNT(*) FROM segments "
            "WHERE speaker IS NOT NULL AND speaker != '' GROUP BY speaker, role, speaker_unit, source_id "
            "ORDER BY speaker, source_id"
        )
    ]


def source_participants(project: Project) -> list[tuple[str, dict[str, Any]]]:
    """(source id, its participants metadata) for every source that lists participants."""
    return [
        (r[0], json.loads(r[1] or "{}"))
        for r in project.conn.execute("SELECT id, participants FROM sources WHERE participants != '{}' ORDER BY id")
    ]


def stored_cases(project: Project) -> dict[str, dict[str, Any]]:
    """Case key (the name, case-folded) -> name, attributes (a dict), origin, updated_at."""
    return {
        r["id"]: {
            "name": r["name"],
            "attributes": json.loads(r["attributes"] or "{}"),
            "origin": r["origin"],
            "updated_at": r["updated_at"],
        }
        for r in project.conn.execute("SELECT id, name, attributes, origin, updated_at FROM cases ORDER BY id")
    }


def set_case_attributes(project: Project, cases: dict[str, dict[str, Any]], origin: str, actor: str) -> int:
    """Merge each case's attributes into what is stored (a value given replaces the stored value of
    that attribute; others stay), in one transaction with an audit line per case that changed.
    Keys are case names; returns how many cases changed."""
    changed = 0
    with project.transaction() as conn:
        for name, attributes in cases.items():
            key = name.casefold()
            row = conn.execute("SELECT name, attributes FROM cases WHERE id = ?", (key,)).fetchone()
            before = json.loads(row["attributes"]) if row is not None else None
            merged = {**(before or {}), **attributes}
            if before == merged:
                continue
            conn.execute(
                """INSERT INTO cases (id, name, attributes, origin, updated_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET attributes = excluded.attributes, origin = excluded.origin,
                   updated_at = excluded.updated_at""",
                (key, name, json.dumps(merged, sort_keys=True, ensure_ascii=False, default=str), origin, now()),
            )
            record_audit(project, actor, "set", "case", key, before, merged, origin)
            changed += 1
    return changed
