"""Rule suggestions: lemma phrases ignore case and inflection, token patterns, exclusions, evidence."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.matcher import Matcher

from qualkam.coding.nlp import load_pipeline
from qualkam.coding.suggest import Suggester, TokenRules, plain_matchers, required_words, score


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


# --- issue 14: the fast token matching finds what spaCy's plain Matcher finds, in its order ---

_WORDS = ["the", "The", "sales", "target", "targets", "follow", "Follow", "procedure", "v12", "version", "5", ",", "."]
_ATTRS = st.sampled_from(["LOWER", "ORTH", "TEXT", "LEMMA", "NORM", "lower"])
_VALUE = st.one_of(
    st.sampled_from([w.lower() for w in _WORDS] + _WORDS),
    st.builds(lambda ws: {"IN": ws}, st.lists(st.sampled_from(_WORDS + ["sale", "be"]), max_size=4)),
    st.builds(lambda ws: {"NOT_IN": ws}, st.lists(st.sampled_from(_WORDS), max_size=3)),
    st.sampled_from([{"REGEX": "^v\\d"}, {"REGEX": "et"}, {"IN": ["target"], "REGEX": "^t"}, {"in": ["the"]}]),
)
_OPS = st.sampled_from([None, None, None, "?", "*", "+", "!", "1", "{0,2}", "{1,2}", "{2}", "{1,}", "{,1}"])


@st.composite
def _token(draw: st.DrawFn) -> dict:
    token = dict(draw(st.dictionaries(_ATTRS, _VALUE, max_size=2)))
    if draw(st.booleans()) and not token:
        token["IS_PUNCT"] = draw(st.booleans())
    op = draw(_OPS)
    if op is not None:
        token["OP"] = op
    return token


_PATTERNS = st.lists(st.lists(_token(), min_size=1, max_size=4), min_size=1, max_size=3)
_TEXTS = st.lists(st.lists(st.sampled_from(_WORDS), max_size=40).map(" ".join), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PATTERNS, min_size=1, max_size=3), _TEXTS)
def test_token_rules_find_what_spacys_matcher_finds_in_its_order(codes: list, texts: list[str]) -> None:
    nlp = load_pipeline()
    fast, plain = TokenRules(nlp.vocab), Matcher(nlp.vocab)
    for c, patterns in enumerate(codes):
        for i, pattern in enumerate(patterns):
            key = f"code{c}\x1ftokens:{i + 1}"
            try:
                plain.add(key, [pattern])
            except Exception:  # a pattern spaCy refuses: the rules refuse it too
                with pytest.raises(Exception):  # noqa: B017
                    fast.add(f"code{c}", key, pattern)
                return
            fast.add(f"code{c}", key, pattern)
    strings = nlp.vocab.strings
    for doc in nlp.pipe(texts):
        expected, found = plain(doc), fast(doc)
        # the same matches; each code's in the order spaCy gives them (codes one after the other)
        assert sorted(found) == sorted(expected)
        for c in range(len(codes)):
            mine = [m for m in expected if strings[m[0]].startswith(f"code{c}\x1f")]
            assert [m for m in found if strings[m[0]].startswith(f"code{c}\x1f")] == mine


def test_required_words_and_reach() -> None:
    pattern = [{"LOWER": {"IN": ["sales", "marketing"]}}, {"OP": "{0,2}"}, {"lower": "target"}]
    pattern.append({"LOWER": "x", "OP": "?"})
    required = required_words(pattern)
    assert [(r.attr, r.words, r.reach) for r in required] == [
        ("LOWER", frozenset({"sales", "marketing"}), (0, 4)),
        ("LOWER", frozenset({"target"}), (3, 1)),
    ]
    assert required_words([{"LOWER": "a", "OP": "?"}, {"IS_PUNCT": True}]) == []  # nothing is certain
    (regex,) = required_words([{"TEXT": {"REGEX": "^v\\d"}, "OP": "+"}])
    assert regex.attr == "ORTH" and regex.words is None and regex.reach is None  # "+": no bound after it
    assert regex.test is not None and regex.test("v12") and not regex.test("version")


def test_suggester_on_a_long_doc_matches_the_plain_matchers(small_codebook) -> None:
    nlp = load_pipeline()
    text = " ".join(["We had to follow the procedure, and the sales target was set."] * 30 + ["No sales target."])
    doc = nlp(text)
    phrases, tokens, ex_phrases = plain_matchers(small_codebook, nlp)
    raw = [(m, s, e) for m, s, e in tokens(doc)]
    suggester = Suggester(small_codebook, nlp)
    assert suggester._tokens(doc) == raw and len(raw) == 30
    assert len(suggester.matches(doc)) == 30 + 30  # follow the procedure, sales target (the last one excluded)
