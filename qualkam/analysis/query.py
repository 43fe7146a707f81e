"""Coding queries: the segments where codes occur together, near each other, or by one speaker.

``qualkam query "funding AND NOT hiring"`` (docs/query.md says it for users). The language::

    query    := or
    or       := and  ( OR and )*
    and      := near ( AND near )*
    near     := unary ( (NEAR/n | SAME-SPEAKER | SAME-SPEAKER/n) unary )*
    unary    := NOT unary | operand
    operand  := CODE | "CODE" | attr:KEY=VALUE | ( query )

Keywords may be written in any case; a code whose id is a keyword is written in double
quotes (``"near"``). NOT binds tightest, then NEAR and SAME-SPEAKER, then AND, then OR; each
binary operator groups from the left. A parser, not ``eval``: every mistake is a
``QueryError`` naming its column ("query: column 12: expected a code after AND").

What each part means, on the **segments** in scope (``where`` and ``layer`` choose them and
the codings; docs/architecture.md, "Spans and segments": a coding counts for every segment
its span overlaps):

- ``CODE``: the segments a coding of the layer of that code, or of any code below it,
  counts for (a dimension means either pole, as ``--code`` does in excerpts and matrices).
  ``attr:KEY=VALUE``: the codes with that code attribute (``attr:pole=formal``), and below.
- ``A AND B``, ``A OR B``: both, either. ``NOT A``: the segments in scope without A.
- ``A NEAR/n B``: the segments of A that have a segment of B at most n positions away in
  the same source, and the segments of B that have one of A so (both sides are quoted, as a
  researcher reading the passage needs both). Positions are the source's reading order,
  every segment counted, in scope or not; ``NEAR/0`` is ``AND``.
- ``A SAME-SPEAKER B``: the same, where the two segments are the same speaker's in the same
  source, at any distance; ``SAME-SPEAKER/n`` adds the NEAR/n distance. A segment without a
  speaker (a document, a field note) never matches. A speaker is one person within one
  source (shorthand labels such as ``I`` name another person in every interview); one
  person across sources is the business of cases, not of this operator.

The answer is a set of segments (``QueryResult.segment_ids``); it is shown as the excerpts
of the codes the query asks to be present (those not under an odd number of NOTs; every code
when it names none, as in ``NOT x``) whose spans cover a matching segment (``excerpts``,
reusing ``qualkam.analysis.excerpts``), or counted by any attribute (``count_by``).
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from qualkam.analysis.cases import is_case_rows
from qualkam.choices import check_choice, closest, unknown
from qualkam.errors import QualkamError

if TYPE_CHECKING:
    import pandas as pd

    from qualkam.store.layers import Layer
    from qualkam.store.project import Project

MAX_NESTING = 50  # parentheses and NOTs inside each other
MAX_OPERATORS = 200  # so a tree is never deep enough to exhaust Python's stack
KEYWORDS = ("AND", "OR", "NOT", "NEAR", "SAME-SPEAKER")
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_NEAR = re.compile(r"NEAR(?:/(\d*))?", re.I)
_SAME = re.compile(r"SAME-SPEAKER(?:/(\d*))?", re.I)


class QueryError(QualkamError):
    """A query that does not parse or names an unknown code; ``column`` (1-based) is where."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"query: column {column}: {message}", argument="query")
        self.column = column
        self.reason = message


# -- the tree -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Code:
    """A code operand: a code id (``spec``) or ``attr:KEY=VALUE``."""

    spec: str
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Near:
    """``NEAR/n`` (``same_speaker=False``) or ``SAME-SPEAKER[/n]`` (``n`` None: any distance)."""

    left: Node
    right: Node
    n: int | None
    same_speaker: bool = False


Node: TypeAlias = "Code | Not | And | Or | Near"
_LEVEL = {Or: 1, And: 2, Near: 3, Not: 4, Code: 5}


def _operator(node: And | Or | Near) -> str:
    if isinstance(node, And):
        return "AND"
    if isinstance(node, Or):
        return "OR"
    if node.same_speaker:
        return "SAME-SPEAKER" if node.n is None else f"SAME-SPEAKER/{node.n}"
    return f"NEAR/{node.n}"


def show(node: Node) -> str:
    """The query as text, with only the parentheses it needs: parsing it gives ``node`` again."""
    if isinstance(node, Code):
        bare = _ID.fullmatch(node.spec) and node.spec.upper() not in ("AND", "OR", "NOT", "NEAR")
        attr = node.spec.startswith("attr:") and not any(c.isspace() or c in '()"' for c in node.spec)
        if bare or attr:
            return node.spec
        return '"' + node.spec.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(node, Not):
        inner = show(node.child)
        return f"NOT {inner}" if _LEVEL[type(node.child)] >= _LEVEL[Not] else f"NOT ({inner})"
    level = _LEVEL[type(node)]
    left, right = show(node.left), show(node.right)
    if _LEVEL[type(node.left)] < level:
        left = f"({left})"
    if _LEVEL[type(node.right)] <= level:  # left-associative: an equal right side needs brackets
        right = f"({right})"
    return f"{left} {_operator(node)} {right}"


def codes_in(node: Node, positive: bool = True) -> list[Code]:
    """The code operands asked to be present (``positive``: under an even number of NOTs), or
    those asked to be absent, in the order written."""
    if isinstance(node, Code):
        return [node] if positive else []
    if isinstance(node, Not):
        return codes_in(node.child, not positive)
    return codes_in(node.left, positive) + codes_in(node.right, positive)


def operands(node: Node) -> list[Code]:
    """Every code operand, in the order written."""
    return codes_in(node, True) + codes_in(node, False)


# -- parsing --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    kind: str  # CODE, AND, OR, NOT, NEAR, SAME, (, ), END
    text: str
    column: int
    value: Any = None


def _describe(token: Token) -> str:
    if token.kind == "END":
        return "the end of the query"
    return f"{token.text!r}" if token.kind == "CODE" else token.text


def tokenize(text: str) -> list[Token]:
    """The query's tokens, each with its 1-based column; END last."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "()":
            tokens.append(Token(ch, ch, i + 1))
            i += 1
            continue
        if ch == '"':
            j, out = i + 1, []
            while j < len(text) and text[j] != '"':
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                out.append(text[j])
                j += 1
            if j >= len(text):
                raise QueryError(i + 1, 'this " opens a quoted code that is never closed; end it with "')
            if not "".join(out).strip():
                raise QueryError(i + 1, 'empty quotes ""; write a code id between them')
            tokens.append(Token("CODE", text[i : j + 1], i + 1, "".join(out)))
            i = j + 1
            continue
        j = i
        while j < len(text) and not text[j].isspace() and text[j] not in '()"':
            j += 1
        tokens.append(_word(text[i:j], i + 1))
        i = j
    tokens.append(Token("END", "", len(text) + 1))
    return tokens


def _word(word: str, column: int) -> Token:
    upper = word.upper()
    if upper in ("AND", "OR", "NOT"):
        return Token(upper, upper, column)
    for kind, pattern, name in (("NEAR", _NEAR, "NEAR"), ("SAME", _SAME, "SAME-SPEAKER")):
        found = pattern.fullmatch(word)
        if found:
            digits = found.group(1)
            if digits == "" or (digits is None and kind == "NEAR"):
                named = f'; a code named {word} is written "{word}"' if digits is None else ""
                raise QueryError(column, f"{name} needs a distance in segments, e.g. {name}/2 (NEAR/0 is AND){named}")
            n = None if digits is None else int(digits)
            return Token(kind, name if n is None else f"{name}/{n}", column, n)
        if upper.startswith(name + "/"):
            raise QueryError(column, f"{word!r}: write {name}/n with n a whole number of segments, e.g. {name}/2")
    if word.startswith("attr:") or _ID.fullmatch(word):
        return Token("CODE", word, column, word)
    hint = ""
    for symbol, keyword in (("&", "AND"), ("|", "OR"), ("!", "NOT"), ("~", "NOT"), ("-", "NOT")):
        if symbol in word:
            hint = f"; write {keyword} rather than {symbol!r}"
            break
    raise QueryError(
        column,
        f"{word!r} is not a code id (a letter, then letters, digits or _), nor AND, OR, NOT, NEAR/n or "
        f"SAME-SPEAKER{hint}",
    )


class _Parser:
    """Recursive descent over the tokens; depth and size are bounded (MAX_NESTING, MAX_OPERATORS)."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.at = 0
        self.depth = 0
        self.operators = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Node:
        if self.token.kind == "END":
            raise QueryError(1, "the query is empty; write codes joined by AND, OR, NOT, NEAR/n or SAME-SPEAKER")
        node = self.or_(None)
        token = self.token
        if token.kind == ")":
            raise QueryError(token.column, "this ')' closes no '('")
        if token.kind != "END":
            raise QueryError(token.column, self._between(token))
        return node

    def _between(self, token: Token) -> str:
        before = self.tokens[self.at - 1]
        message = (
            f"expected AND, OR, NEAR/n or SAME-SPEAKER between {_describe(before)} and {_describe(token)}"
            if token.kind in ("CODE", "(", "NOT")
            else f"unexpected {_describe(token)}"
        )
        if token.kind == "NOT":
            message += "; for 'A but not B' write A AND NOT B"
        return message

    def _count(self, token: Token) -> None:
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            raise QueryError(token.column, f"the query has more than {MAX_OPERATORS} operators; split it")

    def or_(self, after: Token | None) -> Node:
        node = self.and_(after)
        while self.token.kind == "OR":
            op = self.take()
            self._count(op)
            node = Or(node, self.and_(op))
        return node

    def and_(self, after: Token | None) -> Node:
        node = self.near(after)
        while self.token.kind == "AND":
            op = self.take()
            self._count(op)
            node = And(node, self.near(op))
        return node

    def near(self, after: Token | None) -> Node:
        node = self.unary(after)
        while self.token.kind in ("NEAR", "SAME"):
            op = self.take()
            self._count(op)
            node = Near(node, self.unary(op), op.value, same_speaker=op.kind == "SAME")
        return node

    def unary(self, after: Token | None) -> Node:
        token = self.token
        if token.kind == "NOT":
            self.take()
            self._nest(token)
            child = self.unary(token)
            self.depth -= 1
            return Not(child)
        return self.operand(after)

    def _nest(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise QueryError(token.column, f"nested more than {MAX_NESTING} deep; simplify the query")

    def operand(self, after: Token | None) -> Node:
        token = self.take()
        if token.kind == "CODE":
            return Code(str(token.value), token.column)
        if token.kind == "(":
            self._nest(token)
            if self.token.kind == ")":
                raise QueryError(self.token.column, "empty parentheses; write a code inside them")
            node = self.or_(token)
            self.depth -= 1
            close = self.token
            if close.kind != ")":
                found = "" if close.kind == "END" else f", found {_describe(close)}"
                raise QueryError(close.column, f"expected ')' to close the '(' at column {token.column}{found}")
            self.take()
            return node
        where = f"after {after.text}" if after is not None else "at the start of the query"
        found = "" if token.kind == "END" else f", found {_describe(token)}"
        raise QueryError(token.column, f"expected a code {where}{found}")


def parse(text: str) -> Node:
    """The tree of a query; a ``QueryError`` naming the column of the first mistake."""
    if not isinstance(text, str):
        raise QualkamError(
            f"{{argument}} must be text, e.g. 'funding AND hiring'; got {type(text).__name__}", argument="query"
        )
    return _Parser(text).parse()


# -- scope: which segments and codings ------------------------------------------------------
SEGMENT_KEYS = ("phase", "source_type", "source", "role", "speaker", "unit", "date", "title", "format")
ALIASES = {"type": "source_type", "source-type": "source_type", "sourcetype": "source_type", "speaker_unit": "unit"}
CODER = "coder"
Where: TypeAlias = "Mapping[str, str | Sequence[str]] | Sequence[str] | str | None"


def where_key(key: str) -> str:
    """An attribute as written (``Source Type``, ``type``) as the scope names it (``source_type``);
    a case attribute (``case:Years in post``) keeps its name, matched as cases match it."""
    name = key.strip()
    if name.lower() == "case" or name.lower().startswith("case:"):
        return "case" + (":" + name[5:].strip() if len(name) > 5 else "")
    name = name.lower().replace(" ", "_")
    return ALIASES.get(name, name)


def values_of(project: Project, frame: pd.DataFrame, key: str, argument: str) -> pd.Series:
    """Each segment's value of ``key`` as a matrix names its rows: a source or segment field, a
    source attribute, or its speaker's case (``case``) or case attribute (``case:site``)."""
    from qualkam.analysis.cases import case_row_values
    from qualkam.analysis.matrix import attribute_values

    if is_case_rows(key):
        return case_row_values(project, frame, key, argument)
    return attribute_values(frame, key)


def parse_where(where: Where, argument: str = "where") -> dict[str, list[str]]:
    """``["phase=formal_kam", "role=Sales Director"]`` or ``{"phase": [...]}`` as key -> values.
    Values of one key are alternatives (OR); different keys must all hold (AND)."""
    pairs: list[tuple[str, str]] = []
    if where is None:
        return {}
    if isinstance(where, str):
        where = [where]
    if isinstance(where, Mapping):
        for key, values in where.items():
            for value in [values] if isinstance(values, str) else list(values):
                pairs.append((str(key), str(value)))
    else:
        for item in where:
            key, sep, value = str(item).partition("=")
            if not sep or not key.strip() or not value.strip():
                raise QualkamError(
                    f"{{argument}} {item!r}: write ATTRIBUTE=VALUE, e.g. phase=formal_kam or role='Sales Director'",
                    argument=argument,
                )
            pairs.append((key, value))
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(where_key(key), []).append(value.strip())
    return {k: list(dict.fromkeys(v)) for k, v in out.items()}


@dataclass
class Scope:
    """The segments in scope (``frame``: one row each, with its source's fields and attributes,
    in source and reading order) and the codings' filter (``layer``, ``coders``)."""

    frame: pd.DataFrame
    layer: Layer
    coders: list[str]
    where: dict[str, list[str]]

    @property
    def ids(self) -> set[int]:
        return set(self.frame["segment"].astype(int))

    def describe(self) -> str:
        parts = [f"{key}={' or '.join(values)}" for key, values in self.where.items()]
        return ", ".join([*parts, f"from {self.layer}"])


def scope(project: Project, where: Where = None, layer: str | Layer = "auto", argument: str = "where") -> Scope:
    """The segments whose attributes pass ``where`` (source fields, segment fields, any source
    attribute such as ``site``, the speaker's case, ``case=NAME``, or case attribute,
    ``case:site=Leeds``; ``coder`` keeps those people's codings), read from ``layer``.

    A value is checked against the values the project has (any case; a phase by id or label;
    ``(none)`` for a missing value), so a misspelt role is an error with a did-you-mean,
    never an empty answer. Values are compared as a matrix names its rows
    (``qualkam.analysis.matrix.attribute_values``), so a scope and ``count_by`` agree.
    """
    from qualkam.analysis.matrix import NONE, segments_frame
    from qualkam.store.analysis import phases as declared_phases
    from qualkam.store.codings import known_layer
    from qualkam.store.names import known_names, source_attribute_keys

    parsed_layer = known_layer(project, layer)
    given = parse_where(where, argument)
    frame = segments_frame(project)
    keys = [*SEGMENT_KEYS, *source_attribute_keys(project), CODER]
    coders: list[str] = []
    for key, values in given.items():
        if not is_case_rows(key):
            key = check_choice("attribute", key, keys, argument)
        if key == CODER:
            if parsed_layer.name == "suggestions":
                raise QualkamError(
                    "{argument} coder=...: machine suggestions have no coder; read people's codings (layer auto, "
                    "human or coder:NAME)",
                    argument=argument,
                )
            coders += [check_choice("coder", v, known_names(project, "coder"), argument) for v in values]
            continue
        column = values_of(project, frame, key, argument)
        existing = sorted(set(column), key=lambda v: (v == NONE, v))
        aliases = {p.label: p.id for p in declared_phases(project)} if key == "phase" else {}
        lookup = {v.casefold(): v for v in existing}
        lookup.update({label.casefold(): pid for label, pid in aliases.items() if pid in existing})
        wanted = []
        for value in values:
            hit = lookup.get(value.casefold())
            if hit is None:
                if key == "phase" and value in aliases:
                    hit = aliases[value]  # a declared phase without sources: nothing matches, not an error
                else:
                    raise unknown(key.replace("_", " "), value, existing, argument)
            wanted.append(hit)
        frame = frame[column.isin(wanted)]
    return Scope(frame.reset_index(drop=True), parsed_layer, list(dict.fromkeys(coders)), given)


def layer_segments(project: Project, where: Scope) -> pd.DataFrame:
    """One row per coding of the scope's layer (and coders) and segment in scope it counts for:
    coding_id, segment, code (``qualkam.store.codings.layer_codings``)."""
    from qualkam.store.codings import layer_codings

    rows = layer_codings(project, where.layer)
    if where.coders:
        rows = rows[rows["coder"].isin(where.coders)]
    rows = rows[rows["segment"].isin(where.ids)]
    return rows[["coding_id", "segment", "code"]].reset_index(drop=True)


# -- evaluation -----------------------------------------------------------------------------
@dataclass
class Context:
    """What evaluation needs: the segments in scope with their place, and each code's segments."""

    universe: frozenset[int]
    place: dict[int, tuple[str, int, str | None]]  # segment -> (source, position, speaker)
    coded: dict[str, frozenset[int]]  # code -> segments in scope carrying it
    resolved: dict[str, list[str]]  # operand spec -> codes (with those below)

    @classmethod
    def build(cls, segments: pd.DataFrame, codings: pd.DataFrame, resolved: Mapping[str, Sequence[str]]) -> Context:
        """From a scope's ``frame`` and its ``layer_segments``."""
        place = {
            int(seg): (str(src), int(pos), None if not isinstance(spk, str) or not spk.strip() else spk)
            for seg, src, pos, spk in segments[["segment", "source", "position", "speaker"]].itertuples(index=False)
        }
        coded: dict[str, set[int]] = defaultdict(set)
        for seg, code in codings[["segment", "code"]].itertuples(index=False):
            coded[str(code)].add(int(seg))
        return cls(
            frozenset(place),
            place,
            {k: frozenset(v) for k, v in coded.items()},
            {k: list(v) for k, v in resolved.items()},
        )


def evaluate(node: Node, context: Context) -> frozenset[int]:
    """The segments (ids, in scope) where ``node`` holds."""
    if isinstance(node, Code):
        found: set[int] = set()
        for code in context.resolved[node.spec]:
            found |= context.coded.get(code, frozenset())
        return frozenset(found)
    if isinstance(node, Not):
        return context.universe - evaluate(node.child, context)
    left, right = evaluate(node.left, context), evaluate(node.right, context)
    if isinstance(node, And):
        return left & right
    if isinstance(node, Or):
        return left | right
    index_left, index_right = _index(left, context, node.same_speaker), _index(right, context, node.same_speaker)
    return frozenset(_close(left, index_right, context, node) | _close(right, index_left, context, node))


def _key(segment: int, context: Context, same_speaker: bool) -> tuple[str, ...] | None:
    source, _, speaker = context.place[segment]
    if same_speaker:
        return None if speaker is None else (source, speaker)
    return (source,)


def _index(ids: Iterable[int], context: Context, same_speaker: bool) -> dict[tuple[str, ...], list[int]]:
    """Sorted positions of ``ids`` per source (and speaker)."""
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for segment in ids:
        key = _key(segment, context, same_speaker)
        if key is not None:
            index[key].append(context.place[segment][1])
    for positions in index.values():
        positions.sort()
    return index


def _close(ids: Iterable[int], other: dict[tuple[str, ...], list[int]], context: Context, node: Near) -> set[int]:
    """The segments of ``ids`` with a segment of ``other`` within ``node.n`` positions (any, when None)."""
    kept = set()
    for segment in ids:
        key = _key(segment, context, node.same_speaker)
        positions = other.get(key) if key is not None else None
        if not positions:
            continue
        if node.n is None:
            kept.add(segment)
            continue
        position = context.place[segment][1]
        i = bisect.bisect_left(positions, position - node.n)
        if i < len(positions) and positions[i] <= position + node.n:
            kept.add(segment)
    return kept


def resolve(project: Project, node: Node) -> dict[str, list[str]]:
    """Each code operand's codes: the code and every code below it (``attr:KEY=VALUE``: the
    codes with that attribute, and below). An unknown code is a ``QueryError`` at its column
    with the closest codes."""
    from qualkam.analysis.excerpts import resolve_codes
    from qualkam.store.reads import code_tree, descendants

    tree = code_tree(project)
    folded: dict[str, list[str]] = defaultdict(list)
    for code in tree:
        folded[code.casefold()].append(code)
    resolved: dict[str, list[str]] = {}
    for operand in operands(node):
        spec = operand.spec
        if spec in resolved:
            continue
        if spec in tree:
            resolved[spec] = descendants(tree, [spec])
        elif len(folded.get(spec.casefold(), [])) == 1:
            resolved[spec] = descendants(tree, folded[spec.casefold()])
        elif spec.startswith("attr:"):
            try:
                resolved[spec] = resolve_codes(project, [spec], argument="query")
            except QualkamError as exc:
                raise QueryError(operand.column, exc.worded({"query": "the query"})) from None
        else:
            near = closest(spec, tree)
            hint = f"; did you mean {near[0]!r}?" if near else "; the codes are listed by qualkam codebook show"
            raise QueryError(operand.column, f"unknown code {spec!r}{hint}")
    return resolved


# -- the answer -----------------------------------------------------------------------------
SEGMENT_COLUMNS = [
    "source",
    "segment",
    "position",
    "speaker",
    "role",
    "unit",
    "source_type",
    "phase",
    "date",
    "time_start",
    "time_end",
    "start",
    "end",
    "codes",
    "text",
]


@dataclass
class QueryResult:
    """A query's answer: its tree, the matching segment ids, the scope it ran in."""

    query: Node
    segment_ids: frozenset[int]
    scope: Scope
    codings: pd.DataFrame  # layer_segments of the scope: coding_id, segment, code
    resolved: dict[str, list[str]]

    @property
    def text(self) -> str:
        return show(self.query)

    def quoted_codes(self) -> list[str]:
        """The codes whose excerpts show the answer: those the query asks to be present (and
        below them); none (every code) when all its codes are under NOT."""
        return list(dict.fromkeys(c for operand in codes_in(self.query) for c in self.resolved[operand.spec]))

    def describe(self) -> str:
        return (
            f"{len(self.segment_ids)} segment(s) of {len(self.scope.frame)} match {self.text} · {self.scope.describe()}"
        )


def run_query(project: Project, query: str | Node, where: Where = None, layer: str | Layer = "auto") -> QueryResult:
    """The segments in scope where ``query`` holds (see the module docstring)."""
    node = parse(query) if isinstance(query, str) else query
    resolved = resolve(project, node)
    in_scope = scope(project, where, layer)
    codings = layer_segments(project, in_scope)
    context = Context.build(in_scope.frame, codings, resolved)
    return QueryResult(node, evaluate(node, context), in_scope, codings, resolved)


def matching_segments(project: Project, result: QueryResult) -> pd.DataFrame:
    """The matching segments, in source and reading order, each with the codes of the layer on
    it (codebook order) and its text."""
    from qualkam.store.reads import code_tree
    from qualkam.store.segments import segments

    order = {code: i for i, code in enumerate(code_tree(project))}
    frame = segments(project)
    frame = frame[frame["segment"].isin(result.segment_ids)].copy()
    codes: dict[int, set[str]] = defaultdict(set)
    for seg, code in result.codings[["segment", "code"]].itertuples(index=False):
        if int(seg) in result.segment_ids:
            codes[int(seg)].add(str(code))
    frame["codes"] = [sorted(codes[int(s)], key=lambda c: (order.get(c, len(order)), c)) for s in frame["segment"]]
    return frame[SEGMENT_COLUMNS].reset_index(drop=True)


def excerpts(project: Project, result: QueryResult, by_coder: bool = False) -> pd.DataFrame:
    """The answer as excerpts (``qualkam.analysis.excerpts.retrieve`` rows): the codings of the
    quoted codes (``QueryResult.quoted_codes``) whose span covers a matching segment, merged per
    span and code as ``qualkam excerpts`` merges them (``by_coder``: one row per coding)."""
    from qualkam.analysis.excerpts import retrieve

    frame = retrieve(
        project,
        codes=result.quoted_codes(),
        layer=result.scope.layer,
        coders=result.scope.coders,
        by_coder=by_coder,
    )
    covering = result.codings[result.codings["segment"].isin(result.segment_ids)]
    hits = set(covering["coding_id"].astype(int))
    if by_coder:
        keep = frame["coding_id"].map(lambda i: int(i) in hits)
    else:
        keep = frame["coding_ids"].map(lambda ids: any(int(i) in hits for i in ids))
    return frame[keep.astype(bool)].reset_index(drop=True)


COUNT_COLUMNS = ["segments", "all_segments", "share", "sources"]


def count_by(project: Project, result: QueryResult, attribute: str, argument: str = "count_by") -> pd.DataFrame:
    """Per value of ``attribute`` (a segment or source field, a source attribute such as
    ``site``, the speakers' ``case`` or a case attribute, ``case:site``): the matching
    segments, every segment in scope with that value, the share, and
    the sources with a match. Every value in scope is a row, a zero included (an absence is a
    finding too), in a matrix's row order."""
    import pandas as pd

    from qualkam.analysis.matrix import DECIMALS, row_order
    from qualkam.store.names import source_attribute_keys

    name = where_key(attribute)
    if not is_case_rows(name):
        name = check_choice("attribute", name, [*SEGMENT_KEYS, *source_attribute_keys(project)], argument)
    frame = result.scope.frame.assign(value=values_of(project, result.scope.frame, name, argument))
    frame = frame.assign(hit=frame["segment"].isin(result.segment_ids))
    rows = []
    for value, group in frame.groupby("value", sort=False):
        matched = group[group["hit"]]
        rows.append(
            {
                name: value,
                "segments": len(matched),
                "all_segments": len(group),
                "share": round(len(matched) / len(group), DECIMALS) if len(group) else 0.0,
                "sources": matched["source"].nunique(),
            }
        )
    table = pd.DataFrame(rows, columns=[name, *COUNT_COLUMNS])
    order = row_order(project, name, list(table[name]))
    table = table.set_index(name).reindex([v for v in order if v in set(table[name])]).reset_index()
    return table.astype({"segments": int, "all_segments": int, "sources": int, "share": float})
