"""Metadata from front matter and sidecars, participants, dates and attributes."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualkam.sources.ingest import PreparedSource, Problem, discover, prepare
from qualkam.sources.metadata import MetadataError, parse_participants

from .conftest import write


def _prepare(folder: Path, codebook):
    files, problems = discover(folder)
    items = list(prepare(folder, files, codebook))
    return [i for i in items if isinstance(i, PreparedSource)], problems + [i for i in items if isinstance(i, Problem)]


def test_participants_forms() -> None:
    parsed = parse_participants("Tom Reed=Sales Manager|KAM; Ann Lee=Product Manager", "x")
    assert (parsed["Tom Reed"].role, parsed["Tom Reed"].unit) == ("Sales Manager", "KAM")
    assert (parsed["Ann Lee"].role, parsed["Ann Lee"].unit) == ("Product Manager", None)
    parsed = parse_participants({"I": "Researcher", "R": {"name": "Sarah", "role": "MD", "unit": "KAM"}}, "x")
    assert parsed["I"].role == "Researcher" and parsed["R"].name == "Sarah"
    with pytest.raises(MetadataError, match="'Label=Role|Unit'"):
        parse_participants("Tom Reed Sales Manager", "f.csv:3")
    with pytest.raises(MetadataError, match="unknown field"):
        parse_participants({"R": {"rank": "x"}}, "f")


def test_csv_sidecar_with_front_matter_winning(tmp_path: Path, small_codebook) -> None:
    tmp_path = tmp_path / "src"
    write(tmp_path / "m9.vtt", "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nTom Reed: We trust each other.\n")
    write(tmp_path / "n.md", "---\ntype: fieldnote\n---\nA quiet day.\n")
    write(
        tmp_path / "metadata.csv",
        (
            "file,id,type,date,meeting_number,site,participants\n"
            "m9.vtt,sg-09,meeting,2012-05-01,9,Leeds,Tom Reed=Sales Manager|KAM\n"
            "n.md,,meeting,2011-02-03,,,\n"
        ),
    )
    sources, problems = _prepare(tmp_path, small_codebook)
    assert problems == []
    by_id = {s.id: s for s in sources}
    meeting = by_id["sg-09"]
    assert meeting.meta.type == "meeting" and meeting.meta.attributes == {"meeting_number": 9, "site": "Leeds"}
    assert meeting.phase == "formal_kam", "meeting_number 9 falls in the attribute rule"
    note = by_id["n"]
    assert note.meta.type == "fieldnote", "front matter wins over the sidecar"
    assert note.phase == "pre_kam", "dated 2011-02-03: the date rule"


def test_yaml_sidecar_list_form_and_a_missing_file(tmp_path: Path, small_codebook) -> None:
    tmp_path = tmp_path / "src"
    write(tmp_path / "a.txt", "Just words.\n")
    write(
        tmp_path / "metadata.yaml",
        "- {file: a.txt, type: document, phase: Formal KAM}\n- {file: gone.txt, type: email}\n",
    )
    sources, problems = _prepare(tmp_path, small_codebook)
    assert sources[0].phase == "formal_kam", "a phase may be given by its label"
    assert [p.reason for p in problems] == ["describes 'gone.txt', which is not in the folder"]
    assert not problems[0].skipped


def test_bad_date_unknown_phase_and_type_are_warnings_not_skips(tmp_path: Path, small_codebook) -> None:
    tmp_path = tmp_path / "src"
    write(tmp_path / "a.txt", "---\ndate: 2011-13-45\nphase: pre-kam-typo\ntype: podcast\n---\nWords.\n")
    sources, problems = _prepare(tmp_path, small_codebook)
    assert len(sources) == 1 and sources[0].meta.date is None and sources[0].phase is None
    reasons = " | ".join(p.reason for p in problems)
    assert "date '2011-13-45' is not a valid YYYY-MM-DD date" in reasons
    assert "phase 'pre-kam-typo' is not in the codebook (phases: pre_kam, formal_kam)" in reasons
    assert "source type 'podcast' is not one of the codebook's" in reasons
    assert not any(p.skipped for p in problems)


def test_duplicate_ids_skip_the_second_file(tmp_path: Path, small_codebook) -> None:
    tmp_path = tmp_path / "src"
    write(tmp_path / "a.txt", "---\nid: same\n---\nOne.\n")
    write(tmp_path / "b.txt", "---\nid: same\n---\nTwo.\n")
    sources, problems = _prepare(tmp_path, small_codebook)
    assert [s.rel for s in sources] == ["a.txt"]
    assert problems[0].skipped and "already used by" in problems[0].reason


def test_malformed_sidecar_is_reported_and_files_still_read(tmp_path: Path, small_codebook) -> None:
    tmp_path = tmp_path / "src"
    write(tmp_path / "a.txt", "Words.\n")
    write(tmp_path / "metadata.yaml", "a.txt: [unclosed\n")
    sources, problems = _prepare(tmp_path, small_codebook)
    assert len(sources) == 1
    assert "metadata.yaml:" in problems[0].reason and "malformed YAML" in problems[0].reason
