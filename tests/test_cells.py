"""Spreadsheet safety (issue 11, section 6): no cell qualkam writes to XLSX or CSV runs as a formula.

A hostile project (a code named ``=HYPERLINK(...)``, a coder ``@cmd``, a memo ``+1``, a speaker
``-x``, text starting with a tab or a carriage return) goes through every writer; each output is
read back with openpyxl and the csv module.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from typer.testing import CliRunner

from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.render.cells import TRIGGERS, csv_lines, frame_csv, neutralise, restore
from qualkam.store.memos import add_memo
from qualkam.store.project import Project
from qualkam.store.segments import codings, segments

from .conftest import INTERVIEW, OTHER, run_cli, suggestions_in_order, write

EVIL = '=HYPERLINK("http://x","y")'
CODER, OTHER_CODER = "@cmd", "=ben"
MEMO, SPEAKER = "+1", "-x"
TAB_TEXT, CR_TEXT = "\t=1+2 tabbed", "\r@SUM(A1) returned"


@pytest.fixture
def hostile(tmp_path: Path, small_codebook) -> Path:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "b.md", OTHER)
    path = tmp_path / "hostile.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        with project.transaction() as conn:
            conn.execute(
                "UPDATE codes SET id = ?, label = ?, definition = ? WHERE id = 'hard_control'",
                (EVIL, EVIL, "-definition"),
            )
            conn.execute("UPDATE codings SET code_id = ? WHERE code_id = 'hard_control'", (EVIL,))
            conn.execute("UPDATE segments SET speaker = ? WHERE speaker = 'Sarah Collins'", (SPEAKER,))
            first, second = [
                r[0] for r in conn.execute("SELECT id FROM segments WHERE speaker = ? ORDER BY id", (SPEAKER,))
            ][:2]
        for i, (segment, code) in enumerate(suggestions_in_order(project)):
            decide(project, CODER, segment, code, "accept", memo=MEMO)
            decide(project, OTHER_CODER, segment, code, "accept" if i % 2 else "reject")
        add_memo(project, CODER, "project", None, MEMO)
        add_memo(project, CODER, "segment", str(first), "-minus memo")
        with project.transaction() as conn:
            conn.execute("UPDATE segments SET text = ? WHERE id = ?", (TAB_TEXT, first))
            conn.execute("UPDATE codings SET text = ? WHERE segment_id = ?", (TAB_TEXT, first))
            conn.execute("UPDATE segments SET text = ? WHERE id = ?", (CR_TEXT, second))
            conn.execute("UPDATE codings SET text = ? WHERE segment_id = ?", (CR_TEXT, second))
    return path


def _risky(value: object) -> bool:
    """A text cell a spreadsheet would run: starts with = + - @ tab or CR and is not a number."""
    if not isinstance(value, str) or value[:1] not in TRIGGERS:
        return False
    try:
        float(value)
        return False
    except ValueError:
        return True


def _csv_cells(text: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    assert rows, "no CSV written"
    return [cell for row in rows for cell in row]


def _check_csv(text: str, expect: tuple[str, ...] = ()) -> list[str]:
    cells = _csv_cells(text)
    assert [c for c in cells if _risky(c)] == []
    for value in expect:
        assert any(c.startswith("'" + value) for c in cells), (value, cells[:40])
    return cells


def _read(path: Path, encoding: str = "utf-8") -> str:
    with open(path, encoding=encoding, newline="") as handle:  # keep a carriage return in a cell
        return handle.read()


def _check_xlsx(path: Path, expect: tuple[str, ...] = ()) -> None:
    book = load_workbook(path)
    values = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                assert not _risky(cell.value), (sheet.title, cell.coordinate, cell.value)
                values.append(cell.value)
    for value in expect:
        assert any(isinstance(v, str) and v.startswith("'" + value) for v in values), value


def _cli(runner: CliRunner, *args: object):
    result = run_cli(runner, *args)
    assert result.exit_code == 0, result.output
    return result


def test_sheet_export_xlsx_and_csv_neutralise_every_cell(runner: CliRunner, hostile: Path, tmp_path: Path) -> None:
    xlsx, csv_path = tmp_path / "s.xlsx", tmp_path / "s.csv"
    _cli(runner, "sheet", "export", "--coder", CODER, "--out", xlsx, "--project", hostile)
    _check_xlsx(xlsx, (EVIL, SPEAKER, "\t=1+2", "\r@SUM"))
    book = load_workbook(xlsx)
    assert book["codes"]["A2"].value.startswith("'") or any(
        c.value == "'" + EVIL for row in book["codes"].iter_rows() for c in row
    )
    _cli(runner, "sheet", "export", "--coder", CODER, "--out", csv_path, "--project", hostile)
    _check_csv(_read(csv_path, "utf-8-sig"), (SPEAKER, "\t=1+2", "\r@SUM"))


def test_reconcile_sheet_header_and_cells(runner: CliRunner, hostile: Path, tmp_path: Path) -> None:
    for name in ("r.xlsx", "r.csv"):
        out = tmp_path / name
        _cli(
            runner,
            "reconcile",
            "--coders",
            f"{CODER},{OTHER_CODER}",
            "--decider",
            "carol",
            "--sheet-out",
            out,
            "--project",
            hostile,
        )
        if name.endswith(".xlsx"):
            _check_xlsx(out, (CODER, OTHER_CODER))
        else:
            _check_csv(_read(out, "utf-8-sig"), (CODER, OTHER_CODER))


@pytest.mark.parametrize(
    "args, expect",
    [
        (("excerpts", "--format", "csv"), (EVIL, SPEAKER, "\t=1+2", "\r@SUM", CODER)),
        (("memo", "list", "--format", "csv"), (CODER, MEMO, "-minus")),
        (("audit", "--format", "csv"), (CODER,)),
        (("disagreements", "--format", "csv"), (SPEAKER,)),
        (("matrix", "--rows", "speaker", "--format", "csv"), (EVIL, SPEAKER)),
        (("triangulate", "--format", "csv"), (EVIL,)),
        (("reliability", "--format", "csv"), (EVIL,)),
        (("search", "sales", "--format", "csv"), (SPEAKER,)),
        (("evaluate", "--against", f"coder:{CODER}", "--format", "csv"), (EVIL,)),
    ],
)
def test_every_csv_on_stdout_is_neutralised(runner: CliRunner, hostile: Path, args: tuple, expect: tuple) -> None:
    result = _cli(runner, *args, "--project", hostile)
    _check_csv(result.stdout, expect)


@pytest.mark.parametrize(
    "args",
    [
        ("excerpts", "--format", "csv"),
        ("memo", "list", "--format", "csv"),
        ("audit", "--format", "csv"),
        ("triangulate",),
        ("matrix", "--rows", "speaker"),
        ("disagreements", "--format", "csv"),
        ("search", "sales", "--format", "csv"),
        ("reliability", "--format", "csv"),
    ],
)
def test_every_csv_file_is_neutralised(runner: CliRunner, hostile: Path, tmp_path: Path, args: tuple) -> None:
    out = tmp_path / "out.csv"
    _cli(runner, *args, "--out", out, "--project", hostile)
    _check_csv(_read(out))


def test_code_outputs_are_neutralised(hostile: Path, tmp_path: Path) -> None:
    from qualkam.render.outputs import write_outputs

    with Project.open(hostile) as project:
        written = write_outputs(project, tmp_path / "out")
    _check_csv(_read(written[0]), (EVIL, SPEAKER, CODER, "\t=1+2"))
    for path in written[1:]:
        _check_csv(_read(path), (EVIL,))


def test_agreement_csv_is_neutralised(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "ratings.csv"
    data.write_text("unit,coder,value\n1,@a,=x\n1,@b,=x\n2,@a,-y\n2,@b,=x\n", encoding="utf-8")
    _check_csv(_cli(runner, "agreement", data, "--format", "csv").stdout)


def test_numbers_stay_numbers() -> None:
    import pandas as pd

    text = frame_csv(pd.DataFrame({"kappa": [-0.5, 1.0], "n": [-3, 4], "label": ["-5", "ok"]}))
    assert text.splitlines() == ["kappa,n,label", "-0.5,-3,'-5", "1.0,4,ok"]


def test_embedded_separators_are_quoted() -> None:
    # OWASP's own examples, and a semicolon that a European spreadsheet would split on.
    assert csv_lines([['=1+2";=1+2']]) == '"\'=1+2"";=1+2"\n'
    assert csv_lines([["=1+2'\" ;,=1+2"]]) == '"\'=1+2\'"" ;,=1+2"\n'
    assert csv_lines([["a;=1+2", "b\t@x", 5]]) == '"a;=1+2","b\t@x",5\n'
    for delimiter in (";", ","):  # the list separators spreadsheets use
        rows = list(csv.reader(io.StringIO(csv_lines([["a;=1+2", "b\t@x|-c,d"]])), delimiter=delimiter))
        assert not any(_risky(cell) for row in rows for cell in row)


@given(st.text())
def test_restore_undoes_neutralise(text: str) -> None:
    assert restore(neutralise(text)) == text
    assert not _risky(neutralise(text))


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_sheet_round_trip_reads_the_words_back(runner: CliRunner, hostile: Path, tmp_path: Path, suffix: str) -> None:
    sheet = tmp_path / f"s{suffix}"
    _cli(runner, "sheet", "export", "--coder", "dora", "--out", sheet, "--project", hostile)
    with Project.open(hostile) as project:
        frame = segments(project)
        seg = int(frame.loc[frame["text"] == TAB_TEXT, "segment"].iloc[0])
    if suffix == ".xlsx":
        book = load_workbook(sheet)
        rows = book["segments"]
        header = [c.value for c in rows[1]]
        for row in rows.iter_rows(min_row=2):
            if row[0].value == seg:
                row[header.index("codes")].value = "soft_control"
                row[header.index("memo")].value = "'+plus memo"
        book.save(sheet)
    else:
        lines = list(csv.reader(io.StringIO(_read(sheet, "utf-8-sig"), newline="")))
        header = lines[0]
        for line in lines[1:]:
            if line[0] == str(seg):
                line[header.index("codes")] = "soft_control"
                line[header.index("memo")] = "'+plus memo"
        with open(sheet, "w", encoding="utf-8-sig", newline="") as handle:  # as a spreadsheet saves it
            csv.writer(handle).writerows(lines)
    result = _cli(runner, "import", "codings", sheet, "--coder", "dora", "--project", hostile)
    assert "changed since" not in result.output and "differs" not in result.output, result.output
    with Project.open(hostile) as project:
        table = codings(project, "all")
        row = table[(table["coder"] == "dora") & (table["segment"] == seg)].iloc[0]
    assert row["memo"] == "+plus memo"


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
        min_size=2,
        max_size=2,
    )
)
def test_a_csv_written_here_reads_back_the_same_words(tmp_path_factory, cells: list[str]) -> None:
    from qualkam.errors import QualkamError
    from qualkam.interchange.codings_import import read_table

    path = tmp_path_factory.mktemp("csv") / "t.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        handle.write(
            csv_lines(
                [
                    ["first", "second"],
                    [
                        *cells,
                    ],
                ],
                lineterminator="\r\n",
            )
        )
    try:
        header, body = read_table(path)
    except QualkamError:  # a row of blanks is "nothing to import": a clear error, never a crash
        assert not any(c.strip() for c in cells)
        return
    assert header == ["first", "second"]
    # The reader makes every line end a line feed (as Excel does) and the text NFC, as every
    # source is stored (a compatibility ideograph such as U+F900 reads back as U+8C48); nothing else changes.
    expected = [unicodedata.normalize("NFC", c.replace("\r\n", "\n").replace("\r", "\n")) for c in cells]
    assert [str(v) for v in body[0][1]] == expected
