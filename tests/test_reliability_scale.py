"""Reliability and excerpts of a long codebook (issue 14): the fast paths give what the plain
computations give.

- per-code figures computed a block of codes at a time, with bootstrap sums from each unit's
  base plus the few cells that differ, equal one dense pass over all codes (exactly with two
  coders; with more, the sums of fractions may differ in the last bits);
- the set distances counted at once equal MASI and Jaccard called pair by pair;
- each coder's code sets equal the sets read cell by cell;
- the excerpts a report's budget keeps, chosen in SQL, are the ones the Python selection chose.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualkam.agreement import _binary
from qualkam.agreement._binary import per_code
from qualkam.agreement._sets import _distances, jaccard_distance, masi_distance
from qualkam.agreement.units import CodingData
from qualkam.analysis.excerpts import retrieve
from qualkam.coding.decisions import decide
from qualkam.render import report as report_module
from qualkam.render.report import build_report, per_code_cap
from qualkam.store.codings import excerpt_codings, excerpt_counts
from qualkam.store.layers import Layer

from .test_report_scale import _project


def _presence(coders: int, codes: int = 150, units: int = 300, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.random((codes, coders, units)) < 0.04).astype(float)
    x[:, coders - 1, :40] = np.nan  # the last coder did not see 40 units
    x[5] = 0.0  # a code nobody gave
    x[6] = np.nan  # a code nobody rated
    x[7] = 1.0  # a code everyone gave everywhere
    return x


def _one_dense_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_binary, "_BLOCK", 10**9)
    monkeypatch.setattr(_binary, "_sparse_sums", lambda terms, n1: None)


@pytest.mark.parametrize("method", ["coincidences", "units"])
def test_per_code_in_blocks_equals_one_dense_pass_with_two_coders(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    x, names = _presence(2), [f"c{i}" for i in range(150)]
    monkeypatch.setattr(_binary, "_BLOCK", 16)  # ten blocks, the last of 6 codes
    fast = per_code(x, names, replicates=200, seed=3, alpha_method=method)
    _one_dense_pass(monkeypatch)
    plain = per_code(x, names, replicates=200, seed=3, alpha_method=method)
    assert fast["alpha_low"].notna().sum() > 100  # intervals were computed
    pd.testing.assert_frame_equal(fast, plain, check_exact=True)


@pytest.mark.parametrize("coders", [3, 4])
def test_per_code_in_blocks_with_more_coders_same_points_intervals_within_1e12(
    monkeypatch: pytest.MonkeyPatch, coders: int
) -> None:
    x, names = _presence(coders), [f"c{i}" for i in range(150)]
    monkeypatch.setattr(_binary, "_BLOCK", 16)
    fast = per_code(x, names, replicates=200, seed=3)
    _one_dense_pass(monkeypatch)
    plain = per_code(x, names, replicates=200, seed=3)
    intervals = ["alpha_low", "alpha_high", "kappa_low", "kappa_high", "p_alpha_below_minimum"]
    pd.testing.assert_frame_equal(fast.drop(columns=intervals), plain.drop(columns=intervals), check_exact=True)
    pd.testing.assert_frame_equal(fast[intervals], plain[intervals], check_exact=False, rtol=0, atol=1e-12)


def test_set_distances_at_once_equal_pair_by_pair() -> None:
    rng = random.Random(0)
    elements = ["a", "b", "c", "d", "e", 1, 2]
    sets = list(dict.fromkeys([frozenset(), *(frozenset(rng.sample(elements, rng.randrange(5))) for _ in range(400))]))
    assert len(sets) > 50
    for metric in (masi_distance, jaccard_distance):
        pairwise = np.array([[metric(a, b) for b in sets] for a in sets])
        assert np.array_equal(_distances(sets, metric), pairwise)  # the same floats, not merely close
    assert _distances([frozenset()], masi_distance).tolist() == [[0.0]]


def test_code_sets_equal_the_cells() -> None:
    x = _presence(3, codes=30, units=80)
    codes = [f"c{i}" for i in range(30)]
    data = CodingData(["a", "b", "c"], codes, pd.DataFrame({"unit": range(80)}), x)
    expected = [
        [
            None
            if np.isnan(x[:, c, u]).any()
            else frozenset(code for code, v in zip(codes, x[:, c, u], strict=True) if v == 1)
            for u in range(80)
        ]
        for c in range(3)
    ]
    assert data.sets() == expected


def _python_selection(project, layer: str, cap: int | None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The report's selection before issue 14's second pass: every coding read, the first
    ``cap`` spans of each code kept in pandas."""
    codings = retrieve(project, layer=layer, by_coder=True)
    attached = codings["segment"].notna().to_numpy()
    keys = pd.DataFrame(
        {
            "code": codings["code"].to_numpy(),
            "source": codings["source"].to_numpy(),
            "start": codings["start"].where(attached, -codings["coding_id"]).astype("int64").to_numpy(),
            "end": codings["end"].where(attached, -1).astype("int64").to_numpy(),
        }
    )
    spans = keys.drop_duplicates()
    if cap is not None:
        kept = pd.MultiIndex.from_frame(spans.groupby("code", sort=False).head(cap))
        codings = codings[pd.MultiIndex.from_frame(keys).isin(kept)]
    return codings.reset_index(drop=True)


@pytest.mark.parametrize("layer", ["auto", "all", "suggestions"])
def test_the_budget_query_keeps_what_the_python_selection_kept(tmp_path: Path, layer: str) -> None:
    with _project(tmp_path, codes=40, sources=2, turns=30, per_turn=2) as project:
        suggestions = retrieve(project, layer="suggestions", by_coder=True)
        rng = random.Random(14)
        with project.transaction():  # two coders decide on some suggestions: several codings per span
            for row in suggestions.sample(frac=0.3, random_state=14).itertuples():
                for coder in ("ana", "ben"):
                    decide(project, coder, int(row.segment), str(row.code), rng.choice(["accept", "reject"]))
        parsed = Layer.parse(layer)
        counts = excerpt_counts(project, parsed)
        whole = _python_selection(project, layer, None)
        spans = whole.groupby("code", sort=False).apply(
            lambda g: len(set(zip(g["source"], g["start"], g["end"], strict=True))), include_groups=False
        )
        assert counts == {str(k): int(v) for k, v in spans.items()}
        for cap in (1, 2, 5, None):
            expected = _python_selection(project, layer, cap)
            got = retrieve(project, layer=layer, by_coder=True, per_code=cap)
            assert len(got) < len(whole) if cap == 1 else len(got) <= len(whole)  # one per code cuts
            pd.testing.assert_frame_equal(got.reset_index(drop=True), expected)
            plain = excerpt_codings(project, parsed, per_code=cap)
            assert list(plain["coding_id"]) == list(expected["coding_id"])
        assert per_code_cap(list(counts.values()), budget=20) == 1


def test_the_report_lists_only_codes_someone_applied_and_collapses_a_long_reliability_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _project(tmp_path, codes=40, sources=2, turns=20, per_turn=2) as project:
        suggestions = retrieve(project, layer="suggestions", by_coder=True)
        picked = suggestions[suggestions["code"].isin(["c0001", "c0002", "c0003"])]
        with project.transaction():
            for row in picked.itertuples():
                decide(project, "ana", int(row.segment), str(row.code), "accept")
                decide(project, "ben", int(row.segment), str(row.code), "accept" if row.code != "c0003" else "reject")
        page = build_report(project)
        monkeypatch.setattr(report_module, "TABLE_ROWS", 2)
        collapsed = build_report(project)
    section = page.split('id="reliability"')[1].split("</section>")[0]
    assert "3 codes." in section
    assert "The other 37 of the project's 40 codes are not listed: no coder applied them" in section
    assert "<details" not in section
    rows = section.split("<tbody>")[1].split("</tbody>")[0]
    assert [f"c000{i}" in rows for i in (1, 2, 3, 4)] == [True, True, True, False]
    long = collapsed.split('id="reliability"')[1].split("</section>")[0]
    assert '<details class="more"><summary>Every code (3)</summary>' in long
