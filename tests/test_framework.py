"""Framework matrices (issue 16, point 4): cases x themes, a summary per cell linked to the
excerpts behind it; the XLSX round trip, HTML, the CLI and the notebook API."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

import qualkam
from qualkam.analysis.excerpts import retrieve
from qualkam.analysis.framework import build_framework, framework_frame, references_frame, set_summary
from qualkam.coding.codebook import load_codebook
from qualkam.coding.run import code_folder
from qualkam.errors import InputError, QualkamError
from qualkam.interchange.framework import (
    import_framework_xlsx,
    is_reference_list,
    read_framework_xlsx,
    write_framework_xlsx,
)
from qualkam.render.framework import framework_html
from qualkam.store.project import Project

from .conftest import INTERVIEW, ROOT, SHARED, SMALL_CODEBOOK, needs_shared, run_cli, write

MEETING = """\
---
id: meeting-1
type: meeting
date: 2011-05-02
participants:
  Sarah Collins: {role: Managing Director, unit: KAM}
  Tom: {name: Tom Whitfield, role: Sales Manager}
---
Sarah Collins: We follow the procedure now, every sales target is reviewed.
Tom Whitfield: I trust each other more than the reporting line.
Tom Whitfield: Nothing to code here at all.
"""


@pytest.fixture
def coded(tmp_path: Path, small_codebook, project: Project) -> Project:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "meeting.md", MEETING)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    return project


def _whole_text(project: Project) -> str:
    from qualkam.store.segments import segments

    return "\n".join(segments(project)["text"])


def _audit(project: Project) -> list[tuple[str, str, str]]:
    from qualkam.store.audit import audit_table

    frame = audit_table(project)
    frame = frame[frame["entity"] == "framework cell"]
    return list(zip(frame["actor"], frame["action"], frame["entity_id"], strict=True))


# -- the framework itself ------------------------------------------------------------------------
def test_cases_by_codes_with_references_from_the_layer(coded: Project) -> None:
    fw = build_framework(coded)
    assert list(fw.cases) == ["sarah collins", "tom whitfield"]
    assert fw.cases["sarah collins"] == "Sarah Collins"
    # the parent 'control' is coded with nothing: no column; both leaves are, even if empty
    assert fw.themes == ["hard_control", "soft_control"]
    excerpts = retrieve(coded, speakers=["Tom Whitfield"], codes=["soft_control"])
    refs = fw.references[("tom whitfield", "soft_control")]
    assert [(r["source"], r["segment"], r["start"], r["end"]) for r in refs] == [
        (r.source, int(r.segment), int(r.start), int(r.end)) for r in excerpts.itertuples()
    ]
    assert refs and all("trust each other" in r["text"] for r in refs)
    # Sarah speaks in both sources; her hard-control cell lists both, the source's segments in order
    text = fw.reference_text("sarah collins", "hard_control")
    assert text.startswith("int-sales #") and "; meeting-1 #" in text
    assert fw.cell_text("tom whitfield", "hard_control") == fw.reference_text("tom whitfield", "hard_control")
    assert is_reference_list(text)
    frame = framework_frame(fw, "summary")
    assert frame.shape == (2, 2) and (frame == "").all().all()
    refs_frame = references_frame(fw)
    assert set(refs_frame["case"]) == {"Sarah Collins", "Tom Whitfield"}
    assert len(refs_frame) == sum(len(v) for v in fw.references.values())


def test_sources_as_cases_and_code_groups_as_themes(coded: Project) -> None:
    fw = build_framework(coded, cases="source", themes="attr:pole")
    assert list(fw.cases) == ["int-sales", "meeting-1"]
    assert fw.themes == ["formal", "post_bureaucratic"]
    # the interviewer's question about "sales targets" counts for the source, not for a participant
    by_source = {r["speaker"] for r in fw.references[("int-sales", "formal")]}
    assert "I" in by_source
    with pytest.raises(QualkamError, match="code attribute") as caught:
        build_framework(coded, themes="attr:colour")
    assert caught.value.argument == "themes"
    with pytest.raises(QualkamError) as caught:
        build_framework(coded, cases="speaker")
    assert caught.value.argument == "cases"


def test_summaries_are_stored_audited_and_cleared(coded: Project) -> None:
    assert set_summary(coded, "sarah collins", "hard_control", "  Procedures and targets.  ", "ana")
    assert not set_summary(coded, "Sarah Collins", "HARD_CONTROL", "Procedures and targets.", "ana")
    fw = build_framework(coded)
    assert fw.summary("sarah collins", "hard_control") == "Procedures and targets."
    assert fw.summaries[("sarah collins", "hard_control")]["author"] == "ana"
    assert fw.cell_text("sarah collins", "hard_control") == "Procedures and targets."
    # a framework by source is another framework: its cells are its own
    assert build_framework(coded, cases="source").summaries == {}
    assert set_summary(coded, "Sarah Collins", "hard_control", "", "ben")
    assert build_framework(coded).summaries == {}
    assert _audit(coded) == [
        ("ana", "summarise", "default/case:sarah collins/hard_control"),
        ("ben", "clear summary", "default/case:sarah collins/hard_control"),
    ]
    with pytest.raises(QualkamError, match="Nobody") as caught:
        set_summary(coded, "Nobody", "hard_control", "x", "ana")
    assert caught.value.argument == "case"
    with pytest.raises(QualkamError) as caught:
        set_summary(coded, "Tom Whitfield", "nothing", "x", "ana")
    assert caught.value.argument == "theme"
    with pytest.raises(QualkamError) as caught:
        set_summary(coded, "Tom Whitfield", "soft_control", "x", " ")
    assert caught.value.argument == "author"


# -- the XLSX round trip -------------------------------------------------------------------------
def _fill(path: Path, cells: dict[str, object]) -> None:
    """What a researcher does in Excel: type into cells (text, never a formula)."""
    book = load_workbook(path)
    sheet = book["framework"]
    for ref, value in cells.items():
        sheet[ref].value = value
        if isinstance(value, str):
            sheet[ref].data_type = "s"  # typed as text, as Excel stores '=... or a plain sentence
    book.save(path)


def test_xlsx_round_trip(coded: Project, tmp_path: Path) -> None:
    path = write_framework_xlsx(build_framework(coded), tmp_path / "fw.xlsx")
    book = load_workbook(path)
    sheet = book["framework"]
    assert [c.value for c in sheet[1]] == ["case", "hard_control", "soft_control"]
    assert sheet["A2"].value == "Sarah Collins" and sheet["B2"].value.startswith("int-sales #")
    refs = book["references"]
    header = [c.value for c in refs[1]]
    assert header[:4] == ["case", "theme", "source", "segment"]
    assert any("trust each other" in str(c.value) for c in refs["I"])
    _fill(path, {"B2": "Follows procedure; targets reviewed.", "C3": "=trust over hierarchy"})
    report = import_framework_xlsx(coded, path, "ana")
    assert (report.summaries, report.changed, report.cleared) == (2, 2, 0)
    fw = build_framework(coded)
    assert fw.summary("sarah collins", "hard_control") == "Follows procedure; targets reviewed."
    assert fw.summary("tom whitfield", "soft_control") == "=trust over hierarchy"
    assert fw.summary("tom whitfield", "hard_control") == ""  # its references stayed references
    # exported again, the formula-like summary is neutralised and reads back unchanged
    again = write_framework_xlsx(fw, tmp_path / "again.xlsx")
    assert load_workbook(again)["framework"]["C3"].value == "'=trust over hierarchy"
    assert import_framework_xlsx(coded, again, "ana").changed == 0
    # emptying a summary's cell clears it; the others stay
    _fill(again, {"B2": None})
    report = import_framework_xlsx(coded, again, "ben")
    assert (report.changed, report.cleared) == (1, 1)
    assert list(build_framework(coded).summaries) == [("tom whitfield", "soft_control")]


def test_hostile_names_are_neutralised_in_the_workbook(coded: Project, tmp_path: Path) -> None:
    set_summary(coded, "Tom Whitfield", "hard_control", "@SUM(A1)", "ana")
    fw = build_framework(coded, cases="source")
    fw.cases["meeting-1"] = '=HYPERLINK("x")'  # a source a stranger named
    path = write_framework_xlsx(fw, tmp_path / "fw.xlsx")
    sheet = load_workbook(path)["framework"]
    assert sheet["A3"].value == '\'=HYPERLINK("x")'
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_import_is_all_or_nothing_with_one_line_errors(coded: Project, tmp_path: Path) -> None:
    path = write_framework_xlsx(build_framework(coded), tmp_path / "fw.xlsx")
    cases = [
        ({"A3": "Nobody Here", "B2": "good"}, "cell A3: 'Nobody Here' is no case"),
        ({"C1": "trust", "B2": "good"}, "cell C1: 'trust' is no theme"),
        ({"D2": "stray", "B2": "good"}, "cell D2 is in a column without a theme"),
        ({"A3": "sarah collins", "B2": "good"}, "cell A3: 'sarah collins' was row 2 already"),
    ]
    for cells, message in cases:
        broken = tmp_path / "broken.xlsx"
        broken.write_bytes(path.read_bytes())
        _fill(broken, cells)
        with pytest.raises(InputError, match=message) as caught:
            import_framework_xlsx(coded, broken, "ana")
        assert "\n" not in str(caught.value)
        assert build_framework(coded).summaries == {}, message
    formula = tmp_path / "formula.xlsx"
    formula.write_bytes(path.read_bytes())
    book = load_workbook(formula)
    book["framework"]["C2"] = "=1+2"  # a formula Excel would run
    book["framework"]["B2"] = "good"
    book.save(formula)
    with pytest.raises(InputError, match="cell C2 of sheet 'framework' holds a formula"):
        import_framework_xlsx(coded, formula, "ana")
    book = load_workbook(path)
    del book["about"]
    book.save(tmp_path / "no-about.xlsx")
    with pytest.raises(InputError, match="no sheet 'about'"):
        import_framework_xlsx(coded, tmp_path / "no-about.xlsx", "ana")
    (tmp_path / "junk.xlsx").write_text("not a workbook")
    with pytest.raises(InputError, match="not a readable XLSX"):
        import_framework_xlsx(coded, tmp_path / "junk.xlsx", "ana")
    assert _audit(coded) == []


# what a cell can hold (XLSX has no control characters; a spreadsheet program drops them)
_CELL_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60) | st.sampled_from(
    ["int-sales #1, #2", "=1+2", "'=x", "@home", "-", "  spaced  ", "line\nbreak"]
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_CELL_TEXT, min_size=4, max_size=4))
def test_reader_reads_back_what_a_researcher_types(coded: Project, texts: list[str]) -> None:
    """Any text typed into the four cells is a summary exactly when it is not blank and not just
    references; the import never fails on it, and reads back what a spreadsheet keeps."""
    from qualkam.interchange.sheets import comparable
    from qualkam.render.cells import restore

    with tempfile.TemporaryDirectory() as folder:
        fw = build_framework(coded, name="prop")
        path = write_framework_xlsx(fw, Path(folder) / "fw.xlsx")
        refs = ["B2", "C2", "B3", "C3"]
        keys = [(c, t) for c in fw.cases for t in fw.themes]
        _fill(path, dict(zip(refs, texts, strict=True)))
        _, changes, _ = read_framework_xlsx(coded, path)
        import_framework_xlsx(coded, path, "prop")
        stored = build_framework(coded, name="prop")
        for key, text in zip(keys, texts, strict=True):
            typed = comparable(restore(text))  # a leading ' before =, +, -, @ is Excel's mark of text
            before = fw.summary(*key)
            if typed and not (not before and is_reference_list(typed)) and typed != comparable(fw.reference_text(*key)):
                assert stored.summary(*key) == typed
            elif not typed:
                assert stored.summary(*key) == ""
            else:
                assert stored.summary(*key) == before
        # reading what was just written finds nothing to change
        again = write_framework_xlsx(stored, Path(folder) / "again.xlsx")
        assert read_framework_xlsx(coded, again)[1] == {}
        assert changes is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int-06 #12, #14", True),
        ("int-06 #12, #14; steering-02 #3", True),
        ("int-06 #12,#14;steering-02 #3", True),
        ("see int-06 #12", False),
        ("Trust matters (int-06 #12)", False),
        ("#12", False),
        ("", False),
    ],
)
def test_reference_lists(text: str, expected: bool) -> None:
    assert is_reference_list(text) is expected


# -- HTML, CLI, API ------------------------------------------------------------------------------
def test_html_escapes_summaries_and_quotes(coded: Project) -> None:
    set_summary(coded, "Tom Whitfield", "soft_control", "<script>alert(1)</script> & trust", "ana")
    page = framework_html(build_framework(coded))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; trust" in page
    assert "<blockquote>" in page and "trust each other" in page
    assert "http" not in page  # nothing from outside


def test_cli_export_import_show(coded: Project, tmp_path: Path, runner) -> None:
    db = coded.path
    coded.close()
    out = tmp_path / "fw.xlsx"
    result = run_cli(runner, "framework", "export", "--out", out, "--project", db)
    assert result.exit_code == 0, result.output
    assert "2 case(s) x 2 theme(s), 0 summaries" in result.output
    _fill(out, {"C3": "Trust over hierarchy."})
    result = run_cli(runner, "framework", "import", out, "--author", "ana", "--project", db)
    assert result.exit_code == 0, result.output
    assert "1 summary cell(s)" in result.output and "1 changed" in result.output
    result = run_cli(runner, "framework", "show", "--format", "csv", "--project", db)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "case,hard_control,soft_control"
    assert lines[2].startswith("Tom Whitfield,meeting-1 #") and lines[2].endswith(",Trust over hierarchy.")
    html = tmp_path / "fw.html"
    result = run_cli(runner, "framework", "export", "--out", html, "--project", db)
    assert result.exit_code == 0 and "Trust over hierarchy." in html.read_text()
    result = run_cli(runner, "framework", "set", "Tom Whitfield", "soft_control", "", "--author", "ana", "-p", db)
    assert result.exit_code == 0 and "cleared" in result.output
    result = run_cli(runner, "framework", "export", "--out", tmp_path / "fw.pdf", "--project", db)
    assert result.exit_code != 0 and ".xlsx or .html" in result.output
    result = run_cli(runner, "framework", "show", "--themes", "attr:nope", "--project", db)
    assert result.exit_code != 0 and "--themes" in result.output


def test_notebook_api(coded: Project) -> None:
    db = coded.path
    coded.close()
    with qualkam.open(db) as view:
        assert view.set_framework_summary("Sarah Collins", "formal", "Rules.", "ana", themes="attr:pole")
        frame = view.framework(themes="attr:pole")
        assert frame.loc["Sarah Collins", "formal"] == "Rules."
        assert frame.index.name == "case" and list(frame.columns) == ["formal", "post_bureaucratic"]
        cells = view.framework(themes="attr:pole", what="cell")
        assert cells.loc["Tom Whitfield", "post_bureaucratic"].startswith("meeting-1 #")
        refs = view.framework_references(cases="source")
        assert set(refs["case"]) == {"int-sales", "meeting-1"}


# -- the sample project and a real corpus --------------------------------------------------------
@pytest.mark.slow
def test_sample_project_framework(tmp_path: Path) -> None:
    with Project.open(tmp_path / "sample.db", create=True) as project:
        code_folder(ROOT / "sample_transcripts", load_codebook("kam"), project, out_dir=None)
        fw = build_framework(project, themes="attr:pole")
        assert {"Priya Nair", "Hiroshi Nakamura"} <= set(fw.cases.values())
        assert "I" not in fw.cases and "R" not in fw.cases
        refs = references_frame(fw)
        excerpts = retrieve(project, speakers=["Priya Nair"])
        priya = refs[refs["case"] == "Priya Nair"]
        assert 0 < len(priya) <= len(excerpts)
        path = write_framework_xlsx(fw, tmp_path / "fw.xlsx")
        book = load_workbook(path)
        rows = {r[0].value: r for r in book["framework"].iter_rows(min_row=2)}
        rows["Priya Nair"][1].value = "Frames KAM as reporting and targets."
        book.save(path)
        assert import_framework_xlsx(project, path, "ana").changed == 1
        page = framework_html(build_framework(project, themes="attr:pole"))
        assert "Frames KAM as reporting and targets." in page


@needs_shared
@pytest.mark.shared
@pytest.mark.slow
def test_zoom_meeting_framework(tmp_path: Path) -> None:
    meeting = SHARED / "corpora" / "zoom-meetings" / "focil" / "2026-04-07_032"
    folder = tmp_path / "zoom"
    folder.mkdir()
    (folder / "transcript.vtt").write_bytes((meeting / "transcript.vtt").read_bytes())
    write(tmp_path / "small.yaml", SMALL_CODEBOOK)
    with Project.open(tmp_path / "zoom.db", create=True) as project:
        code_folder(folder, load_codebook(str(tmp_path / "small.yaml")), project, out_dir=None)
        from qualkam.coding.decisions import decide
        from qualkam.store.segments import segments

        spoken = segments(project)
        coded_by_hand = spoken.groupby("speaker").head(2)  # a researcher codes each speaker's first two turns
        for row in coded_by_hand.itertuples():
            decide(project, "ana", int(row.segment), "soft_control", "add")
        fw = build_framework(project, layer="all")
        for key, name in fw.cases.items():
            mine = coded_by_hand[coded_by_hand["speaker"].str.casefold() == key]
            assert [r["segment"] for r in fw.references[(key, "soft_control")]] == sorted(mine["segment"]), name
        assert len(fw.cases) == 4 and fw.references  # PROVENANCE.md: 4 speakers
        by_source = build_framework(project, cases="source", layer="all")
        (source,) = by_source.cases  # one source; every excerpt of the four speakers is behind its cells
        assert sum(len(v) for v in by_source.references.values()) >= sum(len(v) for v in fw.references.values())
        refs = references_frame(by_source)
        assert set(refs["source"]) == {source} and len(refs) > 0
        assert all(text in project_text for text in refs["text"]) if (project_text := _whole_text(project)) else False
        first = next(iter(fw.cases))
        path = write_framework_xlsx(fw, tmp_path / "zoom.xlsx")
        book = load_workbook(path)
        book["framework"]["B2"] = "A first summary."
        book.save(path)
        assert import_framework_xlsx(project, path, "ana").changed == 1
        assert build_framework(project, layer="all").summary(first, fw.themes[0]) == "A first summary."


# -- the workspace -------------------------------------------------------------------------------
TOKEN = "test-token-" + "f" * 32


def _client(db: Path, coder: str | None = None, blind: bool = False):
    from starlette.testclient import TestClient

    from qualkam.web.app import create_app

    app = create_app(db, coder=coder, blind=blind, token=TOKEN)
    return TestClient(app, base_url="http://127.0.0.1:8765", headers={"X-Qualkam-Token": TOKEN})


def test_workspace_page_and_api(coded: Project) -> None:
    set_summary(coded, "Tom Whitfield", "soft_control", '<b>trust</b> & "care"', "ana")
    db = coded.path
    coded.close()
    client = _client(db)
    page = client.get("/framework")
    assert page.status_code == 200, page.text
    assert "&lt;b&gt;trust&lt;/b&gt; &amp; &#34;care&#34;" in page.text and "<b>trust</b>" not in page.text
    assert 'data-case="tom whitfield" data-theme="soft_control"' in page.text
    assert "trust each other" in page.text and "/static/framework.js" in page.text
    assert 'href="/framework"' in page.text
    grouped = client.get("/framework", params={"cases": "source", "themes": "attr:pole"})
    assert grouped.status_code == 200 and "post_bureaucratic" in grouped.text and "meeting-1" in grouped.text
    assert client.get("/framework", params={"themes": "attr:nope"}).status_code == 400
    body = {"case": "Sarah Collins", "theme": "hard_control", "summary": " Rules first. ", "coder": "ben"}
    answer = client.post("/api/framework", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"summary": "Rules first.", "author": "ben", "changed": True}
    assert client.post("/api/framework", json=body).json()["changed"] is False
    assert client.post("/api/framework", json={**body, "case": "Nobody"}).status_code in (400, 404)
    assert client.post("/api/framework", json={**body, "summary": 3}).status_code == 422
    assert client.post("/api/framework", json={k: v for k, v in body.items() if k != "coder"}).status_code == 400
    with Project.open(db) as project:
        assert build_framework(project).summary("sarah collins", "hard_control") == "Rules first."
    from starlette.testclient import TestClient

    from qualkam.web.app import create_app

    stranger = TestClient(create_app(db, token=TOKEN), base_url="http://127.0.0.1:8765")
    assert stranger.post("/api/framework", json=body).status_code == 403  # no token
    js = (ROOT / "qualkam" / "web" / "static" / "framework.js").read_text()
    assert "innerHTML" not in js and "textContent" in js


def test_workspace_framework_is_closed_to_a_blind_session(coded: Project) -> None:
    db = coded.path
    coded.close()
    client = _client(db, coder="ana", blind=True)
    assert client.get("/framework").status_code == 403
    body = {"case": "Sarah Collins", "theme": "hard_control", "summary": "x"}
    assert client.post("/api/framework", json=body).status_code == 403
    # a session with a coder writes as that coder, never as another
    client = _client(db, coder="ana")
    assert client.post("/api/framework", json={**body, "coder": "ben"}).status_code == 403
    assert client.post("/api/framework", json=body).json()["author"] == "ana"
