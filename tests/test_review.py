"""The review loop, driven through standard input as a coder would type."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.review import Filters, build_queue
from qualkam.coding.run import code_folder
from qualkam.store.project import Project

from .conftest import INTERVIEW, write


@pytest.fixture
def db(tmp_path: Path, small_codebook) -> Path:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    path = tmp_path / "p.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    return path


def _decisions(db: Path, coder: str = "ana") -> list[tuple]:
    with Project.open(db) as project:
        return [
            tuple(r)
            for r in project.query(
                "SELECT s.position, c.code_id, c.origin, c.status FROM codings c JOIN segments s ON s.id = c.segment_id "
                "WHERE c.coder = ? ORDER BY s.position, c.code_id",
                (coder,),
            )
        ]


def _review(runner: CliRunner, db: Path, keys: str, *extra: str):
    result = runner.invoke(app, ["review", "--coder", "ana", "--project", str(db), *extra], input=keys)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_queue_lists_every_suggestion_in_reading_order(db: Path) -> None:
    with Project.open(db) as project:
        queue = build_queue(project, "ana", Filters())
        positions = {r[0]: r[1] for r in project.query("SELECT id, position FROM segments")}
    assert [(positions[i.segment_id], i.code_id) for i in queue] == [
        (0, "hard_control"),
        (1, "hard_control"),
        (2, "soft_control"),
    ]


def test_keystrokes_accept_reject_add_memo_and_quit(runner: CliRunner, db: Path) -> None:
    result = _review(runner, db, "a\nr\nc\nhard_control\nm\nIronic tone?\nq\n")
    assert result.exit_code == 0
    assert "Sarah Collins (Sales Director)" in result.output and "1/3 · int-sales" in result.output
    assert "hard_control — Hard control (0.50) [sales targets]" in result.output
    assert _decisions(db) == [
        (0, "hard_control", "rule", "accepted"),
        (1, "hard_control", "rule", "rejected"),
        (2, "hard_control", "human", "accepted"),
    ]
    with Project.open(db) as project:
        memo = project.query("SELECT coder, target_type, text FROM memos")
        assert [tuple(m) for m in memo] == [("ana", "segment", "Ironic tone?")]
    assert "3 decision(s) saved for ana" in result.output


def test_quit_and_resume_continues_where_the_coder_stopped(runner: CliRunner, db: Path) -> None:
    _review(runner, db, "s\nq\n")  # skip the first, quit on the second
    again = _review(runner, db, "a\nq\n", "--status", "suggested")
    assert "resuming at item 2 of 3" in again.output
    assert _decisions(db) == [(1, "hard_control", "rule", "accepted")]


def test_back_lets_a_coder_change_their_mind(runner: CliRunner, db: Path) -> None:
    _review(runner, db, "a\nb\nr\nq\n")
    assert _decisions(db) == [(0, "hard_control", "rule", "rejected")]
    with Project.open(db) as project:
        actions = [r[0] for r in project.query("SELECT action FROM audit WHERE entity = 'coding' ORDER BY id")]
    assert actions == ["accept", "reject"]


def test_typos_do_not_end_the_session(runner: CliRunner, db: Path) -> None:
    result = _review(runner, db, "c\nno_such_code\nx\na\n")
    assert "unknown code 'no_such_code'" in result.output and "unknown key 'x'" in result.output
    assert _decisions(db) == [(0, "hard_control", "rule", "accepted")], "end of input quits cleanly"


def test_filters_and_bad_filters(runner: CliRunner, db: Path) -> None:
    result = _review(runner, db, "a\n", "--code", "soft_control")
    assert "1/1" in result.output
    assert _review(runner, db, "", "--code", "nope").exit_code == 2
    assert "unknown phase 'later'" in _review(runner, db, "", "--phase", "later").output
    empty = _review(runner, db, "", "--source", "int-sales", "--status", "rejected")
    assert empty.exit_code == 0 and "nothing to review" in empty.output
