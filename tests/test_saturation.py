"""Saturation after Guest, Namey & Chen (2020, PLOS ONE 15(5): e0232076), issue 16 point 3.

The worked example below is hand-made. Its first run reproduces the one figure of the paper's
illustration that summaries of the paper quote (37 distinct codes in a base of 4 interviews,
7 new in the run of interviews 5 and 6: 19% new information); the paper's own table was not
at hand to check the rest, so the later sources are our own, computed by hand:

    source  date        codes                      new  so far
    s01     2020-01-01  t01-t20                     20    20
    s02     2020-01-02  t11-t28                      8    28
    s03     2020-01-03  t25-t31                      3    31
    s04     2020-01-04  t01, t32-t37                 6    37   <- base of 4: 37 codes
    s05     2020-01-05  t01-t05, t38-t41             4    41
    s06     2020-01-06  t10, t42-t44                 3    44   run 5-6: 7 new = 18.9%
    s07     2020-01-07  t45, t46                     2    46   run 6-7: 5 = 13.5%
    s08     2020-01-08  t47                          1    47   run 7-8: 3 = 8.1%
    s09     2020-01-09  t02                          0    47   run 8-9: 1 = 2.7% <= 5%: saturation at 7 (+2: 9)
    s10     2020-01-10  t48                          1    48   run 9-10: 1 = 2.7%
    s11     2020-01-11  t03                          0    48   run 10-11: 1 = 2.7%
    s12     2020-01-12  t04                          0    48   run 11-12: 0 = 0%: at 0%, saturation at 10 (+2: 12)

With runs of 3: 5-7 adds 9 (24.3%), 6-8 6 (16.2%), 7-9 3 (8.1%), 8-10 2 (5.4%), 9-11 1 (2.7%), 10-12 1:
saturation at 8 sources, 11 with the confirming run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import qualkam
from qualkam.analysis.saturation import parse_threshold, saturation
from qualkam.coding.codebook import parse_codebook
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.render.report import build_report
from qualkam.render.saturation import saturation_image, svg_saturation
from qualkam.store.project import Project

from .conftest import ROOT, SHARED, needs_shared, run_cli, said, write

CODES = [f"t{i:02d}" for i in range(1, 49)]
CODEBOOK = 'name: Saturation test\nversion: "1"\ncodes:\n' + "".join(
    f"  - id: {c}\n    label: Theme {c[1:]}\n" for c in CODES
)


def span(a: int, b: int) -> list[str]:
    return [f"t{i:02d}" for i in range(a, b + 1)]


EXAMPLE = {
    "s01": span(1, 20),
    "s02": span(11, 28),
    "s03": span(25, 31),
    "s04": ["t01", *span(32, 37)],
    "s05": [*span(1, 5), *span(38, 41)],
    "s06": ["t10", *span(42, 44)],
    "s07": ["t45", "t46"],
    "s08": ["t47"],
    "s09": ["t02"],
    "s10": ["t48"],
    "s11": ["t03"],
    "s12": ["t04"],
}


def build(folder: Path, plan: dict[str, list[str]], dates: dict[str, str | None] | None = None, **attributes) -> Path:
    """A project with one interview per entry of ``plan`` (one segment each), coded by ana with
    its codes; dated 2020-01-01 onwards in plan order unless ``dates`` says otherwise; each
    keyword gives every source an attribute (a dict source -> value)."""
    src = folder / "src"
    for i, source in enumerate(plan):
        date = (dates or {}).get(source, f"2020-01-{i + 1:02d}")
        extra = "".join(f"{key}: {values[source]}\n" for key, values in attributes.items() if source in values)
        write(
            src / f"{source}.md",
            f"---\nid: {source}\ntype: interview\n{f'date: {date}' if date else ''}\n{extra}---\n"
            f"R: Interview {source} talks about many things.\n",
        )
    path = folder / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(src, parse_codebook(CODEBOOK, "saturation.yaml"), project, out_dir=None)
        with qualkam.open(path) as view:
            segments = view.segments()
        first = segments.groupby("source")["segment"].min()
        for source, codes in plan.items():
            for code in codes:
                decide(project, "ana", int(first[source]), code, "add")
    return path


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return build(tmp_path, EXAMPLE)


def test_the_worked_example_by_hand(example: Path) -> None:
    with Project.open(example) as project:
        result = saturation(project, layer="human")
    table = result.table
    assert list(table["source"]) == list(EXAMPLE)
    assert list(table["new"]) == [20, 8, 3, 6, 4, 3, 2, 1, 0, 1, 0, 0]
    assert list(table["cumulative"]) == [20, 28, 31, 37, 41, 44, 46, 47, 47, 48, 48, 48]
    assert list(table["codes"]) == [len(codes) for codes in EXAMPLE.values()]
    assert list(table["in_base"]) == [True] * 4 + [False] * 8
    assert table["new_codes"].iloc[5] == "t42, t43, t44"  # t10 was in s01
    assert result.base_codes == 37 and result.total_codes == 48
    runs = result.runs
    assert list(zip(runs["first"], runs["last"], runs["new"], strict=True)) == [
        (5, 6, 7),
        (6, 7, 5),
        (7, 8, 3),
        (8, 9, 1),
        (9, 10, 1),
        (10, 11, 1),
        (11, 12, 0),
    ]
    assert runs["percent_new"].iloc[0] == pytest.approx(18.92)  # the paper's "19%"
    assert list(runs["within"]) == [False, False, False, True, True, True, True]
    assert (result.point, result.through) == (7, 9)
    assert result.verdict().startswith(
        "Saturation at 7 sources (base 4, run 2, new information threshold ≤5%, by date)"
    )
    assert "confirming: 9 sources" in result.verdict()
    assert result.notes == ["1 code first appears after source 9: t48"]
    assert result.allowed_new == 1  # 5% of 37 is 1.85: at most one new code per run


def test_strict_threshold_longer_runs_and_a_bigger_base(example: Path) -> None:
    with Project.open(example) as project:
        strict = saturation(project, layer="human", threshold="0%")
        longer = saturation(project, layer="human", run=3)
        bigger = saturation(project, layer="human", base=6, threshold=5)
    assert (strict.point, strict.through) == (10, 12)
    assert list(longer.runs["new"]) == [9, 6, 3, 2, 1, 1]
    assert (longer.point, longer.through) == (8, 11)
    # base of 6: 44 codes; runs 7-8 add 3 (6.8%), 8-9 add 1 (2.3%): saturation at 7, through 9
    assert bigger.base_codes == 44 and list(bigger.runs["new"])[:2] == [3, 1]
    assert (bigger.point, bigger.through) == (7, 9)


def test_a_threshold_exactly_met_counts(tmp_path: Path) -> None:
    """1 new code of a base of 20 is exactly 5%: within "≤5%" (computed exactly, not in floats)."""
    plan = {"a": span(1, 20), "b": [], "c": [], "d": [], "e": ["t21"], "f": []}
    with Project.open(build(tmp_path, plan)) as project:
        result = saturation(project, layer="human")
    assert result.base_codes == 20 and list(result.runs["percent_new"]) == [5.0]
    assert (result.point, result.through) == (4, 6)


def test_not_reached_says_how_far(example: Path) -> None:
    with Project.open(example) as project:
        result = saturation(project, layer="human", threshold=0, sources=list(EXAMPLE)[:11], order="given")
        few = saturation(project, layer="human", base=11, run=2)
    assert result.point is None and result.through is None and not result.reached
    assert result.notes[0] == (
        "every run added more than 0% of the base's 37 codes (at most 0 new codes); the last run "
        "(sources 10-11) added 1 (2.7%), the closest (sources 8-9) 1 (2.7%)"
    )
    assert result.verdict().startswith("Saturation not reached (base 4, run 2, new information threshold ≤0%")
    assert few.point is None and len(few.runs) == 0
    assert few.notes[0] == "12 sources in scope; a base of 11 and one run of 2 need 13"


def test_an_empty_base_is_said_not_divided_by(tmp_path: Path) -> None:
    plan = {"a": [], "b": [], "c": [], "d": [], "e": ["t01"], "f": []}
    with Project.open(build(tmp_path, plan)) as project:
        result = saturation(project, layer="human")
    assert result.base_codes == 0 and result.runs["percent_new"].isna().all() and result.point is None
    assert "the base (the first 4 sources) holds no codes" in result.notes[0]


def test_orders_by_date_given_and_attribute(tmp_path: Path) -> None:
    plan = {"a": ["t01"], "b": ["t02"], "c": ["t03"], "d": ["t04"], "e": ["t05"]}
    dates = {"a": "2021-05-01", "b": "2020-01-01", "c": None, "d": "2020-01-01", "e": "2019-12-31"}
    numbers = {"a": 10, "b": 9, "c": 100, "d": 2, "e": 11}
    with Project.open(build(tmp_path, plan, dates, interview_number=numbers)) as project:
        by_date = saturation(project, layer="human")
        given = saturation(project, layer="human", order="given", sources=["c", "a", "e", "b", "d"])
        added = saturation(project, layer="human", order="given")
        by_number = saturation(project, layer="human", order="interview_number")
        with pytest.raises(QualkamError, match="unknown order 'interview_numbr'.*did you mean 'interview_number'"):
            saturation(project, layer="human", order="interview_numbr")
    # same date: id order; no date: last, and said
    assert list(by_date.table["source"]) == ["e", "b", "d", "a", "c"]
    assert list(by_date.table["order_value"]) == ["2019-12-31", "2020-01-01", "2020-01-01", "2021-05-01", "(none)"]
    assert by_date.notes[1:] == [
        "1 source with no date, placed last by id: c",
        "sources with the same date are in id order",
    ]
    assert list(given.table["source"]) == ["c", "a", "e", "b", "d"]
    assert list(added.table["source"]) == ["a", "b", "c", "d", "e"]  # the order they were added
    assert list(by_number.table["source"]) == ["d", "b", "a", "e", "c"]  # 2, 9, 10, 11, 100: numbers, not text


def test_layers_and_filters(tmp_path: Path) -> None:
    with Project.open(build(tmp_path, {"a": ["t01"], "b": ["t02"]})) as project:
        assert saturation(project, layer="human").total_codes == 2
        assert saturation(project, layer="suggestions").total_codes == 0  # no patterns: no suggestions
        assert list(saturation(project, layer="human", sources=["b"]).table["source"]) == ["b"]
        with pytest.raises(QualkamError, match="unknown coder 'bob'"):
            saturation(project, layer="coder:bob")
        with pytest.raises(QualkamError, match="unknown source 'z'"):
            saturation(project, sources=["z"])


def test_a_role_keeps_only_what_those_speakers_said(tmp_path: Path, runner: CliRunner) -> None:
    for i, source in enumerate(["a", "b", "c"]):
        write(
            tmp_path / "src" / f"{source}.md",
            f"---\nid: {source}\ndate: 2020-01-0{i + 1}\nparticipants:\n  Ann: {{role: Manager}}\n"
            f"  Bob: {{role: Buyer}}\n---\nAnn: Manager talk in {source}.\n\nBob: Buyer talk in {source}.\n",
        )
    path = tmp_path / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", parse_codebook(CODEBOOK, "saturation.yaml"), project, out_dir=None)
        with qualkam.open(path) as view:
            segments = view.segments()
        plan = {("a", "Ann"): ["t01"], ("a", "Bob"): ["t02"], ("b", "Bob"): ["t03"], ("c", "Ann"): ["t04"]}
        for (source, speaker), codes in plan.items():
            row = segments[(segments["source"] == source) & (segments["speaker"] == speaker)].iloc[0]
            for code in codes:
                decide(project, "ana", int(row["segment"]), code, "add")
        managers = saturation(project, layer="human", base=1, run=1, roles=["Manager"])
        everyone = saturation(project, layer="human", base=1, run=1)
    assert list(managers.table["new"]) == [1, 0, 1] and managers.total_codes == 2
    assert list(everyone.table["new"]) == [2, 1, 1] and everyone.total_codes == 4
    args = ["--from", "human", "--base", "1", "--run", "1", "--role", "Buyer", "-f", "json"]
    done = run_cli(runner, "saturation", "-p", path, *args)
    assert done.exit_code == 0, done.output
    assert [row["new"] for row in json.loads(done.stdout)["table"]] == [1, 1, 0]
    with qualkam.open(path) as view:
        assert list(view.saturation(layer="human", base=1, run=1, roles="Manager")["new"]) == [1, 0, 1]


@pytest.mark.parametrize(
    ("given_value", "expected"), [("5", 5.0), ("5%", 5.0), (" 2.5 % ", 2.5), (0, 0.0), (100, 100.0)]
)
def test_threshold_forms(given_value: object, expected: float) -> None:
    assert parse_threshold(given_value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["five", "-1", "101", "nan", ""])
def test_bad_thresholds_say_what_to_write(bad: str) -> None:
    with pytest.raises(QualkamError) as caught:
        parse_threshold(bad)
    assert caught.value.arguments == ("threshold",)


def test_the_cli_table_json_csv_and_plot(example: Path, runner: CliRunner, tmp_path: Path) -> None:
    done = run_cli(runner, "saturation", "--from", "human", "-p", example, "--plot", tmp_path / "curve.png")
    assert done.exit_code == 0, done.output
    text = said(done.output)
    assert "Saturation at 7 sources (base 4, run 2, new information threshold ≤5%, by date)" in text
    assert "≤ threshold: saturation" in text and "note: 1 code first appears after source 9: t48" in text
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    done = run_cli(runner, "saturation", "--from", "human", "-p", example, "-f", "json", "--run", "3")
    data = json.loads(done.stdout)
    assert (data["point"], data["through"], data["base_codes"], data["total_codes"]) == (8, 11, 37, 48)
    assert [r["new"] for r in data["runs"]] == [9, 6, 3, 2, 1, 1]
    assert [r["cumulative"] for r in data["table"]][-1] == 48
    done = run_cli(runner, "saturation", "--from", "human", "-p", example, "-f", "csv", "-o", tmp_path / "t.csv")
    assert done.stdout.splitlines()[0] == "position,source,order_value,codes,new,cumulative,in_base,new_codes"
    assert pd.read_csv(tmp_path / "t.csv")["new"].tolist() == [20, 8, 3, 6, 4, 3, 2, 1, 0, 1, 0, 0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "lots"], "--threshold must be a percentage such as 5 or 5%"),
        (["--base", "0"], "--base must be a whole number of sources, 1 or more; got 0"),
        (["--order", "dat"], "unknown order 'dat' in --order"),
        (["--from", "humans"], "did you mean 'human'"),
        (["--plot", "curve.gif"], "cannot draw a heatmap as '.gif'"),
    ],
)
def test_cli_errors_are_one_line(example: Path, runner: CliRunner, args: list[str], message: str) -> None:
    done = run_cli(runner, "saturation", "-p", example, *args)
    assert done.exit_code == 2 and message in said(done.output)


def test_api_and_report(example: Path) -> None:
    with qualkam.open(example) as view:
        frame = view.saturation(layer="human", threshold=0)
        assert frame["new"].tolist() == [20, 8, 3, 6, 4, 3, 2, 1, 0, 1, 0, 0]
        assert (frame.attrs["point"], frame.attrs["through"], frame.attrs["reached"]) == (10, 12, True)
        assert frame.attrs["runs"]["new"].tolist() == [7, 5, 3, 1, 1, 1, 0]
        page = build_report(view.project, layer="human")
    section = page.split('<section class="part" id="saturation">')[1].split("</section>")[0]
    assert '<svg role="img" aria-label="saturation"' in section and section.count("<polyline") == 1
    assert "Saturation at 7 sources" in section and "1 code first appears after source 9: t48" in section
    assert section.count("<rect") >= 12  # a bar per source
    assert "<h3>New codes per source</h3>" in section and "<details" not in section


def test_api_errors_name_arguments_not_flags(example: Path) -> None:
    with qualkam.open(example) as view:
        for call, argument in (
            (lambda: view.saturation(threshold="lots"), "threshold"),
            (lambda: view.saturation(order="dat"), "order"),
            (lambda: view.saturation(base=0), "base"),
            (lambda: view.saturation(layer="coder:anaa"), "layer"),
            (lambda: view.negative_cases("t1"), "code"),
            (lambda: view.negative_cases("t01", compare="sight"), "compare"),
        ):
            with pytest.raises(QualkamError) as caught:
                call()
            assert "--" not in str(caught.value) and caught.value.argument == argument, str(caught.value)


def test_a_long_saturation_table_is_collapsed(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qualkam.render import report

    monkeypatch.setattr(report, "SATURATION_ROWS", 10)
    with Project.open(example) as project:
        page = build_report(project, layer="human")
    section = page.split('<section class="part" id="saturation">')[1].split("</section>")[0]
    assert '<details class="more"><summary>Runs (7)</summary>' in section
    assert '<details class="more"><summary>New codes per source (12)</summary>' in section


def test_the_curve_escapes_source_names_and_draws_every_format(tmp_path: Path) -> None:
    plan = {"<b>x</b>": ["t01"], "a&b": ["t02"]}
    with Project.open(build(tmp_path, plan)) as project:
        result = saturation(project, layer="human", base=1, run=1)
    svg = svg_saturation(result)
    assert "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg and "a&amp;b" in svg
    assert saturation_image(result, fmt="svg").lstrip().startswith(b"<?xml")
    assert saturation_image(result, fmt="pdf")[:5] == b"%PDF-"


# -- properties ---------------------------------------------------------------------------------
plans = st.lists(st.sets(st.sampled_from(CODES[:12]), max_size=6), min_size=1, max_size=9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans, st.integers(1, 4), st.integers(1, 3), st.sampled_from([0, 5, 10, 50]), st.randoms())
def test_properties(tmp_path_factory, code_sets, base, run, threshold, random) -> None:
    """Cumulative counts never fall and end at the number of distinct codes; per-source new
    counts add up to it; a run's new codes are the sum of its sources' new codes; shuffling the
    dates reorders the sources by date and leaves the set of codes alone; the point, when there
    is one, is the first run within the threshold."""
    folder = tmp_path_factory.mktemp("prop")
    plan = {f"s{i:02d}": sorted(codes) for i, codes in enumerate(code_sets)}
    days = list(range(1, len(plan) + 1))
    random.shuffle(days)
    dates = {source: f"2021-03-{day:02d}" for source, day in zip(plan, days, strict=True)}
    with Project.open(build(folder, plan, dates)) as project:
        result = saturation(project, layer="human", base=base, run=run, threshold=threshold)
    table = result.table
    distinct = set().union(*map(set, plan.values()))
    assert list(table["source"]) == sorted(plan, key=dates.__getitem__)
    assert table["cumulative"].is_monotonic_increasing
    assert (table["cumulative"].iloc[-1] if len(table) else 0) == len(distinct) == result.total_codes
    assert table["new"].sum() == len(distinct)
    news = list(table["new"])
    for row in result.runs.itertuples():
        assert row.new == sum(news[row.first - 1 : row.last])
        assert row.last - row.first + 1 == run
    within = result.runs[result.runs["within"]]
    if len(within):
        assert result.point == within["first"].iloc[0] - 1 and result.through == result.point + run
        assert within["new"].iloc[0] * 100 <= threshold * result.base_codes
    else:
        assert result.point is None


# -- the sample project and a real corpus --------------------------------------------------------
@pytest.mark.slow
def test_sample_project_against_an_independent_count(tmp_path: Path) -> None:
    from qualkam.coding.codebook import load_codebook

    path = tmp_path / "sample.db"
    with Project.open(path, create=True) as project:
        code_folder(ROOT / "sample_transcripts", load_codebook("kam"), project, out_dir=None)
        result = saturation(project)
    with qualkam.open(path) as view:
        dates = view.segments().groupby("source")["date"].first()
        codes = view.codings("auto").groupby("source")["code"].agg(set)
    order = sorted(dates.index, key=lambda s: (dates[s] is None, dates[s] or "", s))
    assert list(result.table["source"]) == order
    seen: set[str] = set()
    expected = []
    for source in order:
        here = codes.get(source, set())
        expected.append(len(here - seen))
        seen |= here
    assert list(result.table["new"]) == expected and result.total_codes == len(seen)
    assert result.base_codes == len(set().union(*(codes.get(s, set()) for s in order[:4])))
    if result.point is not None:
        assert result.runs[result.runs["within"]]["first"].iloc[0] == result.point + 1


def sheet_moves(path: Path) -> set[str]:
    """The talk moves the expert gave anywhere in one TalkMoves sheet, read straight from it (as
    tests/test_bench_suggestions.py reads them): a row with words and a move's leading number."""
    import re

    import openpyxl

    from bench import suggestions

    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    header = None
    moves: set[str] = set()
    for row in sheet.iter_rows(values_only=True):
        if header is None:
            header = [str(v).strip().casefold() if v else "" for v in row]
            continue
        cells = dict(zip(header, row, strict=False))
        if not " ".join(str(cells.get("sentence") or "").split()):
            continue
        for column, names in (("teacher tag", suggestions.TEACHER), ("student tag", suggestions.STUDENT)):
            number = re.match(r"\s*(\d+)", str(cells.get(column) or ""))
            if number and int(number.group(1)) in names:
                moves.add(names[int(number.group(1))])
    return moves


def talkmoves_project(folder: Path, files: int = 8) -> tuple[Path, list[str], list[Path]]:
    """``files`` TalkMoves transcripts coded, the expert's moves imported as a coder; the source
    ids in the sheets' order, and the sheets."""
    from bench import suggestions
    from qualkam.coding.segment import Unit
    from qualkam.store.sources import source_paths

    corpus = SHARED / "corpora" / "talkmoves"
    path, placement, _, _ = suggestions.build_talkmoves(folder, corpus, files, Unit.sentence, jobs=1)
    assert placement.unplaced == []
    sheets = sorted((folder / "transcripts").glob("*.xlsx"))
    with Project.open(path) as project:
        by_name = {Path(file).name: source for source, file in source_paths(project).items()}
    return path, [by_name[sheet.name] for sheet in sheets], sheets


@needs_shared
@pytest.mark.shared
@pytest.mark.slow
def test_talkmoves_expert_codes_saturate_as_the_sheets_say(tmp_path: Path) -> None:
    """Eight TalkMoves transcripts (CC BY-NC-SA 4.0) with the expert's talk moves as a coder:
    the new moves per transcript, read independently from the spreadsheets, in file order."""
    from bench import suggestions

    path, ids, sheets = talkmoves_project(tmp_path)
    with qualkam.open(path) as view:
        result = saturation(view.project, layer=f"coder:{suggestions.CODER}", order="given", sources=ids)
    assert len(ids) == len(set(ids)) == 8 and list(result.table["source"]) == ids
    moves_of = dict(zip(ids, map(sheet_moves, sheets), strict=True))
    seen: set[str] = set()
    expected = []
    for source in ids:
        expected.append(len(moves_of[source] - seen))
        seen |= moves_of[source]
    assert list(result.table["new"]) == expected
    assert result.total_codes == len(seen) > 3
