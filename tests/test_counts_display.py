"""Counts and labels shown as they are (issue 11 §3): integer attributes as integers, a
matrix's title in the orientation it is printed, hidden empty rows said, "(none)" never
counted as a phase, and heatmaps as PDF too."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qualkam.analysis.matrix import build_matrix
from qualkam.coding.codebook import load_codebook
from qualkam.coding.run import code_folder
from qualkam.render.plot import heatmap, image_format
from qualkam.render.report import build_report
from qualkam.store.project import Project

from .conftest import run_cli, write

# Seven codes, one per word, so a matrix by source type is wider than tall (and printed
# transposed); 'gamma' never occurs, so its row is empty.
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma"]
CODEBOOK = (
    "name: Words\nversion: '1'\nphases:\n  - {id: early, label: Early}\n  - {id: late, label: Late}\ncodes:\n"
    + "".join(
        f"  - id: {w}_code\n    label: {w.title()}\n    attributes: {{group: g{i % 2}}}\n"
        f"    patterns:\n      lemmas: [{w}]\n"
        for i, w in enumerate(WORDS)
    )
)


def _source(name: str, kind: str, extra: str, words: list[str]) -> str:
    return f"---\nid: {name}\ntype: {kind}\n{extra}---\nAnn: {' and '.join(words)}.\n\nBob: nothing here.\n"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    write(tmp_path / "words.yaml", CODEBOOK)
    write(
        tmp_path / "src" / "a.md",
        _source("a", "interview", "phase: early\nword_count: 175\n", ["alpha", "beta", "delta"]),
    )
    write(
        tmp_path / "src" / "b.md", _source("b", "meeting", "phase: late\nword_count: 9\n", ["omega", "kappa", "sigma"])
    )
    write(tmp_path / "src" / "c.md", _source("c", "meeting", "", ["alpha", "sigma"]))
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", load_codebook(tmp_path / "words.yaml"), project, out_dir=None)
    return tmp_path / "p.db"


def test_integer_attributes_stay_integers_and_sort_as_numbers(db: Path, runner: CliRunner) -> None:
    with Project.open(db) as project:
        matrix = build_matrix(project, rows="word_count", cols="attr:group")
    assert list(matrix.index) == ["9", "175", "(none)"]
    table = run_cli(runner, "matrix", "--rows", "word_count", "--cols", "attr:group", "-p", db).stdout
    assert "175" in table and "175.0" not in table and "9.0" not in table
    rows = list(
        csv.reader(io.StringIO(run_cli(runner, "matrix", "--rows", "word_count", "--format", "csv", "-p", db).stdout))
    )
    assert [r[0] for r in rows[1:]] == ["9", "175", "(none)"]


def test_a_transposed_matrix_is_titled_as_printed_and_says_what_it_hides(db: Path, runner: CliRunner) -> None:
    result = run_cli(runner, "matrix", "--rows", "source_type", "-p", db)
    assert result.exit_code == 0, result.output
    text = result.stdout
    # codes down the side, source types across: the title reads the same way
    assert "segments · code x source_type · from auto" in " ".join(text.split())
    assert re.search(r"│ alpha_code\s+│", text) and not re.search(r"│ gamma_code", text)
    assert "1 empty row hidden: gamma_code" in " ".join(text.split())
    narrow = run_cli(runner, "matrix", "--rows", "source_type", "--cols", "attr:group", "-p", db).stdout
    assert "segments · source_type x attr:group · from auto" in " ".join(narrow.split())
    assert "hidden" not in narrow


def test_report_heatmaps_are_titled_as_drawn(db: Path) -> None:
    with Project.open(db) as project:
        page = build_report(project)
    assert "code x phase" in page and "code x source_type" in page
    assert "phase x code" not in page and "source_type x code" not in page


def test_pdf_heatmaps(tmp_path: Path, db: Path, runner: CliRunner) -> None:
    assert image_format("heat.PDF") == "pdf"
    data = heatmap(pd.DataFrame([[1, 2], [0, 3]], index=["a", "b"], columns=["x", "y"]), tmp_path / "heat.pdf")
    assert data.startswith(b"%PDF") and (tmp_path / "heat.pdf").read_bytes() == data
    again = heatmap(pd.DataFrame([[1, 2], [0, 3]], index=["a", "b"], columns=["x", "y"]), fmt="pdf")
    assert again == data, "the same matrix gives the same file"
    result = run_cli(runner, "matrix", "--plot", tmp_path / "m.pdf", "-p", db)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.pdf").read_bytes().startswith(b"%PDF")
    bad = run_cli(runner, "matrix", "--plot", tmp_path / "m.tiff", "-p", db)
    assert bad.exit_code == 2 and "name the file .png, .svg or .pdf" in bad.stderr.replace("\n", " ")


def test_triangulate_does_not_count_none_as_a_phase_or_a_type(db: Path, runner: CliRunner) -> None:
    """alpha_code and sigma_code are each in one phased source and in c, which has no phase."""
    from qualkam.analysis.triangulation import triangulation_table

    with Project.open(db) as project:
        rows = {r["code"]: r for r in triangulation_table(project).to_dict("records")}
    assert rows["alpha_code"]["phases"] == "early, (none)", "the list still says where the support is"
    table = run_cli(runner, "triangulate", "-p", db).stdout
    alpha = next(line for line in table.splitlines() if line.startswith("│ alpha_code"))
    cells = [c.strip() for c in alpha.strip("│").split("│")]
    # code, segments, sources, speakers, types, phases: interview + meeting are 2 types, 1 known phase
    assert cells[1:] == ["2", "2", "1", "2", "1"], alpha
    assert "(none) is not counted" in " ".join(table.split())
