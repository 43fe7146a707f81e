"""The sample project: realistic spread of sources, and the main job runs clean on it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from qualkam.analysis.matrix import build_matrix
from qualkam.coding.codebook import load_codebook
from qualkam.coding.run import code_folder
from qualkam.sources.ingest import PreparedSource, Problem, discover, prepare
from qualkam.store.project import Project
from qualkam.store.segments import codings, segments

from .conftest import ROOT, source_texts

SAMPLES = ROOT / "sample_transcripts"


@pytest.fixture(scope="module")
def prepared():
    kam = load_codebook("kam")
    files, problems = discover(SAMPLES)
    items = list(prepare(SAMPLES, files, kam))
    return [i for i in items if isinstance(i, PreparedSource)], problems + [i for i in items if isinstance(i, Problem)]


def test_spread_over_phases_types_formats_and_units(prepared) -> None:
    sources, problems = prepared
    assert problems == []
    assert len(sources) >= 14
    assert set(Counter(s.phase for s in sources)) >= {
        "pre_kam",
        "kam_implementation",
        "formal_kam",
        "post_bureaucratic_kam",
    }
    assert set(Counter(s.meta.type for s in sources)) >= {"interview", "meeting", "fieldnote", "document", "email"}
    assert {s.raw.format for s in sources} >= {"text", "markdown", "docx", "vtt", "srt"}
    units = {p.unit for s in sources for p in s.meta.participants.values()}
    assert {"KAM", "non-KAM"} <= units
    assert {s.raw.encoding for s in sources} >= {"utf-8", "utf-8 (BOM)", "cp1252"}


def test_every_speaker_label_resolves_to_a_participant(prepared) -> None:
    from qualkam.coding.segment import resolve_turns

    for source in prepared[0]:
        for turn, _speaker, role, _ in resolve_turns(source.turns, source.meta):
            if turn.speaker is not None:
                assert role, f"{source.rel}: speaker {turn.speaker!r} has no role"


def test_coding_the_samples_shows_both_poles_shifting(tmp_path: Path) -> None:
    with Project.open(tmp_path / "p.db", create=True) as project:
        report = code_folder(SAMPLES, load_codebook("kam"), project, out_dir=tmp_path / "out")
        assert report.problems == [] and report.coded == len(discover(SAMPLES)[0])
        poles = build_matrix(project, rows="phase", cols="attr:pole")
    share = poles["post_bureaucratic"] / poles.sum(axis=1)
    assert share["post_bureaucratic_kam"] > share["kam_implementation"], poles
    assert poles.loc["formal_kam", "formal"] > 0


def test_every_offset_finds_its_words_again(tmp_path: Path) -> None:
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(SAMPLES, load_codebook("kam"), project, out_dir=None)
        texts = source_texts(project)
        stored = segments(project).to_dict("records")
        assert stored and all(texts[s["source"]][s["start"] : s["end"]] == s["text"] for s in stored)
        for row in codings(project, "all").to_dict("records"):
            for ev in row["evidence"]:
                assert texts[row["source"]][ev["start"] : ev["end"]] == ev["text"]
