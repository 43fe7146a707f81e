"""Issue 11: a SQLite file that is not a qualkam project is refused, never migrated; a full
disk or a read-only project is exit 2 with what to do, not "this is a bug"."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.errors import StoreError
from qualkam.store.project import Project

from .conftest import SMALL_CODEBOOK, run_cli, write

GOOD = "I: How were the sales targets set?\nR: We had to follow the procedure.\n"


def _code(runner: CliRunner, tmp_path: Path, db: Path):
    write(tmp_path / "src" / "a.md", GOOD)
    book = write(tmp_path / "book.yaml", SMALL_CODEBOOK)
    return run_cli(runner, "code", tmp_path / "src", "-c", book, "-p", db, "-o", tmp_path / "out", "--jobs", "1")


def test_a_sqlite_file_of_another_program_is_refused_and_left_as_it_is(runner: CliRunner, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER, total REAL)")
        conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.close()
    before = other.read_bytes()
    with pytest.raises(StoreError, match="not a qualkam project.*invoices"):
        Project.open(other, create=True)
    result = _code(runner, tmp_path, other)
    assert result.exit_code == 2 and "not a qualkam project" in result.output, result.output
    assert other.read_bytes() == before
    assert not Path(f"{other}-wal").exists()


def test_an_empty_file_becomes_a_project_only_when_asked(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(StoreError, match="empty file"):
        Project.open(empty)
    with Project.open(empty, create=True) as store:
        assert store.counts()["sources"] == 0


def test_a_read_only_project_is_exit_2_with_what_to_do(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "p.db"
    assert _code(runner, tmp_path, db).exit_code == 0
    write(tmp_path / "src" / "b.md", GOOD.replace("sales", "other"))
    real = sqlite3.connect

    def read_only(path, *args, **kwargs):  # tests run as root, who ignores file modes
        return real(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr("qualkam.store.project.sqlite3.connect", read_only)
    result = _code(runner, tmp_path, db)
    assert result.exit_code == 2, result.output
    assert "read-only" in result.output and "bug" not in result.output


@pytest.mark.parametrize("failure", ["sqlite", "enospc", "erofs", "malformed"])
def test_a_full_disk_is_exit_2_with_what_to_do(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    import qualkam.coding.run as coding
    import qualkam.render.outputs as outputs  # run.py imports write_outputs from here when it writes

    def full(*args, **kwargs):
        if failure == "sqlite":
            raise sqlite3.OperationalError("database or disk is full")
        if failure == "malformed":
            raise sqlite3.DatabaseError("database disk image is malformed")
        code = errno.ENOSPC if failure == "enospc" else errno.EROFS
        raise OSError(
            code,
            "No space left on device" if failure == "enospc" else "Read-only file system",
            str(tmp_path / "out" / "excerpts.csv"),
        )

    if failure in ("sqlite", "malformed"):
        monkeypatch.setattr(coding, "store_source", full)
    else:
        monkeypatch.setattr(outputs, "write_outputs", full)
    result = _code(runner, tmp_path, tmp_path / "p.db")
    assert result.exit_code == 2, result.output
    assert "bug" not in result.output
    assert {"sqlite": "disk is full", "enospc": "disk is full", "erofs": "read-only", "malformed": "damaged"}[
        failure
    ] in result.output


# -- nested transactions: the outermost is BEGIN IMMEDIATE ... COMMIT, an inner one a savepoint --
def _memo_texts(project: Project) -> list[str]:
    return [r[0] for r in project.conn.execute("SELECT text FROM memos ORDER BY id").fetchall()]


def _write_memo(project: Project, text: str) -> None:
    with project.transaction() as conn:
        conn.execute(
            "INSERT INTO memos (target_type, coder, text, created_at, updated_at) "
            "VALUES ('project', 'ana', ?, 'x', 'x')",
            (text,),
        )


def test_an_inner_failure_that_is_caught_rolls_back_only_the_inner_part(project: Project) -> None:
    before = project.revision()
    with project.transaction():
        _write_memo(project, "outer before")
        with pytest.raises(RuntimeError):
            with project.transaction():
                _write_memo(project, "inner")
                with project.transaction():
                    _write_memo(project, "innermost")
                raise RuntimeError("inner step fails")
        _write_memo(project, "outer after")
    assert _memo_texts(project) == ["outer before", "outer after"]
    assert project.revision() == (before[0], before[1] + 1), "one outermost changing transaction: one revision"


def test_an_outer_failure_rolls_back_everything_inner_steps_wrote(project: Project) -> None:
    before = project.revision()
    with pytest.raises(RuntimeError):
        with project.transaction():
            _write_memo(project, "outer")
            with project.transaction():
                _write_memo(project, "inner, released")
            raise RuntimeError("the whole change fails")
    assert _memo_texts(project) == []
    assert project.revision() == before, "nothing was written: the revision stays"
    assert not project.conn.in_transaction
    _write_memo(project, "afterwards")  # the project is usable again, at depth 0
    assert _memo_texts(project) == ["afterwards"] and project.revision()[1] == before[1] + 1


def test_an_uncaught_inner_failure_rolls_back_the_whole_outer_transaction(project: Project) -> None:
    with pytest.raises(ValueError):
        with project.transaction():
            _write_memo(project, "outer")
            with project.transaction():
                _write_memo(project, "inner")
                raise ValueError("not caught by the outer one")
    assert _memo_texts(project) == []


def test_the_revision_counts_each_outermost_changing_transaction_once(project: Project) -> None:
    uid, start = project.revision()
    with project.transaction():
        for n in range(3):
            with project.transaction():
                _write_memo(project, f"step {n}")
    with project.transaction():  # reads only: no new revision
        project.conn.execute("SELECT COUNT(*) FROM memos").fetchall()
    _write_memo(project, "alone")
    assert project.revision() == (uid, start + 2)


def test_a_write_is_one_step_of_a_callers_transaction(project: Project, small_codebook) -> None:
    """save_codebook opens its own transaction; inside a caller's it is rolled back with it."""
    from qualkam.store.codebooks import current_codebook_row, save_codebook

    with pytest.raises(RuntimeError):
        with project.transaction():
            save_codebook(project, small_codebook)
            assert current_codebook_row(project) is not None
            raise RuntimeError("the caller fails after the codebook was saved")
    assert (
        current_codebook_row(project) is None
        and project.conn.execute("SELECT COUNT(*) FROM audit").fetchall()[0][0] == 0
    )
    save_codebook(project, small_codebook)
    assert current_codebook_row(project)["name"] == small_codebook.name  # type: ignore[index]


def test_store_errors_name_the_project_argument_not_a_flag(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.db", tmp_path):
        with pytest.raises(StoreError) as caught:
            Project.open(path)
        assert caught.value.argument == "project" and "--" not in str(caught.value)
        assert "--project" in caught.value.worded("--project")


def test_opening_the_store_imports_no_heavy_library() -> None:
    """The store starts light (issue 12, point 7): spaCy, pandas, scikit-learn and matplotlib
    load only when a command needs them (pandas inside the reads that return a DataFrame)."""
    import subprocess
    import sys

    modules = ", ".join(
        f"qualkam.store.{name}"
        for name in ("project", "schema", "sources", "codebooks", "people", "memos", "names", "audit", "reads")
    )
    heavy = ("spacy", "pandas", "sklearn", "matplotlib")
    code = f"import sys, {modules}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
