"""Lemma-aware search: inflected and capitalised variants match; unrelated segments don't."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.analysis.search import parse_query, search
from qualkam.errors import QualkamError
from qualkam.store.project import Project

from .conftest import run_cli as _run
from .test_retrieval import build_corpus


@pytest.fixture
def coded(tmp_path: Path):
    with Project.open(build_corpus(tmp_path)) as project:
        yield project


def _found(project: Project, *query: str, **filters) -> list[str]:
    """First words of each matching segment."""
    return [
        text.split(" ")[0] + " " + text.split(" ")[1] for text in search(project, list(query), **filters).hits["text"]
    ]


def test_plural_and_capitalised_variants_find_each_other(coded: Project) -> None:
    for query in ("account plans", "Account Plan", "ACCOUNT PLANNING", "account plan"):
        result = search(coded, [query])
        assert result.total == 1 and result.phrases == [("account", "plan")], query
        hit = result.hits.iloc[0]
        assert hit["speaker"] == "Ana Lopez" and hit["codes"] == []
        assert [m["text"] for m in hit["matches"]] == ["account plans", "Account Plan"]
        assert [hit["text"][m["start"] - hit["start"] : m["end"] - hit["start"]] for m in hit["matches"]] == [
            "account plans",
            "Account Plan",
        ]  # offsets are source offsets, like evidence


def test_phrases_keep_word_order_and_unrelated_segments_stay_out(coded: Project) -> None:
    assert _found(coded, "plan account") == []
    assert _found(coded, "version") == ["The account"]
    assert len(search(coded, ["trust"]).hits) == 2  # Sarah's and Tom's turns, not the rest
    assert _found(coded, "trusting each other") == _found(coded, "trust each other")


def test_several_terms_must_all_occur_and_quotes_mark_phrases(coded: Project) -> None:
    assert parse_query(['"account plan" version', "x"]) == ["account plan", "version", "x"]
    assert parse_query(["account plan"]) == ["account plan"]
    assert _found(coded, "trust", "gut") == ["Honestly, now"]
    assert _found(coded, "trust", "version") == []
    assert len(search(coded, ['"account plan" version']).hits) == 1
    assert search(coded, ['"account plan" trust']).total == 0
    with pytest.raises(QualkamError, match="no words"):
        search(coded, ["  ...  "])


def test_filters_limit_and_segments_without_stored_lemmas(coded: Project) -> None:
    assert _found(coded, "trust", phases=["pre_kam"]) == ["Honestly, now"]
    assert len(search(coded, ["sales target"], codes=["hard_control"]).hits) == 2
    assert search(coded, ["sales target"], codes=["soft_control"]).total == 0
    assert _found(coded, "trust", source_types=["meeting"]) == ["We trust"]
    limited = search(coded, ["trust"], limit=1)
    assert limited.total == 2 and len(limited.hits) == 1
    # a project coded before lemmas were stored: the pipeline lemmatizes on the fly
    coded.conn.execute("UPDATE segments SET lemmas = NULL")
    assert search(coded, ["Account Plans"]).total == 1
    assert search(coded, ["trust"]).hits.iloc[0]["codes"] == ["soft_control"]
    with pytest.raises(QualkamError, match="unknown phase 'later'"):
        search(coded, ["trust"], phases=["later"])


def test_cli_formats_and_exit_codes(runner: CliRunner, tmp_path: Path) -> None:
    db = build_corpus(tmp_path)
    table = _run(runner, "search", "account plans", "-p", db)
    assert table.exit_code == 0 and "1 segment(s) match" in table.stdout and "meeting-09" in table.stdout
    data = json.loads(_run(runner, "search", "trust", "--format", "json", "-p", db).stdout)
    assert [d["source"] for d in data] == ["int-sales", "meeting-09"]
    assert [m["text"] for m in data[1]["matches"]] == ["trust"] and data[1]["codes"] == ["soft_control"]
    rows = list(csv.DictReader(io.StringIO(_run(runner, "search", "Account", "Plan", "-f", "csv", "-p", db).stdout)))
    assert len(rows) == 1 and rows[0]["matches"].startswith("account @") and "Account @" in rows[0]["matches"]
    limited = _run(runner, "search", "trust", "--limit", "1", "-p", db)
    assert "2 segment(s) match" in limited.stdout and "showing 1" in limited.stdout
    none = _run(runner, "search", "budget", "-p", db)
    assert none.exit_code == 0 and none.stdout == "" and "no segments match" in none.stderr
    bad = _run(runner, "search", "trust", "--phase", "later", "-p", db)
    assert bad.exit_code == 2 and "pre_kam" in bad.stderr
    assert "Usage" in _run(runner, "search", "--help").stdout
