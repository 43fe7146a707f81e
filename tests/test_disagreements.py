"""Disagreements between coders: the differing units, confusion, agreement, prevalence.

Every expected number below is counted by hand from the codings in the fixture:

    int-a position   0    1     2    3    4    5        int-b   0    1
    ana              H    H,S   -    S    -    H        (not seen)
    ben              H    H     S    S    -    -                S    -
    cy               H    H     -    S    S    H        (not seen)

(H = hard_control, S = soft_control, - = no code.)
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.analysis.disagreements import PER_UNIT, disagreements, render_markdown
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.render.html import disagreements_page
from qualkam.store.project import Project

from .conftest import run_cli as _run
from .conftest import segment_ids, write

SIX_TURNS = """\
---
id: int-a
type: interview
participants: {I: Researcher, Sam: {role: Buyer}}
---
I: How were the sales targets set?
Sam: From head office, by reporting line.
I: And now? <b>really</b>
Sam: We trust each other. It works.
I: Anything else?
Sam: Follow the procedure, always.
"""

OTHER = (
    "---\nid: int-b\ntype: interview\n---\nI: And the reporting lines?\nR: We trust each other. Gut feeling, mostly.\n"
)

H, S = "hard_control", "soft_control"
CODINGS = {
    "ana": {("int-a", 0): {H}, ("int-a", 1): {H, S}, ("int-a", 3): {S}, ("int-a", 5): {H}},
    "ben": {("int-a", 0): {H}, ("int-a", 1): {H}, ("int-a", 2): {S}, ("int-a", 3): {S}, ("int-b", 0): {S}},
    "cy": {("int-a", 0): {H}, ("int-a", 1): {H}, ("int-a", 3): {S}, ("int-a", 4): {S}, ("int-a", 5): {H}},
}


def build(tmp_path: Path, small_codebook, coders: tuple[str, ...]) -> Path:
    """A project where the named coders coded as in the table above."""
    write(tmp_path / "src" / "a.md", SIX_TURNS)
    write(tmp_path / "src" / "b.md", OTHER)
    db = tmp_path / "p.db"
    with Project.open(db, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        seg = segment_ids(project)
        for coder in coders:
            for where, codes in CODINGS[coder].items():
                for code in sorted(codes):
                    decide(project, coder, seg[where], code, "accept")
        # ben decided on int-a position 4 and int-b position 1 too: rejecting keeps the set empty.
        if "ben" in coders:
            decide(project, "ben", seg[("int-a", 4)], H, "reject")
    return db


@pytest.fixture
def two(tmp_path: Path, small_codebook) -> Path:
    return build(tmp_path, small_codebook, ("ana", "ben"))


@pytest.fixture
def three(tmp_path: Path, small_codebook) -> Path:
    return build(tmp_path, small_codebook, ("ana", "ben", "cy"))


def test_two_coders_units_confusion_agreement_prevalence(two: Path) -> None:
    with Project.open(two) as project:
        report = disagreements(project)
        seg = segment_ids(project)
    assert report.coders == ["ana", "ben"] and report.codes == [H, S]
    assert (report.compared, report.skipped, report.differ) == (6, 2, 3), "int-b is missing for ana"
    assert list(report.units["segment"]) == [seg[("int-a", p)] for p in (1, 2, 5)]
    assert [tuple(r) for r in report.units[["ana", "ben"]].itertuples(index=False)] == [
        ("hard_control; soft_control", "hard_control"),
        ("", "soft_control"),
        ("hard_control", ""),
    ]
    assert report.units["speaker"].tolist() == ["Sam", "I", "Sam"]
    assert "<b>really</b>" in report.units["text"].iloc[1]

    confusion = report.confusion.set_index("code")
    assert confusion.loc[H, ["units", "both", "only_a", "only_b", "neither"]].tolist() == [6, 2, 1, 0, 3]
    assert confusion.loc[S, ["units", "both", "only_a", "only_b", "neither"]].tolist() == [6, 1, 1, 1, 3]
    assert confusion.loc[H, "agreement"] == pytest.approx(5 / 6) and confusion.loc[S, "agreement"] == pytest.approx(
        4 / 6
    )

    assert report.agreement.loc["ana", "ben"] == pytest.approx(9 / 12) == report.agreement.loc["ben", "ana"]
    assert report.agreement.loc["ana", "mean"] == pytest.approx(0.75)

    assert report.seen == {"ana": 6, "ben": 8}
    assert report.prevalence.loc[H].tolist() == pytest.approx([3 / 6, 2 / 8])
    assert report.prevalence.loc[S].tolist() == pytest.approx([2 / 6, 3 / 8])
    assert report.prevalence.loc[PER_UNIT].tolist() == pytest.approx([5 / 6, 5 / 8]), "ana codes more per unit"


def test_three_coders_pairwise(three: Path) -> None:
    with Project.open(three) as project:
        report = disagreements(project)
        seg = segment_ids(project)
    assert (report.compared, report.skipped) == (6, 2)
    assert list(report.units["segment"]) == [seg[("int-a", p)] for p in (1, 2, 4, 5)]
    pairs = report.confusion.set_index(["code", "coder_a", "coder_b"])
    cols = ["both", "only_a", "only_b", "neither"]
    assert pairs.loc[(H, "ana", "cy"), cols].tolist() == [3, 0, 0, 3]
    assert pairs.loc[(S, "ana", "cy"), cols].tolist() == [1, 1, 1, 3]
    assert pairs.loc[(H, "ben", "cy"), cols].tolist() == [2, 0, 1, 3]
    assert pairs.loc[(S, "ben", "cy"), cols].tolist() == [1, 1, 1, 3]
    assert len(report.confusion) == 2 * 3, "two codes x three pairs"
    matrix = report.agreement
    assert matrix.loc["ana", "cy"] == pytest.approx(10 / 12) and matrix.loc["ben", "cy"] == pytest.approx(9 / 12)
    assert matrix.loc["ben", "mean"] == pytest.approx(0.75), "ben departs most from the others"
    assert matrix.loc["ana", "mean"] == pytest.approx((9 / 12 + 10 / 12) / 2)


def test_code_filter_and_coder_choice(three: Path) -> None:
    with Project.open(three) as project:
        soft = disagreements(project, coders=["ana", "ben"], codes=[S])
        parent = disagreements(project, coders=["ana", "ben"], codes=["control"])
        with pytest.raises(QualkamError, match="unknown code 'nope'"):
            disagreements(project, codes=["nope"])
        with pytest.raises(QualkamError, match="unknown coder"):
            disagreements(project, coders=["ana", "zed"])
        with pytest.raises(QualkamError, match="unknown unit '.*' in unit"):
            disagreements(project, unit="word")
    assert soft.codes == [S] and soft.differ == 2, "only the soft_control differences: positions 1 and 2"
    assert list(soft.units["ana"]) == ["soft_control", ""]
    assert parent.codes == [H, S], "a parent takes its children; the unused parent adds no row"


def test_kappa_from_the_agreement_engine(two: Path) -> None:
    pytest.importorskip("qualkam.agreement")
    with Project.open(two) as project:
        report = disagreements(project)
    assert report.kappa is not None
    # po = 9/12; ana gives 5 of 12, ben 4 of 12: pe = (5*4 + 7*8) / 144; kappa = 8/17.
    assert report.kappa.loc["ana", "ben"] == pytest.approx(8 / 17)


def test_sentence_units(two: Path) -> None:
    with Project.open(two) as project:
        report = disagreements(project, unit="sentence")
    # Two turns hold two sentences: 'And now? <b>really</b>' and 'We trust each other. It works.'
    assert report.compared == 8
    assert report.differ == 4 and all("." in u for u in report.units["unit"]), "both sentences of position 2"


def test_markdown_and_html_hold_every_part(two: Path) -> None:
    with Project.open(two) as project:
        report = disagreements(project)
    md = render_markdown(report)
    for part in (
        "## Units where the coders differ (3)",
        "## Confusion per code",
        "## Agreement between coders",
        "## Prevalence per coder",
        "| code | units | both | only ana | only ben | neither | agreement |",
        "- **ana**: (no code)",
        "6 compared (seen by every coder) · 2 skipped as missing",
    ):
        assert part in md, part
    assert "\\<b\\>really\\</b\\>" in md, "transcript text is escaped"
    page = disagreements_page(report)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    assert "&lt;b&gt;really&lt;/b&gt;" in page and "<b>really" not in page
    assert page.count("<table") == 3 + (report.kappa is not None) and "only ben" in page and "0.750" in page


def test_cli_table_csv_md_html(runner: CliRunner, two: Path, tmp_path: Path) -> None:
    table = _run(runner, "disagreements", "--project", two)
    assert table.exit_code == 0, table.output
    for title in ("Units where the coders differ (3)", "Confusion per code", "Percent agreement", "Prevalence"):
        assert title in table.output
    assert "6 compared" in table.output and "2 skipped as missing" in table.output

    piped = _run(runner, "disagreements", "--project", two, "--format", "csv", "--code", S)
    rows = list(csv.DictReader(io.StringIO(piped.stdout)))
    assert [(r["ana"], r["ben"]) for r in rows] == [("soft_control", ""), ("", "soft_control")]
    assert list(rows[0]) == ["unit", "source", "segment", "speaker", "text", "ana", "ben"]

    for name in ("audit.md", "audit.html"):
        written = _run(runner, "disagreements", "--project", two, "--coders", "ana,ben", "--out", tmp_path / name)
        assert written.exit_code == 0 and (tmp_path / name).read_text(encoding="utf-8").count("Prevalence") >= 1

    bad = _run(runner, "disagreements", "--project", two, "--out", tmp_path / "x.txt")
    assert bad.exit_code == 2 and "cannot tell the format" in bad.output
    alone = _run(runner, "disagreements", "--project", two, "--coders", "ana")
    assert alone.exit_code == 2 and "at least two coders" in alone.output
