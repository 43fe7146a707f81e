"""The default codebook encodes the whole framework of ../shared/docs/kam-framework.md."""

from __future__ import annotations

import pytest

from qualkam.coding.codebook import load_codebook, resolve_path
from qualkam.coding.nlp import load_pipeline
from qualkam.coding.suggest import Suggester

from .conftest import ROOT

DIMENSIONS = [
    "bureaucratic_disposition",
    "division_of_labour",
    "social_ordering",
    "kam_importance",
    "mode_of_control",
    "decision_making",
    "vision",
    "locale_of_power",
    "objective",
]


@pytest.fixture(scope="module")
def kam():
    return load_codebook("kam")


def test_builtin_name_is_the_shipped_file_and_the_top_level_copy(kam) -> None:
    shipped = resolve_path("kam")
    assert shipped.parent.name == "codebooks" and shipped.parent.parent.name == "qualkam"
    assert (ROOT / "codebooks" / "kam.yaml").read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8")
    assert kam.warnings == []


def test_four_phases_of_the_uk_study(kam) -> None:
    assert [p.id for p in kam.phases] == ["pre_kam", "kam_implementation", "formal_kam", "post_bureaucratic_kam"]
    assert kam.resolve_phase(None, None, {"meeting_number": 3})[0] == "kam_implementation"
    assert kam.resolve_phase(None, None, {"meeting_number": 9})[0] == "formal_kam"
    assert kam.resolve_phase(None, None, {"meeting_number": 13})[0] == "post_bureaucratic_kam"


def test_nine_dimensions_each_with_two_poles(kam) -> None:
    for dimension in DIMENSIONS:
        poles = kam.children(dimension)
        assert {c.id for c in poles} == {f"{dimension}_formal", f"{dimension}_post_bureaucratic"}
        for code in poles:
            assert code.attributes["dimension"] == dimension
            assert code.attributes["pole"] == code.id.removeprefix(f"{dimension}_")
    assert kam.codes["mode_of_control"].parent == "kam_framework"


def test_creep_coordination_and_japan_themes(kam) -> None:
    assert len(kam.children("bureaucratic_creep")) == 7
    assert {c.id for c in kam.children("coordination")} == {
        "front_end_coordination",
        "back_end_coordination",
        "organisational_transformation",
    }
    assert {c.id for c in kam.children("japan_themes")} == {
        "kam_vs_non_kam_unit",
        "formalisation_centralisation",
        "knowledge_sharing",
        "customer_kpis",
        "sfa_crm",
    }


def test_every_code_is_written_for_a_coder(kam) -> None:
    for code in kam.codes.values():
        assert len(code.definition) > 80, code.id
        assert code.include and code.exclude, code.id
        leaf = not kam.children(code.id)
        if leaf:
            assert len(code.patterns.lemmas) >= 5 and code.patterns.tokens, code.id


def test_every_lemma_phrase_finds_itself(kam) -> None:
    """A phrase that cannot match its own words is dead; catch typos and lemma surprises."""
    nlp = load_pipeline()
    suggester = Suggester(kam, nlp)
    for code in kam.codes.values():
        for phrase in code.patterns.lemmas:
            doc = nlp(phrase)
            hits = {cid for cid, _ in suggester.matches(doc)}
            excluded = any(ex in phrase for ex in code.patterns.exclude_lemmas)
            assert code.id in hits or excluded, f"{code.id}: {phrase!r} does not match itself"
