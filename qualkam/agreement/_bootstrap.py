"""Bootstrap intervals for alpha and kappa, reproducible with a seed.

alpha: Hayes, A. F. & Krippendorff, K. (2007). Answering the call for a standard reliability
measure for coding data. Communication Methods and Measures 1(1):77-89, and Krippendorff's
"Algorithm for bootstrapping a distribution of alpha" (2006, rev. 2011). Expected
disagreement D_e stays that of the data; each replicate draws M pairs of values (M = the
number of pairable pairs, 239 in their Table 1) from the observed coincidences o_ck / n..
and computes alpha* = 1 - mean(delta^2 of the drawn pairs) / D_e.

Gwet (2015, "Standard error of Krippendorff's alpha", inter-rater-reliability blog) objects
that this ignores how pairs cluster in units, so its intervals are narrow. ``alpha_method=
"units"`` resamples units instead (Efron & Tibshirani 1993), recomputing D_o and D_e in each
replicate. Kappa intervals always resample units: kappa's chance term rests on each coder's
own category shares, which pairs drawn from a pooled coincidence matrix no longer carry.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qualkam.agreement._core import (
    _coefficients,
    alpha_from,
    chance_corrected,
    coincidences,
    delta,
    expected_sum,
    pairable_marginals,
    pairs_of,
)
from qualkam.agreement._data import Prepared, prepare
from qualkam.errors import QualkamError

ALPHA_METHODS = ("coincidences", "units")
_CHUNK = 100  # replicates per block of unit weights: 100 x units floats at a time


@dataclass
class BootstrapResult:
    """Point estimates, percentile intervals and p(alpha < minimum); None with a note where
    a coefficient is undefined. ``as_dict()`` is the JSON form."""

    alpha: float | None
    alpha_low: float | None
    alpha_high: float | None
    p_alpha_below_minimum: float | None
    minimum: float
    kappa_name: str | None  # cohen_kappa (two coders) or fleiss_kappa
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None
    replicates: int
    seed: int
    confidence: float
    alpha_method: str
    draws: int  # pairs drawn per alpha replicate (coincidences) or units per replicate (units)
    notes: dict[str, str] = field(default_factory=dict)
    alpha_replicates: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    kappa_replicates: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "replicates": self.replicates,
            "seed": self.seed,
            "confidence": self.confidence,
            "alpha_method": self.alpha_method,
            "alpha_ci": _pair(self.alpha_low, self.alpha_high),
            "minimum": self.minimum,
            "p_alpha_below_minimum": self.p_alpha_below_minimum,
            "kappa": self.kappa_name,
            "kappa_ci": _pair(self.kappa_low, self.kappa_high),
            "notes": dict(self.notes),
        }


def _pair(low: float | None, high: float | None) -> list[float] | None:
    return None if low is None or high is None else [low, high]


def check_bootstrap_args(replicates: int, minimum: float, alpha_method: str, confidence: float) -> None:
    if replicates < 1:
        raise QualkamError(
            f"{{argument}} needs at least 1 replicate, got {replicates}; 1000 is usual", argument="replicates"
        )
    if alpha_method not in ALPHA_METHODS:
        raise QualkamError(f"unknown alpha bootstrap method {alpha_method!r}; use {', '.join(ALPHA_METHODS)}")
    if not 0.0 < confidence < 1.0:
        raise QualkamError(f"confidence must be between 0 and 1, got {confidence}")
    if not -1.0 <= minimum <= 1.0:
        raise QualkamError(f"{{argument}} must be an alpha between -1 and 1, got {minimum}", argument="minimum")


def unit_weights(rng: np.random.Generator, n_units: int, replicates: int, chunk: int = _CHUNK) -> Iterator[np.ndarray]:
    """Blocks of bootstrap weights: row r counts how often each unit is drawn in replicate r
    (units drawn with replacement, as many as there are), i.e. multinomial(U, 1/U) weights."""
    for start in range(0, replicates, chunk):
        rows = min(chunk, replicates - start)
        drawn = rng.integers(0, n_units, size=(rows, n_units)) + (np.arange(rows) * n_units)[:, None]
        yield np.bincount(drawn.ravel(), minlength=rows * n_units).reshape(rows, n_units).astype(float)


def interval(samples: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """Percentile interval over the defined replicates (axis 0)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None, None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def bootstrap(
    ratings: Any,
    level: str = "nominal",
    replicates: int = 1000,
    seed: int = 0,
    minimum: float = 0.667,
    categories: Sequence[Any] | None = None,
    alpha_method: str = "coincidences",
    confidence: float = 0.95,
) -> BootstrapResult:
    """95% percentile intervals for Krippendorff's alpha and for kappa (Cohen's for two
    coders, else Fleiss'), and q = p(alpha < minimum), the probability of failing to reach the
    minimum acceptable alpha (Hayes & Krippendorff 2007, p. 85). The same seed gives the same
    result; alpha and kappa draw from separate streams of it."""
    check_bootstrap_args(replicates, minimum, alpha_method, confidence)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise QualkamError(f"{{argument}} must be a whole number, 0 or more; got {seed!r}", argument="seed")
    prep = prepare(ratings, level, categories)
    point = _coefficients(prep)
    kappa_name = "cohen_kappa" if prep.n_coders == 2 else "fleiss_kappa"
    alpha_stream, kappa_stream = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    notes: dict[str, str] = {}
    result = BootstrapResult(
        point.krippendorff_alpha,
        None,
        None,
        None,
        minimum,
        kappa_name,
        getattr(point, kappa_name),
        None,
        None,
        replicates,
        seed,
        confidence,
        alpha_method,
        0,
        notes,
    )
    if result.alpha is None:
        notes["krippendorff_alpha"] = point.notes["krippendorff_alpha"]
    else:
        if alpha_method == "coincidences":
            result.alpha_replicates, result.draws = _alpha_coincidences(prep, alpha_stream, replicates)
        else:
            result.alpha_replicates = _alpha_units(prep, alpha_stream, replicates)
            result.draws = prep.n_units
        result.alpha_low, result.alpha_high = interval(result.alpha_replicates, confidence)
        defined = result.alpha_replicates[np.isfinite(result.alpha_replicates)]
        result.p_alpha_below_minimum = float((defined < minimum).mean()) if defined.size else None
        _note_undefined(notes, "krippendorff_alpha", result.alpha_replicates)
    if result.kappa is None:
        notes["kappa"] = point.notes.get(kappa_name, "kappa is undefined for these data")
    else:
        result.kappa_replicates = _kappa_units(prep, kappa_stream, replicates)
        result.kappa_low, result.kappa_high = interval(result.kappa_replicates, confidence)
        _note_undefined(notes, "kappa", result.kappa_replicates)
    return result


def _note_undefined(notes: dict[str, str], name: str, samples: np.ndarray) -> None:
    undefined = int((~np.isfinite(samples)).sum())
    if undefined:
        notes[name] = (
            f"{undefined} of {samples.size} replicates had no variation (coefficient 0/0) and are left "
            "out of the interval"
        )


def _alpha_coincidences(prep: Prepared, rng: np.random.Generator, replicates: int) -> tuple[np.ndarray, int]:
    """Hayes & Krippendorff (2007): multinomial draws of M pairs from the coincidence cells."""
    pairs = pairs_of(prep)
    c, k, o = coincidences(prep, pairs)
    n_c = pairable_marginals(prep)
    n = n_c.sum()
    draws = int(pairs.unit.size)  # the number of pairable pairs, sum_u m_u (m_u - 1) / 2
    expected = expected_sum(prep.level, n_c, prep.values) / (n * (n - 1.0))
    counts = rng.multinomial(draws, o / o.sum(), size=replicates)
    observed = counts @ delta(prep.level, c, k, n_c, prep.values) / draws
    return 1.0 - observed / expected, draws


def _alpha_units(prep: Prepared, rng: np.random.Generator, replicates: int) -> np.ndarray:
    """alpha recomputed on units drawn with replacement (weights on each unit's pairs)."""
    pairs = pairs_of(prep)
    k_count = len(prep.categories)
    keys = np.concatenate([pairs.first * k_count + pairs.second, pairs.second * k_count + pairs.first])
    cells, inverse = np.unique(keys, return_inverse=True)
    pair_units = np.tile(pairs.unit, 2)
    pair_weights = np.tile(pairs.weight, 2)
    pairable = prep.valid.sum(axis=0) >= 2
    value_units = np.nonzero(prep.valid & pairable[None, :])[1]
    value_codes = prep.codes[prep.valid & pairable[None, :]]
    cell_c, cell_k = cells // k_count, cells % k_count
    out = np.empty(replicates)
    row = 0
    for block in unit_weights(rng, prep.n_units, replicates):
        for w in block:
            o = np.bincount(inverse, weights=w[pair_units] * pair_weights, minlength=cells.size)
            n_c = np.bincount(value_codes, weights=w[value_units], minlength=k_count)
            value = alpha_from(prep.level, (cell_c, cell_k, o), n_c, prep.values)
            out[row] = np.nan if value is None else value
            row += 1
    return out


def _kappa_units(prep: Prepared, rng: np.random.Generator, replicates: int) -> np.ndarray:
    """Cohen's kappa (two coders) or Fleiss' kappa (Gwet's missing-data form) on resampled units."""
    q = len(prep.categories)
    valid, codes = prep.valid, prep.codes
    out = np.empty(replicates)
    row = 0
    if prep.n_coders == 2:
        both = valid[0] & valid[1]
        a, b = codes[0, both], codes[1, both]
        same = (a == b).astype(float)
        for block in unit_weights(rng, prep.n_units, replicates):
            for w in block[:, both]:
                n = w.sum()
                value = None
                if n > 0:
                    p_a = np.bincount(a, weights=w, minlength=q) / n
                    p_b = np.bincount(b, weights=w, minlength=q) / n
                    value = chance_corrected(float(w @ same) / n, float(p_a @ p_b))
                out[row] = np.nan if value is None else value
                row += 1
        return out
    m = valid.sum(axis=0).astype(float)
    pairable = m >= 2
    pairs = pairs_of(prep)
    agree = np.bincount(pairs.unit[pairs.first == pairs.second], minlength=prep.n_units) * 2.0
    pa_unit = np.where(pairable, agree / np.where(pairable, m * (m - 1.0), 1.0), 0.0)
    value_units = np.nonzero(valid)[1]
    value_codes = codes[valid]
    value_share = 1.0 / m[value_units]
    for block in unit_weights(rng, prep.n_units, replicates):
        n_pairable = block @ pairable
        pa = (block @ pa_unit) / np.where(n_pairable > 0, n_pairable, 1.0)
        n_rated = block @ (m >= 1)
        for r, w in enumerate(block):
            value = None
            if n_pairable[r] > 0:
                pi = np.bincount(value_codes, weights=w[value_units] * value_share, minlength=q) / n_rated[r]
                value = chance_corrected(float(pa[r]), float(pi @ pi))
            out[row] = np.nan if value is None else value
            row += 1
    return out
