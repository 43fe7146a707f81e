"""Transcripts kept as JSON, spreadsheets (XLSX, CSV) and PDF (issue 11, section 4)."""

from __future__ import annotations

import datetime as dt
import json
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qualkam.coding.run import code_folder
from qualkam.coding.segment import Unit
from qualkam.errors import SourceError
from qualkam.sources.formats import read_source
from qualkam.sources.ingest import Problem, discover, prepare
from qualkam.sources.structured import parse_columns, read_time
from qualkam.store.project import Project
from qualkam.store.refi import sources
from qualkam.store.segments import segments as segment_table

from .conftest import records, write


def _turns(raw):
    return [(t.speaker, t.time_start, t.time_end, raw.text[t.start : t.end]) for t in raw.cue_turns]


# ---- JSON -------------------------------------------------------------------------------


def test_qmsum_meeting_transcripts(tmp_path: Path) -> None:
    path = write(
        tmp_path / "Bed003.json",
        json.dumps(
            {
                "topic_list": [{"topic": "intro", "relevant_text_span": [["0", "2"]]}],
                "general_query_list": [{"query": "Summarize", "answer": "..."}],
                "meeting_transcripts": [
                    {"speaker": "Project Manager", "content": "Okay. {vocalsound} Let's start."},
                    {"speaker": "Project Manager", "content": "First the budget."},
                    {"speaker": "Marketing", "content": "We trust each other."},
                ],
            }
        ),
    )
    raw = read_source(path)
    assert raw.format == "json"
    assert _turns(raw) == [
        ("Project Manager", None, None, "Okay. {vocalsound} Let's start. First the budget."),
        ("Marketing", None, None, "We trust each other."),
    ]
    assert raw.text.splitlines()[1] == "Marketing: We trust each other."


def test_whisper_segments_with_and_without_speakers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "w.json",
        json.dumps(
            {
                "text": " Hello there. We trust each other.",
                "segments": [
                    {"id": 0, "start": 0.0, "end": 2.5, "text": " Hello there.", "tokens": [1, 2]},
                    {"id": 1, "start": 2.5, "end": 65.25, "text": " We trust each other."},
                ],
                "language": "en",
            }
        ),
    )
    raw = read_source(path)
    assert _turns(raw) == [(None, "00:00:00", "00:01:05.250", "Hello there. We trust each other.")]
    diarized = write(
        tmp_path / "d.json",
        json.dumps(
            {
                "segments": [
                    {"start": 1, "end": 2, "text": "Hi.", "speaker": "SPEAKER_00"},
                    {"start": 3, "end": 4, "text": "Hello.", "speaker": "SPEAKER_01"},
                ]
            }
        ),
    )
    assert [t[:3] for t in _turns(read_source(diarized))] == [
        ("SPEAKER_00", "00:00:01", "00:00:02"),
        ("SPEAKER_01", "00:00:03", "00:00:04"),
    ]


def test_a_top_level_list_with_usual_key_names_and_time_stamps(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.json",
        json.dumps(
            [
                {
                    "speaker_name": "Ann",
                    "utterance": "We trust each other.",
                    "start_time": "00:01:02.5",
                    "end_time": "00:01:09",
                },
                {"spk": "Bob", "sentence": "Gut feeling.", "start_ms": 70000},
                {"name": "Ann", "transcript": "Indeed.", "timestamp": "1:20"},
            ]
        ),
    )
    assert _turns(read_source(path)) == [
        ("Ann", "00:01:02.5", "00:01:09", "We trust each other."),
        ("Bob", "00:01:10", "1:20", "Gut feeling."),
        ("Ann", "1:20", None, "Indeed."),
    ]


def test_absurd_json_times_are_warned_about_and_dropped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.json",
        '[{"speaker": "A", "text": "hi", "start": ' + "9" * 400 + ', "end": NaN},'
        ' {"speaker": "B", "text": "yo", "start": -3, "end": 1e999}]',
    )
    raw = read_source(path)
    assert [t[:3] for t in _turns(raw)] == [("A", None, None), ("B", None, None)]
    assert raw.warnings and raw.warnings[0].startswith("4 time value(s)")


def test_keys_named_in_the_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "t.json", json.dumps({"doc": {"rows": [{"who": "Ann", "said": "We trust.", "at": 5}]}}))
    with pytest.raises(SourceError, match="no list of turns"):
        read_source(path)
    raw = read_source(path, columns={"speaker": "who", "text": "said", "start": "at"})
    assert _turns(raw) == [("Ann", "00:00:05", None, "We trust.")]


@pytest.mark.parametrize(
    "content, reason",
    [
        ('{"a": 1, "b": [1, 2]}', r"no list of turns.*found keys: a, b.*speaker.*text.*meeting_transcripts"),
        ("[1, 2, 3]", "no list of turns"),
        ('{"segments": [{"start": 1}]}', "no list of turns"),
        ('{"speaker": "Ann", ', r"not valid JSON \(line 1, column \d+"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('[{"speaker": "A", "text": "hi", "start": ' + "9" * 5000 + "}]", "not valid JSON"),
    ],
)
def test_json_that_is_not_a_transcript_says_what_was_expected(tmp_path: Path, content: str, reason: str) -> None:
    path = write(tmp_path / "x.json", content)
    with pytest.raises(SourceError, match=reason):
        read_source(path)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["speaker", "text", "content", "start", "end", "segments", "name", "utterances", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_json_values)
def test_any_json_gives_turns_or_a_source_error(tmp_path: Path, value) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    try:
        raw = read_source(path)
    except SourceError as exc:
        assert exc.reason
        return
    assert raw.cue_turns and all(0 <= t.start < t.end <= len(raw.text) for t in raw.cue_turns)


# ---- Spreadsheets -----------------------------------------------------------------------


def _xlsx(path: Path, rows: list[list], sheets: dict[str, list[list]] | None = None) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    for row in rows:
        sheet.append(row)
    for name, extra in (sheets or {}).items():
        other = book.create_sheet(name)
        for row in extra:
            other.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


TALK = [
    [None, "TimeStamp", "Turn", "Speaker", "Sentence", "Teacher Tag", "Student Tag"],
    [0, "00:00:20", 1, "T", "I'm wired.", "1 - None", None],
    [1, "00:00:43", 2, "T", "It's running.", "1 - None", None],
    [2, "00:00:54", 3, "SN", "(inaudible) please turn off the air.", None, "1 - None"],
    [3, "00:01:07", 4, "T1:", "Well not really,  but\nif you have to.", "1 - None", None],
    [4, "00:01:07", 4, "T1:", "Okay.", "8 - Press for Accuracy", None],
    [5, dt.datetime(1900, 1, 1, 1, 7), 5, "SN", "Oh, okay.", None, "1 - None"],
    [6, dt.time(0, 2, 30), 6, "T", "Ten.", None, None],
    [7, 0.0416087962962963, 7, "SN", 4, None, None],
    [8, "j", 8, "T", "Right.", None, None],
    [9, None, None, None, "", None, None],
]


def test_a_talkmoves_style_workbook_gives_turns_with_times(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "lesson.xlsx", TALK, {"Tags": [["1 - None", None, "1 - None"]]})
    raw = read_source(path)
    assert raw.format == "xlsx"
    assert _turns(raw) == [
        ("T", "00:00:20", "00:00:43", "I'm wired."),
        ("T", "00:00:43", "00:00:54", "It's running."),  # another Turn number: another turn
        ("SN", "00:00:54", "00:01:07", "(inaudible) please turn off the air."),
        ("T1", "00:01:07", "25:07:00", "Well not really, but if you have to. Okay."),
        ("SN", "25:07:00", "00:02:30", "Oh, okay."),
        ("T", "00:02:30", "00:59:55", "Ten."),
        ("SN", "00:59:55", None, "4"),
        ("T", None, None, "Right."),
    ]
    assert "Press for Accuracy" not in raw.text and "1 - None" not in raw.text, "tag columns are not text"
    assert any("'j'" in w and "TimeStamp" in w for w in raw.warnings)


def test_csv_and_tsv_transcripts_with_usual_and_named_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.csv",
        'Start;End;Speaker;Text;Code\n0:01;0:04;Ann;We trust each other.;soft\n0:05;0:09;Bob;"Gut; feeling";\n',
    )
    assert _turns(read_source(path)) == [
        ("Ann", "0:01", "0:04", "We trust each other."),
        ("Bob", "0:05", "0:09", "Gut; feeling"),
    ]
    tsv = write(tmp_path / "t.tsv", "who\tsaid\tat\nAnn\tHello.\t12.5\n")
    with pytest.raises(SourceError, match=r"no speaker and text columns.*found: who, said, at.*columns"):
        read_source(tsv)
    raw = read_source(tsv, columns="speaker=who; text=said; start=at")
    assert _turns(raw) == [("Ann", "00:00:12.500", None, "Hello.")]
    with pytest.raises(SourceError, match=r"column 'Whom' .*not in the header.*who, said, at"):
        read_source(tsv, columns={"speaker": "Whom", "text": "said"})
    with pytest.raises(SourceError, match=r"unknown key 'colour' in columns.*speaker, text, start, end, turn"):
        read_source(tsv, columns={"colour": "x", "text": "said"})


def test_sidecar_names_columns_and_metadata_csv_is_never_a_transcript(tmp_path: Path, small_codebook) -> None:
    src = tmp_path / "src"
    write(src / "lesson.csv", "who,said,at\nAnn,We trust each other.,3\nBob,Gut feeling.,9\n")
    write(src / "metadata.csv", "file,speaker,text\nlesson.csv,Ann,hello\n")
    write(src / "metadata.yaml", "lesson.csv:\n  type: meeting\n  columns: {speaker: who, text: said, start: at}\n")
    files, problems = discover(src)
    assert [p.name for p in files] == ["lesson.csv"] and problems == []
    with Project.open(tmp_path / "p.db", create=True) as project:
        report = code_folder(src, small_codebook, project, out_dir=None)
        assert report.skipped == []
        rows = records(segment_table(project), ["speaker", "time_start", "time_end", "text"])
        attrs = sources(project)[0]["attributes"]
    assert rows == [("Ann", "00:00:03", "00:00:09", "We trust each other."), ("Bob", "00:00:09", None, "Gut feeling.")]
    assert "columns" not in json.loads(attrs or "{}")


def test_a_workbook_claiming_a_huge_dimension_is_read_in_bounded_time(tmp_path: Path) -> None:
    import openpyxl

    wide = openpyxl.Workbook()
    sheet = wide.active
    sheet.append(["Speaker", "Text"])
    for row in range(2, 3002):
        sheet.cell(row=row, column=1, value="Ann")
        sheet.cell(row=row, column=2, value="Yes.")
        sheet.cell(row=row, column=16384, value="a note far away")
    wide.save(tmp_path / "wide.xlsx")
    started = time.monotonic()
    raw = read_source(tmp_path / "wide.xlsx")
    assert time.monotonic() - started < 5 and "far away" not in raw.text
    path = _xlsx(tmp_path / "big.xlsx", [["Speaker", "Text"], ["Ann", "We trust each other."]])
    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    xml = parts[sheet].decode()
    xml = xml.replace('<dimension ref="A1:B2"/>', '<dimension ref="A1:XFD200000"/>')
    assert "XFD200000" in xml
    parts[sheet] = xml.encode()
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    started = time.monotonic()
    raw = read_source(path)
    assert time.monotonic() - started < 5
    assert _turns(raw) == [("Ann", None, None, "We trust each other.")]


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("bad.xlsx", b"PK\x03\x04 not really a zip", "not a readable .xlsx workbook"),
        ("old.xlsx", b"\xd0\xcf\x11\xe0 old excel", "not a readable .xlsx workbook"),
        ("q.csv", b'speaker,text\nAnn,"unterminated\n', r"line \d+"),
        ("n.csv", b"a,b\n1,2\n", "no speaker and text columns"),
    ],
)
def test_bad_spreadsheets_raise_a_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=reason):
        read_source(path)


_cells = st.one_of(
    st.none(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=15),
    st.sampled_from(["Speaker", "Text", "Time", "End", "Turn", "00:01:02", "1:02", "Ann", "-5"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_cells, max_size=6), max_size=8))
def test_any_csv_gives_turns_or_a_source_error(tmp_path: Path, rows) -> None:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path = tmp_path / "h.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        raw = read_source(path)
    except SourceError as exc:
        assert exc.reason
        return
    assert all(0 <= t.start < t.end <= len(raw.text) for t in raw.cue_turns)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.none(),
                st.integers(-(10**6), 10**6),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=15),
                st.sampled_from(["Speaker", "Sentence", "TimeStamp", "Ann", "1:02"]),
            ),
            max_size=5,
        ),
        max_size=6,
    )
)
def test_any_workbook_gives_turns_or_a_source_error(tmp_path: Path, rows) -> None:
    path = _xlsx(tmp_path / "h.xlsx", rows)
    try:
        raw = read_source(path)
    except SourceError as exc:
        assert exc.reason
        return
    assert all(0 <= t.start < t.end <= len(raw.text) for t in raw.cue_turns)


# ---- PDF --------------------------------------------------------------------------------


def pdf_with_lines(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (Helvetica, one line each)."""
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_pdf_transcript_with_a_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "int.pdf"
    path.write_bytes(
        pdf_with_lines(
            [
                "Interview, 3 May",
                "[00:01:02] Ann: We trust each other.",
                "It took years.",
                "Bob (00:02:00): Gut feeling.",
            ]
        )
    )
    raw = read_source(path)
    assert raw.format == "pdf" and raw.cue_turns is None
    from qualkam.sources.turns import find_turns

    turns = [(t.speaker, t.time_start, raw.text[t.start : t.end]) for t in find_turns(raw.text)]
    assert turns == [
        (None, None, "Interview, 3 May"),
        ("Ann", "00:01:02", "We trust each other.\nIt took years."),
        ("Bob", "00:02:00", "Gut feeling."),
    ]


def test_a_pdf_without_a_text_layer_says_to_ocr_it(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    path = tmp_path / "scan.pdf"
    with open(path, "wb") as handle:
        writer.write(handle)
    with pytest.raises(SourceError, match="no text layer; OCR it first"):
        read_source(path)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF")
    with pytest.raises(SourceError, match="PDF"):
        read_source(broken)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_any_pdf_bytes_give_text_or_a_source_error(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "h.pdf"
    path.write_bytes(b"%PDF-1.4\n" + tail)
    try:
        read_source(path)
    except SourceError as exc:
        assert exc.reason


# ---- A file with no speaker turns ---------------------------------------------------------


def test_a_long_text_without_speaker_turns_is_coded_with_a_warning(tmp_path: Path, small_codebook) -> None:
    src = tmp_path / "src"
    blob = json.dumps({"meeting_transcripts": [{"speaker": "A", "content": "We trust each other. " * 5}] * 40})
    write(src / "renamed.txt", blob)
    write(src / "notes.md", "---\ntype: fieldnote\n---\n" + "We walked around the depot. " * 80)
    write(src / "short.txt", "We trust each other.")
    items = list(prepare(src, sorted(src.iterdir()), small_codebook))
    warnings = [p for p in items if isinstance(p, Problem)]
    assert len(warnings) == 1 and not warnings[0].skipped and warnings[0].path.endswith("renamed.txt")
    reason = warnings[0].reason
    assert "no speaker turns" in reason and f"{len(blob):,}" in reason
    assert "Name:" in reason and "type" in reason and ".json" in reason


def test_a_short_json_file_renamed_txt_is_warned_about_too(tmp_path: Path, small_codebook) -> None:
    src = tmp_path / "src"
    write(src / "tiny.txt", json.dumps([{"speaker": "A", "text": "We trust each other."}]))
    items = list(prepare(src, sorted(src.iterdir()), small_codebook))
    warnings = [p for p in items if isinstance(p, Problem)]
    assert len(warnings) == 1 and "no speaker turns" in warnings[0].reason and ".json" in warnings[0].reason


def test_every_timed_format_stores_each_segments_start_and_end(tmp_path: Path, small_codebook) -> None:
    src = tmp_path / "src"
    write(
        src / "a.vtt",
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nAnn: We trust each other.\n\n"
        "00:00:04.000 --> 00:00:05.000\nBob: Gut feeling.\n",
    )
    write(
        src / "b.srt",
        "1\n00:00:01,000 --> 00:00:03,000\nAnn: We trust each other.\n\n"
        "2\n00:00:04,000 --> 00:00:05,000\nBob: Gut feeling.\n",
    )
    write(
        src / "c.md",
        "**Ann:** \\[00:01\\] We trust each other.\n\n**Bob:** \\[00:04\\] Gut feeling.\n\n**Ann:** [00:07] Indeed.\n",
    )
    write(
        src / "d.json",
        json.dumps(
            {
                "segments": [
                    {"start": 1, "end": 3, "speaker": "Ann", "text": "We trust each other."},
                    {"start": 4, "end": 5, "speaker": "Bob", "text": "Gut feeling."},
                ]
            }
        ),
    )
    _xlsx(
        src / "e.xlsx",
        [
            ["Start", "End", "Speaker", "Text"],
            ["0:01", "0:03", "Ann", "We trust each other."],
            ["0:04", "0:05", "Bob", "Gut feeling."],
        ],
    )
    write(
        src / "f.csv",
        "TimeStamp,Speaker,Sentence\n00:00:01,Ann,We trust each other.\n00:00:04,Bob,Gut feeling.\n"
        "00:00:07,Ann,Indeed.\n",
    )
    with Project.open(tmp_path / "p.db", create=True) as project:
        report = code_folder(src, small_codebook, project, out_dir=None, unit=Unit.sentence)
        assert report.problems == []
        rows = records(segment_table(project), ["source", "speaker", "time_start", "time_end"])
    by_source: dict[str, list] = {}
    for row in rows:
        by_source.setdefault(row[0], []).append(tuple(row)[1:])
    assert set(by_source) == {"a", "b", "c", "d", "e", "f"}
    for source, segments in by_source.items():
        assert all(s[1] for s in segments), f"{source}: every segment has its start time"
        assert all(s[2] for s in segments[:2]), f"{source}: the first turns have an end time: {segments}"
    assert by_source["c"][:2] == [("Ann", "00:01", "00:04"), ("Bob", "00:04", "00:07")]
    assert by_source["d"] == [("Ann", "00:00:01", "00:00:03"), ("Bob", "00:00:04", "00:00:05")]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=20),
        st.datetimes(),
        st.times(),
        st.timedeltas(),
    ),
    st.booleans(),
    st.booleans(),
)
def test_read_time_gives_a_time_nothing_or_none(value, millis: bool, day_fraction: bool) -> None:
    got = read_time(value, millis=millis, day_fraction=day_fraction)
    if got is not None:
        seconds, label = got
        assert (seconds is None) or (0 <= seconds < 10_000_000)
        assert label is None or isinstance(label, str)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers(), st.none()), max_size=4),
        st.lists(st.integers(), max_size=3),
        st.integers(),
    )
)
def test_parse_columns_gives_names_or_a_source_error(value) -> None:
    try:
        named = parse_columns(value, "m.yaml")
    except SourceError as exc:
        assert exc.path == "m.yaml" and exc.reason
        return
    assert set(named) <= {"speaker", "text", "start", "end", "turn"}
