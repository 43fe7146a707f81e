"""Memos: written on the project, a code, a source or a segment (or on a coding), edited and
deleted like codings, with the before and after in the audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qualkam.errors import QualkamError
from qualkam.store.audit import now, record_audit, where
from qualkam.store.schema import row_id

if TYPE_CHECKING:
    import pandas as pd

    from qualkam.store.project import Project

MEMO_TARGETS = ("project", "code", "source", "segment")
_TABLES = {"code": "codes", "source": "sources", "segment": "segments"}


def add_memo(project: Project, coder: str, target_type: str, target_id: str | None, text: str) -> int:
    """Write a memo on the project, a code, a source or a segment; audited like a coding.
    A target that does not exist is an error naming the ``on`` argument."""
    if target_type not in MEMO_TARGETS:
        raise QualkamError(f"a memo is on one of {', '.join(MEMO_TARGETS)}, not {target_type!r}")
    if not text.strip():
        raise QualkamError("an empty memo was not saved")
    with project.transaction() as conn:
        if target_type != "project":
            table = _TABLES[target_type]
            if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (target_id,)).fetchone() is None:
                from qualkam.choices import unknown

                raise unknown(target_type, target_id, [r[0] for r in conn.execute(f"SELECT id FROM {table}")], "on")
        else:
            target_id = None
        stamp = now()
        memo_id = row_id(
            conn.execute(
                "INSERT INTO memos (target_type, target_id, coder, text, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (target_type, target_id, coder, text.strip(), stamp, stamp),
            )
        )
        record_audit(project, coder, "memo", target_type, target_id, None, {"memo": memo_id, "text": text.strip()})
    return memo_id


def _memo_ref(memo_id: str) -> tuple[str, int]:
    """``12`` (a memo) or ``coding:12`` (the memo on a coding, e.g. from a sheet's coded row)."""
    text = str(memo_id).strip()
    kind, _, number = text.rpartition(":")
    if kind not in ("", "coding") or not number.isdigit():
        raise QualkamError(f"memo id {text!r}: write the number 'qualkam memo list' shows, e.g. 12 or coding:12")
    return ("coding" if kind else "memo"), int(number)


def change_memo(project: Project, memo_id: str, coder: str | None, text: str | None) -> dict[str, Any]:
    """Replace a memo's text (``text``) or delete it (None), in one audited transaction;
    returns the memo as it was. ``coder`` is who makes the change (the audit's actor)."""
    kind, number = _memo_ref(memo_id)
    if text is not None and not text.strip():
        raise QualkamError("an empty memo was not saved; to remove a memo use 'qualkam memo delete ID'")
    stamp = now()
    with project.transaction() as conn:
        if kind == "memo":
            row = conn.execute("SELECT * FROM memos WHERE id = ?", (number,)).fetchone()
        else:
            row = conn.execute(
                "SELECT * FROM codings WHERE id = ? AND memo IS NOT NULL AND memo <> ''", (number,)
            ).fetchone()
        if row is None:
            known = [str(r[0]) for r in conn.execute("SELECT id FROM memos ORDER BY id")]
            known += [
                f"coding:{r[0]}"
                for r in conn.execute("SELECT id FROM codings WHERE memo IS NOT NULL AND memo <> '' ORDER BY id")
            ]
            from qualkam.choices import unknown

            raise unknown("memo", memo_id, known)
        before = dict(row)
        old = before["memo"] if kind == "coding" else before["text"]
        if kind == "memo" and text is not None:
            conn.execute("UPDATE memos SET text = ?, updated_at = ? WHERE id = ?", (text.strip(), stamp, number))
        elif kind == "memo":
            conn.execute("DELETE FROM memos WHERE id = ?", (number,))
        else:
            conn.execute(
                "UPDATE codings SET memo = ?, updated_at = ? WHERE id = ?",
                (text.strip() if text is not None else None, stamp, number),
            )
        entity, ident = ("memo", str(number)) if kind == "memo" else ("coding", str(number))
        actor = (coder or "").strip() or before["coder"]  # by default the memo's writer changes it
        record_audit(
            project,
            actor,
            "edit memo" if text is not None else "delete memo",
            entity,
            ident,
            {"memo": str(memo_id), "text": old},
            {"memo": str(memo_id), "text": text.strip()} if text else None,
        )
    return before


def copy_memo(
    project: Project,
    target_type: str,
    target_id: str | None,
    coder: str,
    text: str,
    created_at: str,
    note: str = "merge",
) -> int:
    """Add a memo another project holds (keeping its writer and time), unless the same memo is
    here already; returns how many were added (0 or 1). Audited with ``note``."""
    with project.transaction() as conn:
        if conn.execute(
            "SELECT 1 FROM memos WHERE target_type = ? AND target_id IS ? AND coder = ? AND text = ?",
            (target_type, target_id, coder, text),
        ).fetchone():
            return 0
        conn.execute(
            "INSERT INTO memos (target_type, target_id, coder, text, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (target_type, target_id, coder, text, created_at, now()),
        )
        record_audit(project, coder, "memo", target_type, target_id, None, {"text": text}, note)
    return 1


def memo_table(
    project: Project, kind: str | None = None, ident: str | None = None, coder: str | None = None
) -> pd.DataFrame:
    """Memos (id, created_at, coder, target_type, target_id, source, about, memo), oldest first;
    a segment memo carries its segment's source and text, a code memo its code's label."""
    import pandas as pd

    condition, params = where({"m.target_type = ?": kind, "m.target_id = ?": ident, "m.coder = ?": coder})
    return pd.read_sql_query(
        f"""SELECT CAST(m.id AS TEXT) AS id, m.created_at, m.coder, m.target_type, m.target_id,
                   CASE m.target_type WHEN 'segment' THEN s.source_id WHEN 'source' THEN m.target_id END AS source,
                   CASE m.target_type WHEN 'segment' THEN s.text WHEN 'code' THEN k.label END AS about,
                   m.text AS memo
            FROM memos m
            LEFT JOIN segments s ON m.target_type = 'segment' AND s.id = CAST(m.target_id AS INTEGER)
            LEFT JOIN codes k ON m.target_type = 'code' AND k.id = m.target_id
            WHERE {condition} ORDER BY m.id""",
        project.conn,
        params=params,
    )


def coding_memo_table(
    project: Project, segment: str | None = None, code: str | None = None, coder: str | None = None
) -> pd.DataFrame:
    """The memos people wrote on their codings, in the columns of ``memo_table``: the id is
    ``coding:N``, the target ``CODE on segment N`` (its anchor), ``about`` the segment's text, or
    the coding's own words when it codes part of a segment or more than one. ``segment`` keeps
    the codings that count for that segment (any whose span covers it)."""
    import pandas as pd

    condition, params = where(
        {
            "c.id IN (SELECT coding_id FROM coding_segments WHERE segment_id = ?)": segment,
            "c.code_id = ?": code,
            "c.coder = ?": coder,
        }
    )
    return pd.read_sql_query(
        f"""SELECT 'coding:' || c.id AS id, c.updated_at AS created_at, c.coder, 'coding' AS target_type,
                   c.code_id || ' on segment ' || c.segment_id AS target_id, c.source_id AS source,
                   CASE WHEN s.id IS NULL OR (c.start = s.start AND c."end" = s."end") THEN s.text
                        ELSE c.text END AS about, c.memo
            FROM codings c LEFT JOIN segments s ON s.id = c.segment_id
            WHERE c.coder IS NOT NULL AND c.memo IS NOT NULL AND c.memo <> '' AND {condition}
            ORDER BY c.id""",
        project.conn,
        params=params,
    )
