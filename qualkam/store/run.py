"""The SQL a coding run (``qualkam code``) needs beyond storing sources: what it reports
at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qualkam.store.project import Project


def retired_codes_in_use(project: Project) -> dict[str, int]:
    """Code id -> people's codings that use it, for each code the current codebook retired."""
    rows = project.conn.execute(
        "SELECT c.code_id, COUNT(*) FROM codings c JOIN codes k ON k.id = c.code_id "
        "WHERE k.retired_at IS NOT NULL AND c.coder IS NOT NULL GROUP BY c.code_id ORDER BY c.code_id"
    ).fetchall()
    return {r[0]: r[1] for r in rows}
