"""Triangulation, issue 3: per code, the independent sources, speakers, source types, phases
and roles behind it, and flags where that support is thin.

    int-a (interview, pre_kam)    I: sales target -> hard         Sarah Collins: trust -> soft
    int-b (interview, pre_kam)    I: sales target -> hard         R (Buyer): gut feeling -> soft
    email (email, formal_kam)     Sarah Collins: trust -> soft
    memo  (document, no phase)    one paragraph, no speaker: sales target -> hard
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.analysis.triangulation import COLUMNS, triangulation_table
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.project import Project

from .conftest import run_cli as _run
from .conftest import segment_with, write

INT_A = """\
---
id: int-a
type: interview
date: 2011-03-02
participants:
  I: Researcher
  Sarah Collins: {role: Sales Director, unit: KAM}
---
I: Was there a sales target?

Sarah Collins: Mostly we trust each other.
"""

INT_B = """\
---
id: int-b
type: interview
date: 2011-04-02
participants:
  I: Researcher
  R: {role: Buyer}
---
I: And the sales target?

R: Gut feeling, really.
"""

EMAIL = """\
---
id: email
type: email
phase: formal_kam
participants:
  Sarah Collins: {role: Sales Director}
---
Sarah Collins: In this team we trust each other.
"""

MEMO = """\
---
id: memo
type: document
---
Every account manager has a sales target.
"""


@pytest.fixture
def coded(tmp_path: Path, small_codebook, project: Project) -> Project:
    for name, text in (("int-a.md", INT_A), ("int-b.md", INT_B), ("email.md", EMAIL), ("memo.md", MEMO)):
        write(tmp_path / "src" / name, text)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    return project


def _segment(project: Project, source: str, words: str) -> int:
    return segment_with(project, words, source)


def _rows(table) -> dict[str, dict]:
    return {row["code"]: row for row in table.to_dict(orient="records")}


def test_one_row_per_code_with_its_support(coded: Project) -> None:
    table = triangulation_table(coded)
    assert list(table.columns) == COLUMNS
    assert list(table["code"]) == ["hard_control", "soft_control"], "codebook order; the empty parent is left out"
    hard, soft = _rows(table)["hard_control"], _rows(table)["soft_control"]
    assert hard == {
        "code": "hard_control",
        "label": "Hard control",
        "segments": 3,
        "sources": 3,
        "speakers": 2,  # the I of each interview is a different person; the memo names no one
        "source_types": "document, interview",
        "phases": "pre_kam, (none)",
        "roles": "Researcher",
        "flags": "",
    }
    assert soft == {
        "code": "soft_control",
        "label": "Soft control",
        "segments": 3,
        "sources": 3,
        "speakers": 2,  # Sarah Collins in two sources is one person, R another
        "source_types": "email, interview",
        "phases": "pre_kam, formal_kam",
        "roles": "Buyer, Sales Director",
        "flags": "",
    }


def test_flags_name_the_weakness(coded: Project) -> None:
    decide(coded, "ana", _segment(coded, "int-a", "trust"), "soft_control", "accept")
    decide(coded, "ana", _segment(coded, "email", "trust"), "soft_control", "accept")
    decide(coded, "ana", _segment(coded, "memo", "sales target"), "hard_control", "accept")
    rows = _rows(triangulation_table(coded, layer="coder:ana"))
    assert rows["soft_control"]["flags"] == "one speaker", "two sources, two source types, but only Sarah"
    assert rows["hard_control"]["flags"] == "one source type, no named speaker, one source"
    assert rows["hard_control"]["speakers"] == 0 and rows["hard_control"]["roles"] == ""

    decide(coded, "bo", _segment(coded, "int-a", "sales target"), "hard_control", "accept")
    decide(coded, "bo", _segment(coded, "int-b", "sales target"), "hard_control", "accept")
    bo = _rows(triangulation_table(coded, layer="coder:bo"))
    assert list(bo) == ["hard_control"], "only codes with codings in the layer"
    assert bo["hard_control"]["flags"] == "one source type", "two interviewers, two sources, but interviews only"
    assert bo["hard_control"]["speakers"] == 2


def test_rejections_and_empty_layers(coded: Project) -> None:
    decide(coded, "ana", _segment(coded, "memo", "sales target"), "hard_control", "reject")
    assert _rows(triangulation_table(coded))["hard_control"]["sources"] == 2, "a rejected suggestion is no support"
    empty = triangulation_table(coded, layer="human")
    assert empty.empty and list(empty.columns) == COLUMNS
    with pytest.raises(QualkamError, match="unknown layer 'people'"):
        triangulation_table(coded, layer="people")


def test_cli_table_csv_json_and_out(runner: CliRunner, coded: Project, tmp_path: Path) -> None:
    decide(coded, "ana", _segment(coded, "memo", "sales target"), "hard_control", "accept")
    table = _run(runner, "triangulate", "--from", "human", "-p", coded.path)
    assert table.exit_code == 0, table.output
    flat = " ".join(table.output.split())
    assert "triangulation · 1 codes · from human · 1 flagged" in flat
    assert "hard_control" in flat and "! one source type, no named" in flat, "the flags under the code's name"

    as_csv = _run(runner, "triangulate", "--format", "csv", "-p", coded.path)
    assert as_csv.stdout.splitlines()[0] == ",".join(COLUMNS)
    assert (
        as_csv.stdout.splitlines()[1]
        == 'hard_control,Hard control,3,3,2,"document, interview","pre_kam, (none)",Researcher,'
    )

    out = tmp_path / "tri.json"
    as_json = _run(runner, "triangulate", "-f", "json", "--out", out, "-p", coded.path)
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)[1]["roles"] == "Buyer, Sales Director"
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(as_json.stdout)
    assert f"wrote {out}" in as_json.stderr and "wrote" not in as_json.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "tri.txt"], "--out tri.txt: unknown file type '.txt'; name it .csv or .json"),
        (["--from", "robots"], "unknown layer 'robots'"),
        (["--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_cli_bad_input_exits_2(runner: CliRunner, coded: Project, args: list[str], message: str) -> None:
    result = _run(runner, "triangulate", *args, "-p", coded.path)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()), result.output


def test_cli_missing_project_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = _run(runner, "triangulate", "-p", tmp_path / "none.db")
    assert result.exit_code == 2 and "no qualkam project at" in result.output
