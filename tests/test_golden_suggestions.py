"""Golden files for rule suggestions: an input and its expected suggestions side by side.

Each folder in ``fixtures/suggestions/`` is one case: ``input.txt`` (a transcript written for
the test), ``codebook.yaml`` (the case's own codebook; without one, the built-in ``kam``)
and ``expected.json``: every segment of the input in order, with its speaker, its text and
the suggestions the run stored for it (code, score, evidence with source offsets, words and
rule). The input is coded as ``qualkam code`` codes it (``code_folder``), then read back
through ``qualkam.open``, so the files pin what a coder is shown.

A new case is a new folder. After a deliberate change to matching or scoring, rewrite the
expected files with ``QUALKAM_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_suggestions.py``
and read the diff line by line: the expected files are the specification.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import qualkam
from qualkam.coding.run import code_folder

CASES = Path(__file__).parent / "fixtures" / "suggestions"
UPDATE = os.environ.get("QUALKAM_UPDATE_GOLDEN") == "1"


def cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if p.is_dir())


def suggestions(case: Path, work: Path) -> list[dict[str, Any]]:
    """Code the case's input in a fresh project; each segment with the suggestions stored for it."""
    folder = work / "src"
    folder.mkdir(parents=True)
    shutil.copy(case / "input.txt", folder / "input.txt")
    codebook = case / "codebook.yaml" if (case / "codebook.yaml").exists() else "kam"
    with qualkam.open(work / "golden.db", create=True) as view:
        code_folder(folder, codebook, view.project, out_dir=None, jobs=1)
        segments = view.segments()
        found = view.codings("suggestions")
    by_segment: dict[int, list[dict[str, Any]]] = {}
    for row in found.sort_values(["segment", "code"]).to_dict("records"):
        by_segment.setdefault(row["segment"], []).append(
            {"code": row["code"], "score": row["score"], "evidence": row["evidence"]}
        )
    return [
        {
            "segment": int(row["position"]),
            "speaker": row["speaker"] if isinstance(row["speaker"], str) else None,
            "start": int(row["start"]),
            "text": row["text"],
            "suggestions": by_segment.get(row["segment"], []),
        }
        for row in segments.to_dict("records")
    ]


def dumped(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("case", cases(), ids=lambda p: p.name)
def test_suggestions_match_golden_file(case: Path, tmp_path: Path) -> None:
    now = dumped(suggestions(case, tmp_path))
    golden = case / "expected.json"
    if UPDATE:
        golden.write_text(now, encoding="utf-8")
        return
    assert golden.exists(), f"{golden} is missing; write it with QUALKAM_UPDATE_GOLDEN=1 and read it"
    expected = golden.read_text(encoding="utf-8")
    if now != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True), now.splitlines(keepends=True), str(golden), "this run", n=3
            )
        )
        pytest.fail(
            f"suggestions for {case.name} differ from the golden file; if the change is meant, rewrite it with "
            f"QUALKAM_UPDATE_GOLDEN=1 and review the diff:\n{diff}",
            pytrace=False,
        )


def _golden(name: str) -> list[dict[str, Any]]:
    return json.loads((CASES / name / "expected.json").read_text(encoding="utf-8"))


def _evidence(name: str) -> list[tuple[str, str, str]]:
    """(code, words, rule) of every piece of evidence in a case's golden file."""
    return [
        (s["code"], e["text"], e["rule"])
        for segment in _golden(name)
        for s in segment["suggestions"]
        for e in s["evidence"]
    ]


@pytest.mark.parametrize("case", cases(), ids=lambda p: p.name)
def test_golden_evidence_points_into_its_segment(case: Path) -> None:
    # A careless rewrite cannot pass: every span holds its words, inside its segment, at the
    # same characters of input.txt (offsets count characters, not bytes: see non-ascii).
    source = (case / "input.txt").read_text(encoding="utf-8")
    for segment in _golden(case.name):
        assert source[segment["start"] : segment["start"] + len(segment["text"])] == segment["text"]
        for suggestion in segment["suggestions"]:
            assert 0 < suggestion["score"] < 1
            for e in suggestion["evidence"]:
                inside = segment["text"][e["start"] - segment["start"] : e["end"] - segment["start"]]
                assert inside == e["text"] == source[e["start"] : e["end"]], (case.name, segment["segment"], e)


def test_golden_files_say_what_the_cases_are_about() -> None:
    lemma = _evidence("lemma-phrases")
    assert ("workload", "double shifts", "lemma:double shift") in lemma
    assert ("workload", "RUN OFF OUR FEET", "lemma:run off our feet") in lemma
    assert ("peer_support", "helped out", "lemma:help out") in lemma
    assert [w for c, w, _ in lemma if c == "workload" and "taff" in w] == ["Short Staffed"]  # not short-staffed

    tokens = _golden("token-patterns")
    rules = {e["rule"] for s in tokens for x in s["suggestions"] for e in x["evidence"]}
    assert {"tokens:1", "tokens:2", "lemma:second line", "lemma:call back"} <= rules
    assert {x["score"] for s in tokens for x in s["suggestions"]} == {0.5, 0.875}  # one rule; three distinct rules
    assert tokens[-1]["suggestions"] == []  # "Ticket 8812" is two tokens: the REGEX wants ticket-8812

    excluded = _golden("exclusions")
    assert excluded[0]["suggestions"] == []  # "no overtime"
    assert [(c, w) for c, w, _ in _evidence("exclusions")] == [
        ("overtime", "stay late"),  # the ban drops "overtime", not "stay late"
        ("overtime", "Overtime"),  # "Unpaid overtime" dropped, the next sentence's kept
        ("pay", "overtime pay"),  # "no overtime" excludes overtime only, not pay
        ("pay", "pay rises"),
    ]

    accented = _evidence("non-ascii")
    assert ("meeting_place", "CAFÉ", "lemma:café") in accented
    assert ("feeling", "déjà-vu", "lemma:déjà-vu") in accented
    assert ("feeling", "naïve question", "tokens:1") in accented
    assert {s["speaker"] for s in _golden("non-ascii")} == {"Zoë Müller", "José Ñúñez"}

    interview = _evidence("kam-interview")
    assert ("bureaucratic_disposition_formal", "follow the procedure", "lemma:follow the procedure") in interview
    # the question is the formal pole's; "don't follow the procedure any more" is the other pole's: the KAM
    # codebook's exclusions read the formal machinery dropped ("any more", "no longer", "scrapped") as mitigation
    assert sum(w == "follow the procedure" for _, w, _ in interview) == 1
    assert ("bureaucratic_disposition_post_bureaucratic", "procedure any more", "tokens:8") in interview
    # "tore up the rule book" is the post-bureaucratic pole's, excluded from the formal one
    assert [c for c, w, _ in interview if "rule book" in w] == ["bureaucratic_disposition_post_bureaucratic"]
    assert _golden("kam-meeting")[-1]["suggestions"] == []
