"""Training: cross-validate by source, calibrate, fit the final model, store it.

Honest quality: k-fold cross-validation split by source (``data.assign_folds``: no source is
in both the training and the test part of a fold). Each fold's model scores its test
sources; those out-of-fold scores are compared, on the same segments, with the rule
suggestions already in the store (origin ``rule``): per code, per code group, micro and
macro, with the one definition of precision, recall and F1 that ``evaluate`` uses
(``qualkam.coding.metrics``). So that no test label chooses its own calibration or
threshold, the cross-validated figures apply to each test fold a calibration and threshold
fitted on the other folds' out-of-fold scores only; the stored model's calibration is fitted
on all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qualkam.coding import metrics
from qualkam.coding.learn.calibration import MIN_PRECISION, NEVER, best_threshold, calibrate, platt
from qualkam.coding.learn.data import (
    TrainingSet,
    assign_folds,
    code_groups,
    group_attribute,
    grouping,
    segment_folds,
    training_set,
)
from qualkam.coding.learn.machine import MACHINE, machine_agreement
from qualkam.coding.learn.model import EVIDENCE_CHARS
from qualkam.errors import QualkamError
from qualkam.store import models
from qualkam.store import training as store
from qualkam.store.layers import Layer

if TYPE_CHECKING:
    from qualkam.coding.learn.prior import CodebookPrior
    from qualkam.store.project import Project

DEFAULT_EPOCHS = 10

Progress = Callable[[str], None]


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


def rule_predictions(project: Project, data: TrainingSet) -> tuple[np.ndarray, int]:
    """The rule suggestions in the store on the training segments (segments x codes), and how
    many (segment, code) suggestions fall on those segments."""
    row_of = {int(seg): i for i, seg in enumerate(data.segments["segment"])}
    col_of = {c: j for j, c in enumerate(data.codes)}
    pred = np.zeros(data.labels.shape, dtype=bool)
    stored = 0
    for seg, code in store.rule_suggestions(project):
        if seg in row_of:
            stored += 1
            if code in col_of:
                pred[row_of[seg], col_of[code]] = True
    return pred, stored


def cross_validate(
    data: TrainingSet,
    fold_of_source: dict[str, int],
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    progress: Progress | None = None,
    min_precision: float = MIN_PRECISION,
    prior: CodebookPrior | None = None,
    embeddings: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold scores (segments x codes x 3: ``classifiers.scores``; a 4th with
    ``embeddings``), the model's held-out 0/1 predictions (each test fold calibrated and
    thresholded on the other folds' scores only), and each segment's fold. ``prior``: the
    codebook's pseudo-examples join each fold's fit."""
    fold = segment_folds(data, fold_of_source)
    oof = _out_of_fold(data, fold, seed, epochs, progress, prior=prior, embeddings=embeddings)
    return oof, held_out_predictions(oof, data.labels, fold, min_precision), fold


def _out_of_fold(
    data: TrainingSet,
    fold: np.ndarray,
    seed: int,
    epochs: int,
    progress: Progress | None = None,
    training_rows: Callable[[int], np.ndarray] | None = None,
    prior: CodebookPrior | None = None,
    embeddings: bool = False,
) -> np.ndarray:
    """Each fold's test segments scored by a model fitted on ``training_rows(fold)`` (by
    default every segment of the other folds); ``embeddings``: with the optional embedding
    classifier's score as a last column."""
    from qualkam.coding.learn import classifiers

    docs, examples = classifiers.examples(list(data.segments["input"]), data.codes, data.labels)
    texts = list(data.segments["input"])
    contexts = list(data.segments["context"])
    k = int(fold.max()) + 1 if len(fold) else 0
    oof = np.zeros((*data.labels.shape, 3), dtype=float)
    for f in range(k):
        if progress:
            progress(f"fold {f + 1}/{k}")
        test = np.flatnonzero(fold == f)
        train_rows = training_rows(f) if training_rows is not None else np.flatnonzero(fold != f)
        nlp = classifiers.fit(
            [examples[i] for i in train_rows],
            data.labels[train_rows],
            data.codes,
            seed + f,
            epochs,
            [contexts[i] for i in train_rows],
            prior.rows(data.codes, data.labels[train_rows].sum(axis=0)) if prior is not None else None,
        )
        oof[test] = classifiers.scores(
            nlp, [texts[i] for i in test], data.codes, [docs[i] for i in test], [contexts[i] for i in test]
        )[0]
    if embeddings:  # issue 15, the optional extra: one more column of scores
        from qualkam.coding.learn import embeddings as extra

        if progress:
            progress("sentence embeddings")
        own, sources = list(data.segments["text"]), list(data.segments["source"])  # the text: its own tokenizer
        oof = np.concatenate(
            [oof, extra.out_of_fold(own, sources, data.labels, data.codes, fold, training_rows)], axis=2
        )
    return oof


def held_out_predictions(
    oof: np.ndarray, labels: np.ndarray, fold: np.ndarray, min_precision: float = MIN_PRECISION
) -> np.ndarray:
    """0/1 predictions of each test fold, calibrated and thresholded (``best_threshold``) on
    the other folds' out-of-fold scores only, so no test label chooses its own cut."""
    held_out = np.zeros(labels.shape, dtype=bool)
    for f in range(int(fold.max()) + 1 if len(fold) else 0):
        test, other = fold == f, fold != f
        for j in range(labels.shape[1]):
            weights, intercept = platt(oof[other, j], labels[other, j])
            cut = best_threshold(calibrate(oof[other, j], weights, intercept), labels[other, j], min_precision)
            held_out[test, j] = calibrate(oof[test, j], weights, intercept) >= cut
    return held_out


Predictor = Callable[[Sequence[str]], np.ndarray]
Fit = Callable[[Sequence[str], np.ndarray], Predictor]


def out_of_fold(texts: Sequence[str], labels: np.ndarray, fold: np.ndarray, fit: Fit) -> np.ndarray:
    """Held-out 0/1 predictions (texts x codes) of any classifier on the given folds.

    For each fold, ``fit(train_texts, train_labels)`` sees only the other folds and returns a
    predictor, which then predicts the fold's texts (a 0/1 array, texts x codes). With
    ``segment_folds`` this measures a peer classifier on exactly the segments and folds of
    ``cross_validate``, so its figures and the model's can be set side by side."""
    fold = np.asarray(fold)
    if len(fold) != len(texts) or len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts, {len(labels)} label rows and {len(fold)} folds: one each expected")
    predicted = np.zeros(np.shape(labels), dtype=bool)
    for f in np.unique(fold):
        test, train_rows = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
        predict = fit([texts[int(i)] for i in train_rows], labels[train_rows])
        predicted[test] = np.asarray(predict([texts[int(i)] for i in test])).astype(bool)
    return predicted


def _summary(per_code: dict[str, metrics.PRF], codes: list[str]) -> dict[str, Any]:
    found = metrics.summary(per_code, codes)
    return {"micro": found["micro"].figures(), "macro": found["macro"]}


def overall_figures(predicted: np.ndarray, labels: np.ndarray, codes: list[str]) -> dict[str, Any]:
    """Micro and macro figures of 0/1 predictions (segments x codes) against the labels."""
    return _summary({c: metrics.compare(predicted[:, j], labels[:, j]) for j, c in enumerate(codes)}, codes)


def evaluate_folds(
    project: Project, data: TrainingSet, held_out: np.ndarray, fold: np.ndarray, thresholds: dict[str, float]
) -> dict[str, Any]:
    """Per code, per group, micro and macro figures of the model and of the stored rules."""
    rules, stored_rules = rule_predictions(project, data)
    groups = code_groups(project, data.codes)
    per_code: dict[str, Any] = {}
    model_counts: dict[str, metrics.PRF] = {}
    rule_counts: dict[str, metrics.PRF] = {}
    for j, code in enumerate(data.codes):
        truth = data.labels[:, j]
        model_counts[code] = metrics.compare(held_out[:, j], truth)
        rule_counts[code] = metrics.compare(rules[:, j], truth)
        per_code[code] = {
            "group": groups[code],
            "positives": int(truth.sum()),
            "threshold": thresholds[code],
            "model": model_counts[code].figures(),
            "rules": rule_counts[code].figures() if stored_rules else None,
        }
    per_group = {}
    for group in dict.fromkeys(groups[c] for c in data.codes):
        members = [c for c in data.codes if groups[c] == group]
        per_group[group] = {
            "codes": members,
            "model": _summary(model_counts, members),
            "rules": _summary(rule_counts, members) if stored_rules else None,
        }
    k = int(fold.max()) + 1 if len(fold) else 0
    by_fold: dict[str, list[float | None]] = {"model": [], "rules": []}
    for f in range(k):
        rows = fold == f
        by_fold["model"].append(metrics.compare(held_out[rows], data.labels[rows]).f1)
        by_fold["rules"].append(metrics.compare(rules[rows], data.labels[rows]).f1 if stored_rules else None)
    return {
        "folds": k,
        "split": "by source",
        "unit": "segment",
        "grouping": grouping(group_attribute(project)),
        "rule_suggestions_on_these_segments": stored_rules,
        "per_code": per_code,
        "per_group": per_group,
        "overall": {
            "model": _summary(model_counts, data.codes),
            "rules": _summary(rule_counts, data.codes) if stored_rules else None,
        },
        "micro_f1_by_fold": by_fold,
    }


def check_settings(epochs: int, min_precision: float, embeddings: bool = False) -> None:
    """Refuse settings no training can use, naming the argument; with ``embeddings``, say now
    (not after the cross-validation) when the optional extra is not installed."""
    if epochs < 1:
        raise QualkamError("{argument} must be at least 1", argument="epochs")
    if not 0 <= min_precision <= 1:
        raise QualkamError("{argument} must be between 0 and 1", argument="min_precision")
    if embeddings:
        from qualkam.coding.learn.embeddings import load_embedder

        load_embedder()


def train(
    project: Project,
    layer: str | Layer = "human",
    min_examples: int = 5,
    folds: int = 5,
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    progress: Progress | None = None,
    min_precision: float = MIN_PRECISION,
    prior_k: float | None = None,
    embeddings: bool = False,
) -> TrainResult:
    """Train on ``layer``, cross-validate by source, calibrate, and store a new model version.
    ``min_precision``: a code is suggested only at a cut with at least this out-of-fold
    precision (``calibration.best_threshold``); a code no cut makes so precise is not suggested.
    ``prior_k``: the codebook's texts join the training, each code's weighing k / (k + n)
    segments for n coded (``prior.CodebookPrior``); None: people's codings only.
    ``embeddings``: add the optional sentence-embedding classifier (``learn.embeddings``; needs
    ``pip install "qualkam[embeddings]"``, checked before any work)."""
    check_settings(epochs, min_precision, embeddings)
    import spacy

    from qualkam.coding.learn import classifiers
    from qualkam.coding.learn.prior import project_prior

    started = time.perf_counter()
    data = training_set(project, layer, min_examples)
    prior = project_prior(project, prior_k) if prior_k is not None else None
    sizes = data.segments.groupby("source").size().to_dict()
    fold_of_source = assign_folds(sizes, folds, seed)
    oof, held_out, fold = cross_validate(
        data, fold_of_source, seed, epochs, progress, min_precision, prior=prior, embeddings=embeddings
    )
    calibration: dict[str, dict[str, Any]] = {}
    for j, code in enumerate(data.codes):
        weights, intercept = platt(oof[:, j], data.labels[:, j])
        calibration[code] = {
            "weights": weights,
            "intercept": intercept,
            "threshold": best_threshold(calibrate(oof[:, j], weights, intercept), data.labels[:, j], min_precision),
        }
    figures = evaluate_folds(project, data, held_out, fold, {c: v["threshold"] for c, v in calibration.items()})
    figures["not_suggested"] = [c for c, v in calibration.items() if v["threshold"] >= NEVER]
    figures[MACHINE] = machine_agreement(project, data, held_out)
    figures["min_precision"] = min_precision
    if progress:
        progress("final model on every example")
    _, examples = classifiers.examples(list(data.segments["input"]), data.codes, data.labels)
    prior_rows = prior.rows(data.codes, data.labels.sum(axis=0)) if prior is not None else None
    nlp = classifiers.fit(examples, data.labels, data.codes, seed, epochs, list(data.segments["context"]), prior_rows)
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
        "from": data.layer,
        "coders": data.coders,
        "min_examples": min_examples,
        "folds": folds,
        "seed": seed,
        "epochs": epochs,
        "architecture": classifiers.ARCHITECTURE,
        "ngram_size": classifiers.NGRAM_SIZE,
        "length": classifiers.HASH_LENGTH,
        "learn_rate": classifiers.LEARN_RATE,
        "batch_size": classifiers.BATCH_SIZE,
        "tfidf_lr_c": classifiers.LR_C,
        "input": "lemmas; context: speaker, role and the neighbouring segments' words",
        "ensemble": classifiers.PIPES,
        "calibration": "platt on the three scores",
        "threshold": f"max F1 on out-of-fold scores at precision >= {min_precision:g}",
        "min_precision": min_precision,
        "codebook_prior": None if prior is None else {"k": prior.k, "texts": len(prior.texts)},
        "spacy": spacy.__version__,
        "config": nlp.config.to_str(),
    }
    if embeddings:  # issue 15: the optional embedding classifier, kept in the model's data
        from qualkam.coding.learn import embeddings as extra

        store_embeddings = extra.fit_stored(
            list(data.segments["text"]), list(data.segments["source"]), data.labels, data.codes
        )
        settings["ensemble"] = [*classifiers.PIPES, extra.CLASSIFIER]
        settings["calibration"] = "platt on the four scores"
        settings["embeddings"] = {k: v for k, v in store_embeddings.items() if k != "classifier"}
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
    if embeddings:
        store_data["embeddings"] = store_embeddings
    seconds = time.perf_counter() - started
    figures["seconds"] = round(seconds, 2)
    model_id = models.add_model(
        project,
        data.layer,
        data.codes,
        settings,
        store_data,
        figures,
        blob,
        audit={
            "from": data.layer,
            "codes": len(data.codes),
            "skipped": len(data.skipped),
            "segments": len(data.segments),
            "sources": len(sizes),
        },
    )
    return TrainResult(
        model_id,
        data.layer,
        data.codes,
        data.skipped,
        data.retired,
        fold_of_source,
        figures,
        len(sizes),
        len(data.segments),
        seconds,
    )
