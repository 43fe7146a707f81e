"""The one renderer (issue 12): numbers, atomic files, and HTML through the package's templates."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualkam.render import files
from qualkam.render.html import Cell, Table, environment, pieces, render_page, table
from qualkam.render.number import DASH, missing, number

ROOT = Path(__file__).resolve().parents[1]


# -- number or dash -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "kwargs", "shown"),
    [
        (None, {}, DASH),
        (float("nan"), {}, DASH),
        (np.float64("nan"), {}, DASH),
        (pd.NA, {}, DASH),
        (pd.NaT, {"dash": ""}, ""),
        (0.75, {}, "0.750"),
        (1.0, {}, "1.000"),  # a coefficient of 1 keeps its places
        (1.0, {"whole": True, "places": 2}, "1"),  # a sum of counts does not
        (0.857, {"places": 2}, "0.86"),
        (-0.0, {}, "0.000"),  # never "-0.000"
        (-0.0004, {}, "0.000"),
        (-0.0006, {}, "-0.001"),
        (np.int64(12), {}, "12"),
        (7, {"places": 2}, "7"),
        (True, {}, "True"),
        ("coder ana", {}, "coder ana"),
    ],
)
def test_number_or_dash(value: object, kwargs: dict, shown: str) -> None:
    assert number(value, **kwargs) == shown


def test_missing_is_none_nan_and_pandas_na_only() -> None:
    assert missing(None) and missing(math.nan) and missing(pd.NA) and missing(pd.NaT)
    assert not any(missing(v) for v in (0, 0.0, "", "nan", False))


# -- atomic files ---------------------------------------------------------------------------
def test_files_are_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "out.csv"
    files.write_csv(pd.DataFrame({"code": ["=cmd", "soft"], "n": [1, 2]}), path)
    assert path.read_text(encoding="utf-8") == "code,n\n'=cmd,1\nsoft,2\n"  # cells made safe on the way
    with pytest.raises(RuntimeError), files.atomic_open(path) as handle:
        handle.write("half a file")
        raise RuntimeError("the export failed")
    assert path.read_text(encoding="utf-8").startswith("code,n")  # the good file stays
    assert [p.name for p in path.parent.iterdir()] == ["out.csv"]  # no temporary file left behind
    files.write_bytes(b"\x00\x01", tmp_path / "b.bin")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_a_workbook_is_written_atomically(tmp_path: Path) -> None:
    from openpyxl import Workbook, load_workbook

    book = Workbook()
    book.active.append(["code", "n"])
    path = files.write_workbook(book, tmp_path / "sheet.xlsx")
    assert [list(r) for r in load_workbook(path).active.iter_rows(values_only=True)] == [["code", "n"]]


# -- HTML -----------------------------------------------------------------------------------
def test_templates_and_stylesheet_ship_inside_the_package() -> None:
    from importlib import resources

    folder = resources.files("qualkam.render").joinpath("templates")
    names = {p.name for p in folder.iterdir()}
    assert {"base.html", "macros.html", "report.html", "excerpts.html", "disagreements.html", "qualkam.css"} <= names
    assert '"render/templates/*.html"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert environment().autoescape is True


def test_every_page_extends_the_one_base_layout() -> None:
    folder = ROOT / "qualkam" / "render" / "templates"
    for page in ("report.html", "excerpts.html", "disagreements.html"):
        assert '{% extends "base.html" %}' in (folder / page).read_text(encoding="utf-8"), page
    # one skeleton: only the base layout writes <html>, <head> and <style>
    skeletons = [p.name for p in folder.glob("*.html") if "<html" in p.read_text(encoding="utf-8")]
    assert skeletons == ["base.html"]


def test_no_html_is_escaped_by_hand() -> None:
    """Escaping belongs to the templates' autoescape; a hand-made escape is a place to forget one."""
    hand = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "qualkam").rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bhtml\.escape\b|^\s*import html\b|markupsafe\.escape", line)
    ]
    assert hand == []


def test_the_table_macro_right_aligns_numbers_greys_zeros_and_escapes_text() -> None:
    frame = pd.DataFrame({"code": ["<b>x</b>", "y"], "n": [0, 3], "share": [0.5, float("nan")]}).set_index("code")
    page = render_page("excerpts.html", title="t", subtitle="", groups=[])
    assert "<table" not in page  # no table without data
    t = table(frame, total=True)
    assert [c.text for c in t.head] == ["code", "n", "share"]
    assert [(c.text, c.classes) for c in t.rows[0]] == [("<b>x</b>", ""), ("0", "num zero"), ("0.50", "num")]
    assert t.rows[1][2].text == ""  # missing: an empty cell here (the report's convention)
    assert [c.text for c in t.total] == ["total", "3", "0.50"]
    html = environment().from_string('{% from "macros.html" import table %}{{ table(t) }}').render(t=t)
    assert "<th>&lt;b&gt;x&lt;/b&gt;</th>" in html and '<td class="num zero">0</td>' in html
    assert '<tr class="total"><td>total</td><td class="num">3</td>' in html
    linked = Table([Cell("code", head=True)], [[Cell("a&b", href="#code-a")]], classes="data triangulation")
    html = environment().from_string('{% from "macros.html" import table %}{{ table(t) }}').render(t=linked)
    assert '<td><a href="#code-a">a&amp;b</a></td>' in html


def test_pieces_cut_an_excerpt_at_its_evidence() -> None:
    assert [(p.text, p.marked) for p in pieces("we trust each other", [(3, 8), (14, 19)])] == [
        ("we ", False),
        ("trust", True),
        (" each ", False),
        ("other", True),
    ]


# -- one place for writing files and JSON ---------------------------------------------------
def test_plain_data_for_json() -> None:
    from qualkam.render.number import plain

    value = {"n": np.int64(3), "x": np.float64(0.5), "gone": [math.nan, pd.NA, pd.NaT, None], "t": ("a", True)}
    assert plain(value) == {"n": 3, "x": 0.5, "gone": [None, None, None, None], "t": ["a", True]}
    assert type(plain(np.int64(3))) is int and type(plain(np.bool_(True))) is bool


def test_json_text_is_json_with_a_line_end() -> None:
    value = {
        "code": "confiança",
        "alpha": np.float64(0.75),
        "kappa": math.nan,
        "n": np.int64(2),
        "day": pd.Timestamp(0),
    }
    assert files.json_text(value) == (
        '{\n "code": "confiança",\n "alpha": 0.75,\n "kappa": null,\n "n": 2,\n "day": "1970-01-01 00:00:00"\n}\n'
    )
    assert files.json_text([1], indent=2) == "[\n  1\n]\n"


def test_a_table_goes_to_csv_or_json_by_its_suffix(tmp_path: Path) -> None:
    from qualkam.errors import QualkamError

    frame = pd.DataFrame({"code": ["a"], "sources": [np.int64(2)]})
    assert files.write_frame(frame, tmp_path / "t.CSV").read_text(encoding="utf-8") == "code,sources\na,2\n"
    text = files.write_frame(frame, tmp_path / "t.json").read_text(encoding="utf-8")
    assert text == '[\n  {\n    "code": "a",\n    "sources": 2\n  }\n]\n'
    with pytest.raises(QualkamError) as bad:
        files.write_frame(frame, tmp_path / "t.txt", argument="out_file")
    assert bad.value.argument == "out_file"
    assert bad.value.worded("--out") == f"--out {tmp_path / 't.txt'}: unknown file type '.txt'; name it .csv or .json"
    assert not (tmp_path / "t.txt").exists()


def test_a_write_error_is_one_line_and_the_good_file_stays(tmp_path: Path) -> None:
    from qualkam.errors import QualkamError

    path = files.write_text("good\n", tmp_path / "out.json")
    with pytest.raises(QualkamError, match=r"cannot write .*out\.json: No space left on device"):
        with files.atomic_open(path) as handle:
            handle.write("half")
            raise OSError(28, "No space left on device")
    assert path.read_text(encoding="utf-8") == "good\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    files.write_text("a,b\r\n", tmp_path / "sheet.csv", encoding="utf-8-sig")
    assert (tmp_path / "sheet.csv").read_bytes() == b"\xef\xbb\xbfa,b\r\n"  # the BOM Excel needs, line ends as given


def test_command_modules_can_write_files_without_pandas() -> None:
    """render.files and render.number import neither pandas nor numpy: a command that only
    writes text stays light."""
    import subprocess
    import sys

    code = (
        "import sys, qualkam.render.files, qualkam.render.number; print(sorted({'pandas', 'numpy'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"


def test_files_are_written_in_one_place() -> None:
    """Temporary files, os.replace and saving a workbook belong to render/files.py; every other
    module writes through it, so no export can leave half a file behind."""
    pattern = re.compile(
        r"os\.replace|os\.rename|mkstemp|NamedTemporaryFile|\.write_text\(|\.write_bytes\(|\bopen\([^)]*['\"][wax]b?['\"]"
        r"|\.save\(|json\.dump\("
    )
    allowed = {"qualkam/render/files.py"}
    hand = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "qualkam").rglob("*.py")
        if path.relative_to(ROOT).as_posix() not in allowed
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and not re.search(r"\bfiles\.write_(text|bytes)\(", line)
    ]
    assert hand == []
