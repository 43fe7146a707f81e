"""Krippendorff's unitized alpha (issue 4): the 2004 book example, the 2016 family's
properties, brute-force references for both forms, degenerate inputs, a realistic size."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from qualkam.agreement.unitized import (
    UnitizingError,
    per_value_binary,
    unitized_alpha,
    unitized_alpha_sources,
)
from qualkam.errors import QualkamError

from .conftest import SHARED, needs_shared

# --- reference implementations: the formulas of shared/reliability/unitized-alpha.md, literally


def _segments(coder_spans, length):
    """One coder's units (as given, non-overlapping) and the gaps between them (value None)."""
    out, pos = [], 0
    for s, e, v in sorted(coder_spans):
        if s > pos:
            out.append((pos, s, None))
        out.append((s, e, v))
        pos = e
    if pos < length:
        out.append((pos, length, None))
    return out


def ref_2016(spans, length):
    """Section B (2016): l_ck over segment intersections, λ, e_ck; uα and |uα."""
    return ref_2016_sources([(spans, length)])


def ref_2016_sources(sources):
    """Section B summed over sources: each source's pairs weigh 1/(m_s - 1)."""
    values = sorted({v for spans, _ in sources for c in spans for _, _, v in spans[c]}, key=str) + [None]
    ix = {v: i for i, v in enumerate(values)}
    n = len(values)
    overlap, lam = np.zeros((n, n)), np.zeros(n)
    for spans, length in sources:
        coders = list(spans)
        m = len(coders)
        segs = {c: _segments(spans[c], length) for c in coders}
        for i in coders:
            for j in coders:
                if i == j:
                    continue
                for a, b, v in segs[i]:
                    for c, d, w in segs[j]:
                        overlap[ix[v], ix[w]] += max(0, min(b, d) - max(a, c)) / (m - 1)
        for c in coders:
            for a, b, v in segs[c]:
                lam[ix[v]] += (b - a) ** 2 if v is not None else (b - a)
    total, marg = overlap.sum(), overlap.sum(axis=1)
    e = total * (np.outer(marg, marg) - np.diag(lam)) / (total**2 - lam.sum())
    gap = ix[None]
    d_e = total - np.trace(e)
    nominal = None if d_e <= 1e-12 else 1 - (total - np.trace(overlap)) / d_e
    e_gap = sum(e[gap, k] for k in range(n) if k != gap)
    binary = None if e_gap <= 1e-12 else 1 - sum(overlap[gap, k] for k in range(n) if k != gap) / e_gap
    return nominal, binary


def ref_2016_per_code(spans, length):
    codes = {v for c in spans for _, _, v in spans[c]}
    return {code: ref_2016({c: [s for s in spans[c] if s[2] == code] for c in spans}, length)[1] for code in codes}


def _delta2(b1, l1, w1, b2, l2, w2):
    """δ² of section A (2004), case by case."""
    if w1 and w2 and -l1 < b1 - b2 < l2:
        return (b1 - b2) ** 2 + (b1 + l1 - b2 - l2) ** 2
    if w1 and not w2 and 0 <= b1 - b2 <= l2 - l1:
        return l1**2
    if not w1 and w2 and 0 <= b2 - b1 <= l1 - l2:
        return l2**2
    return 0


def ref_2004(spans, length):
    """Section A (2004): per category (cD_o, cD_e) with explicit loops over segments."""
    coders = list(spans)
    m, L = len(coders), length
    out = {}
    for cat in {v for c in coders for _, _, v in spans[c]}:
        segs = {
            c: [(s, e - s, int(v is not None)) for s, e, v in _segments([x for x in spans[c] if x[2] == cat], L)]
            for c in coders
        }
        units = [(b, ln) for c in coders for b, ln, w in segs[c] if w]
        gaps = [ln for c in coders for b, ln, w in segs[c] if not w]
        n_c = len(units)
        d_o = sum(_delta2(*g, *h) for i in coders for j in coders if i != j for g in segs[i] for h in segs[j]) / (
            m * (m - 1) * L * L
        )
        num = sum(
            (n_c - 1) * (2 * ln**3 - 3 * ln**2 + ln) / 3 + ln**2 * sum(g - ln + 1 for g in gaps if g >= ln)
            for _, ln in units
        )
        d_e = (2 / L) * num / (m * L * (m * L - 1) - sum(ln * (ln - 1) for _, ln in units))
        out[cat] = (d_o, d_e)
    return out


def ref_alpha_nominal(rows):
    """Ordinary nominal alpha from a coincidence matrix; rows = units, each a list of values."""
    vals = sorted({v for r in rows for v in r}, key=str)
    ix = {v: i for i, v in enumerate(vals)}
    o = np.zeros((len(vals), len(vals)))
    for r in rows:
        for a in range(len(r)):
            for b in range(len(r)):
                if a != b:
                    o[ix[r[a]], ix[r[b]]] += 1 / (len(r) - 1)
    n_c, n = o.sum(axis=1), o.sum()
    d_o = o.sum() - np.trace(o)
    d_e = (n * n - (n_c * n_c).sum()) / (n - 1)
    return 1 - d_o / d_e


def random_spans(rng, length, coders, values, max_len=12, max_gap=10, overlap=False):
    """Each coder's spans, non-overlapping (sometimes touching) unless ``overlap``."""
    out = {}
    for c in coders:
        spans, pos = [], rng.randint(0, max_gap)
        while pos < length:
            end = min(length, pos + rng.randint(1, max_len))
            spans.append((pos, end, rng.choice(values)))
            pos = end + rng.choice([0, rng.randint(1, max_gap), rng.randint(1, max_gap)])
        if overlap:
            for _ in range(3):
                s = rng.randrange(length)
                spans.append((s, min(length, s + rng.randint(1, max_len)), rng.choice(values)))
        out[c] = spans
    return out


# --- the 2004 worked example (Krippendorff 2004, Content Analysis 2nd ed., §12.4, p. ~254)

# Observers i and j on the continuum [150, 450); units as (begin, length) per category,
# gaps implicit. Transcribed as in shared/reliability/published-examples.json
# (ualpha2004_book_*), which takes them from dkpro-statistics' Krippendorff2004Test.java.
BOOK_BEGIN, BOOK_LENGTH = 150, 300
BOOK_UNITS = {
    "c": {"i": [(225, 70), (370, 30)], "j": [(220, 80), (355, 20), (400, 20)]},
    "k": {"i": [(180, 60), (300, 50)], "j": [(180, 60), (300, 50)]},
}


def _book_spans(units, begin):
    spans = {}
    for cat, by_coder in units.items():
        for coder, us in by_coder.items():
            spans.setdefault(coder, []).extend((b - begin, b - begin + ln, cat) for b, ln in us)
    return spans


def test_book_example_2004_literal() -> None:
    """The book's figures, copied here so a clone without ../shared still checks them."""
    spans = _book_spans(BOOK_UNITS, BOOK_BEGIN)
    res = unitized_alpha(spans, BOOK_LENGTH, method="2004")
    c = unitized_alpha(spans, BOOK_LENGTH, method="2004", category="c")
    k = unitized_alpha(spans, BOOK_LENGTH, method="2004", category="k")
    # Book p. ~254-256: D_o(c) = .0144, D_e(c) = .0532, α_c = .7286; D_o(k) = 0, D_e(k) = .0490,
    # α_k = 1; joint .8591 from rounded intermediates (1 - .0144/.1022).
    assert round(c.observed, 4) == 0.0144 and round(c.expected, 4) == 0.0532
    assert c.observed == pytest.approx(0.014444, abs=5e-7)
    assert c.expected == pytest.approx(0.053222, abs=5e-7)
    assert c.alpha == pytest.approx(0.7286, abs=5e-5)
    assert k.observed == 0 and round(k.expected, 4) == 0.0490
    assert k.alpha == 1.0
    assert res.per_category == {"c": c.alpha, "k": k.alpha}
    # Unrounded arithmetic gives .858665: .859 at 3 dp, within 5e-4 of the book's .8591.
    assert res.alpha == pytest.approx(0.8586654051841702, abs=1e-12)
    assert res.alpha == pytest.approx(0.8591, abs=5e-4)
    assert res.expected == pytest.approx(c.expected + k.expected)


@needs_shared
@pytest.mark.shared
def test_book_example_2004_shared() -> None:
    examples = {e["name"]: e for e in json.loads((SHARED / "reliability" / "published-examples.json").read_text())}
    for name, category in [
        ("ualpha2004_book_category_c", "c"),
        ("ualpha2004_book_category_k", "k"),
        ("ualpha2004_book_joint", None),
    ]:
        ex = examples[name]
        data = ex["data"]
        units = {cat: {c: [tuple(u) for u in us] for c, us in by.items()} for cat, by in data["units"].items()}
        res = unitized_alpha(
            _book_spans(units, data["continuum_begin"]), data["continuum_length"], method="2004", category=category
        )
        assert res.alpha == pytest.approx(ex["computed_value"], abs=1e-9), name
        # The joint's published .8591 comes from rounded intermediates: the JSON's note says 5e-4.
        tolerance = 5e-4 if category is None else 5e-5
        assert res.alpha == pytest.approx(ex["published_value"], abs=tolerance), name


def test_dkpro_2004_test_vector() -> None:
    """Not published: dkpro-statistics' UnitizingAgreementTest (r0 -11111111-, r1 --1-1-1---)
    gives D_o .9100, D_e .5351, α -.7003 for the 2004 form (to 1e-4, as it asserts); an
    independent implementation. Exactly: D_o = 91/100, D_e = 0.535185."""
    res = unitized_alpha(
        {"r0": [(1, 9, "A")], "r1": [(2, 3, "A"), (4, 5, "A"), (6, 7, "A")]}, 10, method="2004", category="A"
    )
    assert res.observed == pytest.approx(0.91)
    assert res.expected == pytest.approx(0.5351, abs=1e-4)
    assert res.alpha == pytest.approx(-0.7003, abs=1e-4)


# --- the vectorized code against the literal formulas


@pytest.mark.parametrize("seed", range(12))
def test_2004_matches_literal_formulas(seed: int) -> None:
    rng = random.Random(seed)
    length = rng.randint(20, 90)
    coders = ["a", "b", "c"][: rng.randint(2, 3)]
    spans = random_spans(rng, length, coders, ["x", "y", "z"][: rng.randint(1, 3)], overlap=seed % 2 == 1)
    # Same-code overlaps are merged first (issue 4's rule); give the reference merged spans.
    spans = {c: _merge_same(v) for c, v in spans.items()}
    ref = ref_2004(spans, length)
    res = unitized_alpha(spans, length, method="2004")
    for cat, (d_o, d_e) in ref.items():
        one = unitized_alpha(spans, length, method="2004", category=cat)
        assert one.observed == pytest.approx(d_o, rel=1e-9, abs=1e-15)
        assert one.expected == pytest.approx(d_e, rel=1e-9, abs=1e-15)
        assert res.per_category[cat] == pytest.approx(1 - d_o / d_e, rel=1e-9)
    joint = 1 - sum(d for d, _ in ref.values()) / sum(e for _, e in ref.values())
    assert res.alpha == pytest.approx(joint, rel=1e-9)


def _merge_same(spans):
    out = []
    for code in {v for _, _, v in spans}:
        runs = []
        for s, e, _ in sorted(x for x in spans if x[2] == code):
            if runs and s < runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], e)
            else:
                runs.append([s, e])
        out += [(s, e, code) for s, e in runs]
    return sorted(out)


@pytest.mark.parametrize("seed", range(12))
def test_2016_matches_literal_formulas(seed: int) -> None:
    rng = random.Random(100 + seed)
    length = rng.randint(20, 90)
    coders = ["a", "b", "c", "d"][: rng.randint(2, 4)]
    spans = random_spans(rng, length, coders, ["x", "y", "z"][: rng.randint(1, 3)])
    nominal, binary = ref_2016(spans, length)
    res = unitized_alpha(spans, length)
    assert res.alpha == pytest.approx(nominal, rel=1e-9)
    assert res.binary == pytest.approx(binary, rel=1e-9)
    ref_codes = ref_2016_per_code(spans, length)
    assert res.per_category.keys() == ref_codes.keys()
    for code, value in ref_codes.items():
        assert res.per_category[code] == pytest.approx(value, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_2004_and_2016_agree_with_ordinary_alpha_on_one_character_units(seed: int) -> None:
    """Where the two forms must agree: when every unit is one character (no two adjacent),
    the 2004 cuα, the 2016 |uα and ordinary binary alpha over characters are one number; the
    2016 uα is ordinary nominal alpha over characters, gap as a value."""
    rng = random.Random(200 + seed)
    length, coders = 60, ["a", "b", "c"][: 2 + seed % 2]
    chars = {c: [rng.choice([None, None, None, "x", "y"]) for _ in range(length)] for c in coders}
    for c in coders:  # no two adjacent units: each coded character is its own unit
        for x in range(1, length):
            if chars[c][x - 1] is not None:
                chars[c][x] = None
    spans = {c: [(x, x + 1, v) for x, v in enumerate(chars[c]) if v is not None] for c in coders}
    columns = [[chars[c][x] or "-" for c in coders] for x in range(length)]
    new = unitized_alpha(spans, length)
    old = unitized_alpha(spans, length, method="2004")
    for code in ("x", "y"):
        ordinary = ref_alpha_nominal([[int(v == code) for v in col] for col in columns])
        assert new.per_category[code] == pytest.approx(ordinary, rel=1e-9)
        assert old.per_category[code] == pytest.approx(ordinary, rel=1e-9)
    assert new.binary == pytest.approx(ref_alpha_nominal([[v != "-" for v in col] for col in columns]), rel=1e-9)
    assert new.alpha == pytest.approx(ref_alpha_nominal(columns), rel=1e-9)


# --- properties of the 2016 family (no published worked example with numbers exists)

TWO = {
    "ana": [(10, 40, "hard"), (60, 90, "soft"), (120, 150, "hard")],
    "ben": [(10, 40, "hard"), (60, 90, "soft"), (120, 150, "hard")],
}


@pytest.mark.parametrize("method", ["2016", "2004"])
def test_perfect_agreement_is_one(method: str) -> None:
    three = {**TWO, "cem": list(TWO["ana"])}
    for spans in (TWO, three):
        res = unitized_alpha(spans, 200, method=method)
        assert res.alpha == 1.0 and res.joint == 1.0
        assert res.per_category == {"hard": 1.0, "soft": 1.0}
        assert res.observed == 0
    assert unitized_alpha(TWO, 200).binary == 1.0


def test_same_segments_other_codes() -> None:
    """Identical boundaries, one unit given another code: the binary figure sees only the
    boundaries (1), the nominal one and the two codes concerned see the disagreement."""
    spans = {"ana": TWO["ana"], "ben": [(10, 40, "hard"), (60, 90, "hard"), (120, 150, "hard")]}
    res = unitized_alpha(spans, 200)
    assert res.binary == 1.0
    assert res.alpha < 1
    assert res.per_category["hard"] < 1 and res.per_category["soft"] < 1
    assert unitized_alpha(spans, 200, method="2004").alpha < 1


@pytest.mark.parametrize("method", ["2016", "2004"])
def test_coder_who_marks_nothing(method: str) -> None:
    spans = {"ana": TWO["ana"], "ben": []}
    res = unitized_alpha(spans, 200, method=method)
    assert res.alpha is not None and res.alpha <= 0
    assert all(v <= 0 for v in res.per_category.values())
    # One marked character against none is exactly chance: 0, as in ordinary binary alpha.
    assert unitized_alpha({"ana": [(5, 6, "x")], "ben": []}, 50, method=method).alpha == pytest.approx(0)


@pytest.mark.parametrize("method", ["2016", "2004"])
def test_moving_one_boundary_lowers_alpha_a_little(method: str) -> None:
    def moved(by):
        return {"ana": TWO["ana"], "ben": [(10 + by, 40, "hard"), (60, 90, "soft"), (120, 150, "hard")]}

    one, two = unitized_alpha(moved(1), 200, method=method), unitized_alpha(moved(2), 200, method=method)
    assert 0.9 < one.alpha < 1
    assert two.alpha < one.alpha
    assert one.per_category["soft"] == 1.0 and 0.9 < one.per_category["hard"] < 1


@pytest.mark.parametrize("method", ["2016", "2004"])
def test_codes_renamed_or_coders_reordered_change_nothing(method: str) -> None:
    rng = random.Random(7)
    spans = random_spans(rng, 120, ["a", "b", "c"], ["x", "y"])
    base = unitized_alpha(spans, 120, method=method)
    swap = {"x": "y", "y": "x"}
    renamed = unitized_alpha({c: [(s, e, swap[v]) for s, e, v in sp] for c, sp in spans.items()}, 120, method=method)
    reordered = unitized_alpha({c: spans[c] for c in ["c", "a", "b"]}, 120, method=method)
    renamed_coders = unitized_alpha({c.upper(): list(reversed(sp)) for c, sp in spans.items()}, 120, method=method)
    for other in (renamed, reordered, renamed_coders):
        for field in ("alpha", "binary"):  # the 2004 form has no binary figure: None on both sides
            got, want = getattr(other, field), getattr(base, field)
            assert (got is None and want is None) or got == pytest.approx(want, rel=1e-12), field
    assert renamed.per_category["x"] == pytest.approx(base.per_category["y"], rel=1e-12)


def test_single_code_nominal_equals_binary() -> None:
    """With one code the nominal uα has values {∅, c} only, and is |uα."""
    spans = random_spans(random.Random(3), 150, ["a", "b", "c"], ["x"])
    res = unitized_alpha(spans, 150)
    assert res.alpha == pytest.approx(res.binary, rel=1e-12)
    assert res.per_category["x"] == pytest.approx(res.binary, rel=1e-12)


def test_uncoded_text_raises_alpha_and_where_it_sits_matters_only_in_2004() -> None:
    """Adding text nobody coded adds agreement on gaps: the 2016 figures rise toward the
    limit 1 - D_o / l_c· (here a per-code figure) and do not depend on where the stretch
    sits; the 2004 form's chance term uses gap lengths, so placement changes it."""
    spans = {"ana": [(10, 30, "p"), (50, 60, "q")], "ben": [(12, 30, "p"), (50, 58, "q"), (70, 75, "p")]}
    figures = [unitized_alpha(spans, n).per_category["p"] for n in (100, 1_000, 10_000, 1_000_000)]
    assert figures == sorted(figures) and len(set(figures)) == 4
    # p: ana codes 20 characters, ben 23; they differ on 10-11 and 70-74, so l_∅p = 7.
    assert figures[-1] == pytest.approx(1 - 7 / 43, abs=1e-5)
    old = [unitized_alpha(spans, n, method="2004").alpha for n in (100, 1_000, 10_000)]
    assert old == sorted(old)

    def shifted(by):
        return {c: [(s + by, e + by, v) for s, e, v in sp] for c, sp in spans.items()}

    assert unitized_alpha(shifted(100), 200).alpha == pytest.approx(unitized_alpha(spans, 200).alpha, rel=1e-12)
    assert unitized_alpha(shifted(100), 200, method="2004").alpha != pytest.approx(
        unitized_alpha(spans, 200, method="2004").alpha, rel=1e-6
    )


# --- overlapping spans and the input rules


def test_same_code_overlaps_are_merged_touching_spans_are_not() -> None:
    ref = {"ana": [(0, 15, "x"), (30, 40, "y")], "ben": [(2, 15, "x"), (30, 38, "y")]}
    overlapping = {"ana": [(0, 10, "x"), (5, 15, "x"), (30, 40, "y")], "ben": ref["ben"]}
    touching = {"ana": [(0, 10, "x"), (10, 15, "x"), (30, 40, "y")], "ben": ref["ben"]}
    for method in ("2016", "2004"):
        assert unitized_alpha(overlapping, 50, method=method).alpha == unitized_alpha(ref, 50, method=method).alpha
        # Two touching units are two units: the coder drew a boundary at 10.
        assert unitized_alpha(touching, 50, method=method).alpha != unitized_alpha(ref, 50, method=method).alpha


def test_overlapping_codes_of_one_coder() -> None:
    """Multi-coding: each code gets its own continuum; only the nominal uα is undefined."""
    spans = {"ana": [(0, 20, "x"), (10, 30, "y")], "ben": [(0, 18, "x"), (12, 30, "y")]}
    res = unitized_alpha(spans, 60)
    assert res.alpha is None and "undefined" in res.notes[-1] and "'ana'" in res.notes[-1]
    assert res.joint is not None and res.binary is not None
    for code in ("x", "y"):
        alone = {c: [s for s in sp if s[2] == code] for c, sp in spans.items()}
        assert res.per_category[code] == pytest.approx(unitized_alpha(alone, 60).alpha, rel=1e-12)
    # The binary figure treats the union of a coder's codes as their units.
    union = {"ana": [(0, 30, "any")], "ben": [(0, 30, "any")]}
    assert res.binary == unitized_alpha(union, 60).binary == 1.0
    assert unitized_alpha(spans, 60, method="2004").alpha is not None


def test_codes_may_be_any_hashable_value() -> None:
    spans = {"ana": [(0, 20, 1), (10, 30, ("kam", 2))], "ben": [(0, 18, 1)]}
    res = unitized_alpha(spans, 60)
    assert set(res.per_category) == {1, ("kam", 2)}
    assert res.alpha is None and "('kam', 2)" in res.notes[-1]
    assert unitized_alpha(spans, 60, category=3).notes[-1] == "3: nobody coded it"


def test_category_and_per_value_binary_agree() -> None:
    spans = random_spans(random.Random(11), 200, ["a", "b"], ["x", "y", "z"])
    for method in ("2016", "2004"):
        per = per_value_binary(spans, 200, method=method)
        assert per == unitized_alpha(spans, 200, method=method).per_category
        for code, value in per.items():
            one = unitized_alpha(spans, 200, method=method, category=code)
            assert one.alpha == value
            assert one.alpha == pytest.approx(1 - one.observed / one.expected, rel=1e-12)
    missing = unitized_alpha(spans, 200, category="nobody")
    assert missing.alpha is None and "nobody coded it" in missing.notes[-1]


@pytest.mark.parametrize(
    "spans, length, words",
    [
        ({"ana": [(0, 30, "x")], "ben": []}, 20, "not inside the text"),
        ({"ana": [(-1, 3, "x")], "ben": []}, 20, "not inside the text"),
        ({"ana": [(5, 3, "x")], "ben": []}, 20, "start <= end"),
        ({"ana": [(0, 3, None)], "ben": []}, 20, "no code"),
        ({"ana": [(0, 3)], "ben": []}, 20, r"is not \(start, end, value\)"),
        ({"ana": [(0.5, 3, "x")], "ben": []}, 20, "whole-number"),
        ({"ana": [], "ben": []}, -1, "length"),
    ],
)
def test_bad_spans_are_named(spans, length, words) -> None:
    with pytest.raises(UnitizingError, match=words) as info:
        unitized_alpha(spans, length)
    assert isinstance(info.value, QualkamError) and isinstance(info.value, ValueError)
    assert "'ana'" in str(info.value) or "length" in words


def test_unknown_method_and_spans_not_by_coder() -> None:
    with pytest.raises(UnitizingError, match="method"):
        unitized_alpha(TWO, 200, method="1995")
    with pytest.raises(UnitizingError, match="map each coder"):
        unitized_alpha([(0, 3, "x")], 200)


# --- degenerate cases


@pytest.mark.parametrize("method", ["2016", "2004"])
def test_one_coder(method: str) -> None:
    res = unitized_alpha({"ana": TWO["ana"]}, 200, method=method)
    assert res.alpha is None and res.per_category == {"hard": None, "soft": None}
    assert res.n_coders == 1 and "fewer than 2 coders" in res.notes[0]


@pytest.mark.parametrize("method", ["2016", "2004"])
def test_zero_length(method: str) -> None:
    res = unitized_alpha({"ana": [], "ben": []}, 0, method=method)
    assert res.alpha is None and res.length == 0 and "empty continuum" in res.notes[0]


@pytest.mark.parametrize("method", ["2016", "2004"])
def test_nobody_coded_anything(method: str) -> None:
    res = unitized_alpha({"ana": [], "ben": [], "cem": []}, 100, method=method)
    assert res.alpha is None and res.binary is None and res.per_category == {}
    assert res.notes


def test_everybody_coded_everything() -> None:
    """2016: no variation, so no figure (as ordinary alpha when every value is the same).
    2004: its chance model still places units anywhere, so D_e > 0 and alpha is 1."""
    spans = {"ana": [(0, 100, "x")], "ben": [(0, 100, "x")]}
    new = unitized_alpha(spans, 100)
    assert new.alpha is None and new.per_category == {"x": None} and new.binary is None
    assert any("no variation" in n for n in new.notes)
    old = unitized_alpha(spans, 100, method="2004")
    assert old.alpha == 1.0 and old.expected > 0


# --- several sources


def _split(spans, cut):
    """The same coding as two sources, [0, cut) and [cut, end)."""
    first = {c: [(s, e, v) for s, e, v in sp if e <= cut] for c, sp in spans.items()}
    second = {c: [(s - cut, e - cut, v) for s, e, v in sp if s >= cut] for c, sp in spans.items()}
    return first, second


def test_2016_sources_pool_like_one_continuum() -> None:
    rng = random.Random(5)
    a = random_spans(rng, 80, ["p", "q", "r"], ["x", "y"])
    b = random_spans(rng, 50, ["p", "q", "r"], ["x", "y", "z"])
    joined = {c: a[c] + [(s + 80, e + 80, v) for s, e, v in b[c]] for c in a}
    one = unitized_alpha(joined, 130)
    for sources in ({"s1": (a, 80), "s2": (b, 50)}, [(b, 50), (a, 80)]):
        res = unitized_alpha_sources(sources)
        assert res.n_sources == 2 and res.length == 130
        assert res.alpha == pytest.approx(one.alpha, rel=1e-12)
        assert res.binary == pytest.approx(one.binary, rel=1e-12)
        for code in one.per_category:
            assert res.per_category[code] == pytest.approx(one.per_category[code], rel=1e-12)


def test_2004_sources_cut_gaps_at_source_edges() -> None:
    """When every coder has a unit at both edges of every source no gap crosses a boundary,
    so pooling equals one continuum; the order of the sources never matters."""
    a = {"p": [(0, 10, "x"), (30, 50, "x")], "q": [(0, 12, "x"), (28, 50, "x")]}
    b = {"p": [(0, 5, "x"), (9, 40, "x")], "q": [(0, 5, "x"), (12, 40, "x")]}
    joined = {c: a[c] + [(s + 50, e + 50, v) for s, e, v in b[c]] for c in a}
    one = unitized_alpha(joined, 90, method="2004")
    res = unitized_alpha_sources({"a": (a, 50), "b": (b, 40)}, method="2004")
    assert res.alpha == pytest.approx(one.alpha, rel=1e-12)
    flipped = unitized_alpha_sources([(b, 40), (a, 50)], method="2004")
    assert flipped.alpha == pytest.approx(res.alpha, rel=1e-12)


def test_coders_missing_from_a_source() -> None:
    both = {"ana": TWO["ana"], "ben": [(12, 40, "hard"), (60, 90, "soft")]}
    trio = {**both, "cem": [(10, 40, "hard")]}
    alone = {"ana": [(0, 10, "soft")]}
    res = unitized_alpha_sources({"s1": (both, 200), "s2": (trio, 200), "s3": (alone, 50)})
    assert res.n_sources == 2 and res.n_coders == 3 and res.alpha is not None
    assert any("'s3' left out" in n for n in res.notes)
    nominal, binary = ref_2016_sources([(both, 200), (trio, 200)])
    assert res.alpha == pytest.approx(nominal, rel=1e-9) and res.binary == pytest.approx(binary, rel=1e-9)
    # Pairing only the coders present: s2's three coders each weigh 1/(3-1), s1's two 1/(2-1).
    assert res.alpha != unitized_alpha_sources({"s1": (both, 200), "s2": ({**trio, "cem": []}, 200)}).alpha
    old = unitized_alpha_sources({"s1": (both, 200), "s2": (trio, 200)}, method="2004")
    assert old.alpha is None and "same coders on every source" in old.notes[-1]


# --- size: a real project, not timed (the point is that it finishes without a character loop)


def _realistic(n_sources=100, length=20_000, coders=("ana", "ben", "cem"), n_codes=40, seed=1):
    """Each source: ~60 passages with a code each (overlapping across codes allowed); every
    coder moves the boundaries a little, misses some passages and adds a few of their own."""
    rng = random.Random(seed)
    sources = {}
    for n in range(n_sources):
        passages = []
        for _ in range(60):
            s = rng.randrange(length - 400)
            passages.append((s, s + rng.randint(20, 400), f"code{rng.randrange(n_codes)}"))
        spans = {}
        for c in coders:
            mine = []
            for s, e, v in passages:
                if rng.random() < 0.85:
                    s2 = max(0, s + rng.randint(-15, 15))
                    mine.append((s2, max(s2 + 1, min(length, e + rng.randint(-15, 15))), v))
            for _ in range(5):
                s = rng.randrange(length - 200)
                mine.append((s, s + rng.randint(10, 200), f"code{rng.randrange(n_codes)}"))
            spans[c] = mine
        sources[f"src{n}"] = (spans, length)
    return sources


def test_realistic_size_completes() -> None:
    sources = _realistic()
    new = unitized_alpha_sources(sources)
    assert len(new.per_category) == 40 and new.n_sources == 100 and new.length == 2_000_000
    assert all(v is not None and 0.3 < v < 1 for v in new.per_category.values())
    assert 0.3 < new.binary < 1 and 0.3 < new.joint < 1
    assert new.alpha is None  # the codes overlap within coders: see the note
    old = unitized_alpha_sources(sources, method="2004")
    assert len(old.per_category) == 40 and 0.3 < old.alpha < 1


# --- the documented example is real


def test_docs_example_runs_and_prints_what_the_docs_show(capsys) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "unitized-alpha.md").read_text(encoding="utf-8")
    code, shown = re.search(r"```python\n(.*?)```\s*```text\n(.*?)```", doc, re.S).groups()
    exec(compile(code, "docs/unitized-alpha.md", "exec"), {})
    assert capsys.readouterr().out == shown
