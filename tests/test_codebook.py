"""Codebook validation (every problem, with file, line and field) and phase assignment."""

from __future__ import annotations

import pytest

from qualkam.coding.codebook import load_codebook, parse_codebook
from qualkam.errors import CodebookError, InputError

from .conftest import SMALL_CODEBOOK

BROKEN = """\
name: Broken
version: "1"
phases:
  - {id: pre_kam, label: Pre-KAM}
  - {id: pre_kam, label: Again}
phase_rules:
  - {phase: nowhere, attribute: meeting_number, min: 1, max: 3}
  - phase: pre_kam
    date: {from: 2011-02-30, to: 2011-01-01}
  - {phase: pre_kam, attribute: meeting_number, min: 5, max: 2}
codes:
  - id: a
    label: A
    color: blue
    patterns:
      lemmas: []
      tokens:
        - [{LEMMA: {IN: follow}}]
        - []
  - id: a
    label: Duplicate
  - id: b
    label: B
    parent: ghost
    patterns:
      lemmas: ["", ok]
      wrong_key: [x]
  - id: 9bad
    label: Bad id
"""


def test_every_problem_is_listed_with_line_and_field() -> None:
    with pytest.raises(CodebookError) as caught:
        parse_codebook(BROKEN, "books/broken.yaml")
    problems = caught.value.problems
    text = "\n".join(problems)
    expected = [
        "books/broken.yaml:5: phases[1].id: duplicate phase id 'pre_kam'",
        "books/broken.yaml:7: phase_rules[0].phase: unknown phase 'nowhere'",
        "books/broken.yaml:9: phase_rules[1].date.from: '2011-02-30' is not a date",
        "books/broken.yaml:10: phase_rules[2]: min 5 is above max 2",
        "books/broken.yaml:14: code 'a'.color: 'blue' is not a colour",
        "books/broken.yaml:16: code 'a'.patterns.lemmas: is empty",
        "books/broken.yaml:17: code 'a'.patterns.tokens[0]: spaCy rejects this pattern",
        "books/broken.yaml:17: code 'a'.patterns.tokens[1]: a token pattern must be a non-empty list",
        "books/broken.yaml:20: code 'a': duplicate code id (first defined on line 12)",
        "books/broken.yaml:26: code 'b'.patterns.lemmas: empty or non-text entry ''",
        "books/broken.yaml:27: code 'b'.patterns: unknown field(s) ['wrong_key']",
        "books/broken.yaml:28: codes[3].id: '9bad' is not a valid code id",
        "books/broken.yaml:22: code 'b'.parent: unknown parent 'ghost'",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in problems), f"missing: {line}\n--- got:\n{text}"
    assert len(problems) == len(expected)


def test_reversed_dates_and_yaml_syntax_errors() -> None:
    reversed_dates = SMALL_CODEBOOK.replace(
        "date: {from: 2011-01-01, to: 2011-08-31}", "date: {from: 2011-09-01, to: 2011-08-31}"
    )
    with pytest.raises(
        CodebookError, match=r"x.yaml:9: phase_rules\[1\].date: 'from' 2011-09-01 is after 'to' 2011-08-31"
    ):
        parse_codebook(reversed_dates, "x.yaml")
    with pytest.raises(CodebookError, match=r"x.yaml:4: not valid YAML: expected the node content"):
        parse_codebook("name: x\nversion: 1\ncodes: [\n  - {\n", "x.yaml")


def test_parent_loops_and_nested_parent_mismatch() -> None:
    text = 'name: x\nversion: "1"\ncodes:\n  - {id: a, label: A, parent: b}\n  - {id: b, label: B, parent: a}\n'
    with pytest.raises(CodebookError, match="loops back"):
        parse_codebook(text, "x.yaml")
    text = (
        'name: x\nversion: "1"\ncodes:\n  - id: a\n    label: A\n    children:\n'
        "      - {id: b, label: B, parent: c}\n  - {id: c, label: C}\n"
    )
    with pytest.raises(CodebookError, match="nested under 'a'"):
        parse_codebook(text, "x.yaml")


def test_model_only_attributes_warn() -> None:
    text = SMALL_CODEBOOK.replace(
        "[{LEMMA: follow}, {LOWER: the}, {LEMMA: procedure}]", "[{POS: VERB}, {LEMMA: procedure}]"
    )
    book = parse_codebook(text, "x.yaml")
    assert any("only a trained pipeline" in w for w in book.warnings)


def test_tree_and_phase_rules(small_codebook) -> None:
    assert [c.id for c in small_codebook.roots()] == ["control"]
    assert [c.id for c in small_codebook.children("control")] == ["hard_control", "soft_control"]
    assert [a.id for a in small_codebook.ancestors("soft_control")] == ["control"]
    resolve = small_codebook.resolve_phase
    assert resolve(None, "2011-05-01", {}) == ("pre_kam", None)
    assert resolve(None, "2011-05-01", {"meeting_number": 10}) == ("formal_kam", None), "rules apply in order"
    assert resolve(None, "2014-01-01", {}) == (None, None)
    assert resolve("FORMAL KAM", None, {}) == ("formal_kam", None)
    phase, problem = resolve("post", None, {})
    assert phase is None and "not in the codebook" in problem


def test_missing_codebook_and_builtin_name(tmp_path) -> None:
    with pytest.raises(InputError, match="codebook not found: nope.yaml"):
        load_codebook("nope.yaml")
    with pytest.raises(InputError, match="is a folder"):
        load_codebook(tmp_path)
    assert load_codebook("kam").name
