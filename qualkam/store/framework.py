"""Framework matrices (issue 16, point 4): the summaries researchers write per case x theme.

A cell is keyed by the framework's name, the kind of case (``case``: a participant, by its
case-folded name; ``source``: a source id), the case and the theme (a code id or a code group).
Every change is one transaction with an audit line holding the summary before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from qualkam.store.audit import now, record_audit

if TYPE_CHECKING:
    from qualkam.store.project import Project

CellKey = tuple[str, str]  # (case id, theme)
_CELL = "framework = ? AND case_kind = ? AND case_id = ? AND theme = ?"


def framework_cells(project: Project, framework: str, case_kind: str) -> dict[CellKey, dict[str, Any]]:
    """(case id, theme) -> summary, author, updated_at for one framework's cells."""
    return {
        (r["case_id"], r["theme"]): {"summary": r["summary"], "author": r["author"], "updated_at": r["updated_at"]}
        for r in project.conn.execute(
            "SELECT case_id, theme, summary, author, updated_at FROM framework_cells "
            "WHERE framework = ? AND case_kind = ? ORDER BY case_id, theme",
            (framework, case_kind),
        )
    }


def framework_names(project: Project) -> list[tuple[str, str]]:
    """Every (framework, case kind) that holds a summary."""
    return [
        (r[0], r[1])
        for r in project.conn.execute("SELECT DISTINCT framework, case_kind FROM framework_cells ORDER BY 1, 2")
    ]


def set_cells(
    project: Project, framework: str, case_kind: str, summaries: Mapping[CellKey, str | None], author: str, note: str
) -> int:
    """Write each cell's summary (None or blank: clear it) in one transaction, an audit line per
    cell that changed; returns how many changed."""
    changed = 0
    with project.transaction() as conn:
        for (case_id, theme), summary in summaries.items():
            text = (summary or "").strip()
            key = (framework, case_kind, case_id, theme)
            row = conn.execute(f"SELECT summary FROM framework_cells WHERE {_CELL}", key).fetchone()
            before = row["summary"] if row is not None else None
            if (before or "") == text:
                continue
            ident = f"{framework}/{case_kind}:{case_id}/{theme}"
            if text:
                conn.execute(
                    """INSERT INTO framework_cells (framework, case_kind, case_id, theme, summary, author, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(framework, case_kind, case_id, theme) DO UPDATE SET summary = excluded.summary,
                       author = excluded.author, updated_at = excluded.updated_at""",
                    (framework, case_kind, case_id, theme, text, author, now()),
                )
            else:
                conn.execute(f"DELETE FROM framework_cells WHERE {_CELL}", key)
            record_audit(
                project,
                author,
                "summarise" if text else "clear summary",
                "framework cell",
                ident,
                None if before is None else {"summary": before},
                {"summary": text} if text else None,
                note,
            )
            changed += 1
    return changed
