"""Each format reader: Word paragraphs and tables, WebVTT voices and prefixes, SRT cues."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualkam.coding.segment import resolve_turns, text_turns
from qualkam.errors import SourceError
from qualkam.sources.formats import read_source
from qualkam.sources.metadata import build_meta

from .conftest import FIXTURES, write


def _turns(path: Path, fields: dict | None = None):
    raw = read_source(path)
    meta = build_meta({**(fields or {}), **(raw.front_matter or {})}, str(path))
    turns = raw.cue_turns if raw.cue_turns is not None else text_turns(raw.text, meta)
    return raw, [
        (s, r, u, t.time_start, t.time_end, raw.text[t.start : t.end]) for t, s, r, u in resolve_turns(turns, meta)
    ]


def test_docx_paragraphs_and_table_rows_become_turns() -> None:
    raw, turns = _turns(FIXTURES / "formats" / "interview.docx")
    assert raw.format == "docx"
    assert raw.file_fields["title"] == "Marketing Director interview"
    assert [t[0] for t in turns] == ["I", "R", "I", "R"]
    assert turns[1][5] == (
        "We were an island, frankly. The café at head office was the only place we met.\n\n"
        "It cost us £40,000 in lost promotions, “give or take”."
    )
    assert turns[3][5] == "Now we sit together every Monday."


def test_vtt_voice_tags_and_zoom_prefixes_merge_consecutive_cues(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.vtt",
        (
            "WEBVTT\n\n"
            "1\n00:00:01.000 --> 00:00:03.000\nZ. Victor Zhou (xinbenlv): We trust each other.\n\n"
            "2\n00:00:03.500 --> 00:00:05.000\nZ. Victor Zhou (xinbenlv): The reporting lines are clear.\n\n"
            "3\n00:00:06.000 --> 00:00:08.250\n<v Ann Lee>Gut feeling, mostly.</v>\n\n"
            "4\n00:00:09.000 --> 00:00:10.000\nTom: See https://example.org: fine.\n"
        ),
    )
    raw, turns = _turns(path, {"participants": {"Ann Lee": {"role": "Product Manager", "unit": "non-KAM"}}})
    assert [t[0] for t in turns] == ["Z. Victor Zhou (xinbenlv)", "Ann Lee", "Tom"]
    first = turns[0]
    assert first[1] is None, "brackets in a display name are not a role"
    assert (first[3], first[4]) == ("00:00:01.000", "00:00:05.000")
    assert first[5] == "We trust each other. The reporting lines are clear."
    assert turns[1][1:3] == ("Product Manager", "non-KAM")
    assert turns[2][5] == "See https://example.org: fine."
    assert raw.text.splitlines()[0] == "Z. Victor Zhou (xinbenlv): We trust each other. The reporting lines are clear."


def test_srt_cues_with_and_without_speakers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.srt",
        (
            "1\n00:00:01,000 --> 00:00:02,000\nKate: Everything slowed down.\n\n"
            "2\n00:00:02,100 --> 00:00:03,000\nKate: We signed off <i>twice</i>.\n\n"
            "3\n00:00:10,000 --> 00:00:11,000\nand then nobody knew\n\n"
            "4\n00:00:11,200 --> 00:00:12,000\nwho owned the plan\n\n"
            "5\n00:00:20,000 --> 00:00:21,000\nmuch later\n"
        ),
    )
    raw, turns = _turns(path)
    assert raw.format == "srt"
    assert [t[0] for t in turns] == ["Kate", None, None]
    assert turns[0][5] == "Everything slowed down. We signed off twice."
    assert turns[0][3:5] == ("00:00:01.000", "00:00:03.000")
    assert turns[1][5] == "and then nobody knew who owned the plan", "a short pause keeps speakerless cues together"
    assert turns[2][5] == "much later"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n ", "empty file"),
        ("binary.txt", b"\x00\x01\x02\x03binary", "binary"),
        ("fake.docx", b"this is not a zip", "not a valid Word .docx"),
        ("broken.vtt", b"NOT A VTT\n\n00:00 --> x\nhello", "not a valid WebVTT"),
        ("broken.srt", b"1\nnonsense\nhello\n", "not a valid SRT"),
        ("fm.md", b"---\ntitle: [unclosed\n---\nText", "(opened on line 2): malformed front matter"),
        ("open.md", b"---\ntitle: x\nno closing line\n", "never closed"),
        ("only-fm.md", b"---\ntitle: x\n---\n\n", "no text after the front matter"),
    ],
)
def test_bad_files_raise_a_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        read_source(path)
    assert reason in caught.value.reason
    assert str(path) in str(caught.value)


def test_front_matter_offsets_point_into_the_body(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", "---\nid: a\n---\nI: Hello there.\r\nR: Hi.\r\n")
    raw, turns = _turns(path)
    assert raw.front_matter == {"id": "a"}
    assert raw.text == "I: Hello there.\nR: Hi.\n"
    assert turns[0][5] == "Hello there." and raw.text.index("Hello") == 3


def test_unreadable_file_is_a_source_error(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path / "locked.txt", "secret")

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(SourceError, match="locked.txt: cannot read file: Permission denied"):
        read_source(path)
