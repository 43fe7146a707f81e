"""Issue 11: a codebook's patterns are validated completely when it loads, every error listed
with its path; nothing that loads can crash or hang matching. Hostile codebooks built fresh."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qualkam.coding.codebook import parse_codebook, regex_problem
from qualkam.errors import CodebookError, QualkamError

from .conftest import run_cli, write

HEAD = 'name: t\nversion: "1"\ncodes:\n'


def _book(*patterns: str) -> str:
    return HEAD + "".join(
        f"  - id: c{i}\n    label: c{i}\n    patterns:\n      tokens:\n        - {p}\n" for i, p in enumerate(patterns)
    )


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ('[{TEXT: {REGEX: "(unclosed"}}]', "not a valid regular expression"),
        ('[{LOWER: a, OP: "{99999999999}"}]', "repeats a token more than 100 times"),
        ('[{LOWER: a, OP: "{2,99999999999}"}]', "repeats a token more than 100 times"),
        ('[{LOWER: a, OP: "{2,1}"}]', "Unknown operator"),
        ("[{FOO: a}]", "FOO"),
        ('[{TEXT: {REGEX: "^(a+)+$"}}]', "a repeat inside a repeat"),
        ('[{LOWER: {REGEX: "(\\\\w*\\\\s?)*x"}}]', "a repeat inside a repeat"),
        ('[{LOWER: {REGEX: "^(a|ab)+$"}}]', "alternatives inside a repeat"),
        ("[{LOWER: {REGEX: 12}}]", "must be a text"),
        ("[{_: {mood: happy}}]", "custom attributes"),  # spaCy loads it, then fails on every document
    ],
)
def test_each_bad_pattern_is_listed_with_its_path(pattern: str, message: str) -> None:
    with pytest.raises(CodebookError) as caught:
        parse_codebook(_book("[{LOWER: fine}]", pattern, pattern), "b.yaml")
    problems = caught.value.problems
    assert len(problems) == 2, problems  # both codes with the bad pattern, the good one not
    assert problems[0].startswith("b.yaml:") and "code 'c1'.patterns.tokens[0]" in problems[0]
    assert message in problems[0]


def test_safe_regexes_still_load() -> None:
    for expression in ("^(cat|dog)s?$", "^(x|\\w)+$", "colou?r", "^[a-z]+(ing|ed)$", "(?>a+)+b"):
        assert regex_problem(expression) is None, expression


def test_a_1100_level_parent_chain_is_refused_and_a_loop_named(runner: CliRunner, tmp_path) -> None:
    chain = (
        HEAD
        + "  - {id: c0, label: c0}\n"
        + "".join(f"  - {{id: c{i}, label: c{i}, parent: c{i - 1}}}\n" for i in range(1, 1100))
    )
    path = write(tmp_path / "chain.yaml", chain)
    started = time.monotonic()
    for command in ("validate", "show"):
        result = run_cli(runner, "codebook", command, path)
        assert result.exit_code == 2, result.output
        assert "more than 50 levels deep" in result.output
    assert time.monotonic() - started < 20
    loop = (
        HEAD + "  - {id: a, label: a, parent: c}\n  - {id: b, label: b, parent: a}\n  - {id: c, label: c, parent: b}\n"
    )
    with pytest.raises(CodebookError, match="loops back"):
        parse_codebook(loop, "loop.yaml")


def test_show_prints_a_deep_but_allowed_tree(runner: CliRunner, tmp_path) -> None:
    chain = (
        HEAD
        + "  - {id: c0, label: c0}\n"
        + "".join(f"  - {{id: c{i}, label: c{i}, parent: c{i - 1}}}\n" for i in range(1, 12))
    )
    result = run_cli(runner, "codebook", "show", write(tmp_path / "c.yaml", chain))
    assert result.exit_code == 0 and "c11" in result.output


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (HEAD + "  - &a {id: a, label: a, children: [*a]}\n", "recursive"),
        (
            "x: &a [1,2,3,4,5,6,7,8,9]\n"
            + "".join(f"x{n}: &{chr(98 + n)} [{','.join(['*' + chr(97 + n)] * 9)}]\n" for n in range(6)),
            "expands to more than",
        ),
        (HEAD + '  - {id: a, label: "\\ud800"}\n', "lone surrogate"),
        ("name: " + "[" * 1000 + "]" * 1000 + "\n", "nesting depth"),
    ],
)
def test_hostile_yaml_in_a_codebook_is_a_codebook_error(yaml_text: str, message: str) -> None:
    with pytest.raises(CodebookError, match=message):
        parse_codebook(yaml_text, "b.yaml")


_ATTRS = st.sampled_from(
    [
        "LOWER",
        "TEXT",
        "LEMMA",
        "ORTH",
        "NORM",
        "IS_PUNCT",
        "LENGTH",
        "OP",
        "FOO",
        "_",
        "POS",
        "lower",
        "SHAPE",
        "LIKE_NUM",
        "IS_SENT_START",
    ]
)
_PREDICATES = st.sampled_from(["REGEX", "IN", "NOT_IN", "FUZZY", "==", ">=", "<", "IS_SUBSET", "BAD", "INTERSECTS"])
_LEAF = st.one_of(
    st.text(max_size=12),
    st.integers(-5, 10**12),
    st.booleans(),
    st.none(),
    st.sampled_from(
        ["+", "*", "?", "!", "{2}", "{1,3}", "{99999999999}", "{,5}", "{3,}", "(a+)+$", "[", "^(a|ab)+$", "\\w+"]
    ),
)
_VALUE = st.one_of(
    _LEAF,
    st.lists(_LEAF, max_size=3),
    st.dictionaries(_PREDICATES, st.one_of(_LEAF, st.lists(_LEAF, max_size=3)), max_size=2),
)
_TOKEN = st.dictionaries(_ATTRS, _VALUE, max_size=3)
_PATTERN = st.lists(_TOKEN, max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PATTERN, min_size=1, max_size=3))
def test_any_token_patterns_either_load_or_are_a_codebook_error_and_loaded_ones_match_safely(patterns) -> None:
    from qualkam.coding.nlp import load_pipeline
    from qualkam.coding.suggest import Suggester

    text = (
        HEAD + "  - id: a\n    label: a\n    patterns:\n      tokens: " + json.dumps(patterns, ensure_ascii=True) + "\n"
    )
    try:
        book = parse_codebook(text, "h.yaml")
    except CodebookError as exc:
        assert all(p.startswith("h.yaml:") for p in exc.problems)
        return
    nlp = load_pipeline()
    try:
        suggester = Suggester(book, nlp)
    except QualkamError as exc:  # POS, TAG, MORPH or DEP: the blank pipeline sets none of them
        # the library names its argument; the CLI words it as its flag
        assert "does not set" in str(exc) and exc.argument == "model" and "--model" in exc.worded("--model")
        return
    doc = nlp("We follow the procedure, aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa! 12 abababababababababababab?")
    started = time.monotonic()
    suggester.matches(doc)
    assert time.monotonic() - started < 2


def test_a_pattern_on_pos_with_the_blank_pipeline_stops_the_run_once_and_clearly(tmp_path, runner) -> None:
    """spaCy's Matcher raised E155 on every document (a 'bug' per file); now one exit 2 up front."""
    book = write(
        tmp_path / "pos.yaml",
        HEAD + "  - id: verbs\n    label: Verbs\n    patterns:\n      tokens:\n        - [{POS: VERB}]\n",
    )
    write(tmp_path / "src" / "a.txt", "I: What happened?\nR: We follow the procedure.\n")
    result = run_cli(
        runner, "code", tmp_path / "src", "--codebook", book, "--project", tmp_path / "p.db", "--out", tmp_path / "out"
    )
    assert result.exit_code == 2, result.output
    assert "POS (code verbs)" in result.output and "--model" in result.output and "bug" not in result.output
