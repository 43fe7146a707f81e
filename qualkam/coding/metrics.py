"""Precision, recall and F1: the one definition that ``evaluate`` and ``train`` both report.

Issue 12: the two used to average differently (train counted an undefined precision as 0,
evaluate left it out), so one set of predictions had two macro F1s. Now both pass their
per-code counts through ``summary``.

Undefined figures are None, never NaN: precision is None when nothing was predicted (0/0),
recall when the reference has nothing (0/0); F1 = 2·TP / (2·TP + FP + FN) is None only when
both are empty. Micro pools the counts of the codes; macro averages the codes' figures,
each over the codes where that figure is defined (the caller chooses the codes: evaluate
those with a reference coding or a suggestion, train the trained codes).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple


class PRF(NamedTuple):
    """Counts and scores of one comparison; unpacks as (tp, fp, fn, precision, recall, f1)."""

    tp: int
    fp: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float | None

    def figures(self) -> dict[str, Any]:
        """The scores, then the counts (the order train stores them in)."""
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def scores(tp: int, fp: int, fn: int) -> PRF:
    """Precision, recall and F1 from counts; None where a ratio is 0/0 (never NaN)."""
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return PRF(tp, fp, fn, precision, recall, f1)


def prf(pred: set[Hashable], gold: set[Hashable]) -> PRF:
    """Compare a predicted set with a gold set of units (e.g. (segment, code) pairs)."""
    tp = len(pred & gold)
    return scores(tp, len(pred) - tp, len(gold) - tp)


def compare(pred: Any, truth: Any) -> PRF:
    """Compare two 0/1 arrays of the same shape (e.g. segments x codes), cell by cell."""
    import numpy as np

    p, t = np.asarray(pred).astype(bool), np.asarray(truth).astype(bool)
    return scores(int((p & t).sum()), int((p & ~t).sum()), int((~p & t).sum()))


def _mean(values: Iterable[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def micro(per_code: Sequence[PRF]) -> PRF:
    """The pooled counts of the codes, scored."""
    return scores(sum(r.tp for r in per_code), sum(r.fp for r in per_code), sum(r.fn for r in per_code))


def macro(per_code: Sequence[PRF]) -> dict[str, Any]:
    """Mean precision, recall and F1 of the codes, each over the codes where it is defined,
    and how many codes each mean covers."""
    return {
        "precision": _mean(r.precision for r in per_code),
        "recall": _mean(r.recall for r in per_code),
        "f1": _mean(r.f1 for r in per_code),
        "codes": len(per_code),
        "codes_with_precision": sum(r.precision is not None for r in per_code),
        "codes_with_recall": sum(r.recall is not None for r in per_code),
    }


def summary(per_code: Mapping[str, PRF], codes: Sequence[str]) -> dict[str, Any]:
    """Micro and macro over ``codes`` (keys of ``per_code``)."""
    chosen = [per_code[c] for c in codes]
    return {"micro": micro(chosen), "macro": macro(chosen)}
