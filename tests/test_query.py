"""Coding queries (issue 16, point 1): hand-computed answers on a small project written here,
the parser's errors and properties, the sample project against an independent reading of
the gold codings, and a real meeting from ../shared."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qualkam.analysis.query import (
    And,
    Code,
    Context,
    Near,
    Not,
    Or,
    QueryError,
    count_by,
    evaluate,
    excerpts,
    layer_segments,
    matching_segments,
    parse,
    run_query,
    scope,
    show,
)
from qualkam.coding.codebook import load_codebook
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.project import Project
from qualkam.store.reads import code_tree, descendants
from qualkam.store.segments import segments

from .conftest import ROOT, SHARED, needs_shared, write
from .conftest import run_cli as _run

CODEBOOK = """\
name: Query test codebook
version: "1"
phases:
  - {id: early, label: Early days}
  - {id: late, label: Late days}
codes:
  - id: money
    label: Money
    children:
      - id: funding
        label: Funding
        attributes: {kind: cash}
        patterns: {lemmas: [budget]}
      - id: pay
        label: Pay
        attributes: {kind: cash}
        patterns: {lemmas: [salary]}
  - id: hiring
    label: Hiring
    patterns: {lemmas: [recruit]}
  - id: morale
    label: Morale
    patterns: {lemmas: [morale]}
"""

# Meeting A (early): six turns; interview B (late): four turns. The codes the rules find, by
# position: A0 funding, A1 hiring, A2 morale, A3 funding+hiring, A4 none, A5 hiring;
# B0 pay, B1 pay+morale, B2 none, B3 hiring.
MEETING = """\
---
id: meet-a
type: meeting
date: 2011-03-01
phase: early
site: London
participants:
  Ann: {role: Manager, unit: Sales}
  Bob: {role: Engineer}
  Cat: {role: Engineer}
---
Ann: We need budget [bold]now[/bold] for this.
Bob: And we must recruit two people.
Ann: Team morale is low.
Bob: The budget covers it, and we recruit in May.
Cat: Nothing to add | really.
Ann: I want to recruit soon.
"""

INTERVIEW = """\
---
id: int-b
type: interview
date: 2012-06-01
phase: late
site: Leeds
participants:
  I: Researcher
  Dan: {role: Engineer}
---
I: What about the salary?
Dan: The salary is low and morale is lower.
I: Anything else?
Dan: We recruit nobody.
"""


def build(root: Path) -> Path:
    write(root / "book.yaml", CODEBOOK)
    write(root / "src" / "a.md", MEETING)
    write(root / "src" / "b.md", INTERVIEW)
    with Project.open(root / "q.db", create=True) as project:
        code_folder(root / "src", load_codebook(root / "book.yaml"), project, out_dir=None)
    return root / "q.db"


@pytest.fixture
def small(tmp_path: Path):
    with Project.open(build(tmp_path)) as project:
        yield project


def ids(project: Project) -> dict[str, int]:
    """'A0' ... 'B3' -> segment id, read as the library reads segments."""
    frame = segments(project)
    letter = {"meet-a": "A", "int-b": "B"}
    return {
        f"{letter[s]}{int(p)}": int(i) for s, p, i in frame[["source", "position", "segment"]].itertuples(index=False)
    }


def found(project: Project, query: str, where=None, layer: str = "auto") -> set[str]:
    names = {v: k for k, v in ids(project).items()}
    return {names[s] for s in run_query(project, query, where=where, layer=layer).segment_ids}


def test_the_fixture_is_coded_as_the_comment_says(small: Project) -> None:
    seg = ids(small)
    assert len(seg) == 10 and {"A5", "B3"} <= set(seg)
    assert found(small, "funding") == {"A0", "A3"}
    assert found(small, "hiring") == {"A1", "A3", "A5", "B3"}
    assert found(small, "morale") == {"A2", "B1"}
    assert found(small, "pay") == {"B0", "B1"}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("money", {"A0", "A3", "B0", "B1"}),  # a parent code: itself or any code below it
        ("attr:kind=cash", {"A0", "A3", "B0", "B1"}),
        ("funding AND hiring", {"A3"}),
        ("funding and hiring", {"A3"}),  # keywords in any case
        ("money AND morale", {"B1"}),
        ("funding OR morale", {"A0", "A2", "A3", "B1"}),
        ("hiring AND NOT funding", {"A1", "A5", "B3"}),
        ("NOT (money OR hiring OR morale)", {"A4", "B2"}),
        ("NOT money OR hiring AND morale", {"A1", "A2", "A4", "A5", "B2", "B3"}),  # NOT, then AND, then OR
        ("funding NEAR/0 hiring", {"A3"}),
        ("funding NEAR/1 hiring", {"A0", "A1", "A3"}),
        ("funding NEAR/2 hiring", {"A0", "A1", "A3", "A5"}),
        ("pay NEAR/5 funding", set()),  # never across sources
        ("funding SAME-SPEAKER hiring", {"A0", "A1", "A3", "A5"}),  # Ann A0~A5, Bob A1~A3
        ("funding SAME-SPEAKER/1 hiring", {"A3"}),
        ("funding SAME-SPEAKER/2 hiring", {"A1", "A3"}),
        ("morale SAME-SPEAKER money", {"A0", "A2", "B1"}),
        ("(funding NEAR/1 hiring) AND NOT funding", {"A1"}),
    ],
)
def test_hand_computed_answers(small: Project, query: str, expected: set[str]) -> None:
    assert found(small, query) == expected


def test_scope_by_any_attribute(small: Project) -> None:
    assert found(small, "hiring", where=["speaker=Bob"]) == {"A1", "A3"}
    assert found(small, "hiring", where={"source_type": "interview"}) == {"B3"}
    assert found(small, "hiring", where=["type=INTERVIEW"]) == {"B3"}  # an alias, any case
    assert found(small, "hiring", where=["role=engineer"]) == {"A1", "A3", "B3"}
    assert found(small, "hiring", where=["role=Engineer", "role=Manager"]) == {"A1", "A3", "A5", "B3"}  # OR
    assert found(small, "hiring", where=["role=Engineer", "phase=early"]) == {"A1", "A3"}  # AND
    assert found(small, "hiring", where=["phase=Late days"]) == {"B3"}  # a phase by its label
    assert found(small, "hiring", where=["site=Leeds"]) == {"B3"}  # a source attribute
    assert found(small, "hiring", where=["unit=Sales"]) == {"A5"}
    # NOT and NEAR stay inside the scope: Cat's turn is the only segment without a code in it
    assert found(small, "NOT hiring", where=["role=Engineer"]) == {"A4", "B1"}
    # Bob's turns only (Ann's A0 is out), distances in the source's positions: A1 and A3 are 2 apart
    assert found(small, "funding NEAR/1 hiring", where=["speaker=Bob"]) == {"A3"}
    assert found(small, "funding NEAR/2 hiring", where=["speaker=Bob"]) == {"A1", "A3"}
    with pytest.raises(QualkamError, match=r"unknown role 'Engneer' in where.*did you mean 'Engineer'"):
        scope(small, ["role=Engneer"])
    with pytest.raises(QualkamError, match=r"unknown attribute 'sight'.*did you mean 'site'"):
        scope(small, ["sight=Leeds"])
    with pytest.raises(QualkamError, match="write ATTRIBUTE=VALUE"):
        scope(small, ["phase"])


def test_layers_and_coders(small: Project) -> None:
    seg = ids(small)
    decide(small, "ana", seg["A2"], "hiring", "accept")
    decide(small, "ana", seg["B3"], "hiring", "reject")
    decide(small, "ben", seg["A4"], "morale", "accept")
    assert found(small, "hiring") == {"A1", "A2", "A3", "A5"}  # auto: a person's decision wins
    assert found(small, "hiring", layer="suggestions") == {"A1", "A3", "A5", "B3"}
    assert found(small, "hiring", layer="coder:ana") == {"A2"}
    assert found(small, "hiring OR morale", layer="human") == {"A2", "A4"}
    assert found(small, "hiring OR morale", where=["coder=ben"]) == {"A4"}
    assert found(small, "hiring AND morale") == {"A2"}  # ana's hiring, the rules' morale
    with pytest.raises(QualkamError, match="unknown coder 'anna'.*did you mean 'ana'"):
        run_query(small, "hiring", layer="coder:anna")
    with pytest.raises(QualkamError, match="suggestions have no coder"):
        run_query(small, "hiring", where=["coder=ana"], layer="suggestions")


def test_excerpts_quote_the_codes_asked_for_on_the_matching_segments(small: Project) -> None:
    both = excerpts(small, run_query(small, "funding AND hiring"))
    assert list(zip(both["code"], both["source"], both["segment"], strict=True)) == [
        ("funding", "meet-a", ids(small)["A3"]),
        ("hiring", "meet-a", ids(small)["A3"]),
    ]
    assert set(both.columns) >= {"coders", "status", "evidence", "context", "text"}
    only = excerpts(small, run_query(small, "hiring AND NOT funding"))
    assert set(only["code"]) == {"hiring"} and len(only) == 3
    near = excerpts(small, run_query(small, "funding NEAR/1 hiring"))
    assert sorted(zip(near["code"], near["text"].str[:12], strict=True)) == [
        ("funding", "The budget c"),
        ("funding", "We need budg"),
        ("hiring", "And we must "),
        ("hiring", "The budget c"),
    ]
    # NOT alone names no code to quote: every code on the matching segments (none here)
    assert excerpts(small, run_query(small, "NOT (money OR hiring OR morale)")).empty
    assert set(excerpts(small, run_query(small, "NOT hiring"))["code"]) == {"funding", "morale", "pay"}
    decide(small, "ana", ids(small)["A3"], "hiring", "accept")
    by_coder = excerpts(small, run_query(small, "funding AND hiring"), by_coder=True)
    assert sorted(zip(by_coder["code"], by_coder["coder"].fillna("-"), strict=True)) == [
        ("funding", "-"),
        ("hiring", "ana"),
    ]


def test_matching_segments_and_counts(small: Project) -> None:
    result = run_query(small, "hiring OR morale")
    frame = matching_segments(small, result)
    assert list(frame["text"].str[:9]) == ["The salar", "We recrui", "And we mu", "Team mora", "The budge", "I want to"]
    assert list(zip(frame["source"], frame["position"], strict=True)) == [
        ("int-b", 1),
        ("int-b", 3),
        ("meet-a", 1),
        ("meet-a", 2),
        ("meet-a", 3),
        ("meet-a", 5),
    ]
    assert frame["codes"].iloc[0] == ["pay", "morale"]  # codebook order
    table = count_by(small, result, "phase")
    assert table.to_dict("list") == {
        "phase": ["early", "late"],
        "segments": [4, 2],
        "all_segments": [6, 4],
        "share": [0.667, 0.5],
        "sources": [1, 1],
    }
    roles = count_by(small, run_query(small, "hiring"), "role")
    assert roles.set_index("role")["segments"].to_dict() == {"Engineer": 3, "Manager": 1, "Researcher": 0}
    assert count_by(small, run_query(small, "hiring"), "type")["source_type"].tolist() == ["interview", "meeting"]
    with pytest.raises(QualkamError, match="unknown attribute 'phse'.*did you mean 'phase'"):
        count_by(small, result, "phse")


@pytest.mark.parametrize(
    "query, column, message",
    [
        ("funding AND", 12, "expected a code after AND"),
        ("funding AND )", 13, "expected a code after AND, found )"),
        ("", 1, "the query is empty"),
        ("   ", 1, "the query is empty"),
        ("(funding OR hiring", 19, "expected ')' to close the '(' at column 1"),
        ("funding)", 8, "this ')' closes no '('"),
        ("funding hiring", 9, "expected AND, OR, NEAR/n or SAME-SPEAKER between 'funding' and 'hiring'"),
        ("funding NOT hiring", 9, "write A AND NOT B"),
        ("funding NEAR hiring", 9, "NEAR needs a distance in segments"),
        ("funding NEAR/x hiring", 9, "write NEAR/n with n a whole number"),
        ("funding SAME-SPEAKER/ hiring", 9, "SAME-SPEAKER needs a distance"),
        ("funding & hiring", 9, "write AND rather than '&'"),
        ("funding || hiring", 9, "write OR rather than '|'"),
        ("() AND x", 2, "empty parentheses"),
        ('"funding', 1, "never closed"),
        ("NOT", 4, "expected a code after NOT"),
        ("AND funding", 1, "expected a code at the start of the query, found AND"),
        ("funding AND fundng", 13, "unknown code 'fundng'; did you mean 'funding'?"),
        ("attr:kinds=cash", 1, "unknown code attribute 'kinds'"),
    ],
)
def test_errors_name_the_column(small: Project, query: str, column: int, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        run_query(small, query)
    assert caught.value.column == column
    assert str(caught.value).startswith(f"query: column {column}: ")
    assert message in str(caught.value)


def test_a_code_named_like_a_keyword_is_quoted() -> None:
    tree = parse('"not" AND "NEAR" OR x')
    assert tree == Or(And(Code("not"), Code("NEAR")), Code("x"))
    assert show(tree) == '"not" AND "NEAR" OR x'
    assert parse("a AND b AND c") == And(And(Code("a"), Code("b")), Code("c"))
    assert show(parse("a AND (b AND c)")) == "a AND (b AND c)"
    assert show(parse("(a or b) near/3 not c")) == "(a OR b) NEAR/3 NOT c"
    assert parse("a SAME-SPEAKER b same-speaker/2 c") == Near(
        Near(Code("a"), Code("b"), None, True), Code("c"), 2, True
    )


def _wide(runner: CliRunner, *args: object):
    """The CLI on a wide terminal, so a table row is not wrapped."""
    from qualkam.cli import app

    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result


def test_cli_every_format_and_counts(runner: CliRunner, tmp_path: Path) -> None:
    db = build(tmp_path)
    table = _wide(runner, "query", "funding AND hiring", "-p", db)
    assert table.exit_code == 0
    assert "2 excerpt(s) · 1 segment(s) of 10 match funding AND hiring · from auto" in table.output
    rows = list(
        csv.DictReader(io.StringIO(_run(runner, "query", "funding NEAR/1 hiring", "-f", "csv", "-p", db).stdout))
    )
    assert sorted((r["code"], r["text"][:6]) for r in rows) == [
        ("funding", "The bu"),
        ("funding", "We nee"),
        ("hiring", "And we"),
        ("hiring", "The bu"),
    ]
    unquoted = _run(runner, "query", "funding", "NEAR/1", "hiring", "-f", "csv", "-p", db).stdout
    assert list(csv.DictReader(io.StringIO(unquoted))) == rows  # several arguments are one query
    data = json.loads(_run(runner, "query", "money AND morale", "-f", "json", "-p", db).stdout)
    assert [(d["code"], d["speaker"]) for d in data] == [("pay", "Dan"), ("morale", "Dan")]
    md = _run(runner, "query", "funding", "-f", "md", "-p", db).stdout
    assert md.startswith("# Query: funding\n") and r"\[bold\]now\[/bold\]" in md  # escaped, verbatim
    html = tmp_path / "q.html"
    assert _run(runner, "query", "funding", "-o", html, "-p", db).exit_code == 0
    page = html.read_text(encoding="utf-8")
    assert "[bold]now[/bold]" in page and "Nothing to add" not in page  # only the excerpts asked for
    counts = _run(runner, "query", "hiring", "--count-by", "role", "-f", "csv", "-p", db)
    assert counts.stdout.splitlines() == [
        "role,segments,all_segments,share,sources",
        "Engineer,3,5,0.6,2",
        "Manager,1,3,0.333,1",
        "Researcher,0,2,0.0,0",
    ]
    assert "4 segment(s) of 10 match hiring" in counts.stderr
    shown = _run(runner, "query", "hiring", "--count-by", "role", "-p", db)
    rows = [line.split("│")[1:-1] for line in shown.stdout.splitlines() if line.startswith("│")]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["Engineer", "3", "5", "0.600", "2"],  # shares with the places every table uses
        ["Manager", "1", "3", "0.333", "1"],
        ["Researcher", "0", "2", "0.000", "0"],
    ]


def test_cli_markup_in_the_data_stays_text(runner: CliRunner, tmp_path: Path) -> None:
    db = build(tmp_path)
    result = _wide(runner, "query", "funding", "-p", db)
    assert "[bold]now[/bold]" in result.output  # rich did not read it as markup


def test_cli_errors_are_one_line_with_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    db = build(tmp_path)
    bad = _run(runner, "query", "funding AND", "-p", db)
    assert bad.exit_code == 2 and "error: query: column 12: expected a code after AND" in bad.output
    unknown = _run(runner, "query", "fundng", "-p", db)
    assert unknown.exit_code == 2 and "did you mean 'funding'" in unknown.output
    where = _run(runner, "query", "funding", "--where", "role=boss", "-p", db)
    assert where.exit_code == 2 and "unknown role 'boss' in --where" in where.output
    fmt = _run(runner, "query", "funding", "--count-by", "phase", "-f", "md", "-p", db)
    assert fmt.exit_code == 2 and "--count-by writes a table, csv or json" in fmt.output
    nothing = _run(runner, "query", "funding AND pay", "-p", db)
    assert nothing.exit_code == 0 and "no excerpts: 0 segment(s) of 10" in nothing.output


def test_api_query(tmp_path: Path) -> None:
    import qualkam

    with qualkam.open(build(tmp_path)) as project:
        frame = project.query("hiring AND NOT funding", where={"phase": "early"})
        assert list(frame["code"]) == ["hiring", "hiring"] and frame.attrs["segments"] == 2
        assert frame.attrs["query"] == "hiring AND NOT funding" and frame.attrs["in_scope"] == 6
        assert project.query("hiring", count_by="phase")["segments"].tolist() == [3, 1]
        assert len(project.query("NOT hiring", segments=True)) == 6


# -- properties of the parser and the algebra -------------------------------------------------
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIECES = st.sampled_from(
    [
        "a",
        "b",
        "near",
        "NEAR/2",
        "same-speaker",
        "SAME-SPEAKER/1",
        "AND",
        "or",
        "Not",
        "(",
        ")",
        '"',
        '"x"',
        "attr:k=v",
        " ",
        "  ",
        "&",
        "|",
        "/",
        "-",
        "NEAR/",
        "é",
        "\t",
        "\n",
        "0",
        "_x",
        "\\",
        "\u2028",
        "\x1c",
    ]
)


@FAST
@given(st.one_of(st.text(max_size=40), st.lists(PIECES, max_size=25).map(" ".join), st.lists(PIECES).map("".join)))
def test_any_text_parses_or_fails_with_a_column(text: str) -> None:
    try:
        tree = parse(text)
    except QueryError as exc:
        assert 1 <= exc.column <= len(text) + 1
        assert str(exc).startswith(f"query: column {exc.column}: ")
        return
    assert parse(show(tree)) == tree


@FAST
@given(st.text(max_size=20), st.text(max_size=20), st.sampled_from(["", "case:", "CASE:", "Case: "]))
def test_any_where_parses_or_says_how(key: str, value: str, prefix: str) -> None:
    """``--where`` text is key -> values or one error naming it; a key's name is settled once
    (parsing the parsed again changes nothing), and a case attribute keeps its own name."""
    from qualkam.analysis.query import parse_where, where_key

    item = f"{prefix}{key}={value}"
    try:
        parsed = parse_where([item])
    except QualkamError as exc:
        assert "write ATTRIBUTE=VALUE" in str(exc) and "\n" not in str(exc).strip()
        return
    assert len(parsed) == 1
    ((name, values),) = parsed.items()
    assert where_key(name) == name and values == [item.partition("=")[2].strip()]
    if prefix and "=" not in key and key.strip():
        assert name == "case:" + f"{key}".strip()


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(QueryError, match="nested more than"):
        parse("(" * 5000 + "a" + ")" * 5000)
    with pytest.raises(QueryError, match="nested more than"):
        parse("NOT " * 5000 + "a")
    with pytest.raises(QueryError, match="more than 200 operators"):
        parse(" AND ".join(["a"] * 5000))


CODES = ["money", "funding", "pay", "hiring", "morale"]


def trees(codes: list[str]) -> st.SearchStrategy:
    leaf = st.sampled_from(codes).map(Code)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            inner.map(Not),
            st.tuples(inner, inner).map(lambda p: And(*p)),
            st.tuples(inner, inner).map(lambda p: Or(*p)),
            st.tuples(inner, inner, st.integers(0, 4)).map(lambda p: Near(p[0], p[1], p[2])),
            st.tuples(inner, inner, st.one_of(st.none(), st.integers(0, 4))).map(
                lambda p: Near(p[0], p[1], p[2], True)
            ),
        ),
        max_leaves=8,
    )


@FAST
@given(trees(["a", "not", "NEAR", "attr:k=v", "x y", 'q"uote', "b\\c", "AND1"]))
def test_printing_and_parsing_again_gives_the_same_tree(tree) -> None:
    assert parse(show(tree)) == tree


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Context:
    root = tmp_path_factory.mktemp("query-context")
    with Project.open(build(root)) as project:
        decide(project, "ana", ids(project)["A4"], "pay", "accept")
        tree = code_tree(project)
        in_scope = scope(project)
        return Context.build(
            in_scope.frame, layer_segments(project, in_scope), {c: descendants(tree, [c]) for c in CODES}
        )


@FAST
@given(trees(CODES), trees(CODES), st.integers(0, 3))
def test_the_algebra_holds_on_results(context: Context, x, y, n: int) -> None:
    def run(node) -> frozenset[int]:
        return evaluate(node, context)

    assert run(Not(Not(x))) == run(x)
    assert run(And(x, y)) == run(And(y, x)) == run(x) & run(y)
    assert run(Or(x, y)) == run(Or(y, x)) == run(x) | run(y)
    assert run(Not(And(x, y))) == run(Or(Not(x), Not(y)))  # De Morgan
    assert run(Near(x, y, n)) == run(Near(y, x, n))
    assert run(Near(x, y, n, True)) == run(Near(y, x, n, True))
    assert run(Near(x, y, 0)) == run(And(x, y))
    assert run(And(x, y)) <= run(Near(x, y, n)) <= run(Near(x, y, n + 1)) <= run(Or(x, y))
    assert run(Near(x, y, n, True)) <= run(Near(x, y, n)) and run(Near(x, y, n, True)) <= run(Near(x, y, None, True))


# -- the sample project and the gold coding ---------------------------------------------------
@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    from qualkam.interchange.codings_import import import_codings

    root = tmp_path_factory.mktemp("sample")
    with Project.open(root / "sample.db", create=True) as project:
        code_folder(ROOT / "sample_transcripts", load_codebook("kam"), project, out_dir=None)
        import_codings(project, ROOT / "tests" / "fixtures" / "gold" / "sample_codings.csv")
        yield project


def gold_segments(project: Project) -> dict[str, set[int]]:
    """An independent reading: each code's segments straight from the gold CSV, by offsets
    (a row's span overlaps the segment by a character), parents from the codebook tree."""
    frame = segments(project)
    places = {}
    for seg, src, a, b in frame[["segment", "source", "start", "end"]].itertuples(index=False):
        places.setdefault(src, []).append((int(a), int(b), int(seg)))
    by_code: dict[str, set[int]] = {}
    with open(ROOT / "tests" / "fixtures" / "gold" / "sample_codings.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            start, end = int(row["start"]), int(row["end"])
            hit = {seg for a, b, seg in places[row["source"]] if a < end and b > start}
            by_code.setdefault(row["code"], set()).update(hit)
    tree = code_tree(project)
    for code in tree:
        below = descendants(tree, [code])
        by_code[code] = set().union(*(by_code.get(c, set()) for c in below))
    return by_code


@pytest.mark.slow
def test_sample_gold_answers_match_an_independent_reading(sample: Project) -> None:
    gold = gold_segments(sample)
    frame = segments(sample)
    every = set(frame["segment"].astype(int))
    where = {
        int(s): (src, int(p), spk)
        for s, src, p, spk in frame[["segment", "source", "position", "speaker"]].itertuples(index=False)
    }

    def near(a: set[int], b: set[int], n: int) -> set[int]:
        def close(x: int, others: set[int]) -> bool:
            return any(where[x][0] == where[o][0] and abs(where[x][1] - where[o][1]) <= n for o in others)

        return {x for x in a if close(x, b)} | {x for x in b if close(x, a)}

    one, two = "social_ordering", "mode_of_control"
    cases = {
        f"{one} AND {two}": gold[one] & gold[two],
        f"{one} AND NOT {two}": gold[one] - gold[two],
        f"NOT ({one} OR {two})": every - gold[one] - gold[two],
        "bureaucratic_creep NEAR/1 coordination": near(gold["bureaucratic_creep"], gold["coordination"], 1),
        "kam_framework NEAR/3 japan_themes": near(gold["kam_framework"], gold["japan_themes"], 3),
    }
    for query, expected in cases.items():
        result = run_query(sample, query, layer="coder:gold")
        assert set(result.segment_ids) == expected, query
        assert expected, f"{query}: the sample should hold some"
    same = run_query(sample, "bureaucratic_creep SAME-SPEAKER kam_importance", layer="coder:gold").segment_ids
    assert same and all(where[s][2] for s in same)
    for s in same:
        src, _, speaker = where[s]
        other = gold["kam_importance"] if s in gold["bureaucratic_creep"] else gold["bureaucratic_creep"]
        assert any(where[o][0] == src and where[o][2] == speaker for o in other)


@pytest.mark.slow
def test_sample_counts_agree_with_the_matrix(sample: Project) -> None:
    from qualkam.analysis.matrix import build_matrix

    matrix = build_matrix(sample, rows="phase", cols="code", layer="coder:gold")
    for code in ("creep_paper_trail", "social_ordering_formal", "front_end_coordination"):
        counts = count_by(sample, run_query(sample, code, layer="coder:gold"), "phase").set_index("phase")
        assert counts["segments"].to_dict() == {k: v for k, v in matrix[code].to_dict().items() if k in counts.index}
    formal = count_by(
        sample, run_query(sample, "social_ordering", where=["type=meeting"], layer="coder:gold"), "source"
    )
    assert set(formal["source"]) == {
        "jp-cross-unit-meeting",
        "steering-02",
        "steering-05",
        "steering-09",
        "subgroup-footwear",
        "subgroup-pro-direct-video",
    }


# -- a real meeting -----------------------------------------------------------------------------
@needs_shared
@pytest.mark.shared
@pytest.mark.slow
def test_a_real_zoom_meeting(tmp_path: Path) -> None:
    meeting = SHARED / "corpora" / "zoom-meetings" / "acde" / "2026-02-12_230"
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "call.vtt").write_bytes((meeting / "transcript.vtt").read_bytes())
    write(tmp_path / "book.yaml", REAL_CODEBOOK)
    with Project.open(tmp_path / "r.db", create=True) as project:
        code_folder(folder, load_codebook(tmp_path / "book.yaml"), project, out_dir=None)
        frame = segments(project)
        seg_speaker = dict(zip(frame["segment"].astype(int), frame["speaker"], strict=True))
        testing = run_query(project, "testing").segment_ids
        release = run_query(project, "release").segment_ids
        assert testing and release
        assert run_query(project, "testing AND release").segment_ids == testing & release
        assert run_query(project, "NOT NOT testing").segment_ids == testing
        near = run_query(project, "testing NEAR/2 release").segment_ids
        assert testing & release <= near <= testing | release
        same = run_query(project, "testing SAME-SPEAKER release").segment_ids
        assert {seg_speaker[s] for s in same} <= {seg_speaker[s] for s in testing} & {seg_speaker[s] for s in release}
        table = count_by(project, run_query(project, "testing OR release"), "speaker")
        assert table["segments"].sum() == len(testing | release)
        assert table["all_segments"].sum() == len(frame)


REAL_CODEBOOK = """\
name: Ethereum call codebook
version: "1"
codes:
  - id: testing
    label: Testing
    patterns: {lemmas: [test, testing, devnet]}
  - id: release
    label: Release
    patterns: {lemmas: [release, fork, mainnet]}
"""
