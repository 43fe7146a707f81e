"""The stored model: loaded from the project, ready to suggest codes with evidence.

``train`` stores the pipeline as ``nlp.to_bytes()`` with its calibration and the coded
examples (``qualkam.store.models``); the newest version is the one used. A suggestion carries
the calibrated score and, as evidence, the segments people coded with that code that are most
like it (TF-IDF cosine). Loading needs the pipeline's components registered, so ``Model``
imports ``classifiers`` (spaCy, scikit-learn) when it is made, not when this module is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qualkam.coding.suggest import Suggestion
from qualkam.errors import QualkamError
from qualkam.store import models as store
from qualkam.store.models import StoredModel, model_rows

if TYPE_CHECKING:
    from qualkam.coding.segment import Segment
    from qualkam.store.project import Project

__all__ = [
    "EVIDENCE_CHARS",
    "EVIDENCE_ITEMS",
    "Model",
    "ModelSuggestion",
    "NoModelError",
    "SimilarSegment",
    "latest_thresholds",
    "load_model",
    "context_inputs",
    "model_input",
    "model_rows",
]

EVIDENCE_ITEMS = 3
EVIDENCE_CHARS = 160


class NoModelError(QualkamError):
    """The project has no trained model (or not the one asked for)."""


@dataclass
class SimilarSegment:
    """Evidence of a model suggestion: a segment a person already coded with the code.

    It lives in another place of the project (or another source), so it has no start/end in
    the current source; ``segment`` is its id when the model was trained.
    """

    segment: int
    source: str
    text: str
    similarity: float
    rule: str = "model:similar"

    def as_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "source": self.source,
            "text": self.text,
            "similarity": self.similarity,
            "rule": self.rule,
        }


@dataclass
class ModelSuggestion(Suggestion):
    """A suggestion from the trained model; the store records ``origin`` with it."""

    origin: str = "model"


def model_input(text: str, lemmas: str | None) -> str:
    """What the classifiers read: lower-case lemmas, so "targets" and "target" count as one
    word as in the rules; the lower-cased text when no lemmas are stored."""
    return lemmas if lemmas else text.lower()


CONTEXT_WORDS = 20  # words of the segment before (its last) and after (its first) that a segment's context holds
_LABEL = re.compile(r"\W+")


def _label_token(prefix: str, value: str | None) -> str:
    """``spk_ms_lee`` for speaker "Ms. Lee": one token, whatever the label's spaces and marks."""
    text = _LABEL.sub("_", (value or "").strip().casefold()).strip("_")
    return f"{prefix}_{text or 'none'}"


def context_inputs(
    inputs: Sequence[str], sources: Sequence[str], speakers: Sequence[str | None], roles: Sequence[str | None]
) -> list[str]:
    """What the context classifier reads: a segment's own input, then who speaks (speaker and
    role), whether the speaker changed, and the words of the segments before and after it in
    the same source, marked ``p_`` and ``n_`` so "why" asked before is not "why" said now.
    Segments are given in reading order. What a move means often lies in its neighbours: a
    revoicing repeats the turn before, an answer follows a question."""
    speakers = [s if isinstance(s, str) else None for s in speakers]  # pandas gives NaN for a missing one
    roles = [r if isinstance(r, str) else None for r in roles]
    out = []
    last = len(inputs) - 1
    for i, own in enumerate(inputs):
        parts = [own, _label_token("spk", speakers[i]), _label_token("role", roles[i])]
        if i > 0 and sources[i - 1] == sources[i]:
            parts += ["p_" + w for w in inputs[i - 1].split()[-CONTEXT_WORDS:]]
            parts.append("same_speaker" if speakers[i - 1] == speakers[i] else "new_speaker")
        else:
            parts.append("source_start")
        if i < last and sources[i + 1] == sources[i]:
            parts += ["n_" + w for w in inputs[i + 1].split()[:CONTEXT_WORDS]]
            parts.append("next_same_speaker" if speakers[i + 1] == speakers[i] else "next_new_speaker")
        else:
            parts.append("source_end")
        out.append(" ".join(parts))
    return out


def latest_thresholds(project: Project) -> dict[str, float]:
    """Code -> threshold of the newest model ({} without one); cheap, for the review queue."""
    data = store.newest_data(project)
    if data is None:
        return {}
    return {c: float(v["threshold"]) for c, v in data.get("calibration", {}).items()}


class Model:
    """A stored model, ready to suggest: the pipeline, its calibration and its evidence."""

    def __init__(self, stored: StoredModel) -> None:
        from spacy.util import load_model_from_config
        from thinc.api import Config

        from qualkam.coding.learn import classifiers  # registers the pipeline's parts with spaCy

        self.id = stored.id
        self.created_at = stored.created_at
        self.layer = stored.layer
        self.codes: list[str] = stored.codes
        self.settings: dict[str, Any] = stored.settings
        self.data: dict[str, Any] = stored.data
        self.metrics: dict[str, Any] = stored.metrics
        config = Config().from_str(self.settings["config"])
        config["nlp"]["tokenizer"] = {"@tokenizers": "qualkam.WordsTokenizer.v1"}  # see WordsTokenizer
        self.nlp = load_model_from_config(config, auto_fill=True)
        self.nlp.from_bytes(stored.model, exclude=["tokenizer"])
        self._classifiers = classifiers
        cal = self.data["calibration"]
        self._weights = np.array([cal[c]["weights"] for c in self.codes], dtype=float)  # codes x scores
        self._intercepts = np.array([cal[c]["intercept"] for c in self.codes], dtype=float)
        self.thresholds = np.array([cal[c]["threshold"] for c in self.codes], dtype=float)
        self._similar: Any = None
        self._embeddings: Any = None
        if self.data.get("embeddings"):  # issue 15: trained with the optional extra, which must be installed
            from qualkam.coding.learn.embeddings import StoredEmbeddings

            self._embeddings = StoredEmbeddings(self.data["embeddings"])

    def scores(
        self,
        inputs: Sequence[str],
        contexts: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Calibrated scores, inputs x codes. ``contexts``: the same segments' ``context_inputs``
        (for a model trained with context); without them each input stands alone, with no
        neighbours and no speaker. For a model trained with embeddings, ``texts`` (the segments'
        own text; default: the inputs) and ``sources`` (which source each is in, reading order;
        default: each alone)."""
        return self._scores(inputs, contexts, texts, sources)[0]

    def _scores(
        self,
        inputs: Sequence[str],
        contexts: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, Any]:
        alone = [str(i) for i in range(len(inputs))]
        if contexts is None and self._classifiers.has_context(self.nlp):
            contexts = context_inputs(inputs, alone, [None] * len(inputs), [None] * len(inputs))
        features, rows = self._classifiers.scores(self.nlp, inputs, self.codes, contexts=contexts)
        if self._embeddings is not None:
            own = inputs if texts is None else texts
            extra = self._embeddings.scores(own, alone if sources is None else sources, self.codes)
            features = np.concatenate([features, extra], axis=2)
        z = np.einsum("ncf,cf->nc", features, self._weights) + self._intercepts
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))), rows

    def _index(self) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, np.ndarray]]:
        """The coded examples in the TF-IDF space of the pipeline, for the evidence: per code,
        the columns (features x examples) of the examples coded with it, made once."""
        if self._similar is None:
            examples = self.data["examples"]
            tfidf = self._classifiers.tfidf_pipe(self.nlp)
            by_code = {
                c: np.array([i for i, e in enumerate(examples) if c in e["codes"]], dtype=int) for c in self.codes
            }
            columns: dict[str, Any] = {}
            if examples:
                matrix = tfidf.transform([e["input"] for e in examples]).T.tocsr()  # features x examples
                columns = {c: matrix[:, by_code[c]].tocsr() for c in self.codes if len(by_code[c])}
            self._similar = (columns, examples, by_code)
        return self._similar

    def suggest(self, source_id: str, segments: Sequence[Segment]) -> list[list[Suggestion]]:
        """Model suggestions per segment, each with the most similar segments people coded
        with that code (TF-IDF cosine; this very segment left out when it was an example)."""
        return self.suggest_many([(source_id, segments)])[0]

    def suggest_many(self, batch: Sequence[tuple[str, Sequence[Segment]]]) -> list[list[list[Suggestion]]]:
        """``suggest`` for several sources at once, (source id, segments) each: one pass of
        the classifiers and of the evidence over all their segments (the same suggestions as
        one call per source, with far less per-call overhead)."""
        segments = [seg for _, segs in batch for seg in segs]
        owner = [source for source, segs in batch for _ in segs]
        result: list[list[Suggestion]] = [[] for _ in segments]
        if segments:
            self._suggest_into(segments, owner, result)
        out, at = [], 0
        for _, segs in batch:
            out.append(result[at : at + len(segs)])
            at += len(segs)
        return out

    def _suggest_into(self, segments: Sequence[Segment], owner: Sequence[str], result: list[list[Suggestion]]) -> None:
        inputs = [model_input(s.text, s.lemmas) for s in segments]
        contexts = (
            context_inputs(inputs, owner, [s.speaker for s in segments], [s.role for s in segments])
            if self._classifiers.has_context(self.nlp)
            else None
        )
        calibrated, tfidf_rows = self._scores(inputs, contexts, [s.text for s in segments], owner)
        chosen = calibrated >= self.thresholds
        rows = np.flatnonzero(chosen.any(axis=1))
        if not len(rows):
            return
        columns, examples, by_code = self._index()
        evidence: dict[tuple[int, int], list[SimilarSegment]] = {}
        for j, code in enumerate(self.codes):  # per code, every suggesting segment at once
            at = rows[chosen[rows, j]]
            candidates = by_code[code]
            if not len(at) or not len(candidates) or code not in columns:
                continue
            block = (tfidf_rows[at] @ columns[code]).toarray()  # cosine: rows are unit length
            top = min(EVIDENCE_ITEMS + 1, len(candidates))  # one spare: the segment itself may be there
            best = np.argpartition(-block, top - 1, axis=1)[:, :top]
            order = np.take_along_axis(
                best, np.argsort(-np.take_along_axis(block, best, axis=1), axis=1, kind="stable"), axis=1
            )
            for k, (i, picks) in enumerate(zip(at.tolist(), order, strict=True)):
                own, source_id = segments[i].text[:EVIDENCE_CHARS], owner[i]
                found: list[SimilarSegment] = []
                for pick in picks.tolist():
                    ex, similarity = examples[candidates[pick]], float(block[k, pick])
                    if similarity <= 0 or len(found) >= EVIDENCE_ITEMS:
                        break
                    if ex["source"] != source_id or ex["text"] != own:
                        found.append(SimilarSegment(ex["segment"], ex["source"], ex["text"], round(similarity, 2)))
                evidence[(i, j)] = found
        for i in rows.tolist():
            for j in np.flatnonzero(chosen[i]).tolist():
                result[i].append(
                    ModelSuggestion(
                        self.codes[j],
                        round(float(calibrated[i, j]), 4),
                        evidence.get((i, j), []),
                    )
                )


def load_model(project: Project, model_id: int | None = None) -> Model:
    """The newest stored model (or ``model_id``); ``NoModelError`` when there is none."""
    stored = store.stored_model(project, model_id)
    if stored is None:
        which = f"model {model_id}" if model_id is not None else "trained model"
        raise NoModelError(f"no {which} in {project.path}; run qualkam train first (it learns from people's codings)")
    from qualkam.coding.learn import prior  # a model from the codebook alone (issue 15)

    return prior.CodebookModel(stored) if prior.is_zero_shot(stored) else Model(stored)
