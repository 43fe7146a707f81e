"""The fast path for qualkam's main case: the presence (1) or absence (0) of each code in each
unit, for every code at once.

With two categories every unit's coincidence matrix is 2 x 2 and fixed by two counts (n1
coders said present, m coders rated it), so every coefficient is a sum over units of a few
per-unit terms: one pass of numpy over a codes x units array serves all codes. Bootstrap
replicates that resample units are weight vectors, so all replicates and codes are one
matrix product of unit weights with per-unit terms; Hayes & Krippendorff's replicates of
binary alpha are binomial draws of disagreeing pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from qualkam.agreement._bootstrap import check_bootstrap_args, unit_weights
from qualkam.agreement._interpret import interpret_alpha, interpret_kappa, paradox_warning
from qualkam.errors import QualkamError

_EPS = 1e-12
_TWO_CODERS = "Cohen's kappa and Scott's pi are for exactly two coders; the data have {n} (see fleiss_kappa)"


def _chance_corrected(pa: np.ndarray, pe: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(1.0 - pe > _EPS, (pa - pe) / np.where(1.0 - pe > _EPS, 1.0 - pe, 1.0), np.nan)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _check(presence: np.ndarray, codes: Sequence[str]) -> np.ndarray:
    x = np.asarray(presence, dtype=float)
    if x.ndim != 3:
        raise QualkamError(f"presence must be codes x coders x units (3 dimensions), not {x.ndim}")
    if x.shape[0] != len(codes):
        raise QualkamError(f"presence has {x.shape[0]} codes but {len(codes)} code names were given")
    bad = ~np.isnan(x) & (x != 0) & (x != 1)
    if bad.any():
        code, coder, unit = (int(i[0]) for i in np.nonzero(bad))
        raise QualkamError(
            f"presence must be 0, 1 or NaN; code {codes[code]!r}, coder {coder}, unit {unit} "
            f"is {x[code, coder, unit]!r}"
        )
    return x


def per_code(
    presence: np.ndarray,
    codes: Sequence[str],
    replicates: int = 0,
    seed: int = 0,
    minimum: float = 0.667,
    alpha_method: str = "coincidences",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per code: every coefficient of :func:`qualkam.agreement.coefficients` (same
    definitions, categories 0 and 1 so q = 2), n_units (rated by anyone), n_pairable (rated by
    two or more), n_disagree (pairable units where the coders differ), prevalence (share of 1s
    among all ratings), interpretations, the kappa-paradox warning and, in ``notes``, why a
    coefficient is missing (NaN). With ``replicates`` > 0: alpha_low, alpha_high,
    p_alpha_below_minimum, kappa_low, kappa_high (Cohen for two coders, else Fleiss), as
    :func:`qualkam.agreement.bootstrap` computes them.

    ``presence``: codes x coders x units of 0/1, NaN where a coder did not rate a unit.
    """
    x = _check(presence, codes)
    n_codes, n_coders, n_units = x.shape
    with_alpha = replicates > 0 and alpha_method == "units"
    # A block of codes at a time: the same numbers (each code's sums are its own row's), but
    # arrays of megabytes instead of codes x coders x units ones (2,000 codes x 4,000
    # units made hundreds of megabytes, and the time went to the kernel mapping them).
    blocks = [_block(x[i : i + _BLOCK], replicates > 0, with_alpha) for i in range(0, n_codes, _BLOCK)]
    v = {key: np.concatenate([blk[key] for blk in blocks]) if blocks else np.zeros(0) for key in _VECTORS}
    prevalence, alpha = v["prevalence"], v["alpha"]
    kappa = v["cohen"] if n_coders == 2 else v["fleiss"]
    frame = pd.DataFrame(
        {
            "code": list(codes),
            "n_units": v["n_rated"].astype(int),
            "n_pairable": v["n_pairable"].astype(int),
            "n_disagree": v["n_disagree"].astype(int),
            "prevalence": prevalence,
            "percent_agreement": v["percent"],
            "cohen_kappa": v["cohen"],
            "scott_pi": v["scott"],
            "fleiss_kappa": v["fleiss"],
            "brennan_prediger": v["bp"],
            "gwet_ac1": v["ac1"],
            "krippendorff_alpha": alpha,
            "alpha_interpretation": [interpret_alpha(a) for a in alpha],
            "kappa_interpretation": [interpret_kappa(k) for k in kappa],
            "paradox_warning": [paradox_warning(p) if p == p else None for p in prevalence],
        }
    )
    frame["notes"] = [_notes(frame.iloc[i], n_coders) for i in range(n_codes)]
    if replicates > 0:
        check_bootstrap_args(replicates, minimum, alpha_method, confidence)
        alpha_stream, kappa_stream = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
        tail = (1.0 - confidence) / 2.0
        if alpha_method == "coincidences":
            draws, n_values, o01 = v["draws"].astype(np.int64), v["n_values"], v["o01"]
            zeros_paired, ones_paired = v["zeros_paired"], v["ones_paired"]
            p_disagree = _ratio(2.0 * o01, n_values)
            expected = _ratio(2.0 * zeros_paired * ones_paired, n_values * (n_values - 1.0))
            defined = ~np.isnan(alpha)
            disagree = np.zeros((n_codes, replicates))
            disagree[defined] = alpha_stream.binomial(
                draws[defined, None], p_disagree[defined, None], size=(int(defined.sum()), replicates)
            )
            alpha_reps = np.full((n_codes, replicates), np.nan)
            alpha_reps[defined] = 1.0 - disagree[defined] / draws[defined, None] / expected[defined, None]
        else:
            alpha_reps = None
        kappa_reps, units_alpha = _unit_replicates(
            [blk["sums"] for blk in blocks], n_coders, n_units, n_codes, kappa_stream, replicates, with_alpha
        )
        if alpha_reps is None:
            assert units_alpha is not None, "asked for with_alpha"
            alpha_reps = units_alpha
        _add_interval(frame, "alpha", alpha_reps, tail)
        with np.errstate(invalid="ignore"):
            below = np.where(np.isfinite(alpha_reps), alpha_reps < minimum, np.nan)
        frame["p_alpha_below_minimum"] = [float(np.nanmean(r)) if np.isfinite(r).any() else np.nan for r in below]
        _add_interval(frame, "kappa", kappa_reps, tail)
    return frame


_BLOCK = 256  # codes per block: 256 x 2 coders x 4,000 units is 16 MB an array (fewer blocks cost more calls)
_VECTORS = (
    "n_rated", "n_pairable", "n_disagree", "prevalence", "percent", "cohen", "scott", "fleiss", "bp", "ac1",
    "alpha", "draws", "n_values", "o01", "zeros_paired", "ones_paired",
)  # fmt: skip


def _block(x: np.ndarray, bootstrap: bool, with_alpha: bool) -> dict[str, Any]:
    """Per-code figures of a block of codes (codes x coders x units), and, for a bootstrap,
    the function giving the unit-weighted sums of its per-unit terms."""
    n_codes, n_coders, n_units = x.shape
    valid = ~np.isnan(x)
    ones = np.where(valid, x, 0.0)
    n1 = ones.sum(axis=1)  # codes x units
    m = valid.sum(axis=1).astype(float)
    n0 = m - n1
    pairable = m >= 2
    rated = m >= 1
    m_minus_1 = np.where(pairable, m - 1.0, 1.0)
    n_pairable = pairable.sum(axis=1)
    n_rated = rated.sum(axis=1)

    pa_unit = np.where(pairable, (n1 * (n1 - 1.0) + n0 * (n0 - 1.0)) / (np.maximum(m, 1.0) * m_minus_1), 0.0)
    percent = _ratio(pa_unit.sum(axis=1), n_pairable)
    share_unit = np.where(rated, n1 / np.where(rated, m, 1.0), 0.0)
    pi1 = _ratio(share_unit.sum(axis=1), n_rated)
    fleiss = _chance_corrected(percent, pi1**2 + (1.0 - pi1) ** 2)
    ac1 = _chance_corrected(percent, 2.0 * pi1 * (1.0 - pi1))  # q = 2: sum pi(1-pi)/(q-1)
    bp = _chance_corrected(percent, np.full(n_codes, 0.5))

    n_values = (m * pairable).sum(axis=1)
    ones_paired = (n1 * pairable).sum(axis=1)
    zeros_paired = n_values - ones_paired
    o01_unit = np.where(pairable, n0 * n1 / m_minus_1, 0.0)
    o01 = o01_unit.sum(axis=1)
    # binary alpha = 1 - (n.. - 1) o_01 / (n_0 n_1)   (Krippendorff 2011, section A)
    alpha = np.where(
        zeros_paired * ones_paired > 0,
        1.0 - (n_values - 1.0) * o01 / np.where(zeros_paired * ones_paired > 0, zeros_paired * ones_paired, 1.0),
        np.nan,
    )

    cohen = scott = np.full(n_codes, np.nan)
    if n_coders == 2:
        both = valid[:, 0] & valid[:, 1]
        n_both = both.sum(axis=1)
        agree = ((ones[:, 0] == ones[:, 1]) & both).sum(axis=1)
        p_a = _ratio((ones[:, 0] * both).sum(axis=1), n_both)
        p_b = _ratio((ones[:, 1] * both).sum(axis=1), n_both)
        po = _ratio(agree, n_both)
        cohen = _chance_corrected(po, p_a * p_b + (1.0 - p_a) * (1.0 - p_b))
        mean = (p_a + p_b) / 2.0
        scott = _chance_corrected(po, mean**2 + (1.0 - mean) ** 2)

    out: dict[str, Any] = {
        "n_rated": n_rated,
        "n_pairable": n_pairable,
        "n_disagree": (pairable & (n1 > 0) & (n0 > 0)).sum(axis=1),
        "prevalence": _ratio(n1.sum(axis=1), m.sum(axis=1)),
        "percent": percent,
        "cohen": cohen,
        "scott": scott,
        "fleiss": fleiss,
        "bp": bp,
        "ac1": ac1,
        "alpha": alpha,
        "draws": ((m * (m - 1.0) / 2.0) * pairable).sum(axis=1),
        "n_values": n_values,
        "o01": o01,
        "zeros_paired": zeros_paired,
        "ones_paired": ones_paired,
        "sums": None,
    }
    if bootstrap:
        if n_coders == 2:
            both = valid[:, 0] & valid[:, 1]
            terms = [both, both & (ones[:, 0] == ones[:, 1]), ones[:, 0] * both, ones[:, 1] * both]
        else:
            terms = [pairable, pa_unit, rated, share_unit]
        if with_alpha:
            terms += [m * pairable, n1 * pairable, o01_unit]
        out["sums"] = _sparse_sums(terms, n1) or _dense_sums(terms)
    return out


def _add_interval(frame: pd.DataFrame, name: str, reps: np.ndarray, tail: float) -> None:
    low, high = np.full(len(frame), np.nan), np.full(len(frame), np.nan)
    for i, row in enumerate(reps):
        finite = row[np.isfinite(row)]
        if finite.size:
            low[i], high[i] = np.quantile(finite, [tail, 1.0 - tail])
    frame[f"{name}_low"], frame[f"{name}_high"] = low, high


def _unit_replicates(
    block_sums: list[Callable[[np.ndarray], np.ndarray]],
    n_coders: int,
    n_units: int,
    n_codes: int,
    rng: np.random.Generator,
    replicates: int,
    with_alpha: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Kappa (and, if asked, alpha) for every replicate and code: unit weights @ per-unit terms,
    block of codes by block (``_block``'s sums), the same weights for every code."""
    n_terms = 4 + (3 if with_alpha else 0)
    kappa = np.empty((n_codes, replicates))
    alpha = np.empty((n_codes, replicates))  # filled only with_alpha
    start = 0
    for block in unit_weights(rng, n_units, replicates):
        parts = [f(block).reshape(len(block), n_terms, -1) for f in block_sums]
        sums = np.concatenate(parts, axis=2) if parts else np.zeros((len(block), n_terms, 0))
        rows = slice(start, start + len(block))
        if n_coders == 2:
            n = sums[:, 0]
            po, p_a, p_b = _ratio(sums[:, 1], n), _ratio(sums[:, 2], n), _ratio(sums[:, 3], n)
            kappa[:, rows] = _chance_corrected(po, p_a * p_b + (1.0 - p_a) * (1.0 - p_b)).T
        else:
            pa = _ratio(sums[:, 1], sums[:, 0])
            pi1 = _ratio(sums[:, 3], sums[:, 2])
            kappa[:, rows] = _chance_corrected(pa, pi1**2 + (1.0 - pi1) ** 2).T
        if with_alpha:
            n, ones_paired, o01 = sums[:, -3], sums[:, -2], sums[:, -1]
            product = (n - ones_paired) * ones_paired
            alpha[:, rows] = np.where(
                product > 0, 1.0 - (n - 1.0) * o01 / np.where(product > 0, product, 1.0), np.nan
            ).T
        start += len(block)
    return kappa, (alpha if with_alpha else None)


def _dense_sums(terms: list[np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Replicates x (terms * codes): unit weights @ every term of every code, one matrix product."""
    features = np.concatenate([np.asarray(t, dtype=float).T for t in terms], axis=1)  # units x (terms * codes)
    return lambda block: block @ features


def _sparse_sums(terms: list[np.ndarray], n1: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
    """``_dense_sums`` in time linear in the units and the (code, unit) cells that differ from a
    code nobody gave there; None when too many differ for this to pay.

    In a unit where no coder gave a code, every term depends on who rated the unit only, so it
    takes the same value for each such code (the unit's base). A long codebook's codes are each
    given in a few units: a term's sum is weights @ base plus weights @ the few differences,
    instead of a dense units x codes product (2,000 codes x 4,000 units x 1,000 replicates took
    most of a report's reliability, issue 14). The terms of two coders are whole numbers and
    halves, so the sums equal the dense product's exactly; with more coders they may differ in
    the last bits (the order of the additions)."""
    n_codes, n_units = n1.shape
    if n_codes < 2:
        return None
    quiet = np.argmin(n1, axis=0)  # per unit, a code nobody gave there (if any)
    bases, columns, units, values = [], [], [], []
    for t, term in enumerate(terms):
        term = np.asarray(term, dtype=float)
        base = term[quiet, np.arange(n_units)]
        code, unit = np.nonzero(term != base[None, :])
        bases.append(base)
        columns.append(t * n_codes + code)
        units.append(unit)
        values.append(term[code, unit] - base[unit])
    column = np.concatenate(columns)
    if column.size > 0.05 * len(terms) * n_codes * n_units:
        return None
    order = np.argsort(column, kind="stable")
    column, unit, value = column[order], np.concatenate(units)[order], np.concatenate(values)[order]
    starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]]) if column.size else column
    used = column[starts]
    base_matrix = np.stack(bases, axis=1)  # units x terms

    def sums(block: np.ndarray) -> np.ndarray:
        out = np.repeat(block @ base_matrix, n_codes, axis=1)  # replicates x (terms * codes)
        if column.size:
            out[:, used] += np.add.reduceat(block[:, unit] * value, starts, axis=1)
        return out

    return sums


def _notes(row: pd.Series, n_coders: int) -> str:
    """Why each missing coefficient of one code is missing, as 'name: reason; ...'."""
    if n_coders < 2:
        return f"all: needs two coders or more; the data have {n_coders}"
    if row["n_pairable"] == 0:
        return "all: no unit has values from two coders or more (nothing to compare)"
    notes = []
    single = "every rating is " + ("0 (the code was never given)" if row["prevalence"] == 0 else "1")
    if n_coders != 2:
        notes.append("cohen_kappa, scott_pi: " + _TWO_CODERS.format(n=n_coders))
    elif row["cohen_kappa"] != row["cohen_kappa"]:
        notes.append(
            "cohen_kappa, scott_pi: both coders put every unit they share in one category: chance "
            "agreement is 1 and the coefficient is 0/0; see percent agreement and AC1"
        )
    if row["fleiss_kappa"] != row["fleiss_kappa"]:
        notes.append(f"fleiss_kappa: {single}: chance agreement is 1 and kappa is 0/0; see percent agreement and AC1")
    if row["krippendorff_alpha"] != row["krippendorff_alpha"]:
        notes.append(
            "krippendorff_alpha: no variation among the pairable values, so expected disagreement is 0 "
            "and alpha is 0/0 (Krippendorff 2011)"
        )
    return "; ".join(notes)
