"""Reads every part of qualkam shares: the coders, the code tree, a code and all below it.

Each question is answered once, here, in one order, so two commands never list the coders
or a code's children differently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qualkam.store.layers import CONSENSUS

if TYPE_CHECKING:
    from qualkam.store.project import Project


def coders(project: Project, consensus: bool = True) -> list[str]:
    """Every person who has coded (accepted or rejected), in the order they first coded;
    ``consensus=False`` leaves the consensus coder out (it reconciles, it does not code)."""
    rows = project.conn.execute(
        "SELECT coder FROM codings WHERE coder IS NOT NULL GROUP BY coder ORDER BY MIN(id)"
    ).fetchall()
    return [r[0] for r in rows if consensus or r[0] != CONSENSUS]


@dataclass(frozen=True)
class CodeNode:
    """One code of the project's tree, current or retired."""

    id: str
    label: str
    parent: str | None
    definition: str
    color: str | None
    position: int
    retired: bool
    attributes: dict[str, Any] = field(default_factory=dict, compare=False)


def code_tree(project: Project, retired: bool = True) -> dict[str, CodeNode]:
    """Code id -> node, in codebook order (current codes first by position, then retired ones)."""
    rows = project.conn.execute(
        "SELECT id, label, parent, definition, color, position, retired_at, attributes FROM codes "
        "ORDER BY retired_at IS NOT NULL, position, id"
    ).fetchall()
    tree: dict[str, CodeNode] = {}
    for r in rows:
        if r["retired_at"] is not None and not retired:
            continue
        tree[r["id"]] = CodeNode(
            r["id"],
            r["label"],
            r["parent"],
            r["definition"] or "",
            r["color"],
            int(r["position"]),
            r["retired_at"] is not None,
            json.loads(r["attributes"] or "{}"),
        )
    return tree


def descendants(tree: dict[str, CodeNode], code_ids: Iterable[str]) -> list[str]:
    """The codes named and every code below them, in codebook order; a name not in the tree
    is kept (the caller checks names). A cycle (a codebook bug) does not loop."""
    children: dict[str | None, list[str]] = {}
    for node in tree.values():
        children.setdefault(node.parent, []).append(node.id)
    found: list[str] = []
    stack = list(reversed(list(code_ids)))
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.append(current)
        stack.extend(reversed(children.get(current, [])))
    return sorted(found, key=lambda c: (tree[c].position if c in tree else math.inf, found.index(c)))


def code_and_below(project: Project, code_ids: Sequence[str]) -> list[str]:
    """``descendants`` on the project's own tree: what ``--code control`` covers."""
    return descendants(code_tree(project), code_ids)
