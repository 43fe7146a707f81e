"""Real Zoom transcripts and a chat export (../shared/corpora, CC BY-SA 3.0; they stay there)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from qualkam.sources.formats import read_source
from qualkam.sources.turns import find_turns

from .conftest import SHARED, needs_shared

ZOOM = SHARED / "corpora" / "zoom-meetings"
# From PROVENANCE.md: distinct speakers per meeting.
SPEAKERS = {"focil/2026-04-07_032": 4, "acdc/2026-02-19_175": 7, "acde/2026-02-12_230": 20}


def _cue_speakers(path: Path) -> list[str]:
    """An independent reading: the 'Name:' before each cue's text, straight from the file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [lines[i + 1].split(":", 1)[0].strip() for i, line in enumerate(lines) if "-->" in line]


@needs_shared
@pytest.mark.shared
@pytest.mark.parametrize("meeting", sorted(SPEAKERS))
@pytest.mark.parametrize("name", ["transcript.vtt", "transcript_corrected.vtt"])
def test_zoom_vtt_speakers_and_turns(meeting: str, name: str) -> None:
    path = ZOOM / meeting / name
    if not path.exists():
        pytest.skip(f"{meeting} has no {name}")
    raw = read_source(path)
    cue_speakers = _cue_speakers(path)
    changes = [s for i, s in enumerate(cue_speakers) if i == 0 or s != cue_speakers[i - 1]]
    assert [t.speaker for t in raw.cue_turns] == changes
    assert len({t.speaker for t in raw.cue_turns}) == SPEAKERS[meeting]
    assert all(t.time_start and t.time_end for t in raw.cue_turns)
    assert "\r" not in raw.text
    last_words = path.read_text(encoding="utf-8").strip().splitlines()[-1].split(":", 1)[1].strip()
    assert raw.text.rstrip().endswith(last_words)


@needs_shared
@pytest.mark.shared
def test_zoom_chat_export_messages_are_turns() -> None:
    path = ZOOM / "acdc" / "2026-02-19_175" / "chat.txt"
    raw = read_source(path)
    turns = find_turns(raw.text)
    stamps = re.findall(r"^\d\d:\d\d:\d\d\t", raw.text, re.M)
    assert len(turns) == len(stamps)
    reply = next(t for t in turns if raw.text[t.start : t.end].startswith('Replying to "Was there a decision'))
    assert reply.speaker == "Justin Traglia" and raw.text[reply.start : reply.end].endswith("has not been merged yet.")
    assert turns[1].speaker == "stokes", "lower-case handles are speakers in a chat export"


TALKMOVES = SHARED / "corpora" / "talkmoves" / "transcripts"


@needs_shared
@pytest.mark.shared
def test_talkmoves_workbooks_give_turns_with_times_and_no_tags() -> None:
    """TalkMoves (CC BY-NC-SA 4.0): TimeStamp, Turn, Speaker, Sentence and two tag columns a row."""
    import openpyxl

    path = TALKMOVES / "Math AU 1 transcript.xlsx"
    raw = read_source(path)
    turns = [(t.speaker, t.time_start, t.time_end, raw.text[t.start : t.end]) for t in raw.cue_turns]
    assert turns[:3] == [
        ("T", "00:00:20", "00:00:43", "I'm wired."),
        ("T", "00:00:43", "00:00:54", "It's running."),
        ("SN", "00:00:54", "00:00:57", "(inaudible) please turn off the air."),
    ]
    assert turns[4] == ("T", "00:01:07", "00:01:17", "Well not really, but if you really have to I suppose. Okay.")
    # An independent reading: one turn per run of rows with one Turn number and speaker (two rows
    # without a number are turns of their own), every sentence kept, no tag read as text.
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    rows = [r for r in sheet.iter_rows(min_row=2, values_only=True) if r[4]]
    assert len(turns) == len([key for key, _ in itertools.groupby(rows, key=lambda r: (r[2], r[3]))]) == 303
    assert sum(len(r[4].split()) for r in rows) == sum(len(t[3].split()) for t in turns)
    assert not re.search(r"\b\d - [A-Z]", raw.text), "Teacher Tag / Student Tag cells are not text"
    firsts = [next(group) for _, group in itertools.groupby(rows, key=lambda r: (r[2], r[3]))]
    assert [t[1] for t in turns] == [r[1] for r in firsts], "each turn's time is its first row's TimeStamp"
