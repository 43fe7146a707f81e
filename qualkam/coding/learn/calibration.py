"""Calibration and thresholds: from the two classifiers' scores to "suggest this code".

Platt scaling on the classifiers' scores (a logistic regression per code on the BOW score's
logit, the TF-IDF model's decision value and, for a model with context, the context model's:
one weight per score and an intercept per code, kept in the model's data), fitted
on out-of-fold scores, weighs the two classifiers and turns them into an estimated
probability. A code is suggested when that calibrated score reaches the code's threshold,
the one with the best F1 on the calibrated out-of-fold scores among the cuts with a precision of
at least ``MIN_PRECISION`` (``DEFAULT_THRESHOLD`` when a code has no positive example to tune
on; ``NEVER``, so not suggested, when no cut is precise enough). Only numpy until ``platt`` fits (scikit-learn).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_THRESHOLD = 0.5
# A code is suggested only at cuts where its out-of-fold precision is at least this: below it,
# most of what it would suggest is wrong, and a weak code's best-F1 cut falls so low that it
# floods the review (on TalkMoves: 0.3 keeps macro F1 and lifts micro F1; 0.4 and 0.5 lose rare codes).
MIN_PRECISION = 0.3
NEVER = 1.01  # the threshold of a code no cut makes precise enough: above every calibrated score


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities, clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def platt(features: np.ndarray, truth: np.ndarray) -> tuple[list[float], float]:
    """Weights and intercept of Platt scaling on the scores (rows x scores):
    p = 1 / (1 + exp(-(w . features + b))). With one class only, the BOW score as it is."""
    truth = np.asarray(truth)
    if len(np.unique(truth)) < 2:
        return [1.0] + [0.0] * (np.asarray(features).shape[1] - 1), 0.0
    from sklearn.linear_model import LogisticRegression

    # Standardised, so the (mild) regularisation treats the scores alike whatever their
    # spread; the weights are then turned back to the scores' own units.
    features = np.asarray(features, dtype=float)
    mean, spread = features.mean(axis=0), features.std(axis=0)
    spread[spread == 0] = 1.0
    fitted = LogisticRegression(C=1.0).fit((features - mean) / spread, truth.astype(int))
    weights = fitted.coef_[0] / spread
    return [float(w) for w in weights], float(fitted.intercept_[0] - (weights * mean).sum())


def calibrate(features: np.ndarray, weights: Sequence[float], intercept: float) -> np.ndarray:
    """Calibrated scores in [0, 1] (see ``platt``); ``features`` has the scores last."""
    z = np.asarray(features, dtype=float) @ np.asarray(weights, dtype=float) + intercept
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def best_threshold(scores: np.ndarray, truth: np.ndarray, min_precision: float = 0.0) -> float:
    """The score cut with the best F1 (suggest when score >= cut) among the cuts whose precision
    is at least ``min_precision``; the highest on ties; ``DEFAULT_THRESHOLD`` when there is no
    positive to tune on; ``NEVER`` when no cut is precise enough."""
    scores, truth = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    total = truth.sum()
    if total == 0 or not len(scores):
        return DEFAULT_THRESHOLD
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], truth[order]
    tp, fp = np.cumsum(t), np.cumsum(1 - t)
    f1 = 2 * tp / (tp + fp + total)
    cut_here = np.r_[s[1:] != s[:-1], True]  # a cut can only fall between distinct scores
    allowed = cut_here & (tp >= min_precision * (tp + fp))
    if not allowed.any():
        return NEVER
    return float(s[int(np.argmax(np.where(allowed, f1, -1.0)))])
