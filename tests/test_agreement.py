"""The agreement engine (issue 4): published values, cross-checks, degenerate data, bootstrap."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualkam.agreement import (
    COEFFICIENTS,
    JSON_KEYS,
    AgreementResult,
    bootstrap,
    coefficients,
    interpret_alpha,
    interpret_kappa,
    jaccard_distance,
    long_to_ratings,
    masi_distance,
    paradox_warning,
    per_code,
    read_long,
    set_alpha,
)
from qualkam.errors import InputError, QualkamError

from .conftest import SHARED, needs_shared

N = None

# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for
# Communication Departmental Papers 43, section C: 4 observers (rows) x 12 units (columns).
KRIPPENDORFF_2011_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]
# Same paper, section A: Ben and Gerry, 10 units, binary. alpha = 2/21.
BEN_GERRY = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]
# kgwet/irrCAC README, cac.raw4raters (Gwet 2014, Handbook 4th ed., p. 120): 12 units (rows) x 4 raters.
GWET_RAW4RATERS = [
    [1, 1, N, 1],
    [2, 2, 3, 2],
    [3, 3, 3, 3],
    [3, 3, 3, 3],
    [2, 2, 2, 2],
    [1, 2, 3, 4],
    [4, 4, 4, 4],
    [1, 1, 2, 1],
    [2, 2, 2, 2],
    [N, 5, 5, 5],
    [N, N, 1, 1],
    [N, N, 3, N],
]
# Wikipedia "Fleiss' kappa" worked example: 10 subjects x counts of 14 raters in categories 1..5; kappa .210.
FLEISS_WIKIPEDIA_COUNTS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]
# Hayes, A. F. & Krippendorff, K. (2007). Communication Methods and Measures 1(1):77-89, Table 1:
# 40 newspaper articles (rows) x 5 observers, tone 0-3; KALPHA: ordinal alpha .7598, 239 pairs.
HAYES_TABLE1 = [
    [1, 1, 2, N, 2],
    [1, 1, 0, 1, N],
    [2, 3, 3, 3, N],
    [N, 0, 0, N, 0],
    [0, 0, 0, N, 0],
    [0, 0, 0, N, 0],
    [1, 0, 2, N, 1],
    [1, N, 2, 0, N],
    [2, 2, 2, N, 2],
    [2, 1, 1, 1, N],
    [N, 1, 0, 0, N],
    [0, 0, 0, 0, N],
    [1, 2, 2, 2, N],
    [3, 3, 2, 2, 3],
    [1, 1, 1, N, 1],
    [1, 1, 1, N, 1],
    [2, 1, 2, N, 2],
    [1, 2, 3, 3, N],
    [1, 1, 0, 1, N],
    [0, 0, 0, N, 0],
    [0, 0, 1, 1, N],
    [0, 0, N, 0, 0],
    [2, 3, 3, 3, N],
    [0, 0, 0, 0, N],
    [1, 2, N, 2, 2],
    [0, 1, 1, 1, N],
    [0, 0, 0, 1, 0],
    [1, 2, 1, 2, N],
    [1, 1, 2, 2, N],
    [1, 1, 2, N, 2],
    [1, 1, 0, N, 0],
    [2, 1, 2, 1, N],
    [2, 2, N, 2, 2],
    [3, 2, 2, 2, N],
    [2, 2, 2, N, 2],
    [2, 2, 3, N, 2],
    [2, 2, 2, N, 2],
    [2, 2, N, 1, 2],
    [2, 2, 2, 2, N],
    [1, 1, 1, N, 1],
]


def transpose(rows: list[list]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


def close(value: float | None, published: float, tolerance: float = 5e-4) -> bool:
    return value is not None and abs(value - published) <= tolerance


# --- published values, copied here so a clone without ../shared still checks them ------------


@pytest.mark.parametrize(
    "level, published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]
)
def test_krippendorff_2011_alpha_at_every_level(level: str, published: float) -> None:
    result = coefficients(KRIPPENDORFF_2011_C, level=level)
    assert close(result.krippendorff_alpha, published)
    assert result.n_units == 12 and result.n_coders == 4 and result.n_pairable == 11 and result.n_values == 40


def test_binary_alpha_is_two_twenty_firsts() -> None:
    assert coefficients(BEN_GERRY).krippendorff_alpha == pytest.approx(2 / 21, abs=1e-12)


def test_gwet_raw4raters_every_coefficient() -> None:
    # irrCAC README: pa .8181818, AC1 .77544, Fleiss (Gwet's missing-data form) .76117,
    # Brennan-Prediger .77273, alpha .74342, Conger .76282.
    result = coefficients(transpose(GWET_RAW4RATERS))
    assert result.percent_agreement == pytest.approx(0.8181818, abs=1e-7)
    assert close(result.gwet_ac1, 0.77544, 5e-6)
    assert close(result.fleiss_kappa, 0.76117, 5e-6)
    assert close(result.brennan_prediger, 0.77273, 5e-6)
    assert close(result.krippendorff_alpha, 0.74342, 5e-6)
    assert close(result.conger_kappa, 0.76282, 5e-6)
    assert result.cohen_kappa is None and "two coders" in result.notes["cohen_kappa"]
    assert result.scott_pi is None and "fleiss_kappa" in result.notes["scott_pi"]


def test_cohen_wikipedia_grant_proposals() -> None:
    # Wikipedia "Cohen's kappa": 50 proposals, A yes/B yes 20, yes/no 5, no/yes 10, no/no 15 -> kappa .4.
    pairs = [("Yes", "Yes")] * 20 + [("Yes", "No")] * 5 + [("No", "Yes")] * 10 + [("No", "No")] * 15
    result = coefficients(transpose([list(p) for p in pairs]))
    assert result.cohen_kappa == pytest.approx(0.4, abs=1e-12)
    assert result.percent_agreement == pytest.approx(0.7)
    # Scott's pi = Fleiss' kappa for two coders without missing data
    assert result.scott_pi == pytest.approx(result.fleiss_kappa, abs=1e-12)


def test_fleiss_wikipedia() -> None:
    raters = [
        [category + 1 for category, count in enumerate(row) for _ in range(count)] for row in FLEISS_WIKIPEDIA_COUNTS
    ]
    assert close(coefficients(transpose(raters)).fleiss_kappa, 0.210)


def test_edge_cases_from_the_issue_threads() -> None:
    # fast-krippendorff #11 (Krippendorff confirmed alpha = 0) and #27 (alpha = -0.5).
    single = [[3, 3, 3, 3, 3], [3, 3, 3, 3, 3], [3, 3, N, N, 3], [3, 3, 3, 3, 1], [3, N, 3, 3, 3]]
    assert coefficients(single).krippendorff_alpha == pytest.approx(0.0, abs=1e-12)
    assert coefficients([["A", "B"], ["B", "A"]]).krippendorff_alpha == pytest.approx(-0.5)


def test_hayes_krippendorff_table1_alpha_and_bootstrap() -> None:
    ratings = transpose(HAYES_TABLE1)
    assert close(coefficients(ratings, level="ordinal").krippendorff_alpha, 0.7598, 5e-5)
    boot = bootstrap(ratings, level="ordinal", replicates=20000, seed=12345, minimum=0.8)
    assert boot.draws == 239  # the paper: "a random sample of 239 pairs of judgments"
    # the shared file's reimplementation of KALPHA (20,000 draws): CI .7067-.8072, q(.8) = .948
    assert boot.alpha_low == pytest.approx(0.7067, abs=0.01) and boot.alpha_high == pytest.approx(0.8072, abs=0.01)
    assert boot.p_alpha_below_minimum == pytest.approx(0.948, abs=0.01)
    assert np.mean(boot.alpha_replicates < 0.7) == pytest.approx(0.013, abs=0.01)


# --- every entry of the shared file --------------------------------------------------------------

PUBLISHED = SHARED / "reliability" / "published-examples.json"
ATTRIBUTE = {"fleiss_kappa_gwet_missing": "fleiss_kappa"}


def _shared_examples() -> list:
    if not PUBLISHED.is_file():
        return [pytest.param(None, id="shared-missing", marks=needs_shared)]
    entries = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    # ualpha2004_*: unitized alpha, qualkam/units (another module); everything else is ours.
    return [pytest.param(e, id=e["name"]) for e in entries if not e["coefficient"].startswith("krippendorff_u_alpha")]


def _ratings(entry: dict) -> list[list]:
    if "data_raw_expanded" in entry:
        return transpose(entry["data_raw_expanded"])
    return transpose(entry["data"]) if entry["data_layout"].startswith("rows=units") else entry["data"]


def _tolerance(published: float) -> float:
    decimals = len(repr(float(published)).split(".")[1].rstrip("0")) if "." in repr(float(published)) else 0
    return min(5e-4, 0.5 * 10**-decimals) + 1e-12


@pytest.mark.shared
@needs_shared
@pytest.mark.parametrize("entry", _shared_examples())
def test_published_example(entry: dict) -> None:
    result = coefficients(_ratings(entry), level=entry["level"])
    value = getattr(result, ATTRIBUTE.get(entry["coefficient"], entry["coefficient"]))
    assert value is not None, result.notes
    assert abs(value - entry["published_value"]) <= _tolerance(entry["published_value"]), (value, entry["notes"])
    assert value == pytest.approx(entry["computed_value"], abs=1e-6)
    if "contingency_table" in entry:  # the same kappa from the 2 x 2 table
        table = np.asarray(entry["contingency_table"], dtype=float)
        po, pe = np.trace(table) / table.sum(), (table.sum(0) @ table.sum(1)) / table.sum() ** 2
        assert value == pytest.approx((po - pe) / (1 - pe), abs=1e-12)


@pytest.mark.shared
@needs_shared
def test_shared_bootstrap_numbers() -> None:
    entry = next(
        e
        for e in json.loads(PUBLISHED.read_text(encoding="utf-8"))
        if e["name"] == "hayes_krippendorff2007_table1_ordinal"
    )
    reference = entry["bootstrap"]
    boot = bootstrap(_ratings(entry), level="ordinal", replicates=20000, seed=1)
    low, high = reference["kalpha_algorithm_reimplementation_M239_20000draws_seed12345"]
    assert boot.alpha_low == pytest.approx(low, abs=0.01) and boot.alpha_high == pytest.approx(high, abs=0.01)
    for minimum, q in reference["q_failure_M239"].items():
        assert np.mean(boot.alpha_replicates < float(minimum)) == pytest.approx(q, abs=0.01)
    units = bootstrap(_ratings(entry), level="ordinal", replicates=2000, seed=1, alpha_method="units")
    low, high = reference["unit_resampling_percentile_2000"]
    assert units.alpha_low == pytest.approx(low, abs=0.02) and units.alpha_high == pytest.approx(high, abs=0.02)


# --- cross-checks on random data -----------------------------------------------------------------


def _random_ratings(seed: int, coders: int, units: int = 60, categories: int = 4, missing: float = 0.15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, categories, units)
    ratings = np.where(rng.random((coders, units)) < 0.7, truth, rng.integers(0, categories, (coders, units))).astype(
        float
    )
    ratings[rng.random(ratings.shape) < missing] = np.nan
    return ratings


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("coders", [2, 3, 5])
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_the_krippendorff_package(seed: int, coders: int, level: str) -> None:
    krippendorff = pytest.importorskip("krippendorff")
    ratings = _random_ratings(seed * 10 + coders, coders)
    if level in ("interval", "ratio"):
        ratings = ratings * 1.5 + 0.25  # not just small integers
    ours = coefficients(ratings, level=level).krippendorff_alpha
    theirs = krippendorff.alpha(reliability_data=ratings, level_of_measurement=level)
    assert ours == pytest.approx(theirs, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_kappas_match_statsmodels(seed: int) -> None:
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    pair = _random_ratings(seed, 2)
    both = ~np.isnan(pair).any(axis=0)
    table = pd.crosstab(pair[0, both], pair[1, both]).reindex(index=range(4), columns=range(4), fill_value=0)
    assert coefficients(pair).cohen_kappa == pytest.approx(inter_rater.cohens_kappa(table.to_numpy()).kappa, abs=1e-9)
    for coders in (3, 4, 5):
        complete = _random_ratings(seed + 100 * coders, coders, missing=0.0).astype(int)
        counts, _ = inter_rater.aggregate_raters(complete.T)
        assert coefficients(complete).fleiss_kappa == pytest.approx(inter_rater.fleiss_kappa(counts), abs=1e-9)
        # Brennan-Prediger is statsmodels' fleiss_kappa(method="randolph") when every category is used
        assert coefficients(complete).brennan_prediger == pytest.approx(
            inter_rater.fleiss_kappa(counts, method="randolph"), abs=1e-9
        )


def test_labels_numbers_and_frames_give_the_same_nominal_result() -> None:
    numbers = _random_ratings(7, 3)
    names = np.array(["a", "b", "c", "d"], dtype=object)
    labels = [[None if np.isnan(v) else names[int(v)] for v in row] for row in numbers]
    expected = coefficients(numbers).as_dict()
    for same in (coefficients(labels), coefficients(pd.DataFrame(labels)), coefficients(numbers.tolist())):
        got = same.as_dict()
        assert got["notes"] == expected["notes"]
        for name in COEFFICIENTS:
            assert got[name] == pytest.approx(expected[name], abs=1e-12)


# --- degenerate data ------------------------------------------------------------------------------


def _json_clean(result: AgreementResult) -> dict:
    record = result.as_dict()
    json.dumps(record, allow_nan=False)  # never a NaN in output
    assert list(record) == list(JSON_KEYS)
    for name in COEFFICIENTS:
        assert (record[name] is None) == (name in record["notes"]), name
    return record


@pytest.mark.parametrize(
    "ratings, reason",
    [
        ([[1, 2, 3]], "two coders"),
        ([], "two coders"),
        ([[N, N], [N, N]], "no unit"),
        ([[1, N], [N, 2]], "no unit"),
    ],
)
def test_nothing_to_compare_gives_none_with_a_reason(ratings: list, reason: str) -> None:
    record = _json_clean(coefficients(ratings))
    assert all(record[name] is None and reason in record["notes"][name] for name in COEFFICIENTS)


def test_one_category_only() -> None:
    record = _json_clean(coefficients([["x", "x", "x"], ["x", "x", N]]))
    assert record["percent_agreement"] == 1.0
    for name in ("cohen_kappa", "scott_pi", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "brennan_prediger"):
        assert record[name] is None
    assert "0/0" in record["notes"]["krippendorff_alpha"] and "'x'" in record["notes"]["krippendorff_alpha"]
    assert "--categories" in record["notes"]["gwet_ac1"]
    # with the full set of categories, AC1 and Brennan-Prediger are defined (and 1)
    given = _json_clean(coefficients([["x", "x", "x"], ["x", "x", N]], categories=["x", "y"]))
    assert given["gwet_ac1"] == 1.0 and given["brennan_prediger"] == 1.0 and given["cohen_kappa"] is None


def test_alpha_with_one_pairable_unit_and_lone_values() -> None:
    result = coefficients([[1, 2, N], [1, N, 3]])
    assert result.n_pairable == 1 and result.krippendorff_alpha is None  # the pairable values are all 1


def test_non_nominal_levels_keep_the_kappas_on_categories() -> None:
    nominal = coefficients(KRIPPENDORFF_2011_C)
    interval = coefficients(KRIPPENDORFF_2011_C, level="interval")
    assert interval.fleiss_kappa == nominal.fleiss_kappa and interval.gwet_ac1 == nominal.gwet_ac1
    assert interval.krippendorff_alpha != nominal.krippendorff_alpha


@pytest.mark.parametrize(
    "ratings, kwargs, message",
    [
        ([[1, "a"], [1, 2]], {}, "mix numbers"),
        ([[1, 2], [1]], {}, "coders x units"),
        ([["a", "b"], ["a", "a"]], {"level": "interval"}, "needs numbers"),
        ([["lo", "hi"], ["lo", "lo"]], {"level": "ordinal"}, "order of the labels"),
        ([["lo", "hi"], ["lo", "mid"]], {"categories": ["lo", "hi"]}, "'mid' is not among"),
        ([[1, 2], [1, 3]], {"categories": [1, 2]}, "3 is not among"),
        ([[-1, 2], [1, 2]], {"level": "ratio"}, ">= 0"),
        ([[1, 2], [1, 2]], {"level": "nominall"}, "unknown level"),
    ],
)
def test_bad_ratings_raise_one_clear_error(ratings: list, kwargs: dict, message: str) -> None:
    with pytest.raises(QualkamError, match=message):
        coefficients(ratings, **kwargs)


def test_ordinal_labels_follow_the_given_order() -> None:
    labels = [["lo", "mid", "hi", "hi"], ["lo", "hi", "hi", "mid"]]
    numbers = [[1, 2, 3, 3], [1, 3, 3, 2]]
    got = coefficients(labels, level="ordinal", categories=["lo", "mid", "hi"]).krippendorff_alpha
    assert got == pytest.approx(coefficients(numbers, level="ordinal").krippendorff_alpha)


# --- interpretation -------------------------------------------------------------------------------


def test_interpretations() -> None:
    assert [interpret_alpha(v) for v in (0.85, 0.800, 0.7, 0.667, 0.5, None)] == [
        "reliable",
        "reliable",
        "tentative conclusions only",
        "tentative conclusions only",
        "unreliable",
        "not computed",
    ]
    assert [interpret_kappa(v) for v in (-0.1, 0.0, 0.2, 0.35, 0.6, 0.75, 0.81, float("nan"))] == [
        "poor",
        "slight",
        "slight",
        "fair",
        "moderate",
        "substantial",
        "almost perfect",
        "not computed",
    ]


def test_paradox_warning() -> None:
    assert paradox_warning(0.03) and "AC1" in paradox_warning(0.03) and "alpha" in paradox_warning(0.97)
    assert paradox_warning(0.25) is None and paradox_warning(None) is None
    assert paradox_warning({"a": 0.95, "b": 0.03, "c": 0.02}) is not None
    assert paradox_warning([0.5, 0.3, 0.2]) is None
    result = coefficients([[0] * 48 + [1, 1], [0] * 49 + [1]])
    assert result.paradox and result.percent_agreement == 0.98


# --- set-valued alpha -----------------------------------------------------------------------------


def test_set_distances() -> None:
    a, b = frozenset({"x", "y"}), frozenset({"x"})
    assert jaccard_distance(a, b) == pytest.approx(0.5) and masi_distance(a, b) == pytest.approx(1 - 0.5 * 2 / 3)
    assert masi_distance(frozenset({"x", "y"}), frozenset({"y", "z"})) == pytest.approx(1 - (1 / 3) * (1 / 3))
    assert masi_distance(frozenset({"x"}), frozenset({"z"})) == 1.0 == jaccard_distance(frozenset(), frozenset({"z"}))
    assert masi_distance(frozenset(), frozenset()) == 0.0


def test_set_alpha_on_single_codes_is_nominal_alpha() -> None:
    sets = [[None if v is None else frozenset({v}) for v in row] for row in KRIPPENDORFF_2011_C]
    expected = coefficients(KRIPPENDORFF_2011_C).krippendorff_alpha
    assert set_alpha(sets, "masi") == pytest.approx(expected) and set_alpha(sets, "jaccard") == pytest.approx(expected)


def test_set_alpha_by_hand() -> None:
    # Two coders, three units: {A,B}/{A}, {C}/{C}, {}/{B}. Values: s1={A,B}, s2={A}, s3={C}, s4={}, s5={B}.
    sets = [[frozenset("AB"), frozenset("C"), frozenset()], [frozenset("A"), frozenset("C"), frozenset("B")]]
    items = [frozenset("AB"), frozenset("A"), frozenset("C"), frozenset("C"), frozenset(), frozenset("B")]
    for distance, metric in (("jaccard", jaccard_distance), ("masi", masi_distance)):
        observed = 2 * metric(items[0], items[1]) + 2 * metric(items[4], items[5])  # o_ck = 1 for each ordered pair
        expected = sum(metric(p, q) for p in items for q in items)
        assert set_alpha(sets, distance) == pytest.approx(1 - (len(items) - 1) * observed / expected)
    assert set_alpha(sets, "masi") != set_alpha(sets, "jaccard")
    assert set_alpha([[frozenset("A"), None], [frozenset("A"), frozenset("B")]]) is None  # one pairable value kind
    with pytest.raises(QualkamError, match="unknown set distance"):
        set_alpha(sets, "dice")
    with pytest.raises(QualkamError, match="not a set"):
        set_alpha([["A"], [frozenset("A")]])


# --- bootstrap ------------------------------------------------------------------------------------


def test_bootstrap_is_reproducible_and_contains_the_estimate() -> None:
    ratings = _random_ratings(3, 3, units=80)
    first = bootstrap(ratings, replicates=300, seed=5)
    again = bootstrap(ratings, replicates=300, seed=5)
    other = bootstrap(ratings, replicates=300, seed=6)
    assert np.array_equal(first.alpha_replicates, again.alpha_replicates)
    assert np.array_equal(first.kappa_replicates, again.kappa_replicates)
    assert not np.array_equal(first.alpha_replicates, other.alpha_replicates)
    assert first.alpha_low <= first.alpha <= first.alpha_high
    assert first.kappa_name == "fleiss_kappa" and first.kappa_low <= first.kappa <= first.kappa_high
    assert 0.0 <= first.p_alpha_below_minimum <= 1.0
    json.dumps(first.as_dict(), allow_nan=False)
    assert bootstrap(ratings[:2], replicates=50).kappa_name == "cohen_kappa"


@pytest.mark.parametrize("method", ["coincidences", "units"])
def test_bootstrap_interval_is_wider_for_fewer_units(method: str) -> None:
    ratings = _random_ratings(11, 3, units=400, missing=0.05)
    wide = bootstrap(ratings[:, :40], replicates=400, seed=1, alpha_method=method)
    narrow = bootstrap(ratings, replicates=400, seed=1, alpha_method=method)
    assert wide.alpha_high - wide.alpha_low > narrow.alpha_high - narrow.alpha_low
    assert wide.kappa_high - wide.kappa_low > narrow.kappa_high - narrow.kappa_low


def test_bootstrap_of_undefined_alpha_says_why() -> None:
    boot = bootstrap([["x", "x"], ["x", "x"]], replicates=20)
    assert boot.alpha is None and boot.alpha_low is None and boot.p_alpha_below_minimum is None
    assert "0/0" in boot.notes["krippendorff_alpha"] and "kappa" in boot.notes
    with pytest.raises(QualkamError, match="at least 1 replicate"):
        bootstrap([[1, 2], [1, 2]], replicates=0)


# --- per_code, the fast path -----------------------------------------------------------------------


def _presence(seed: int, codes: int, coders: int, units: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.random((codes, units)) < rng.uniform(0.02, 0.4, (codes, 1))
    presence = np.where(rng.random((codes, coders, units)) < 0.9, truth[:, None], ~truth[:, None]).astype(float)
    presence[rng.random(presence.shape) < 0.1] = np.nan
    presence[0] = 0.0  # a code nobody gave
    return presence


@pytest.mark.parametrize("coders", [2, 3, 4])
def test_per_code_equals_coefficients_code_by_code(coders: int) -> None:
    presence = _presence(coders, 5, coders, 150)
    frame = per_code(presence, [f"c{i}" for i in range(5)])
    for i in range(5):
        result = coefficients(presence[i], categories=[0, 1])
        for name in COEFFICIENTS:
            value = getattr(result, name)
            assert (
                math.isnan(frame.loc[i, name])
                if value is None
                else frame.loc[i, name] == pytest.approx(value, abs=1e-12)
            )
        assert frame.loc[i, "n_pairable"] == result.n_pairable
        assert frame.loc[i, "prevalence"] == pytest.approx(result.prevalence.get(1.0, result.prevalence.get(1, 0.0)))
    never = frame.loc[0]
    assert (
        never["prevalence"] == 0 and math.isnan(never["krippendorff_alpha"]) and "krippendorff_alpha" in never["notes"]
    )
    assert never["gwet_ac1"] == 1.0 and never["paradox_warning"]


def test_per_code_bootstrap_columns_and_seed() -> None:
    presence = _presence(9, 4, 3, 300)
    names = ["a", "b", "c", "d"]
    first = per_code(presence, names, replicates=200, seed=2)
    assert first.equals(per_code(presence, names, replicates=200, seed=2))
    for column in ("alpha_low", "alpha_high", "p_alpha_below_minimum", "kappa_low", "kappa_high"):
        assert column in first
    defined = first.dropna(subset=["krippendorff_alpha"])
    assert (defined["alpha_low"] <= defined["krippendorff_alpha"]).all()
    assert (defined["krippendorff_alpha"] <= defined["alpha_high"]).all()
    # the same intervals as bootstrap() on one code, up to Monte-Carlo error
    boot = bootstrap(presence[2], categories=[0, 1], replicates=2000, seed=0)
    row = per_code(presence, names, replicates=2000, seed=0).loc[2]
    assert row["alpha_low"] == pytest.approx(boot.alpha_low, abs=0.02)
    assert row["kappa_high"] == pytest.approx(boot.kappa_high, abs=0.02)
    units = per_code(presence, names, replicates=200, seed=2, alpha_method="units")
    assert (units["alpha_low"].dropna() <= units["krippendorff_alpha"].dropna()).all()


def test_per_code_rejects_bad_presence() -> None:
    with pytest.raises(QualkamError, match="0, 1 or NaN"):
        per_code(np.full((1, 2, 3), 2.0), ["a"])
    with pytest.raises(QualkamError, match="3 dimensions"):
        per_code(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(QualkamError, match="code names"):
        per_code(np.zeros((2, 2, 3)), ["a"])


# --- long CSV files -------------------------------------------------------------------------------


def _csv(tmp_path: Path, text: str, name: str = "ratings.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_long_numbers_labels_and_missing(tmp_path: Path) -> None:
    frame = read_long(_csv(tmp_path, "unit,coder,value\nu1,ana,1\nu1,ben,2\nu2,ana,NA\nu2,ben,\n"))
    assert frame["value"].dtype == float and frame["value"].isna().sum() == 2
    wide = long_to_ratings(frame)
    assert list(wide.index) == ["ana", "ben"] and list(wide.columns) == ["u1", "u2"]
    labels = read_long(_csv(tmp_path, "seg;who;code\n1;a;yes\n1;b;no\n", "semi.csv"), "seg", "who", "code")
    assert list(labels["value"]) == ["yes", "no"]


@pytest.mark.parametrize(
    "text, kwargs, message",
    [
        (
            "unit,coder,value\n1,a,x\n1,b,y\n1,a,z\n",
            {},
            r"ratings.csv:4: unit '1' is coded twice by coder 'a' \(first on line 2\)",
        ),
        ("unit,coder,label\n1,a,x\n", {}, "no column 'value' .*the columns are: unit, coder, label"),
        ("unit,coder,value\n1,a,1\n1,b,high\n", {"level": "interval"}, "ratings.csv:3: value 'high' is not a number"),
        ("unit,coder,value\n,a,1\n", {}, "ratings.csv:2: empty 'unit' cell"),
        ("unit,coder,value\n", {}, "no rows"),
    ],
)
def test_read_long_errors_name_the_place(tmp_path: Path, text: str, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_long(_csv(tmp_path, text), **kwargs)


def test_read_long_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_long(tmp_path / "nope.csv")
