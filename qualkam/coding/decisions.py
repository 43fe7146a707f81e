"""People's codings: accept, reject, add or remove a code on a segment.

Every change is written with the coder, the time and an audit line (before / after) in the
same transaction. A person's coding is one row per (segment, code, coder): deciding again
updates it, so repeating a decision or re-importing a file changes nothing. ``origin`` says
where the coding came from: ``rule`` / ``model`` when a person accepted (or rejected) a
machine suggestion, ``human`` when they added the code by hand. (Memos: ``qualkam.store.memos``.)
"""

from __future__ import annotations

from enum import Enum

from qualkam.choices import unknown
from qualkam.errors import QualkamError
from qualkam.store.codebooks import code_known
from qualkam.store.imports import is_suggested, span_segments
from qualkam.store.layers import CONSENSUS
from qualkam.store.people import Outcome, write_decision, write_span
from qualkam.store.project import Project
from qualkam.store.reads import code_tree

__all__ = ["Action", "Outcome", "apply_decision", "apply_span", "check_code", "decide"]


class Action(str, Enum):
    """What a coder can do to one code on one segment."""

    accept = "accept"
    reject = "reject"
    add = "add"
    remove = "remove"


def check_code(project: Project, code_id: str) -> None:
    """Raise a clear error for a code the project does not know."""
    if not code_known(project, code_id):  # one indexed look-up: imports check every row
        raise unknown("code", code_id, [c for c, node in code_tree(project).items() if not node.retired])


def check_coder(coder: str | None) -> str:
    """A person's name, stripped; not empty and not one of the machine's names."""
    if not coder or not coder.strip():
        raise QualkamError("a coder name is needed ({argument} NAME)", argument="coder")
    coder = coder.strip()
    if coder != CONSENSUS and coder.startswith(("qualkam", "model", "rule")):
        raise QualkamError(f"coder name {coder!r} is reserved for machine suggestions; choose a person's name")
    return coder


def apply_decision(
    project: Project,
    coder: str,
    segment_id: int,
    code_id: str,
    action: Action | str,
    memo: str | None = None,
    at: str | None = None,
    span: tuple[int, int] | None = None,
    via: str = "review",
    actor: str | None = None,
) -> Outcome:
    """Apply one decision in one transaction; inside a caller's transaction (an import batches
    many) it is a step of that one, so a failure there undoes the whole import.

    ``span`` keeps a coder's own (start, end) inside the segment, as imports from other
    tools give; by default the coding covers the whole segment. ``at`` keeps the time a
    decision was really made, for imports and merges. ``actor`` is who the audit trail names
    when that is not the coder (the person who decided a consensus coding).
    """
    action = Action(action)
    with project.transaction():
        coder = check_coder(coder)
        check_code(project, code_id)
        return write_decision(project, coder, segment_id, code_id, action.value, memo, at, span, via, actor)


decide = apply_decision  # the review loop's name for one decision saved at once


def apply_span(
    project: Project,
    coder: str,
    source: str,
    start: int,
    end: int,
    code_id: str,
    status: str = "accepted",
    memo: str | None = None,
    at: str | None = None,
    via: str = "import",
    actor: str | None = None,
    by_hand: bool | None = None,
) -> Outcome:
    """A person's decision (``status`` accepted or rejected) on the exact span [start, end) of a
    source, kept as one coding however many segments it covers: what imports and merges write.
    The same span, code and coder again changes nothing.

    A span that overlaps one segment is decided like a segment (``apply_decision`` with the
    span), so a coding of a whole segment, or of words inside it, is what it always was: an
    acceptance of the machine's suggestion of that code there (origin ``rule`` / ``model``)
    unless ``by_hand`` says the person added it (``None``: by hand when nothing was
    suggested). A span across segments is the person's own (``human``). A span outside the
    text, or over no segment's text, is refused (QualkamError)."""
    if status not in ("accepted", "rejected"):
        raise QualkamError(f"a decision is accepted or rejected, not {status!r}", argument="status")
    with project.transaction():
        coder = check_coder(coder)
        check_code(project, code_id)
        found = span_segments(project, source, start, end)
        if found is not None and 0 <= start < end <= found[0] and len(found[1]) == 1:
            segment_id = found[1][0]
            if status == "rejected":
                action = Action.reject
            elif by_hand is None:
                action = Action.accept if is_suggested(project, segment_id, code_id) else Action.add
            else:
                action = Action.add if by_hand else Action.accept
            return write_decision(project, coder, segment_id, code_id, action.value, memo, at, (start, end), via, actor)
        # Several segments, or a span the store refuses with its reason (unknown source, outside the text, no text).
        return write_span(project, coder, source, start, end, code_id, memo, status, at, via, actor)
