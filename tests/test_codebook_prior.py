"""The codebook as training signal (issue 15): codebook texts as weighted pseudo-examples beside
people's codings, and a zero-shot model from the codebook alone (``qualkam train --from codebook``).

The project is written here: interviews about the weather, the budget and nothing much. Nobody
codes anything; the codebook's definitions and examples are all the models know.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.codebook import parse_codebook
from qualkam.coding.learn import load_model
from qualkam.coding.learn.classifiers import TfidfLogistic
from qualkam.coding.learn.prior import (
    CODEBOOK,
    CodebookModel,
    CodebookPrior,
    CodebookText,
    codebook_texts,
    leaf_codes,
    prior_weight,
    strip_code_references,
    train_zero_shot,
    zero_shot_choice,
)
from qualkam.coding.run import code_folder
from qualkam.coding.segment import Segment
from qualkam.errors import QualkamError
from qualkam.store.project import Project
from qualkam.store.training import segments as stored_segments

from .conftest import write

CODEBOOK_YAML = """\
name: Prior test codebook
version: "1"
codes:
  - id: topics
    label: Topics
    definition: Parent of the topic codes; never coded itself.
    children:
      - id: weather
        label: Talk about the weather
        definition: Rain, storms, sunshine and the forecast.
        include:
          - Complaints about rain or storms.
        exclude:
          - Money spent on umbrellas (use budget).
        examples:
          - "The storm flooded the car park and the rain never stopped."
      - id: budget
        label: The budget
        definition: Money, costs and spending limits.
        examples:
          - "We overspent the budget on travel costs."
      - id: silent
        label: Silence
"""
FILLER = "we met on monday and went over our plan for next few weeks with my team".split()
WEATHER = "the storm and the rain flooded everything".split()


def _project(root: Path, sources: int = 4, turns: int = 12) -> tuple[Path, set[tuple[str, int]]]:
    """Sources of filler turns; a third of them hold weather words. Nobody codes: returns the
    project and the (source, position) of the weather turns."""
    rng = random.Random(5)
    weather: set[tuple[str, int]] = set()
    for s in range(sources):
        lines = []
        for i in range(turns):
            words = rng.sample(FILLER, 8)
            if i % 3 == 0:
                words = rng.sample(WEATHER, 5) + words[:3]
                weather.add((f"int-{s}", i))
            lines.append(("Ann: " if i % 2 == 0 else "Bob: ") + " ".join(words).capitalize() + ".")
        write(root / "src" / f"int-{s}.md", f"---\nid: int-{s}\ntype: interview\n---\n" + "\n\n".join(lines) + "\n")
    db = root / "project.db"
    with Project.open(db, create=True) as project:
        code_folder(root / "src", parse_codebook(CODEBOOK_YAML), project, out_dir=None)
    return db, weather


# -- the codebook's texts --------------------------------------------------------------------------
def test_exclude_rules_lose_their_pointers_to_other_codes() -> None:
    ids = ["weather", "budget", "getting_relate"]
    assert strip_code_references("Money spent on umbrellas (use budget).", ids) == (
        "Money spent on umbrellas.",
        ["budget"],
    )
    assert strip_code_references("Asking to agree (getting_relate) or (weather).", ids) == (
        "Asking to agree or.",
        ["getting_relate", "weather"],
    )
    assert strip_code_references("A bare 'Okay?' (not coded).", ids) == ("A bare 'Okay?' (not coded).", [])


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="ab ().?", max_size=8),
            st.sampled_from(["(use budget)", "(weather)", "(budget, weather)", "(not coded)", "budget"]),
        ),
        max_size=8,
    ).map("".join)
)
def test_stripping_code_references_keeps_everything_else(text: str) -> None:
    ids = ["weather", "budget"]
    clean, named = strip_code_references(text, ids)
    assert set(named) <= set(ids) and len(named) == len(set(named))
    assert strip_code_references(clean, ids) == (clean, [])  # nothing left to strip
    for group in re.findall(r"\(([^()]*)\)", clean):
        assert not set(re.findall(r"[\w-]+", group)) & set(ids)
    assert "  " not in clean and clean == clean.strip()
    if "(" not in text:
        assert clean == " ".join(text.split()) and named == []


def test_codebook_texts_are_the_leaf_codes_lemmatized_with_exclude_rules_negative() -> None:
    book = parse_codebook(CODEBOOK_YAML)
    assert leaf_codes(book) == ["weather", "budget", "silent"]
    texts = codebook_texts(book)
    assert {t.code for t in texts} == {"weather", "budget", "silent"}  # not the parent
    weather = [t for t in texts if t.code == "weather"]
    assert [t.kind for t in weather] == ["label", "definition", "include", "example", "exclude"]
    exclude = weather[-1]
    assert not exclude.positive and exclude.text == "Money spent on umbrellas." and "budget" not in exclude.input
    example = weather[3]
    assert example.positive and "flood" in example.input.split() and example.input == example.input.lower()


# -- the prior beside people's codings --------------------------------------------------------------
def test_the_codebook_weight_decays_as_people_code() -> None:
    assert prior_weight(0, 5) == 1.0 and prior_weight(5, 5) == 0.5
    weights = [prior_weight(n, 5) for n in range(0, 200, 7)]
    assert all(a > b for a, b in zip(weights, weights[1:], strict=False)) and weights[-1] < 0.03
    with pytest.raises(ValueError):
        prior_weight(-1)
    texts = [
        CodebookText("a", "example", "x", "rain storm"),
        CodebookText("a", "exclude", "y", "umbrella cost"),
        CodebookText("b", "definition", "z", "money cost"),
        CodebookText("gone", "example", "w", "not trained"),
    ]
    rows = CodebookPrior(texts, k=5).rows(["a", "b"], np.array([0, 45]))
    assert rows.inputs == ["rain storm", "umbrella cost", "money cost"]  # a code not trained: no row
    assert rows.labels.tolist() == [[1, 0], [0, 0], [0, 1]]
    assert rows.weights.tolist() == [[1.0, 0.0], [1.0, 0.0], [0.0, 0.1]]  # b coded 45 times: 5 / 50
    later = CodebookPrior(texts, k=5).rows(["a", "b"], np.array([20, 45]))
    assert later.weights[0, 0] == pytest.approx(0.2) and later.weights[0, 0] < rows.weights[0, 0]


def test_weighted_codebook_rows_teach_a_word_no_coded_segment_has() -> None:
    """The TF-IDF regression learns "storm" for weather from a codebook row, in proportion to
    the row's weight; without the row (or at weight 0) the word means nothing."""
    docs = ["monday plan team"] * 6 + ["rain today team", "rain monday plan", "storm warning"]
    labels = np.array([[0]] * 6 + [[1], [1], [1]], dtype=np.float32)
    storm = 0

    def coefficient(weight: float | None) -> float:
        model = TfidfLogistic(None, "t")  # type: ignore[arg-type]
        if weight is None:
            model.fit(docs[:8] + ["monday team"], np.vstack([labels[:8], [[0]]]), ["weather"])
        else:
            w = np.array([[1.0]] * 8 + [[weight]])
            model.fit(docs, labels, ["weather"], w)
        scored = model.predict(["storm storm"])[0, storm]
        return float(scored)

    without, faded, full = coefficient(None), coefficient(0.05), coefficient(1.0)
    assert full > faded > without


# -- zero-shot: the codebook alone ------------------------------------------------------------------
def test_zero_shot_choice_is_the_best_code_above_the_floor() -> None:
    scores = np.array([[0.3, 0.2, 0.0], [0.05, 0.08, 0.0], [0.5, 0.5, 0.4]])
    assert zero_shot_choice(scores, 0.1).tolist() == [[True, False, False], [False, False, False], [True, False, False]]
    assert zero_shot_choice(scores, 0.1, top=2).tolist() == [
        [True, True, False],
        [False, False, False],
        [True, True, False],
    ]
    assert zero_shot_choice(np.zeros((0, 3)), 0.1).shape == (0, 3)


@pytest.mark.slow
def test_a_code_nobody_coded_is_suggested_from_its_codebook_text_and_the_model_reloads(tmp_path: Path) -> None:
    db, weather = _project(tmp_path)
    with Project.open(db) as project:
        found = train_zero_shot(project)
        assert found.codes == ["weather", "budget", "silent"] and found.texts["weather"] == 4
        assert "best-matching code" in found.rule and "0.1" in found.rule
    with Project.open(db) as project:  # stored, and loaded as the zero-shot model
        model = load_model(project)
        assert isinstance(model, CodebookModel) and model.layer == CODEBOOK and model.id == found.model_id
        rows = stored_segments(project)
        segments = [
            Segment(int(r.position), 0, len(r.text), r.text, None, None, None, None, None, r.lemmas)
            for r in rows.itertuples()
        ]
        suggested = model.suggest("int-0", segments)
    places = list(zip(rows["source"], rows["position"], strict=True))
    hits = {places[i] for i, found_here in enumerate(suggested) if any(s.code_id == "weather" for s in found_here)}
    assert hits and hits <= weather and len(hits) >= len(weather) // 2
    some = next(s for found_here in suggested for s in found_here if s.code_id == "weather")
    assert 0.1 <= some.score <= 1
    evidence = [e.as_dict() for e in some.evidence]
    assert evidence and all(e["source"] == CODEBOOK and e["rule"] == "model:codebook" for e in evidence)
    assert evidence[0]["text"].startswith("example: The storm flooded the car park")
    # The label-only code shares no word with any segment.
    assert not any(s.code_id == "silent" for found_here in suggested for s in found_here)


@pytest.mark.slow
def test_train_from_codebook_on_the_command_line_then_code_suggests_with_the_codebook(
    runner: CliRunner, tmp_path: Path
) -> None:
    db, weather = _project(tmp_path)
    result = runner.invoke(app, ["train", "--from", "codebook", "--project", str(db)])
    assert result.exit_code == 0, result.output
    assert "from the codebook alone · model 1 · 3 code(s)" in result.output
    assert "No held-out figures" in result.output and "best-matching code" in result.output
    again = runner.invoke(app, ["code", str(tmp_path / "src"), "--project", str(db), "--suggest", "model"])
    assert again.exit_code == 0, again.output
    shown = runner.invoke(app, ["excerpts", "--from", "suggestions", "--format", "csv", "--project", str(db)])
    assert "weather" in shown.output and "model:codebook" in shown.output
    bad = runner.invoke(app, ["train", "--from", "codebook", "--floor", "2", "--project", str(db)])
    assert bad.exit_code != 0


def test_zero_shot_needs_a_codebook_with_text(tmp_path: Path) -> None:
    with Project.open(tmp_path / "empty.db", create=True) as project:
        with pytest.raises(QualkamError, match="no codebook"):
            train_zero_shot(project)
        with pytest.raises(QualkamError, match="floor"):
            train_zero_shot(project, floor=1.5)
