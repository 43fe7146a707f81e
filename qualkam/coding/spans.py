"""People's codings on any span of a source: what the workspace (``qualkam serve``) and scripts
write when a researcher highlights a passage.

A span is [start, end) in code points of the source's stored text (Python ``str`` indices),
anchored to the first segment it overlaps; segment-level reads count it for every segment it
overlaps (``coding_segments`` in the store). Each function is one short transaction with its
audit line, so several coders (and the CLI) can write to one project at once. A person may
only change their own codings; a machine suggestion is never removed, only decided.
"""

from __future__ import annotations

from typing import Any

from qualkam.coding.decisions import Action, Outcome, apply_decision, check_code, check_coder
from qualkam.errors import ForbiddenError, QualkamError
from qualkam.store.people import coding_row, delete_coding, set_coding_memo, write_span
from qualkam.store.project import Project

__all__ = ["code_span", "decide_suggestion", "remove_coding", "restore_coding", "set_memo"]


def code_span(
    project: Project,
    source: str,
    start: int,
    end: int,
    code: str,
    coder: str,
    memo: str | None = None,
    via: str = "workspace",
    actor: str | None = None,
    status: str = "accepted",
) -> Outcome:
    """Code [start, end) of ``source`` with ``code`` as ``coder``; the same span, code and coder
    again changes nothing (a rejected one is accepted again). ``status="rejected"`` records a
    decision against the code there (the consensus coder's, as ``reconcile`` writes it);
    ``actor`` is who the audit line names when that is not the coder."""
    if status not in ("accepted", "rejected"):
        raise QualkamError(f"a coding is accepted or rejected, not {status!r}", argument="status")
    with project.transaction():
        coder = check_coder(coder)
        check_code(project, code)
        start, end = _offset(start, "start"), _offset(end, "end")
        return write_span(project, coder, source, start, end, code, memo, status=status, via=via, actor=actor)


def _own(project: Project, coding_id: int, coder: str) -> dict[str, Any]:
    """The coding, when it is ``coder``'s own; a suggestion or another person's is refused."""
    row = coding_row(project, coding_id)
    if row["coder"] is None:
        raise ForbiddenError(f"coding {coding_id} is a machine suggestion: accept or reject it instead")
    if row["coder"] != coder:
        raise ForbiddenError(f"coding {coding_id} is {row['coder']}'s; {coder} may change only their own codings")
    return row


def remove_coding(project: Project, coding_id: int, coder: str, via: str = "workspace") -> dict[str, Any]:
    """Delete one of ``coder``'s own codings (or decisions); the row as it was is returned and
    kept in the audit trail. Removing the row a decision on a suggestion wrote undoes it."""
    with project.transaction():
        coder = check_coder(coder)
        _own(project, coding_id, coder)
        return delete_coding(project, coding_id, coder, via)


def set_memo(project: Project, coding_id: int, coder: str, memo: str | None, via: str = "workspace") -> dict[str, Any]:
    """Write (or with None or "" clear) the memo on one of ``coder``'s own codings."""
    with project.transaction():
        coder = check_coder(coder)
        _own(project, coding_id, coder)
        return set_coding_memo(project, coding_id, memo, coder, via)


def decide_suggestion(
    project: Project,
    suggestion_id: int,
    coder: str,
    action: Action | str,
    via: str = "workspace",
    actor: str | None = None,
) -> Outcome:
    """``coder`` accepts or rejects a machine suggestion: a person's row on the suggestion's
    segment and code (the suggestion itself is never changed)."""
    action = Action(action)
    if action not in (Action.accept, Action.reject):
        raise QualkamError(f"a suggestion is accepted or rejected, not {action.value!r}", argument="action")
    row = coding_row(project, suggestion_id)
    if row["coder"] is not None:
        raise QualkamError(f"coding {suggestion_id} is {row['coder']}'s, not a machine suggestion")
    if row["segment_id"] is None:
        raise QualkamError(f"suggestion {suggestion_id} has no segment any more; code the text again")
    return apply_decision(project, coder, row["segment_id"], row["code_id"], action, via=via, actor=actor)


def restore_coding(
    project: Project, row: dict[str, Any], coder: str, via: str = "workspace", actor: str | None = None
) -> Outcome:
    """Write a removed coding again (its span, code, status and memo; a new id): how an undo of
    a removal, or a redo of a coding, is saved."""
    with project.transaction():
        coder = check_coder(coder)
        if row.get("coder") not in (None, coder):
            raise ForbiddenError(f"that coding was {row['coder']}'s; {coder} may restore only their own codings")
        check_code(project, row["code_id"])
        return write_span(
            project,
            coder,
            row["source_id"],
            _offset(row["start"], "start"),
            _offset(row["end"], "end"),
            row["code_id"],
            row.get("memo"),
            status=row.get("status") or "accepted",
            via=via,
            actor=actor,
        )


def _offset(value: Any, name: str) -> int:
    """A whole number of code points (a bool or a float is not one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise QualkamError(f"{{argument}} must be a whole number of characters, not {value!r}", argument=name)
    return value
