"""People's codings: accept, reject, add or remove a code on a segment, and memos.

Every change is written with the coder, the time and an audit line (before / after) in the
same transaction. A person's coding is one row per (segment, code, coder): deciding again
updates it, so repeating a decision or re-importing a file changes nothing. ``origin`` says
where the coding came from: ``rule`` / ``model`` when a person accepted (or rejected) a
machine suggestion, ``human`` when they added the code by hand.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import Enum
from typing import Any

from qualkam.choices import unknown
from qualkam.errors import QualkamError
from qualkam.store.project import Project, now, record_audit

MEMO_TARGETS = ("project", "code", "source", "segment")


class Action(str, Enum):
    """What a coder can do to one code on one segment."""

    accept = "accept"
    reject = "reject"
    add = "add"
    remove = "remove"


@dataclass
class Outcome:
    """What a decision did: ``inserted``, ``updated`` or ``unchanged``."""

    change: str
    coding_id: int
    status: str


def _coding_row(conn: sqlite3.Connection, coding_id: int) -> dict[str, Any]:
    row = conn.execute(
        'SELECT id, segment_id, source_id, start, "end", code_id, coder, origin, status, memo, created_at, updated_at '
        "FROM codings WHERE id = ?",
        (coding_id,),
    ).fetchone()
    return dict(row)


def check_code(conn: sqlite3.Connection, code_id: str) -> None:
    """Raise a clear error for a code the project does not know."""
    row = conn.execute("SELECT retired_at FROM codes WHERE id = ?", (code_id,)).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute("SELECT id FROM codes WHERE retired_at IS NULL ORDER BY position")]
        raise unknown("code", code_id, known)


def apply_decision(
    conn: sqlite3.Connection,
    coder: str,
    segment_id: int,
    code_id: str,
    action: Action,
    memo: str | None = None,
    at: str | None = None,
    span: tuple[int, int] | None = None,
    via: str = "review",
    actor: str | None = None,
) -> Outcome:
    """Apply one decision inside the caller's transaction (imports batch many in one).

    ``span`` keeps a coder's own (start, end) inside the segment, as imports from other
    tools give; by default the coding covers the whole segment. ``at`` keeps the time a
    decision was really made, for imports and merges. ``actor`` is who the audit trail names
    when that is not the coder (the person who decided a consensus coding).
    """
    if not coder or not coder.strip():
        raise QualkamError("a coder name is needed (--coder NAME)")
    coder = coder.strip()
    if coder != "consensus" and coder.startswith(("qualkam", "model", "rule")):
        raise QualkamError(f"coder name {coder!r} is reserved for machine suggestions; choose a person's name")
    check_code(conn, code_id)
    seg = conn.execute('SELECT id, source_id, start, "end", text FROM segments WHERE id = ?', (segment_id,)).fetchone()
    if seg is None:
        raise QualkamError(f"unknown segment {segment_id}")
    start, end = span if span else (seg["start"], seg["end"])
    text = conn.execute(
        "SELECT substr(text, ?, ?) FROM sources WHERE id = ?", (start + 1, end - start, seg["source_id"])
    ).fetchone()[0]
    machine = conn.execute(
        "SELECT origin FROM codings WHERE segment_id = ? AND code_id = ? AND coder IS NULL ORDER BY score DESC LIMIT 1",
        (segment_id, code_id),
    ).fetchone()
    existing = conn.execute(
        "SELECT id FROM codings WHERE segment_id = ? AND code_id = ? AND coder = ?", (segment_id, code_id, coder)
    ).fetchone()
    status = "accepted" if action in (Action.accept, Action.add) else "rejected"
    if existing is None and action is Action.remove and machine is None:
        raise QualkamError(f"segment {segment_id} has no code {code_id!r} from {coder} or the rules to remove")
    stamp = at or now()
    if existing is not None:
        before = _coding_row(conn, existing["id"])
        new_memo = memo if memo is not None else before["memo"]
        same_span = (before["start"], before["end"]) == (start, end)
        if before["status"] == status and new_memo == before["memo"] and same_span:
            return Outcome("unchanged", before["id"], status)
        origin = before["origin"] if action is not Action.add else "human"
        conn.execute(
            'UPDATE codings SET status = ?, origin = ?, memo = ?, start = ?, "end" = ?, text = ?, '
            "updated_at = ? WHERE id = ?",
            (status, origin, new_memo, start, end, text, stamp, before["id"]),
        )
        record_audit(
            conn,
            actor or coder,
            action.value,
            "coding",
            str(before["id"]),
            before,
            _coding_row(conn, before["id"]),
            via,
        )
        return Outcome("updated", before["id"], status)
    origin = machine["origin"] if machine is not None and action is not Action.add else "human"
    coding_id = int(
        conn.execute(
            """INSERT INTO codings (segment_id, source_id, start, "end", text, code_id, coder, origin, status, score,
           evidence, memo, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '[]', ?, ?, ?)""",
            (segment_id, seg["source_id"], start, end, text, code_id, coder, origin, status, memo, stamp, stamp),
        ).lastrowid
    )
    record_audit(conn, actor or coder, action.value, "coding", str(coding_id), None, _coding_row(conn, coding_id), via)
    return Outcome("inserted", coding_id, status)


def decide(
    project: Project, coder: str, segment_id: int, code_id: str, action: Action | str, memo: str | None = None
) -> Outcome:
    """One decision, saved at once in its own transaction (the review loop's unit of work)."""
    with project.transaction() as conn:
        return apply_decision(conn, coder, segment_id, code_id, Action(action), memo)


def add_memo(project: Project, coder: str, target_type: str, target_id: str | None, text: str) -> int:
    """Write a memo on the project, a code, a source or a segment; audited like a coding."""
    if target_type not in MEMO_TARGETS:
        raise QualkamError(f"a memo is on one of {', '.join(MEMO_TARGETS)}, not {target_type!r}")
    if not text.strip():
        raise QualkamError("an empty memo was not saved")
    with project.transaction() as conn:
        if target_type != "project":
            table = {"code": "codes", "source": "sources", "segment": "segments"}[target_type]
            if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (target_id,)).fetchone() is None:
                raise unknown(target_type, target_id, [r[0] for r in conn.execute(f"SELECT id FROM {table}")], "--on")
        else:
            target_id = None
        stamp = now()
        memo_id = int(
            conn.execute(
                "INSERT INTO memos (target_type, target_id, coder, text, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (target_type, target_id, coder, text.strip(), stamp, stamp),
            ).lastrowid
        )
        record_audit(conn, coder, "memo", target_type, target_id, None, {"memo": memo_id, "text": text.strip()})
    return memo_id
