"""One way to say a thing, on every command (issue 11, sections 3 and 8).

Unknown names and values are errors with the choices and a did-you-mean; --code, --source,
--speaker and --phase are repeatable filters of every command that lists or counts;
--format/-f everywhere; qualkam --version; memos edited and deleted; merge --prefer; a review
screen that fits 80x24.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from qualkam import __version__
from qualkam.choices import check_choice, parse_date, unknown
from qualkam.cli import app
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.audit import audit_table
from qualkam.store.memos import coding_memo_table
from qualkam.store.project import Project
from qualkam.store.segments import codings

from .conftest import INTERVIEW, OTHER, records, run_cli, suggestions_in_order, write


@pytest.fixture
def db(tmp_path: Path, small_codebook) -> Path:
    """Two sources; ana accepts every suggestion, ben rejects every other one."""
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "b.md", OTHER)
    path = tmp_path / "p.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        for i, (segment, code) in enumerate(suggestions_in_order(project)):
            decide(project, "ana", segment, code, "accept")
            decide(project, "ben", segment, code, "reject" if i % 2 == 0 else "accept")
    return path


def _ok(runner: CliRunner, *args: object):
    result = run_cli(runner, *args)
    assert result.exit_code == 0, result.output
    return result


def _bad(runner: CliRunner, *args: object) -> str:
    result = run_cli(runner, *args)
    assert result.exit_code == 2, result.output
    return " ".join(result.output.replace("│", " ").split())


# -- did you mean ------------------------------------------------------------------------------
def test_the_helper_names_the_choices_and_the_closest() -> None:
    message = str(unknown("coder", "anaa", ["ana", "ben"]))
    assert message == "unknown coder 'anaa'; choose from: ana, ben (did you mean 'ana'?)"
    assert check_choice("format", "JSON", ["table", "json"]) == "json"
    with pytest.raises(QualkamError, match="choose from: table, json \\(did you mean 'json'\\?\\)"):
        check_choice("format", "jsn", ["table", "json"])


@pytest.mark.parametrize(
    "args, expect",
    [
        (
            ("matrix", "--from", "coder:anaa"),
            "unknown coder 'anaa' in --from; choose from: ana, ben (did you mean 'ana'?)",
        ),
        (("triangulate", "--from", "coder:bne"), "did you mean 'ben'?"),
        (("matrix", "--from", "humman"), "did you mean 'human'?"),
        (("matrix", "--rows", "phse"), "did you mean 'phase'?"),
        (("matrix", "--cols", "attr:pol"), "did you mean 'pole'?"),
        (("matrix", "--value", "segment"), "did you mean 'segments'?"),
        (("matrix", "--source", "int-sale"), "did you mean 'int-sales'?"),
        (("matrix", "--speaker", "Sarah Colins"), "did you mean 'Sarah Collins'?"),
        (("matrix", "--phase", "formal"), "choose from: pre_kam, formal_kam"),
        (("matrix", "--format", "cvs"), "did you mean 'csv'?"),
        (("triangulate", "-f", "jsn"), "did you mean 'json'?"),
        (("excerpts", "--source", "int-sale"), "did you mean 'int-sales'?"),
        (("excerpts", "--status", "acepted"), "did you mean 'accepted'?"),
        (("search", "trust", "--speaker", "Tomm"), "choose from:"),
        (("search", "trust", "--format", "jsn"), "did you mean 'json'?"),
        (("reliability", "--coder", "anaa", "--coder", "ben"), "did you mean 'ana'?"),
        (("reliability", "--code", "soft_contro"), "did you mean 'soft_control'?"),
        (("reliability", "--unit", "segmnt"), "did you mean 'segment'?"),
        (("reliability", "--level", "nomnal"), "did you mean 'nominal'?"),
        (("memo", "list", "--on", "source:int-sale"), "did you mean 'int-sales'?"),
        (("disagreements", "--coder", "ana", "--coder", "bn"), "did you mean 'ben'?"),
        (("disagreements", "--phase", "pre-kam"), "did you mean 'pre_kam'?"),
        (("review", "--coder", "cy", "--code", "soft_contro"), "did you mean 'soft_control'?"),
        (("review", "--coder", "cy", "--source", "int-sale"), "did you mean 'int-sales'?"),
        (("review", "--coder", "cy", "--status", "sugested"), "did you mean 'suggested'?"),
        (("sheet", "export", "--coder", "cy", "--source", "int-sale"), "did you mean 'int-sales'?"),
        (("memo", "list", "--coder", "anna"), "did you mean 'ana'?"),
        (("memo", "add", "x", "--coder", "ana", "--on", "code:soft_contro"), "did you mean 'soft_control'?"),
        (("audit", "--actor", "anaa"), "did you mean 'ana'?"),
        (("audit", "--entity", "codings"), "did you mean 'coding'?"),
        (("audit", "--since", "yesterday"), "--since 'yesterday' is not a date; write YYYY-MM-DD"),
        (("audit", "--since", "1/11/2026"), "is not a date"),
        (("audit", "--format", "jsno"), "did you mean 'json'?"),
        (("evaluate", "--against", "coder:anna"), "did you mean 'ana'?"),
        (("evaluate", "--suggest", "rule"), "did you mean 'rules'?"),
        (("train", "--from", "coder:anna"), "did you mean 'ana'?"),
        (("project", "merge", "x.db", "--prefer", "their"), "did you mean 'theirs'?"),
    ],
)
def test_unknown_names_and_values_say_the_choices(runner: CliRunner, db: Path, args: tuple, expect: str) -> None:
    assert expect in _bad(runner, *args, "--project", db)


def test_agreement_level_says_the_choices(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "r.csv"
    data.write_text("unit,coder,value\n1,a,x\n1,b,x\n", encoding="utf-8")
    assert "did you mean 'ordinal'?" in _bad(runner, "agreement", data, "--level", "ordnal")


def test_dates_are_strict_and_iso(runner: CliRunner, db: Path) -> None:
    assert parse_date("2026-11-01") == "2026-11-01T00:00:00+00:00"
    assert parse_date("2026-11-01T09:30+02:00") == "2026-11-01T07:30:00+00:00"
    for bad in ("yesterday", "2026-13-01", "2026-11-01junk", "01.11.2026", ""):
        with pytest.raises(QualkamError, match="accepted|YYYY-MM-DD"):
            parse_date(bad)
    rows = json.loads(_ok(runner, "audit", "--since", "2000-01-01", "--format", "json", "--project", db).stdout)
    assert rows and not json.loads(
        _ok(runner, "audit", "--since", "2999-01-01", "-f", "json", "--project", db).stdout or "[]"
    )


@given(st.text(max_size=30))
def test_parse_date_never_crashes(text: str) -> None:
    try:
        parse_date(text)
    except QualkamError:
        pass


# -- --code, --source, --speaker, --phase: repeatable, everywhere ------------------------------
def _review_items(runner: CliRunner, db: Path, *args: str) -> int:
    result = runner.invoke(app, ["review", "--coder", "cy", *args, "--project", str(db)], input="q\n")
    assert result.exit_code == 0, result.output
    if "nothing to review" in result.output:
        return 0
    return int(result.output.split("/", 1)[1].split(" ", 1)[0]) if "/" in result.output else -1


def test_review_code_is_repeatable(runner: CliRunner, db: Path) -> None:
    hard = _review_items(runner, db, "--code", "hard_control")
    soft = _review_items(runner, db, "--code", "soft_control")
    assert hard and soft
    assert _review_items(runner, db, "--code", "hard_control", "--code", "soft_control") == hard + soft
    assert _review_items(runner, db, "--source", "int-sales", "--source", "int-b") == hard + soft
    assert _review_items(runner, db, "--source", "int-b") < hard + soft
    assert _review_items(runner, db, "--speaker", "Sarah Collins") < hard + soft


def test_reliability_code_and_coder_are_repeated_options(runner: CliRunner, db: Path) -> None:
    def per_code(*args: str) -> list[str]:
        return [
            r["code"]
            for r in json.loads(_ok(runner, "reliability", *args, "-f", "json", "--project", db).stdout)["codes"]
        ]

    both = per_code("--code", "hard_control", "--code", "soft_control")
    assert both == ["hard_control", "soft_control"]
    assert per_code("--codes", "hard_control,soft_control") == both, "the old comma form still works"
    assert per_code("--coder", "ana", "--coder", "ben") == per_code("--coders", "ana,ben")


def _csv_rows(runner: CliRunner, db: Path, *args: str) -> int:
    text = _ok(runner, *args, "--project", db).stdout
    return len([line for line in text.splitlines() if line.strip()]) - 1


@pytest.mark.parametrize(
    "command",
    [
        ("excerpts", "--format", "csv"),
        ("search", "trust", "--format", "csv"),
        ("triangulate", "--format", "json"),
        ("disagreements", "--format", "csv"),
    ],
)
def test_source_speaker_phase_filter_every_listing(runner: CliRunner, db: Path, command: tuple) -> None:
    def count(*filters: str) -> int:
        result = run_cli(runner, *command, *filters, "--project", db)
        assert result.exit_code == 0, result.output
        if command[-1] == "json":
            data = json.loads(result.stdout or "[]")
            return sum(row["segments"] for row in data)
        return max(len([line for line in result.stdout.splitlines() if line.strip()]) - 1, 0)

    everything = count()
    assert everything > 0
    only_b = count("--source", "int-b")
    only_sales = count("--source", "int-sales")
    assert only_b + only_sales == everything and only_b < everything
    assert count("--source", "int-b", "--source", "int-sales") == everything
    assert count("--speaker", "Sarah Collins") < everything
    assert count("--phase", "pre_kam") == only_sales


def test_matrix_and_reliability_filter_by_source(runner: CliRunner, db: Path) -> None:
    def total(*args: str) -> int:
        text = _ok(runner, "matrix", "--rows", "source", "--format", "csv", *args, "--project", db).stdout
        return sum(int(v) for line in text.splitlines()[1:] for v in line.split(",")[1:])

    assert total("--source", "int-b") + total("--source", "int-sales") == total() > 0
    assert total("--speaker", "Sarah Collins") < total()
    units = lambda *a: json.loads(_ok(runner, "reliability", "-f", "json", *a, "--project", db).stdout)  # noqa: E731
    assert units("--source", "int-b")["overall"]["n_units"] < units()["overall"]["n_units"]


def test_filters_in_the_core_functions(db: Path) -> None:
    from qualkam.agreement.reliability import reliability
    from qualkam.analysis.excerpts import retrieve
    from qualkam.analysis.matrix import build_matrix
    from qualkam.analysis.triangulation import triangulation_table

    with Project.open(db) as project:
        assert set(build_matrix(project, rows="source", sources=["int-b"]).index) == {"int-b"}
        assert set(retrieve(project, sources=["int-b"])["source"]) == {"int-b"}
        assert set(retrieve(project, speakers=["Sarah Collins"])["speaker"]) == {"Sarah Collins"}
        assert triangulation_table(project, phases=["pre_kam"])["sources"].max() == 1
        assert reliability(project, sources=["int-sales"]).overall["n_units"] < reliability(project).overall["n_units"]


# -- formats, --version ------------------------------------------------------------------------
def test_version(runner: CliRunner) -> None:
    result = _ok(runner, "--version")
    assert result.stdout.strip() == f"qualkam {__version__}"


@pytest.mark.parametrize(
    "command",
    [
        ("matrix",),
        ("triangulate",),
        ("excerpts",),
        ("search", "trust"),
        ("reliability",),
        ("disagreements",),
        ("memo", "list"),
        ("audit",),
        ("evaluate",),
        ("agreement", "x.csv"),
        ("train",),
        ("codebook", "lint"),
    ],
)
def test_every_data_command_has_format_and_f(runner: CliRunner, command: tuple) -> None:
    text = " ".join(_ok(runner, *command, "--help").output.split())
    assert "--format" in text and "-f" in text


def test_agreement_categories_are_a_repeated_option(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "r.csv"
    data.write_text("unit,coder,value\n1,a,lo\n1,b,hi\n2,a,mid\n2,b,mid\n3,a,hi\n3,b,hi\n", encoding="utf-8")
    common = ("agreement", data, "--level", "ordinal", "-f", "json")
    repeated = json.loads(_ok(runner, *common, "--category", "lo", "--category", "mid", "--category", "hi").stdout)
    comma = json.loads(_ok(runner, *common, "--categories", "lo,mid,hi").stdout)
    reverse = json.loads(_ok(runner, *common, "--category", "mid", "--category", "lo", "--category", "hi").stdout)
    assert repeated == comma != reverse, "the order given is the ordinal scale"


def test_memo_list_and_audit_take_the_format_from_out(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    _ok(runner, "memo", "add", "first", "--coder", "ana", "--project", db)
    for command in (("memo", "list"), ("audit",)):
        out = tmp_path / f"{command[0]}.json"
        _ok(runner, *command, "--out", out, "--project", db)
        assert json.loads(out.read_text(encoding="utf-8"))


# -- memos ---------------------------------------------------------------------------------------
def test_memos_are_edited_and_deleted_with_an_audit_trail(runner: CliRunner, db: Path) -> None:
    _ok(runner, "memo", "add", "first words", "--coder", "ana", "--project", db)
    memos = json.loads(_ok(runner, "memo", "list", "-f", "json", "--project", db).stdout)
    memo_id = memos[0]["id"]
    _ok(runner, "memo", "edit", memo_id, "better words", "--coder", "ben", "--project", db)
    memos = json.loads(_ok(runner, "memo", "list", "-f", "json", "--project", db).stdout)
    assert [m["memo"] for m in memos] == ["better words"]
    _ok(runner, "memo", "delete", memo_id, "--project", db)
    assert "no memos" in _ok(runner, "memo", "list", "--project", db).output
    with Project.open(db) as project:
        trail = [
            (r[0], r[1], json.loads(r[2])["text"], r[3])
            for r in records(audit_table(project), ["actor", "action", "before", "after"])
            if r[1] in ("edit memo", "delete memo")
        ]
    assert trail[0][:3] == ("ben", "edit memo", "first words") and "better words" in trail[0][3]
    assert trail[1][:3] == ("ana", "delete memo", "better words") and trail[1][3] is None
    assert "did you mean" in _bad(runner, "memo", "edit", "99", "x", "--project", db) or "choose from" in _bad(
        runner, "memo", "edit", "99", "x", "--project", db
    )


def test_a_memo_on_a_coded_sheet_row_is_listed_and_editable(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    sheet = tmp_path / "dora.xlsx"
    _ok(runner, "sheet", "export", "--coder", "dora", "--out", sheet, "--project", db)
    book = load_workbook(sheet)
    rows = book["segments"]
    header = [c.value for c in rows[1]]
    row = next(r for r in rows.iter_rows(min_row=2) if "trust each other. Gut" in str(r[header.index("text")].value))
    row[header.index("codes")].value = "soft_control"
    row[header.index("memo")].value = "says trust, means habit"
    book.save(sheet)
    _ok(runner, "import", "codings", sheet, "--coder", "dora", "--project", db)
    memos = json.loads(_ok(runner, "memo", "list", "--coder", "dora", "-f", "json", "--project", db).stdout)
    assert [(m["memo"], m["target_type"]) for m in memos] == [("says trust, means habit", "coding")]
    _ok(runner, "memo", "edit", memos[0]["id"], "means habit", "--project", db)
    with Project.open(db) as project:
        assert coding_memo_table(project, coder="dora")["memo"].iloc[0] == "means habit"


# -- project merge --prefer -----------------------------------------------------------------------
def _conflict(db: Path) -> tuple[Path, int]:
    from qualkam.coding.blind import clone_for

    with Project.open(db) as project:
        other = clone_for(project, "ana", db.with_name("ana.db"))
        table = codings(project, "all").sort_values("coding")
        first = table[table["coder"] == "ana"].iloc[0]
        seg, code = int(first["segment"]), str(first["code"])
    with Project.open(other) as project:
        decide(project, "ana", seg, code, "reject")
    return other, seg


def _status(db: Path, seg: int) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT status FROM codings WHERE coder = 'ana' AND segment_id = ? ORDER BY id", (seg,)
        ).fetchone()[0]


def test_merge_prefer_settles_conflicts(runner: CliRunner, db: Path) -> None:
    other, seg = _conflict(db)
    plain = run_cli(runner, "project", "merge", other, "--project", db)
    assert plain.exit_code == 1 and "--prefer mine or --prefer theirs" in plain.output
    assert _status(db, seg) == "accepted"
    mine = _ok(runner, "project", "merge", other, "--prefer", "mine", "--project", db)
    assert "1 settled" in mine.output and _status(db, seg) == "accepted"
    theirs = _ok(runner, "project", "merge", other, "--prefer", "theirs", "--project", db)
    assert "1 settled" in theirs.output and _status(db, seg) == "rejected"
    with Project.open(db) as project:
        audit = audit_table(project, actor="ana")
        assert audit[audit["action"] == "reject"]["note"].iloc[-1].endswith("--prefer theirs")
    again = _ok(runner, "project", "merge", other, "--project", db)
    assert "0 conflict(s)" in again.output


# -- the review screen fits 80x24 -----------------------------------------------------------------
def _screen(panel) -> list[str]:
    console = Console(width=80, height=24, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(panel)
    return console.export_text().splitlines()


def test_review_screen_fits_80x24_and_pages_long_segments(db: Path) -> None:
    from qualkam.cli.review import _render
    from qualkam.coding.review import Filters, build_queue, view

    long_text = " ".join(f"word{i}" for i in range(1500)) + " we had to follow the procedure."
    with Project.open(db) as project:
        item = build_queue(project, "cy", Filters())[0]
        v = view(project, "cy", item)
        v.text = long_text
        v.suggestions = v.suggestions * 12
        first, pages = _render(v, 0, 5, 0, width=80, height=24)
        assert pages > 3
        seen = []
        for page in range(pages):
            lines = _screen(_render(v, 0, 5, page, width=80, height=24)[0])
            assert len(lines) <= 23 and max(len(line) for line in lines) <= 80
            assert lines[0].startswith("╭") and f"1/5 · {v.source}" in lines[0], "the header stays"
            assert any(f"page {page + 1} of {pages}" in line for line in lines)
            assert any("▶" in line for line in lines), "the current suggestion is always shown"
            seen += [w for line in lines for w in line.split() if w.startswith("word")]
        assert {f"word{i}" for i in range(1500)} <= set(seen), "every word is on some page"


def test_review_pages_with_n_and_p(runner: CliRunner, db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE segments SET text = ? WHERE id = (SELECT MIN(segment_id) FROM codings)",
            (" ".join(f"word{i}" for i in range(2000)),),
        )
    result = runner.invoke(app, ["review", "--coder", "cy", "--project", str(db)], input="n\nn\np\nq\n")
    assert result.exit_code == 0, result.output
    assert "page 2 of" in result.output and "page 3 of" in result.output
