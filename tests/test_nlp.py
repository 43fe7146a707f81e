"""The pipelines: blank English needs no download; --model loads an installed pipeline or says how."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy

from qualkam.coding.nlp import load_pipeline
from qualkam.errors import ModelNotFoundError


def test_default_pipeline_is_offline_blank_english() -> None:
    nlp = load_pipeline()
    assert nlp.pipe_names == ["sentencizer", "lemmatizer", "qualkam_lower_lemma"]
    doc = nlp("The Account Plans were Followed. Meetings multiplied.")
    assert [t.lemma_ for t in doc][:5] == ["the", "account", "plan", "be", "follow"]
    assert len(list(doc.sents)) == 2


def test_a_named_pipeline_on_disk_is_loaded_and_given_sentences(tmp_path: Path) -> None:
    trained = spacy.blank("en")  # stands in for an installed trained pipeline, saved the same way
    trained.to_disk(tmp_path / "my_pipeline")
    nlp = load_pipeline(str(tmp_path / "my_pipeline"))
    assert "sentencizer" in nlp.pipe_names and nlp.pipe_names[-1] == "qualkam_lower_lemma"
    assert [t.lemma_ for t in nlp("Plans")] == ["plans"], "no lemmatizer in it: lower-case text"


def test_a_missing_pipeline_says_how_to_install_it() -> None:
    with pytest.raises(
        ModelNotFoundError, match=r"'en_core_web_zz' is not installed.*pip install en_core_web_zz.*leave out model"
    ):
        load_pipeline("en_core_web_zz")
