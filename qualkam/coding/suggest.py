"""Rule suggestions: the codebook's lemma phrases and token patterns, run with spaCy matchers.

Every suggestion carries its evidence (character spans in the source, the words, the rule)
so a coder can judge it. Scoring is documented in docs/codebook-format.md.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.strings import get_string_id
from spacy.tokens import Doc
from spacy.vocab import Vocab

from qualkam.coding.codebook import Codebook, check_with_spacy
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


# Token attributes whose value is a word: a pattern token that must match one of them tells
# which words every match contains (TEXT is spaCy's name for ORTH in patterns).
_WORD_ATTRS = {"LOWER": "LOWER", "LEMMA": "LEMMA", "ORTH": "ORTH", "TEXT": "ORTH", "NORM": "NORM"}
_CONSUMED = (None, "1", "+")  # operators under which a token is matched at least once
_MATCHER_CACHE = 4096  # Matchers kept for a part of a code's patterns (beyond it, the code's whole one)


@dataclass(frozen=True)
class Required:
    """A token that every match of a pattern contains: its ``attr`` (LOWER, LEMMA, ORTH or NORM)
    is one of ``words`` or, when ``words`` is None, a word that passes ``test``. ``reach``: at
    most how many tokens a match holds before it and after it (None: no bound)."""

    attr: str
    words: frozenset[str] | None = None
    test: Callable[[str], bool] | None = None
    reach: tuple[int, int] | None = None


def _not_in(members: frozenset[str], word: str) -> bool:
    return word not in members


def _found(regex: re.Pattern[str], word: str) -> bool:
    return regex.search(word) is not None  # as spaCy's REGEX: anywhere in the word


def _word_test(predicates: dict[Any, Any]) -> Required | None:
    """What a token's ``{"IN": [...], "REGEX": ..., ...}`` on a word attribute says of the word
    (attribute left empty), or None when nothing: every part must hold, as in spaCy; parts
    other than IN, NOT_IN and REGEX over strings (FUZZY, comparisons ...) are left out, which
    only makes the test weaker, never wrong."""
    tests: list[Callable[[str], bool]] = []
    words: frozenset[str] | None = None
    for predicate, value in predicates.items():
        name = predicate.upper() if isinstance(predicate, str) else None
        if name in ("IN", "NOT_IN") and isinstance(value, list) and all(isinstance(v, str) for v in value):
            members = frozenset(value)
            if name == "IN":
                words = members if words is None else words & members
                tests.append(members.__contains__)
            else:
                tests.append(partial(_not_in, members))
        elif name == "REGEX" and isinstance(value, str):
            tests.append(partial(_found, re.compile(value)))
    if not tests:
        return None
    if words is not None and len(tests) == 1:
        return Required("", words)
    return Required("", test=lambda word: all(test(word) for test in tests))


_BOUNDS = re.compile(r"\{(\d*)(,?)(\d*)\}")


def _spec(token: Any) -> dict[str, Any] | None:
    """A pattern token with its keys upper-cased as spaCy reads them; None when two keys read
    the same ("op" and "OP") or it is not a dict."""
    if not isinstance(token, dict):
        return None
    spec = {key.upper(): value for key, value in token.items() if isinstance(key, str)}
    return spec if len(spec) == len(token) else None


def _most(spec: dict[str, Any] | None) -> int | None:
    """The most tokens one pattern token can match (None: no bound, or not known)."""
    op = spec.get("OP") if spec is not None else "*"
    if op in (None, "1", "!", "?"):
        return 1
    bounds = _BOUNDS.fullmatch(op) if isinstance(op, str) else None
    if bounds is None or (bounds[2] and not bounds[3]):
        return None  # "*", "+", "{n,}", or something spaCy would refuse
    return int(bounds[3] or bounds[1] or 0)


def longest(pattern: list[dict[str, Any]]) -> int | None:
    """The most tokens a match of ``pattern`` can span, or None when unbounded."""
    most = [_most(_spec(token)) for token in pattern]
    return None if None in most else sum(m for m in most if m is not None)


def required_words(pattern: list[dict[str, Any]]) -> list[Required]:
    """What every match of ``pattern`` contains: for each token the pattern must consume (no
    ``OP``, or ``1`` or ``+``), each word attribute (LOWER, LEMMA, ORTH/TEXT, NORM) it sets to a
    word, to an ``IN`` or ``NOT_IN`` list of words or to a ``REGEX``: a doc without such a token
    cannot hold a match. Optional tokens and other attributes add nothing, so the list may be
    empty: such a pattern has to run on every doc."""
    specs = [_spec(token) for token in pattern]
    most = [_most(spec) for spec in specs]
    required: list[Required] = []
    for at, spec in enumerate(specs):
        if spec is None or spec.get("OP") not in _CONSUMED:
            continue  # an optional token (or one spelt ambiguously): requires nothing
        before, after = most[:at], most[at + 1 :]
        reach = None
        if spec.get("OP") != "+" and None not in before and None not in after:
            reach = (sum(m for m in before if m is not None), sum(m for m in after if m is not None))
        for key, value in spec.items():
            attr = _WORD_ATTRS.get(key)
            if attr is None:
                continue
            if isinstance(value, str):
                required.append(Required(attr, frozenset([value]), reach=reach))
            elif isinstance(value, dict) and (found := _word_test(value)) is not None:
                required.append(Required(attr, found.words, found.test, reach))
    return required


class TokenRules:
    """Token patterns run only where they can match: spaCy's ``Matcher`` with the patterns whose
    required tokens (``required_words``) a doc holds, over the stretches around them.

    spaCy's Matcher costs the same on every token for every pattern (and its ``IN`` lists and
    regular expressions call Python for each), so one Matcher with all of a codebook's token
    patterns over every doc was most of a coding run (issue 14). A match contains the tokens its
    pattern requires, so a doc without them holds none; and when a pattern bounds how far a
    match reaches before and after a required token, the Matcher runs on those windows around
    it (merged where they overlap) instead of the whole doc. Which words meet which requirement
    is worked out once per distinct word (its hash) and remembered.

    Called like a Matcher on a ``Doc``, it returns the same ``(match_id, start, end)`` triples:
    each code's in the order spaCy's Matcher gives them, the codes one after the other. Each
    code's live patterns run in a Matcher of their own (cached): a Matcher's order for some of
    its patterns does not depend on the others, none of which can match here; a window holds
    every match that starts in it, and finds them in the order the whole doc would."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self._codes: dict[str, int] = {}
        self._rules: list[list[tuple[str, list[dict[str, Any]]]]] = []  # per code: (key, pattern), in order
        self._whole: list[Matcher] = []  # per code: all its patterns
        self._parts: dict[tuple[int, tuple[int, ...]], Matcher] = {}  # (code, positions): some of them
        self._anywhere: list[tuple[int, int]] = []  # (code, position) of the patterns that require nothing
        self._needs: list[int] = []  # per pattern that requires tokens: its requirements as bits
        self._where: list[tuple[int, int]] = []  # per such pattern: (code, position)
        self._index: dict[tuple[int, int], int] = {}  # (code, position) -> that pattern's index
        self._reach: dict[int, tuple[int, int]] = {}  # requirement bit -> tokens a match holds before, after
        # attribute -> word hash -> (requirements it meets as bits, patterns that require it)
        self._words: dict[str, dict[int, tuple[int, tuple[int, ...]]]] = {}
        self._tests: dict[str, list[tuple[int, int, Callable[[str], bool]]]] = {}  # attribute -> (bit, pattern, test)
        self._known: dict[str, dict[int, tuple[int, tuple[int, ...]]]] = {}  # _words and _tests, per word seen
        self._plain: dict[str, set[int]] = {}  # words seen that meet no requirement (with tests)
        self._attrs: list[str] = []  # the attributes the requirements are on
        self._bits = 0
        self._patterns = 0

    def add(self, code_id: str, key: str, pattern: list[dict[str, Any]]) -> None:
        """Add one pattern of ``code_id`` under the match key ``key`` (as ``Matcher.add``)."""
        code = self._codes.get(code_id)
        if code is None:
            code = self._codes[code_id] = len(self._rules)
            self._rules.append([])
            self._whole.append(Matcher(self.vocab))
        self._whole[code].add(key, [pattern])  # raises for a pattern spaCy refuses, before anything is kept
        position = len(self._rules[code])
        self._rules[code].append((key, pattern))
        self._patterns += 1
        required = required_words(pattern)
        if not required:
            self._anywhere.append((code, position))
            return
        index, needs = len(self._needs), 0
        for req in required:
            bit = 1 << self._bits
            self._bits += 1
            needs |= bit
            if req.reach is not None:
                self._reach[bit] = req.reach
            if req.words is None:
                assert req.test is not None
                self._tests.setdefault(req.attr, []).append((bit, index, req.test))
                continue
            table = self._words.setdefault(req.attr, {})
            for word in req.words:
                bits, patterns = table.get(get_string_id(word), (0, ()))
                table[get_string_id(word)] = (bits | bit, patterns if index in patterns else (*patterns, index))
        self._needs.append(needs)
        self._where.append((code, position))
        self._index[code, position] = index
        self._attrs = sorted({*self._words, *self._tests})
        self._plain.clear()  # a new test: what words meet is to be learnt again
        # without tests, the words' lists say it all; with them, each word is learnt when first seen
        self._known = {attr: dict(table) for attr, table in self._words.items() if attr not in self._tests}

    def __len__(self) -> int:
        return self._patterns

    def _learn(self, attr: str, words: set[int]) -> None:
        """What each new word meets, by the words' lists and by the tests; remembered (a word
        that meets nothing among ``_plain``)."""
        table, known, plain = self._words.get(attr, {}), self._known.setdefault(attr, {}), self._plain
        for word in words:
            bits, patterns = table.get(word, (0, ()))
            text = self.vocab.strings[word]
            for bit, index, test in self._tests.get(attr, ()):
                if test(text):
                    bits |= bit
                    patterns = patterns if index in patterns else (*patterns, index)
            if bits:
                known[word] = (bits, patterns)
            else:
                plain.setdefault(attr, set()).add(word)

    def _scan(self, doc: Doc) -> tuple[dict[int, list[int]], dict[str, tuple[list[int], dict[int, int]]]]:
        """The patterns that may match in ``doc`` (code -> positions of its patterns), and per
        attribute the doc's values and the requirement bits of those that meet any."""
        live: dict[int, list[int]] = {}
        for code, position in self._anywhere:
            live.setdefault(code, []).append(position)
        seen: dict[str, tuple[list[int], dict[int, int]]] = {}
        if not len(doc):
            return live, seen
        have, candidates = 0, set[int]()
        for attr in self._attrs:
            values = doc.to_array(attr).tolist()
            words = set(values)
            known = self._known.get(attr, {})
            if attr in self._tests:
                new = words.difference(known, self._plain.get(attr, ()))
                if new:
                    self._learn(attr, new)
                    known = self._known[attr]
            met: dict[int, int] = {}
            for word in words.intersection(known):
                bits, patterns = known[word]
                met[word] = bits
                have |= bits
                candidates.update(patterns)
            seen[attr] = (values, met)
        needs = self._needs
        for index in candidates:
            if needs[index] & have == needs[index]:
                code, position = self._where[index]
                live.setdefault(code, []).append(position)
        return live, seen

    def _matcher(self, code: int, part: tuple[int, ...]) -> Matcher:
        """A Matcher with the code's patterns at ``part``, in the code's order."""
        if len(part) == len(self._rules[code]):
            return self._whole[code]
        matcher = self._parts.get((code, part))
        if matcher is None:
            if len(self._parts) >= _MATCHER_CACHE:
                return self._whole[code]  # the same matches, found more slowly
            matcher = self._parts[code, part] = Matcher(self.vocab)
            for position in part:
                key, pattern = self._rules[code][position]
                matcher.add(key, [pattern])
        return matcher

    def _windows(
        self, code: int, part: tuple[int, ...], length: int, hits: Callable[[], list[tuple[int, int]]]
    ) -> list[tuple[int, int]] | None:
        """Disjoint stretches [start, end) of the doc that hold every match of the code's
        patterns at ``part``; None: the whole doc (no bound, or not worth cutting)."""
        windows: list[tuple[int, int]] = []
        for position in part:
            index = self._index.get((code, position))
            if index is None:
                return None
            best: list[tuple[int, int]] | None = None
            needs = self._needs[index]
            while needs:  # the bounded requirement met in the fewest places anchors the windows
                bit = needs & -needs
                needs ^= bit
                reach = self._reach.get(bit)
                if reach is None:
                    continue
                before, after = reach
                found = [(max(0, at - before), min(length, at + 1 + after)) for at, bits in hits() if bits & bit]
                if best is None or len(found) < len(best):
                    best = found
            if best is None:
                return None
            windows += best
        merged: list[tuple[int, int]] = []
        for start, end in sorted(windows):
            if merged and start < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        if sum(end - start for start, end in merged) + 2 * len(merged) >= length:
            return None  # a call per window would cost more than one over the doc
        return merged

    def __call__(self, doc: Doc) -> list[tuple[int, int, int]]:
        live, seen = self._scan(doc)
        found: list[tuple[int, int, int]] = []
        hit: list[tuple[int, int]] = []

        def hits() -> list[tuple[int, int]]:
            """The tokens that meet a requirement: (position, requirement bits), worked out once."""
            if not hit:
                for values, met in seen.values():
                    hit.extend((at, met[word]) for at, word in enumerate(values) if word in met)
            return hit

        for code, positions in sorted(live.items()):
            part = tuple(sorted(set(positions)))
            matcher = self._matcher(code, part)
            windows = self._windows(code, part, len(doc), hits)
            if windows is None:
                found.extend(matcher(doc))
                continue
            for start, end in windows:
                found.extend((key, start + s, start + e) for key, s, e in matcher(doc[start:end]))
        return found


def _rules(codebook: Codebook) -> Iterable[tuple[str, str, str, list[dict[str, Any]]]]:
    """(kind, code id, match key, pattern) of every token pattern; kind ``tokens`` or ``exclude``."""
    for code in codebook.codes.values():
        for kind, patterns in (("tokens", code.patterns.tokens), ("exclude", code.patterns.exclude_tokens)):
            for index, pattern in enumerate(patterns):
                yield kind, code.id, f"{code.id}{_SEP}{kind}:{index + 1}", _lower_lemmas(pattern)


def _add_phrases(nlp: Language, matcher: PhraseMatcher, code_id: str, phrases: list[str]) -> None:
    if not phrases:
        return
    for phrase, doc in zip(phrases, nlp.pipe(phrases), strict=True):
        matcher.add(f"{code_id}{_SEP}lemma:{phrase}", [doc])


def plain_matchers(codebook: Codebook, nlp: Language) -> list[PhraseMatcher | Matcher]:
    """spaCy's own matchers for the codebook, as every run applied them to every doc before
    ``TokenRules``: the lemma phrases, all token patterns in one Matcher, the exclusions'.
    The benchmark's reference, and the tests' (the suggestions must not change)."""
    vocab = nlp.vocab
    phrases, tokens = PhraseMatcher(vocab, attr="LEMMA"), Matcher(vocab)
    ex_phrases, ex_tokens = PhraseMatcher(vocab, attr="LEMMA"), Matcher(vocab)
    for code in codebook.codes.values():
        _add_phrases(nlp, phrases, code.id, code.patterns.lemmas)
        _add_phrases(nlp, ex_phrases, code.id, code.patterns.exclude_lemmas)
    for kind, _, key, pattern in _rules(codebook):
        (tokens if kind == "tokens" else ex_tokens).add(key, [pattern])
    return [m for m in (phrases, tokens, ex_phrases, ex_tokens) if len(m)]


class Suggester:
    """Compiled matchers for one codebook and one pipeline."""

    def __init__(self, codebook: Codebook, nlp: Language) -> None:
        check_with_spacy(codebook)  # a stored codebook is parsed without spaCy's pattern check
        self.codebook = codebook
        self.nlp = nlp
        vocab = nlp.vocab
        self._phrases = PhraseMatcher(vocab, attr="LEMMA")
        self._tokens = TokenRules(vocab)
        self._ex_phrases = PhraseMatcher(vocab, attr="LEMMA")
        self._ex_tokens = TokenRules(vocab)
        self._check_annotations()
        for code in codebook.codes.values():
            _add_phrases(nlp, self._phrases, code.id, code.patterns.lemmas)
            _add_phrases(nlp, self._ex_phrases, code.id, code.patterns.exclude_lemmas)
        for kind, code_id, key, pattern in _rules(codebook):
            (self._tokens if kind == "tokens" else self._ex_tokens).add(code_id, key, pattern)
        self.has_exclusions = bool(len(self._ex_phrases) or len(self._ex_tokens))

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

    def _raw(self, doc: Doc, phrase: PhraseMatcher, token: TokenRules) -> Iterable[tuple[str, str, int, int]]:
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
