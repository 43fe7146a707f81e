"""qualkam never reads its own files, and skips what --exclude and .qualkamignore name (issue 11, section 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qualkam.coding.run import code_folder
from qualkam.errors import InputError
from qualkam.sources.ingest import discover
from qualkam.store.project import Project
from qualkam.store.sources import source_paths

from .conftest import INTERVIEW, OTHER, run_cli, write


def _names(files: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in files]


def test_code_dot_inside_the_data_folder_twice_reads_no_qualkam_file(
    runner, tmp_path, small_codebook_path, monkeypatch
) -> None:
    src = tmp_path / "src"
    write(src / "int.md", INTERVIEW)
    write(src / "b.md", OTHER)
    monkeypatch.chdir(src)
    first = run_cli(runner, "code", ".", "-c", small_codebook_path)
    assert first.exit_code == 0, first.output
    # SQLite's journals, as a crash or a concurrent reader leaves them beside the store.
    for suffix in ("-wal", "-shm", "-journal"):
        (src / f"qualkam.db{suffix}").write_bytes(b"\x00" * 16)
    second = run_cli(runner, "code", ".", "-c", small_codebook_path)
    assert second.exit_code == 0, second.output
    assert "skipped" not in second.output.replace("skipped 0", "")
    assert "files 2 · coded 0 · unchanged 2" in second.output
    with Project.open(src / "qualkam.db") as project:
        assert set(source_paths(project).values()) == {"int.md", "b.md"}


def test_a_project_and_outputs_anywhere_in_the_folder_are_never_sources(tmp_path, small_codebook) -> None:
    src = tmp_path / "src"
    write(src / "int.md", INTERVIEW)
    store = src / "work" / "study.sqlite"
    with Project.open(store, create=True) as project:
        code_folder(src, small_codebook, project, out_dir=src / "results")
        (store.parent / "study.sqlite-wal").write_bytes(b"\x00")
        # An excerpt file written beside the outputs, and an old output folder elsewhere.
        write(src / "results" / "excerpts-by-hand.csv", "speaker,text\nAnn,We trust each other.\n")
        old = src / "older" / "run1"
        write(old / "excerpts.csv", "speaker,text\nAnn,We trust each other.\n")
        write(old / ".qualkam-outputs.json", json.dumps({"made_from": {}, "files": {}}))
        files, problems = discover(src, own=[store, src / "results"])
        assert _names(files, src) == ["int.md"]
        assert problems == []
        report = code_folder(src, small_codebook, project, out_dir=src / "results")
    assert report.problems == [] and report.files == 1


def test_outputs_written_into_the_data_folder_itself_are_not_sources(tmp_path, small_codebook) -> None:
    src = tmp_path / "src"
    write(src / "int.md", INTERVIEW)
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(src, small_codebook, project, out_dir=src)
        report = code_folder(src, small_codebook, project, out_dir=src)
    assert report.problems == [] and report.files == 1 and report.unchanged == 1


def test_exclude_globs_and_qualkamignore_files(tmp_path, small_codebook, runner, small_codebook_path) -> None:
    src = tmp_path / "src"
    write(src / "int.md", INTERVIEW)
    write(src / "b.md", OTHER)
    write(src / "notes.xyz", "not a transcript")
    write(src / "drafts" / "old.md", OTHER.replace("int-b", "old"))
    write(src / "team" / "keep.md", OTHER.replace("int-b", "keep"))
    write(src / "team" / "scratch.md", OTHER.replace("int-b", "scratch"))
    write(src / "team" / "deep" / "also.md", OTHER.replace("int-b", "also"))
    write(src / ".qualkamignore", "# drafts are not data\ndrafts/\n*.xyz\n")
    write(src / "team" / ".qualkamignore", "*.md\n!keep.md\n")
    files, problems = discover(src)
    assert _names(files, src) == ["b.md", "int.md", "team/keep.md"]
    assert problems == [], "excluded files are not reported as skipped"
    files, _ = discover(src, exclude=["b.md", "/team/keep.md"])
    assert _names(files, src) == ["int.md"]
    with Project.open(tmp_path / "p.db", create=True) as project:
        report = code_folder(src, small_codebook, project, out_dir=None, exclude=["team/"])
    assert report.problems == [] and report.files == 2
    result = run_cli(
        runner,
        "code",
        src,
        "-c",
        small_codebook_path,
        "-p",
        tmp_path / "q.db",
        "-o",
        tmp_path / "out",
        "--exclude",
        "int.md",
        "--exclude",
        "team/",
    )
    assert result.exit_code == 0, result.output
    assert "files 1 · coded 1" in result.output


def test_a_bad_ignore_pattern_names_the_file(tmp_path) -> None:
    src = tmp_path / "src"
    write(src / "int.md", INTERVIEW)
    write(src / ".qualkamignore", "ok.md\n!\n")
    with pytest.raises(InputError, match=r"\.qualkamignore:2: .*'!'"):
        discover(src)
    (src / ".qualkamignore").unlink()
    with pytest.raises(InputError, match="^exclude '!'") as bad:
        discover(src, exclude=["!"])
    assert bad.value.argument == "exclude", "the CLI shows it as --exclude"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ab*?![]/\\#. -_", max_size=12), max_size=5))
def test_any_exclude_pattern_gives_files_or_a_clear_error(tmp_path_factory, patterns) -> None:
    src = tmp_path_factory.mktemp("ex")
    write(src / "a.md", OTHER)
    write(src / "b" / "a.md", OTHER)
    try:
        files, _ = discover(src, exclude=patterns)
    except InputError as exc:
        assert exc.argument == "exclude" or "no files" in str(exc) or "no transcripts" in str(exc)
        return
    assert set(_names(files, src)) <= {"a.md", "b/a.md"}


def test_a_source_excluded_after_it_was_coded_is_kept_and_said(tmp_path, small_codebook) -> None:
    src = tmp_path / "src"
    write(src / "int.md", INTERVIEW)
    write(src / "b.md", OTHER)
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(src, small_codebook, project, out_dir=None)
        write(src / ".qualkamignore", "b.md\n")
        report = code_folder(src, small_codebook, project, out_dir=None)
        assert report.files == 1 and report.excluded_sources == ["int-b"] and report.missing_sources == []
