"""The review loop, driven through standard input as a coder would type."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.review import Filters, build_queue
from qualkam.coding.run import code_folder
from qualkam.store.audit import audit_table
from qualkam.store.memos import memo_table
from qualkam.store.project import Project
from qualkam.store.segments import codings

from .conftest import INTERVIEW, segment_ids, write


@pytest.fixture
def db(tmp_path: Path, small_codebook) -> Path:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    path = tmp_path / "p.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    return path


def _decisions(db: Path, coder: str = "ana") -> list[tuple]:
    with Project.open(db) as project:
        table = codings(project, "all")
        table = table[table["coder"] == coder].sort_values(["position", "code"])
        return [tuple(r) for r in table[["position", "code", "origin", "status"]].itertuples(index=False)]


def _review(runner: CliRunner, db: Path, keys: str, *extra: str):
    result = runner.invoke(app, ["review", "--coder", "ana", "--project", str(db), *extra], input=keys)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_queue_lists_every_suggestion_in_reading_order(db: Path) -> None:
    with Project.open(db) as project:
        queue = build_queue(project, "ana", Filters())
        positions = {i: position for (_, position), i in segment_ids(project).items()}
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
        memo = memo_table(project)[["coder", "target_type", "memo"]]
        assert [tuple(m) for m in memo.itertuples(index=False)] == [("ana", "segment", "Ironic tone?")]
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
        actions = list(audit_table(project, entity="coding")["action"])
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


# -- the session without a terminal -------------------------------------------------------------
def test_a_session_walks_the_queue_without_a_terminal(db: Path) -> None:
    from qualkam.coding.review import ReviewSession

    with Project.open(db) as project:
        session = ReviewSession(project, "ana")
        assert (session.total, session.index, session.resumed, session.left) == (3, 0, False, 3)
        first = session.current
        assert first is not None and session.view().item == first
        assert session.act("accept") is None
        assert session.index == 1 and session.decided == 1
        session.act("back")
        assert session.current == first, "back returns to the item left last"
        session.act("reject")
        session.act("add", "hard_control")
        session.act("memo", "Ironic tone?")
        assert session.index == 1, "adding a code and writing a memo stay on the item"
        session.act("skip")
        assert (session.index, session.decided, session.left) == (2, 3, 1)
        session.act("quit")
        assert session.finished and session.current is None
    assert _decisions(db) == [(0, "hard_control", "rule", "rejected"), (1, "hard_control", "human", "accepted")]


def test_a_session_keeps_its_place_on_a_typo_and_resumes_after_the_last_item_left(db: Path) -> None:
    from qualkam.coding.review import ReviewSession
    from qualkam.errors import QualkamError

    with Project.open(db) as project:
        session = ReviewSession(project, "ana")
        with pytest.raises(QualkamError, match="unknown code 'no_such_code'"):
            session.act("add", "no_such_code")
        assert (session.index, session.decided) == (0, 0)
        session.act("skip")
        again = ReviewSession(project, "ana")
        assert again.resumed and again.index == 1
        while not again.finished:
            again.act("accept")
        assert (again.decided, again.left) == (2, 0)
        assert again.act("accept") is None, "nothing happens after the end"
    assert [d[3] for d in _decisions(db)] == ["accepted", "accepted"]


def test_accepting_with_no_suggestion_is_a_note_not_a_change(db: Path) -> None:
    from qualkam.coding.review import NO_SUGGESTION, Item, ReviewSession

    with Project.open(db) as project:
        session = ReviewSession(project, "ana")
        session.queue[0] = Item(session.queue[0].segment_id, None)
        assert session.act("accept") == NO_SUGGESTION
        assert (session.index, session.decided) == (0, 0)
    assert _decisions(db) == []
