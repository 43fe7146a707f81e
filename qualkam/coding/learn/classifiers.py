"""The two classifiers of a model, in one spaCy pipeline, and how they are fitted and scored.

Both read a segment's model input (``data.model_input``) split on spaces:

- spaCy ``textcat_multilabel`` with the bag-of-words architecture ``spacy.TextCatBOW.v3``
  (unigrams and bigrams, hashed), trained with spaCy's own update loop;
- ``qualkam_tfidf_lr`` (``TfidfLogistic``), a TF-IDF (unigrams and bigrams) logistic
  regression per code fitted with scikit-learn. BOW weighs every word by its count and learns
  by gradient steps; with a few hundred coded segments and rare codes the inverse document
  frequency and a solver run to convergence are what keep common words from drowning a
  code's telling words. Held-out micro F1, BOW alone / TF-IDF alone / both: 0.09 / 0.21 /
  0.21 on the reference coding of the sample transcripts, 0.14 / 0.96 / 0.97 on
  bench/train.py's generated codings.

Importing this module registers the component and the tokenizer with spaCy, which a stored
pipeline needs before it can be loaded (``model.Model``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from spacy.language import Language
from spacy.pipeline.textcat_multilabel import MultiLabel_TextCategorizer
from spacy.strings import hash_string  # type: ignore[attr-defined]  # in spaCy, missing from its stub
from spacy.tokens import Doc
from spacy.util import registry

from qualkam.coding.learn.calibration import logit
from qualkam.render.files import write_bytes

ARCHITECTURE = "spacy.TextCatBOW.v3"
NGRAM_SIZE = 2
HASH_LENGTH = 2**15  # hashed n-gram buckets of the BOW (x codes x 4 bytes): a few MB per stored model
LEARN_RATE = 0.001  # spaCy's default; 0.01 scored worse held out on real codings
LR_C = 10.0  # inverse L2 strength of the TF-IDF logistic regression
BATCH_SIZE = 32
PIPES = ["textcat_multilabel", "qualkam_tfidf_lr", "context_tfidf_lr"]
CONTEXT_PIPE = "context_tfidf_lr"  # a second TF-IDF regression, on ``model.context_inputs``


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
            words = item.to_array("ORTH").astype(np.uint64)
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

    def fit(
        self, docs: Sequence[Doc | str], labels: np.ndarray, codes: Sequence[str], weights: np.ndarray | None = None
    ) -> None:
        """``weights``: optional, docs x codes, how much each doc counts for each code (0: not at all)."""
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
            weight = None if weights is None else np.asarray(weights[:, j], dtype=float)
            counted = truth if weight is None else truth[weight > 0]
            if counted.min() == counted.max():  # one class only: a constant score
                self.intercept[j] = 5.0 if counted.max() else -5.0
                continue
            fitted = LogisticRegression(C=LR_C, solver="liblinear").fit(  # 10x lbfgs on sparse rows
                matrix, truth, sample_weight=weight
            )
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

    def predict(self, docs: Sequence[Doc | str]) -> np.ndarray:
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
        write_bytes(self.to_bytes(), Path(path) / "model.msgpack")

    def from_disk(self, path: Any, *, exclude: Sequence[str] = ()) -> TfidfLogistic:
        return self.from_bytes((Path(path) / "model.msgpack").read_bytes())


def textcat_pipe(nlp: Language) -> MultiLabel_TextCategorizer:
    """The pipeline's BOW text classifier."""
    pipe = nlp.get_pipe("textcat_multilabel")
    assert isinstance(pipe, MultiLabel_TextCategorizer)
    return pipe


def tfidf_pipe(nlp: Language, name: str = "qualkam_tfidf_lr") -> TfidfLogistic:
    """The pipeline's TF-IDF logistic regression (``CONTEXT_PIPE``: the one on context)."""
    pipe = nlp.get_pipe(name)
    assert isinstance(pipe, TfidfLogistic)
    return pipe


def has_context(nlp: Language) -> bool:
    """Whether the pipeline holds the context classifier (models trained before it have two)."""
    return CONTEXT_PIPE in nlp.pipe_names


def _bow_model() -> dict[str, Any]:
    return {
        "@architectures": ARCHITECTURE,
        "exclusive_classes": False,
        "ngram_size": NGRAM_SIZE,
        "no_output_layer": False,
        "length": HASH_LENGTH,
    }


def examples(inputs: Sequence[str], codes: Sequence[str], labels: np.ndarray) -> tuple[list[Doc], list[Any]]:
    """Docs of the model inputs and their spaCy training examples, made once for all folds."""
    import spacy
    from spacy.training import Example

    vocab = spacy.blank("en").vocab
    docs = [model_doc(vocab, text) for text in inputs]
    made = [
        Example.from_dict(doc, {"cats": dict(zip(codes, map(float, row), strict=True))})
        for doc, row in zip(docs, labels, strict=True)
    ]
    return docs, made


def fit(
    examples: list[Any],
    labels: np.ndarray,
    codes: list[str],
    seed: int,
    epochs: int,
    contexts: Sequence[Doc | str] | None = None,
    codebook_rows: Any = None,
) -> Language:
    """A fresh pipeline: spaCy's BOW textcat (trained on ``examples``), the TF-IDF logistic
    regression (fitted on the same examples' texts) and, given ``contexts`` (the same
    segments' ``context_inputs``), a second one on those. Calibration then weighs the three
    per code, so context counts where it tells on held-out segments and not elsewhere.
    ``codebook_rows`` (``prior.PriorRows``): the codebook's weighted pseudo-examples, which only the
    TF-IDF regression on the segment reads."""
    import spacy
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(seed)
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat_multilabel", config={"model": _bow_model()})
    textcat = textcat_pipe(nlp)
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
            node.set_param("b", node.ops.asarray1f(logit(prior).astype(np.float32).tolist()))
    order = list(examples)
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(order)
        for batch in minibatch(order, size=BATCH_SIZE):
            nlp.update(batch, sgd=optimizer, drop=0.0)
    nlp.add_pipe("qualkam_tfidf_lr")
    if codebook_rows is None:
        tfidf_pipe(nlp).fit([ex.reference for ex in examples], labels, codes)
    else:  # the codebook's pseudo-examples (``prior.PriorRows``), weighted, beside people's codings
        weights = np.vstack([np.ones(labels.shape), codebook_rows.weights])
        docs = [ex.reference for ex in examples] + list(codebook_rows.inputs)
        tfidf_pipe(nlp).fit(docs, np.vstack([labels, codebook_rows.labels]), codes, weights)
    if contexts is not None:
        nlp.add_pipe("qualkam_tfidf_lr", name=CONTEXT_PIPE)
        tfidf_pipe(nlp, CONTEXT_PIPE).fit(contexts, labels, codes)
    return nlp


def scores(
    nlp: Language,
    texts: Sequence[str],
    codes: Sequence[str],
    docs: Sequence[Doc] | None = None,
    contexts: Sequence[str | Doc] | None = None,
) -> tuple[np.ndarray, Any]:
    """The classifiers' scores, texts x ``codes`` x 2 or 3 (the BOW score's logit, the TF-IDF
    model's decision value and, for a pipeline with context, the context model's, which reads
    ``contexts``), and the texts' TF-IDF rows (reused for the evidence)."""
    from scipy.sparse import csr_matrix, vstack

    textcat, tfidf = textcat_pipe(nlp), tfidf_pipe(nlp)
    context = tfidf_pipe(nlp, CONTEXT_PIPE) if has_context(nlp) else None
    if context is not None and (contexts is None or len(contexts) != len(texts)):
        raise ValueError("this model reads each segment's context: give contexts for every text")
    bow_of = {label: i for i, label in enumerate(textcat.labels)}
    lr_of = {label: i for i, label in enumerate(tfidf.labels)}
    bow_col, lr_col = [bow_of[c] for c in codes], [lr_of[c] for c in codes]
    out = np.zeros((len(texts), len(codes), 2 if context is None else 3))
    rows = []
    for i in range(0, len(texts), 1000):
        chunk = list(docs[i : i + 1000]) if docs is not None else [model_doc(nlp.vocab, t) for t in texts[i : i + 1000]]
        out[i : i + len(chunk), :, 0] = logit(np.asarray(textcat.predict(chunk))[:, bow_col])
        rows.append(tfidf.transform(chunk))
        out[i : i + len(chunk), :, 1] = tfidf.decision(rows[-1])[:, lr_col]
        if context is not None and contexts is not None:
            around = list(contexts[i : i + len(chunk)])
            out[i : i + len(chunk), :, 2] = context.predict(around)[:, [context.labels.index(c) for c in codes]]
    return out, (vstack(rows).tocsr() if rows else csr_matrix((0, len(tfidf.keys))))
