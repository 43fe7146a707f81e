"""Speaker turns: one golden file per convention (fixtures/turns/NAME and NAME.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import FIXTURES
from .golden import cases, expected

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_turns_match_golden_file(case: Path) -> None:
    golden = json.loads(case.with_name(case.name + ".json").read_text(encoding="utf-8"))
    assert expected(case) == golden


def _speakers(name: str) -> list:
    return [t["speaker"] for t in json.loads((FIXTURES / "turns" / f"{name}.json").read_text(encoding="utf-8"))]


def test_golden_files_say_what_the_conventions_mean() -> None:
    # The golden files are the spec; these checks keep a careless regeneration from passing.
    assert _speakers("interview-shorthand.txt") == [None, "I", "R", "I", "R"]
    assert _speakers("timestamps.txt") == ["Sarah", "Mark Ellis", "Sarah", "Mark Ellis"]
    assert _speakers("caps-role.txt") == ["DAVID HALE", "SARAH COLLINS"]
    assert _speakers("markdown-bold.md")[1:] == ["Interviewer", "Kate Moss"]
    assert set(_speakers("email-headers.txt")) == {None}
    assert _speakers("participants-gate.md") == ["Chair", "Sam Patel", "Sam Patel"]
    gate = json.loads((FIXTURES / "turns" / "participants-gate.md.json").read_text(encoding="utf-8"))
    assert "Decision: plan accepted" in gate[1]["text"] and gate[1]["unit"] == "KAM"
    times = [t["time"] for t in json.loads((FIXTURES / "turns" / "timestamps.txt.json").read_text(encoding="utf-8"))]
    assert times == ["00:01:02", "00:01:15", "00:01:40", "00:02:05"]
