"""Krippendorff's alpha over set-valued data: the codes each coder gave a unit, compared as sets.

Each distinct set of codes is one value; the difference between two values is a set distance,
used as delta in alpha's coincidence form (Krippendorff 2011), as Passonneau (2006) did:
alpha = 1 - (n - 1) sum_ck o_ck d(c, k) / sum_ck n_c n_k d(c, k).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from qualkam.agreement._core import Pairs, coincidences, pairs_of
from qualkam.agreement._data import Prepared
from qualkam.errors import QualkamError

DISTANCES = ("masi", "jaccard")


def jaccard_distance(a: frozenset, b: frozenset) -> float:
    """1 - |A n B| / |A u B|; two empty sets are identical (distance 0)."""
    if a == b:
        return 0.0
    return 1.0 - len(a & b) / len(a | b)


def masi_distance(a: frozenset, b: frozenset) -> float:
    """1 - MASI, MASI = Jaccard x monotonicity (Passonneau 2006, "Measuring agreement on
    set-valued items (MASI) for semantic and pragmatic annotation", LREC): monotonicity is 1
    for equal sets, 2/3 when one contains the other, 1/3 when they only overlap, 0 if disjoint."""
    if a == b:
        return 0.0
    if a <= b or b <= a:
        monotonicity = 2.0 / 3.0
    elif a & b:
        monotonicity = 1.0 / 3.0
    else:
        return 1.0
    return 1.0 - (len(a & b) / len(a | b)) * monotonicity


def set_alpha(sets: Any, distance: str = "masi") -> float | None:
    """Krippendorff's alpha over the set of codes each coder gave each unit.

    ``sets`` is coders x units (list of lists or array); each cell a set of code ids
    (``frozenset()`` for a unit the coder saw and gave no code) or None where the coder did not
    rate the unit. ``distance`` is ``masi`` (partial credit for overlapping sets, more when one
    contains the other) or ``jaccard``. None when no unit has two sets or every set is the same.
    """
    if distance not in DISTANCES:
        raise QualkamError(f"unknown set distance {distance!r}; use {', '.join(DISTANCES)}")
    rows = [list(row) for row in sets]
    if len({len(row) for row in rows}) > 1:
        raise QualkamError("sets must be coders x units: every coder needs a cell (None if missing) for every unit")
    values: dict[frozenset, int] = {}
    codes = np.full((len(rows), len(rows[0]) if rows else 0), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            if cell is None:
                continue
            if isinstance(cell, str) or not isinstance(cell, Iterable):
                raise QualkamError(
                    f"coder {i}, unit {j}: {cell!r} is not a set of codes; use frozenset({{...}}) or None"
                )
            codes[i, j] = values.setdefault(frozenset(cell), len(values))
    prep = Prepared(codes, list(values), None, "nominal")
    return _alpha_with(prep, list(values), masi_distance if distance == "masi" else jaccard_distance)


def _alpha_with(prep: Prepared, items: list[frozenset], metric: Any) -> float | None:
    pairs: Pairs = pairs_of(prep)
    if pairs.unit.size == 0:
        return None
    c, k, o = coincidences(prep, pairs)
    pairable = prep.valid.sum(axis=0) >= 2
    n_c = np.bincount(prep.codes[:, pairable][prep.valid[:, pairable]], minlength=len(items)).astype(float)
    used = np.nonzero(n_c)[0]
    d = _distances([items[i] for i in used], metric)
    expected = float(n_c[used] @ d @ n_c[used])
    if expected <= 1e-12:
        return None
    index = {v: i for i, v in enumerate(used)}
    observed = float(sum(weight * d[index[a], index[b]] for a, b, weight in zip(c, k, o, strict=True)))
    return 1.0 - (n_c.sum() - 1.0) * observed / expected


def _distances(sets: list[frozenset], metric: Any) -> np.ndarray:
    """The matrix of ``metric`` between every two of ``sets``; MASI and Jaccard from set sizes
    and intersections counted in one pass over the elements (the same operations on the same
    numbers, so the same floats as the functions above: a long codebook's thousand distinct
    sets were a million calls)."""
    if metric not in (masi_distance, jaccard_distance) or not sets:
        return np.array([[metric(a, b) for b in sets] for a in sets])
    holders: dict[Any, list[int]] = {}  # element -> the sets that hold it
    for row, items in enumerate(sets):
        for item in items:
            holders.setdefault(item, []).append(row)
    n = len(sets)
    size = np.array([len(items) for items in sets], dtype=float)
    # Every two sets that share an element count it once: pairs per element, few for codes.
    first = [np.repeat(rows, len(rows)) for rows in map(np.asarray, holders.values())]
    second = [np.tile(rows, len(rows)) for rows in map(np.asarray, holders.values())]
    cells = np.concatenate(first) * n + np.concatenate(second) if holders else np.zeros(0, dtype=np.int64)
    shared = np.bincount(cells, minlength=n * n).reshape(n, n).astype(float)  # whole numbers, exact
    union = size[:, None] + size[None, :] - shared
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = np.where(union > 0, shared / np.where(union > 0, union, 1.0), 1.0)
    same = (shared == size[:, None]) & (shared == size[None, :])
    if metric is jaccard_distance:
        return np.where(same, 0.0, 1.0 - jaccard)
    nested = (shared == size[:, None]) | (shared == size[None, :])
    monotonicity = np.where(nested, 2.0 / 3.0, np.where(shared > 0, 1.0 / 3.0, 0.0))
    return np.where(same, 0.0, np.where(nested | (shared > 0), 1.0 - jaccard * monotonicity, 1.0))
