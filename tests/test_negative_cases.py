"""Negative cases, issue 16 point 6: where a code never occurs although comparable sources or
speakers have it. The fixture, coded by hand (ana):

    source  type       phase  speakers          hard_control on      soft_control on
    int-1   interview  p1     I, Ann            Ann's first answer   -
    int-2   interview  p1     I, Bob            Bob's answer         -
    int-3   interview  p1     I, Cat            -                    Cat's answer
    mtg-1   meeting    p1     Ann, Bob          Ann's turn           -
    int-4   interview  p2     I, Dan            Dan's answer         -
    int-5   interview  p2     I, Eve            -                    -

hard_control by phase: p1 has it in 3 of 4 sources (int-3 lacks it; 3 coded segments), p2 in
1 of 2 (int-5 lacks it). Speakers in p1: I once per interview (shorthand), Ann (in two
sources, one case), Bob, Cat: Ann and Bob have it, so the three I's and Cat are listed, 2 of
6; in p2 Dan has it: the two I's and Eve, 1 of 4. By source type: interviews 3 of 5 (int-3
and int-5 lack it); the one meeting has it, so no meeting is listed. control (the parent)
counts its children: in p1 every source has one, so only int-5 is listed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import qualkam
from qualkam.analysis.cases import import_cases
from qualkam.analysis.negative import COLUMNS, KINDS, _negatives, negative_cases
from qualkam.coding.codebook import parse_codebook
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.render.report import build_report
from qualkam.store.project import Project

from .conftest import ROOT, needs_shared, run_cli, said, segment_with, write

CODEBOOK = """\
name: Negative cases test
version: "1"
phases:
  - {id: p1, label: Phase one}
  - {id: p2, label: Phase two}
codes:
  - id: control
    label: Control
    children:
      - {id: hard_control, label: Hard control}
      - {id: soft_control, label: Soft control}
  - {id: other, label: Other}
"""

SOURCES = {
    "int-1": ("interview", "p1", "I: What happened?\n\nAnn: Targets came first.\n\nAnn: Then we met weekly."),
    "int-2": ("interview", "p1", "I: What happened?\n\nBob: Targets, targets."),
    "int-3": ("interview", "p1", "I: What happened?\n\nCat: We trusted each other."),
    "mtg-1": ("meeting", "p1", "Ann: The plan is fixed.\n\nBob: Agreed."),
    "int-4": ("interview", "p2", "I: What happened?\n\nDan: Reports every Friday."),
    "int-5": ("interview", "p2", "I: What happened?\n\nEve: Nothing much."),
}
CODED = [
    ("int-1", "Targets came first", "hard_control"),
    ("int-2", "Targets, targets", "hard_control"),
    ("int-3", "We trusted", "soft_control"),
    ("mtg-1", "The plan is fixed", "hard_control"),
    ("int-4", "Reports every Friday", "hard_control"),
]


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    for source, (kind, phase, text) in SOURCES.items():
        write(tmp_path / "src" / f"{source}.md", f"---\nid: {source}\ntype: {kind}\nphase: {phase}\n---\n{text}\n")
    path = tmp_path / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", parse_codebook(CODEBOOK, "negative.yaml"), project, out_dir=None)
        for source, words, code in CODED:
            decide(project, "ana", segment_with(project, words, source), code, "add")
    return path


def rows(table: pd.DataFrame, kind: str) -> list[tuple]:
    part = table[table["kind"] == kind]
    return list(
        zip(
            part["value"],
            part["case"],
            part["segments"],
            part["comparable"],
            part["with_code"],
            part["code_segments"],
            strict=True,
        )
    )


def test_by_phase_by_hand(project_path: Path) -> None:
    with Project.open(project_path) as project:
        table = negative_cases(project, "hard_control", layer="human")
    assert list(table.columns) == COLUMNS and set(table["code"]) == {"hard_control"}
    assert set(table["compare"]) == {"phase"}
    assert rows(table, "source") == [("p1", "int-3", 2, 4, 3, 3), ("p2", "int-5", 2, 2, 1, 1)]
    assert table[table["kind"] == "source"]["share_with_code"].tolist() == [0.75, 0.5]
    # speakers: 2 of 6 in p1 have it, 1 of 4 in p2; the longest first, then by name
    assert sorted(rows(table, "speaker")) == sorted(
        [
            ("p1", "int-1: I", 1, 6, 2, 3),
            ("p1", "int-2: I", 1, 6, 2, 3),
            ("p1", "int-3: I", 1, 6, 2, 3),
            ("p1", "Cat", 1, 6, 2, 3),
            ("p2", "int-4: I", 1, 4, 1, 1),
            ("p2", "int-5: I", 1, 4, 1, 1),
            ("p2", "Eve", 1, 4, 1, 1),
        ]
    )
    assert [r[0] for r in rows(table, "speaker")] == ["p1"] * 4 + ["p2"] * 3  # the higher share first


def test_by_source_type_parent_codes_and_exact(project_path: Path) -> None:
    with Project.open(project_path) as project:
        by_type = negative_cases(project, "hard_control", compare="source_type", layer="human", kinds=["source"])
        parent = negative_cases(project, "control", layer="human", kinds=["source"])
        exact = negative_cases(project, "control", layer="human", below=False)
        never = negative_cases(project, "other", layer="human")
    assert rows(by_type, "source") == [("interview", "int-3", 2, 5, 3, 3), ("interview", "int-5", 2, 5, 3, 3)]
    assert rows(parent, "source") == [("p2", "int-5", 2, 2, 1, 1)]
    assert exact.empty and never.empty  # nothing is coded with control itself, nor with other


def test_by_role_and_a_source_attribute(tmp_path: Path, runner: CliRunner) -> None:
    text = {
        "a": "---\nid: a\nsite: north\nparticipants:\n  Ann: {role: Manager}\n  Bob: {role: Buyer}\n---\n"
        "Ann: Targets first.\n\nBob: Prices.\n",
        "b": "---\nid: b\nsite: north\nparticipants:\n  Cy: {role: Manager}\n---\nCy: Nothing to add.\n",
        "c": "---\nid: c\nsite: south\nparticipants:\n  Di: {role: Manager}\n---\nDi: Trust.\n",
    }
    for name, body in text.items():
        write(tmp_path / "src" / f"{name}.md", body)
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", parse_codebook(CODEBOOK, "negative.yaml"), project, out_dir=None)
        decide(project, "ana", segment_with(project, "Targets first"), "hard_control", "add")
        by_role = negative_cases(project, "hard_control", compare="role", layer="human")
        by_site = negative_cases(project, "hard_control", compare="site", layer="human", kinds=["source"])
        managers = negative_cases(
            project, "hard_control", compare="site", layer="human", kinds=["speaker"], roles=["Manager"]
        )
        buyers = negative_cases(project, "hard_control", compare="site", layer="human", roles=["Buyer"])
        import_cases(project, write(tmp_path / "cases.yaml", "Ann: {team: x}\nCy: {team: x}\nDi: {team: y}\n"))
        by_team = negative_cases(project, "hard_control", compare="case:team", layer="human")
        with pytest.raises(QualkamError, match="unknown case attribute 'tam' in compare.*did you mean 'team'"):
            negative_cases(project, "hard_control", compare="case:tam")
        with pytest.raises(QualkamError, match="unknown comparison 'sight'.*did you mean 'site'"):
            negative_cases(project, "hard_control", compare="sight")
        with pytest.raises(QualkamError, match="unknown code 'hard'"):
            negative_cases(project, "hard")
        with pytest.raises(QualkamError, match="unknown kind of case 'person'"):
            negative_cases(project, "hard_control", kinds=["person"])
    # Managers: Ann has it, Cy and Di do not; sources with a Manager's segments: a has it, b and c not
    assert sorted(rows(by_role, "speaker")) == [("Manager", "Cy", 1, 3, 1, 1), ("Manager", "Di", 1, 3, 1, 1)]
    assert sorted(rows(by_role, "source")) == [("Manager", "b", 1, 3, 1, 1), ("Manager", "c", 1, 3, 1, 1)]
    assert rows(by_site, "source") == [("north", "b", 1, 2, 1, 1)]  # south has it nowhere: no finding
    # only the Managers' talk: in the north Ann has it and Cy not; the one Buyer never has it: no finding
    assert rows(managers, "speaker") == [("north", "Cy", 1, 2, 1, 1)]
    assert buyers.empty
    # by a case attribute: team x is Ann (has it) and Cy (not); Di's team y has it nowhere
    assert rows(by_team, "speaker") == [("x", "Cy", 1, 2, 1, 1)]
    assert rows(by_team, "source") == [("x", "b", 1, 2, 1, 1)]  # b's team-x talk (Cy's) lacks it
    args = ["--from", "human", "--compare", "site", "--kind", "speaker", "--role", "Manager", "-f", "json"]
    done = run_cli(runner, "negative-cases", "hard_control", "-p", tmp_path / "p.db", *args)
    assert done.exit_code == 0, done.output
    assert [(r["value"], r["case"]) for r in json.loads(done.stdout)] == [("north", "Cy")]
    done = run_cli(runner, "negative-cases", "hard_control", "-p", tmp_path / "p.db", "--role", "Manger")
    assert done.exit_code == 2 and "unknown role 'Manger'" in said(done.output), done.output


def test_the_cli_and_the_api(project_path: Path, runner: CliRunner, tmp_path: Path) -> None:
    done = run_cli(runner, "negative-cases", "hard_control", "--from", "human", "-p", project_path)
    assert done.exit_code == 0, done.output
    text = said(done.output)
    assert "sources without hard_control · compared by phase · from human · 2 to check" in text
    assert "int-3" in text and "3 of 4 (75%)" in text and "speakers without hard_control" in text
    as_json = ["--kind", "source", "--format", "json"]
    done = run_cli(runner, "negative-cases", "hard_control", "--from", "human", "-p", project_path, *as_json)
    assert [(r["case"], r["with_code"], r["comparable"]) for r in json.loads(done.stdout)] == [
        ("int-3", 3, 4),
        ("int-5", 1, 2),
    ]
    out = tmp_path / "neg.csv"
    done = run_cli(runner, "negative-cases", "control", "--exact", "--from", "human", "-p", project_path, "-o", out)
    assert done.exit_code == 0 and "no negative cases of control by phase" in said(done.output)
    assert pd.read_csv(out).columns.tolist() == COLUMNS
    done = run_cli(runner, "negative-cases", "hard_contrl", "-p", project_path)
    assert done.exit_code == 2 and "unknown code 'hard_contrl' in CODE" in said(done.output)
    done = run_cli(runner, "negative-cases", "hard_control", "--compare", "sight", "-p", project_path)
    assert done.exit_code == 2 and "in --compare" in said(done.output)
    with qualkam.open(project_path) as view:
        frame = view.negative_cases("hard_control", layer="human", kinds="source")
        assert frame["case"].tolist() == ["int-3", "int-5"]
        # control: int-5; hard_control: int-3, int-5; soft_control: int-1, int-2, mtg-1 (p1); other: never coded
        assert len(view.negative_cases(layer="human", kinds="source")) == 6


def test_every_code_at_once_is_each_code_alone(project_path: Path) -> None:
    with Project.open(project_path) as project:
        together = negative_cases(project, None, layer="human")
        alone = pd.concat(
            [negative_cases(project, code, layer="human") for code in ("control", "hard_control", "soft_control")],
            ignore_index=True,
        )
    pd.testing.assert_frame_equal(together, alone)
    # soft_control: p1 has it in int-3 only, so int-1, int-2 and mtg-1 are listed (1 of 4)
    soft = together[(together["code"] == "soft_control") & (together["kind"] == "source")]
    assert soft["case"].tolist() == ["int-1", "int-2", "mtg-1"] and set(soft["with_code"]) == {1}


def test_the_report_lists_striking_absences(project_path: Path) -> None:
    with Project.open(project_path) as project:
        page = build_report(project, layer="human")
    section = page.split('<section class="part" id="negative">')[1].split("</section>")[0]
    by_phase = section.split("<h3>By phase</h3>")[1].split("<h3>")[0]
    # hard_control is in 3 of 4 p1 sources: int-3's absence is striking; p2 (2 sources) is too small
    assert "<td>int-3</td>" in by_phase and "3 of 4" in by_phase and "int-5" not in by_phase
    by_type = section.split("<h3>By source type</h3>")[1]
    assert "None: wherever most comparable sources" in by_type  # 3 of 5 interviews is not "most"


# -- properties ---------------------------------------------------------------------------------
cases_strategy = st.lists(
    st.tuples(st.sampled_from(KINDS), st.sampled_from(["p1", "p2", "(none)"]), st.sampled_from("abcde")),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(cases_strategy, st.lists(st.tuples(st.integers(0, 24), st.sampled_from(["x", "y", "z"])), max_size=30))
def test_negative_cases_properties(case_rows: list[tuple[str, str, str]], hit_rows: list[tuple[int, str]]) -> None:
    """A listed case never has the code in its group; its group always has a case that does;
    every case of such a group without the code is listed; the counts are the group's."""
    cases = pd.DataFrame(
        [(i, kind, value, case) for i, (kind, value, case) in enumerate(case_rows)],
        columns=["segment", "kind", "value", "case"],
    )
    hits = pd.DataFrame([(s, c) for s, c in hit_rows if s < len(cases)], columns=["segment", "code"])
    found = _negatives(cases, hits, "phase")
    coded = cases.merge(hits, on="segment")
    has = {(r.kind, r.value, r.case, r.code) for r in coded.itertuples()}
    groups = {(r.kind, r.value): set() for r in cases.itertuples()}
    for r in cases.itertuples():
        groups[r.kind, r.value].add(r.case)
    expected = {
        (code, kind, value, case)
        for (kind, value), members in groups.items()
        for code in {c for (k, v, _, c) in has if (k, v) == (kind, value)}
        for case in members
        if (kind, value, case, code) not in has
    }
    listed = set(zip(found["code"], found["kind"], found["value"], found["case"], strict=True))
    assert listed == expected
    for r in found.itertuples():
        members = groups[r.kind, r.value]
        with_code = {case for case in members if (r.kind, r.value, case, r.code) in has}
        assert r.comparable == len(members) and r.with_code == len(with_code) > 0
        assert r.case not in with_code


# -- the sample project and a real corpus --------------------------------------------------------
@pytest.mark.slow
def test_sample_project_against_an_independent_reading(tmp_path: Path) -> None:
    from qualkam.coding.codebook import load_codebook

    path = tmp_path / "sample.db"
    with Project.open(path, create=True) as project:
        code_folder(ROOT / "sample_transcripts", load_codebook("kam"), project, out_dir=None)
        found = negative_cases(project, None, compare="phase", kinds=["source"], below=False)
    with qualkam.open(path) as view:
        phase_of = view.segments().groupby("source")["phase"].first().fillna("(none)").to_dict()
        codes_of = view.codings("auto").groupby("source")["code"].agg(set).to_dict()
    expected = set()
    for phase in set(phase_of.values()):
        members = [s for s, p in phase_of.items() if p == phase]
        present = set().union(*(codes_of.get(s, set()) for s in members))
        expected |= {(code, phase, s) for code in present for s in members if code not in codes_of.get(s, set())}
    assert set(zip(found["code"], found["value"], found["case"], strict=True)) == expected
    assert len(expected) > 20


@needs_shared
@pytest.mark.shared
@pytest.mark.slow
def test_talkmoves_moves_missing_from_a_transcript_as_the_sheets_say(tmp_path: Path) -> None:
    """Eight TalkMoves transcripts, no phase (all compared under (none)): a transcript is listed
    for a move exactly when its sheet never has that move and another sheet does."""
    from bench import suggestions

    from .test_saturation import sheet_moves, talkmoves_project

    path, ids, sheets = talkmoves_project(tmp_path)
    with Project.open(path) as project:
        found = negative_cases(project, None, layer=f"coder:{suggestions.CODER}", kinds=["source"])
    moves_of = dict(zip(ids, map(sheet_moves, sheets), strict=True))
    everywhere = set().union(*moves_of.values())
    expected = {(move, source) for move in everywhere for source in ids if move not in moves_of[source]}
    leaves = found[found["code"].isin(everywhere)]
    assert set(zip(leaves["code"], leaves["case"], strict=True)) == expected
    assert set(found["value"]) <= {"(none)"}
    for row in leaves.itertuples():
        assert row.with_code == sum(row.code in moves_of[s] for s in ids) and row.comparable == 8
