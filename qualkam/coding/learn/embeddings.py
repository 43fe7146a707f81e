"""Optional offline sentence embeddings (issue 15): one more classifier for the model.

Installed with ``pip install "qualkam[embeddings]"``; the default install and the default
``train`` never need it. The embedder is WordLlama "l2_supercat" (MIT licence, D. Lee Miller,
https://github.com/dleemiller/WordLlama): static token vectors (32,000 tokens x 256
dimensions, distilled from large language models' input embeddings) that the ``wordllama``
wheel ships inside it, with their tokenizer. A segment's embedding is the mean of its tokens'
vectors, L2-normalised (what ``WordLlamaInference.embed`` computes). Nothing is downloaded:

- the two files are read from the installed package's folder (found with ``find_spec``,
  which does not import it) through ``safetensors`` and ``tokenizers``;
- the ``wordllama`` package itself is never imported: its ``WordLlama.load()`` looks for the
  tokenizer in a folder the wheel does not have and then fetches it from Hugging Face, and
  importing it reconfigures the root logger.

The classifier (``EmbeddingLogistic``) is a logistic regression per code on the segment's
embedding beside those of the segments before and after it in the same source (zeros at a
source's edge), standardised. Its decision value is one more score that Platt scaling
(``calibration``) weighs per code with the others, on held-out scores, so it counts only where
it tells. It lives in the model's data (JSON), not in the spaCy pipeline, so models stored
before it load unchanged and a model without it never imports this module's dependencies.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qualkam.errors import QualkamError

INSTALL = 'pip install "qualkam[embeddings]"'
PACKAGE = "wordllama"
WEIGHTS = "weights/l2_supercat_256.safetensors"  # inside the installed package's folder
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
TENSOR = "embedding.weight"
NAME = "wordllama l2_supercat 256"
LR_C = 0.1  # inverse L2 strength on standardised features (768 of them, mostly redundant)
CLASSIFIER = "embedding_lr"  # its name in a stored model's ensemble
FEATURES = "the segment's embedding, the previous and the next segment's (same source)"


class EmbeddingsMissingError(QualkamError):
    """The optional embeddings are not installed (or their files are not where the wheel puts them)."""


@dataclass
class Embedder:
    """The token vectors and their tokenizer, read from the installed package's files."""

    vectors: np.ndarray  # tokens x dimensions, float32
    tokenizer: Any  # tokenizers.Tokenizer
    version: str
    sha256: str  # of the weights file: a model's coefficients mean something only on these vectors

    @property
    def dimensions(self) -> int:
        return int(self.vectors.shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, texts x dimensions (zeros for a text with no token)."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        from scipy.sparse import csr_matrix

        for start in range(0, len(texts), 4096):
            chunk = [str(t) for t in texts[start : start + 4096]]
            encoded = self.tokenizer.encode_batch(chunk, add_special_tokens=False)
            lengths = np.array([len(e.ids) for e in encoded], dtype=np.int64)
            if not lengths.sum():
                continue
            ids = np.clip(np.concatenate([e.ids for e in encoded]).astype(np.int64), 0, len(self.vectors) - 1)
            counts = csr_matrix(
                (np.ones(len(ids), dtype=np.float32), ids, np.r_[0, np.cumsum(lengths)]),
                shape=(len(chunk), len(self.vectors)),
            )
            sums = np.asarray(counts @ self.vectors, dtype=np.float64)  # the mean's direction is the sum's
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            out[start : start + len(chunk)] = (sums / norms).astype(np.float32)
        return out

    def describe(self) -> dict[str, Any]:
        """What a stored model records about its embedder."""
        return {"embedder": NAME, "package": f"{PACKAGE} {self.version}", "sha256": self.sha256, "features": FEATURES}


def package_folder() -> Path:
    """The installed ``wordllama`` package's folder, found without importing it."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingsMissingError(f"sentence embeddings are an optional extra that is not installed: {INSTALL}")
    return Path(next(iter(spec.submodule_search_locations)))


@lru_cache(maxsize=1)
def load_embedder() -> Embedder:
    """The embedder, from the files inside the installed package (read once per process);
    ``EmbeddingsMissingError`` naming the install command when they are not there."""
    folder = package_folder()
    weights, tokenizer_file = folder / WEIGHTS, folder / TOKENIZER
    missing = [str(p) for p in (weights, tokenizer_file) if not p.is_file()]
    if missing:
        raise EmbeddingsMissingError(
            f"the installed {PACKAGE} has no {' or '.join(missing)}; reinstall the extra: {INSTALL}"
        )
    # One thread: quiet and safe when the coding run forks its workers; short segments tokenise fast anyway.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from safetensors.numpy import load
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EmbeddingsMissingError(f"sentence embeddings need {exc.name}, not installed: {INSTALL}") from exc
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version(PACKAGE)
    except PackageNotFoundError:
        installed = "unknown"
    data = weights.read_bytes()
    vectors = load(data)[TENSOR].astype(np.float32)
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return Embedder(vectors, tokenizer, installed, hashlib.sha256(data).hexdigest())


def with_neighbours(own: np.ndarray, sources: Sequence[str]) -> np.ndarray:
    """Each row's embedding, then the previous and the next row's when they are in the same
    source (zeros otherwise): rows x 3 dimensions. Rows are given in reading order."""
    n, d = own.shape
    out = np.zeros((n, 3 * d), dtype=np.float32)
    out[:, :d] = own
    if n > 1:
        same = np.array([sources[i] == sources[i + 1] for i in range(n - 1)], dtype=bool)
        out[1:, d : 2 * d] = np.where(same[:, None], own[:-1], 0.0)
        out[:-1, 2 * d :] = np.where(same[:, None], own[1:], 0.0)
    return out


def features(texts: Sequence[str], sources: Sequence[str]) -> np.ndarray:
    """What ``EmbeddingLogistic`` reads for segments in reading order (see ``with_neighbours``)."""
    return with_neighbours(load_embedder().embed(texts), sources)


def _pack(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.float32).tobytes()).decode("ascii")


def _unpack(text: str, shape: Sequence[int]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32).reshape(tuple(shape)).copy()


class EmbeddingLogistic:
    """A logistic regression per code on standardised embedding features; scores are decision
    values (log-odds), like the TF-IDF regressions'."""

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.mean = np.zeros(0, dtype=np.float32)
        self.scale = np.ones(0, dtype=np.float32)
        self.coef = np.zeros((0, 0), dtype=np.float32)
        self.intercept = np.zeros(0, dtype=np.float32)

    def fit(self, rows: np.ndarray, labels: np.ndarray, codes: Sequence[str]) -> EmbeddingLogistic:
        from sklearn.linear_model import LogisticRegression

        self.codes = list(codes)
        rows = np.asarray(rows, dtype=np.float64)
        self.mean = rows.mean(axis=0).astype(np.float32)
        spread = rows.std(axis=0)
        spread[spread == 0] = 1.0
        self.scale = spread.astype(np.float32)
        scaled = (rows - self.mean) / self.scale
        self.coef = np.zeros((len(codes), rows.shape[1]), dtype=np.float32)
        self.intercept = np.zeros(len(codes), dtype=np.float32)
        for j in range(len(codes)):
            truth = np.asarray(labels[:, j]).astype(int)
            if truth.min() == truth.max():  # one class only: a constant score
                self.intercept[j] = 5.0 if truth.max() else -5.0
                continue
            fitted = LogisticRegression(C=LR_C, max_iter=1000).fit(scaled, truth)
            self.coef[j], self.intercept[j] = fitted.coef_[0], fitted.intercept_[0]
        return self

    def decision(self, rows: np.ndarray) -> np.ndarray:
        """Decision values, rows x codes."""
        scaled = (np.asarray(rows, dtype=np.float64) - self.mean) / self.scale
        return scaled @ self.coef.T.astype(np.float64) + self.intercept

    def to_data(self) -> dict[str, Any]:
        """JSON-ready: what the model's data keeps (float32, base64)."""
        return {
            "codes": self.codes,
            "shape": list(self.coef.shape),
            "mean": _pack(self.mean),
            "scale": _pack(self.scale),
            "coef": _pack(self.coef),
            "intercept": _pack(self.intercept),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> EmbeddingLogistic:
        made = cls()
        rows, dims = data["shape"]
        made.codes = list(data["codes"])
        made.mean, made.scale = _unpack(data["mean"], [dims]), _unpack(data["scale"], [dims])
        made.coef, made.intercept = _unpack(data["coef"], [rows, dims]), _unpack(data["intercept"], [rows])
        return made


def out_of_fold(
    texts: Sequence[str],
    sources: Sequence[str],
    labels: np.ndarray,
    codes: Sequence[str],
    fold: np.ndarray,
    training_rows: Callable[[int], np.ndarray] | None = None,
) -> np.ndarray:
    """Each fold's segments scored by a regression fitted on ``training_rows(fold)`` (by default
    every segment of the other folds): segments x codes x 1, a column to add to the others'."""
    rows = features(texts, sources)
    oof = np.zeros((len(texts), len(codes), 1), dtype=float)
    for f in range(int(fold.max()) + 1 if len(fold) else 0):
        test = np.flatnonzero(fold == f)
        train_rows = training_rows(f) if training_rows is not None else np.flatnonzero(fold != f)
        fitted = EmbeddingLogistic().fit(rows[train_rows], labels[train_rows], codes)
        oof[test, :, 0] = fitted.decision(rows[test])
    return oof


def fit_stored(
    texts: Sequence[str], sources: Sequence[str], labels: np.ndarray, codes: Sequence[str]
) -> dict[str, Any]:
    """The final regression on every segment, with its embedder's description: the model's
    ``data["embeddings"]``."""
    fitted = EmbeddingLogistic().fit(features(texts, sources), labels, codes)
    return {**load_embedder().describe(), "classifier": fitted.to_data()}


class StoredEmbeddings:
    """A stored model's embedding classifier, ready to score (the model's ``data["embeddings"]``).
    Made when the model is loaded, so a model that needs the extra says so before any work."""

    def __init__(self, stored: dict[str, Any]) -> None:
        try:
            self.embedder = load_embedder()
        except EmbeddingsMissingError as exc:
            raise EmbeddingsMissingError(
                f"this model was trained with sentence embeddings ({stored.get('embedder', NAME)}), "
                f"an optional extra that is not installed: {INSTALL}; or train a model without them"
            ) from exc
        if stored.get("sha256") and stored["sha256"] != self.embedder.sha256:
            raise EmbeddingsMissingError(
                f"this model was trained on other embedding vectors ({stored.get('package')}) than the installed "
                f"{PACKAGE} {self.embedder.version}: train the model again, or install that version"
            )
        self.classifier = EmbeddingLogistic.from_data(stored["classifier"])

    def scores(self, texts: Sequence[str], sources: Sequence[str], codes: Sequence[str]) -> np.ndarray:
        """Decision values, texts x ``codes`` x 1."""
        rows = with_neighbours(self.embedder.embed(texts), sources)
        column = [self.classifier.codes.index(c) for c in codes]
        return self.classifier.decision(rows)[:, column][:, :, None]
