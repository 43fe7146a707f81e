"""Blind parallel coding: clone for each coder, merge back safely."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.blind import clone_for, merge_from
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.audit import audit_table
from qualkam.store.memos import add_memo, coding_memo_table, memo_table
from qualkam.store.project import Project

from .conftest import INTERVIEW, records, segment_with, write

OTHER = """\
---
id: int-b
type: interview
participants: {I: Researcher, Tom: {role: Sales Manager}}
---
I: And the reporting lines?
Tom: We trust each other more than the reporting lines now.
"""


@pytest.fixture
def master(tmp_path: Path, small_codebook) -> Path:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "b.md", OTHER)
    db = tmp_path / "master.db"
    with Project.open(db, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        decide(project, "lead", _seg(project, "trust each other. Gut"), "soft_control", "accept")
    return db


def _seg(project: Project, words: str) -> int:
    return segment_with(project, words)


def _people(db: Path) -> list[tuple]:
    with Project.open(db) as project:
        return sorted(
            tuple(r)
            for r in project.conn.execute(
                "SELECT src.id, s.position, c.code_id, c.coder, c.status, c.origin, c.created_at FROM codings c "
                "JOIN segments s ON s.id = c.segment_id JOIN sources src ON src.id = s.source_id "
                "WHERE c.coder IS NOT NULL"
            ).fetchall()
        )


def _clone(master: Path, coder: str) -> Path:
    with Project.open(master) as project:
        return clone_for(project, coder, master.with_name(f"{coder}.db"))


def test_clone_hides_everybody_elses_decisions(master: Path) -> None:
    with Project.open(master) as project:
        add_memo(project, "lead", "project", None, "lead's plan")
    ana = _clone(master, "ana")
    assert _people(ana) == []
    with Project.open(ana) as project:
        assert project.counts()["suggestions"] == Project.open(master).counts()["suggestions"]
        assert len(memo_table(project)) == 0
        assert len(audit_table(project, actor="lead")) == 0
    with pytest.raises(QualkamError, match="exists already"):
        _clone(master, "ana")


def test_merge_keeps_coder_time_memo_and_is_idempotent(master: Path) -> None:
    ana, ben = _clone(master, "ana"), _clone(master, "ben")
    with Project.open(ana) as project:
        decide(project, "ana", _seg(project, "sales targets set"), "hard_control", "accept", memo="US targets")
        decide(project, "ana", _seg(project, "more than the reporting"), "soft_control", "add")
        add_memo(project, "ana", "segment", str(_seg(project, "more than the reporting")), "contrast with int-sales")
    with Project.open(ben) as project:
        decide(project, "ben", _seg(project, "sales targets set"), "hard_control", "reject")
    before = _people(master)
    ana_rows = [r for r in _people(ana)]
    with Project.open(master) as project:
        first = merge_from(project, ana)
        second = merge_from(project, ben)
        again = merge_from(project, ana)
    assert (first.new, first.memos, second.new) == (2, 1, 1)
    assert (again.new, again.unchanged, again.memos) == (0, 2, 0)
    after = _people(master)
    assert set(before) <= set(after), "nothing already in the master changes"
    assert set(ana_rows) <= set(after), "same coder, status, origin and time as in ana's project"
    with Project.open(master) as project:
        assert coding_memo_table(project, code="hard_control", coder="ana")["memo"].iloc[0] == "US targets"
        memo = records(memo_table(project, kind="segment"), ["memo", "about"])[0]
        assert memo[0] == "contrast with int-sales" and "more than the reporting" in memo[1]


def test_conflicts_and_changed_texts_are_reported_not_applied(master: Path, runner: CliRunner) -> None:
    ana = _clone(master, "lead")
    with Project.open(ana) as project:
        decide(project, "lead", _seg(project, "trust each other. Gut"), "soft_control", "reject")
        decide(project, "lead", _seg(project, "more than the reporting"), "hard_control", "accept")
    with sqlite3.connect(ana) as conn:
        conn.execute("UPDATE sources SET text = text || ' (edited)', content_hash = 'changed' WHERE id = 'int-b'")
    before = _people(master)
    result = runner.invoke(app, ["project", "merge", str(ana), "--project", str(master)])
    assert result.exit_code == 1
    assert (
        "lead on segment" in result.output and "accepted here, rejected in lead.db; kept as it is here" in result.output
    )
    assert "source 'int-b': its text differs between the two projects" in result.output
    assert _people(master) == before


def test_a_failed_merge_leaves_the_master_as_it_was(master: Path, runner: CliRunner) -> None:
    ana = _clone(master, "ana")
    with Project.open(ana) as project:
        decide(project, "ana", _seg(project, "sales targets set"), "hard_control", "accept")
    with sqlite3.connect(ana) as conn:
        conn.execute("INSERT INTO codes (id, label, attributes, position) VALUES ('extra', 'Extra', '{}', 99)")
        conn.execute("UPDATE codings SET code_id = 'extra' WHERE coder = 'ana'")
    before = _people(master), len(audit_table(Project.open(master)))
    result = runner.invoke(app, ["project", "merge", str(ana), "--project", str(master)])
    assert result.exit_code == 2 and "uses codes this project does not have: extra" in result.output
    assert (_people(master), len(audit_table(Project.open(master)))) == before
    bad = runner.invoke(app, ["project", "merge", str(master.with_name("none.db")), "--project", str(master)])
    assert bad.exit_code == 2 and "no project file at" in bad.output


def test_clone_and_merge_from_the_command_line(master: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["project", "clone", "--for", "ana", "--project", str(master)])
    assert result.exit_code == 0, result.output
    copy = master.with_name("master-ana.db")
    assert copy.exists()
    with Project.open(copy) as project:
        decide(project, "ana", _seg(project, "sales targets set"), "hard_control", "accept")
    merged = runner.invoke(app, ["project", "merge", str(copy), "--coder", "ana", "--project", str(master)])
    assert merged.exit_code == 0 and "1 new coding(s)" in merged.output and "coders: ana" in merged.output
    nobody = runner.invoke(app, ["project", "merge", str(copy), "--coder", "zed", "--project", str(master)])
    assert nobody.exit_code == 2 and f"unknown coder of {copy} 'zed' in " in nobody.output.replace("\n", "")
    assert "choose from: ana" in nobody.output
