"""The names of spaCy pipelines, importable without spaCy: a run that codes nothing (every
source unchanged) records and compares these names but never loads spaCy (issue 14)."""

from __future__ import annotations

DEFAULT_PIPELINE = "blank:en"


def pipeline_name(model: str | None) -> str:
    """The name recorded with each coding run, so a re-run with another model re-suggests."""
    return model or DEFAULT_PIPELINE
