"""Reliability data from people's codings: coverage decides what is 0 and what is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qualkam.agreement.units import coder_spans, coding_data
from qualkam.coding.decisions import decide
from qualkam.errors import QualkamError
from qualkam.store.project import Project

from .conftest import code_two_sources, source_texts


@pytest.fixture
def coded(tmp_path: Path, small_codebook, project: Project) -> Project:
    seg = code_two_sources(tmp_path, small_codebook, project)
    decide(project, "ana", seg["How were the"], "hard_control", "accept")
    decide(project, "ana", seg["Honestly, no"], "soft_control", "accept")
    decide(project, "ben", seg["How were the"], "hard_control", "reject")
    decide(project, "ben", seg["Honestly, no"], "soft_control", "accept")
    decide(project, "ben", seg["We trust eac"], "soft_control", "accept")
    return project


def test_presence_with_coverage(coded: Project) -> None:
    data = coding_data(coded)
    assert data.coders == ["ana", "ben"] and data.codes == ["hard_control", "soft_control"]
    units = list(data.units["text"].str[:12])
    hard, soft = data.presence
    assert [hard[0][units.index(t)] for t in ("How were the", "They came fr", "Honestly, no")] == [1.0, 0.0, 0.0]
    assert np.isnan(hard[0][units.index("We trust eac")]), "ana never opened int-b: missing, not absent"
    assert soft[1][units.index("We trust eac")] == 1.0
    assert hard[1][units.index("How were the")] == 0.0, "a rejected suggestion is an absence"
    sets = data.sets()
    assert sets[0][units.index("Honestly, no")] == frozenset({"soft_control"})
    assert sets[0][units.index("We trust eac")] is None


def test_sentence_units_split_segments(coded: Project) -> None:
    data = coding_data(coded, unit="sentence")
    texts = list(data.units["text"])
    assert "Honestly, now we trust each other." in texts and "Gut feelings matter." in texts
    soft = data.presence[1]
    assert soft[0][texts.index("Gut feelings matter.")] == 1.0, "a whole-segment coding covers its sentences"


def test_character_spans_source_by_source(coded: Project) -> None:
    coders, codes, sources = coder_spans(coded)
    spans, length = sources["int-sales"]
    assert length == len(source_texts(coded)["int-sales"])
    assert [code for *_, code in spans["ana"]] == ["hard_control", "soft_control"]
    assert [code for *_, code in spans["ben"]] == ["soft_control"]
    assert list(sources["int-b"][0]) == ["ben"], "ana never opened int-b: she is missing there"


def test_not_enough_coders_or_unknown_ones(coded: Project) -> None:
    with pytest.raises(QualkamError, match="at least two coders"):
        coding_data(coded, coders=["ana"])
    with pytest.raises(QualkamError, match="unknown coder"):
        coding_data(coded, coders=["ana", "zed"])
    with pytest.raises(QualkamError, match="unknown unit 'word' in unit"):
        coding_data(coded, unit="word")
