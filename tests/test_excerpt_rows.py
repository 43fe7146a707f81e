"""Excerpts count passages, not decisions (issue 11 §3): one row per segment x code with the
coders who applied it in one column; ``--by-coder`` gives a row per coder. Every form also
carries the segment's time in the recording (issue 11 §4)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.analysis.excerpts import retrieve, to_json, to_markdown
from qualkam.coding.codebook import load_codebook
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.render.html import excerpts_page
from qualkam.render.outputs import excerpts_frame, write_outputs
from qualkam.render.report import build_report
from qualkam.store.project import Project
from qualkam.store.segments import codings

from .conftest import run_cli, write
from .test_retrieval import build_corpus, segment_of

TIMED = """\
WEBVTT

00:01:02.000 --> 00:01:40.000
<v Tom Reed>We trust each other now, gut feeling mostly.

00:01:40.000 --> 00:01:55.000
<v Ana Lopez>Then the sales target does not matter.
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The retrieval corpus plus a timed call; ana and ben both accept soft_control on Sarah's
    turn, ben rejects it on Tom's meeting turn and carol adds hard_control there by hand."""
    path = build_corpus(tmp_path)
    write(tmp_path / "src" / "call-07.vtt", TIMED)
    write(tmp_path / "src" / "metadata.csv", "file,id,type\ncall-07.vtt,call-07,meeting\n")
    with Project.open(path) as project:
        code_folder(tmp_path / "src", load_codebook(tmp_path / "small.yaml"), project, out_dir=None)
        sarah = segment_of(project, "trust each other. Gut")
        tom = segment_of(project, "We trust each other now, <script>")
        decide(project, "ana", sarah, "soft_control", "accept")
        decide(project, "ben", sarah, "soft_control", "accept")
        decide(project, "ben", tom, "soft_control", "reject")
        decide(project, "carol", tom, "hard_control", "add")
    return path


def _pairs(frame) -> list[tuple[int, str]]:
    return list(zip(frame["segment"], frame["code"], strict=True))


def test_one_row_per_segment_and_code_with_its_coders(db: Path) -> None:
    with Project.open(db) as project:
        sarah = segment_of(project, "trust each other. Gut")
        tom = segment_of(project, "We trust each other now, <script>")
        frame = retrieve(project, codes=["soft_control"])
        assert len(_pairs(frame)) == len(set(_pairs(frame))), "a passage is listed once per code"
        row = frame.set_index("segment").loc[sarah]
        assert row["coders"] == "ana; ben" and row["status"] == "accepted" and row["origin"] == "rule"
        assert row["score"] > 0, "the suggestion's score stays with the merged row"
        assert [e["text"] for e in row["evidence"]] == ["trust each other", "Gut feelings"]
        assert tom not in set(frame["segment"]), "rejected by ben: not in the auto layer"
        everything = retrieve(project, layer="all")
        assert len(_pairs(everything)) == len(set(_pairs(everything)))
        rows = {(r["segment"], r["code"]): r for r in everything.to_dict("records")}
        assert rows[(tom, "soft_control")]["rejected_by"] == "ben" and rows[(tom, "soft_control")]["coders"] == ""
        assert rows[(tom, "soft_control")]["status"] == "rejected"
        assert rows[(tom, "hard_control")]["coders"] == "carol" and rows[(tom, "hard_control")]["origin"] == "human"
        by_coder = retrieve(project, codes=["soft_control"], by_coder=True)
        assert list(zip(by_coder["segment"], by_coder["coder"], strict=True))[:2] == [(sarah, "ana"), (sarah, "ben")]
        assert by_coder["coder"][2:].isna().all() and len(by_coder) == len(frame) + 1


def test_code_outputs_have_one_row_per_pair(db: Path, tmp_path: Path) -> None:
    with Project.open(db) as project:
        pairs = len(codings(project, "all")[["segment", "code"]].drop_duplicates())
        frame = excerpts_frame(project)
        assert len(frame) == pairs
        write_outputs(project, tmp_path / "out")
    with open(tmp_path / "out" / "excerpts.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == pairs and "coder" not in rows[0]
    assert {"coders", "rejected_by", "time_start", "time_end"} <= set(rows[0])
    assert sorted(r["coders"] for r in rows if r["coders"]) == ["ana; ben", "carol"]
    # reading order: by source, then position in it
    keys = [(r["source"], int(r["start"])) for r in rows]
    assert keys == sorted(keys)


def test_cli_every_format_merges_and_by_coder_splits(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    merged = run_cli(runner, "excerpts", "--code", "soft_control", "--format", "csv", "-p", db)
    assert merged.exit_code == 0, merged.output
    rows = list(csv.DictReader(io.StringIO(merged.stdout)))
    assert [r["coders"] for r in rows].count("ana; ben") == 1 and "coder" not in rows[0]
    split = run_cli(runner, "excerpts", "--code", "soft_control", "--format", "csv", "--by-coder", "-p", db)
    split_rows = list(csv.DictReader(io.StringIO(split.stdout)))
    assert [r["coder"] for r in split_rows][:2] == ["ana", "ben"] and "coders" not in split_rows[0]
    assert len(split_rows) == len(rows) + 1
    md = run_cli(runner, "excerpts", "--code", "soft_control", "--format", "md", "-p", db).stdout
    assert md.count("Gut feelings") == 1 and "(accepted by ana, ben)" in md
    html = run_cli(runner, "excerpts", "--code", "soft_control", "--format", "html", "-p", db).stdout
    assert html.count("<mark>Gut feelings</mark>") == 1 and "accepted by ana, ben" in html
    data = json.loads(run_cli(runner, "excerpts", "--code", "soft_control", "--format", "json", "-p", db).stdout)
    assert [d["coders"] for d in data if d["coders"]] == [["ana", "ben"]]
    table = run_cli(runner, "excerpts", "--code", "soft_control", "-p", db).stdout
    assert table.count("Sales Director") == 1 and "ana, ben" in table
    per_coder_md = run_cli(
        runner, "excerpts", "--code", "soft_control", "--format", "md", "--by-coder", "-p", db
    ).stdout
    assert per_coder_md.count("Gut feelings") == 2 and "(accepted by ana)" in per_coder_md


def test_report_quotes_each_passage_once(db: Path) -> None:
    with Project.open(db) as project:
        page = build_report(project)
    excerpts = page.split('id="excerpts"')[1]
    assert excerpts.count("<mark>Gut feelings</mark>") == 1 and "accepted by ana, ben" in excerpts


def test_excerpts_carry_the_segments_time_in_the_recording(db: Path, runner: CliRunner) -> None:
    with Project.open(db) as project:
        frame = retrieve(
            project, codes=["soft_control"], source_types=["meeting"], speakers=["Tom Reed"], layer="suggestions"
        )
        call = frame[frame["source"] == "call-07"].iloc[0]
        assert (call["time_start"], call["time_end"]) == ("00:01:02.000", "00:01:40.000")
        untimed = frame[frame["source"] == "meeting-09"].iloc[0]
        assert untimed["time_start"] is None or untimed["time_start"] != untimed["time_start"]
        md, html, data = to_markdown(frame), excerpts_page(frame), json.loads(to_json(frame))
    assert "00:01:02.000–00:01:40.000" in md and "00:01:02.000–00:01:40.000" in html
    assert {"time_start": "00:01:02.000", "time_end": "00:01:40.000"}.items() <= next(
        d for d in data if d["source"] == "call-07"
    ).items()
    rows = list(
        csv.DictReader(
            io.StringIO(run_cli(runner, "excerpts", "--speaker", "Tom Reed", "--format", "csv", "-p", db).stdout)
        )
    )
    timed = [r for r in rows if r["source"] == "call-07"]
    assert timed and timed[0]["time_start"] == "00:01:02.000" and timed[0]["time_end"] == "00:01:40.000"


def test_outputs_written_in_the_old_layout_are_rebuilt(db: Path, tmp_path: Path) -> None:
    """A folder of outputs from before one row per segment x code (its manifest names no
    layout) is rebuilt even though the project has not changed since."""
    import json as _json

    from qualkam.render.outputs import MANIFEST

    out = tmp_path / "out"
    with Project.open(db) as project:
        write_outputs(project, out)
        manifest = _json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        del manifest["made_from"]["layout"]
        (out / MANIFEST).write_text(_json.dumps(manifest), encoding="utf-8")
        (out / "excerpts.csv").write_text("source,coder\n", encoding="utf-8")
        manifest["files"]["excerpts.csv"] = [
            (out / "excerpts.csv").stat().st_size,
            (out / "excerpts.csv").stat().st_mtime_ns,
        ]
        (out / MANIFEST).write_text(_json.dumps(manifest), encoding="utf-8")
        write_outputs(project, out)
    assert (out / "excerpts.csv").read_text(encoding="utf-8").startswith("source,segment,")
