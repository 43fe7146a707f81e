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
        monkeypatch.setattr(coding, "write_outputs", full)
    result = _code(runner, tmp_path, tmp_path / "p.db")
    assert result.exit_code == 2, result.output
    assert "bug" not in result.output
    assert {"sqlite": "disk is full", "enospc": "disk is full", "erofs": "read-only", "malformed": "damaged"}[
        failure
    ] in result.output
