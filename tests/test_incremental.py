"""Incremental runs: a file whose stat (and sidecars, and settings) did not change is not read."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from qualkam.coding.codebook import load_codebook
from qualkam.coding.decisions import Action, decide
from qualkam.coding.run import code_folder
from qualkam.coding.segment import Unit
from qualkam.render.outputs import MANIFEST, write_outputs
from qualkam.sources import formats, ingest
from qualkam.store.project import Project

from .conftest import INTERVIEW, OTHER, segment_ids, source_texts, write

BAD_DATE = "---\nid: notes\ntype: fieldnote\ndate: 2011-13-45\n---\nWe trust each other, she said.\n"


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def age(*paths: Path, seconds: float = 100) -> None:
    """Set the files' times in the past, as they are for an archive (not just written)."""
    past = time.time() - seconds
    for path in paths:
        os.utime(path, (past, past))


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The files a run reads (qualkam.sources.ingest calls formats.read_source for each)."""
    seen: list[str] = []
    real = formats.read_source

    def spy(path: Path, *args, **kwargs):
        seen.append(path.name)
        return real(path, *args, **kwargs)

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
    assert "Procedure" in source_texts(project)["int-b"]


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
    assert [str(p) for p in report.skipped] == [
        f"{folder / 'zz.md'}: id 'int-b' is already used by {folder / 'b.md'}; give each source its own id"
    ]


def test_a_source_removed_from_the_project_is_read_again(folder, small_codebook, project, reads) -> None:
    run(folder, project, small_codebook)
    with project.transaction() as conn:
        conn.execute("DELETE FROM codings WHERE source_id = 'int-b'")
        conn.execute("DELETE FROM segments WHERE source_id = 'int-b'")
        conn.execute("DELETE FROM sources WHERE id = 'int-b'")
    reads.clear()
    report = run(folder, project, small_codebook)
    assert reads == ["b.md"] and report.coded == 1


def test_the_revision_counts_only_transactions_that_change_something(folder, small_codebook, project) -> None:
    run(folder, project, small_codebook)
    uid, start = project.revision()
    assert start > 0 and len(uid) == 32
    run(folder, project, small_codebook)
    assert project.revision() == (uid, start), (
        "a re-run with nothing changed writes nothing (the codebook is current too)"
    )
    with project.transaction() as conn:
        conn.execute("SELECT COUNT(*) FROM sources").fetchone()
    assert project.revision() == (uid, start)
    seg = min(segment_ids(project).values())
    decide(project, "ana", seg, "soft_control", Action.add)
    assert project.revision() == (uid, start + 1)


def test_outputs_from_an_unchanged_project_are_not_written_again(folder, small_codebook, project, tmp_path) -> None:
    out = tmp_path / "out"
    code_folder(folder, small_codebook, project, out_dir=out)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert set(stamps) == {"excerpts.csv", "matrix_phase_code.csv", "matrix_source_type_code.csv", MANIFEST}
    assert oct((out / "excerpts.csv").stat().st_mode & 0o777) == oct(0o666 & ~current_umask()), (
        "not private to its owner"
    )
    code_folder(folder, small_codebook, project, out_dir=out)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps, "nothing changed: nothing rewritten"

    seg = min(segment_ids(project).values())
    decide(project, "ana", seg, "soft_control", Action.add)
    code_folder(folder, small_codebook, project, out_dir=out)
    assert "ana" in (out / "excerpts.csv").read_text(encoding="utf-8"), "a person's decision: outputs rebuilt"

    (out / "matrix_phase_code.csv").write_text("edited by hand\n", encoding="utf-8")
    (out / "excerpts.csv").unlink()
    written = write_outputs(project, out)
    assert [p.name for p in written] == ["excerpts.csv", "matrix_phase_code.csv", "matrix_source_type_code.csv"]
    assert (out / "excerpts.csv").exists() and "edited" not in (out / "matrix_phase_code.csv").read_text()
    before = (out / "matrix_phase_code.csv").stat().st_mtime_ns
    write_outputs(project, out, layer="suggestions")
    assert (out / "matrix_phase_code.csv").stat().st_mtime_ns != before, "another layer: rebuilt"


def test_a_new_project_at_the_same_path_rebuilds_the_outputs(tmp_path: Path, small_codebook) -> None:
    """Same path, same number of transactions, other content: the project's own id tells them apart."""
    out, db = tmp_path / "out", tmp_path / "p.db"
    first = write(tmp_path / "a" / "one.md", INTERVIEW)
    second = write(tmp_path / "b" / "one.md", INTERVIEW.replace("sales target", "gut feeling"))
    for folder in (first.parent, second.parent):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        with Project.open(db, create=True) as project:
            code_folder(folder, small_codebook, project, out_dir=out)
            made = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["made_from"]
            assert made["project_uid"] == project.revision()[0]
    assert "gut feeling" in (out / "excerpts.csv").read_text(encoding="utf-8")
    assert "sales target" not in (out / "excerpts.csv").read_text(encoding="utf-8")
