"""The CLI end to end with Typer's CliRunner: exit codes, messages, outputs, no tracebacks."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.cli import app

from .conftest import FIXTURES, INTERVIEW, write
from .conftest import run_cli as _run


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    write(src / "interviews" / "int.md", INTERVIEW)
    (src / "interviews" / "docx").mkdir()
    (src / "interviews" / "docx" / "mkt.docx").write_bytes((FIXTURES / "formats" / "interview.docx").read_bytes())
    write(
        src / "interviews" / "docx" / "metadata.yaml",
        "mkt.docx: {type: interview, date: 2011-06-01, "
        "participants: {I: Researcher, R: {role: Marketing Director, unit: KAM}}}\n",
    )
    write(
        src / "meetings" / "m9.vtt", "WEBVTT\n\n1\n00:00:01.000 --> 00:00:03.000\nTom Reed: We trust each other now.\n"
    )
    write(src / "meetings" / "metadata.csv", "file,type,meeting_number\nm9.vtt,meeting,9\n")
    return src


def test_code_writes_store_outputs_and_summary(
    runner: CliRunner, folder: Path, small_codebook_path: Path, tmp_path: Path
) -> None:
    db, out = tmp_path / "p.db", tmp_path / "out"
    result = _run(runner, "code", folder, "--codebook", small_codebook_path, "--project", db, "--out", out)
    assert result.exit_code == 0, result.output
    assert "files 3 · coded 3" in result.output
    assert "Segments per code and phase" in result.output and "soft_control" in result.output
    with open(out / "excerpts.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    required = {
        "source",
        "segment",
        "speaker",
        "role",
        "source_type",
        "phase",
        "start",
        "end",
        "code",
        "code_label",
        "coders",
        "rejected_by",
        "time_start",
        "time_end",
        "origin",
        "status",
        "score",
        "evidence",
        "text",
    }
    assert required <= set(rows[0])
    trust = [r for r in rows if r["source"] == "int-sales" and r["code"] == "soft_control"][0]
    assert (trust["speaker"], trust["role"], trust["phase"], trust["status"], trust["origin"]) == (
        "Sarah Collins",
        "Sales Director",
        "pre_kam",
        "suggested",
        "rule",
    )
    assert "trust each other [lemma:trust each other]" in trust["evidence"]
    matrix = (out / "matrix_phase_code.csv").read_text(encoding="utf-8").splitlines()
    assert matrix[0] == "phase,hard_control,soft_control"
    assert (out / "matrix_source_type_code.csv").read_text(encoding="utf-8").startswith("source_type,")

    again = _run(runner, "code", folder, "--codebook", small_codebook_path, "--project", db, "--out", out)
    assert again.exit_code == 0 and "coded 0 · unchanged 3" in again.output


def test_sentence_and_paragraph_units(
    runner: CliRunner, folder: Path, small_codebook_path: Path, tmp_path: Path
) -> None:
    for unit, segments in (("sentence", 13), ("paragraph", 9)):
        result = _run(
            runner,
            "code",
            folder,
            "-c",
            small_codebook_path,
            "-p",
            tmp_path / f"{unit}.db",
            "-o",
            tmp_path / unit,
            "--unit",
            unit,
        )
        assert result.exit_code == 0
        assert f"{segments} segments ({unit})" in result.output


def test_bad_files_are_reported_once_and_good_ones_coded(
    runner: CliRunner, folder: Path, small_codebook_path: Path, tmp_path: Path
) -> None:
    (folder / "empty.txt").write_bytes(b"")
    (folder / "photo.txt").write_bytes(b"\x89PNG\x00\x00\x00IHDR")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04")
    write(folder / "bad.md", "---\ntitle: [oops\n---\nText.\n")
    locked = write(folder / "locked.txt", "secret")
    locked.chmod(0)
    result = _run(runner, "code", folder, "-c", small_codebook_path, "-p", tmp_path / "p.db", "-o", tmp_path / "out")
    locked.chmod(0o644)
    assert result.exit_code == 1
    output = result.output
    for name, reason in (
        ("empty.txt", "empty file"),
        ("photo.txt", "binary file"),
        ("notes.pdf", "not a readable PDF"),
        ("slides.pptx", "unknown file type '.pptx'"),
        ("bad.md", "malformed front matter"),
    ):
        assert output.count(name) == 1, f"{name} reported once:\n{output}"
        (line,) = [line for line in output.splitlines() if name in line]
        assert line.startswith("skipped: ") and reason in line
    if os.geteuid() != 0:  # root can read a chmod-0 file
        assert "locked.txt: cannot read file" in output
        assert "coded 3 ·" in output
    else:
        assert "coded 4 ·" in output


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "folder not found"),
        ("empty", "no files in"),
        ("file", "is not a folder"),
    ],
)
def test_bad_folders_stop_with_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path, small_codebook_path: Path, setup: str, message: str
) -> None:
    target = tmp_path / "target"
    if setup == "empty":
        target.mkdir()
    elif setup == "file":
        target.write_text("x")
    result = _run(runner, "code", target, "-c", small_codebook_path, "-p", tmp_path / "p.db", "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert message in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_missing_codebook_and_missing_model(
    runner: CliRunner, folder: Path, tmp_path: Path, small_codebook_path: Path
) -> None:
    result = _run(runner, "code", folder, "-c", tmp_path / "nope.yaml", "-p", tmp_path / "p.db")
    assert result.exit_code == 2 and "codebook not found" in result.output
    result = _run(
        runner, "code", folder, "-c", small_codebook_path, "-p", tmp_path / "p.db", "--model", "en_core_web_zz"
    )
    assert result.exit_code == 2
    assert (
        "spaCy pipeline 'en_core_web_zz' is not installed" in result.output
        and "pip install en_core_web_zz" in result.output
    )


def test_codebook_validate_and_show(runner: CliRunner, small_codebook_path: Path, tmp_path: Path) -> None:
    result = _run(runner, "codebook", "validate", small_codebook_path)
    assert result.exit_code == 0
    assert "valid · 3 codes (2 leaves), 2 phases, 2 phase rules, 5 patterns" in result.output
    shown = _run(runner, "codebook", "show", small_codebook_path)
    assert shown.exit_code == 0
    for text in ("Small test codebook", "Pre-KAM", "Mode of control", "Hard control", "soft_control", "pole=formal"):
        assert text in shown.output
    bad = write(
        tmp_path / "bad.yaml",
        'name: x\nversion: "1"\ncodes:\n  - {id: a, label: A, parent: zz}\n  - {id: a, label: B}\n',
    )
    result = _run(runner, "codebook", "validate", bad)
    assert result.exit_code == 2
    assert "bad.yaml:4: code 'a'.parent: unknown parent 'zz'" in result.output
    assert "bad.yaml:5: code 'a': duplicate code id" in result.output


def test_matrix_command(runner: CliRunner, folder: Path, small_codebook_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    _run(runner, "code", folder, "-c", small_codebook_path, "-p", db, "-o", tmp_path / "out")
    result = _run(
        runner, "matrix", "--rows", "phase", "--cols", "attr:pole", "--project", db, "--out", tmp_path / "poles.csv"
    )
    assert result.exit_code == 0
    assert (tmp_path / "poles.csv").read_text(encoding="utf-8").splitlines()[0] == "phase,formal,post_bureaucratic"
    assert "bureaucratic" in result.output and "formal_kam" in result.output
    result = _run(runner, "matrix", "--rows", "role", "--value", "sources", "--project", db)
    assert result.exit_code == 0 and "Sales Director" in result.output
    result = _run(runner, "matrix", "--project", tmp_path / "none.db")
    assert result.exit_code == 2 and "no qualkam project at" in result.output
    result = _run(runner, "matrix", "--rows", "nonsense", "--project", db)
    assert result.exit_code == 2 and "unknown row attribute 'nonsense' in --rows; choose from: phase" in result.output


def test_failed_export_keeps_the_good_file(
    runner: CliRunner, folder: Path, small_codebook_path: Path, tmp_path: Path, monkeypatch
) -> None:
    db, out = tmp_path / "p.db", tmp_path / "out"
    _run(runner, "code", folder, "-c", small_codebook_path, "-p", db, "-o", out)
    good = (out / "excerpts.csv").read_bytes()
    import pandas as pd

    def broken(self, handle, **kwargs):
        handle.write("source,seg")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    write(folder / "new.txt", "We trust each other.")
    result = _run(runner, "code", folder, "-c", small_codebook_path, "-p", db, "-o", out)
    assert result.exit_code != 0
    assert (out / "excerpts.csv").read_bytes() == good
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_every_command_has_help(runner: CliRunner) -> None:
    """Walk the whole command tree: every command and sub-command explains itself."""
    import typer

    def walk(command, path):
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    paths = list(walk(typer.main.get_command(app), []))
    assert len(paths) > 25
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, path
        command = typer.main.get_command(app)
        for name in path:
            command = command.commands[name]
        assert (command.help or "").strip(), f"{' '.join(path)} has no help text"


def test_the_codebook_choice_names_arguments_in_the_library_and_flags_on_the_command_line(
    runner: CliRunner, folder: Path, small_codebook_path: Path, tmp_path: Path
) -> None:
    from qualkam.coding.codebook import load_codebook
    from qualkam.coding.decisions import decide
    from qualkam.coding.run import CodebookChangeError, choose_codebook, code_folder
    from qualkam.store.project import Project

    with Project.open(tmp_path / "lib.db", create=True) as project:
        (note,) = choose_codebook(project).notes
        assert "pass codebook PATH for your own" in str(note) and "--" not in str(note)
        code_folder(folder, load_codebook(small_codebook_path), project, out_dir=None)
        segment = project.query("SELECT segment_id FROM codings LIMIT 1")[0][0]
        decide(project, "ana", segment, "hard_control", "accept")
        with pytest.raises(CodebookChangeError) as refused:
            choose_codebook(project, "kam")
        message = str(refused.value)
        assert "drop codebook;" in message and "add replace_codebook;" in message
        assert "--codebook" not in message and "--replace-codebook" not in message
        (replaced,) = choose_codebook(project, "kam", replace=True).notes
        assert "(replace_codebook)" in str(replaced)

    db = tmp_path / "cli.db"
    first = _run(runner, "code", folder, "--project", db, "--out", tmp_path / "out")
    assert "pass --codebook PATH for your own" in first.stderr
    with Project.open(db) as project:
        decide(project, "ana", project.query("SELECT segment_id FROM codings LIMIT 1")[0][0], "kam_context", "add")
    cli = _run(runner, "code", folder, "-c", small_codebook_path, "--project", db, "--out", tmp_path / "out")
    assert cli.exit_code == 2
    said = " ".join(cli.stderr.split())
    assert "drop --codebook;" in said and "add --replace-codebook;" in said
