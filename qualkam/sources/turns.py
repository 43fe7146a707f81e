"""Finding speaker turns in plain text: ``Name:``, ``NAME (Role):``, ``[00:01:02] Name:`` and kin.

The rules are in docs/sources-format.md. The parser only reports where turns are; roles
and units are resolved against the metadata later (segment.py), so one parser serves text,
Markdown and Word alike.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
_NAME = r"[^\W\d_][\w.'’\-]*(?:[ \t]+[\w.'’\-]+){0,4}"
_ROLE = r"\((?P<role>[^()\n]{1,60})\)"
_LABEL = rf"(?P<label>{_NAME})(?:[ \t]*{_ROLE})?"
_BOLD = r"(?:\*\*|__)"
_END = r"(?:[ \t]+|$)"


def _stamp(name: str) -> str:
    r"""A time in brackets or parentheses, Markdown-escaped or not: ``[04:01]``, ``\[11:58\]``, ``(1:02:03)``."""
    return rf"\\?[\[(][ \t]*(?P<{name}>{TIME})[ \t]*\\?[\])]"


# A time right after a label: bracketed (then an optional colon or dash), or bare at the end
# of the line (Otter: "Speaker 1  0:05", words below). A bare time followed by words is
# part of what was said ("Adam: 5:30 is when we meet").
_AFTER = rf"(?:[ \t]*(?:{_stamp('after')}(?:[ \t]*[:\-–—](?=[ \t]|$))?|(?P<bare>{TIME})(?=[ \t]*$)))?"

# Each pattern ends where the spoken words begin.
_PATTERNS = [
    # Zoom chat export: "00:05:41<TAB>Name:<TAB>message"; display names may be lower-case handles.
    re.compile(rf"^(?P<time>{TIME})\t(?P<label>[^\t\n:]{{1,60}}):\t"),
    re.compile(rf"^[ \t]*{_stamp('time')}[ \t]*(?:-[ \t]*)?{_BOLD}?{_LABEL}[ \t]*(?::{_BOLD}?|{_BOLD}[ \t]*:){_END}"),
    re.compile(rf"^[ \t]*{_LABEL}[ \t]*{_stamp('time')}[ \t]*:?{_END}"),
    re.compile(rf"^[ \t]*{_BOLD}{_LABEL}{_BOLD}[ \t]*{_stamp('time')}[ \t]*:?{_END}"),
    re.compile(rf"^[ \t]*{_BOLD}{_LABEL}[ \t]*(?::{_BOLD}|{_BOLD}[ \t]*:){_AFTER}{_END}"),
    # The label takes as few words as it can, so "Sarah Collins  1:02:05" is not "Sarah Collins 1".
    re.compile(rf"^[ \t]*(?P<label>{_NAME}?)[ \t]+(?P<time>{TIME})[ \t]*$"),
    re.compile(rf"^[ \t]*{_LABEL}[ \t]*:{_AFTER}{_END}"),
]
# Generic numbered labels of transcription tools and studies: "Speaker 1", "Participant 12", "T2".
_NUMBERED = re.compile(
    r"(?:speaker|participant|respondent|interviewee|interviewer|moderator|student|teacher"
    r"|person|guest|host|p|s|t)[ \t]*\d{1,3}",
    re.I,
)

SHORTHAND = {
    "i": "Researcher",
    "interviewer": "Researcher",
    "q": "Researcher",
    "r": None,
    "a": None,
    "respondent": None,
    "interviewee": None,
}
# Labels that open a line with a colon but are not people.
# A paragraph: text up to a blank line. Shared with segment.py for the paragraph unit.
PARAGRAPH = re.compile(r"\S(?:.|\n(?![ \t]*\n))*")

NOT_SPEAKERS = {
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "sent",
    "re",
    "fwd",
    "fw",
    "note",
    "notes",
    "attachment",
    "attachments",
    "action",
    "actions",
    "agenda",
    "item",
    "present",
    "apologies",
    "minutes",
    "decision",
    "decisions",
    "nb",
    "ps",
    "p.s",
    "http",
    "https",
    "location",
    "time",
    "venue",
    "attendees",
    "summary",
    "update",
    "next steps",
    "todo",
    "tel",
    "phone",
    "email",
    "e-mail",
    "www",
    "source",
    "title",
    "status",
    "owner",
    "due",
}


@dataclass(slots=True)  # a 200 MB transcript has some 700,000 turns (issue 14)
class Turn:
    """A stretch of the source text spoken by one speaker (or, with no speaker, a paragraph)."""

    start: int
    end: int
    speaker: str | None = None
    role: str | None = None
    time_start: str | None = None
    time_end: str | None = None


_PARTICLES = {"van", "von", "de", "der", "den", "da", "di", "du", "le", "la", "bin", "al", "of", "the", "and", "&"}


# Labels that name a place in the talk, not one person across sources: the teacher of one
# classroom transcript is not the teacher of the next ("T", "S", "SS", "Students", "Others").
_GENERIC = frozenset(
    "t s ss teacher student students moderator facilitator participant participants speaker unknown "
    "other others all everyone group class audience several multiple".split()
)


def generic_label(label: str) -> bool:
    """A shorthand (I, R), a numbered label (T2, Speaker 3) or a role word (T, Students): it
    names a different person in every source, so it is no case and counts once per source."""
    folded = " ".join(label.split()).casefold()
    return folded in SHORTHAND or folded in _GENERIC or bool(_NUMBERED.fullmatch(folded))


def looks_like_name(label: str) -> bool:
    """A name or role is capitalised word by word ("Sarah Collins", "Head of Sales"), which
    a sentence opening such as "He asked us:" is not."""
    words = label.split()
    return bool(words) and words[0][0].isupper() and all(w[0].isupper() or w.casefold() in _PARTICLES for w in words)


def is_speaker_label(label: str, has_role: bool, has_time: bool, known: Callable[[str], bool] | None) -> bool:
    """Decide whether a ``Label:`` opening is a speaker, by the rules in the docs."""
    folded = label.casefold().strip()
    if folded in NOT_SPEAKERS:
        return False
    if folded in SHORTHAND:
        return True
    if known is not None and known(label):
        return True
    if _NUMBERED.fullmatch(label.strip()):
        return True
    words = [w for w in label.split() if not ((has_role or has_time) and w.isdigit())]
    if not looks_like_name(" ".join(words)):
        return False
    if has_role or has_time:
        return True
    return known is None


def match_label(
    line: str, known: Callable[[str], bool] | None = None
) -> tuple[re.Match[str], str, str | None, str | None] | None:
    """Return (match, label, role, time) when the line opens a speaker turn."""
    if line.lstrip().startswith("#"):
        return None
    for pattern in _PATTERNS:
        match = pattern.match(line)
        if not match:
            continue
        label = match.group("label").strip()
        groups = match.groupdict()
        role = groups.get("role")
        time = groups.get("time") or groups.get("after") or groups.get("bare")
        if pattern is _PATTERNS[0] or is_speaker_label(label, bool(role), bool(time), known):
            return match, label, role.strip() if role else None, time
        return None
    return None


def _paragraph_turns(text: str, start: int, end: int) -> list[Turn]:
    """Split a speakerless stretch into paragraphs (blank-line separated)."""
    stretch = text[start:end]
    turns = [_trim(text, Turn(start + p.start(), start + p.end())) for p in PARAGRAPH.finditer(stretch)]
    return [t for t in turns if t.end > t.start]


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink (start, end) past surrounding whitespace, so offsets cover words only."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _trim(text: str, turn: Turn) -> Turn:
    turn.start, turn.end = trim_span(text, turn.start, turn.end)
    return turn


LINES_BLOCK = 1 << 20  # characters split into lines at a time


def _lines(text: str) -> Iterator[str]:
    """``text.splitlines(keepends=True)``, a block at a time: a very large text is not copied
    whole into a list of lines (issue 14). Each block ends just after a ``\\n``, which ends a
    line wherever it is, so the lines are the same."""
    at = 0
    while at < len(text):
        cut = text.find("\n", at + LINES_BLOCK)
        end = len(text) if cut == -1 else cut + 1
        yield from text[at:end].splitlines(keepends=True)
        at = end


def find_turns(text: str, known: Callable[[str], bool] | None = None) -> list[Turn]:
    """Split ``text`` into turns. ``known(label)`` says whether a plain label is a participant.

    Text before the first speaker line, and all text when there is no speaker line, becomes
    one turn per paragraph with no speaker, so field notes are still segmented sensibly.
    """
    turns: list[Turn] = []
    current: Turn | None = None
    offset = 0
    names: dict[str, str] = {}
    for line in _lines(text):
        found = match_label(line, known)
        if found:
            match, label, role, time = found
            if current is None:
                turns.extend(_paragraph_turns(text, 0, offset))
            else:
                current.end = offset
                turns.append(_trim(text, current))
            # One string per speaker, not one per turn (a 200 MB transcript has 1.6 million turns).
            label, role = names.setdefault(label, label), names.setdefault(role, role) if role else role
            current = Turn(offset + match.end(), offset + len(line), label, role, time)
        elif current is not None:
            current.end = offset + len(line)
        offset += len(line)
    if current is None:
        turns.extend(_paragraph_turns(text, 0, len(text)))
    else:
        current.end = len(text)
        turns.append(_trim(text, current))
    turns = [t for t in turns if t.end > t.start]
    end_at_next_start(turns)
    return turns


def end_at_next_start(turns: list[Turn]) -> None:
    """A turn whose source gives only start times ends where the next turn, if timed, begins."""
    for turn, after in itertools.pairwise(turns):
        if turn.time_start and turn.time_end is None and after.time_start:
            turn.time_end = after.time_start
