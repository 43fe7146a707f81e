"""The store across runs: idempotent, changed sources refreshed, people's codings never lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qualkam.coding.run import code_folder
from qualkam.coding.segment import Unit
from qualkam.store.audit import now
from qualkam.store.project import Project
from qualkam.store.segments import codings, segments

from .conftest import INTERVIEW, segment_with, write


def _accept(project: Project, segment_text_part: str, code: str, coder: str = "ana") -> int:
    """Record a person's coding on the segment containing the words (as review will)."""
    row = segments(project).set_index("segment").loc[segment_with(project, segment_text_part)]
    with project.transaction() as conn:
        return int(
            conn.execute(
                """INSERT INTO codings (segment_id, source_id, start, "end", text, code_id, coder, origin, status,
               evidence, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'human', 'accepted', '[]', ?, ?)""",
                (
                    int(row.name),
                    row["source"],
                    int(row["start"]),
                    int(row["end"]),
                    row["text"],
                    code,
                    coder,
                    now(),
                    now(),
                ),
            ).lastrowid
        )


def _segment_text(project: Project, coding: int) -> str:
    """The text of the segment a coding is anchored to now."""
    table = codings(project, "all")
    segment = int(table.loc[table["coding"] == coding, "segment"].iloc[0])
    return str(segments(project).set_index("segment").loc[segment, "text"])


def _snapshot(project: Project) -> list[tuple]:
    """Every coding as stored, detached ones included (no read of the library lists those)."""
    return [
        tuple(r)
        for r in project.conn.execute(
            'SELECT segment_id, code_id, coder, origin, status, start, "end", text FROM codings ORDER BY id'
        ).fetchall()
    ]


def test_rerun_is_idempotent(tmp_path: Path, small_codebook, project: Project) -> None:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    first = code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    assert (first.coded, first.unchanged) == (1, 0)
    before = _snapshot(project)
    second = code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    assert (second.coded, second.unchanged) == (0, 1)
    assert _snapshot(project) == before


def test_changed_source_keeps_human_codings_and_refreshes_suggestions(
    tmp_path: Path, small_codebook, project: Project
) -> None:
    path = write(tmp_path / "src" / "int.md", INTERVIEW)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    coding = _accept(project, "now we trust each other", "soft_control")
    question = "How were the sales targets set?"
    _accept(project, question, "soft_control", coder="ben")
    path.write_text(
        INTERVIEW.replace("I: How were the sales targets set?\n", "I: Tell me about the reporting lines.\n"),
        encoding="utf-8",
    )
    report = code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    assert report.coded == 1
    assert "now we trust each other" in _segment_text(project, coding), "the person's coding follows its words"
    assert report.detached == 1, "the coding on the rewritten question lost its words"
    detached = project.conn.execute("SELECT coder, text FROM codings WHERE segment_id IS NULL").fetchall()
    assert [(r["coder"], r["text"]) for r in detached] == [("ben", question)], "kept, never deleted"
    suggested = set(codings(project, "suggestions")["text"])
    assert "Tell me about the reporting lines." in suggested
    assert not any("sales targets set" in t for t in suggested), "stale suggestions are gone"


def test_unit_change_resegments_and_reanchors(tmp_path: Path, small_codebook, project: Project) -> None:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    coding = _accept(project, "Gut feelings matter", "soft_control")
    report = code_folder(tmp_path / "src", small_codebook, project, unit=Unit.sentence, out_dir=None)
    assert report.coded == 1 and report.detached == 0 and report.reanchored == 1
    seg = _segment_text(project, coding)
    assert seg in {"Honestly, now we trust each other.", "Gut feelings matter."}
    counts = project.counts()
    assert counts["segments"] > 4 and counts["human_codings"] == 1


def test_a_failed_write_leaves_the_store_as_it_was(
    tmp_path: Path, small_codebook, project: Project, monkeypatch
) -> None:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    before = _snapshot(project), project.counts()
    write(tmp_path / "src" / "int.md", INTERVIEW + "\nI: One more question about the sales target.\n")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("qualkam.store.sources._reanchor", boom)
    # Issue 11: the failure is that file's problem, reported with its type; the run goes on.
    report = code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    assert [p.path.endswith("int.md") and "RuntimeError: disk full" in p.reason for p in report.skipped] == [True]
    assert (_snapshot(project), project.counts()) == before


def test_machine_rows_cannot_pose_as_people(project: Project) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        with project.transaction() as conn:
            conn.execute("""INSERT INTO sources (id, path, format, content_hash, fingerprint, text, unit,
                            added_at, updated_at)
                            VALUES ('s', 's', 'text', 'h', 'f', 't', 'turn', 'x', 'x')""")
            conn.execute("""INSERT INTO codings (source_id, start, "end", text, code_id, coder, origin, status,
                            created_at, updated_at) VALUES ('s', 0, 1, 't', 'c', NULL, 'rule', 'accepted', 'x', 'x')""")
