"""Reading the audit trail and the memos back out, as DataFrames for any export format."""

from __future__ import annotations

import json

import pandas as pd

from qualkam.choices import check_choice, check_known, parse_date
from qualkam.errors import QualkamError
from qualkam.store.project import Project, known_names


def _where(conditions: dict[str, object]) -> tuple[str, list[object]]:
    """``a = ? AND b >= ?`` from the conditions that were given (None: not filtered)."""
    given = {clause: value for clause, value in conditions.items() if value}
    return " AND ".join(["1 = 1", *given]), list(given.values())


ENTITIES = ("coding", "codebook", "code", "source", "segment", "project", "memo", "model")


def audit_frame(
    project: Project, actor: str | None = None, since: str | None = None, entity: str | None = None
) -> pd.DataFrame:
    """Every recorded change (who, when, what, before/after JSON), oldest first. ``since`` is
    an ISO date or time (checked strictly); ``actor`` and ``entity`` must be ones the trail has."""
    if actor:
        actor = check_known(project, "actor", [actor], "--actor")[0]
    if entity:
        entity = check_choice("entity", entity, ENTITIES, "--entity")
    if since:
        since = parse_date(since, "--since")
    where, params = _where({"actor = ?": actor, "at >= ?": since, "entity = ?": entity})
    return pd.read_sql_query(
        f"SELECT id, at, actor, action, entity, entity_id, before, after, note FROM audit WHERE {where} ORDER BY id",
        project.conn,
        params=params,
    )


def audit_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """A readable one-line ``change`` per audit line (for the terminal), instead of JSON."""

    def change(row: pd.Series) -> str:
        before = json.loads(row["before"]) if isinstance(row["before"], str) else {}
        after = json.loads(row["after"]) if isinstance(row["after"], str) else {}
        if row["entity"] == "coding" and "code_id" in after:
            was = (
                f"{before.get('status')} -> "
                if before.get("status") and before.get("status") != after.get("status")
                else ""
            )
            return f"{after['code_id']} on segment {after.get('segment_id')}: {was}{after.get('status')}"
        if row["action"] in ("rename", "merge"):
            return f"{before.get('code')} -> {after.get('code')}"
        if row["action"] == "memo":
            return str(after.get("text", ""))
        if row["action"] in ("edit memo", "delete memo"):
            return f"memo {before.get('memo')}: {before.get('text')!s} -> {after.get('text') if after else '(deleted)'}"
        return ", ".join(f"{k}={v}" for k, v in after.items() if k != "hash")

    summary = frame[["id", "at", "actor", "action", "entity", "note"]].copy()
    summary.insert(5, "change", [change(row) for _, row in frame.iterrows()] if len(frame) else [])
    return summary


def parse_target(text: str | None) -> tuple[str | None, str | None]:
    """``code:ID``, ``source:ID``, ``segment:N`` or ``project`` -> (type, id)."""
    if text is None:
        return None, None
    if text == "project":
        return "project", None
    kind, sep, ident = text.partition(":")
    if not sep or kind not in ("code", "source", "segment") or not ident:
        raise QualkamError(f"--on {text!r}: write project, code:ID, source:ID or segment:N")
    return kind, ident


def memos_frame(project: Project, target: str | None = None, coder: str | None = None) -> pd.DataFrame:
    """Memos with what they are about; segment memos carry the segment's source and text.

    A memo written on a coding (a coded row of a sheet, ``review``'s memo on a decision) is
    listed too, with the id ``coding:N``, as being on that coding's segment and code.
    """
    kind, ident = parse_target(target)
    if kind in ("code", "source") and ident is not None:
        ident = check_known(project, kind, [ident], "--on")[0]
    if coder:
        writers = [*known_names(project, "memo writer"), *known_names(project, "coder")]
        coder = check_choice("memo writer", coder, list(dict.fromkeys(writers)), "--coder")
    where, params = _where({"m.target_type = ?": kind, "m.target_id = ?": ident, "m.coder = ?": coder})
    memos = pd.read_sql_query(
        f"""SELECT CAST(m.id AS TEXT) AS id, m.created_at, m.coder, m.target_type, m.target_id,
                   CASE m.target_type WHEN 'segment' THEN s.source_id WHEN 'source' THEN m.target_id END AS source,
                   CASE m.target_type WHEN 'segment' THEN s.text WHEN 'code' THEN k.label END AS about,
                   m.text AS memo
            FROM memos m
            LEFT JOIN segments s ON m.target_type = 'segment' AND s.id = CAST(m.target_id AS INTEGER)
            LEFT JOIN codes k ON m.target_type = 'code' AND k.id = m.target_id
            WHERE {where} ORDER BY m.id""",
        project.conn,
        params=params,
    )
    if kind in ("project", "source"):
        return memos
    on_coding, coding_params = _where(
        {
            "c.segment_id = ?": ident if kind == "segment" else None,
            "c.code_id = ?": ident if kind == "code" else None,
            "c.coder = ?": coder,
        }
    )
    codings = pd.read_sql_query(
        f"""SELECT 'coding:' || c.id AS id, c.updated_at AS created_at, c.coder, 'coding' AS target_type,
                   c.code_id || ' on segment ' || c.segment_id AS target_id, c.source_id AS source,
                   s.text AS about, c.memo
            FROM codings c LEFT JOIN segments s ON s.id = c.segment_id
            WHERE c.coder IS NOT NULL AND c.memo IS NOT NULL AND c.memo <> '' AND {on_coding}
            ORDER BY c.id""",
        project.conn,
        params=coding_params,
    )
    if codings.empty:
        return memos
    if memos.empty:
        return codings
    return pd.concat([memos, codings], ignore_index=True)
