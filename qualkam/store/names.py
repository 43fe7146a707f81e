"""The names a project knows: what an argument may name (``qualkam.choices`` says "did you mean")."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from qualkam.store.reads import coders

if TYPE_CHECKING:
    from qualkam.store.project import Project

_KNOWN_SQL = {
    "code": "SELECT id FROM codes ORDER BY position",
    "source": "SELECT id FROM sources ORDER BY id",
    "phase": "SELECT id FROM (SELECT id, position FROM phases UNION ALL "
    "SELECT DISTINCT phase, 1e9 FROM sources WHERE phase IS NOT NULL AND phase <> '' "
    "AND phase NOT IN (SELECT id FROM phases)) ORDER BY position, id",
    "speaker": "SELECT DISTINCT speaker FROM segments WHERE speaker IS NOT NULL AND speaker <> '' ORDER BY speaker",
    "role": "SELECT DISTINCT role FROM segments WHERE role IS NOT NULL AND role <> '' ORDER BY role",
    "source type": "SELECT DISTINCT type FROM sources WHERE type IS NOT NULL AND type <> '' ORDER BY type",
    "actor": "SELECT actor FROM audit GROUP BY actor ORDER BY MIN(id)",
    "memo writer": "SELECT coder FROM memos GROUP BY coder ORDER BY MIN(id)",
}
KINDS = ("coder", *_KNOWN_SQL)


def known_names(project: Project, kind: str) -> list[str]:
    """Every coder, code, source, phase, speaker, role, source type, actor or memo writer of the
    project (coders: ``reads.coders``, in the order they first coded)."""
    if kind == "coder":
        return coders(project)
    return [str(row[0]) for row in project.conn.execute(_KNOWN_SQL[kind])]


def source_attribute_keys(project: Project) -> list[str]:
    """The attribute names any source carries (``site``, ``meeting_number`` ...)."""
    keys: dict[str, None] = {}
    for (text,) in project.conn.execute("SELECT attributes FROM sources"):
        try:
            keys.update(dict.fromkeys(json.loads(text or "{}")))
        except ValueError:
            continue
    return sorted(keys)
