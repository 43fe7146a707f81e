"""Coding sheets: export for one coder (XLSX and CSV), fill in, import back, idempotently."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from qualkam.coding.run import code_folder
from qualkam.errors import InputError
from qualkam.interchange.codings_import import import_codings
from qualkam.interchange.sheets import SHEET_COLUMNS, export_sheet, sheet_rows, shorten
from qualkam.store.audit import audit_table
from qualkam.store.memos import memo_table
from qualkam.store.project import Project
from qualkam.store.segments import codings, segments

from .conftest import INTERVIEW, records, segment_with, write
from .conftest import run_cli as _run


@pytest.fixture
def db(tmp_path: Path, small_codebook) -> Path:
    """The small interview coded into a project: segments 1 (I), 2 and 3 (Sarah Collins)."""
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(
        tmp_path / "src" / "m9.md",
        "---\nid: meeting-9\ntype: meeting\ndate: 2012-01-01\n---\n"
        "Tom Reed: =SUM(A1) is what he typed, and we trust each other.\n",
    )
    path = tmp_path / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    return path


def _seg(db: Path, words: str) -> int:
    with Project.open(db) as project:
        return segment_with(project, words)


def _codings(db: Path) -> list[tuple]:
    with Project.open(db) as project:
        people = codings(project, "all").dropna(subset=["coder"]).sort_values(["segment", "code"], kind="stable")
        return records(people, ["segment", "code", "coder", "origin", "status", "memo", "start", "end"])


def _audit(db: Path) -> list[tuple]:
    with Project.open(db) as project:
        audit = audit_table(project)
        return records(
            audit[audit["entity"].isin(["coding", "segment"])], ["actor", "action", "entity", "entity_id", "note"]
        )


def _fill_xlsx(path: Path, fills: dict[int, dict[str, str]]) -> None:
    book = load_workbook(path)
    sheet = book["segments"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        seg = row[header.index("segment")].value
        for column, value in fills.get(seg, {}).items():
            row[header.index(column)].value = value
    book.save(path)


def _fill_csv(path: Path, fills: dict[int, dict[str, str]]) -> None:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.update(fills.get(int(row["segment"]), {}))
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SHEET_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def test_sheet_rows_show_context_suggestions_and_decisions(db: Path) -> None:
    with Project.open(db) as project:
        rows = {r["segment"]: r for r in sheet_rows(project, "ana", sources=["int-sales"])}
    question, targets, trust = sorted(rows)
    row = rows[targets]
    assert list(row) == SHEET_COLUMNS
    assert (row["source"], row["position"], row["speaker"], row["role"], row["phase"]) == (
        "int-sales",
        1,
        "Sarah Collins",
        "Sales Director",
        "pre_kam",
    )
    assert row["before"] == "I: How were the sales targets set?"
    assert row["after"] == "Sarah Collins: Honestly, now we trust each other. Gut feelings matter."
    assert row["text"].startswith("They came from the US.")
    assert row["suggestions"] == "hard_control (0.75): follow the procedure; sales target"
    assert rows[question]["before"] == "" and rows[trust]["after"] == ""
    assert (row["codes"], row["reject"], row["memo"], row["decided"]) == ("", "", "", "")


def test_shorten_keeps_about_200_characters_at_word_breaks() -> None:
    long = " ".join(f"word{i}" for i in range(100))
    head, tail = shorten(long), shorten(long, keep="end")
    assert 160 <= len(head) <= 201 and head.endswith("…") and head.startswith("word0 ")
    assert 160 <= len(tail) <= 201 and tail.startswith("…word") and tail.endswith("word99")
    assert shorten("short  text\n here") == "short text here"


def test_xlsx_layout_bold_frozen_wrapped_with_codes_sheet(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    out = tmp_path / "sheets" / "ana.xlsx"
    result = _run(runner, "sheet", "export", "--coder", "ana", "--out", out, "--project", db)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 4 segments for ana" in result.output
    book = load_workbook(out)
    assert book.sheetnames == ["segments", "codes"]
    sheet = book["segments"]
    assert [c.value for c in sheet[1]] == SHEET_COLUMNS
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "B2"
    text_col = SHEET_COLUMNS.index("text") + 1
    assert sheet.cell(row=2, column=text_col).alignment.wrap_text
    assert sheet.column_dimensions["H"].width > sheet.column_dimensions["A"].width
    assert any("codes" in (v.prompt or "") for v in sheet.data_validations.dataValidation)
    # A text beginning with '=' stays words, not a formula: quoted as OWASP says (issue 11, section 6).
    formula_like = [r for r in sheet.iter_rows(min_row=2) if str(r[text_col - 1].value).startswith("'=")]
    assert formula_like and formula_like[0][text_col - 1].value.startswith("'=SUM(A1) is what he typed")
    assert formula_like[0][text_col - 1].data_type == "s"
    codes = [[c.value for c in row] for row in book["codes"].iter_rows()]
    assert codes[0] == ["id", "label", "parent", "definition"]
    assert [row[0] for row in codes[1:]] == ["control", "hard_control", "soft_control"]
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_export_filters_and_unknown_filters(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    def rows(*args: object) -> list[dict[str, str]]:
        out = tmp_path / "f.csv"
        result = _run(runner, "sheet", "export", "--coder", "ana", "--out", out, "--project", db, *args)
        assert result.exit_code == 0, result.output
        with open(out, encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))

    assert {r["source"] for r in rows("--source", "meeting-9")} == {"meeting-9"}
    assert {r["source"] for r in rows("--phase", "pre_kam")} == {"int-sales"}
    # A parent code finds the segments of its children.
    assert {r["segment"] for r in rows("--code", "control")} == {
        r["segment"] for r in rows("--code", "hard_control")
    } | {r["segment"] for r in rows("--code", "soft_control")}
    assert len(rows("--code", "soft_control")) == 2
    bad = _run(runner, "sheet", "export", "--coder", "ana", "--project", db, "--source", "nope", "--code", "zzz")
    assert bad.exit_code == 2
    assert "source 'nope' is not in the project" in bad.output and "code 'zzz' is not in the project" in bad.output
    wrong = _run(runner, "sheet", "export", "--coder", "ana", "--project", db, "--out", tmp_path / "x.ods")
    assert wrong.exit_code == 2 and "written as .xlsx or .csv" in wrong.output


def test_csv_export_has_a_bom(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    out = tmp_path / "ana.csv"
    assert _run(runner, "sheet", "export", "--coder", "ana", "-o", out, "-p", db).exit_code == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfsegment,source,position,")


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_round_trip_export_fill_import_reimport(runner: CliRunner, db: Path, tmp_path: Path, suffix: str) -> None:
    question, targets, trust = _seg(db, "sales targets set"), _seg(db, "follow the procedure"), _seg(db, "Gut feelings")
    sheet = tmp_path / f"ana.{suffix}"
    assert (
        _run(runner, "sheet", "export", "--coder", "ana", "--source", "int-sales", "-o", sheet, "-p", db).exit_code == 0
    )
    fill = _fill_xlsx if suffix == "xlsx" else _fill_csv
    fill(
        sheet,
        {
            question: {"codes": "soft_control", "reject": "hard_control"},
            targets: {"codes": "hard_control", "memo": "Targets imposed by the US parent."},
            trust: {"memo": "Irony?"},
        },
    )
    result = _run(runner, "import", "codings", sheet, "--coder", "ana", "--project", db)
    assert result.exit_code == 0, result.output
    assert "3 new, 0 changed, 0 unchanged codings · 1 new segment memo(s) · 3 rows read" in result.output
    with Project.open(db) as project:
        spans = segments(project).set_index("segment")
        seg_start, seg_end = (int(v) for v in spans.loc[targets, ["start", "end"]])
        q_start, q_end = (int(v) for v in spans.loc[question, ["start", "end"]])
        memos = records(memo_table(project), ["target_type", "target_id", "coder", "memo"])
    assert _codings(db) == [
        (question, "hard_control", "ana", "rule", "rejected", None, q_start, q_end),
        (question, "soft_control", "ana", "human", "accepted", None, q_start, q_end),
        (targets, "hard_control", "ana", "rule", "accepted", "Targets imposed by the US parent.", seg_start, seg_end),
    ]
    assert memos == [("segment", str(trust), "ana", "Irony?")]
    trail = _audit(db)
    assert sorted((a[0], a[1], a[2]) for a in trail) == [
        ("ana", "accept", "coding"),
        ("ana", "add", "coding"),
        ("ana", "memo", "segment"),
        ("ana", "reject", "coding"),
    ]
    assert {a[4] for a in trail} == {f"import ana.{suffix}"}

    again = _run(runner, "import", "codings", sheet, "--coder", "ana", "--project", db)
    assert again.exit_code == 0 and "0 new, 0 changed, 3 unchanged codings · 3 rows read" in again.output
    assert _audit(db) == trail

    # The next export shows the decisions; changing one is one changed coding and one audit line.
    assert (
        _run(runner, "sheet", "export", "--coder", "ana", "--source", "int-sales", "-o", sheet, "-p", db).exit_code == 0
    )
    with Project.open(db) as project:
        decided = {r["segment"]: r["decided"] for r in sheet_rows(project, "ana", sources=["int-sales"])}
    assert decided[question] == "accepted: soft_control\nrejected: hard_control"
    fill(sheet, {targets: {"reject": "hard_control"}})
    changed = _run(runner, "import", "codings", sheet, "--coder", "ana", "--project", db)
    assert "0 new, 1 changed, 0 unchanged codings" in changed.output
    assert len(_audit(db)) == len(trail) + 1
    last = _codings(db)[-1]
    assert last[:6] == (targets, "hard_control", "ana", "rule", "rejected", "Targets imposed by the US parent.")


def test_bad_sheet_rows_are_all_reported_and_nothing_imported(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    question, targets, trust = _seg(db, "sales targets set"), _seg(db, "follow the procedure"), _seg(db, "Gut feelings")
    sheet = tmp_path / "ana.xlsx"
    _run(runner, "sheet", "export", "--coder", "ana", "--source", "int-sales", "-o", sheet, "-p", db)
    _fill_xlsx(
        sheet,
        {
            question: {"codes": "soft_control, hard_contrl"},  # row 2: a typo
            targets: {"codes": "hard_control", "text": "They came from Mars."},  # row 3: the words were edited
            trust: {"codes": "soft_control", "reject": "hard_control"},  # row 4: rejects what was never suggested
        },
    )
    book = load_workbook(sheet)
    book["segments"].append(
        [99999, "int-sales", 9, "", "", "", "", "Gone.", "", "", "", "soft_control", "", ""]
    )  # row 5
    book.save(sheet)
    before, trail = _codings(db), _audit(db)
    result = _run(runner, "import", "codings", sheet, "--coder", "ana", "--project", db)
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "4 bad row(s); nothing was imported" in out
    assert "ana.xlsx:2: codes: unknown code 'hard_contrl' (did you mean 'hard_control'?)" in out
    assert f"ana.xlsx:3: the text of segment {targets} (int-sales) is not the text in the project" in out
    assert f"ana.xlsx:4: reject: 'hard_control' was not suggested for segment {trust}" in out
    assert "ana.xlsx:5: unknown segment 99999" in out
    assert _codings(db) == before and _audit(db) == trail


def test_a_sheet_needs_its_coder(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "ana.csv"
    _run(runner, "sheet", "export", "--coder", "ana", "-o", sheet, "-p", db)
    result = _run(runner, "import", "codings", sheet, "--project", db)
    assert result.exit_code == 2 and "is a coding sheet; say whose it is with" in result.output


def test_core_errors_name_arguments_not_flags(db: Path, tmp_path: Path) -> None:
    """A notebook user is told about ``coder`` and ``out``, never about ``--coder`` (issue 12)."""
    with Project.open(db) as project:
        with pytest.raises(InputError) as no_coder:
            sheet_rows(project, " ")
        with pytest.raises(InputError) as bad_suffix:
            export_sheet(project, "ana", tmp_path / "x.ods")
        with pytest.raises(InputError) as unknown:
            sheet_rows(project, "ana", sources=["nope"])
        sheet = tmp_path / "ana.csv"
        export_sheet(project, "ana", sheet)
        with pytest.raises(InputError) as unnamed:
            import_codings(project, sheet)
    assert (no_coder.value.argument, bad_suffix.value.argument, unnamed.value.argument) == ("coder", "out", "coder")
    assert str(no_coder.value) == "a sheet is made for one coder: give their name as coder"
    assert str(bad_suffix.value).startswith("out ") and "written as .xlsx or .csv" in str(bad_suffix.value)
    assert no_coder.value.worded("--coder").endswith("give their name as --coder")
    assert str(unnamed.value).endswith("is a coding sheet; say whose it is with coder")
    assert str(unknown.value).startswith("source 'nope' is not in the project")
    for caught in (no_coder, bad_suffix, unknown, unnamed):
        assert "--" not in str(caught.value)
