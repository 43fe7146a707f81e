"""The audit trail: one line per change (who, when, what, before and after), and reading it back."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from qualkam.store.project import Project


def now() -> str:
    """UTC time, ISO 8601 to the second: what every coding and version records."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def record_audit(
    project: Project,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    before: Any,
    after: Any,
    note: str | None = None,
) -> None:
    """One line of the audit trail; inside the caller's transaction when there is one, so the
    change and its line are written (or rolled back) together."""
    with project.transaction() as conn:
        conn.execute(
            "INSERT INTO audit (at, actor, action, entity, entity_id, before, after, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (now(), actor, action, entity, entity_id, _dump(before), _dump(after), note),
        )


def where(conditions: dict[str, object]) -> tuple[str, list[object]]:
    """``a = ? AND b >= ?`` from the conditions that were given (None or empty: not filtered)."""
    given = {clause: value for clause, value in conditions.items() if value}
    return " AND ".join(["1 = 1", *given]), list(given.values())


def audit_table(
    project: Project, actor: str | None = None, since: str | None = None, entity: str | None = None
) -> pd.DataFrame:
    """Audit lines (id, at, actor, action, entity, entity_id, before, after, note), oldest
    first; each filter that is given must match exactly (``since``: at or after)."""
    import pandas as pd

    condition, params = where({"actor = ?": actor, "at >= ?": since, "entity = ?": entity})
    return pd.read_sql_query(
        "SELECT id, at, actor, action, entity, entity_id, before, after, note FROM audit "
        f"WHERE {condition} ORDER BY id",
        project.conn,
        params=params,
    )
