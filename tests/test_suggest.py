"""Rule suggestions: lemma phrases ignore case and inflection, token patterns, exclusions, evidence."""

from __future__ import annotations

from qualkam.coding.nlp import load_pipeline
from qualkam.coding.suggest import Suggester, score


def _suggest(codebook, text: str):
    nlp = load_pipeline()
    suggester = Suggester(codebook, nlp)
    doc = nlp(text)
    return suggester.suggest(doc, 100, [(100, 100 + len(text))])[0]


def test_lemma_phrases_match_any_case_and_inflection(small_codebook) -> None:
    text = "The SALES TARGETS came from the US, and our Gut Feelings told us otherwise."
    found = {s.code_id: s for s in _suggest(small_codebook, text)}
    assert set(found) == {"hard_control", "soft_control"}
    hard = found["hard_control"].evidence[0]
    assert (hard.text, hard.rule) == ("SALES TARGETS", "lemma:sales target")
    assert text[hard.start - 100 : hard.end - 100] == "SALES TARGETS", "evidence offsets point into the source"
    assert found["soft_control"].evidence[0].text == "Gut Feelings"


def test_token_patterns_and_score_grow_with_distinct_rules(small_codebook) -> None:
    text = "We had to follow the procedure. The sales target was fixed, and the sales target again."
    (hard,) = _suggest(small_codebook, text)
    assert [e.rule for e in hard.evidence] == ["tokens:1", "lemma:sales target", "lemma:sales target"]
    assert hard.score == score(2) == 0.75
    assert score(1) == 0.5 and score(3) == 0.875


def test_exclusion_drops_only_the_overlapping_match(small_codebook) -> None:
    assert _suggest(small_codebook, "There was no sales target at all.") == []
    (hard,) = _suggest(small_codebook, "There was no sales target then; later a sales target arrived.")
    assert [e.text for e in hard.evidence] == ["sales target"]
    assert hard.evidence[0].start - 100 == len("There was no sales target then; later a ")


def test_matches_are_assigned_to_the_segment_where_they_start(small_codebook) -> None:
    nlp = load_pipeline()
    suggester = Suggester(small_codebook, nlp)
    text = "We trust each other. The reporting lines are clear."
    doc = nlp(text)
    spans = [(0, 20), (21, len(text))]
    first, second = suggester.suggest(doc, 0, spans)
    assert [s.code_id for s in first] == ["soft_control"]
    assert [s.code_id for s in second] == ["hard_control"]
