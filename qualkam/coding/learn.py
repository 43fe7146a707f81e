"""Learned suggestions (issue 6): a spaCy text classifier trained on people's codings.

What it learns from is one *layer* of people's codings: ``human`` (every person's accepted
codings; the ``consensus`` coder, a result rather than a rater, left out), ``consensus``, or
``coder:NAME``. Examples are the segments of the sources the layer's coders have *seen*
(decided anything in; the coverage rule of qualkam/units.py). A segment is positive for a
code when one of the layer's coders accepted the code there, negative otherwise, so a
rejected suggestion and a reviewed segment left uncoded both teach "not this code". Sources
nobody in the layer has seen are left out: silence there is not a "no". Codes with fewer
positive segments than ``min_examples`` are skipped and listed; retired codes are not trained.

Model: an ensemble of two classifiers in one spaCy pipeline, over each segment's lower-case
lemmas (its lower-cased text when no lemmas are stored), so "targets" and "target" count as
one word, as in the rules:

- spaCy ``textcat_multilabel`` with the bag-of-words architecture ``spacy.TextCatBOW.v3``
  (unigrams and bigrams, hashed), trained with spaCy's own update loop;
- ``qualkam_tfidf_lr``, a pipeline component holding a TF-IDF (unigrams and bigrams) logistic
  regression per code fitted with scikit-learn. BOW weighs every word by its count and learns
  by gradient steps; with a few hundred coded segments and rare codes the inverse document
  frequency and a solver run to convergence are what keep common words from drowning a
  code's telling words. Held-out micro F1, BOW alone / TF-IDF alone / both: 0.09 / 0.21 /
  0.21 on the reference coding of the sample transcripts, 0.14 / 0.96 / 0.97 on
  bench/train.py's generated codings.

The two scores are combined per code by the calibration (below). The pipeline is stored in
the project (table ``models``, migration 004_models) as ``nlp.to_bytes()``; each ``train``
adds a row and the newest is used.

Honest quality: k-fold cross-validation split by source (no source is in both the training
and the test part of a fold: neighbouring turns of one interview share words and would
flatter the model). Each fold's model scores its test sources; those out-of-fold scores are
compared, on the same segments, with the rule suggestions already in the store (origin
``rule``). Per code: precision, recall, F1; per code group, micro and macro. A code's group
is its value of the first code attribute the project's codebook compares (``compare:``, e.g.
``pole`` in the KAM codebook: formal, post_bureaucratic) when it has one, else its top-level
ancestor code (kam_context, bureaucratic_creep, ...).

Calibration and threshold: Platt scaling on the two scores (a logistic regression per code on
the BOW score's logit and the TF-IDF model's decision value, three numbers per code kept in
the model's data), fitted on all out-of-fold scores, weighs the two classifiers and turns
them into an estimated probability. A code is suggested when that calibrated score reaches
the code's threshold, the one with the best F1 on the calibrated out-of-fold scores (0.5
when a code has no positive example to tune on). So that no test label chooses its own
calibration or threshold, the cross-validated model figures apply to each test fold a
calibration and threshold fitted on the other folds' out-of-fold scores.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.strings import hash_string
from spacy.tokens import Doc
from spacy.util import registry

from qualkam.agreement.units import project_coders, seen_sources
from qualkam.choices import unknown
from qualkam.coding.segment import Segment
from qualkam.coding.suggest import Suggestion
from qualkam.errors import QualkamError
from qualkam.store.audit import now, record_audit
from qualkam.store.project import Project

ARCHITECTURE = "spacy.TextCatBOW.v3"
NGRAM_SIZE = 2
HASH_LENGTH = 2**15  # hashed n-gram buckets of the BOW (x codes x 4 bytes): a few MB per stored model
DEFAULT_EPOCHS = 10
LEARN_RATE = 0.001  # spaCy's default; 0.01 scored worse held out on real codings
LR_C = 10.0  # inverse L2 strength of the TF-IDF logistic regression
BATCH_SIZE = 32
EVIDENCE_ITEMS = 3
EVIDENCE_CHARS = 160
DEFAULT_THRESHOLD = 0.5


def grouping(attribute: str | None) -> str:
    """How codes are grouped, in words (``metrics["grouping"]``)."""
    return (
        f"the code attribute {attribute!r} (the codebook's compare), else the top-level ancestor code"
        if attribute
        else "the top-level ancestor code (the codebook compares no attribute)"
    )


def group_attribute(project: Project) -> str | None:
    """The first code attribute the project's codebook declares under ``compare``."""
    try:
        book = project.codebook()
    except QualkamError:
        return None
    return book.compare[0].attribute if book is not None and book.compare else None


Progress = Callable[[str], None]


class NoModelError(QualkamError):
    """The project has no trained model (or not the one asked for)."""


# -- what a model suggestion stores ----------------------------------------------------------
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


# -- the training set ------------------------------------------------------------------------
@dataclass
class TrainingSet:
    """Segments of the seen sources, their model input, and 0/1 labels for the trained codes."""

    layer: str
    coders: list[str]
    segments: pd.DataFrame  # segment, source, position, text, input
    codes: list[str]  # trained codes, in codebook order
    labels: np.ndarray  # segments x codes, 1.0 = a layer coder accepted the code there
    positives: dict[str, int]  # every current code accepted somewhere -> positive segments
    skipped: dict[str, int]  # codes with fewer positives than min_examples -> positives
    retired: dict[str, int] = field(default_factory=dict)  # retired codes accepted -> positives


def model_input(text: str, lemmas: str | None) -> str:
    """What the classifier reads: lower-case lemmas, else the lower-cased text."""
    return lemmas if lemmas else text.lower()


def layer_coders(project: Project, layer: str) -> list[str]:
    """The coders whose decisions make up ``layer`` (human, consensus or coder:NAME)."""
    if layer == "human":
        coders = project_coders(project)
    elif layer == "consensus":
        coders = ["consensus"]
    elif layer.startswith("coder:") and layer[6:]:
        coders = [layer[6:]]
    else:
        raise unknown("--from", layer, ["human", "consensus", "coder:NAME"])
    known = [
        r[0] for r in project.query("SELECT coder FROM codings WHERE coder IS NOT NULL GROUP BY coder ORDER BY MIN(id)")
    ]
    if layer.startswith("coder:") and coders[0] not in known:
        raise unknown("coder", coders[0], known, "--from")
    missing = [c for c in coders if c not in known]
    if not coders or missing:
        raise QualkamError(
            f"no codings by {', '.join(missing) or 'any person'} in {project.path}; coders in this "
            f"project: {', '.join(known) or 'none yet'} (review, import or merge codings first)"
        )
    return coders


def training_set(project: Project, layer: str = "human", min_examples: int = 5) -> TrainingSet:
    """Gather the examples of ``layer``; raise when no code has ``min_examples`` positives."""
    if min_examples < 1:
        raise QualkamError("--min-examples must be at least 1")
    coders = layer_coders(project, layer)
    marks = ",".join("?" * len(coders))
    decided = pd.read_sql_query(
        f"""SELECT segment_id, source_id AS source, code_id AS code, coder, status FROM codings
            WHERE coder IN ({marks}) AND segment_id IS NOT NULL""",
        project.conn,
        params=tuple(coders),
    )
    seen = set().union(*seen_sources(decided, coders).values())
    segments = pd.read_sql_query(
        "SELECT id AS segment, source_id AS source, position, text, lemmas FROM segments ORDER BY source_id, position",
        project.conn,
    )
    segments = segments[segments["source"].isin(seen)].reset_index(drop=True)
    segments["input"] = [model_input(t, lem) for t, lem in zip(segments["text"], segments["lemmas"])]
    segments = segments.drop(columns="lemmas")
    codes = project.query("SELECT id, retired_at FROM codes ORDER BY position")
    row_of = {int(seg): i for i, seg in enumerate(segments["segment"])}
    accepted = decided[decided["status"] == "accepted"]
    rows_by_code: dict[str, set[int]] = {}
    for seg, code in zip(accepted["segment_id"], accepted["code"]):
        if int(seg) in row_of:
            rows_by_code.setdefault(code, set()).add(row_of[int(seg)])
    positives = {r["id"]: len(rows_by_code[r["id"]]) for r in codes if r["id"] in rows_by_code and not r["retired_at"]}
    retired = {r["id"]: len(rows_by_code[r["id"]]) for r in codes if r["id"] in rows_by_code and r["retired_at"]}
    trained = [c for c, n in positives.items() if n >= min_examples]
    skipped = {c: n for c, n in positives.items() if n < min_examples}
    if not trained:
        most = max(positives.items(), key=lambda kv: kv[1], default=None)
        hint = f" (the most: {most[0]} with {most[1]})" if most else ""
        raise QualkamError(
            f"no code has {min_examples} or more positive segments from {layer}{hint}; "
            "code more segments, or lower --min-examples"
        )
    labels = np.zeros((len(segments), len(trained)), dtype=np.float32)
    for j, code in enumerate(trained):
        labels[sorted(rows_by_code[code]), j] = 1.0
    return TrainingSet(layer, coders, segments, trained, labels, positives, skipped, retired)


def code_groups(project: Project, codes: Sequence[str], attribute: str | None = None) -> dict[str, str]:
    """Code -> its group: its value of ``attribute`` (default: the first the codebook compares),
    else the top-level ancestor (see module doc)."""
    attribute = attribute or group_attribute(project)
    rows = {
        r["id"]: (r["parent"], json.loads(r["attributes"] or "{}"))
        for r in project.query("SELECT id, parent, attributes FROM codes")
    }
    groups = {}
    for code in codes:
        _, attributes = rows.get(code, (None, {}))
        if attribute and attributes.get(attribute) not in (None, ""):
            groups[code] = str(attributes[attribute])
            continue
        top, hops = code, 0
        while rows.get(top, (None,))[0] and hops < 100:
            top, hops = rows[top][0], hops + 1
        groups[code] = top
    return groups


# -- folds -----------------------------------------------------------------------------------
def assign_folds(sizes: dict[str, int], folds: int = 5, seed: int = 0) -> dict[str, int]:
    """Source -> fold, every source wholly in one fold (like scikit-learn's GroupKFold).

    Sources are shuffled with ``seed``, then placed largest first into the fold with the
    fewest segments so far, so folds are balanced. ``folds`` is capped at the number of
    sources.
    """
    if folds < 2:
        raise QualkamError("--folds must be at least 2 (cross-validation holds out some sources each time)")
    if len(sizes) < 2:
        raise QualkamError(
            f"cross-validation by source needs at least 2 sources seen by the coders; "
            f"found {len(sizes)}: code another source first"
        )
    k = min(folds, len(sizes))
    names = sorted(sizes)
    random.Random(seed).shuffle(names)
    names.sort(key=lambda s: -sizes[s])  # stable: equal sizes keep the shuffled order
    load = [0] * k
    fold_of: dict[str, int] = {}
    for name in names:
        fold = min(range(k), key=lambda i: (load[i], i))
        fold_of[name] = fold
        load[fold] += sizes[name]
    return fold_of


# -- the classifier --------------------------------------------------------------------------
def model_doc(vocab: Any, text: str) -> Doc:
    """The Doc both classifiers read: the input's space-separated tokens (lemmas are stored
    space-joined), so training and suggesting never re-tokenize differently."""
    return Doc(vocab, words=text.split() or [" "])


class WordsTokenizer:
    """The tokenizer of a loaded model: ``model_doc``'s space split. The classifiers only ever
    read docs made by ``model_doc``, so loading skips building (and deserialising) spaCy's
    English tokenizer with its thousands of special cases: most of the time it took to load."""

    def __init__(self, vocab: Any) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        return model_doc(self.vocab, text)

    def to_bytes(self, **kwargs: Any) -> bytes:
        return b""

    def from_bytes(self, data: bytes, **kwargs: Any) -> WordsTokenizer:
        return self

    def to_disk(self, path: Any, **kwargs: Any) -> None:
        pass

    def from_disk(self, path: Any, **kwargs: Any) -> WordsTokenizer:
        return self


@registry.tokenizers("qualkam.WordsTokenizer.v1")
def _words_tokenizer() -> Callable[[Language], WordsTokenizer]:
    return lambda nlp: WordsTokenizer(nlp.vocab)


_BIGRAM = np.uint64(0x9E3779B97F4A7C15)  # mixes a word's hash before adding the next word's


def _grams(items: Sequence[Doc | str]) -> tuple[np.ndarray, np.ndarray]:
    """Unigram and bigram hashes of every doc (spaCy's ORTH hashes, taken in C; for a plain
    input string, the same hashes of its space-separated tokens), and the item each belongs
    to: the TF-IDF features, without a Python loop over word pairs."""
    hashes, owners = [], []
    for i, item in enumerate(items):
        if isinstance(item, str):
            words = np.array([hash_string(w) for w in item.split()], dtype=np.uint64)
        else:
            words = item.to_array(ORTH).astype(np.uint64)
        with np.errstate(over="ignore"):
            grams = np.concatenate([words, words[:-1] * _BIGRAM + words[1:]])
        hashes.append(grams)
        owners.append(np.full(len(grams), i, dtype=np.int64))
    if not hashes:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(hashes), np.concatenate(owners)


@Language.factory("qualkam_tfidf_lr")
class TfidfLogistic:
    """TF-IDF logistic regression per code, as a spaCy component so ``nlp.to_bytes()`` holds
    the whole ensemble. Features: the doc's words and word pairs (hashed, kept when seen in
    two training segments), sublinear term frequency x smoothed inverse document frequency,
    L2-normalised rows, as scikit-learn's TfidfVectorizer computes them, but vectorised over
    spaCy's hashes so scoring 100,000 words takes milliseconds. ``fit`` uses scikit-learn's
    LogisticRegression; scoring needs only numpy and scipy. Running the pipeline on a doc
    leaves it unchanged; scores come from ``predict``."""

    def __init__(self, nlp: Language, name: str) -> None:
        self.name = name
        self.labels: list[str] = []
        self.keys = np.zeros(0, dtype=np.uint64)  # sorted feature hashes
        self.idf = np.zeros(0, dtype=np.float32)
        self.coef = np.zeros((0, 0), dtype=np.float32)
        self.intercept = np.zeros(0, dtype=np.float32)
        self._coef_t: np.ndarray | None = None

    def __call__(self, doc: Doc) -> Doc:
        return doc

    def fit(self, docs: Sequence[Doc], labels: np.ndarray, codes: Sequence[str]) -> None:
        from sklearn.linear_model import LogisticRegression

        self.labels = list(codes)
        hashes, owners = _grams(docs)
        pairs = np.unique(np.stack([hashes, owners.astype(np.uint64)]), axis=1)  # (feature, doc) once each
        keys, df = np.unique(pairs[0], return_counts=True)
        keep = df >= 2 if (df >= 2).any() else df >= 1  # a word in one segment cannot generalise
        self.keys, df = keys[keep], df[keep]
        self.idf = (np.log((1 + len(docs)) / (1 + df)) + 1).astype(np.float32)
        matrix = self.transform(docs)
        self.coef = np.zeros((len(codes), len(self.keys)), dtype=np.float32)
        self.intercept = np.zeros(len(codes), dtype=np.float32)
        for j in range(len(codes)):
            truth = labels[:, j].astype(int)
            if truth.min() == truth.max():  # one class only: a constant score
                self.intercept[j] = 5.0 if truth.max() else -5.0
                continue
            fitted = LogisticRegression(C=LR_C, solver="liblinear").fit(matrix, truth)  # 10x lbfgs on sparse rows
            self.coef[j], self.intercept[j] = fitted.coef_[0], fitted.intercept_[0]
        self._coef_t = None

    def transform(self, docs: Sequence[Doc | str]) -> Any:
        """TF-IDF rows, L2-normalised (a dot product of two rows is their cosine similarity)."""
        from scipy.sparse import csr_matrix

        hashes, owners = _grams(docs)
        shape = (len(docs), len(self.keys))
        if not len(self.keys) or not len(hashes):
            return csr_matrix(shape, dtype=np.float64)
        at = np.minimum(np.searchsorted(self.keys, hashes), len(self.keys) - 1)
        known = self.keys[at] == hashes
        matrix = csr_matrix((np.ones(int(known.sum())), (owners[known], at[known])), shape=shape)
        matrix.sum_duplicates()
        matrix.data = (1.0 + np.log(matrix.data)) * self.idf[matrix.indices]
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        matrix.data /= np.repeat(norms, np.diff(matrix.indptr))
        return matrix

    def predict(self, docs: Sequence[Doc]) -> np.ndarray:
        """Decision values (log-odds), docs x labels."""
        return self.decision(self.transform(docs))

    def decision(self, rows: Any) -> np.ndarray:
        """Decision values for TF-IDF rows already made."""
        if self._coef_t is None:
            self._coef_t = np.ascontiguousarray(self.coef.T, dtype=np.float64)  # once, not per source
        return np.asarray(rows @ self._coef_t) + self.intercept

    def to_bytes(self, *, exclude: Sequence[str] = ()) -> bytes:
        import srsly

        return srsly.msgpack_dumps(
            {
                "labels": self.labels,
                "keys": self.keys.tobytes(),
                "idf": self.idf.astype(np.float32).tobytes(),
                "coef": self.coef.astype(np.float32).tobytes(),
                "shape": list(self.coef.shape),
                "intercept": self.intercept.astype(np.float32).tobytes(),
            }
        )

    def from_bytes(self, data: bytes, *, exclude: Sequence[str] = ()) -> TfidfLogistic:
        import srsly

        msg = srsly.msgpack_loads(data)
        self.labels = list(msg["labels"])
        self.keys = np.frombuffer(msg["keys"], dtype=np.uint64).copy()
        self.idf = np.frombuffer(msg["idf"], dtype=np.float32).copy()
        self.coef = np.frombuffer(msg["coef"], dtype=np.float32).reshape(msg["shape"]).copy()
        self.intercept = np.frombuffer(msg["intercept"], dtype=np.float32).copy()
        self._coef_t = None
        return self

    def to_disk(self, path: Any, *, exclude: Sequence[str] = ()) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "model.msgpack").write_bytes(self.to_bytes())

    def from_disk(self, path: Any, *, exclude: Sequence[str] = ()) -> TfidfLogistic:
        return self.from_bytes((Path(path) / "model.msgpack").read_bytes())


def _bow_model() -> dict[str, Any]:
    return {
        "@architectures": ARCHITECTURE,
        "exclusive_classes": False,
        "ngram_size": NGRAM_SIZE,
        "no_output_layer": False,
        "length": HASH_LENGTH,
    }


def _fit(examples: list[Any], labels: np.ndarray, codes: list[str], seed: int, epochs: int) -> Language:
    """A fresh pipeline: spaCy's BOW textcat (trained on ``examples``) and the TF-IDF logistic
    regression (fitted on the same examples' texts)."""
    import spacy
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(seed)
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("textcat_multilabel", config={"model": _bow_model()})
    for code in codes:
        textcat.add_label(code)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = LEARN_RATE
    # Start each code's bias at its base rate. From zero (p = 0.5) the first updates push every
    # common word's weight down for the many negatives, and since BOW sums its words, long
    # turns (the ones people code) end up scored lowest: held-out AUC under 0.5 on real codings.
    prior = np.clip(labels.mean(axis=0), 1e-3, 1 - 1e-3) if len(labels) else np.full(len(codes), 0.5)
    for node in textcat.model.walk():
        if node.name == "sparse_linear":
            node.set_param("b", node.ops.asarray1f(_logit(prior).astype(np.float32)))
    order = list(examples)
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(order)
        for batch in minibatch(order, size=BATCH_SIZE):
            nlp.update(batch, sgd=optimizer, drop=0.0)
    tfidf = nlp.add_pipe("qualkam_tfidf_lr")
    tfidf.fit([ex.reference for ex in examples], labels, codes)
    return nlp


def _scores(
    nlp: Language, texts: Sequence[str], codes: Sequence[str], docs: Sequence[Doc] | None = None
) -> tuple[np.ndarray, Any]:
    """Both classifiers' scores, texts x ``codes`` x 2 (the BOW score's logit, the TF-IDF
    model's decision value), and the texts' TF-IDF rows (reused for the evidence)."""
    from scipy.sparse import csr_matrix, vstack

    textcat, tfidf = nlp.get_pipe("textcat_multilabel"), nlp.get_pipe("qualkam_tfidf_lr")
    bow_of = {label: i for i, label in enumerate(textcat.labels)}
    lr_of = {label: i for i, label in enumerate(tfidf.labels)}
    bow_col, lr_col = [bow_of[c] for c in codes], [lr_of[c] for c in codes]
    out = np.zeros((len(texts), len(codes), 2))
    rows = []
    for i in range(0, len(texts), 1000):
        chunk = list(docs[i : i + 1000]) if docs is not None else [model_doc(nlp.vocab, t) for t in texts[i : i + 1000]]
        out[i : i + len(chunk), :, 0] = _logit(np.asarray(textcat.predict(chunk))[:, bow_col])
        rows.append(tfidf.transform(chunk))
        out[i : i + len(chunk), :, 1] = tfidf.decision(rows[-1])[:, lr_col]
    return out, (vstack(rows).tocsr() if rows else csr_matrix((0, len(tfidf.keys))))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def platt(features: np.ndarray, truth: np.ndarray) -> tuple[list[float], float]:
    """Weights and intercept of Platt scaling on the two scores (rows x 2):
    p = 1 / (1 + exp(-(w . features + b))). With one class only, the BOW score as it is."""
    truth = np.asarray(truth)
    if len(np.unique(truth)) < 2:
        return [1.0, 0.0], 0.0
    from sklearn.linear_model import LogisticRegression

    # Standardised, so the (mild) regularisation treats both scores alike whatever their
    # spread; the weights are then turned back to the scores' own units.
    features = np.asarray(features, dtype=float)
    mean, spread = features.mean(axis=0), features.std(axis=0)
    spread[spread == 0] = 1.0
    fitted = LogisticRegression(C=1.0).fit((features - mean) / spread, truth.astype(int))
    weights = fitted.coef_[0] / spread
    return [float(w) for w in weights], float(fitted.intercept_[0] - (weights * mean).sum())


def calibrate(features: np.ndarray, weights: Sequence[float], intercept: float) -> np.ndarray:
    """Calibrated scores in [0, 1] (see ``platt``); ``features`` has the two scores last."""
    z = np.asarray(features, dtype=float) @ np.asarray(weights, dtype=float) + intercept
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def best_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The score cut with the best F1 (suggest when score >= cut); the highest on ties;
    ``DEFAULT_THRESHOLD`` when there is no positive to tune on."""
    scores, truth = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    total = truth.sum()
    if total == 0 or not len(scores):
        return DEFAULT_THRESHOLD
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], truth[order]
    tp, fp = np.cumsum(t), np.cumsum(1 - t)
    f1 = 2 * tp / (tp + fp + total)
    cut_here = np.r_[s[1:] != s[:-1], True]  # a cut can only fall between distinct scores
    f1 = np.where(cut_here, f1, -1.0)
    return float(s[int(np.argmax(f1))])


# -- figures ---------------------------------------------------------------------------------
def _counts(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    pred, truth = pred.astype(bool), truth.astype(bool)
    return int((pred & truth).sum()), int((pred & ~truth).sum()), int((~pred & truth).sum())


def prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    """Precision, recall and F1 with their counts; a ratio with nothing to divide is None."""
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else None,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def _summary(per_code: dict[str, dict[str, Any]], codes: Sequence[str]) -> dict[str, Any] | None:
    """Micro (pooled counts) and macro (mean over codes, an undefined ratio counted as 0)."""
    if not codes or any(per_code[c] is None for c in codes):
        return None
    tp, fp, fn = (sum(per_code[c][k] for c in codes) for k in ("tp", "fp", "fn"))
    mean = lambda key: float(np.mean([per_code[c][key] or 0.0 for c in codes]))  # noqa: E731
    return {
        "micro": prf(tp, fp, fn),
        "macro": {"precision": mean("precision"), "recall": mean("recall"), "f1": mean("f1")},
    }


# -- training --------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What ``train`` did: the stored model and its cross-validated figures."""

    model_id: int
    layer: str
    codes: list[str]
    skipped: dict[str, int]
    retired: dict[str, int]
    fold_of_source: dict[str, int]
    metrics: dict[str, Any]
    sources: int
    segments: int
    seconds: float


def _rule_predictions(project: Project, data: TrainingSet) -> tuple[np.ndarray, int]:
    """The rule suggestions in the store on the training segments, and how many there are."""
    row_of = {int(seg): i for i, seg in enumerate(data.segments["segment"])}
    col_of = {c: j for j, c in enumerate(data.codes)}
    pred = np.zeros(data.labels.shape, dtype=bool)
    stored = 0
    for seg, code in project.query(
        "SELECT DISTINCT segment_id, code_id FROM codings "
        "WHERE coder IS NULL AND origin = 'rule' AND segment_id IS NOT NULL"
    ):
        if seg in row_of:
            stored += 1
            if code in col_of:
                pred[row_of[seg], col_of[code]] = True
    return pred, stored


def _examples(data: TrainingSet) -> tuple[list[Doc], list[Any]]:
    """Docs of the model inputs and their spaCy training examples, made once for all folds."""
    import spacy
    from spacy.training import Example

    vocab = spacy.blank("en").vocab
    docs = [model_doc(vocab, text) for text in data.segments["input"]]
    examples = [
        Example.from_dict(doc, {"cats": dict(zip(data.codes, map(float, row)))}) for doc, row in zip(docs, data.labels)
    ]
    return docs, examples


def cross_validate(
    data: TrainingSet,
    fold_of_source: dict[str, int],
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold scores (segments x codes x 2), the model's held-out 0/1 predictions (each
    test fold calibrated and thresholded on the other folds' scores only), and each
    segment's fold."""
    docs, examples = _examples(data)
    texts = list(data.segments["input"])
    fold = np.array([fold_of_source[s] for s in data.segments["source"]])
    k = max(fold_of_source.values()) + 1
    oof = np.zeros((*data.labels.shape, 2), dtype=float)
    for f in range(k):
        if progress:
            progress(f"fold {f + 1}/{k}")
        test = np.flatnonzero(fold == f)
        train_rows = np.flatnonzero(fold != f)
        nlp = _fit([examples[i] for i in train_rows], data.labels[train_rows], data.codes, seed + f, epochs)
        oof[test] = _scores(nlp, [texts[i] for i in test], data.codes, [docs[i] for i in test])[0]
    held_out = np.zeros(data.labels.shape, dtype=bool)
    for f in range(k):
        test, other = fold == f, fold != f
        for j in range(len(data.codes)):
            weights, intercept = platt(oof[other, j], data.labels[other, j])
            cut = best_threshold(calibrate(oof[other, j], weights, intercept), data.labels[other, j])
            held_out[test, j] = calibrate(oof[test, j], weights, intercept) >= cut
    return oof, held_out, fold


def evaluate_folds(
    project: Project, data: TrainingSet, held_out: np.ndarray, fold: np.ndarray, thresholds: dict[str, float]
) -> dict[str, Any]:
    """Per code, per group, micro and macro figures of the model and of the stored rules."""
    rules, stored_rules = _rule_predictions(project, data)
    groups = code_groups(project, data.codes)
    per_code: dict[str, Any] = {}
    model_counts, rule_counts = {}, {}
    for j, code in enumerate(data.codes):
        truth = data.labels[:, j]
        model_counts[code] = prf(*_counts(held_out[:, j], truth))
        rule_counts[code] = prf(*_counts(rules[:, j], truth)) if stored_rules else None
        per_code[code] = {
            "group": groups[code],
            "positives": int(truth.sum()),
            "threshold": thresholds[code],
            "model": model_counts[code],
            "rules": rule_counts[code],
        }
    per_group = {}
    for group in dict.fromkeys(groups[c] for c in data.codes):
        members = [c for c in data.codes if groups[c] == group]
        per_group[group] = {
            "codes": members,
            "model": _summary(model_counts, members),
            "rules": _summary(rule_counts, members),
        }
    k = int(fold.max()) + 1 if len(fold) else 0
    by_fold = {"model": [], "rules": []}
    for f in range(k):
        rows = fold == f
        by_fold["model"].append(prf(*_counts(held_out[rows], data.labels[rows]))["f1"])
        by_fold["rules"].append(prf(*_counts(rules[rows], data.labels[rows]))["f1"] if stored_rules else None)
    return {
        "folds": k,
        "split": "by source",
        "unit": "segment",
        "grouping": grouping(group_attribute(project)),
        "rule_suggestions_on_these_segments": stored_rules,
        "per_code": per_code,
        "per_group": per_group,
        "overall": {"model": _summary(model_counts, data.codes), "rules": _summary(rule_counts, data.codes)},
        "micro_f1_by_fold": by_fold,
    }


def train(
    project: Project,
    layer: str = "human",
    min_examples: int = 5,
    folds: int = 5,
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    progress: Progress | None = None,
) -> TrainResult:
    """Train on ``layer``, cross-validate by source, calibrate, and store a new model version."""
    import spacy

    if epochs < 1:
        raise QualkamError("--epochs must be at least 1")
    started = time.perf_counter()
    data = training_set(project, layer, min_examples)
    sizes = data.segments.groupby("source").size().to_dict()
    fold_of_source = assign_folds(sizes, folds, seed)
    oof, held_out, fold = cross_validate(data, fold_of_source, seed, epochs, progress)
    calibration: dict[str, dict[str, Any]] = {}
    for j, code in enumerate(data.codes):
        weights, intercept = platt(oof[:, j], data.labels[:, j])
        calibration[code] = {
            "weights": weights,
            "intercept": intercept,
            "threshold": best_threshold(calibrate(oof[:, j], weights, intercept), data.labels[:, j]),
        }
    metrics = evaluate_folds(project, data, held_out, fold, {c: v["threshold"] for c, v in calibration.items()})
    if progress:
        progress("final model on every example")
    _, examples = _examples(data)
    nlp = _fit(examples, data.labels, data.codes, seed, epochs)
    blob = nlp.to_bytes()
    positive_rows = np.flatnonzero(data.labels.any(axis=1))
    examples_data = [
        {
            "segment": int(data.segments.at[i, "segment"]),
            "source": data.segments.at[i, "source"],
            "text": data.segments.at[i, "text"][:EVIDENCE_CHARS],
            "input": data.segments.at[i, "input"],
            "codes": [c for j, c in enumerate(data.codes) if data.labels[i, j]],
        }
        for i in positive_rows
    ]
    settings = {
        "from": layer,
        "coders": data.coders,
        "min_examples": min_examples,
        "folds": folds,
        "seed": seed,
        "epochs": epochs,
        "architecture": ARCHITECTURE,
        "ngram_size": NGRAM_SIZE,
        "length": HASH_LENGTH,
        "learn_rate": LEARN_RATE,
        "batch_size": BATCH_SIZE,
        "tfidf_lr_c": LR_C,
        "input": "lemmas",
        "ensemble": ["textcat_multilabel", "qualkam_tfidf_lr"],
        "calibration": "platt on both scores",
        "threshold": "max F1 on out-of-fold scores",
        "spacy": spacy.__version__,
        "config": nlp.config.to_str(),
    }
    store_data = {
        "sources": sorted(sizes),
        "segments": len(data.segments),
        "segment_ids": [int(s) for s in data.segments["segment"]],
        "positives": {c: data.positives[c] for c in data.codes},
        "skipped": data.skipped,
        "retired": data.retired,
        "fold_of_source": fold_of_source,
        "calibration": calibration,
        "examples": examples_data,
    }
    seconds = time.perf_counter() - started
    metrics["seconds"] = round(seconds, 2)
    with project.transaction() as conn:
        model_id = int(
            conn.execute(
                "INSERT INTO models (created_at, layer, codes, settings, data, metrics, model) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    now(),
                    layer,
                    json.dumps(data.codes),
                    json.dumps(settings),
                    json.dumps(store_data, ensure_ascii=False),
                    json.dumps(metrics),
                    blob,
                ),
            ).lastrowid
        )
        record_audit(
            project,
            "qualkam",
            "train",
            "model",
            str(model_id),
            None,
            {
                "from": layer,
                "codes": len(data.codes),
                "skipped": len(data.skipped),
                "segments": len(data.segments),
                "sources": len(sizes),
            },
        )
    return TrainResult(
        model_id,
        layer,
        data.codes,
        data.skipped,
        data.retired,
        fold_of_source,
        metrics,
        len(sizes),
        len(data.segments),
        seconds,
    )


# -- using a stored model --------------------------------------------------------------------
def model_rows(project: Project) -> list[dict[str, Any]]:
    """Every stored model version, newest first (no blobs)."""
    return [
        dict(r)
        for r in project.query(
            "SELECT id, created_at, layer, codes, length(model) AS bytes FROM models ORDER BY id DESC"
        )
    ]


def latest_thresholds(project: Project) -> dict[str, float]:
    """Code -> threshold of the newest model ({} without one); cheap, for the review queue."""
    row = project.query("SELECT data FROM models ORDER BY id DESC LIMIT 1")
    if not row:
        return {}
    return {c: float(v["threshold"]) for c, v in json.loads(row[0][0]).get("calibration", {}).items()}


class Model:
    """A stored model, ready to suggest: the pipeline, its calibration and its evidence."""

    def __init__(self, row: Any) -> None:
        from spacy.util import load_model_from_config
        from thinc.api import Config

        self.id = int(row["id"])
        self.created_at = row["created_at"]
        self.layer = row["layer"]
        self.codes: list[str] = json.loads(row["codes"])
        self.settings: dict[str, Any] = json.loads(row["settings"])
        self.data: dict[str, Any] = json.loads(row["data"])
        self.metrics: dict[str, Any] = json.loads(row["metrics"])
        config = Config().from_str(self.settings["config"])
        config["nlp"]["tokenizer"] = {"@tokenizers": "qualkam.WordsTokenizer.v1"}  # see WordsTokenizer
        self.nlp = load_model_from_config(config, auto_fill=True)
        self.nlp.from_bytes(row["model"], exclude=["tokenizer"])
        cal = self.data["calibration"]
        self._weights = np.array([cal[c]["weights"] for c in self.codes], dtype=float)  # codes x 2
        self._intercepts = np.array([cal[c]["intercept"] for c in self.codes], dtype=float)
        self.thresholds = np.array([cal[c]["threshold"] for c in self.codes], dtype=float)
        self._similar: Any = None

    def scores(self, inputs: Sequence[str]) -> np.ndarray:
        """Calibrated scores, inputs x codes."""
        return self._scores(inputs)[0]

    def _scores(self, inputs: Sequence[str]) -> tuple[np.ndarray, Any]:
        features, rows = _scores(self.nlp, inputs, self.codes)
        z = np.einsum("ncf,cf->nc", features, self._weights) + self._intercepts
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))), rows

    def _index(self) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, np.ndarray]]:
        """The coded examples in the TF-IDF space of the pipeline, for the evidence: per code,
        the columns (features x examples) of the examples coded with it, made once."""
        if self._similar is None:
            examples = self.data["examples"]
            tfidf = self.nlp.get_pipe("qualkam_tfidf_lr")
            by_code = {
                c: np.array([i for i, e in enumerate(examples) if c in e["codes"]], dtype=int) for c in self.codes
            }
            columns: dict[str, Any] = {}
            if examples:
                matrix = tfidf.transform([e["input"] for e in examples]).T.tocsr()  # features x examples
                columns = {c: matrix[:, by_code[c]].tocsr() for c in self.codes if len(by_code[c])}
            self._similar = (columns, examples, by_code)
        return self._similar

    def suggest(self, source_id: str, segments: Sequence[Segment]) -> list[list[ModelSuggestion]]:
        """Model suggestions per segment, each with the most similar segments people coded
        with that code (TF-IDF cosine; this very segment left out when it was an example)."""
        return self.suggest_many([(source_id, segments)])[0]

    def suggest_many(self, batch: Sequence[tuple[str, Sequence[Segment]]]) -> list[list[list[ModelSuggestion]]]:
        """``suggest`` for several sources at once, (source id, segments) each: one pass of
        the classifiers and of the evidence over all their segments (the same suggestions as
        one call per source, with far less per-call overhead)."""
        segments = [seg for _, segs in batch for seg in segs]
        owner = [source for source, segs in batch for _ in segs]
        result: list[list[ModelSuggestion]] = [[] for _ in segments]
        if segments:
            self._suggest_into(segments, owner, result)
        out, at = [], 0
        for _, segs in batch:
            out.append(result[at : at + len(segs)])
            at += len(segs)
        return out

    def _suggest_into(
        self, segments: Sequence[Segment], owner: Sequence[str], result: list[list[ModelSuggestion]]
    ) -> None:
        inputs = [model_input(s.text, s.lemmas) for s in segments]
        calibrated, tfidf_rows = self._scores(inputs)
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
            for k, (i, picks) in enumerate(zip(at.tolist(), order)):
                own, source_id = segments[i].text[:EVIDENCE_CHARS], owner[i]
                found = []
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
                        round(float(calibrated[i, j]), 4),  # type: ignore[arg-type]
                        evidence.get((i, j), []),
                    )
                )


def load_model(project: Project, model_id: int | None = None) -> Model:
    """The newest stored model (or ``model_id``); ``NoModelError`` when there is none."""
    sql = "SELECT * FROM models " + ("WHERE id = ?" if model_id is not None else "ORDER BY id DESC LIMIT 1")
    row = project.query(sql, (model_id,) if model_id is not None else ())
    if not row:
        which = f"model {model_id}" if model_id is not None else "trained model"
        raise NoModelError(
            f"no {which} in {project.path}; run qualkam train first "
            "(it learns from people's codings: qualkam train --from human)"
        )
    return Model(row[0])
