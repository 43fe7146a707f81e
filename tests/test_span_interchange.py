"""Codings on any span, in and out (issue 13, part 1): the long CSV and REFI-QDA keep a span
exactly as one coding (not snapped or split per segment), the REFI export writes it exactly,
a coding sheet shows it on every segment it covers, and a blind clone / merge carries it.

The small interview's stored text has three segments (turns), by character offsets:
A = [3, 34), B = [50, 152), C = [161, 216); between them only line ends and speaker labels.
"""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from typer.testing import CliRunner

from qualkam.coding.blind import clone_for, merge_from
from qualkam.coding.decisions import apply_decision, apply_span
from qualkam.coding.run import code_folder
from qualkam.coding.spans import code_span
from qualkam.errors import NotFoundError, QualkamError
from qualkam.interchange.codings_import import _holds_text, import_codings
from qualkam.interchange.refi.positions import utf16_offsets
from qualkam.interchange.refi.reader import import_qdpx
from qualkam.interchange.refi.writer import export_qdpx
from qualkam.interchange.sheets import export_sheet, sheet_rows
from qualkam.store.audit import audit_table
from qualkam.store.people import segments_of_coding
from qualkam.store.project import Project

from .conftest import INTERVIEW, segment_with, source_texts, write
from .conftest import run_cli as _run
from .test_refi_import import CODE_A, CODE_B, SOURCE, TEXT, project_xml, qdpx, selection, u16

A, B, C = 1, 2, 3
EMOJI = "---\nid: emo\n---\nAna: Café 👩‍👩‍👧 naïve\r\nBen: we trust 🙂 each other\r\n"


@pytest.fixture
def db(tmp_path: Path, small_codebook) -> Path:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    path = tmp_path / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        spans = project.conn.execute('SELECT id, start, "end" FROM segments ORDER BY start').fetchall()
    assert [tuple(r) for r in spans] == [(A, 3, 34), (B, 50, 152), (C, 161, 216)], "the fixture's offsets moved"
    return path


def _people(project: Project, places: bool = False) -> list[tuple]:
    """People's codings as stored, with the segments each counts for (their ids; with
    ``places``, their (start, end), which another project shares): raw rows on purpose, so
    that 'one coding, its exact span' is what is checked."""
    spans = {r[0]: (r[1], r[2]) for r in project.conn.execute('SELECT id, start, "end" FROM segments')}
    rows = project.conn.execute(
        'SELECT id, source_id, start, "end", code_id, coder, status, origin, memo, text FROM codings '
        'WHERE coder IS NOT NULL ORDER BY source_id, start, "end", code_id, coder'
    ).fetchall()
    return [
        (*tuple(r)[1:], tuple(spans[s] if places else s for s in segments_of_coding(project, r["id"]))) for r in rows
    ]


def _audit(project: Project) -> int:
    return len(audit_table(project))


# -- the long CSV ---------------------------------------------------------------------------------
def test_long_csv_keeps_each_span_exactly_as_one_coding(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    spans = write(
        tmp_path / "spans.csv",
        "source,start,end,code,coder,memo\n"
        "int-sales,83,103,hard_control,ana,inside B\n"
        "int-sales,130,190,soft_control,ana,across B and C\n"
        "int-sales,161,216,soft_control,ana,exactly C\n"
        "int-sales,10,200,hard_control,ben,across all three\n"
        "int-sales,10,200,hard_control,ben,\n",  # the same span, code and coder: the same coding
    )
    result = _run(runner, "import", "codings", spans, "--project", db)
    assert result.exit_code == 0, result.output
    assert "4 new, 0 changed, 0 unchanged codings · 5 rows read" in result.output
    with Project.open(db) as project:
        text = source_texts(project)["int-sales"]
        assert _people(project) == [
            (
                "int-sales",
                10,
                200,
                "hard_control",
                "ben",
                "accepted",
                "human",
                "across all three",
                text[10:200],
                (A, B, C),
            ),
            ("int-sales", 83, 103, "hard_control", "ana", "accepted", "rule", "inside B", text[83:103], (B,)),
            (
                "int-sales",
                130,
                190,
                "soft_control",
                "ana",
                "accepted",
                "human",
                "across B and C",
                text[130:190],
                (B, C),
            ),
            ("int-sales", 161, 216, "soft_control", "ana", "accepted", "rule", "exactly C", text[161:216], (C,)),
        ]
        before, audit = _people(project), _audit(project)
        again = import_codings(project, spans)
        assert (again.new, again.changed, again.unchanged) == (0, 0, 4)
        assert _people(project) == before and _audit(project) == audit


def test_a_span_outside_the_text_or_over_no_segment_is_one_line_naming_the_file_and_row(
    runner: CliRunner, db: Path, tmp_path: Path
) -> None:
    spans = write(
        tmp_path / "spans.csv",
        "source,start,end,code\n"
        "int-sales,83,103,hard_control\n"  # 2: good; the file is imported whole or not at all, as before
        "int-sales,200,999,hard_control\n"  # 3: beyond the 217 characters
        "int-sales,34,50,hard_control\n"  # 4: the line ends and the label between A and B
        "int-sales,0,3,soft_control\n",  # 5: the interviewer's label before A
    )
    result = _run(runner, "import", "codings", spans, "--coder", "ana", "--project", db)
    assert result.exit_code == 2
    lines = result.output.splitlines()
    for row, reason in [
        (3, "end 999 is beyond the end of 'int-sales' (217 characters)"),
        (4, "span 34-50 of 'int-sales' holds no segment's text"),
        (5, "span 0-3 of 'int-sales' holds no segment's text"),
    ]:
        assert any(line.startswith(f"{spans}:{row}: {reason}") for line in lines), (row, result.output)
    assert "3 bad row(s); nothing was imported" in " ".join(result.output.split())
    with Project.open(db) as project:
        assert _people(project) == []


def test_apply_span_decides_one_segment_as_before_and_several_as_the_persons_own(db: Path) -> None:
    with Project.open(db) as project:
        suggested = {
            r[0] for r in project.conn.execute("SELECT code_id FROM codings WHERE segment_id = 2 AND coder IS NULL")
        }
        assert "hard_control" in suggested, "the fixture's rules moved"
        whole = apply_span(project, "ana", "int-sales", 50, 152, "hard_control")
        assert whole.change == "inserted"
        # The whole segment is the segment decision it always was: the same row, an acceptance of the rule.
        assert apply_decision(project, "ana", B, "hard_control", "accept").change == "unchanged"
        across = apply_span(project, "ana", "int-sales", 140, 170, "hard_control", "rejected", memo="not here")
        assert across.status == "rejected"
        assert [(r[1], r[2], r[5], r[6], r[9]) for r in _people(project)] == [
            (50, 152, "accepted", "rule", (B,)),
            (140, 170, "rejected", "human", (B, C)),
        ]
        actions = audit_table(project)["action"].tolist()
        assert actions[-2:] == ["accept", "reject"]
        with pytest.raises(QualkamError, match="holds no segment's text"):
            apply_span(project, "ana", "int-sales", 34, 50, "hard_control")
        with pytest.raises(QualkamError, match="is not inside source"):
            apply_span(project, "ana", "int-sales", 210, 300, "hard_control")
        with pytest.raises(NotFoundError):
            apply_span(project, "ana", "nope", 1, 5, "hard_control")
        with pytest.raises(QualkamError, match="accepted or rejected"):
            apply_span(project, "ana", "int-sales", 50, 152, "hard_control", "maybe")


# -- REFI-QDA ---------------------------------------------------------------------------------------
def test_a_refi_selection_across_two_segments_arrives_as_one_coding_with_its_exact_span(tmp_path: Path) -> None:
    raw = TEXT.replace("\n", "\r\n")  # NVivo: CRLF, UTF-16 positions, beyond U+FFFF before the selection
    start = u16(raw, "the US")[0]
    end = u16(raw, "now we trust")[1]
    sels = selection("C0000000-0000-4000-8000-000000000001", (start, end), CODE_A) + selection(
        "C0000000-0000-4000-8000-000000000002", u16(raw, "Gut feelings"), CODE_B
    )
    path = qdpx(tmp_path / "t.qdpx", project_xml(sels), {f"sources/{SOURCE}.txt": b"\xef\xbb\xbf" + raw.encode()})
    with Project.open(tmp_path / "p.db", create=True) as project:
        report = import_qdpx(project, path)
        assert report.readings == {"int-trial": "utf-16"} and report.warnings == []
        assert report.codings_new == 2
        text = source_texts(project)["int-trial"]
        segs = [r[0] for r in project.conn.execute("SELECT id FROM segments ORDER BY start")]
        first = text.index("the US")
        last = text.index("now we trust") + len("now we trust")
        people = _people(project)
        assert [(r[1], r[2], r[3], r[4], r[8], r[9]) for r in people] == [
            (first, last, "formal_control", "Nadia", text[first:last], (segs[1], segs[2])),
            (
                text.index("Gut feelings"),
                text.index("Gut feelings") + 12,
                "soft_control",
                "Nadia",
                "Gut feelings",
                (segs[2],),
            ),
        ]
        assert "\U0001f1fa\U0001f1f8" in people[0][8] and "Sarah Collins:" in people[0][8]
        again = import_qdpx(project, path)
        assert (again.codings_new, again.codings_changed, again.codings_unchanged) == (0, 0, 2)
        assert _people(project) == people


@pytest.fixture
def emoji_project(tmp_path: Path, small_codebook) -> Path:
    """The interview and a CRLF source with emoji and accents; ana codes a span across two
    turns of each, a span inside a turn; ben a whole turn; every coding has its memo or none."""
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "e.md", EMOJI)
    path = tmp_path / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        emo = source_texts(project)["emo"]
        code_span(project, "emo", emo.index("👩"), emo.index("each") + 4, "soft_control", "ana", memo="family, trust")
        code_span(project, "emo", emo.index("🙂"), emo.index("🙂") + 1, "soft_control", "ana")
        code_span(project, "int-sales", 130, 190, "hard_control", "ana", memo="runs into the next turn")
        code_span(project, "int-sales", 130, 190, "soft_control", "ana", memo="runs into the next turn")
        turn = segment_with(project, "They came from the US", "int-sales")
        apply_decision(project, "ben", turn, "hard_control", "accept", memo="the whole turn")
    return path


def test_the_refi_export_writes_each_span_exactly_and_reads_back_identical(emoji_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "spans.qdpx"
    with Project.open(emoji_project) as project:
        export_qdpx(project, out, "human")
        texts = source_texts(project)
        people = _people(project, places=True)
    assert len(people) == 5
    with zipfile.ZipFile(out) as archive:
        root = etree.fromstring(archive.read("project.qde"))
    ns = {"q": root.nsmap[None]}
    names = {u.get("guid"): u.get("name") for u in root.iterfind(".//q:User", ns)}
    written = []
    for source in root.iterfind(".//q:TextSource", ns):
        for sel in source.iterfind("q:PlainTextSelection", ns):
            codings = sel.findall("q:Coding", ns)
            written.append(
                (source.get("name"), int(sel.get("startPosition")), int(sel.get("endPosition")), len(codings))
            )
            assert {names[c.get("creatingUser")] for c in codings} == {names[sel.get("creatingUser")]}
    emo, table = texts["emo"], utf16_offsets(texts["emo"])
    across = (table[emo.index("👩")], table[emo.index("each") + 4])
    assert across[1] - across[0] > emo.index("each") + 4 - emo.index("👩"), "UTF-16 counts the emoji twice"
    # One selection per span and coder (its codes are its codings), with its own start and end.
    assert sorted(written) == sorted(
        [
            ("emo", *across, 1),
            ("emo", table[emo.index("🙂")], table[emo.index("🙂") + 1], 1),
            ("int-sales", 50, 152, 1),
            ("int-sales", 130, 190, 2),
        ]
    )
    with Project.open(tmp_path / "fresh.db", create=True) as fresh:
        report = import_qdpx(fresh, out)
        assert report.warnings == [] and report.codings_new == 5
        assert source_texts(fresh) == texts
        # Spans, codes, coders, statuses, memos, texts and the segments each counts for; not the
        # origin (REFI-QDA has no place for it: the fresh project has no rules that suggested).
        assert [r[:6] + r[7:] for r in _people(fresh, places=True)] == [r[:6] + r[7:] for r in people]


def test_the_export_reimported_into_its_own_project_changes_nothing(emoji_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "spans.qdpx"
    with Project.open(emoji_project) as project:
        export_qdpx(project, out, "human")
        before, audit = _people(project), _audit(project)
        report = import_qdpx(project, out)
        assert (report.codings_new, report.codings_changed, report.codings_unchanged) == (0, 0, 5)
        assert _people(project) == before and _audit(project) == audit


# -- coding sheets ----------------------------------------------------------------------------------
def test_a_sheet_shows_a_span_on_every_segment_it_covers_and_reimports_unchanged(db: Path, tmp_path: Path) -> None:
    with Project.open(db) as project:
        code_span(project, "int-sales", 130, 190, "soft_control", "ana")
        rows = {r["segment"]: r for r in sheet_rows(project, "ana")}
        assert rows[B]["decided"] == rows[C]["decided"] == "accepted: soft_control"
        assert rows[A]["decided"] == ""
        assert sheet_rows(project, "ben")[2]["decided"] == ""  # another coder's sheet shows none of it
        # A filter by code finds every segment the span covers.
        assert [r["segment"] for r in sheet_rows(project, "ana", codes=["soft_control"])] == [B, C]
        sheet = export_sheet(project, "ana", tmp_path / "ana.csv").path
    lines = sheet.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    assert header[-3:] == ["codes", "reject", "memo"]
    # The coder writes the codes the sheet shows back into the 'codes' column of both rows.
    import csv

    with open(sheet, encoding="utf-8-sig", newline="") as handle:
        table = list(csv.DictReader(handle))
    for row in table:
        if int(row["segment"]) in (B, C):
            row["codes"] = "soft_control"
    with open(sheet, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    with Project.open(db) as project:
        before, audit = _people(project), _audit(project)
        report = import_codings(project, sheet, "ana")
        assert (report.new, report.changed) == (0, 0)
        assert _people(project) == before and _audit(project) == audit
        assert [(r[1], r[2], r[9]) for r in before] == [(130, 190, (B, C))]


# -- blind clone and merge --------------------------------------------------------------------------
def test_a_span_across_segments_is_cloned_and_merged_back_as_one_coding(db: Path) -> None:
    with Project.open(db) as project:
        code_span(project, "int-sales", 20, 100, "hard_control", "lead")
        copy = clone_for(project, "ana", db.with_name("ana.db"))
        lead = clone_for(project, "lead", db.with_name("lead.db"))
    with Project.open(lead) as project:
        assert [(r[1], r[2], r[4], r[9]) for r in _people(project)] == [(20, 100, "lead", (A, B))]
    with Project.open(copy) as project:
        assert _people(project) == []
        code_span(project, "int-sales", 130, 190, "soft_control", "ana", memo="two turns")
        code_span(project, "int-sales", 161, 216, "hard_control", "ana")
        apply_span(project, "ana", "int-sales", 60, 200, "hard_control", "rejected")
        theirs = [r for r in _people(project)]
    with Project.open(db) as project:
        report = merge_from(project, copy)
        assert (report.new, report.unchanged, report.problems) == (3, 0, [])
        merged = [r for r in _people(project) if r[4] == "ana"]
        assert merged == theirs
        assert [(r[1], r[2], r[9]) for r in merged] == [(60, 200, (B, C)), (130, 190, (B, C)), (161, 216, (C,))]
        again = merge_from(project, copy)
        assert (again.new, again.unchanged) == (0, 3)
        assert [r for r in _people(project) if r[4] == "ana"] == theirs


def test_a_different_decision_on_the_same_span_is_a_conflict_naming_the_span(db: Path) -> None:
    with Project.open(db) as project:
        code_span(project, "int-sales", 130, 190, "soft_control", "ana")
        copy = clone_for(project, "ana", db.with_name("ana.db"))
    with Project.open(copy) as project:
        apply_span(project, "ana", "int-sales", 130, 190, "soft_control", "rejected")
    with Project.open(db) as project:
        report = merge_from(project, copy)
        assert report.new == 0 and len(report.conflicts) == 1
        assert (
            "ana on segment 2 (span 130-190), code soft_control: accepted here, rejected in ana.db"
            in (report.conflicts[0])
        )
        report = merge_from(project, copy, prefer="theirs")
        assert [(r[1], r[2], r[5]) for r in _people(project)] == [(130, 190, "rejected")]


def test_a_span_over_no_segment_in_the_master_is_reported_not_merged(db: Path) -> None:
    with Project.open(db) as project:
        copy = clone_for(project, "ana", db.with_name("ana.db"))
    with Project.open(copy) as project:
        code_span(project, "int-sales", 20, 30, "hard_control", "ana")
    with sqlite3.connect(db) as conn:  # the master was segmented otherwise: no segment under 20-30 any more
        conn.execute("DELETE FROM codings WHERE segment_id = 1")
        conn.execute("DELETE FROM segments WHERE id = 1")
    with Project.open(db) as project:
        report = merge_from(project, copy)
        assert report.new == 0
        assert report.unplaced == [
            "ana's coding of hard_control at 20-30 of source 'int-sales' holds no segment's text in this "
            "project (it was segmented otherwise); not merged"
        ]
        assert report.problems == report.unplaced


def test_a_selection_over_a_label_or_only_a_cr_is_a_warning_and_the_rest_imports(tmp_path: Path) -> None:
    raw = "Sarah Collins: They came from the US.\r\nIt was all about the target.\r\nI: Why was that?\r\n"
    cr = raw.index("\r")  # inside Sarah's turn: only the CR of a CRLF, nothing once line ends are LF
    sels = (
        selection("C0000000-0000-4000-8000-000000000001", (cr, cr + 1), CODE_A)
        + selection("C0000000-0000-4000-8000-000000000002", (0, len("Sarah Collins: ")), CODE_A)
        + selection("C0000000-0000-4000-8000-000000000003", (15, raw.index("Why") + 3), CODE_B)
    )
    path = qdpx(tmp_path / "t.qdpx", project_xml(sels), {f"sources/{SOURCE}.txt": raw})
    with Project.open(tmp_path / "p.db", create=True) as project:
        report = import_qdpx(project, path)
        assert report.codings_new == 1
        assert len(report.warnings) == 2
        assert "000000000001 (37-37) selects no character of the stored text" in report.warnings[0]
        assert "000000000002 (0-15) holds no segment's text" in report.warnings[1]
        text = source_texts(project)["int-trial"]
        assert [(r[1], r[2], r[3], r[9]) for r in _people(project)] == [
            (15, text.index("Why") + 3, "soft_control", (1, 2))
        ]


@given(st.lists(st.integers(0, 40), min_size=0, max_size=12), st.integers(0, 90), st.integers(1, 30))
def test_the_no_text_check_agrees_with_overlap_by_a_character(cuts: list[int], start: int, width: int) -> None:
    points = sorted(set(cuts))
    # Segments with gaps between them, in text order: every other stretch between the cut points.
    segments = [(i, 2 * a, 2 * b) for i, (a, b) in enumerate(zip(points, points[1:], strict=False)) if i % 2 == 0]
    places = ([s for _, s, _ in segments], [e for _, _, e in segments])
    end = start + width
    assert _holds_text(places, start, end) == any(s < end and e > start for _, s, e in segments)
