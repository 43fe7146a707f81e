"""People's decisions: one row per segment, code and coder; audited; idempotent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.audit import audit_table
from qualkam.store.memos import add_memo, memo_table
from qualkam.store.project import Project
from qualkam.store.segments import codings

from .conftest import INTERVIEW, records, segment_with, write


@pytest.fixture
def coded(tmp_path: Path, small_codebook, project: Project) -> Project:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    return project


def _segment(project: Project, words: str) -> int:
    return segment_with(project, words)


def _ana(project: Project, columns: list[str]) -> list[tuple]:
    """ana's codings, accepted and rejected, in the columns asked for."""
    table = codings(project, "all")
    return records(table[table["coder"] == "ana"], columns)


def test_accept_reject_add_remove(coded: Project) -> None:
    seg = _segment(coded, "trust each other")
    assert decide(coded, "ana", seg, "soft_control", "accept").change == "inserted"
    assert decide(coded, "ana", seg, "soft_control", "accept").change == "unchanged"
    assert decide(coded, "ana", seg, "hard_control", "add").change == "inserted"
    assert decide(coded, "ana", seg, "hard_control", "remove").status == "rejected"
    rows = {code: (origin, status) for code, origin, status in _ana(coded, ["code", "origin", "status"])}
    assert rows == {"soft_control": ("rule", "accepted"), "hard_control": ("human", "rejected")}
    trail = audit_table(coded, entity="coding").to_dict("records")
    assert [(r["actor"], r["action"]) for r in trail] == [("ana", "accept"), ("ana", "add"), ("ana", "remove")]
    assert (
        json.loads(trail[2]["before"])["status"] == "accepted" and json.loads(trail[2]["after"])["status"] == "rejected"
    )


def test_a_machine_rerun_never_touches_decisions(coded: Project, tmp_path: Path, small_codebook) -> None:
    seg = _segment(coded, "trust each other")
    decide(coded, "ana", seg, "soft_control", "reject")
    write(tmp_path / "src" / "int.md", INTERVIEW + "\nI: Anything else about reporting lines?\n")
    code_folder(tmp_path / "src", small_codebook, coded, out_dir=None)
    assert _ana(coded, ["status", "origin"])[0] == ("rejected", "rule")


def test_bad_decisions_are_refused(coded: Project) -> None:
    seg = _segment(coded, "trust each other")
    with pytest.raises(QualkamError, match="unknown code 'nope'"):
        decide(coded, "ana", seg, "nope", "accept")
    with pytest.raises(QualkamError, match="unknown segment 99999"):
        decide(coded, "ana", 99999, "soft_control", "accept")
    with pytest.raises(QualkamError, match="reserved"):
        decide(coded, "qualkam", seg, "soft_control", "accept")
    with pytest.raises(QualkamError, match="no code 'hard_control'"):
        decide(coded, "ana", seg, "hard_control", "remove")


def test_memos_on_every_target_are_audited(coded: Project) -> None:
    seg = _segment(coded, "trust each other")
    add_memo(coded, "ana", "project", None, "Started coding the pre-KAM interviews.")
    add_memo(coded, "ana", "code", "soft_control", "Trust talk clusters after meeting 12.")
    add_memo(coded, "ana", "source", "int-sales", "Interviewee hesitant on targets.")
    add_memo(coded, "ana", "segment", str(seg), "Irony?")
    assert len(memo_table(coded)) == 4
    assert (audit_table(coded)["action"] == "memo").sum() == 4
    with pytest.raises(QualkamError, match="unknown code 'nope'"):
        add_memo(coded, "ana", "code", "nope", "x")
