"""Cases (issue 16, point 7): participants as cases with their own attributes across sources;
matrices and excerpts by case attribute; the cases file; REFI-QDA Cases."""

from __future__ import annotations

import csv
import io
import json
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import qualkam
from qualkam.analysis.cases import cases_frame, import_cases, parse_case_filter, parse_cases
from qualkam.analysis.excerpts import retrieve
from qualkam.analysis.matrix import build_matrix
from qualkam.coding.codebook import load_codebook
from qualkam.coding.run import code_folder
from qualkam.errors import InputError, QualkamError
from qualkam.store.project import Project
from qualkam.store.segments import SegmentFilter, codings

from .conftest import INTERVIEW, ROOT, SHARED, needs_shared, run_cli, said, write

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
Tom: I trust each other more than the reporting line.
"""

CASES_YAML = """\
Sarah Collins: {site: Leeds, tenure: 12}
tom whitfield: {site: York}
Nobody Here: {site: Leeds}
"""


def _records(frame) -> list[tuple]:
    return [tuple(None if v != v else v for v in row) for row in frame.itertuples(index=False)]  # NaN -> None


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "meeting.md", MEETING)
    write(tmp_path / "src" / "cases.yaml", CASES_YAML)
    return tmp_path / "src"


@pytest.fixture
def coded(folder: Path, small_codebook, project: Project) -> Project:
    report = code_folder(folder, small_codebook, project, out_dir=None)
    assert report.files == 2, "the cases file is not a source"
    return project


def test_case_table_merges_participants_across_sources(coded: Project) -> None:
    frame = cases_frame(coded)
    assert list(frame.columns) == [
        "case",
        "sources",
        "segments",
        "source_ids",
        "role",
        "unit",
        "site",
        "tenure",
        "origin",
    ]
    rows = {r.case: r for r in frame.itertuples()}
    # "I" is a shorthand label, no case; Sarah speaks in both sources with two roles
    assert sorted(rows) == ["Nobody Here", "Sarah Collins", "tom whitfield"]
    sarah = rows["Sarah Collins"]
    assert (sarah.sources, sarah.source_ids, sarah.role, sarah.unit, sarah.site, sarah.tenure) == (
        2,
        "int-sales, meeting-1",
        "Sales Director; Managing Director",
        "KAM",
        "Leeds",
        12,
    )
    from qualkam.store.segments import segments

    assert sarah.segments == len(segments(coded, SegmentFilter(speakers=["Sarah Collins"])))
    assert (rows["tom whitfield"].site, rows["tom whitfield"].role, rows["tom whitfield"].segments) == (
        "York",
        "Sales Manager",
        1,
    )
    assert (rows["Nobody Here"].sources, rows["Nobody Here"].segments) == (0, 0)
    assert rows["Sarah Collins"].origin.endswith("cases.yaml")


def test_a_rerun_with_the_same_cases_file_changes_nothing(coded: Project, folder: Path) -> None:
    assert import_cases(coded, folder / "cases.yaml") == (3, 0)
    (folder / "more.csv").write_text("case,site\nSarah Collins,Bradford\n", encoding="utf-8")
    assert import_cases(coded, folder / "more.csv") == (1, 1)
    row = cases_frame(coded).set_index("case").loc["Sarah Collins"]
    assert (row["site"], row["tenure"]) == ("Bradford", 12), "a value given replaces; others stay"


def test_matrix_rows_by_case_attribute(coded: Project) -> None:
    by_site = build_matrix(coded, rows="case:site", layer="suggestions")
    # independent count: suggestions on segments spoken by each site's people
    frame = codings(coded, "suggestions")
    leeds = frame[frame["speaker"] == "Sarah Collins"]
    york = frame[frame["speaker"] == "Tom Whitfield"]
    assert by_site.loc["Leeds"].sum() == len(leeds.drop_duplicates(["segment", "code"]))
    assert by_site.loc["York"].sum() == len(york.drop_duplicates(["segment", "code"]))
    assert list(by_site.index) == ["Leeds", "York", "(none)"]
    by_case = build_matrix(coded, rows="case", layer="suggestions")
    assert "Sarah Collins" in by_case.index and "I" not in by_case.index
    share = build_matrix(coded, rows="case:site", layer="suggestions", value="share")
    assert 0 < share.loc["Leeds"].max() <= 1
    with pytest.raises(QualkamError, match=r"unknown case attribute 'sight'.*did you mean 'site'"):
        build_matrix(coded, rows="case:sight")


def test_case_filters_for_matrix_and_excerpts(coded: Project) -> None:
    only_york = build_matrix(coded, rows="case", layer="suggestions", cases=["site=york"])
    assert list(only_york.index) == ["tom whitfield"]
    excerpts = retrieve(coded, layer="suggestions", cases=["site=Leeds", "site=York"])
    assert set(excerpts["speaker"]) == {"Sarah Collins", "Tom Whitfield"}
    assert set(retrieve(coded, layer="suggestions", cases=["role=Managing Director"])["speaker"]) == {"Sarah Collins"}
    with pytest.raises(QualkamError, match="no case has that"):
        retrieve(coded, cases=["site=Hull"])
    with pytest.raises(QualkamError, match="speak"):
        retrieve(coded, cases=["Nobody Here"])
    with pytest.raises(QualkamError, match="none of them among the speakers"):
        retrieve(coded, cases=["site=York"], speakers=["Sarah Collins"])


def test_queries_by_case_attribute(coded: Project, runner) -> None:
    """A query scoped by a case attribute (``case:site=Leeds``) or a case, and counted by one,
    agrees with the matrix by the same rows and with the speakers of those cases."""
    from qualkam.analysis.query import count_by, run_query

    every = run_query(coded, "hard_control OR soft_control", layer="suggestions")
    counts = count_by(coded, every, "case:site").set_index("case:site")
    frame = codings(coded, "suggestions")
    hit = frame[frame["code"].isin(["hard_control", "soft_control"])]
    for site, speaker in (("Leeds", "Sarah Collins"), ("York", "Tom Whitfield")):
        assert counts.loc[site, "segments"] == hit[hit["speaker"] == speaker]["segment"].nunique()
        assert counts.loc[site, "all_segments"] == len(segments_of(coded, speaker))
    assert counts.loc["Leeds", "segments"] > 0 and counts.loc["York", "segments"] > 0
    leeds = run_query(coded, "hard_control OR soft_control", where=["case:Site=leeds"], layer="suggestions")
    assert len(leeds.segment_ids) == counts.loc["Leeds", "segments"]
    assert set(leeds.scope.frame["speaker"]) == {"Sarah Collins"}
    one = run_query(coded, "hard_control OR soft_control", where={"case": "tom whitfield"}, layer="suggestions")
    assert len(one.segment_ids) == counts.loc["York", "segments"]
    by_case = count_by(coded, every, "case").set_index("case")
    assert by_case.loc["Sarah Collins", "segments"] == counts.loc["Leeds", "segments"]
    with pytest.raises(QualkamError, match=r"unknown case attribute 'sight' in where.*did you mean 'site'"):
        run_query(coded, "hard_control", where=["case:sight=Leeds"])
    with pytest.raises(QualkamError, match=r"unknown case:site 'Hull'"):
        run_query(coded, "hard_control", where=["case:site=Hull"])
    with pytest.raises(QualkamError, match=r"unknown case attribute 'sight' in count_by"):
        count_by(coded, every, "case:sight")
    done = run_cli(
        runner,
        "query",
        "hard_control OR soft_control",
        "--from",
        "suggestions",
        "--where",
        "case:site=York",
        "--count-by",
        "case:site",
        "-f",
        "csv",
        "-p",
        coded.path,
    )
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[1].startswith(f"York,{counts.loc['York', 'segments']},")
    with qualkam.open(coded.path) as view:
        api = view.query(
            "hard_control OR soft_control", where={"case:site": "Leeds"}, layer="suggestions", count_by="case"
        )
    assert api.set_index("case").loc["Sarah Collins", "segments"] == counts.loc["Leeds", "segments"]


def segments_of(project: Project, speaker: str) -> list[int]:
    from qualkam.store.segments import segments

    frame = segments(project)
    return frame[frame["speaker"] == speaker]["segment"].tolist()


def test_cli_cases_list_import_matrix_excerpts(runner, coded: Project, tmp_path: Path) -> None:
    db = str(coded.path)
    result = run_cli(runner, "cases", "list", "-p", db, "--format", "json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [c["case"] for c in listed] == ["Nobody Here", "Sarah Collins", "tom whitfield"]
    bad = tmp_path / "bad.csv"
    bad.write_text("who,site\nAna,Leeds\n", encoding="utf-8")
    result = run_cli(runner, "cases", "import", bad, "-p", db)
    assert result.exit_code != 0
    assert "line 1: no 'case' (or 'name') column" in said(result.output)
    result = run_cli(runner, "matrix", "--rows", "case:site", "--from", "suggestions", "-p", db, "-f", "csv")
    assert result.exit_code == 0, result.output
    assert [line.split(",")[0] for line in result.output.splitlines()] == ["case:site", "Leeds", "York", "(none)"]
    result = run_cli(runner, "excerpts", "--case", "site=York", "--from", "suggestions", "-p", db, "-f", "csv")
    assert result.exit_code == 0, result.output
    assert "Tom Whitfield" in result.output and "Sarah Collins" not in result.output
    result = run_cli(runner, "excerpts", "--case", "=York", "-p", db)
    assert result.exit_code != 0
    assert "--case '=York': write ATTRIBUTE=VALUE" in said(result.output)


def test_api_cases(coded: Project) -> None:
    with qualkam.open(coded.path) as view:
        frame = view.cases()
        assert list(frame["case"]) == ["Nobody Here", "Sarah Collins", "tom whitfield"]
        assert view.matrix(rows="case:site", layer="suggestions", cases="site=Leeds").index.tolist() == ["Leeds"]
        assert set(view.excerpts(layer="suggestions", cases=["site=York"])["speaker"]) == {"Tom Whitfield"}


def test_refi_round_trip_keeps_case_attributes(coded: Project, tmp_path: Path) -> None:
    from qualkam.interchange.refi.reader import import_qdpx
    from qualkam.interchange.refi.writer import export_qdpx

    export_qdpx(coded, tmp_path / "out.qdpx", "auto")
    with Project.open(tmp_path / "back.db", create=True) as back:
        import_qdpx(back, tmp_path / "out.qdpx")
        frame = cases_frame(back).set_index("case")
        assert frame.loc["Sarah Collins", "site"] == "Leeds"
        assert frame.loc["Sarah Collins", "tenure"] == 12
        assert frame.loc["Tom Whitfield", "site"] == "York"


def test_a_project_made_before_cases(tmp_path: Path) -> None:
    from .test_codebook_history import _old_project

    _old_project(tmp_path / "old.db", versions=1)
    with Project.open(tmp_path / "old.db") as project:
        assert cases_frame(project).empty  # its one segment has no speaker
        assert import_cases(project, _file(tmp_path, "cases.csv", "name,site\nAna,Leeds\n")) == (1, 1)
        assert cases_frame(project)["case"].tolist() == ["Ana"]


def _file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the cases file: examples ---------------------------------------------------------------------
def test_parse_cases_forms() -> None:
    assert parse_cases("Ana: {site: Leeds, since: 2011-03-01}\nBen:\n", "yaml") == {
        "Ana": {"site": "Leeds", "since": "2011-03-01"},
        "Ben": {},
    }
    assert parse_cases("cases:\n  - {case: Ana, site: Leeds}\n  - {Name: Ben, site: ''}\n", "yaml") == {
        "Ana": {"site": "Leeds"},
        "Ben": {},
    }
    assert parse_cases("\ufeffName,site,tenure\n Ana ,Leeds,3\n\nBen,,\n", "csv") == {
        "Ana": {"site": "Leeds", "tenure": "3"},
        "Ben": {},
    }
    assert parse_cases("", "yaml") == {}


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("site,x\nAna,1\n", "csv", "line 1: no 'case' (or 'name') column"),
        ("case,site\nAna,1\nana,2\n", "csv", "line 3: case 'ana' is given twice (also as 'Ana')"),
        ("case,site\nAna,1,2\n", "csv", "line 2: 3 cells for 2 columns"),
        ("case,,site\nAna,1,2\n", "csv", "column 2 has no name"),
        ("case,site,Site\nAna,1,2\n", "csv", "Site, site given twice"),
        ("case,site\n,Leeds\n", "csv", "line 2: a case needs a name"),
        ("", "csv", "empty"),
        ("Ana: {site: [Leeds, York]}\n", "yaml", "Ana', site: a case attribute is one value"),
        ("Ana: Leeds\n", "yaml", "case 'Ana': give its attributes as a mapping"),
        ("- Ana\n", "yaml", "entry 1: give each case as a mapping"),
        ("- {site: Leeds}\n", "yaml", "entry 1: no 'case' (or 'name') key"),
        ("Ana: {site: Leeds\n", "yaml", "not valid YAML"),
        ("just text\n", "yaml", "maps each person's name to attributes"),
    ],
)
def test_parse_cases_problems(text: str, kind: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_cases(text, kind, "cases.x")
    assert message in str(caught.value)
    assert str(caught.value).startswith("cases.x")


def test_case_filter_examples() -> None:
    assert parse_case_filter(["site=Leeds", "site = York", "Ana", "role=Sales=Director"]) == {
        "site": ["Leeds", "York"],
        "case": ["Ana"],
        "role": ["Sales=Director"],
    }
    for bad in ("=Leeds", "site=", " ", "="):
        with pytest.raises(QualkamError, match="write ATTRIBUTE=VALUE"):
            parse_case_filter([bad])


# -- the cases file: properties -------------------------------------------------------------------
_text = st.text(alphabet=string.ascii_letters + string.digits + " éß-'.,;:\"", min_size=1, max_size=12).map(str.strip)
_names = _text.filter(lambda t: t and t.casefold() not in ("case", "name"))
_tables = st.dictionaries(_names, st.dictionaries(_names, _text.filter(bool), max_size=4), max_size=6).filter(
    lambda d: len({k.casefold() for k in d}) == len(d)
)


def _unique_attributes(table: dict[str, dict[str, str]]) -> bool:
    names = {a for attrs in table.values() for a in attrs}
    return len({n.casefold() for n in names}) == len(names)


@settings(max_examples=200, deadline=None)
@given(_tables.filter(_unique_attributes))
def test_csv_round_trip(table: dict[str, dict[str, str]]) -> None:
    columns = sorted({a for attrs in table.values() for a in attrs})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["case", *columns])
    for name, attrs in table.items():
        writer.writerow([name, *(attrs.get(c, "") for c in columns)])
    assert parse_cases(buffer.getvalue(), "csv") == table


@settings(max_examples=200, deadline=None)
@given(_tables)
def test_yaml_round_trip(table: dict[str, dict[str, str]]) -> None:
    text = yaml.safe_dump(table, allow_unicode=True)
    parsed = parse_cases(text, "yaml")
    assert {k: {a: str(v) for a, v in attrs.items()} for k, attrs in parsed.items()} == table


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["csv", "yaml"]))
def test_any_text_is_cases_or_one_clear_error(text: str, kind: str) -> None:
    try:
        found = parse_cases(text, kind, "cases.file")
    except InputError as exc:
        assert str(exc).startswith("cases.file") and "\n" not in str(exc).split(": ", 1)[0]
        return
    assert all(isinstance(k, str) and k == k.strip() and k for k in found)
    assert len({k.casefold() for k in found}) == len(found)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=5))
def test_case_filter_parses_or_says_how(conditions: list[str]) -> None:
    try:
        parsed = parse_case_filter(conditions)
    except QualkamError as exc:
        assert "write ATTRIBUTE=VALUE" in str(exc)
        return
    assert all(a and a == a.strip() and all(v and v == v.strip() for v in vs) for a, vs in parsed.items())


# -- the sample project and a real corpus -----------------------------------------------------------
@pytest.mark.slow
def test_sample_project_cases(tmp_path: Path) -> None:
    with Project.open(tmp_path / "sample.db", create=True) as project:
        code_folder(ROOT / "sample_transcripts", load_codebook("kam"), project, out_dir=None)
        frame = cases_frame(project).set_index("case")
        from qualkam.store.segments import segments

        spoken = segments(project)
        priya = spoken[spoken["speaker"].str.casefold() == "priya nair"]
        assert frame.loc["Priya Nair", "segments"] == len(priya)
        assert frame.loc["Priya Nair", "sources"] >= priya["source"].nunique()
        assert frame.loc["Hiroshi Nakamura", "unit"] == "non-KAM"
        assert "I" not in frame.index and "R" not in frame.index
        import_cases(
            project, _file(tmp_path, "cases.csv", "case,site\nPriya Nair,Milton Keynes\nGary Monk,Manchester\n")
        )
        matrix = build_matrix(project, rows="case:site", cols="attr:pole")
        auto = codings(project, "auto")
        mine = auto[auto["speaker"].str.casefold().isin(["priya nair"])]
        assert matrix.loc["Milton Keynes"].sum() <= len(mine)
        assert matrix.loc["Milton Keynes"].sum() > 0
        units = build_matrix(project, rows="case:unit")
        assert {"KAM", "non-KAM"} <= set(units.index)


def test_refi_export_has_a_case_for_every_person_who_speaks(coded: Project, tmp_path: Path, small_codebook) -> None:
    """People a source's participants do not list (a plain transcript, a Zoom meeting) are cases
    too, with their attributes; one listed elsewhere stays one case across both sources."""
    from qualkam.interchange.refi.reader import import_qdpx
    from qualkam.interchange.refi.writer import export_qdpx, project_model

    write(
        tmp_path / "more" / "call.md",
        "---\nid: call\n---\nI: Anything new?\n\nTom Whitfield: Nothing.\n\nMia Stone: The procedure again.\n",
    )
    code_folder(tmp_path / "more", small_codebook, coded, out_dir=None)
    import_cases(coded, _file(tmp_path, "more.yaml", "Mia Stone: {site: Hull}\n"))
    export_qdpx(coded, tmp_path / "out.qdpx", "auto")
    exported = project_model(coded, "auto").model
    guids = {s.guid: s.name for s in exported.sources}
    sources = {case.name: sorted(guids[g] for g in case.sources) for case in exported.cases}
    assert sources["Mia Stone"] == ["call"]
    tom = [name for name, where in sources.items() if "call" in where and name.startswith("Tom")]
    assert len(tom) == 1 and sources[tom[0]] == ["call", "meeting-1"]  # one case, both sources
    assert not any("call" in where for name, where in sources.items() if name == "I")  # a shorthand is no person
    with Project.open(tmp_path / "back.db", create=True) as back:
        import_qdpx(back, tmp_path / "out.qdpx")
        frame = cases_frame(back).set_index("case")
    assert frame.loc["Mia Stone", "site"] == "Hull" and frame.loc["Mia Stone", "sources"] == 1
    assert frame.loc["Tom Whitfield", "site"] == "York" and frame.loc["Tom Whitfield", "sources"] == 2


@needs_shared
@pytest.mark.shared
@pytest.mark.slow
def test_zoom_meeting_speakers_are_cases(tmp_path: Path, small_codebook) -> None:
    meeting = SHARED / "corpora" / "zoom-meetings" / "focil" / "2026-04-07_032"
    folder = tmp_path / "zoom"
    folder.mkdir()
    (folder / "transcript.vtt").write_bytes((meeting / "transcript.vtt").read_bytes())
    with Project.open(tmp_path / "zoom.db", create=True) as project:
        code_folder(folder, small_codebook, project, out_dir=None)
        frame = cases_frame(project)
        from qualkam.store.segments import segments

        speakers = segments(project)["speaker"].dropna()
        assert len(frame) == speakers.str.casefold().nunique() == 4  # PROVENANCE.md: 4 speakers
        first = frame.sort_values("segments", ascending=False)["case"].iloc[0]
        import_cases(project, _file(tmp_path, "cases.yaml", f"{first}: {{team: core}}\n"))
        by_team = build_matrix(project, rows="case:team", value="share")
        assert "core" in by_team.index
        assert len(retrieve(project, cases=["team=core"], layer="all")) == len(
            retrieve(project, speakers=[first], layer="all")
        )
        from qualkam.interchange.refi.reader import import_qdpx
        from qualkam.interchange.refi.writer import export_qdpx

        export_qdpx(project, tmp_path / "zoom.qdpx", "auto")
    with Project.open(tmp_path / "back.db", create=True) as back:
        import_qdpx(back, tmp_path / "zoom.qdpx")
        again = cases_frame(back).set_index("case")
    assert sorted(again.index) == sorted(frame["case"]) and again.loc[first, "team"] == "core"


def test_report_lists_cases_once_a_file_gave_attributes(coded: Project, tmp_path: Path) -> None:
    from qualkam.render.report import build_report

    html = build_report(coded, "auto")
    assert "Participants as cases" in html
    start = html.index('id="cases"')
    assert "Leeds" in html[start : start + 4000] and "tenure" in html[start : start + 4000]
    with Project.open(tmp_path / "bare.db", create=True) as bare:
        write(tmp_path / "bare" / "int.md", INTERVIEW)
        code_folder(tmp_path / "bare", load_codebook(str(coded.path.parent / "small.yaml")), bare, out_dir=None)
        assert "Participants as cases" not in build_report(bare, "auto")


@pytest.mark.parametrize(
    ("label", "generic"),
    [
        ("T", True),
        ("ss", True),
        ("Students", True),
        ("T2", True),
        ("T 2", True),
        ("Speaker 3", True),
        ("I", True),
        ("Others", True),
        ("Tom", False),
        ("SN", False),  # two letters may be a pseudonym's initials, kept as written
        ("Ms. Lane", False),
        ("Teacher Training Lead", False),
    ],
)
def test_generic_labels(label: str, generic: bool) -> None:
    from qualkam.analysis.cases import is_person
    from qualkam.sources.turns import generic_label

    assert generic_label(label) is generic and is_person(label) is not generic


@given(st.sampled_from(["T", "s", "Students", "Speaker 12", "P3", "Tom", "Ms. Lane"]), st.text(" \t", max_size=3))
def test_a_generic_label_does_not_depend_on_case_or_spacing(label: str, space: str) -> None:
    from qualkam.sources.turns import generic_label

    assert generic_label(space + label.upper() + space) == generic_label(label) == generic_label(label.lower())


def test_classroom_labels_are_no_cases(tmp_path: Path, small_codebook) -> None:
    """T and S are a different teacher and student in every lesson: no case, and counted once
    per source wherever speakers are people."""
    for lesson in ("lesson-1", "lesson-2"):
        write(tmp_path / "src" / f"{lesson}.md", f"---\nid: {lesson}\n---\nT: Why?\n\nS: Because.\n\nMs. Lane: Good.\n")
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        frame = cases_frame(project)
    assert frame["case"].tolist() == ["Ms. Lane"] and frame["sources"].tolist() == [2]
