"""The fast paths of the agreement engine (issue 14) against a straightforward reference.

The reference follows Krippendorff (2011) literally: a dense coincidence matrix built unit by
unit, pair by pair; the metric delta^2_ck written out for every pair of categories; the
expected disagreement as a double loop. The engine's sparse cells, closed forms and blocked
ratio sum must give the same alpha (to rounding) at every level, and the same prevalence.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qualkam.agreement import _core, coefficients
from qualkam.agreement._data import prepare


def _metric(level: str, a: float, b: float, rank: dict[float, float]) -> float:
    if level == "nominal":
        return 0.0 if a == b else 1.0
    if level == "ordinal":
        return (rank[a] - rank[b]) ** 2
    if level == "interval":
        return (a - b) ** 2
    return 0.0 if a + b == 0 else ((a - b) / (a + b)) ** 2


def reference_alpha(ratings: np.ndarray, level: str) -> float | None:
    """Krippendorff's alpha from its definition, in plain Python."""
    values = sorted({float(v) for v in ratings.ravel() if v == v})
    o = {(c, k): 0.0 for c in values for k in values}
    for unit in ratings.T:
        present = [float(v) for v in unit if v == v]
        if len(present) < 2:
            continue
        for i, j in itertools.permutations(range(len(present)), 2):
            o[present[i], present[j]] += 1.0 / (len(present) - 1)
    n_c = {c: sum(o[c, k] for k in values) for c in values}
    n = sum(n_c.values())
    rank, below = {}, 0.0
    for c in values:  # mid-rank of each category among the pairable values
        rank[c] = below + n_c[c] / 2.0
        below += n_c[c]
    observed = sum(o[c, k] * _metric(level, c, k, rank) for c in values for k in values)
    expected = sum(n_c[c] * n_c[k] * _metric(level, c, k, rank) for c in values for k in values)
    if n < 2 or expected <= 1e-12 * max(1.0, n * n):
        return None
    return 1.0 - (n - 1.0) * observed / expected


def ratings_data(data: st.DataObject) -> np.ndarray:
    draw = data.draw
    coders = draw(st.integers(2, 4))
    units = draw(st.integers(1, 25))
    pool = draw(st.lists(st.floats(0.0, 50.0, allow_nan=False).map(lambda v: round(v, 1)), min_size=1, max_size=12))
    cells = draw(
        st.lists(st.one_of(st.none(), st.sampled_from(pool)), min_size=coders * units, max_size=coders * units)
    )
    return np.array([np.nan if v is None else v for v in cells], dtype=float).reshape(coders, units)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), level=st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_alpha_and_prevalence_match_the_reference(data: st.DataObject, level: str) -> None:
    ratings = ratings_data(data)
    result = coefficients(ratings, level=level)
    expected = reference_alpha(ratings, level)
    if expected is None:
        assert result.krippendorff_alpha is None
    else:
        assert result.krippendorff_alpha == pytest.approx(expected, rel=1e-9, abs=1e-9)
    seen = [float(v) for v in ratings.ravel() if v == v]
    if seen:
        assert sum(result.prevalence.values()) == pytest.approx(1.0)
        for category, share in result.prevalence.items():
            assert share == pytest.approx(seen.count(float(category)) / len(seen), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(0.0, 1e6, allow_nan=False), min_size=1, max_size=60, unique=True),
    block=st.sampled_from([1, 4, 9, 16, 1 << 16]),
    data=st.data(),
)
def test_ratio_expected_sum_in_any_block_size(values: list[float], block: int, data: st.DataObject) -> None:
    """Blocks of any shape visit every pair once: the same sum as the double loop."""
    weights = data.draw(st.lists(st.integers(1, 9), min_size=len(values), max_size=len(values)))
    got = _core._ratio_expected_sum(np.array(values), np.array(weights, dtype=float), block)
    pairs = itertools.product(zip(values, weights, strict=True), repeat=2)
    want = sum(wa * wb * _metric("ratio", a, b, {}) for (a, wa), (b, wb) in pairs)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_many_distinct_values_give_alpha_and_every_prevalence() -> None:
    """100,000 units of continuous values (about 280,000 distinct): interval alpha and the
    prevalence of every value (the speed is measured by bench/agreement.py, not here; the
    quadratic version took 27 s on this size)."""
    rng = np.random.default_rng(0)
    truth = rng.gamma(2.0, 10.0, 100_000)
    ratings = truth[None, :] + rng.normal(0, 2, (3, truth.size))
    result = coefficients(ratings, level="interval")
    assert sum(result.prevalence.values()) == pytest.approx(1.0)
    assert len(result.prevalence) == len(prepare(ratings, "interval").categories) > 250_000
    assert result.krippendorff_alpha is not None and 0.95 < result.krippendorff_alpha < 1.0
