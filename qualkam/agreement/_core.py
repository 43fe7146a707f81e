"""The coefficients on general reliability data (coders x units, any categories, missing data).

Sources of each formula are in docs/agreement.md; the short form is in each docstring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qualkam.agreement._data import Prepared, prepare
from qualkam.agreement._interpret import paradox_warning

COEFFICIENTS = (
    "percent_agreement",
    "cohen_kappa",
    "scott_pi",
    "fleiss_kappa",
    "brennan_prediger",
    "gwet_ac1",
    "krippendorff_alpha",
)
JSON_KEYS = (*COEFFICIENTS, "n_units", "n_coders", "notes")
_EPS = 1e-12  # 1 - pe below this is 0/0, not a number


@dataclass
class AgreementResult:
    """Every coefficient for one set of reliability data; None where it does not apply, with
    the reason in ``notes[name]``. ``as_dict()`` gives the JSON form (issue 4)."""

    percent_agreement: float | None = None
    cohen_kappa: float | None = None
    scott_pi: float | None = None
    fleiss_kappa: float | None = None
    brennan_prediger: float | None = None
    gwet_ac1: float | None = None
    krippendorff_alpha: float | None = None
    n_units: int = 0
    n_coders: int = 0
    notes: dict[str, str] = field(default_factory=dict)
    level: str = "nominal"
    categories: list[Any] = field(default_factory=list)
    n_pairable: int = 0  # units with values from two coders or more
    n_values: int = 0  # pairable values (Krippendorff's n..)
    prevalence: dict[Any, float] = field(default_factory=dict)  # category -> share of all ratings
    paradox: str | None = None
    conger_kappa: float | None = None  # extra: Conger (1980), not among the JSON keys

    def as_dict(self) -> dict[str, Any]:
        """Exactly the documented JSON keys: the coefficients, n_units, n_coders, notes."""
        notes = {name: why for name, why in self.notes.items() if name in COEFFICIENTS}
        return {key: (notes if key == "notes" else getattr(self, key)) for key in JSON_KEYS}


# ---------------------------------------------------------------------------------------------
# Pairs of values within units: the raw material of percent agreement and alpha


@dataclass(frozen=True)
class Pairs:
    """Each unordered pair of values two coders gave one unit."""

    first: np.ndarray
    second: np.ndarray
    unit: np.ndarray
    m: np.ndarray  # values per unit, for every unit

    @property
    def weight(self) -> np.ndarray:
        """Krippendorff's 1/(m_u - 1): each value of a unit is paired with m_u - 1 others."""
        return 1.0 / (self.m[self.unit] - 1)


def pairs_of(prep: Prepared) -> Pairs:
    codes, valid = prep.codes, prep.valid
    firsts, seconds, units = [], [], []
    for a in range(prep.n_coders):
        for b in range(a + 1, prep.n_coders):
            unit = np.nonzero(valid[a] & valid[b])[0]
            firsts.append(codes[a, unit])
            seconds.append(codes[b, unit])
            units.append(unit)
    empty = np.zeros(0, dtype=np.int64)

    def join(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else empty

    return Pairs(join(firsts), join(seconds), join(units), valid.sum(axis=0))


def coincidences(prep: Prepared, pairs: Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Krippendorff's coincidence matrix, sparse: (c, k, o_ck) for its non-empty cells."""
    k_count = len(prep.categories)
    keys = np.concatenate([pairs.first * k_count + pairs.second, pairs.second * k_count + pairs.first])
    weights = np.tile(pairs.weight, 2)
    cells, inverse = np.unique(keys, return_inverse=True)
    return cells // k_count, cells % k_count, np.bincount(inverse, weights=weights)


def pairable_marginals(prep: Prepared) -> np.ndarray:
    """n_c: how many pairable values (in units with two or more) are in each category."""
    pairable = prep.valid.sum(axis=0) >= 2
    return np.bincount(prep.codes[:, pairable][prep.valid[:, pairable]], minlength=len(prep.categories)).astype(float)


def _positions(level: str, n_c: np.ndarray, values: np.ndarray | None) -> np.ndarray:
    """Where each category sits on the line the metric measures: the values themselves
    (interval, ratio) or their cumulative mid-rank frequency (ordinal, Krippendorff 2011).
    Nominal categories sit nowhere: the caller never asks for them."""
    if level == "ordinal":
        return np.cumsum(n_c) - n_c / 2.0
    if level in ("interval", "ratio") and values is not None:
        return values
    raise ValueError(f"no positions for level {level!r} with values {values!r}")


def delta(level: str, c: np.ndarray, k: np.ndarray, n_c: np.ndarray, values: np.ndarray | None) -> np.ndarray:
    """Krippendorff's squared metric differences delta^2_ck for category index arrays c, k.

    nominal: 0 if c = k else 1. ordinal: (sum_{g=c..k} n_g - (n_c + n_k)/2)^2, which equals the
    squared distance between mid-ranks. interval: (c - k)^2. ratio: ((c - k)/(c + k))^2.
    """
    if level == "nominal":
        return (c != k).astype(float)
    x = _positions(level, n_c, values)
    diff = x[c] - x[k]
    if level == "ratio":
        total = x[c] + x[k]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total == 0, 0.0, (diff / np.where(total == 0, 1.0, total)) ** 2)
    return diff**2


def expected_sum(level: str, n_c: np.ndarray, values: np.ndarray | None) -> float:
    """sum_c sum_k n_c n_k delta^2_ck, without building the K x K matrix where a closed form exists."""
    n = n_c.sum()
    if level == "nominal":
        return float(n * n - (n_c**2).sum())
    if level in ("ordinal", "interval"):
        x = _positions(level, n_c, values)
        mean = (n_c * x).sum() / n
        return float(2.0 * n * (n_c * (x - mean) ** 2).sum())
    used = np.nonzero(n_c)[0]
    return _ratio_expected_sum(values[used] if values is not None else used.astype(float), n_c[used])


_BLOCK = 1 << 16  # pairs in one block: 512 kB a buffer, in cache (3 ns a pair here; 8 MB blocks took 12)


def _ratio_expected_sum(x: np.ndarray, w: np.ndarray, block: int = _BLOCK) -> float:
    """sum_c sum_k w_c w_k ((x_c - x_k)/(x_c + x_k))^2 over distinct values x >= 0.

    The ratio metric has no closed form (Krippendorff 2011), so every pair is visited: the
    time is quadratic in the number of distinct values, the memory bounded (blocks of at most
    ``block`` pairs, two buffers). Symmetry halves the work: a block of rows meets itself
    once (both triangles, delta 0 on the diagonal) and the columns after it once, counted
    twice. Distinct values >= 0 never sum to 0 off the diagonal."""
    q = x.size
    side = max(1, math.isqrt(block))
    cells_buffer, sums_buffer = np.empty(block), np.empty(block)
    total = 0.0
    for start in range(0, q, side):
        stop = min(q, start + side)
        a, wa = x[start:stop, None], w[start:stop]
        own = delta("ratio", np.arange(start, stop)[:, None], np.arange(start, stop)[None, :], w, x)
        total += float(wa @ (own @ wa))
        width = max(1, block // (stop - start))
        for left in range(stop, q, width):
            right = min(q, left + width)
            b = x[None, left:right]
            shape = (stop - start, right - left)
            cells = cells_buffer[: shape[0] * shape[1]].reshape(shape)
            sums = sums_buffer[: shape[0] * shape[1]].reshape(shape)
            np.subtract(a, b, out=cells)
            np.add(a, b, out=sums)
            np.divide(cells, sums, out=cells)
            np.square(cells, out=cells)
            total += 2.0 * float(wa @ (cells @ w[left:right]))
    return total


def alpha_from(
    level: str, cells: tuple[np.ndarray, np.ndarray, np.ndarray], n_c: np.ndarray, values: np.ndarray | None
) -> float | None:
    """alpha = 1 - D_o / D_e = 1 - (n - 1) sum o_ck d_ck / sum n_c n_k d_ck; None when D_e = 0."""
    c, k, o = cells
    n = n_c.sum()
    expected = expected_sum(level, n_c, values)
    if n < 2 or expected <= _EPS * max(1.0, n * n):
        return None
    observed = float((o * delta(level, c, k, n_c, values)).sum())
    return float(1.0 - (n - 1.0) * observed / expected)


# ---------------------------------------------------------------------------------------------


def chance_corrected(pa: float, pe: float) -> float | None:
    """(p_a - p_e) / (1 - p_e), or None when chance agreement is 1 (0/0)."""
    if 1.0 - pe <= _EPS:
        return None
    return (pa - pe) / (1.0 - pe)


def _only(prep: Prepared, counts: np.ndarray) -> str:
    used = np.flatnonzero(counts)
    return repr(prep.categories[used[0]]) if used.size == 1 else "one category"


def coefficients(ratings: Any, level: str = "nominal", categories: Sequence[Any] | None = None) -> AgreementResult:
    """Every agreement coefficient for ``ratings`` (coders x units; None/NaN missing).

    - percent agreement: the mean, over units with two values or more, of the share of
      agreeing pairs of values in the unit (the p_a of Gwet 2014 and irrCAC).
    - Cohen's kappa (Cohen 1960) and Scott's pi (Scott 1955): exactly two coders, on the units
      both rated; for more coders both are None, and Fleiss' kappa is Scott's pi generalised.
    - Fleiss' kappa (Fleiss 1971) with Gwet's (2014) treatment of missing ratings: p_a over
      units with two ratings or more, category shares pi_k averaged over units rated at all.
    - Brennan & Prediger (1981): chance agreement 1/q, q = number of categories
      (``categories`` when given, else the categories seen).
    - Gwet's AC1 (Gwet 2008, 2014): chance agreement sum_k pi_k (1 - pi_k) / (q - 1).
    - Krippendorff's alpha (Krippendorff 2011) at ``level`` nominal, ordinal, interval or
      ratio; units with fewer than two values drop out.

    The kappa family, percent agreement and AC1 always treat the values as nominal categories;
    only alpha uses the level. Undefined coefficients are None with the reason in ``notes``.
    """
    return _coefficients(prepare(ratings, level, categories))


def _coefficients(prep: Prepared) -> AgreementResult:
    result = AgreementResult(
        n_units=prep.n_units, n_coders=prep.n_coders, level=prep.level, categories=list(prep.categories)
    )
    valid, codes = prep.valid, prep.codes
    q = len(prep.categories)
    m = valid.sum(axis=0)
    pairable = m >= 2
    result.n_pairable = int(pairable.sum())
    result.n_values = int(m[pairable].sum())
    counts = np.bincount(codes[valid], minlength=q).astype(float)
    rated = counts.sum()  # once: summing it for each category made this quadratic (issue 14)
    if rated > 0:
        result.prevalence = dict(zip(prep.categories, (counts / rated).tolist(), strict=True))
        result.paradox = paradox_warning(list(result.prevalence.values())) if q >= 2 else None
    if prep.n_coders < 2:
        return _none_all(result, f"needs two coders or more; the data have {prep.n_coders}")
    if result.n_pairable == 0:
        return _none_all(result, "no unit has values from two coders or more (nothing to compare)")
    notes = result.notes

    pairs = pairs_of(prep)
    agree = np.bincount(pairs.unit[pairs.first == pairs.second], minlength=prep.n_units) * 2.0
    pa_unit = agree[pairable] / (m[pairable] * (m[pairable] - 1.0))
    pa = float(pa_unit.mean())
    result.percent_agreement = pa

    # Fleiss, AC1 and Brennan-Prediger share p_a; pi_k averages n_uk / m_u over rated units.
    units_of_values = np.nonzero(valid)[1]
    pi = np.bincount(codes[valid], weights=1.0 / m[units_of_values], minlength=q) / (m >= 1).sum()
    single = f"every rating is {_only(prep, counts)}"
    result.fleiss_kappa = chance_corrected(pa, float((pi**2).sum()))
    if result.fleiss_kappa is None:
        notes["fleiss_kappa"] = f"{single}: chance agreement is 1 and kappa is 0/0; see percent agreement and AC1"
    if q < 2:
        why = f"only one category ({_only(prep, counts)}); pass the full set of categories (--categories)"
        notes["brennan_prediger"] = notes["gwet_ac1"] = why
    else:
        result.brennan_prediger = chance_corrected(pa, 1.0 / q)
        result.gwet_ac1 = chance_corrected(pa, float((pi * (1.0 - pi)).sum() / (q - 1)))

    result.conger_kappa = _conger(prep, pa)
    if result.conger_kappa is None:
        notes["conger_kappa"] = f"{single}: chance agreement is 1 and kappa is 0/0"
    if prep.n_coders == 2:
        _two_coders(prep, result)
    else:
        notes["cohen_kappa"] = (
            f"Cohen's kappa is for exactly two coders; the data have {prep.n_coders} (see fleiss_kappa)"
        )
        notes["scott_pi"] = (
            f"Scott's pi is for exactly two coders; the data have {prep.n_coders} (fleiss_kappa generalises it)"
        )

    n_c = pairable_marginals(prep)
    result.krippendorff_alpha = alpha_from(prep.level, coincidences(prep, pairs), n_c, prep.values)
    if result.krippendorff_alpha is None:
        notes["krippendorff_alpha"] = (
            f"no variation: every pairable value is {_only(prep, n_c)}, so expected "
            "disagreement is 0 and alpha is 0/0 (Krippendorff 2011)"
        )
    return _finite(result)


def _finite(result: AgreementResult) -> AgreementResult:
    """No coefficient is NaN or infinite (JSON has no such numbers): one that came out so is
    None, with the reason (issue 11)."""
    for name in (*COEFFICIENTS, "conger_kappa"):
        value = getattr(result, name)
        if value is not None and not np.isfinite(value):
            setattr(result, name, None)
            result.notes[name] = (
                f"could not be computed in double precision (the arithmetic gave {value}); "
                "check the values for extreme magnitudes"
            )
    return result


def _conger(prep: Prepared, pa: float) -> float | None:
    """Conger's (1980) kappa in Gwet's (2014) form for missing data (irrCAC conger.kappa.raw):
    p_gk = share of coder g's ratings in category k; chance agreement
    sum_k (mean_g p_gk)^2 - s^2_k / r, s^2_k the variance of p_gk over the r coders."""
    q = len(prep.categories)
    rated = prep.valid.any(axis=1)
    shares = np.stack([np.bincount(row[row >= 0], minlength=q) for row in prep.codes[rated]]).astype(float)
    shares /= shares.sum(axis=1, keepdims=True)
    r = shares.shape[0]
    if r < 2:
        return None
    mean = shares.mean(axis=0)
    return chance_corrected(pa, float((mean**2 - shares.var(axis=0, ddof=1) / r).sum()))


def _two_coders(prep: Prepared, result: AgreementResult) -> None:
    """Cohen's kappa and Scott's pi on the units both coders rated (listwise deletion)."""
    q = len(prep.categories)
    both = prep.valid[0] & prep.valid[1]
    a, b = prep.codes[0, both], prep.codes[1, both]
    n = both.sum()
    po = float((a == b).mean())
    p_a = np.bincount(a, minlength=q) / n
    p_b = np.bincount(b, minlength=q) / n
    result.cohen_kappa = chance_corrected(po, float((p_a * p_b).sum()))
    result.scott_pi = chance_corrected(po, float((((p_a + p_b) / 2.0) ** 2).sum()))
    for name in ("cohen_kappa", "scott_pi"):
        if getattr(result, name) is None:
            result.notes[name] = (
                "both coders put every unit they share in one category: chance agreement "
                "is 1 and the coefficient is 0/0; see percent agreement and AC1"
            )


def _none_all(result: AgreementResult, reason: str) -> AgreementResult:
    for name in (*COEFFICIENTS, "conger_kappa"):
        result.notes[name] = reason
    return result
