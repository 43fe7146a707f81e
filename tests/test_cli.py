"""The CLI end to end with Typer's CliRunner: exit codes, messages, outputs, no tracebacks."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.cli import app

from .conftest import FIXTURES, INTERVIEW, imported_modules, suggestions_in_order, write
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
        segment = suggestions_in_order(project)[0][0]
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
        decide(project, "ana", suggestions_in_order(project)[0][0], "kam_context", "add")
    cli = _run(runner, "code", folder, "-c", small_codebook_path, "--project", db, "--out", tmp_path / "out")
    assert cli.exit_code == 2
    said = " ".join(cli.stderr.split())
    assert "drop --codebook;" in said and "add --replace-codebook;" in said


# -- a light start, lazy commands, the error boundary (issue 12, points 4 and 7) ----------------
HEAVY = ("spacy", "pandas", "sklearn", "matplotlib")
CORE = ("sources", "coding", "store", "analysis", "agreement", "interchange", "render")


@pytest.mark.parametrize("args, code", [(["--help"], 0), (["--version"], 0), ([], 2)])
def test_help_imports_nothing_heavy(args: list[str], code: int) -> None:
    """`qualkam --help` lists every command without importing spaCy, pandas, scikit-learn,
    matplotlib, or any core module: the command modules load when a command runs."""
    modules = imported_modules(*args, code=code)
    assert "qualkam.cli.app" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    core = sorted(m for m in modules if m.startswith(tuple(f"qualkam.{p}" for p in CORE)))
    commands = sorted(
        m for m in modules if m.startswith("qualkam.cli.") and m not in ("qualkam.cli.app", "qualkam.cli.console")
    )
    assert not heavy and not core and not commands, (heavy, core, commands)


def test_version(runner: CliRunner) -> None:
    from qualkam import __version__

    for flag in ("--version", "-V"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0 and result.stdout == f"qualkam {__version__}\n"


def _load_all() -> None:
    import importlib

    from qualkam.cli.app import COMMANDS

    for lazy in COMMANDS.values():
        importlib.import_module(lazy.module)


def test_every_command_is_registered_lazily_under_its_name() -> None:
    """COMMANDS names every command with the module that defines it; its summary is the first
    paragraph of the command's own help."""
    import inspect

    import typer

    from qualkam.cli.app import COMMANDS

    _load_all()
    group = typer.main.get_group(app)
    loaded = dict(group.commands.loaded)  # type: ignore[attr-defined]
    assert set(loaded) == set(COMMANDS)  # registered in import order; --help lists COMMANDS' order
    for name, lazy in COMMANDS.items():
        command = loaded[name]
        first = inspect.cleandoc(command.help or "").split("\n\n")[0]
        assert lazy.summary == first, name
        defined_in = getattr(command.callback, "__module__", None)
        if hasattr(command, "commands"):  # a group: its commands come from the same module
            defined_in = next(iter(command.commands.values())).callback.__module__
        assert defined_in == lazy.module, name


def test_help_is_the_same_lazy_or_loaded(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    _load_all()
    loaded = runner.invoke(app, ["--help"], env={"COLUMNS": "100"})
    monkeypatch.setattr(app, "registered_commands", [])  # as in a fresh `qualkam --help`
    monkeypatch.setattr(app, "registered_groups", [])
    lazy = runner.invoke(app, ["--help"], env={"COLUMNS": "100"})
    assert lazy.exit_code == loaded.exit_code == 0
    assert lazy.output == loaded.output
    assert "disagreements" in lazy.output and "export" in lazy.output


def test_a_mistyped_command_gets_a_did_you_mean(runner: CliRunner) -> None:
    result = runner.invoke(app, ["matrx"])
    assert result.exit_code == 2 and "Did you mean 'matrix'?" in result.output


@pytest.fixture
def empty_project(tmp_path: Path) -> Path:
    from qualkam.store.project import Project

    db = tmp_path / "p.db"
    Project.open(db, create=True).close()
    return db


def test_a_core_error_names_the_commands_flag(
    runner: CliRunner, empty_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The core speaks of its argument (`layer`); the CLI shows the option (`--from`)."""
    from qualkam.cli import matrix
    from qualkam.errors import QualkamError

    def fail(*args: object, **kwargs: object) -> None:
        raise QualkamError("unknown layer 'x' in {argument}; choose from: auto", argument="layer")

    monkeypatch.setattr(matrix, "build_matrix", fail)
    result = _run(runner, "matrix", "--project", empty_project)
    assert result.exit_code == 2
    assert "unknown layer 'x' in --from; choose from: auto" in result.output


def test_a_core_error_inside_a_command_group_names_the_flag(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`codebook show`: the innermost group words it, a positional argument as its metavar."""
    from qualkam.cli import codebook
    from qualkam.errors import QualkamError

    def fail(path: str) -> None:
        raise QualkamError(f"{{argument}} {path!r} is not a codebook", argument="path")

    monkeypatch.setattr(codebook, "load_codebook", fail)
    result = _run(runner, "codebook", "show", "nope.yaml")
    assert result.exit_code == 2 and "PATH 'nope.yaml' is not a codebook" in result.output

    def fail_sources(*args: object, **kwargs: object) -> None:
        raise QualkamError("unknown source 'x' in {argument}", argument="sources")

    from qualkam.cli import sheet

    monkeypatch.setattr(sheet, "export_sheet", fail_sources)
    db = tmp_path / "p.db"
    from qualkam.store.project import Project

    Project.open(db, create=True).close()
    result = _run(runner, "sheet", "export", "--coder", "ana", "--project", db)
    assert result.exit_code == 2 and "unknown source 'x' in --source" in result.output


def test_a_core_error_can_name_several_arguments(runner: CliRunner, empty_project: Path) -> None:
    """`arguments=` lists the arguments a message names as `{NAME}`: the library writes their
    names, the CLI each one's flag; other braces stay as they are."""
    from qualkam.errors import QualkamError

    error = QualkamError(
        "drop {codebook} or add {replace_codebook}; {other}", arguments=("codebook", "replace_codebook")
    )
    assert error.arguments == ("codebook", "replace_codebook")
    assert str(error) == "drop codebook or add replace_codebook; {other}"
    assert error.worded({"codebook": "--codebook"}) == "drop --codebook or add replace_codebook; {other}"
    one = QualkamError("{argument} and {sheet_in}", argument="sheet_out", arguments=("sheet_in",))
    assert one.arguments == ("sheet_out", "sheet_in") and str(one) == "sheet_out and sheet_in"
    assert one.worded("--sheet-out") == "--sheet-out and sheet_in", "a string spells `argument`, as before"

    both = ("--sheet-out", "a.csv", "--sheet-in", "b.csv")
    result = _run(runner, "reconcile", "--coder", "a", "--coder", "b", "--decider", "c", *both, "-p", empty_project)
    assert result.exit_code == 2
    assert "--sheet-out writes a sheet, --sheet-in reads a filled one; give one of them" in result.output
    result = _run(runner, "review", "--coder", "a", "--phase", "x", "-p", empty_project)
    assert result.exit_code == 2 and "unknown phase 'x' in --phase" in result.output


def test_a_problem_with_a_file_names_the_argument_or_the_flag(
    runner: CliRunner, tmp_path: Path, small_codebook_path: Path
) -> None:
    """A file skipped for its encoding: the library's problem says `encoding`, `code` says --encoding."""
    from qualkam.coding.codebook import load_codebook
    from qualkam.coding.run import code_folder
    from qualkam.store.project import Project

    src = tmp_path / "src"
    src.mkdir()
    (src / "wide.txt").write_bytes("we trust each other".encode("utf-16-le"))
    write(src / "fine.txt", "We trust each other.")
    with Project.open(tmp_path / "lib.db", create=True) as project:
        report = code_folder(src, load_codebook(small_codebook_path), project, out_dir=None)
    (problem,) = report.problems
    assert str(problem).endswith("re-save as UTF-8 or pass encoding utf-16-le") and problem.arguments == ("encoding",)
    result = _run(runner, "code", src, "-c", small_codebook_path, "-p", tmp_path / "cli.db", "-o", tmp_path / "out")
    assert "re-save as UTF-8 or pass --encoding utf-16-le" in " ".join(result.stderr.split())


def test_an_argument_the_command_lacks_is_shown_as_a_flag() -> None:
    import typer

    from qualkam.cli.app import option_name

    _load_all()
    matrix = typer.main.get_group(app).commands["matrix"]
    assert option_name(matrix, "layer") == "--from"
    assert option_name(matrix, "sources") == "--source"
    assert option_name(matrix, "project") == "--project"
    assert option_name(matrix, "min_examples") == "--min-examples"


def test_fixed_choices_agree_with_the_core() -> None:
    """The CLI's Enums repeat the core's choices (the CLI must not import the core to start)."""
    from qualkam.agreement.units import UNITS
    from qualkam.analysis import disagreements, excerpts, matrix, trail
    from qualkam.cli import options
    from qualkam.cli.tables import FORMATS
    from qualkam.coding import review
    from qualkam.coding.blind import PREFER
    from qualkam.coding.run import SUGGEST_MODES
    from qualkam.coding.segment import Unit

    def values(enum: type) -> tuple[str, ...]:
        return tuple(m.value for m in enum)

    assert values(options.ExcerptFormat) == excerpts.FORMATS
    assert values(options.Status) == excerpts.STATUSES
    assert values(options.DisagreementFormat) == disagreements.FORMATS
    assert values(options.DisagreementUnit) == disagreements.UNIT_KINDS
    assert values(options.Value) == matrix.VALUES
    assert values(options.Normalize) == matrix.NORMALIZE
    assert values(options.Entity) == trail.ENTITIES
    assert values(options.ReliabilityUnit) == UNITS
    assert values(options.Prefer) == PREFER
    assert values(options.Suggest) == SUGGEST_MODES
    assert values(options.SegmentUnit) == values(Unit)
    assert values(options.TableFormat) == FORMATS
    assert values(options.ReviewStatus) == review.STATUSES
    assert values(options.Order) == review.ORDERS


@pytest.mark.parametrize(
    "args, choices",
    [
        (["reliability", "--help"], "[masi|jaccard]"),
        (["disagreements", "--help"], "[segment|sentence]"),
        (["project", "merge", "--help"], "[mine|theirs]"),
        (["code", "--help"], "[rules|model|both]"),
    ],
)
def test_help_lists_the_choices(runner: CliRunner, args: list[str], choices: str) -> None:
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0 and choices in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["reliability", "--distance", "jacard"],
        ["disagreements", "--unit", "sentense"],
        ["code", ".", "--suggest", "rule"],
        ["code", ".", "--unit", "turns"],
        ["codebook", "lint", "kam", "--format", "jsn"],
    ],
)
def test_a_bad_choice_is_a_usage_error_with_a_did_you_mean(runner: CliRunner, args: list[str]) -> None:
    result = _run(runner, *args)
    assert result.exit_code == 2
    assert "did you mean" in " ".join(result.output.replace("│", " ").split())


def test_filters_are_named_as_the_cores_arguments() -> None:
    """--source, --speaker, --phase, --code (and a repeatable --coder) are the parameters
    sources, speakers, phases, codes, coders: the core's argument names, so a core error about
    one of them shows its flag."""
    from .test_layer_names import _commands

    expected = {"--source": "sources", "--speaker": "speakers", "--phase": "phases", "--code": "codes"}
    wrong = {}
    paths = set()
    for path, command in _commands():
        paths.add(path)
        for param in command.params:
            for flag, name in expected.items():
                if flag in param.opts and param.name != name:
                    wrong[(path, flag)] = param.name
            if "--coder" in param.opts and getattr(param, "multiple", False) and param.name != "coders":
                wrong[(path, "--coder")] = param.name
    assert wrong == {}
    assert {"review", "reconcile"} <= paths
