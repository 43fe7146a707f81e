"""Rule suggestions: the codebook's lemma phrases and token patterns, run with spaCy matchers.

Every suggestion carries its evidence (character spans in the source, the words, the rule)
so a coder can judge it. Scoring is documented in docs/codebook-format.md.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from qualkam.coding.codebook import Codebook
from qualkam.errors import QualkamError

_SEP = "\x1f"
_ANNOTATED = {"POS", "TAG", "MORPH", "LEMMA", "DEP"}  # attributes spaCy's Matcher refuses on a doc without them


@dataclass
class Evidence:
    """One match: where it is in the source's text, the words, and which rule fired."""

    start: int
    end: int
    text: str
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "rule": self.rule}


class EvidenceItem(Protocol):
    """What the store needs of any suggestion's evidence: the rules' ``Evidence``, or a trained
    model's similar segments (``qualkam.coding.learn.model.SimilarSegment``)."""

    def as_dict(self) -> dict[str, Any]: ...


@dataclass
class Suggestion:
    """A code proposed for a segment by the rules (or, as a subclass, by a trained model)."""

    code_id: str
    score: float
    evidence: Sequence[EvidenceItem] = field(default_factory=list)


def score(distinct_rules: int) -> float:
    """1 - 0.5**k: an ordering aid that grows with independent evidence, not a probability."""
    return round(1.0 - 0.5**distinct_rules, 4)


def _lower_lemmas(pattern: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lemmas are lower-cased by the pipeline, so lower-case the pattern's LEMMA values too."""
    pattern = copy.deepcopy(pattern)
    for token in pattern:
        for key, value in list(token.items()):
            if key.upper() != "LEMMA":
                continue
            if isinstance(value, str):
                token[key] = value.lower()
            elif isinstance(value, dict):
                for pred in ("IN", "NOT_IN"):
                    if isinstance(value.get(pred), list):
                        value[pred] = [v.lower() if isinstance(v, str) else v for v in value[pred]]
    return pattern


class Suggester:
    """Compiled matchers for one codebook and one pipeline."""

    def __init__(self, codebook: Codebook, nlp: Language) -> None:
        self.codebook = codebook
        self.nlp = nlp
        vocab = nlp.vocab
        self._phrases = PhraseMatcher(vocab, attr="LEMMA")
        self._tokens = Matcher(vocab)
        self._ex_phrases = PhraseMatcher(vocab, attr="LEMMA")
        self._ex_tokens = Matcher(vocab)
        self.has_exclusions = False
        self._check_annotations()
        for code in codebook.codes.values():
            pats = code.patterns
            self._add_phrases(self._phrases, code.id, pats.lemmas)
            for index, pattern in enumerate(pats.tokens):
                self._tokens.add(f"{code.id}{_SEP}tokens:{index + 1}", [_lower_lemmas(pattern)])
            if pats.exclude_lemmas or pats.exclude_tokens:
                self.has_exclusions = True
                self._add_phrases(self._ex_phrases, code.id, pats.exclude_lemmas)
                for index, pattern in enumerate(pats.exclude_tokens):
                    self._ex_tokens.add(f"{code.id}{_SEP}exclude:{index + 1}", [_lower_lemmas(pattern)])

    def _check_annotations(self) -> None:
        """Token patterns on POS, TAG, MORPH, LEMMA or DEP need a pipeline that sets them: spaCy's
        Matcher raises on every document otherwise, so say it once, before any file is read."""
        users: dict[str, list[str]] = {}
        for code in self.codebook.codes.values():
            for pattern in [*code.patterns.tokens, *code.patterns.exclude_tokens]:
                for attr in {str(key).upper() for token in pattern for key in token} & _ANNOTATED:
                    users.setdefault(attr, []).append(code.id)
        if not users:
            return
        probe = self.nlp("We follow the procedure here.")
        missing = sorted(attr for attr in users if not probe.has_annotation(attr))
        if missing:
            which = "; ".join(f"{attr} (code {', '.join(dict.fromkeys(users[attr]))})" for attr in missing)
            raise QualkamError(
                f"the codebook's token patterns use {which}, which this spaCy pipeline does not set; "
                "install a trained pipeline and pass {argument} (e.g. en_core_web_sm), or match on "
                "LOWER or LEMMA instead",
                argument="model",
            )

    @property
    def matchers(self) -> list[PhraseMatcher | Matcher]:
        """The compiled matchers that hold patterns: what every run applies to every doc (the
        benchmark's baseline applies the same ones)."""
        return [m for m in (self._phrases, self._tokens, self._ex_phrases, self._ex_tokens) if len(m)]

    def _add_phrases(self, matcher: PhraseMatcher, code_id: str, phrases: list[str]) -> None:
        if not phrases:
            return
        for phrase, doc in zip(phrases, self.nlp.pipe(phrases), strict=True):
            matcher.add(f"{code_id}{_SEP}lemma:{phrase}", [doc])

    def _raw(self, doc: Doc, phrase: PhraseMatcher, token: Matcher) -> Iterable[tuple[str, str, int, int]]:
        strings = self.nlp.vocab.strings
        found = (list(phrase(doc)) if len(phrase) else []) + (list(token(doc)) if len(token) else [])
        for match_id, start, end in found:
            code_id, rule = strings[match_id].split(_SEP, 1)
            yield code_id, rule, start, end

    def matches(self, doc: Doc, offset: int = 0) -> list[tuple[str, Evidence]]:
        """All (code id, evidence) in ``doc``; ``offset`` shifts spans into source offsets.

        A match that overlaps an exclusion pattern of the same code is dropped.
        """
        excluded: dict[str, list[tuple[int, int]]] = {}
        if self.has_exclusions:
            for code_id, _, start, end in self._raw(doc, self._ex_phrases, self._ex_tokens):
                excluded.setdefault(code_id, []).append((start, end))
        found: dict[tuple[str, int, int], Evidence] = {}
        for code_id, rule, start, end in self._raw(doc, self._phrases, self._tokens):
            if any(s < end and start < e for s, e in excluded.get(code_id, ())):
                continue
            span = doc[start:end]
            key = (code_id, span.start_char, span.end_char)
            if key not in found:  # one piece of evidence per span, first rule wins
                found[key] = Evidence(offset + span.start_char, offset + span.end_char, span.text, rule)
        return sorted(((k[0], ev) for k, ev in found.items()), key=lambda item: (item[1].start, item[0]))

    def suggest(self, doc: Doc, offset: int, spans: list[tuple[int, int]]) -> list[list[Suggestion]]:
        """Suggestions per segment span (source offsets); a match belongs where it starts."""
        per_span: list[dict[str, list[Evidence]]] = [{} for _ in spans]
        for code_id, evidence in self.matches(doc, offset):
            for index, (start, end) in enumerate(spans):
                if start <= evidence.start < end:
                    per_span[index].setdefault(code_id, []).append(evidence)
                    break
        result = []
        for by_code in per_span:
            result.append(
                [
                    Suggestion(code_id, score(len({e.rule for e in evs})), evs)
                    for code_id, evs in sorted(by_code.items())
                ]
            )
        return result
