"""Segmentation: turns -> segments (turn, paragraph or sentence), speakers -> roles and units.

A segment is the unit a code is applied to. Its ``start`` / ``end`` are code-point offsets
(end exclusive) into the source's normalised text, so an excerpt can always be found again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from qualkam.sources.metadata import Participant, SourceMeta
from qualkam.sources.turns import PARAGRAPH, SHORTHAND, Turn, find_turns, trim_span

if TYPE_CHECKING:
    from spacy.tokens import Doc


class Unit(str, Enum):
    """What one segment is."""

    turn = "turn"
    paragraph = "paragraph"
    sentence = "sentence"


@dataclass
class Segment:
    """One codable stretch of a source."""

    position: int
    start: int
    end: int
    text: str
    speaker: str | None = None
    role: str | None = None
    speaker_unit: str | None = None
    time_start: str | None = None
    time_end: str | None = None
    lemmas: str | None = None


def _find_participant(meta: SourceMeta, label: str) -> Participant | None:
    found = meta.participant(label)
    if found is not None:
        return found
    first = label.casefold()
    matches = [
        p
        for p in meta.participants.values()
        if first in {p.label.split()[0].casefold(), (p.name or p.label).split()[0].casefold()}
    ]
    return matches[0] if len(matches) == 1 else None


def participant_known(meta: SourceMeta) -> Callable[[str], bool] | None:
    """The turn parser's test for plain ``Name:`` labels; None when no participants are listed."""
    if not meta.participants:
        return None
    return lambda label: _find_participant(meta, label) is not None


def resolve_turns(turns: list[Turn], meta: SourceMeta) -> list[tuple[Turn, str | None, str | None, str | None]]:
    """Attach (speaker, role, unit) to each turn: participants first, then the label itself."""
    resolved = []
    for turn in turns:
        speaker, role, unit = turn.speaker, turn.role, None
        if turn.speaker:
            person = _find_participant(meta, turn.speaker)
            if person is not None:
                speaker = person.name or person.label
                role = person.role or role
                unit = person.unit
            if role is None:
                role = SHORTHAND.get(turn.speaker.casefold())
        resolved.append((turn, speaker, role, unit))
    return resolved


def text_turns(text: str, meta: SourceMeta) -> list[Turn]:
    """Turns of a text, Markdown or Word source (subtitle files bring their own)."""
    return find_turns(text, participant_known(meta))


def split_turn(text: str, turn: Turn, doc: Doc | None, unit: Unit) -> list[tuple[int, int]]:
    """The (start, end) spans of the segments of one turn; ``doc`` is the turn's spaCy Doc."""
    if unit is Unit.turn:
        spans = [(turn.start, turn.end)]
    elif unit is Unit.paragraph:
        body = text[turn.start : turn.end]
        spans = [(turn.start + m.start(), turn.start + m.end()) for m in PARAGRAPH.finditer(body)]
    else:
        if doc is None:
            raise ValueError("sentence segmentation needs the turn's Doc")
        spans = [(turn.start + s.start_char, turn.start + s.end_char) for s in doc.sents]
    trimmed = (trim_span(text, s, e) for s, e in spans)
    return [(s, e) for s, e in trimmed if e > s]
