"""Reading the audit trail and the memos back out, as DataFrames for any export format."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from qualkam.choices import check_choice, check_known, parse_date
from qualkam.errors import QualkamError
from qualkam.store.audit import audit_table
from qualkam.store.memos import coding_memo_table, memo_table
from qualkam.store.names import known_names
from qualkam.store.project import Project

if TYPE_CHECKING:
    import pandas as pd

ENTITIES = ("coding", "codebook", "code", "source", "segment", "project", "memo", "model")


def audit_frame(
    project: Project, actor: str | None = None, since: str | None = None, entity: str | None = None
) -> pd.DataFrame:
    """Every recorded change (who, when, what, before/after JSON), oldest first. ``since`` is
    an ISO date or time (checked strictly); ``actor`` and ``entity`` must be ones the trail has."""
    if actor:
        actor = check_known(project, "actor", [actor], "actor")[0]
    if entity:
        entity = check_choice("entity", entity, ENTITIES, "entity")
    if since:
        since = parse_date(since, "since")
    return audit_table(project, actor, since, entity)


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


def parse_target(text: str | None, argument: str = "on") -> tuple[str | None, str | None]:
    """``code:ID``, ``source:ID``, ``segment:N`` or ``project`` -> (type, id); anything else is
    an error naming ``argument``."""
    if text is None:
        return None, None
    if text == "project":
        return "project", None
    kind, sep, ident = text.partition(":")
    if not sep or kind not in ("code", "source", "segment") or not ident:
        raise QualkamError(f"{{argument}} {text!r}: write project, code:ID, source:ID or segment:N", argument=argument)
    return kind, ident


def memos_frame(project: Project, on: str | None = None, coder: str | None = None) -> pd.DataFrame:
    """Memos with what they are about (``on``: only those on the project, ``code:ID``,
    ``source:ID`` or ``segment:N``); segment memos carry the segment's source and text.

    A memo written on a coding (a coded row of a sheet, ``review``'s memo on a decision) is
    listed too, with the id ``coding:N``, as being on that coding's segment and code.
    """
    import pandas as pd

    kind, ident = parse_target(on)
    if kind in ("code", "source") and ident is not None:
        ident = check_known(project, kind, [ident], "on")[0]
    if coder:
        writers = [*known_names(project, "memo writer"), *known_names(project, "coder")]
        coder = check_choice("memo writer", coder, list(dict.fromkeys(writers)), "coder")
    memos = memo_table(project, kind, ident, coder)
    if kind in ("project", "source"):
        return memos
    codings = coding_memo_table(project, ident if kind == "segment" else None, ident if kind == "code" else None, coder)
    if codings.empty:
        return memos
    if memos.empty:
        return codings
    return pd.concat([memos, codings], ignore_index=True)
