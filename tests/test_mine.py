"""``qualkam codebook suggest-patterns`` (issue 15): candidates mined from people's codings, each
with its precision and recall on the project, and a patterns block that pastes into a codebook."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.codebook import parse_codebook
from qualkam.coding.mine import Candidate, suggest_patterns, yaml_snippet
from qualkam.errors import QualkamError
from qualkam.store.project import Project

from .test_learn import WORDS, build_project


@pytest.fixture(scope="module")
def coded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(tmp_path_factory.mktemp("mine"))


def test_candidates_are_the_code_s_own_words_with_their_precision_and_recall(coded: Path) -> None:
    with Project.open(coded) as project:
        found, positives, scored = suggest_patterns(project, "budget", "coder:ana", top=40)
    assert positives == 18 and scored == 48  # 3 budget turns in each of ana's 6 interviews, 8 turns each
    phrases = {" ".join(c.words): c for c in found if c.kind == "lemmas"}
    own = [w for w in WORDS["budget"] if w in phrases]
    assert len(own) >= 5  # the budget words are found ...
    assert not set(phrases) & set(WORDS["trust"] + WORDS[None])  # ... and no other code's words
    for word in own:
        c = phrases[word]
        assert c.precision == 1.0 and c.coded == c.matched and c.recall == c.coded / 18
    assert found == sorted(found, key=lambda c: (-c.f1, -c.precision, len(c.words), c.kind, c.words))
    assert all(c.words[0] not in ("the", "and", "we") for c in found)  # no phrase opens with a stop word
    budget = phrases["budget"]
    assert budget.in_codebook  # the codebook's own lemma phrase, marked, and not pasted again
    assert "budget" not in yaml.safe_load(yaml_snippet(found))["patterns"]["lemmas"]


def test_suggest_patterns_refuses_what_it_cannot_do(coded: Path) -> None:
    with Project.open(coded) as project:
        with pytest.raises(QualkamError, match="did you mean"):
            suggest_patterns(project, "budgte", "coder:ana")
        with pytest.raises(QualkamError, match="no segment is coded talk"):
            suggest_patterns(project, "talk", "coder:ana")


def test_suggest_patterns_on_the_command_line(coded: Path) -> None:
    done = CliRunner().invoke(app, ["codebook", "suggest-patterns", "trust", "--from", "coder:ana", "-p", str(coded)])
    assert done.exit_code == 0, done.output
    assert "patterns for trust" in done.stdout and "to paste under the code" in done.stdout
    assert "  lemmas: [" in done.stdout and "gut" in done.stdout.split("to paste under the code", 1)[1]


words = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=12)


@given(st.lists(st.tuples(st.sampled_from(["lemmas", "tokens"]), st.lists(words, min_size=2, max_size=3)), max_size=6))
def test_the_pasted_block_is_a_valid_codebook_block_holding_the_very_words(made: list) -> None:
    candidates = [
        Candidate(kind, tuple(ws[:2]) if kind == "tokens" else tuple(ws), 3, 2, 4, False) for kind, ws in made
    ]
    snippet = yaml_snippet(candidates)
    if not candidates:
        assert snippet == ""
        return
    loaded = yaml.safe_load(snippet)["patterns"]
    assert loaded.get("lemmas", []) == [" ".join(c.words) for c in candidates if c.kind == "lemmas"]
    assert loaded.get("tokens", []) == [c.pattern() for c in candidates if c.kind == "tokens"]
    body = "\n".join("    " + line for line in snippet.splitlines())
    book = parse_codebook(f'name: t\nversion: "1"\ncodes:\n  - id: c\n    label: C\n{body}\n', "mined.yaml")
    assert book.codes["c"].patterns.lemmas == [" ".join(c.words).strip() for c in candidates if c.kind == "lemmas"]
