"""The YAML codebook: loading, whole-file validation with line numbers, and phase assignment.

Format: docs/codebook-format.md. Validation lists every problem as ``path:line: field: what``
so a researcher can fix them all in one pass (the weasel/spaCy-config habit).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

# the regular-expression parser, to read a REGEX's structure (see regex_problem)
if sys.version_info >= (3, 11):
    import re._constants as _sre_constants
    import re._parser as _sre_parse
else:
    import sre_constants as _sre_constants
    import sre_parse as _sre_parse

from qualkam.errors import CodebookError, InputError
from qualkam.yamlload import FastTextDateLoader, TextDateLoader, error_problem, error_where
from qualkam.yamlload import load as load_yaml

ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
DEFAULT_SOURCE_TYPES = ["interview", "meeting", "fieldnote", "document", "email"]
TOP_KEYS = {"name", "version", "description", "source_types", "phases", "phase_rules", "compare", "codes"}
COMPARE_KEYS = {"attribute", "label", "description"}
CODE_KEYS = {
    "id",
    "label",
    "parent",
    "definition",
    "include",
    "exclude",
    "examples",
    "color",
    "attributes",
    "patterns",
    "children",
}
PATTERN_KEYS = {"lemmas", "tokens", "exclude_lemmas", "exclude_tokens"}
MAX_REPEAT = 100  # the largest n in a token pattern's OP "{n}" / "{n,m}" (spaCy writes out n tokens)
MAX_REGEX = 1000  # characters in one REGEX
MAX_CODE_DEPTH = 50  # levels in the code tree (a real codebook has a handful)
_OP = re.compile(r"^\{\s*(\d*)\s*(,?)\s*(\d*)\s*\}$")
NEEDS_MODEL = {"POS", "TAG", "DEP", "MORPH", "ENT_TYPE", "ENT_IOB", "ENT_ID", "SENT_START", "IS_SENT_START"}
BUILTIN = {"kam": "kam.yaml"}
DEFAULT_CODEBOOK = "kam"  # the built-in codebook a NEW project starts with; an existing project keeps its own


@dataclass
class Patterns:
    """What drives rule suggestions for one code."""

    lemmas: list[str] = field(default_factory=list)
    tokens: list[list[dict[str, Any]]] = field(default_factory=list)
    exclude_lemmas: list[str] = field(default_factory=list)
    exclude_tokens: list[list[dict[str, Any]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.lemmas or self.tokens)


@dataclass
class Code:
    """One code of the tree, as a coder reads it."""

    id: str
    label: str
    parent: str | None = None
    definition: str = ""
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    color: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    patterns: Patterns = field(default_factory=Patterns)
    line: int | None = None


@dataclass
class Phase:
    id: str
    label: str
    description: str = ""


@dataclass
class PhaseRule:
    """A way to give a source a phase: by date range or by a numeric attribute range."""

    phase: str
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    attribute: str | None = None
    min: float | None = None
    max: float | None = None

    def matches(self, date: str | None, attributes: dict[str, Any]) -> bool:
        if self.attribute is not None:
            value = attributes.get(self.attribute)
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return False
            return (self.min is None or number >= self.min) and (self.max is None or number <= self.max)
        if not date:
            return False
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            return False
        return (self.date_from is None or day >= self.date_from) and (self.date_to is None or day <= self.date_to)


@dataclass
class Comparison:
    """A code attribute the codebook wants compared (``compare:``): the report shows the
    balance of its values by phase. ``label`` and ``description`` are the section's heading
    and note (defaults are made from the attribute's name)."""

    attribute: str
    label: str = ""
    description: str = ""

    @property
    def title(self) -> str:
        return self.label or f"Balance of {self.attribute.replace('_', ' ')} by phase"


@dataclass
class Codebook:
    """A validated codebook. ``codes`` keeps file order, parents before their children."""

    name: str
    version: str
    path: str
    text: str
    description: str = ""
    source_types: list[str] = field(default_factory=lambda: list(DEFAULT_SOURCE_TYPES))
    phases: list[Phase] = field(default_factory=list)
    phase_rules: list[PhaseRule] = field(default_factory=list)
    codes: dict[str, Code] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    compare: list[Comparison] = field(default_factory=list)
    # Where this copy came from: "built-in", "file" or "project" (the version stored in a
    # project), or "" (parsed from text); see ``describe``.
    origin: str = ""
    partial: bool = False  # rebuilt from a project's codes table: no patterns, include, exclude, examples
    # False when parsed with ``spacy_check=False``: the token patterns passed qualkam's own checks
    # but not yet spaCy's schema (see ``check_with_spacy``, which the Suggester calls).
    spacy_checked: bool = True

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def describe(self) -> str:
        """Name, version and where it came from, for the line every run prints."""
        where = {
            "built-in": f"built-in '{self.path.split('/')[-1].removesuffix('.yaml')}'",
            "file": f"file {self.path}",
            "project": "the project's codebook",
        }.get(self.origin, self.path)
        return f"{self.name} {self.version} ({where})"

    def attribute_names(self) -> list[str]:
        """Every code attribute key, in order of first use."""
        return list(dict.fromkeys(key for code in self.codes.values() for key in code.attributes))

    def children(self, code_id: str | None) -> list[Code]:
        return [c for c in self.codes.values() if c.parent == code_id]

    def roots(self) -> list[Code]:
        return self.children(None)

    def ancestors(self, code_id: str) -> Iterator[Code]:
        code = self.codes[code_id].parent
        while code is not None:
            yield self.codes[code]
            code = self.codes[code].parent

    def resolve_phase(
        self, given: str | None, date: str | None, attributes: dict[str, Any]
    ) -> tuple[str | None, str | None]:
        """Return (phase id or None, problem or None) for a source, following the docs' order."""
        if given:
            folded = given.strip().casefold()
            for phase in self.phases:
                if phase.id.casefold() == folded or phase.label.casefold() == folded:
                    return phase.id, None
            known = ", ".join(p.id for p in self.phases) or "none declared"
            return None, f"phase {given!r} is not in the codebook (phases: {known}); source coded with no phase"
        for rule in self.phase_rules:
            if rule.matches(date, attributes):
                return rule.phase, None
        return None, None


def resolve_path(name_or_path: str | Path) -> Path:
    """``kam`` names the codebook shipped with the package; anything else is a path."""
    text = str(name_or_path)
    if text in BUILTIN:
        return Path(str(resources.files("qualkam") / "codebooks" / BUILTIN[text]))
    path = Path(text)
    if not path.exists():
        builtins = ", ".join(BUILTIN)
        raise InputError(f"codebook not found: {text} (give a YAML path, or a built-in name: {builtins})")
    if path.is_dir():
        raise InputError(f"codebook {text} is a folder; give the path of a .yaml file")
    return path


class _LineLoader(TextDateLoader):
    """A SafeLoader that remembers the line of every mapping and sequence item."""


class _FastLineLoader(FastTextDateLoader):
    """_LineLoader on libyaml's parser."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = dict(loader.construct_mapping(node, deep=True))
    lines = {"": node.start_mark.line + 1}
    for key_node, _ in node.value:
        lines[str(key_node.value)] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_FastLineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__lines__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


class _Validator:
    """Collects every problem as ``path:line: where: what``."""

    def __init__(self, path: str, spacy_check: bool = True) -> None:
        self.path = path
        self.spacy_check = spacy_check
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def error(self, node: dict[str, Any] | None, key: str, where: str, message: str) -> None:
        line = _line(node, key)
        self.problems.append(f"{self.path}:{line}: {where}: {message}")

    def unknown(self, node: dict[str, Any], allowed: set[str], where: str) -> None:
        """Report keys the format does not know (a typo would otherwise be silently ignored)."""
        extra = sorted(set(node) - allowed - {"__lines__"})
        if extra:
            self.error(node, extra[0], where, f"unknown field(s) {extra}; use {', '.join(sorted(allowed))}")

    def warn(self, node: dict[str, Any] | None, key: str, where: str, message: str) -> None:
        self.warnings.append(f"{self.path}:{_line(node, key)}: {where}: {message}")


def _line(node: dict[str, Any] | None, key: str) -> int:
    if not isinstance(node, dict):
        return 1
    lines = node.get("__lines__", {})
    return lines.get(key, lines.get("", 1))


def _string_list(v: _Validator, node: dict[str, Any], key: str, where: str) -> list[str]:
    value = node.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        v.error(node, key, f"{where}.{key}", "must be a list of strings")
        return []
    out = []
    for item in value:
        if not isinstance(item, (str, int, float)) or not str(item).strip():
            v.error(node, key, f"{where}.{key}", f"empty or non-text entry {item!r}")
        else:
            out.append(str(item).strip())
    return out


def _token_patterns(v: _Validator, node: dict[str, Any], key: str, where: str) -> list[list[dict[str, Any]]]:
    value = node.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        v.error(node, key, f"{where}.{key}", "must be a list of token patterns (each a list of {ATTR: value} mappings)")
        return []
    spacy_problem = _spacy_checker() if v.spacy_check else None
    out = []
    for index, pattern in enumerate(value):
        label = f"{where}.{key}[{index}]"
        pattern = _strip_lines(pattern)
        if not isinstance(pattern, list) or not pattern or not all(isinstance(t, dict) and t for t in pattern):
            v.error(node, key, label, "a token pattern must be a non-empty list of non-empty {ATTR: value} mappings")
            continue
        problems = [f"{label}[{i}]: {problem}" for i, token in enumerate(pattern) for problem in _token_problems(token)]
        for problem in problems:
            v.error(node, key, problem.split(": ", 1)[0], problem.split(": ", 1)[1])
        if problems:
            continue
        refused = spacy_problem(pattern) if spacy_problem is not None else None
        if refused:
            v.error(node, key, label, f"spaCy rejects this pattern: {refused}")
            continue
        used = {attr.upper() for token in pattern for attr in token}
        if used & NEEDS_MODEL:
            v.warn(node, key, label, f"uses {sorted(used & NEEDS_MODEL)}, which only a trained pipeline (--model) sets")
        out.append(pattern)
    return out


def _spacy_checker() -> Callable[[list[dict[str, Any]]], str | None]:
    """A function giving spaCy's reason to refuse a token pattern (None: accepted), through a
    validating Matcher. Imports spaCy, which is why a stored codebook is parsed without it."""
    from spacy.errors import MatchPatternError
    from spacy.matcher import Matcher
    from spacy.vocab import Vocab

    checker = Matcher(Vocab(), validate=True)

    def problem(pattern: list[dict[str, Any]]) -> str | None:
        try:
            checker.add("check", [pattern])
        except (MatchPatternError, ValueError, TypeError, KeyError, re.error, OverflowError) as exc:
            return " ".join(str(exc).split())[:200]
        return None

    return problem


def check_with_spacy(book: Codebook) -> None:
    """Check a codebook parsed with ``spacy_check=False`` against spaCy's pattern schema before
    its patterns are compiled; raises CodebookError with the lines, as ``parse_codebook`` would."""
    if book.spacy_checked:
        return
    parse_codebook(book.text, book.path)  # raises for a pattern spaCy refuses
    book.spacy_checked = True


def _token_problems(token: dict[str, Any]) -> list[str]:
    """What spaCy would accept but must not run: an ``OP`` repeat spaCy writes out n times
    (``{99999999999}`` never finished), a custom attribute ``_`` (no extension is registered,
    so every document would fail), and a ``REGEX`` that does not compile or can
    backtrack catastrophically (``(a+)+$`` takes seconds on a 30-letter word; see
    ``regex_problem``). Checked before spaCy sees the pattern."""
    problems = []
    for attr, value in token.items():
        if attr == "_":  # spaCy accepts it, then fails on every document: no extension is registered
            problems.append("custom attributes ('_') are not set by qualkam's pipeline; match on LOWER, LEMMA or TEXT")
            continue
        if str(attr).upper() == "OP" and isinstance(value, str):
            match = _OP.match(value)
            numbers = [int(n) for n in match.groups()[::2] if n] if match else []
            if any(n > MAX_REPEAT for n in numbers):
                problems.append(f"OP {value!r} repeats a token more than {MAX_REPEAT} times; use a smaller count")
        if isinstance(value, dict):
            for predicate, expression in value.items():
                if str(predicate).upper() != "REGEX":
                    continue
                if not isinstance(expression, str):
                    problems.append(f"{attr}.REGEX must be a text, not {expression!r}")
                    continue
                problem = regex_problem(expression)
                if problem:
                    problems.append(f"{attr}.REGEX {expression[:60]!r}: {problem}")
    return problems


def regex_problem(expression: str) -> str | None:
    """Why a REGEX is refused, or None. The rule (docs/codebook-format.md): it must compile,
    be at most ``MAX_REGEX`` characters, and have no repeat inside a repeat (``(a+)+``,
    ``(\\w*\\s?)*``) and no alternatives inside a repeat that can start the same way
    (``(a|ab)*``, ``(x|\\w)+``), the shapes that backtrack exponentially. Python's re has no
    time limit, so a pattern that could run for hours is refused when the codebook loads."""
    if len(expression) > MAX_REGEX:
        return f"longer than {MAX_REGEX} characters"
    try:
        parsed = _sre_parse.parse(expression)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        return f"not a valid regular expression ({' '.join(str(exc).split())[:120]})"
    stack: list[tuple[Any, bool]] = [(parsed, False)]
    while stack:
        items, repeated = stack.pop()
        for op, av in items:
            name = str(op)
            if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                _low, high, sub = av
                repeats = high is _sre_constants.MAXREPEAT or high > 1
                if repeats and repeated and name != "POSSESSIVE_REPEAT":
                    return "a repeat inside a repeat (such as (a+)+) can take hours to fail; rewrite it without nesting"
                stack.append((sub, repeated or repeats))
            elif name == "SUBPATTERN":
                stack.append((av[-1], repeated))
            elif name == "ATOMIC_GROUP":
                stack.append((av, False))  # an atomic group never backtracks into itself
            elif name in ("ASSERT", "ASSERT_NOT"):
                stack.append((av[1], repeated))
            elif name == "BRANCH":
                branches = av[1]
                firsts = [b[0] for b in branches if b and str(b[0][0]) == "LITERAL"]
                if repeated and (len(firsts) < len(branches) or len({f[1] for f in firsts}) < len(firsts)):
                    return (
                        "alternatives inside a repeat that can match the same text (such as (a|ab)+) can take "
                        "hours to fail; make each alternative start with a different letter"
                    )
                stack.extend((b, repeated) for b in branches)
            elif name == "GROUPREF_EXISTS":
                stack.extend((b, repeated) for b in av[1:] if b)
    return None


def _date(v: _Validator, node: dict[str, Any], key: str, where: str) -> dt.date | None:
    value = node.get(key)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        v.error(node, key, f"{where}.{key}", f"{value!r} is not a date (write YYYY-MM-DD)")
        return None


def _number(v: _Validator, node: dict[str, Any], key: str, where: str) -> float | None:
    value = node.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        v.error(node, key, f"{where}.{key}", f"{value!r} is not a number")
        return None
    return float(value)


def _parse_phases(v: _Validator, data: dict[str, Any]) -> list[Phase]:
    raw = data.get("phases") or []
    if not isinstance(raw, list):
        v.error(data, "phases", "phases", "must be a list of {id, label, description}")
        return []
    phases: list[Phase] = []
    seen: set[str] = set()
    for index, node in enumerate(raw):
        where = f"phases[{index}]"
        if not isinstance(node, dict):
            v.error(data, "phases", where, "must be a mapping with id and label")
            continue
        pid = node.get("id")
        if not isinstance(pid, str) or not ID.match(pid):
            v.error(node, "id", f"{where}.id", f"{pid!r} is not a valid id (letters, digits, underscore)")
            continue
        if pid in seen:
            v.error(node, "id", f"{where}.id", f"duplicate phase id {pid!r}")
            continue
        seen.add(pid)
        v.unknown(node, {"id", "label", "description"}, where)
        phases.append(Phase(pid, str(node.get("label") or pid), str(node.get("description") or "").strip()))
    return phases


def _parse_phase_rules(v: _Validator, data: dict[str, Any], phases: list[Phase]) -> list[PhaseRule]:
    raw = data.get("phase_rules") or []
    if not isinstance(raw, list):
        v.error(data, "phase_rules", "phase_rules", "must be a list of rules")
        return []
    known = {p.id for p in phases}
    rules = []
    for index, node in enumerate(raw):
        where = f"phase_rules[{index}]"
        if not isinstance(node, dict):
            v.error(data, "phase_rules", where, "must be a mapping with phase and date or attribute")
            continue
        phase = node.get("phase")
        if phase not in known:
            v.error(
                node,
                "phase",
                f"{where}.phase",
                f"unknown phase {phase!r} (declared: {', '.join(sorted(known)) or 'none'})",
            )
        v.unknown(node, {"phase", "date", "attribute", "min", "max"}, where)
        if ("date" in node) == ("attribute" in node):
            v.error(node, "phase", where, "give exactly one of 'date: {from, to}' or 'attribute: NAME' with min/max")
            continue
        rule = PhaseRule(str(phase))
        if "date" in node:
            dates = node["date"]
            if not isinstance(dates, dict) or not ({"from", "to"} & set(dates)):
                v.error(node, "date", f"{where}.date", "must be a mapping with 'from' and/or 'to'")
                continue
            rule.date_from = _date(v, dates, "from", f"{where}.date")
            rule.date_to = _date(v, dates, "to", f"{where}.date")
            if rule.date_from and rule.date_to and rule.date_from > rule.date_to:
                v.error(dates, "from", f"{where}.date", f"'from' {rule.date_from} is after 'to' {rule.date_to}")
        else:
            if not isinstance(node["attribute"], str) or not node["attribute"].strip():
                v.error(node, "attribute", f"{where}.attribute", "must name a source attribute")
                continue
            rule.attribute = node["attribute"].strip()
            rule.min = _number(v, node, "min", where)
            rule.max = _number(v, node, "max", where)
            if rule.min is None and rule.max is None:
                v.error(node, "attribute", where, "an attribute rule needs min and/or max")
            if rule.min is not None and rule.max is not None and rule.min > rule.max:
                v.error(node, "min", where, f"min {rule.min:g} is above max {rule.max:g}")
        rules.append(rule)
    return rules


def _parse_patterns(v: _Validator, node: dict[str, Any], where: str) -> Patterns:
    raw = node.get("patterns")
    if raw is None:
        return Patterns()
    if not isinstance(raw, dict):
        v.error(node, "patterns", f"{where}.patterns", "must be a mapping with lemmas and/or tokens")
        return Patterns()
    v.unknown(raw, PATTERN_KEYS, f"{where}.patterns")
    patterns = Patterns(
        lemmas=_string_list(v, raw, "lemmas", f"{where}.patterns"),
        tokens=_token_patterns(v, raw, "tokens", f"{where}.patterns"),
        exclude_lemmas=_string_list(v, raw, "exclude_lemmas", f"{where}.patterns"),
        exclude_tokens=_token_patterns(v, raw, "exclude_tokens", f"{where}.patterns"),
    )
    for key in ("lemmas", "tokens"):
        if key in raw and not raw[key]:
            v.error(raw, key, f"{where}.patterns.{key}", "is empty; remove it or add patterns")
    return patterns


def _walk_codes(
    v: _Validator, raw: Any, parent: str | None, prefix: str, out: list[tuple[dict[str, Any], str, str | None]]
) -> None:
    if not isinstance(raw, list):
        v.problems.append(f"{v.path}:1: {prefix or 'codes'}: must be a list of codes")
        return
    for index, node in enumerate(raw):
        where = f"{prefix}[{index}]" if prefix else f"codes[{index}]"
        if not isinstance(node, dict):
            v.problems.append(f"{v.path}:1: {where}: a code must be a mapping with at least id and label")
            continue
        out.append((node, where, parent))
        if "children" in node:
            _walk_codes(
                v,
                node["children"],
                node.get("id") if isinstance(node.get("id"), str) else None,
                f"{where}.children",
                out,
            )


def _parse_codes(v: _Validator, data: dict[str, Any]) -> dict[str, Code]:
    flat: list[tuple[dict[str, Any], str, str | None]] = []
    _walk_codes(v, data.get("codes"), None, "", flat)
    codes: dict[str, Code] = {}
    for node, where, nested_parent in flat:
        cid = node.get("id")
        if not isinstance(cid, str) or not ID.match(cid):
            v.error(
                node,
                "id",
                f"{where}.id",
                f"{cid!r} is not a valid code id (letters, digits, underscore; starts with a letter)",
            )
            continue
        where = f"code '{cid}'"
        if cid in codes:
            v.error(node, "id", where, f"duplicate code id (first defined on line {codes[cid].line})")
            continue
        v.unknown(node, CODE_KEYS, where)
        label = node.get("label")
        if not isinstance(label, str) or not label.strip():
            v.error(node, "label" if "label" in node else "id", f"{where}.label", "missing or empty label")
            label = cid
        parent = node.get("parent", nested_parent)
        if "parent" in node and nested_parent is not None and node["parent"] != nested_parent:
            v.error(
                node,
                "parent",
                f"{where}.parent",
                f"says {node['parent']!r} but the code is nested under {nested_parent!r}",
            )
        color = node.get("color")
        if color is not None and (not isinstance(color, str) or not COLOR.match(color)):
            v.error(node, "color", f"{where}.color", f"{color!r} is not a colour like '#1f77b4'")
            color = None
        attributes = node.get("attributes") or {}
        if not isinstance(attributes, dict):
            v.error(node, "attributes", f"{where}.attributes", "must be a mapping of key: value")
            attributes = {}
        codes[cid] = Code(
            id=cid,
            label=label.strip(),
            parent=str(parent) if parent is not None else None,
            definition=str(node.get("definition") or "").strip(),
            include=_string_list(v, node, "include", where),
            exclude=_string_list(v, node, "exclude", where),
            examples=_string_list(v, node, "examples", where),
            color=color,
            attributes={str(k): v_ for k, v_ in _strip_lines(attributes).items()},
            patterns=_parse_patterns(v, node, where),
            line=_line(node, "id"),
        )
    for code in codes.values():
        if code.parent is not None and code.parent not in codes:
            v.problems.append(f"{v.path}:{code.line}: code '{code.id}'.parent: unknown parent {code.parent!r}")
            code.parent = None
    depth: dict[str, int] = {}  # code -> levels above it; each chain walked once (a long chain is linear)
    for code in codes.values():
        chain: list[str] = []
        on_chain: set[str] = set()
        current: str | None = code.id
        while current is not None and current not in depth:
            if current in on_chain:
                loop = codes[current]
                v.problems.append(
                    f"{v.path}:{loop.line}: code '{loop.id}'.parent: the parent chain loops back to {loop.id!r}"
                )
                loop.parent = None
                depth[current] = 0
                break
            chain.append(current)
            on_chain.add(current)
            current = codes[current].parent
        base = depth[current] + 1 if current is not None else 0
        for offset, cid in enumerate(reversed(chain)):
            depth.setdefault(cid, base + offset)
    too_deep = [c for c in codes.values() if depth.get(c.id, 0) == MAX_CODE_DEPTH]
    for code in too_deep:
        v.problems.append(
            f"{v.path}:{code.line}: code '{code.id}'.parent: the code tree is more than {MAX_CODE_DEPTH} "
            "levels deep here; a codebook is read and shown as a tree, keep it shallower"
        )
    return codes


def _parse_compare(v: _Validator, data: dict[str, Any], codes: dict[str, Code]) -> list[Comparison]:
    """``compare:``, a list of code attribute names, or of {attribute, label, description}."""
    raw = data.get("compare")
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        v.error(data, "compare", "compare", "must be a list of code attribute names, e.g. compare: [pole]")
        return []
    known = list(dict.fromkeys(key for code in codes.values() for key in code.attributes))
    out: list[Comparison] = []
    for index, item in enumerate(raw):
        where = f"compare[{index}]"
        node: dict[str, Any] = data
        if isinstance(item, dict):
            node = item
            v.unknown(item, COMPARE_KEYS, where)
            for key in ("label", "description"):
                if key in item and not isinstance(item[key], str):
                    v.error(item, key, f"{where}.{key}", "must be text")
            item = item.get("attribute")
            if item is None:
                v.error(node, "attribute", f"{where}.attribute", "is required: the code attribute to compare")
                continue
        if not isinstance(item, str) or not item.strip():
            v.error(
                node,
                "attribute" if node is not data else "compare",
                where,
                f"{item!r} is not a code attribute name; write e.g. compare: [pole]",
            )
            continue
        name = item.strip()
        if any(c.attribute == name for c in out):
            v.error(node, "attribute" if node is not data else "compare", where, f"{name!r} is listed twice")
            continue
        if codes and name not in known:
            v.error(
                node,
                "attribute" if node is not data else "compare",
                where,
                f"no code has the attribute {name!r} (code attributes here: {', '.join(known) or 'none'})",
            )
            continue
        label = node.get("label") if node is not data else None
        description = node.get("description") if node is not data else None
        out.append(
            Comparison(
                name,
                label.strip() if isinstance(label, str) else "",
                description.strip() if isinstance(description, str) else "",
            )
        )
    return out


def parse_codebook(text: str, path: str = "<codebook>", spacy_check: bool = True) -> Codebook:
    """Validate codebook text; raise CodebookError listing every problem.

    ``spacy_check=False`` leaves out spaCy's schema check of token patterns (qualkam's own
    checks, which keep a hostile pattern from running, stay): for a codebook the project
    stored after checking it, so a run that codes nothing need not import spaCy. The
    Suggester checks such a codebook before compiling it (``check_with_spacy``)."""
    try:
        data = load_yaml(text, _FastLineLoader, _LineLoader)
    except yaml.YAMLError as exc:
        where = error_where(exc).removeprefix("line ")
        raise CodebookError(path, [f"{path}:{where}: not valid YAML: {error_problem(exc)}"]) from exc
    if not isinstance(data, dict):
        raise CodebookError(path, [f"{path}:1: a codebook is a mapping with name, version, phases and codes"])
    v = _Validator(path, spacy_check)
    for key in sorted(set(data) - TOP_KEYS - {"__lines__"}):
        v.error(data, key, key, f"unknown top-level field; known: {', '.join(sorted(TOP_KEYS))}")
    for key in ("name", "version", "codes"):
        if data.get(key) in (None, "", []):
            v.error(data, key, key, "is required")
    types = data.get("source_types") or list(DEFAULT_SOURCE_TYPES)
    if not isinstance(types, list) or not all(isinstance(t, str) and t.strip() for t in types):
        v.error(data, "source_types", "source_types", "must be a list of type names")
        types = list(DEFAULT_SOURCE_TYPES)
    phases = _parse_phases(v, data)
    rules = _parse_phase_rules(v, data, phases)
    codes = _parse_codes(v, data) if data.get("codes") else {}
    compare = _parse_compare(v, data, codes)
    if v.problems:
        raise CodebookError(path, v.problems)
    return Codebook(
        name=str(data["name"]),
        version=str(data["version"]),
        path=path,
        text=text,
        description=str(data.get("description") or "").strip(),
        source_types=[t.strip().lower() for t in types],
        phases=phases,
        phase_rules=rules,
        codes=codes,
        warnings=v.warnings,
        compare=compare,
        spacy_checked=spacy_check,
    )


def load_codebook(name_or_path: str | Path = DEFAULT_CODEBOOK, stored_hash: str | None = None) -> Codebook:
    """Load and validate a codebook by built-in name (``kam``) or path. A text whose hash is
    ``stored_hash`` (the version a project stored, checked then) is parsed without spaCy's
    pattern check, as the stored version is (see ``parse_codebook``)."""
    path = resolve_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read codebook {path}: {exc}") from exc
    builtin = str(name_or_path) in BUILTIN
    shown = f"codebooks/{BUILTIN[str(name_or_path)]}" if builtin else str(name_or_path)
    known = stored_hash is not None and hashlib.sha256(text.encode("utf-8")).hexdigest() == stored_hash
    book = parse_codebook(text, shown, spacy_check=not known)
    book.origin = "built-in" if builtin else "file"
    return book


@dataclass
class CodebookChange:
    """What replacing one codebook with another changes in the code tree."""

    old: Codebook
    new: Codebook
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # code id -> the fields that differ
    phases_added: list[str] = field(default_factory=list)
    phases_removed: list[str] = field(default_factory=list)

    @property
    def codes_same(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self, limit: int = 8) -> list[str]:
        """The change in a few lines for a person: counts and the first ids of each kind."""

        def some(ids: list[str]) -> str:
            return ", ".join(ids[:limit]) + (f", ... ({len(ids) - limit} more)" if len(ids) > limit else "")

        out = []
        if self.added:
            out.append(f"codes added: {len(self.added)} ({some(self.added)})")
        if self.removed:
            out.append(f"codes removed: {len(self.removed)} ({some(self.removed)})")
        if self.changed:
            shown = [f"{cid} [{', '.join(fields)}]" for cid, fields in self.changed.items()]
            out.append(f"codes changed: {len(self.changed)} ({some(shown)})")
        if self.old.partial:
            out.append(
                "(the project's stored codebook no longer validates: compared by its codes' labels, "
                "parents, definitions, colours and attributes only)"
            )
        if (self.phases_added or self.phases_removed) and not self.old.partial:
            out.append(
                f"phases added: {some(self.phases_added) or 'none'}; removed: {some(self.phases_removed) or 'none'}"
            )
        if not out or (self.old.partial and len(out) == 1):
            out.insert(0, "the same codes and phases (other fields differ: patterns or descriptions)")
        return out


CODE_FIELDS = ("label", "parent", "definition", "include", "exclude", "examples", "color", "attributes", "patterns")


STORED_FIELDS = ("label", "parent", "definition", "color", "attributes")  # what a project's codes table holds


def compare_codebooks(old: Codebook, new: Codebook) -> CodebookChange:
    """Codes added, removed and changed (by id, field by field), and phases added or removed.
    A ``partial`` codebook is compared on the fields it has."""
    fields_compared = STORED_FIELDS if old.partial or new.partial else CODE_FIELDS
    change = CodebookChange(old, new)
    change.added = [c for c in new.codes if c not in old.codes]
    change.removed = [c for c in old.codes if c not in new.codes]
    for cid, code in new.codes.items():
        before = old.codes.get(cid)
        if before is not None:
            fields = [f for f in fields_compared if getattr(before, f) != getattr(code, f)]
            if fields:
                change.changed[cid] = fields
    old_phases, new_phases = [p.id for p in old.phases], [p.id for p in new.phases]
    change.phases_added = [p for p in new_phases if p not in old_phases]
    change.phases_removed = [p for p in old_phases if p not in new_phases]
    return change
