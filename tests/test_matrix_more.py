"""Matrices, issue 3: shares, row normalisation, code co-occurrence (with a window), and the
``qualkam matrix`` options that expose them (--value, --normalize, --window, --plot, --format).

The fixture is small enough to count by hand:

    int-sales (interview, pre_kam)     m9 (meeting, formal_kam)
    0  I      hard                     0  Tom   soft
    1  Sarah  hard                     1  Ann   hard + soft
    2  Sarah  soft                     2  Tom   (nothing)
                                       3  Tom   (nothing)
                                       4  Tom   soft
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.analysis.matrix import build_matrix, cooccurrence, cooccurrence_pairs
from qualkam.cli import app
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.project import Project

from .conftest import INTERVIEW, said, segment_ids, write
from .conftest import run_cli as _run

MEETING = """\
WEBVTT

1
00:00:01.000 --> 00:00:03.000
Tom Reed: We trust each other now.

2
00:00:04.000 --> 00:00:06.000
Ann Lee: Gut feeling, mostly. And the reporting lines.

3
00:00:07.000 --> 00:00:08.000
Tom Reed: Lunch is at one.

4
00:00:09.000 --> 00:00:10.000
Ann Lee: Coffee first?

5
00:00:11.000 --> 00:00:12.000
Tom Reed: Trust each other, yes.
"""


@pytest.fixture
def coded(tmp_path: Path, small_codebook, project: Project) -> Project:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "m" / "m9.vtt", MEETING)
    write(
        tmp_path / "src" / "m" / "metadata.csv",
        "file,type,meeting_number,participants\n"
        "m9.vtt,meeting,9,Tom Reed=Sales Manager|KAM; Ann Lee=Product Manager|non-KAM\n",
    )
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    return project


def _segment(project: Project, source: str, position: int) -> int:
    return segment_ids(project)[source, position]


def test_fixture_is_what_the_docstring_says(coded: Project) -> None:
    segments = build_matrix(coded, rows="phase")
    assert segments.loc["pre_kam"].tolist() == [2, 1]
    assert segments.loc["formal_kam"].tolist() == [1, 3]
    assert coded.counts()["segments"] == 8


def test_share_divides_by_every_segment_in_the_row_coded_or_not(coded: Project) -> None:
    share = build_matrix(coded, rows="phase", value="share")
    assert share.loc["pre_kam"].tolist() == [0.667, 0.333], "2 and 1 of the interview's 3 segments"
    assert share.loc["formal_kam"].tolist() == [0.2, 0.6], "1 and 3 of the meeting's 5 segments, 2 uncoded"
    assert share.dtypes.unique().tolist() == [float]
    by_speaker = build_matrix(coded, rows="speaker", value="share")
    assert by_speaker.loc["Tom Reed"].tolist() == [0.0, 0.667], "Tom has 3 turns, 2 of them on trust"
    assert by_speaker.loc["Ann Lee"].tolist() == [0.5, 0.5]
    poles = build_matrix(coded, rows="phase", cols="attr:pole", value="share")
    assert poles.loc["formal_kam"].tolist() == [0.2, 0.6]


def test_normalize_row_divides_by_the_row_total(coded: Project) -> None:
    rows = build_matrix(coded, rows="phase", normalize="row")
    assert rows.loc["pre_kam"].tolist() == [0.667, 0.333]
    assert rows.loc["formal_kam"].tolist() == [0.25, 0.75], "1 and 3 of the 4 codings in the row"
    assert build_matrix(coded, rows="source_type", value="sources", normalize="row").loc["meeting"].tolist() == [
        0.5,
        0.5,
    ]


def test_normalize_keeps_an_empty_row_at_zero(coded: Project) -> None:
    human = build_matrix(coded, rows="phase", layer="human", normalize="row")
    assert list(human.index) == ["pre_kam", "formal_kam"]
    assert human.to_numpy().sum() == 0


def test_cooccurrence_counts_segments_with_both_codes_in_codebook_order(coded: Project) -> None:
    matrix = cooccurrence(coded)
    assert list(matrix.index) == list(matrix.columns) == ["hard_control", "soft_control"]
    assert matrix.to_numpy().tolist() == [[3, 1], [1, 4]], "diagonal: segments with the code; off it: Ann's turn"


@pytest.mark.parametrize(
    ("window", "together"),
    [
        (0, 1),  # Ann's turn alone
        (1, 3),  # + Sarah's hard/soft neighbours, + Tom 0 / Ann 1
        (2, 4),  # + I (0) and Sarah (2) in the interview
        (3, 5),  # + Ann (1) and Tom's last turn (4); the lunch and coffee turns carry nothing
        (10, 5),  # never across sources
    ],
)
def test_cooccurrence_window_counts_segment_pairs_within_n(coded: Project, window: int, together: int) -> None:
    matrix = cooccurrence(coded, window=window)
    assert matrix.loc["hard_control", "soft_control"] == matrix.loc["soft_control", "hard_control"] == together
    assert (matrix.loc["hard_control", "hard_control"], matrix.loc["soft_control", "soft_control"]) == (3, 4)


def test_cooccurrence_reads_the_layer(coded: Project) -> None:
    decide(coded, "ana", _segment(coded, "m/m9", 4), "hard_control", "add")
    assert cooccurrence(coded).loc["hard_control", "soft_control"] == 2, "auto: the suggestion and ana's code"
    human = cooccurrence(coded, layer="human")
    assert human.to_numpy().tolist() == [[1, 0], [0, 0]]
    decide(coded, "ana", _segment(coded, "m/m9", 1), "soft_control", "reject")
    assert cooccurrence(coded).loc["soft_control", "soft_control"] == 3, "a rejected suggestion no longer counts"


def test_build_matrix_code_by_code_is_cooccurrence(coded: Project) -> None:
    assert build_matrix(coded, rows="code", cols="code", window=1).equals(cooccurrence(coded, window=1))
    assert build_matrix(coded, rows="code", cols="code", normalize="row").loc["hard_control"].tolist() == [0.75, 0.25]


def test_cooccurrence_pairs_largest_first(coded: Project) -> None:
    pairs = cooccurrence_pairs(cooccurrence(coded, window=3))
    assert pairs.to_dict(orient="records") == [
        {"code": "hard_control", "with": "soft_control", "count": 5, "code_segments": 3, "with_segments": 4}
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value": "percent"}, "unknown value 'percent' in value; choose from: segments, share, sources, speakers"),
        ({"normalize": "column"}, "unknown normalization 'column' in normalize; choose from: none, row"),
        ({"rows": "code", "cols": "code", "window": -1}, "window must be a whole number of segments, 0 or more"),
        ({"rows": "phase", "window": 2}, "window applies to the co-occurrence matrix only"),
        ({"rows": "code", "cols": "attr:pole"}, "rows code goes with cols code"),
        ({"rows": "code", "cols": "code", "value": "sources"}, "co-occurrence counts segments"),
    ],
)
def test_bad_requests_say_what_to_use(coded: Project, kwargs: dict, message: str) -> None:
    with pytest.raises(QualkamError, match=message.replace("-", r"\-")):
        build_matrix(coded, **kwargs)


# -- the CLI --------------------------------------------------------------------------------


def test_cli_share_table(runner: CliRunner, coded: Project) -> None:
    result = _run(runner, "matrix", "--value", "share", "--project", coded.path)
    assert result.exit_code == 0, result.output
    assert "share · phase x code · from auto" in " ".join(result.output.split())
    assert "0.667" in result.output and "0.600" in result.output


def test_cli_csv_on_stdout_is_clean_and_out_file_written(runner: CliRunner, coded: Project, tmp_path: Path) -> None:
    out = tmp_path / "share.csv"
    result = runner.invoke(
        app, ["matrix", "--normalize", "row", "--format", "csv", "--out", str(out), "--project", str(coded.path)]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "phase,hard_control,soft_control",
        "pre_kam,0.667,0.333",
        "formal_kam,0.25,0.75",
    ]
    assert f"wrote {out}" in result.stderr and "wrote" not in result.stdout
    assert out.read_text(encoding="utf-8") == result.stdout


def test_cli_cooccurrence_small_square_and_csv(runner: CliRunner, coded: Project) -> None:
    table = _run(runner, "matrix", "--rows", "code", "--cols", "code", "--window", "1", "-p", coded.path)
    assert table.exit_code == 0, table.output
    assert "co-occurrence (window 1) · code x code · from auto" in " ".join(table.output.split())
    as_csv = _run(
        runner, "matrix", "--rows", "code", "--cols", "code", "--window", "3", "--format", "csv", "-p", coded.path
    )
    rows = list(csv.reader(io.StringIO(as_csv.output)))
    assert rows == [["code", "hard_control", "soft_control"], ["hard_control", "3", "5"], ["soft_control", "5", "4"]]


def test_cli_plot_writes_png_and_svg(runner: CliRunner, coded: Project, tmp_path: Path) -> None:
    png, svg = tmp_path / "plots" / "phase.png", tmp_path / "cooc.svg"
    result = _run(runner, "matrix", "--value", "share", "--plot", png, "-p", coded.path)
    assert result.exit_code == 0, result.output
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    result = _run(runner, "matrix", "--rows", "code", "--cols", "code", "--plot", svg, "-p", coded.path)
    assert result.exit_code == 0, result.output
    text = svg.read_text(encoding="utf-8")
    assert "<svg" in text and "hard_control" in text and "co-occurrence" in text
    assert not list(tmp_path.glob("**/.*.tmp")), "no temporary files left behind"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--value", "words"], "Invalid value for '--value': unknown value 'words'; choose from"),
        (["--normalize", "col"], "Invalid value for '--normalize': unknown normalize 'col'; choose from"),
        (["--plot", "heat.jpg"], "heat.jpg: cannot draw a heatmap as '.jpg'; name the file .png, .svg or .pdf"),
        (["--plot", "heat"], "cannot draw a heatmap as no suffix"),
        (["--rows", "code", "--cols", "code", "--window", "-1"], "--window must be a whole number"),
        (
            ["--rows", "code", "--cols", "attr:pole"],
            "--rows code goes with --cols code (the co-occurrence matrix), not --cols attr:pole",
        ),
        (["--format", "xlsx"], "Invalid value for '--format'"),
    ],
)
def test_cli_bad_input_exits_2_with_the_fix(
    runner: CliRunner, coded: Project, tmp_path: Path, args: list[str], message: str
) -> None:
    result = _run(runner, "matrix", *args, "-p", coded.path)
    assert result.exit_code == 2
    assert message in said(result.output), result.output
    assert not (tmp_path / "heat.jpg").exists()


def test_cli_cooccurrence_of_many_codes_lists_pairs(
    runner: CliRunner, coded: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qualkam.cli.matrix as matrix_cli

    monkeypatch.setattr(matrix_cli, "SMALL_SQUARE", 1)  # as if the 40 codes of the KAM codebook were in use
    monkeypatch.setattr(matrix_cli, "TERMINAL_PAIRS", 0)
    result = _run(runner, "matrix", "--rows", "code", "--cols", "code", "-p", coded.path)
    assert result.exit_code == 0
    assert "together" in result.output and "code total" in result.output
    assert "... 1 more pair; --format csv or --plot FILE.png for the whole matrix" in result.output


def test_one_person_in_two_spellings_is_one_row_everywhere(tmp_path: Path, small_codebook) -> None:
    """``Ann Lee`` in one transcript and ``ANN LEE`` in another: one row in a matrix by speaker,
    in a query's counts and in negative cases, and a speaker filter (either spelling) counts
    what that row counts."""
    from qualkam.analysis.excerpts import retrieve
    from qualkam.analysis.negative import negative_cases
    from qualkam.analysis.query import count_by, run_query

    write(tmp_path / "src" / "a.md", "---\nid: a\nphase: p1\n---\nAnn Lee: We follow the procedure.\n")
    write(tmp_path / "src" / "b.md", "---\nid: b\nphase: p1\n---\nANN LEE: The procedure again.\n\nBo: Trust.\n")
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        ids = segment_ids(project)
        for segment in ids.values():
            decide(project, "ana", segment, "hard_control", "add")
        table = build_matrix(project, rows="speaker", layer="human")
        counts = count_by(project, run_query(project, "hard_control", layer="human"), "speaker")
        for spelling in ("Ann Lee", "ANN LEE", "ann lee"):
            assert len(retrieve(project, speakers=[spelling], layer="human")) == 2
        negative = negative_cases(project, "hard_control", compare="phase", layer="human", kinds=["speaker"])
    assert table.index.tolist() == ["Ann Lee", "Bo"] and table.loc["Ann Lee", "hard_control"] == 2
    assert counts.set_index("speaker")["segments"].to_dict() == {"Ann Lee": 2, "Bo": 1}
    assert negative.empty  # each of the two is coded: no spelling passes for a second person
