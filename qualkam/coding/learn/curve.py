"""The learning curve (issue 15): held-out F1 against the number of coded segments, so a team
knows whether coding more will make the model worth its suggestions.

For every fold of the cross-validation by source (``data.assign_folds``), the model is fitted
on a growing share of the other folds' sources (the same shuffled order for every step, so
each step adds sources to the last) and scores the same held-out fold, calibrated and
thresholded as ``train`` does (``training.held_out_predictions``). The rules' figures on the
same segments are the line to pass. Nothing is stored.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qualkam.coding.learn.calibration import MIN_PRECISION
from qualkam.coding.learn.data import assign_folds, training_set
from qualkam.coding.learn.training import (
    DEFAULT_EPOCHS,
    Progress,
    _out_of_fold,
    check_settings,
    held_out_predictions,
    overall_figures,
    rule_predictions,
)
from qualkam.errors import QualkamError
from qualkam.store.layers import Layer

if TYPE_CHECKING:
    from qualkam.store.project import Project

DEFAULT_STEPS = (0.25, 0.5, 0.75, 1.0)


@dataclass
class CurvePoint:
    """One step: how much the model learnt from (per fold, on average) and how it did held out."""

    share: float  # of each fold's training sources
    sources: float  # training sources per fold, on average
    segments: float  # training segments per fold, on average
    coded: float  # training segments with at least one code, per fold, on average
    micro: dict[str, Any]  # precision, recall, f1 (pooled over codes)
    macro: dict[str, Any]  # the mean of codes' figures


@dataclass
class Curve:
    """The learning curve of one people's layer, and the rules' figures on the same segments."""

    layer: str
    codes: list[str]
    folds: int
    points: list[CurvePoint]
    rules: dict[str, Any] | None  # {"micro": ..., "macro": ...}; None without rule suggestions here


def learning_curve(
    project: Project,
    layer: str | Layer = "human",
    steps: Sequence[float] = DEFAULT_STEPS,
    min_examples: int = 5,
    folds: int = 5,
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    progress: Progress | None = None,
    min_precision: float = MIN_PRECISION,
    prior_k: float | None = None,
    embeddings: bool = False,
) -> Curve:
    """Held-out figures of models fitted on ``steps`` (shares between 0 and 1) of each fold's
    training sources; see the module's docstring. ``prior_k``, ``embeddings``: as ``train``'s."""
    check_settings(epochs, min_precision, embeddings)
    if not steps or any(not 0 < s <= 1 for s in steps):
        raise QualkamError("{argument}: give shares above 0 and at most 1, such as 0.25,0.5,1", argument="steps")
    data = training_set(project, layer, min_examples)
    prior = None
    if prior_k is not None:
        from qualkam.coding.learn.prior import project_prior

        prior = project_prior(project, prior_k)
    sizes = data.segments.groupby("source").size().to_dict()
    fold_of_source = assign_folds(sizes, folds, seed)
    sources = np.array(list(data.segments["source"]))
    fold = np.array([fold_of_source[s] for s in sources])
    k = int(fold.max()) + 1
    coded_rows = np.asarray(data.labels.any(axis=1), dtype=bool)
    order = {f: sorted(s for s, g in fold_of_source.items() if g != f) for f in range(k)}
    for f in range(k):
        random.Random(seed + f).shuffle(order[f])
    points = []
    for share in sorted(set(steps)):
        taken = {f: set(order[f][: max(1, math.ceil(share * len(order[f])))]) for f in range(k)}
        rows = {f: np.flatnonzero(np.isin(sources, sorted(taken[f]))) for f in range(k)}
        if progress:
            progress(f"{share:.0%} of the training sources")
        oof = _out_of_fold(
            data, fold, seed, epochs, progress, training_rows=rows.__getitem__, prior=prior, embeddings=embeddings
        )
        held_out = held_out_predictions(oof, data.labels, fold, min_precision)
        found = overall_figures(held_out, data.labels, data.codes)
        points.append(
            CurvePoint(
                share,
                float(np.mean([len(taken[f]) for f in range(k)])),
                float(np.mean([len(rows[f]) for f in range(k)])),
                float(np.mean([coded_rows[rows[f]].sum() for f in range(k)])),
                found["micro"],
                found["macro"],
            )
        )
    rules, stored = rule_predictions(project, data)
    rule_figures = overall_figures(rules, data.labels, data.codes) if stored else None
    return Curve(data.layer, data.codes, k, points, rule_figures)
