"""Long CSVs of spans: exact spans, per-row coders, bad rows, bad files, idempotence; the
half-overlap rule that sentence units still use.

The small interview's stored text has three segments (turns), by character offsets:
A = [3, 34) "How were the sales targets set?" (31 characters),
B = [50, 152) "They came from the US. ... that quarter." (102),
C = [161, 216) "Honestly, now we trust each other. Gut feelings matter." (55).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.coding.run import code_folder
from qualkam.errors import InputError
from qualkam.interchange.codings_import import ImportRowsError, import_codings, read_table, segments_for_span
from qualkam.store.audit import audit_table
from qualkam.store.project import Project
from qualkam.store.segments import codings, segments

from .conftest import INTERVIEW, records, source_texts, write
from .conftest import run_cli as _run

A, B, C = (1, 3, 34), (2, 50, 152), (3, 161, 216)


@pytest.fixture
def db(tmp_path: Path, small_codebook) -> Path:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    path = tmp_path / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        spans = sorted(records(segments(project), ["segment", "start", "end"]), key=lambda span: span[1])
    assert spans == [A, B, C], "the fixture's offsets moved; update the hand-computed cases"
    return path


def _csv(tmp_path: Path, text: str, name: str = "spans.csv") -> Path:
    return write(tmp_path / name, text)


def _codings(db: Path) -> list[tuple]:
    with Project.open(db) as project:
        people = codings(project, "all").dropna(subset=["coder"]).sort_values(["coder", "segment", "code", "start"])
        return records(people, ["segment", "code", "coder", "origin", "status", "start", "end", "text", "memo"])


def _audit_count(db: Path) -> int:
    with Project.open(db) as project:
        return len(audit_table(project))


@pytest.mark.parametrize(
    "span, expected",
    [
        ((83, 103), [(2, 83, 103)]),  # inside B: B holds all of the span
        ((130, 190), [(3, 161, 190)]),  # across B and C: C holds 29 of 60 (no) but 29 of C's 55 is over half
        ((100, 216), [(2, 100, 152), (3, 161, 216)]),  # 52 of B's 102 and all of C
        ((101, 216), [(2, 101, 152), (3, 161, 216)]),  # exactly half of B (51 of 102) still codes it
        ((102, 216), [(3, 161, 216)]),  # 50 of B's 102 and 50 of the span's 114: B is not coded
        ((20, 70), []),  # 14 of A, 20 of B: less than half of either, and of the span
    ],
)
def test_overlap_rule_hand_computed(span: tuple[int, int], expected: list[tuple[int, int, int]]) -> None:
    assert segments_for_span(*span, [A, B, C]) == expected


def test_long_csv_spans_become_codings_with_their_exact_spans(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    spans = _csv(
        tmp_path,
        "source,start,end,code,memo\n"
        "int-sales,83,103,hard_control,imposed\n"  # inside B, a suggestion: origin rule
        "int-sales,130,190,soft_control,\n"  # across B and C: one coding, anchored at B
        "int-sales,101,216,hard_control,\n"  # across B and C: one coding, beside row 2's
        "int-sales,50,152,hard_control,whole\n",
    )  # exactly B: a decision on the segment, as before
    result = _run(runner, "import", "codings", spans, "--coder", "ana", "--project", db)
    assert result.exit_code == 0, result.output
    assert "(long CSV, ana): 4 new, 0 changed, 0 unchanged codings · 4 rows read" in result.output
    with Project.open(db) as project:
        text = next(iter(source_texts(project).values()))
    assert _codings(db) == [
        (2, "hard_control", "ana", "rule", "accepted", 50, 152, text[50:152], "whole"),
        (2, "hard_control", "ana", "rule", "accepted", 83, 103, text[83:103], "imposed"),
        (2, "hard_control", "ana", "human", "accepted", 101, 216, text[101:216], None),
        (2, "soft_control", "ana", "human", "accepted", 130, 190, text[130:190], None),
    ]
    audit = _audit_count(db)
    again = _run(runner, "import", "codings", spans, "--coder", "ana", "--project", db)
    assert again.exit_code == 0 and "0 new, 0 changed, 4 unchanged codings · 4 rows read" in again.output
    assert _audit_count(db) == audit


def test_coder_column_overrides_and_makes_coder_optional(db: Path, tmp_path: Path) -> None:
    spans = _csv(
        tmp_path, "source,start,end,code,coder\nint-sales,83,103,hard_control,ben\nint-sales,83,103,hard_control,\n"
    )
    with Project.open(db) as project:
        with pytest.raises(ImportRowsError) as caught:
            import_codings(project, spans)
        assert [str(p) for p in caught.value.problems] == [
            "row 3: no coder: fill the coder column or give the coder of the whole file"
        ]
        report = import_codings(project, spans, coder="ana")
    assert (report.new, report.coders) == (2, ["ana", "ben"])
    assert [(c[0], c[2]) for c in _codings(db)] == [(2, "ana"), (2, "ben")]


def test_bad_rows_are_all_reported_and_nothing_imported(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    spans = _csv(
        tmp_path,
        "source,start,end,code\n"
        "int-sales,83,103,hard_control\n"  # 2: good, but the file is all or nothing
        "int-sales,83,103,hard_contrl\n"  # 3: unknown code
        "int-sale,83,103,hard_control\n"  # 4: unknown source
        "int-sales,-5,10,hard_control\n"  # 5: negative
        "int-sales,40,40,hard_control\n"  # 6: empty span
        "int-sales,200,999,hard_control\n"  # 7: beyond the text (217 characters)
        "int-sales,abc,103,hard_control\n"  # 8: not a number
        "int-sales,34,50,hard_control\n",
    )  # 9: only the line end and speaker label between A and B
    before, audit = _codings(db), _audit_count(db)
    result = _run(runner, "import", "codings", spans, "--coder", "ana", "--project", db)
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "7 bad row(s); nothing was imported" in out
    for row, reason in [
        (3, "code: unknown code 'hard_contrl' (did you mean 'hard_control'?)"),
        (4, "unknown source 'int-sale' (did you mean 'int-sales'?)"),
        (5, "start -5 is negative"),
        (6, "end 40 is not after start 40"),
        (7, "end 999 is beyond the end of 'int-sales' (217 characters)"),
        (8, "start 'abc' is not a whole number"),
        (9, "span 34-50 of 'int-sales' holds no segment's text"),
    ]:
        assert f"spans.csv:{row}: {reason}" in out, (row, out)
    assert "spans.csv:2:" not in out
    assert _codings(db) == before == [] and _audit_count(db) == audit


def test_unknown_columns_are_reported_as_row_1(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    spans = _csv(tmp_path, "source,start,end,code,colour\nint-sales,83,103,hard_control,red\n")
    result = _run(runner, "import", "codings", spans, "--coder", "ana", "--project", db)
    assert result.exit_code == 2
    assert "spans.csv:1: unknown column 'colour'" in " ".join(result.output.split())
    assert _codings(db) == []


def test_semicolon_csv_and_xlsx_long_files(db: Path, tmp_path: Path) -> None:
    from openpyxl import Workbook

    spans = _csv(tmp_path, "source;start;end;code\nint-sales;83;103;hard_control\n")
    book = Workbook()
    book.active.append(["source", "start", "end", "code"])
    book.active.append(["int-sales", 161.0, 216, "soft_control"])
    book.save(tmp_path / "spans.xlsx")
    with Project.open(db) as project:
        assert import_codings(project, spans, "ana").new == 1
        assert import_codings(project, tmp_path / "spans.xlsx", "ana").new == 1


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "missing.csv: no such file"),
        ("empty.csv", b"", "empty.csv: empty file; nothing to import"),
        ("blank.xlsx", b"   \n", "blank.xlsx: empty file; nothing to import"),
        ("header.csv", b"source,start,end,code\n", "header.csv: a header but no rows"),
        ("notes.pdf", b"%PDF-1.4", "notes.pdf: not a CSV or XLSX file (.pdf)"),
        ("fake.xlsx", b"not a zip at all", "fake.xlsx: not a readable XLSX workbook"),
        (
            "other.csv",
            b"name,age\nana,3\n",
            "other.csv: not a coding sheet (columns segment, codes, ...) nor a long CSV",
        ),
    ],
)
def test_bad_files_give_one_clear_line(
    runner: CliRunner, db: Path, tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = _run(runner, "import", "codings", path, "--coder", "ana", "--project", db)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert len(result.output.strip().splitlines()) <= 3  # one message, perhaps wrapped


def test_read_table_refuses_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        read_table(tmp_path)


def test_help_says_spans_are_kept_exactly(runner: CliRunner) -> None:
    result = _run(runner, "import", "codings", "--help")
    text = " ".join(result.output.split())
    assert result.exit_code == 0
    assert "Each span is kept exactly as one coding" in text and "every segment it overlaps" in text
    assert "clipped" not in text


def test_an_error_from_the_store_rolls_back_the_whole_file(db: Path, tmp_path: Path) -> None:
    # Row 2 is applied first; row 3's coder name is refused by apply_decision inside the transaction.
    spans = _csv(
        tmp_path,
        "source,start,end,code,coder\nint-sales,83,103,hard_control,ana\nint-sales,161,216,soft_control,qualkam-bot\n",
    )
    with Project.open(db) as project:
        audit = _audit_count(db)
        with pytest.raises(ImportRowsError) as caught:
            import_codings(project, spans)
    assert [p.row for p in caught.value.problems] == [3] and "reserved" in caught.value.problems[0].reason
    assert _codings(db) == [] and _audit_count(db) == audit


def test_values_outside_named_columns_are_reported(db: Path, tmp_path: Path) -> None:
    spans = _csv(tmp_path, "source,start,end,code\nint-sales,83,103,hard_control,stray\n")
    with Project.open(db) as project, pytest.raises(ImportRowsError, match="right of the last named column"):
        import_codings(project, spans, "ana")


def test_a_source_id_with_spaces_around_it_is_named_as_written(tmp_path: Path, small_codebook) -> None:
    """A file name may end in a space; its source id keeps it, and a long CSV naming that id
    must find it, while a spreadsheet's stray spaces around another id are still forgiven."""
    text = INTERVIEW.replace("id: int-sales\n", "")
    write(tmp_path / "src" / "int .md", text)
    write(tmp_path / "src" / "other.md", text)
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        start = source_texts(project)["int "].index("We had to")
        spans = _csv(
            tmp_path,
            f"source,start,end,code\nint ,{start},{start + 9},hard_control\n"
            f'" other ",{start},{start + 9},soft_control\n',
        )
        assert import_codings(project, spans, "ana").new == 2
        people = codings(project, "all").dropna(subset=["coder"])
        assert sorted(records(people, ["source", "code", "start"])) == [
            ("int ", "hard_control", start),
            ("other", "soft_control", start),
        ]
