"""``qualkam codebook lint``: a deliberately flawed small codebook, and kam on the sample project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.codebook import load_codebook
from qualkam.coding.decisions import decide
from qualkam.coding.lint import lint, pattern_lines
from qualkam.coding.run import code_folder
from qualkam.store.project import Project
from qualkam.store.segments import codings, segments

from .conftest import INTERVIEW, ROOT, write

# Flaws, on purpose: empty_leaf has no patterns; 'purple elephant' never occurs; 'sales
# target' (hard) and 'sales targets' (soft) are one phrase once lemmatized; soft's 'gut
# feeling' only occurs inside its own exclusion, so it never gives evidence.
FLAWED = """\
name: Flawed
version: "1"
codes:
  - id: control
    label: Mode of control
    children:
      - id: hard_control
        label: Hard control
        patterns:
          lemmas:
            - sales target
            - purple elephant
      - id: soft_control
        label: Soft control
        patterns:
          lemmas: [trust each other, sales targets, gut feeling]
          exclude_lemmas: [gut feelings matter]
      - id: empty_leaf
        label: Nothing to match
"""


@pytest.fixture
def flawed(tmp_path: Path) -> Path:
    return write(tmp_path / "flawed.yaml", FLAWED)


@pytest.fixture
def flawed_project(tmp_path: Path, flawed: Path) -> Path:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    path = tmp_path / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", load_codebook(flawed), project, out_dir=None)
    return path


def _kinds(report) -> dict[str, list[tuple[str, str | None]]]:
    found: dict[str, list[tuple[str, str | None]]] = {}
    for f in report.findings:
        found.setdefault(f.kind, []).append((f.code, f.pattern))
    return found


def test_static_checks_without_a_project(flawed: Path) -> None:
    report = lint(load_codebook(flawed))
    kinds = _kinds(report)
    assert kinds["no_patterns"] == [("empty_leaf", None)]  # the parent 'control' is a container: not listed
    assert kinds["shared_pattern"] == [("hard_control", "lemma:sales target"), ("soft_control", "lemma:sales targets")]
    assert "unmatched_pattern" not in report.checks
    assert any("only the static checks ran" in n for n in report.notes)


def test_findings_name_the_line(flawed: Path) -> None:
    book = load_codebook(flawed)
    lines = FLAWED.splitlines()
    where = {(f.code, f.pattern): f.where for f in lint(book).findings}
    line = int(where["hard_control", "lemma:sales target"].rsplit(":", 1)[1])
    assert lines[line - 1].strip() == "- sales target"
    line = int(where["empty_leaf", None].rsplit(":", 1)[1])
    assert "id: empty_leaf" in lines[line - 1]
    assert pattern_lines(book)["soft_control", "lemma:gut feeling"] == 16


def test_project_checks_unmatched_and_dropped_patterns(flawed: Path, flawed_project: Path) -> None:
    with Project.open(flawed_project) as project:
        report = lint(load_codebook(flawed), project)
    unmatched = {(f.code, f.pattern): f.message for f in report.findings if f.kind == "unmatched_pattern"}
    assert set(unmatched) == {("hard_control", "lemma:purple elephant"), ("soft_control", "lemma:gut feeling")}
    assert "matches nothing in 3 segments" in unmatched["hard_control", "lemma:purple elephant"]
    assert "inside an exclusion" in unmatched["soft_control", "lemma:gut feeling"]
    assert report.segments == 3
    assert any("no people's codings" in n for n in report.notes)


def test_parent_cooccurrence_needs_parent_codings(flawed: Path, flawed_project: Path) -> None:
    book = load_codebook(flawed)
    with Project.open(flawed_project) as project:
        s0, s1, s2 = [int(i) for i in segments(project)["segment"]]
        decide(project, "ana", s1, "hard_control", "accept")
        report = lint(book, project)
        assert "no_parent_cooccurrence" not in _kinds(report)
        assert any("needs parent codings" in n and "control" in n for n in report.notes)
        decide(project, "ana", s2, "control", "add")  # the parent is coded, but elsewhere
        report = lint(book, project)
        assert _kinds(report)["no_parent_cooccurrence"] == [("hard_control", None)]
        decide(project, "ben", s1, "control", "add")  # now they meet on s1
        assert "no_parent_cooccurrence" not in _kinds(lint(book, project))


def test_clean_codebook_exits_0(tmp_path: Path, runner: CliRunner) -> None:
    path = write(
        tmp_path / "clean.yaml",
        'name: Clean\nversion: "1"\ncodes:\n  - id: trust\n    label: Trust\n'
        "    patterns: {lemmas: [trust each other]}\n",
    )
    write(tmp_path / "src" / "int.md", INTERVIEW)
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", load_codebook(path), project, out_dir=None)
    result = runner.invoke(app, ["codebook", "lint", str(path), "--project", str(tmp_path / "p.db")])
    assert result.exit_code == 0, result.output
    assert "0 finding(s)" in result.stdout


def test_cli_flawed_exits_1_and_lists_everything(flawed: Path, flawed_project: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["codebook", "lint", str(flawed), "--project", str(flawed_project)])
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "'empty_leaf' is a leaf with no patterns" in out
    assert "'sales target' is also a pattern of soft_control ('sales targets')" in out
    assert "'purple elephant' matches nothing in 3 segments" in out
    assert "5 finding(s)" in out


def test_cli_default_codebook_is_the_projects(flawed_project: Path, runner: CliRunner) -> None:
    """Without PATH, lint reads the codebook version the project was coded with."""
    result = runner.invoke(app, ["codebook", "lint", "--project", str(flawed_project), "--format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["counts"] == {
        "no_patterns": 1,
        "shared_pattern": 2,
        "unmatched_pattern": 2,
        "no_parent_cooccurrence": 0,
    }
    assert data["project"] == str(flawed_project)
    assert {f["kind"] for f in data["findings"]} == {"no_patterns", "shared_pattern", "unmatched_pattern"}


def test_cli_static_only_says_so(flawed: Path, runner: CliRunner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no qualkam.db here
    result = runner.invoke(app, ["codebook", "lint", str(flawed)])
    assert result.exit_code == 1
    assert "static checks only" in result.stdout and "only the static checks ran" in result.stderr


def test_cli_errors_exit_2(flawed: Path, runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["codebook", "lint", str(flawed), "--project", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no qualkam project" in result.stderr
    result = runner.invoke(app, ["codebook", "lint", str(flawed), "--format", "csv"])
    assert result.exit_code == 2 and "unknown format 'csv'" in result.stderr


@pytest.fixture(scope="module")
def sample_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "qualkam.db"
    with Project.open(path, create=True) as project:
        code_folder(ROOT / "sample_transcripts", load_codebook("kam"), project, out_dir=None)
    return path


def test_kam_on_the_sample_project(sample_project: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["codebook", "lint", "kam", "--project", str(sample_project), "--format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["segments"] > 400
    unmatched = {(f["code"], f["pattern"]) for f in data["findings"] if f["kind"] == "unmatched_pattern"}
    # Real findings: phrases of the KAM study no sample transcript uses ...
    assert ("marketing_isolation", "lemma:ivory tower") in unmatched
    assert all(f["where"].startswith("codebooks/kam.yaml:") for f in data["findings"])
    # ... and not the phrases the samples do use (they are what the coding run suggested).
    with Project.open(sample_project) as project:
        fired = {
            (code, e["rule"])
            for code, evidence in codings(project, "suggestions")[["code", "evidence"]].itertuples(index=False)
            for e in evidence
        }
    assert fired and not (fired & unmatched)
