"""Incremental runs: a file whose stat (and sidecars, and settings) did not change is not read."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from qualkam import formats, ingest
from qualkam.codebook import load_codebook
from qualkam.coding import code_folder
from qualkam.segment import Unit
from qualkam.store import Project

from .conftest import INTERVIEW, OTHER, write

BAD_DATE = "---\nid: notes\ntype: fieldnote\ndate: 2011-13-45\n---\nWe trust each other, she said.\n"


def age(*paths: Path, seconds: float = 100) -> None:
    """Set the files' times in the past, as they are for an archive (not just written)."""
    past = time.time() - seconds
    for path in paths:
        os.utime(path, (past, past))


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The files a run reads (qualkam.ingest calls formats.read_source for each)."""
    seen: list[str] = []
    real = formats.read_source

    def spy(path: Path, encoding=None):
        seen.append(path.name)
        return real(path, encoding)

    monkeypatch.setattr(ingest, "read_source", spy)
    return seen


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    age(write(src / "int.md", INTERVIEW), write(src / "b.md", OTHER), write(src / "notes.md", BAD_DATE))
    return src


def run(folder: Path, project: Project, codebook, **kwargs):
    return code_folder(folder, codebook, project, out_dir=None, **kwargs)


def test_a_rerun_reads_no_unchanged_file_and_reports_its_warnings_again(folder, small_codebook, project, reads) -> None:
    first = run(folder, project, small_codebook)
    assert first.coded == 3 and sorted(reads) == ["b.md", "int.md", "notes.md"]
    warning = [str(p) for p in first.problems]
    assert any("2011-13-45" in w for w in warning), warning
    before = project.counts()
    reads.clear()
    again = run(folder, project, small_codebook)
    assert reads == [], "nothing changed: no file is read"
    assert (again.coded, again.unchanged, again.files) == (0, 3, 3)
    assert [str(p) for p in again.problems] == warning, "the bad date is still reported, unread"
    assert project.counts() == before and again.missing_sources == []


def test_a_changed_file_is_read_and_recoded(folder, small_codebook, project, reads) -> None:
    run(folder, project, small_codebook)
    path = folder / "b.md"
    write(path, OTHER.replace("Gut feeling", "Procedure"))
    age(path, seconds=50)
    reads.clear()
    report = run(folder, project, small_codebook)
    assert reads == ["b.md"] and (report.coded, report.unchanged) == (1, 2)
    assert "Procedure" in project.query("SELECT text FROM sources WHERE id = 'int-b'")[0][0]


def test_a_touched_file_is_read_once_then_skipped_again(folder, small_codebook, project, reads) -> None:
    run(folder, project, small_codebook)
    age(folder / "int.md", seconds=30)  # a new time, the same bytes (a copy, a checkout)
    reads.clear()
    report = run(folder, project, small_codebook)
    assert reads == ["int.md"] and (report.coded, report.unchanged) == (0, 3), "read, found unchanged"
    reads.clear()
    run(folder, project, small_codebook)
    assert reads == [], "the new time was remembered"


def test_a_file_changed_just_now_is_always_read(folder, small_codebook, project, reads) -> None:
    write(folder / "fresh.md", "---\nid: fresh\n---\nI: Hello?\nR: We trust each other.\n")
    run(folder, project, small_codebook)
    for _ in range(2):
        reads.clear()
        report = run(folder, project, small_codebook)
        assert reads == ["fresh.md"], "its time may not show a second change made within the same tick"
        assert report.unchanged == 4


def test_sidecar_settings_or_codebook_changes_read_the_files_again(folder, small_codebook_path, project, reads) -> None:
    book = load_codebook(small_codebook_path)
    run(folder, project, book)
    sidecar = write(folder / "metadata.yaml", "b.md:\n  site: Leeds\n")
    age(sidecar, seconds=40)
    reads.clear()
    report = run(folder, project, book)
    assert sorted(reads) == ["b.md", "int.md", "notes.md"] and report.coded == 1, "only b.md's metadata changed"
    reads.clear()
    report = run(folder, project, book, unit=Unit.sentence)
    assert len(reads) == 3 and report.coded == 3
    small_codebook_path.write_text(small_codebook_path.read_text() + "\n# a comment changes the hash\n")
    reads.clear()
    report = run(folder, project, load_codebook(small_codebook_path), unit=Unit.sentence)
    assert len(reads) == 3 and report.coded == 3


def test_an_unread_file_still_claims_its_id(folder, small_codebook, project) -> None:
    run(folder, project, small_codebook)
    age(write(folder / "zz.md", OTHER.replace("reporting", "reward")))  # the same id as b.md
    report = run(folder, project, small_codebook)
    assert [str(p) for p in report.skipped] == [f"{folder / 'zz.md'}: id 'int-b' is already used by {folder / 'b.md'}; "
                                                "give each source its own id"]


def test_a_source_removed_from_the_project_is_read_again(folder, small_codebook, project, reads) -> None:
    run(folder, project, small_codebook)
    with project.transaction() as conn:
        conn.execute("DELETE FROM codings WHERE source_id = 'int-b'")
        conn.execute("DELETE FROM segments WHERE source_id = 'int-b'")
        conn.execute("DELETE FROM sources WHERE id = 'int-b'")
    reads.clear()
    report = run(folder, project, small_codebook)
    assert reads == ["b.md"] and report.coded == 1
