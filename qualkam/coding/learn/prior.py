"""The codebook as training signal (issue 15): a start for each code before anyone codes it.

A code's label, definition, include rules and examples say what it is; its exclude rules say
what it is not. ``codebook_texts`` turns them into short texts, lemmatized as segments are
(``model_input``), each marked positive or negative for its code. They are used two ways:

- as weighted pseudo-examples beside people's codings (``CodebookPrior``): each code's rows
  weigh ``k / (k + n)`` segments for a code ``n`` training segments people coded with, so the
  codebook counts most while a code has few codings and fades as people code it. Only the
  TF-IDF regression on the segment reads them (a codebook sentence has no speaker and no
  neighbours, and spaCy's BOW takes no weights);
- alone, before anyone has coded (``train_zero_shot``, ``qualkam train --from codebook``):
  each segment is compared (TF-IDF cosine, the inverse document frequency taken from the
  project's own segments) with every leaf code's positive texts. No held-out codings exist,
  so no threshold can be calibrated: a segment gets the code it matches best, when the
  match reaches a fixed floor (``ZERO_SHOT_FLOOR``), and nothing else. The score of a
  suggestion is that cosine, not a probability; its evidence is the codebook text it matched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qualkam.coding.learn.model import (
    EVIDENCE_CHARS,
    EVIDENCE_ITEMS,
    Model,
    ModelSuggestion,
    SimilarSegment,
    model_input,
)
from qualkam.coding.suggest import Suggestion
from qualkam.errors import QualkamError

if TYPE_CHECKING:
    from qualkam.coding.codebook import Codebook
    from qualkam.coding.segment import Segment
    from qualkam.store.models import StoredModel
    from qualkam.store.project import Project

CODEBOOK = "codebook"  # what ``qualkam train --from`` takes for a model from the codebook alone
POSITIVE = ("label", "definition", "include", "example")
NEGATIVE = ("exclude",)
# Pseudo-examples weigh k / (k + n) training segments for a code n segments were coded with.
PRIOR_K = 5.0
# Zero-shot: a segment gets its best-matching code when the cosine reaches this.
ZERO_SHOT_FLOOR = 0.1
ZERO_SHOT_TOP = 1  # codes suggested per segment, at most


@dataclass(frozen=True)
class CodebookText:
    """One sentence of the codebook about one code: what it says and how it is read."""

    code: str
    kind: str  # label, definition, include, example, exclude
    text: str  # as written, for the evidence
    input: str  # lemmatized, lower-case: what the classifiers read

    @property
    def positive(self) -> bool:
        return self.kind in POSITIVE


_PARENS = re.compile(r"\s*\(([^()]*)\)")
_SPACE = re.compile(r"\s+")


def strip_code_references(text: str, code_ids: Sequence[str]) -> tuple[str, list[str]]:
    """The text without the parenthesised pointers to other codes that exclude rules carry
    ("... (use tactical_selling)", "... (getting_relate)"), and the codes they name, in order.
    A code id is not a word a segment would say; left in, it would be a feature no segment has.
    Brackets that name no code are kept."""
    known = set(code_ids)
    named: list[str] = []

    def drop(match: re.Match[str]) -> str:
        words = re.findall(r"[\w-]+", match.group(1))
        found = [w for w in words if w in known]
        if not found:
            return match.group(0)
        named.extend(w for w in found if w not in named)
        return ""

    while True:  # inner brackets first: dropping one can close an outer one around it
        stripped = _PARENS.sub(drop, text)
        if stripped == text:
            return _SPACE.sub(" ", text).strip(), named
        text = stripped


def leaf_codes(book: Codebook) -> list[str]:
    """The codes people apply: those with no child code, in codebook order."""
    parents = {c.parent for c in book.codes.values() if c.parent}
    return [c for c in book.codes if c not in parents]


def codebook_texts(book: Codebook, codes: Sequence[str] | None = None, pipeline: Any = None) -> list[CodebookText]:
    """Every leaf code's (or ``codes``') label, definition, include and exclude rules and
    examples as texts, lemmatized with ``pipeline`` (default: qualkam's English pipeline, the
    one ``qualkam code`` lemmatizes segments with unless told otherwise)."""
    from qualkam.coding.nlp import load_pipeline, pipe

    wanted = list(codes) if codes is not None else leaf_codes(book)
    ids = list(book.codes)
    raw: list[tuple[str, str, str]] = []
    for code_id in wanted:
        code = book.codes.get(code_id)
        if code is None:
            continue
        items = [("label", code.label), ("definition", code.definition)]
        items += [("include", t) for t in code.include] + [("example", t) for t in code.examples]
        items += [("exclude", t) for t in code.exclude]
        for kind, text in items:
            clean = strip_code_references(text, ids)[0] if kind == "exclude" else _SPACE.sub(" ", text).strip()
            if clean:
                raw.append((code_id, kind, clean))
    nlp = pipeline if pipeline is not None else load_pipeline()
    out = []
    for (code_id, kind, text), doc in zip(raw, pipe(nlp, (t for _, _, t in raw)), strict=True):
        lemmas = " ".join(t.lemma_ for t in doc if not t.is_space)
        out.append(CodebookText(code_id, kind, text, model_input(text, lemmas)))
    return out


def prior_weight(coded: float, k: float = PRIOR_K) -> float:
    """How many segments one codebook text weighs for a code people coded ``coded`` segments
    with: 1 before anyone codes it, a half at ``k``, fading as people code."""
    if coded < 0 or k < 0:
        raise ValueError("coded segments and k cannot be negative")
    return k / (k + coded) if k + coded > 0 else 0.0


@dataclass
class PriorRows:
    """Pseudo-examples for one fit: inputs, 0/1 labels and a weight per (row, code)."""

    inputs: list[str]
    labels: np.ndarray  # rows x codes
    weights: np.ndarray  # rows x codes; 0 where a row says nothing about a code


@dataclass
class CodebookPrior:
    """The codebook's texts and how much they weigh beside people's codings."""

    texts: list[CodebookText]
    k: float = PRIOR_K
    others_negative: bool = False  # another code's positive texts as negatives for a code

    def rows(self, codes: Sequence[str], coded: np.ndarray) -> PriorRows:
        """The rows for a fit of ``codes``; ``coded[j]``: training segments coded with codes[j]."""
        col = {c: j for j, c in enumerate(codes)}
        texts = [t for t in self.texts if t.code in col]
        labels = np.zeros((len(texts), len(codes)), dtype=np.float32)
        weights = np.zeros((len(texts), len(codes)), dtype=np.float64)
        w = np.array([prior_weight(float(n), self.k) for n in coded], dtype=np.float64)
        for r, text in enumerate(texts):
            j = col[text.code]
            labels[r, j] = 1.0 if text.positive else 0.0
            weights[r, j] = w[j]
            if self.others_negative and text.positive:
                others = np.arange(len(codes)) != j
                weights[r, others] = w[others]
        return PriorRows([t.input for t in texts], labels, weights)


def project_prior(project: Project, k: float = PRIOR_K, others_negative: bool = False) -> CodebookPrior | None:
    """The project's codebook as a prior; None when it has no codebook or none with texts."""
    book = project.codebook(strict=False)
    if book is None or book.partial:
        return None
    texts = codebook_texts(book, list(book.codes))
    return CodebookPrior(texts, k, others_negative) if texts else None


# -- zero-shot: the codebook alone ---------------------------------------------------------------
def _vectorizer(nlp: Any, inputs: Sequence[str]) -> Any:
    """A TF-IDF of the project's segments and the codebook's texts (``TfidfLogistic`` with no
    codes), so a segment's every word counts in its length and common words weigh little."""
    from qualkam.coding.learn import classifiers

    if "qualkam_tfidf_lr" not in nlp.pipe_names:
        nlp.add_pipe("qualkam_tfidf_lr")
    tfidf = classifiers.tfidf_pipe(nlp)
    tfidf.fit(list(inputs), np.zeros((len(inputs), 0), dtype=np.float32), [])
    return tfidf


class Matcher:
    """Codebook texts in a TF-IDF space, ready to compare segments with (made once)."""

    def __init__(self, tfidf: Any, texts: Sequence[CodebookText], codes: Sequence[str]) -> None:
        self.tfidf, self.texts, self.codes = tfidf, list(texts), list(codes)
        self.rows = tfidf.transform([t.input for t in self.texts]).T.tocsr()  # features x texts
        self.own = [
            np.array([i for i, t in enumerate(self.texts) if t.code == c and t.positive], dtype=int) for c in codes
        ]

    def match(self, inputs: Sequence[str]) -> tuple[np.ndarray, np.ndarray, Any]:
        """Per input and code, the best cosine with one of the code's positive texts and which
        text (its index in ``texts``; -1 for a code with none); and the inputs' TF-IDF rows."""
        rows = self.tfidf.transform(list(inputs))
        cos = (rows @ self.rows).toarray() if self.texts else np.zeros((len(inputs), 0))
        best = np.zeros((len(inputs), len(self.codes)))
        which = np.full((len(inputs), len(self.codes)), -1, dtype=int)
        for j, mine in enumerate(self.own):
            if not len(mine):
                continue
            at = cos[:, mine].argmax(axis=1)
            best[:, j] = cos[np.arange(len(inputs)), mine[at]]
            which[:, j] = mine[at]
        return best, which, cos


def project_matcher(project: Project, codes: Sequence[str] | None = None, pipeline: Any = None) -> Matcher:
    """The codebook's leaf codes (or ``codes``) and their texts, in a TF-IDF space fitted on
    every segment of the project and the texts: what a zero-shot model compares with."""
    import spacy

    from qualkam.store import training as store

    book = project.codebook(strict=False)
    if book is None or book.partial:
        raise QualkamError(
            f"{project.path} has no codebook with definitions to learn from; code sources with a codebook first"
        )
    wanted = leaf_codes(book) if codes is None else [c for c in codes if c in book.codes]
    texts = codebook_texts(book, wanted, pipeline)
    segments = store.segments(project)
    inputs = [model_input(t, lem) for t, lem in zip(segments["text"], segments["lemmas"], strict=True)]
    nlp = spacy.blank("en")
    return Matcher(_vectorizer(nlp, inputs + [t.input for t in texts]), texts, wanted)


def zero_shot_choice(scores: np.ndarray, floor: float = ZERO_SHOT_FLOOR, top: int = ZERO_SHOT_TOP) -> np.ndarray:
    """0/1 choices: each row's ``top`` best codes whose score reaches ``floor``."""
    chosen = np.zeros(scores.shape, dtype=bool)
    if not scores.size:
        return chosen
    top = max(1, min(top, scores.shape[1]))
    best = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    rows = np.arange(len(scores))[:, None]
    chosen[rows, best] = scores[rows, best] >= floor
    return chosen


def zero_shot_rule(floor: float, top: int) -> str:
    return (
        f"no codings to calibrate on: a segment gets its {'best-matching code' if top == 1 else f'{top} best codes'} "
        f"when the TF-IDF cosine with one of the code's codebook texts reaches {floor:g}"
    )


@dataclass
class ZeroShotResult:
    """What ``train_zero_shot`` stored."""

    model_id: int
    codes: list[str]
    texts: dict[str, int]  # code -> positive codebook texts
    without_text: list[str]  # leaf codes with no text at all
    segments: int
    rule: str
    seconds: float


def check_zero_shot(floor: float, top: int) -> None:
    if not 0 <= floor <= 1:
        raise QualkamError("{argument} must be between 0 and 1", argument="floor")
    if top < 1:
        raise QualkamError("{argument} must be at least 1", argument="top")


def train_zero_shot(
    project: Project, floor: float = ZERO_SHOT_FLOOR, top: int = ZERO_SHOT_TOP, pipeline: Any = None
) -> ZeroShotResult:
    """Store a model made from the project's codebook alone (no codings): see the module."""
    import spacy

    from qualkam.store import models
    from qualkam.store import training as store

    check_zero_shot(floor, top)
    started = time.perf_counter()
    book = project.codebook(strict=False)
    if book is None or book.partial:
        raise QualkamError(
            f"{project.path} has no codebook with definitions to learn from; code sources with a codebook first"
        )
    leaves = leaf_codes(book)
    texts = codebook_texts(book, leaves, pipeline)
    counts = {c: sum(1 for t in texts if t.code == c and t.positive) for c in leaves}
    codes = [c for c in leaves if counts[c]]
    if not codes:
        raise QualkamError("no code in the codebook has a label, definition, include rule or example to match")
    segments = store.segments(project)
    inputs = [model_input(t, lem) for t, lem in zip(segments["text"], segments["lemmas"], strict=True)]
    nlp = spacy.blank("en")
    _vectorizer(nlp, inputs + [t.input for t in texts])
    rule = zero_shot_rule(floor, top)
    settings = {
        "from": CODEBOOK,
        "codebook": f"{book.name} {book.version}",
        "floor": floor,
        "top": top,
        "input": "lemmas",
        "ensemble": ["qualkam_tfidf_lr"],
        "threshold": rule,
        "spacy": spacy.__version__,
        "config": nlp.config.to_str(),
    }
    data = {
        "texts": [{"code": t.code, "kind": t.kind, "text": t.text, "input": t.input} for t in texts],
        "segments": len(segments),
        "calibration": {c: {"threshold": floor} for c in codes},  # the review queue's "uncertain" order
        "examples": [],
    }
    metrics = {"zero_shot": True, "rule": rule, "texts": counts, "held_out": None}
    model_id = models.add_model(
        project,
        CODEBOOK,
        codes,
        settings,
        data,
        metrics,
        nlp.to_bytes(),
        audit={"from": CODEBOOK, "codes": len(codes), "texts": len(texts), "segments": len(segments)},
    )
    return ZeroShotResult(
        model_id,
        codes,
        {c: counts[c] for c in codes},
        [c for c in leaves if not counts[c]],
        len(segments),
        rule,
        time.perf_counter() - started,
    )


def is_zero_shot(stored: StoredModel) -> bool:
    return stored.settings.get("from") == CODEBOOK


class CodebookModel(Model):
    """A stored zero-shot model: suggests from the codebook's texts (see the module)."""

    def __init__(self, stored: StoredModel) -> None:
        from spacy.util import load_model_from_config
        from thinc.api import Config

        from qualkam.coding.learn import classifiers

        self.id = stored.id
        self.created_at = stored.created_at
        self.layer = stored.layer
        self.codes = stored.codes
        self.settings = stored.settings
        self.data = stored.data
        self.metrics = stored.metrics
        config = Config().from_str(self.settings["config"])
        config["nlp"]["tokenizer"] = {"@tokenizers": "qualkam.WordsTokenizer.v1"}
        self.nlp = load_model_from_config(config, auto_fill=True)
        self.nlp.from_bytes(stored.model, exclude=["tokenizer"])
        self._classifiers = classifiers
        texts = [CodebookText(t["code"], t["kind"], t["text"], t["input"]) for t in self.data["texts"]]
        self.matcher = Matcher(classifiers.tfidf_pipe(self.nlp), texts, self.codes)
        self.floor = float(self.settings["floor"])
        self.top = int(self.settings["top"])
        self.thresholds = np.full(len(self.codes), self.floor)
        self._similar = None

    def scores(
        self,
        inputs: Sequence[str],
        contexts: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Best cosine with each code's codebook texts, inputs x codes (the rest unused)."""
        return self.matcher.match(inputs)[0]

    def _suggest_into(self, segments: Sequence[Segment], owner: Sequence[str], result: list[list[Suggestion]]) -> None:
        best, _, cos = self.matcher.match([model_input(s.text, s.lemmas) for s in segments])
        chosen = zero_shot_choice(best, self.floor, self.top)
        for i, j in zip(*np.nonzero(chosen), strict=True):
            result[int(i)].append(
                ModelSuggestion(self.codes[j], round(float(best[i, j]), 4), self._evidence(cos[i], j))
            )

    def _evidence(self, cos: np.ndarray, j: int) -> list[SimilarSegment]:
        """The code's codebook texts most like the segment, best first, as the researcher wrote
        them: what the suggestion rests on."""
        mine = self.matcher.own[j]
        order = mine[np.argsort(-cos[mine], kind="stable")[:EVIDENCE_ITEMS]]
        texts = self.matcher.texts
        return [
            SimilarSegment(
                int(k) + 1,
                CODEBOOK,
                f"{texts[k].kind}: {texts[k].text}"[:EVIDENCE_CHARS],
                round(float(cos[k]), 2),
                "model:codebook",
            )
            for k in order
            if cos[k] > 0
        ]
