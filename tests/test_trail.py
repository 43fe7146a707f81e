"""Memos and the audit trail from the command line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.store.project import Project

from .conftest import INTERVIEW, segment_ids, write


def _project(tmp_path: Path, small_codebook) -> Path:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    db = tmp_path / "p.db"
    with Project.open(db, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        seg = segment_ids(project)["int-sales", 2]
        decide(project, "ana", seg, "soft_control", "accept")
    return db


def test_memo_add_list_export(tmp_path: Path, small_codebook) -> None:
    db = _project(tmp_path, small_codebook)
    runner = CliRunner()
    for on, text in (
        ("project", "Coding round 1"),
        ("code:soft_control", "Trust clusters late"),
        ("source:int-sales", "Hesitant interviewee"),
        ("segment:3", "Irony?"),
    ):
        result = runner.invoke(app, ["memo", "add", text, "--coder", "ana", "--on", on, "--project", str(db)])
        assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["memo", "list", "--format", "csv", "--project", str(db)])
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert [(r["target_type"], r["memo"]) for r in rows] == [
        ("project", "Coding round 1"),
        ("code", "Trust clusters late"),
        ("source", "Hesitant interviewee"),
        ("segment", "Irony?"),
    ]
    assert rows[1]["about"] == "Soft control" and rows[3]["source"] == "int-sales"
    out = tmp_path / "memos.json"
    assert (
        runner.invoke(
            app,
            ["memo", "list", "--on", "code:soft_control", "--format", "json", "--out", str(out), "--project", str(db)],
        ).exit_code
        == 0
    )
    assert [m["memo"] for m in json.loads(out.read_text(encoding="utf-8"))] == ["Trust clusters late"]
    bad = runner.invoke(app, ["memo", "add", "x", "--coder", "ana", "--on", "codes:soft_control", "--project", str(db)])
    assert bad.exit_code == 2 and "write project, code:ID" in bad.output


def test_audit_export_has_who_when_what_before_after(tmp_path: Path, small_codebook) -> None:
    db = _project(tmp_path, small_codebook)
    runner = CliRunner()
    runner.invoke(app, ["memo", "add", "note", "--coder", "ben", "--project", str(db)])
    result = runner.invoke(app, ["audit", "--format", "json", "--project", str(db)])
    trail = json.loads(result.stdout)
    assert [(t["actor"], t["action"], t["entity"]) for t in trail] == [
        ("qualkam", "load", "codebook"),
        ("ana", "accept", "coding"),
        ("ben", "memo", "project"),
    ]
    assert json.loads(trail[1]["after"])["status"] == "accepted" and trail[1]["before"] is None
    only_ana = runner.invoke(app, ["audit", "--actor", "ana", "--format", "csv", "--project", str(db)])
    assert len(list(csv.DictReader(io.StringIO(only_ana.stdout)))) == 1
    table = runner.invoke(app, ["audit", "--project", str(db)])
    assert table.exit_code == 0 and "accept" in table.output
