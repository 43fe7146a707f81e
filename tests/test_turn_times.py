"""Turn times as researchers write them, and Markdown escapes (issue 11, section 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qualkam.errors import SourceError
from qualkam.sources.formats import read_source
from qualkam.sources.turns import TIME, find_turns

from .conftest import write


def _turns(text: str):
    return [(t.speaker, t.time_start, t.time_end, text[t.start : t.end]) for t in find_turns(text)]


def test_markdown_speaker_label_then_an_escaped_time(tmp_path: Path) -> None:
    path = write(
        tmp_path / "podcast.md",
        (
            "# Episode 12\n\n"
            "**Adam:** \\[11:58\\] So we \\*really\\* started the podcast_that_day.\n\n"
            "**Eve Long:** [12:04] And then we left\\_early \\#sad.\n\n"
            "**Adam**: \\[1:02:03\\]\n"
            "Not on the same line.\n"
        ),
    )
    raw = read_source(path)
    assert "\\" not in raw.text, "Markdown escapes are not kept in the stored text"
    turns = _turns(raw.text)[1:]
    assert turns == [
        ("Adam", "11:58", "12:04", "So we *really* started the podcast_that_day."),
        ("Eve Long", "12:04", "1:02:03", "And then we left_early #sad."),
        ("Adam", "1:02:03", None, "Not on the same line."),
    ]


@pytest.mark.parametrize(
    "line, speaker, time, words",
    [
        ("Adam: [00:11:58] We trust each other.", "Adam", "00:11:58", "We trust each other."),
        ("Adam: (11:58) We trust each other.", "Adam", "11:58", "We trust each other."),
        ("Adam: \\[11:58\\] We trust each other.", "Adam", "11:58", "We trust each other."),
        ("Adam \\(11:58\\): We trust each other.", "Adam", "11:58", "We trust each other."),
        ("Adam (Host) (11:58): We trust each other.", "Adam", "11:58", "We trust each other."),
        ("\\[00:11:58\\] Adam: We trust each other.", "Adam", "00:11:58", "We trust each other."),
        ("**Adam** \\[11:58\\]: We trust each other.", "Adam", "11:58", "We trust each other."),
        ("__Adam:__ [11:58] We trust each other.", "Adam", "11:58", "We trust each other."),
        ("Adam: 11:58\nWe trust each other.", "Adam", "11:58", "We trust each other."),
        # Otter.ai and Rev exports: the label and the time on a line, the words below.
        ("Speaker 1  0:05\nWe trust each other.", "Speaker 1", "0:05", "We trust each other."),
        ("Sarah Collins  1:02:05\nWe trust each other.", "Sarah Collins", "1:02:05", "We trust each other."),
        ("Speaker 2 (00:05):\nWe trust each other.", "Speaker 2", "00:05", "We trust each other."),
        # A time that is part of what was said stays in the words.
        ("Adam: 5:30 is when we meet.", "Adam", None, "5:30 is when we meet."),
        ("Adam: We met at [5:30] sharp.", "Adam", None, "We met at [5:30] sharp."),
    ],
)
def test_a_time_right_after_a_speaker_label_is_the_turn_time(
    line: str, speaker: str, time: str | None, words: str
) -> None:
    assert _turns(line) == [(speaker, time, None, words)]


def test_a_turn_without_an_end_time_ends_where_the_next_timed_turn_begins() -> None:
    text = "[00:01:00] Ann: One.\n[00:01:30] Bob: Two.\nAnn: Three.\n[00:02:00] Bob: Four.\n"
    assert [(t[0], t[1], t[2]) for t in _turns(text)] == [
        ("Ann", "00:01:00", "00:01:30"),
        ("Bob", "00:01:30", None),
        ("Ann", None, None),
        ("Bob", "00:02:00", None),
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("Adam Eve:[]()\\*_#0123456789 \t\n.-") + ["Speaker 1", "**", "\\[", "11:58"]), max_size=80
    ).map("".join)
)
def test_find_turns_on_any_text_gives_ordered_spans_and_real_times(text: str) -> None:
    turns = find_turns(text)
    last = 0
    for turn in turns:
        assert last <= turn.start < turn.end <= len(text)
        last = turn.end
        for time in (turn.time_start, turn.time_end):
            assert time is None or re.fullmatch(TIME, time)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([".md", ".txt", ".markdown"]))
def test_reading_any_text_file_gives_text_or_a_source_error(tmp_path_factory, data: bytes, suffix: str) -> None:
    path = tmp_path_factory.mktemp("t") / f"x{suffix}"
    path.write_bytes(data)
    try:
        raw = read_source(path)
    except SourceError as exc:
        assert exc.reason
        return
    find_turns(raw.text)


def test_word_table_rows_with_a_time_column_give_turn_times(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    table = document.add_table(rows=0, cols=3)
    for cells in (
        ("00:00:05", "Ann", "We trust each other."),
        ("Bob", "00:00:09", "Gut feeling."),
        ("Ann", "[00:00:12]", "Indeed."),
    ):
        row = table.add_row()
        for cell, value in zip(row.cells, cells, strict=True):
            cell.text = value
    path = tmp_path / "t.docx"
    document.save(path)
    raw = read_source(path)
    assert _turns(raw.text) == [
        ("Ann", "00:00:05", "00:00:09", "We trust each other."),
        ("Bob", "00:00:09", "00:00:12", "Gut feeling."),
        ("Ann", "00:00:12", None, "Indeed."),
    ]
