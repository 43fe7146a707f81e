"""bench/suggestions.py (issue 15): TalkMoves built into a project, labels on exact spans, and the
learned model measured beside a plain peer on the same folds.

The TalkMoves tests read ../shared (CC BY-NC-SA 4.0: read there, never copied here). The generic
mode is tested on a small project written here, with text of its own.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench import suggestions
from qualkam.coding.codebook import load_codebook
from qualkam.coding.learn import out_of_fold
from qualkam.coding.run import code_folder
from qualkam.coding.segment import Unit
from qualkam.coding.spans import code_span
from qualkam.store.project import Project
from qualkam.store.segments import codings, segments

from .conftest import SHARED, needs_shared, write

TALKMOVES = SHARED / "corpora" / "talkmoves"


# -- the codebook -------------------------------------------------------------------------------
def test_talkmoves_codebook_validates_and_has_every_labelled_move() -> None:
    book = load_codebook(suggestions.CODEBOOK)
    assert not book.warnings
    text = suggestions.CODEBOOK.read_text(encoding="utf-8")
    assert "CC BY-NC-SA 4.0" in text.split("name:")[0] and "Coding Manual" in text.split("name:")[0]
    moves = {**{c: "teacher_moves" for c in suggestions.TEACHER.values()}}
    moves.update({c: "student_moves" for c in suggestions.STUDENT.values()})
    assert set(moves) | {"teacher_moves", "student_moves"} == set(book.codes)
    for code, parent in moves.items():
        node = book.codes[code]
        assert node.parent == parent
        assert node.definition and node.include and node.exclude and len(node.examples) >= 2, code


def test_tags_are_read_by_their_number_whatever_the_spelling() -> None:
    counts = suggestions.LabelCount()
    rows = [
        ("T", "What is six times six?", "8 - Press for Accuracy", None),
        ("T", "And seven times six?", "8 - press for  accuracy", None),
        ("T", "Good.", "1 - None", None),
        ("T", "This is the table from yesterday.", "7 - Context", None),
        ("S", "Forty two.", None, "4 - making a claim"),
        ("S", "Because six sevens.", "", "5 - Providing Evidence/Explaining Reasoning"),
        ("S", "Hmm.", None, "\\"),
        ("S", "", None, "4 - Making a Claim"),  # no words: not a row, as the reader skips it
        ("S", 12.0, None, "4"),
    ]
    header = [None, "TimeStamp", "Turn", "Speaker", "Sentence", "Teacher Tag", "Student Tag"]
    names = [suggestions._key(v) for v in header]
    found = suggestions._rows(iter([(None, "0:01", 1, *r) for r in rows]), 1, names, counts)
    assert [(r.words, r.codes) for r in found] == [
        ("What is six times six?", ["press_accuracy"]),
        ("And seven times six?", ["press_accuracy"]),
        ("Good.", []),
        ("This is the table from yesterday.", []),
        ("Forty two.", ["making_claim"]),
        ("Because six sevens.", ["providing_evidence"]),
        ("Hmm.", []),
        ("12", ["making_claim"]),
    ]
    assert counts.values["teacher 8"] == 2 and len(counts.spellings["teacher 8"]) == 2
    assert counts.values["teacher 7"] == 1 and counts.values["student 4"] == 2
    assert counts.unreadable == {"student '\\\\'": 1}


def test_rows_are_placed_in_order_and_a_missing_row_does_not_move_the_search() -> None:
    text = "T: Yes. Yes.\nS: No.\nT: Yes."
    rows = [suggestions.Row(i, w, []) for i, w in enumerate(["Yes.", "Yes.", "Maybe.", "No.", "Yes."])]
    placed = [(s, e) for _, s, e in suggestions.place_rows(text, rows)]
    assert placed == [(3, 7), (8, 12), (None, None), (16, 19), (23, 27)]
    assert all(text[s:e] == r.words for r, (s, e) in zip(rows, placed, strict=True) if s is not None)


# -- TalkMoves itself ---------------------------------------------------------------------------
@needs_shared
@pytest.mark.shared
def test_a_few_talkmoves_files_are_built_with_every_labelled_row_on_its_span(tmp_path: Path) -> None:
    path, placement, counts, _ = suggestions.build_talkmoves(tmp_path, TALKMOVES, 3, Unit.sentence, jobs=1)
    assert placement.labelled > 100 and placement.unplaced == [] and placement.skipped_text == 0
    assert placement.labelled_on_a_segment / placement.labelled > 0.9, "sentence segments follow the rows"
    with Project.open(path) as project:
        expert = codings(project, f"coder:{suggestions.CODER}")
    assert len(expert) == placement.codings
    # An independent reading of the sheets: each manual move on a row is one coding of its words.
    import openpyxl

    expected: Counter[str] = Counter()
    for sheet_path in sorted((tmp_path / "transcripts").glob("*.xlsx")):
        sheet = openpyxl.load_workbook(sheet_path, read_only=True).worksheets[0]
        header: list[str] | None = None
        for row in sheet.iter_rows(values_only=True):
            if header is None:
                header = [str(v).strip().casefold() if v else "" for v in row]
                continue
            cells = dict(zip(header, row, strict=False))
            words = " ".join(str(cells.get("sentence") or "").split())
            for column, moves in (("teacher tag", {2, 3, 4, 5, 8, 9}), ("student tag", {2, 3, 4, 5})):
                number = re.match(r"\s*(\d+)", str(cells.get(column) or ""))
                if words and number and int(number.group(1)) in moves:
                    expected[words] += 1
    assert Counter(expert["text"]) == expected
    assert set(expert["code"]) <= set(suggestions.TEACHER.values()) | set(suggestions.STUDENT.values())
    assert counts.values["teacher 1"] > 0 and counts.values["student 1"] > 0


# -- the comparison, on a project written here ----------------------------------------------------
CODEBOOK = """\
name: Garden codebook
version: "1"
codes:
  - id: plants
    label: Plants
    children:
      - id: watering
        label: Watering
      - id: pests
        label: Pests
"""
WORDS = {
    "watering": ["hose", "watering", "soak", "drip", "rain", "can", "thirsty", "dry"],
    "pests": ["slugs", "aphids", "snails", "beetles", "nibbled", "holes", "caterpillars", "pellets"],
    None: ["sunday", "neighbour", "fence", "shed", "radio", "bicycle", "kettle", "gate"],
}
FILLER = "so I went out to the bed by the wall and looked at what was there this week".split()
KINDS = ["watering", "pests", None, "watering", None, "pests", "watering", "pests", None, "watering"]


def _garden_project(root: Path) -> Path:
    """Five gardeners' diaries of ten turns; ana codes each telling turn, the pest turns as a
    phrase inside the turn rather than the whole turn."""
    rng = random.Random(3)
    for n in range(5):
        turns = []
        for i, kind in enumerate(KINDS):
            words = rng.sample(FILLER, 7) + rng.sample(WORDS[kind], 3)
            rng.shuffle(words)
            turns.append(f"{'Pat' if i % 2 else 'Lou'}: {' '.join(words).capitalize()}.")
        write(root / "diaries" / f"diary-{n}.md", "---\ntype: interview\n---\n" + "\n\n".join(turns) + "\n")
    (root / "book.yaml").write_text(CODEBOOK, encoding="utf-8")
    db = root / "garden.qualkam"
    with Project.open(db, create=True) as project:
        code_folder(root / "diaries", load_codebook(root / "book.yaml"), project, out_dir=None, jobs=1)
        frame = segments(project)
        for seg in frame.itertuples():
            kind = KINDS[int(seg.position)]
            if kind == "watering":
                code_span(project, seg.source, int(seg.start), int(seg.end), kind, "ana")
            elif kind == "pests":
                code_span(project, seg.source, int(seg.start) + 2, int(seg.end) - 2, kind, "ana")
    return db


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _garden_project(tmp_path_factory.mktemp("garden"))


def test_out_of_fold_trains_each_fold_on_the_other_folds_only() -> None:
    texts = [f"text {i}" for i in range(9)]
    labels = np.array([[i % 2, i % 3 == 0] for i in range(9)], dtype=float)
    fold = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    seen: list[set[str]] = []

    def fit(train: list[str], y: np.ndarray):
        seen.append(set(train))
        return lambda new: np.array([[t == "text 4", True] for t in new])

    predicted = out_of_fold(texts, labels, fold, fit)
    assert seen == [{texts[i] for i in range(9) if fold[i] != f} for f in range(3)]
    assert predicted.dtype == bool and predicted[:, 1].all() and predicted[:, 0].tolist() == [i == 4 for i in range(9)]
    with pytest.raises(ValueError):
        out_of_fold(texts, labels[:5], fold, fit)


def test_the_balanced_peer_finds_a_rare_code_the_default_peer_misses() -> None:
    rng = random.Random(5)
    texts = [" ".join(rng.sample(FILLER, 8)) + (" aphids" if i % 20 == 0 else "") for i in range(200)]
    labels = np.array([[i % 20 == 0] for i in range(200)], dtype=float)
    default = suggestions.fit_peer(texts, labels)(texts)[:, 0]
    balanced = suggestions.fit_peer(texts, labels, class_weight="balanced")(texts)[:, 0]
    assert default.sum() < labels.sum() and balanced[labels[:, 0] == 1].all()


def test_model_and_peer_are_scored_on_the_same_segments_and_folds(garden: Path) -> None:
    calls: list[int] = []

    def peer(train: list[str], y: np.ndarray):
        calls.append(len(train))
        return suggestions.fit_peer(train, y)

    with Project.open(garden) as project:
        result = suggestions.compare(project, "coder:ana", folds=3, epochs=2, min_examples=2, fit=peer)
    assert result.codes == ["watering", "pests"]
    assert np.array_equal(result.model_fold, result.peer_fold) and set(result.model_fold) == {0, 1, 2}
    assert sorted(calls) == sorted(int((result.peer_fold != f).sum()) for f in range(3))
    assert result.labels.sum(axis=0).tolist() == [20, 15], "pest phrases count for their segment"
    found = suggestions.figures(result)
    assert found["per_code"]["watering"]["support"] == 20
    # The words of each code are its own: both classifiers find most of them held out.
    assert found["overall"]["model"]["micro"].f1 > 0.6 and found["overall"]["peer"]["micro"].recall is not None


@pytest.mark.parametrize("peer", ["default", "balanced"])
def test_generic_mode_prints_the_table_for_any_project(
    garden: Path, peer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = suggestions.main(
        ["--project", str(garden), "--coder", "ana", "--folds", "3", "--epochs", "2", "--min-examples", "2"]
        + ["--peer", peer]
    )
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "from coder:ana · 50 segments, 5 sources" in out
    assert ("(peer: class_weight=balanced)" in out) == (peer == "balanced")
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("  ", "micro", "macro"))}
    assert rows["watering"][1] == "20" and rows["pests"][1] == "15" and rows["micro"][1] == "35"
    assert "macro F1, model minus peer:" in out
    assert suggestions.main(["--project", str(garden), "--coder", "nobody"]) == 2
