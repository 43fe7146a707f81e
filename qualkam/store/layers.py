"""Layers of codings: which codings a matrix, an excerpt list, an export or a model is made from.

This is the one definition; every command's ``--from`` and every library ``layer=`` argument
is parsed here, so one layer means the same codings everywhere.

- ``auto``: what the project holds as coded: every person's accepted codings, and the
  machine's suggestions that no person has decided yet (accepted or rejected): a person's
  coding of the code whose span covers the suggestion's segment decides it.
- ``suggestions``: the machine's suggestions (rules and model), decided or not.
- ``human``: every person's accepted codings, the consensus coder's included.
- ``consensus``: the accepted codings of the consensus coder (``qualkam reconcile``).
- ``coder:NAME``: one person's accepted codings.
- ``all``: every coding: suggestions, and people's accepted and rejected decisions.

``human``, ``consensus`` and ``coder:NAME`` are people's layers: the ones reliability and
training can use (``Layer.people``).

A layer is a set of codings; what they mean for segments is one rule, the same for every
reader: a coding counts for every segment its span overlaps (its anchor and each later
segment it overlaps by at least one character: the ``coding_segments`` table). See
docs/architecture.md, "Spans and segments".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qualkam.errors import QualkamError

CONSENSUS = "consensus"  # the coder that reconciliation writes to
NAMES = ("auto", "suggestions", "human", "consensus", "all")
PEOPLE = ("human", "consensus")  # with coder:NAME, the layers made of people's decisions
SHOWN = (*NAMES, "coder:NAME")

_ACCEPTED = "c.coder IS NOT NULL AND c.status = 'accepted'"
# A suggestion is decided once a person's coding of its code (accepted or rejected) covers its
# segment: one anchored there, or any span that overlaps the segment (``coding_segments``).
_UNDECIDED = (
    "c.coder IS NULL AND NOT EXISTS (SELECT 1 FROM coding_segments dcs JOIN codings d ON d.id = dcs.coding_id "
    "WHERE dcs.segment_id = c.segment_id AND d.code_id = c.code_id AND d.coder IS NOT NULL)"
)
_SQL = {
    "auto": f"(({_ACCEPTED}) OR ({_UNDECIDED}))",
    "suggestions": "c.coder IS NULL",
    "human": _ACCEPTED,
    "consensus": f"{_ACCEPTED} AND c.coder = '{CONSENSUS}'",
    "all": "1 = 1",
}


@dataclass(frozen=True)
class Layer:
    """A parsed layer name (see the module docstring for what each one holds)."""

    name: str  # one of NAMES, or "coder"
    coder: str | None = None  # for coder:NAME

    @classmethod
    def parse(cls, value: str | Layer, argument: str = "layer", allowed: Sequence[str] = NAMES) -> Layer:
        """``auto``, ``human``, ``coder:ana`` ... as a Layer; anything else is an error naming
        ``argument`` with the choices and a did-you-mean. ``allowed`` narrows the named layers
        (``coder:NAME`` is always allowed)."""
        if isinstance(value, Layer):
            layer = value
        else:
            text = (value or "").strip()
            if text.startswith("coder:"):
                name = text[len("coder:") :].strip()
                if not name:
                    raise QualkamError("{argument} 'coder:' names no coder; write coder:NAME", argument=argument)
                return cls("coder", name)
            from qualkam.choices import check_choice

            layer = cls(check_choice("layer", text, [*allowed, "coder:NAME"], argument))
        if layer.name != "coder" and layer.name not in allowed:
            from qualkam.choices import unknown

            raise unknown("layer", str(layer), [*allowed, "coder:NAME"], argument)
        return layer

    def __str__(self) -> str:
        return f"coder:{self.coder}" if self.name == "coder" else self.name

    @property
    def people(self) -> bool:
        """Made only of people's decisions (human, consensus, coder:NAME)."""
        return self.name in PEOPLE or self.name == "coder"

    def sql(self, alias: str = "c") -> tuple[str, tuple[Any, ...]]:
        """The SQL condition on the ``codings`` table (as ``alias``) and its parameters."""
        params: tuple[Any, ...] = ()
        if self.name == "coder":
            condition, params = f"{_ACCEPTED} AND c.coder = ?", (self.coder,)
        else:
            condition = _SQL[self.name]
        if alias != "c":
            condition = re.sub(r"\bc\.", f"{alias}.", condition)
        return condition, params
