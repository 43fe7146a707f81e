"""Patterns mined from people's codings (issue 15, ``qualkam codebook suggest-patterns CODE``):
candidate lemma phrases and token patterns for a code, each with the precision and recall it
would have had on the project, for the researcher to read, pick and paste into the codebook.

Candidates come from the segments people coded with the code (a people's layer, as
``qualkam train`` uses): every run of one to three lemmas, and every pair of lemmas with one or
two words between them (a token pattern with optional gaps). Each is scored on every segment
of the sources the layer's coders have seen: precision is the share of the segments it
matches that people coded with the code; recall, the share of those segments it matches.
Matching is on the segments' stored lemmas, token by token, as the phrase matcher matches a
codebook's lemma phrases. A candidate that starts or ends with a stop word ("the quarter", "end
of") or is made of single letters is left out, and so is one that matches exactly the segments
of a better one it contains.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from qualkam.choices import unknown
from qualkam.coding.learn.data import layer_coders
from qualkam.errors import QualkamError
from qualkam.store import training as store
from qualkam.store.reads import code_tree

if TYPE_CHECKING:
    from qualkam.store.project import Project

MAX_PHRASE = 3  # lemmas in a phrase
MAX_GAP = 2  # words a gapped pair may skip


@dataclass(frozen=True)
class Candidate:
    """A pattern for the code and how it would have done on the project."""

    kind: str  # "lemmas" (a phrase) or "tokens" (a gapped pair)
    words: tuple[str, ...]  # the phrase's lemmas, or the pair's two lemmas
    matched: int  # segments it matches
    coded: int  # of those, segments people coded with the code
    positives: int  # segments people coded with the code
    in_codebook: bool  # already one of the code's lemma phrases

    @property
    def precision(self) -> float:
        return self.coded / self.matched if self.matched else 0.0

    @property
    def recall(self) -> float:
        return self.coded / self.positives if self.positives else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def pattern(self) -> str | list[dict[str, Any]]:
        """As the codebook writes it: a lemma phrase, or a token pattern."""
        if self.kind == "lemmas":
            return " ".join(self.words)
        first, last = self.words
        return [{"LEMMA": first}, *({"OP": "?"} for _ in range(MAX_GAP)), {"LEMMA": last}]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "pattern": self.pattern(),
            "matched": self.matched,
            "coded": self.coded,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "f1": round(self.f1, 3),
            "in_codebook": self.in_codebook,
        }


def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def _phrases(words: list[str]) -> Iterator[tuple[str, tuple[str, ...]]]:
    for n in range(1, MAX_PHRASE + 1):
        for i in range(len(words) - n + 1):
            yield "lemmas", tuple(words[i : i + n])
    for i, first in enumerate(words):
        for gap in range(1, MAX_GAP + 1):
            j = i + gap + 1
            if j < len(words):
                yield "tokens", (first, words[j])


def suggest_patterns(
    project: Project,
    code: str,
    layer: str = "human",
    top: int = 15,
    min_coded: int = 2,
    min_precision: float = 0.5,
) -> tuple[list[Candidate], int, int]:
    """The ``top`` candidates for ``code`` (best F1 first) that match at least ``min_coded``
    coded segments at a precision of at least ``min_precision``; with the number of segments
    people coded with the code and of segments scored."""
    tree = code_tree(project)
    if code not in tree:
        raise unknown("code", code, sorted(tree), "code")
    if top < 1 or min_coded < 1 or not 0 <= min_precision <= 1:
        raise QualkamError("{argument}: top and min_coded are 1 or more, min_precision 0 to 1", argument="top")
    coders = layer_coders(project, layer)
    decided = store.decisions(project, coders)
    seen = set(decided["source"])
    segments = store.segments(project)
    segments = segments[segments["source"].isin(seen)]
    accepted = decided[(decided["status"] == "accepted") & (decided["code"] == code)]
    positive = {int(s) for s in accepted["segment"]}
    if not positive:
        raise QualkamError(
            f"no segment is coded {code} by {layer}: code some first, or choose another {{argument}}", argument="layer"
        )
    stop = _stop_words()
    matched: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
    coded: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
    for segment, text, lemmas in zip(segments["segment"], segments["text"], segments["lemmas"], strict=True):
        words = [w for w in (lemmas or text.lower()).split() if any(ch.isalnum() for ch in w)]
        here = set(_phrases(words))
        is_positive = int(segment) in positive
        for key in here:
            matched[key] += 1
            if is_positive:
                coded[key] += 1
    own = {p.casefold() for p in _code_lemmas(project, code)}
    found = [
        Candidate(kind, words, matched[(kind, words)], n, len(positive), " ".join(words) in own and kind == "lemmas")
        for (kind, words), n in coded.items()
        if n >= min_coded
        and n / matched[(kind, words)] >= min_precision
        and words[0] not in stop
        and words[-1] not in stop
        and not all(len(w) < 2 for w in words)
    ]
    found.sort(key=lambda c: (-c.f1, -c.precision, len(c.words), c.kind, c.words))
    kept: list[Candidate] = []
    for candidate in found:
        same = [
            k
            for k in kept
            if k.matched == candidate.matched and k.coded == candidate.coded and set(k.words) <= set(candidate.words)
        ]
        if not same:
            kept.append(candidate)
        if len(kept) == top:
            break
    return kept, len(positive), len(segments)


def _code_lemmas(project: Project, code: str) -> list[str]:
    book = project.codebook(strict=False)
    if book is None or code not in book.codes:
        return []
    return list(book.codes[code].patterns.lemmas)


def yaml_snippet(candidates: list[Candidate]) -> str:
    """The chosen candidates as a codebook's ``patterns`` block, quoted by PyYAML."""
    lemmas = [c.pattern() for c in candidates if c.kind == "lemmas" and not c.in_codebook]
    tokens = [c.pattern() for c in candidates if c.kind == "tokens"]
    if not lemmas and not tokens:
        return ""

    def flow(value: Any) -> str:
        return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6).strip()

    lines = ["patterns:"]
    if lemmas:
        lines.append(f"  lemmas: {flow(lemmas)}")
    if tokens:
        lines.append("  tokens:")
        lines += [f"    - {flow(pattern)}" for pattern in tokens]
    return "\n".join(lines) + "\n"
