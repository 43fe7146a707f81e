"""Codebook lint: the codebook is valid, but will its patterns and its tree do their job?

Issue 6 ("Codebook diagnostics"). ``qualkam codebook validate`` says whether a codebook can
be loaded; lint says where it will quietly under-perform:

- ``no_patterns``: a leaf code with no lemma phrase and no token pattern, so the rules never
  suggest it (parents are containers and are not checked);
- ``shared_pattern``: the same lemma phrase (compared after lemmatizing, so "sales targets"
  and "sales target" are one) in two or more codes: every match suggests all of them;
- ``unmatched_pattern`` (needs a project): a lemma phrase or token pattern that matches
  nothing in the project's segments, run with the same ``Suggester`` the coding run uses;
- ``no_parent_cooccurrence`` (needs people's codings of the parent): a child code people
  applied on segments where its parent is never applied, although the parent is coded in
  the project. In a codebook whose parents are only headings the check cannot apply; the
  report says so instead of guessing.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml
from spacy.language import Language

from qualkam.coding.codebook import Codebook
from qualkam.coding.nlp import load_pipeline
from qualkam.coding.suggest import Suggester
from qualkam.store import training as store
from qualkam.store.project import Project

KINDS = ("no_patterns", "shared_pattern", "unmatched_pattern", "no_parent_cooccurrence")


@dataclass
class Finding:
    """One thing to look at, with the place in the codebook file (``path:line``)."""

    kind: str
    code: str
    where: str
    message: str
    pattern: str | None = None  # the rule name, as in the evidence: lemma:<phrase> or tokens:<n>
    detail: str | None = None  # the pattern itself (a token pattern as JSON)


@dataclass
class LintReport:
    """Findings in codebook order per kind, and notes on checks that could not run."""

    codebook: str
    project: str | None
    checks: list[str]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    segments: int = 0

    @property
    def clean(self) -> bool:
        return not self.findings

    def counts(self) -> dict[str, int]:
        found = Counter(f.kind for f in self.findings)
        return {kind: found[kind] for kind in KINDS if kind in self.checks}

    def as_dict(self) -> dict[str, Any]:
        return {
            "codebook": self.codebook,
            "project": self.project,
            "segments": self.segments,
            "checks": self.checks,
            "counts": self.counts(),
            "findings": [asdict(f) for f in self.findings],
            "notes": self.notes,
        }


def pattern_lines(book: Codebook) -> dict[tuple[str, str], int]:
    """(code id, rule name) -> line of that pattern in the codebook file.

    Patterns carry no line of their own after loading, so the YAML is composed again and
    every mapping with an ``id`` and ``patterns`` is read: the lines of its ``lemmas`` and
    ``tokens`` items, named as the Suggester names its rules (``lemma:<phrase>``, ``tokens:<n>``).
    """
    try:
        root = yaml.compose(book.text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[tuple[str, str], int] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        if not isinstance(node, yaml.MappingNode):
            continue
        fields = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        stack.extend(fields.values())
        code, patterns = fields.get("id"), fields.get("patterns")
        if not isinstance(code, yaml.ScalarNode) or not isinstance(patterns, yaml.MappingNode):
            continue
        for key, items in patterns.value:
            if not isinstance(items, yaml.SequenceNode) or key.value not in ("lemmas", "tokens"):
                continue
            for index, item in enumerate(items.value):
                rule = (
                    f"lemma:{str(item.value).strip()}"
                    if key.value == "lemmas" and isinstance(item, yaml.ScalarNode)
                    else f"tokens:{index + 1}"
                )
                lines.setdefault((str(code.value), rule), item.start_mark.line + 1)
    return lines


def _where(book: Codebook, code_id: str, line: int | None = None) -> str:
    line = line or book.codes[code_id].line
    return f"{book.path}:{line}" if line else book.path


def _token_text(pattern: list[dict[str, Any]]) -> str:
    return json.dumps(pattern, ensure_ascii=False)


def _leaves(book: Codebook) -> list[str]:
    parents = {c.parent for c in book.codes.values() if c.parent}
    return [c for c in book.codes if c not in parents]


def check_no_patterns(book: Codebook) -> list[Finding]:
    """Leaves the rules can never suggest."""
    return [
        Finding(
            "no_patterns",
            code,
            _where(book, code),
            f"code {code!r} is a leaf with no patterns; the rules will never suggest it "
            "(add lemmas or tokens, or code it by hand)",
        )
        for code in _leaves(book)
        if not book.codes[code].patterns
    ]


def check_shared(book: Codebook, nlp: Language) -> list[Finding]:
    """Lemma phrases that, once lemmatized, belong to more than one code."""
    owners: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
    for code in book.codes.values():
        phrases = code.patterns.lemmas
        for phrase, doc in zip(phrases, nlp.pipe(phrases), strict=True):
            key = tuple(t.lemma_ for t in doc)
            if code.id not in [c for c, _ in owners[key]]:
                owners[key].append((code.id, phrase))
    lines = pattern_lines(book)
    findings = []
    for found in owners.values():
        if len(found) < 2:
            continue
        for code_id, phrase in found:
            others = ", ".join(f"{c} ({p!r})" if p != phrase else c for c, p in found if c != code_id)
            findings.append(
                Finding(
                    "shared_pattern",
                    code_id,
                    _where(book, code_id, lines.get((code_id, f"lemma:{phrase}"))),
                    f"code {code_id!r}: lemma phrase {phrase!r} is also a pattern of {others}; "
                    "every match suggests all of them",
                    f"lemma:{phrase}",
                    phrase,
                )
            )
    order = {c: i for i, c in enumerate(book.codes)}
    return sorted(findings, key=lambda f: order[f.code])


def check_unmatched(book: Codebook, project: Project, nlp: Language) -> tuple[list[Finding], int]:
    """Patterns with no match in any segment of the project; returns (findings, segments read).

    A pattern whose raw matches are all dropped (inside an exclusion of its code, or on the
    very span another rule of the code already claimed) is reported too, with that reason,
    since it never produces evidence either.
    """
    suggester = Suggester(book, nlp)
    texts = store.segment_texts(project)
    fired: Counter[tuple[str, str]] = Counter()
    raw: Counter[tuple[str, str]] = Counter()
    for doc in nlp.pipe(texts):
        for code_id, evidence in suggester.matches(doc):
            fired[code_id, evidence.rule] += 1
        # The matcher before exclusions and de-duplication: tells "never there" from "dropped".
        for code_id, rule, _, _ in suggester._raw(doc, suggester._phrases, suggester._tokens):
            raw[code_id, rule] += 1
    lines = pattern_lines(book)
    findings = []
    for code in book.codes.values():
        rules = [(f"lemma:{p}", p) for p in code.patterns.lemmas]
        rules += [(f"tokens:{i + 1}", _token_text(p)) for i, p in enumerate(code.patterns.tokens)]
        for rule, shown in rules:
            if fired[code.id, rule]:
                continue
            if raw[code.id, rule]:
                why = (
                    f"matches {raw[code.id, rule]} time(s), but always inside an exclusion of the code or on a "
                    "span another of its rules already claimed, so it never gives evidence"
                )
            else:
                why = f"matches nothing in {len(texts)} segments"
            label = f"lemma phrase {shown!r}" if rule.startswith("lemma:") else f"token pattern {rule}"
            findings.append(
                Finding(
                    "unmatched_pattern",
                    code.id,
                    _where(book, code.id, lines.get((code.id, rule))),
                    f"code {code.id!r}: {label} {why}",
                    rule,
                    shown,
                )
            )
    return findings, len(texts)


def check_parent_cooccurrence(book: Codebook, project: Project) -> tuple[list[Finding], list[str]]:
    """Children people coded only where their (coded) parent is absent; (findings, notes)."""
    segments: dict[str, set[int]] = defaultdict(set)
    for code_id, segment in store.people_accepted(project):
        segments[code_id].add(segment)
    if not segments:
        return [], ["parent co-occurrence: no people's codings in the project yet, so the check did not run"]
    findings, uncoded_parents = [], set()
    for code in book.codes.values():
        if code.parent is None or not segments.get(code.id):
            continue
        parent = segments.get(code.parent, set())
        if not parent:
            uncoded_parents.add(code.parent)
            continue
        if not segments[code.id] & parent:
            findings.append(
                Finding(
                    "no_parent_cooccurrence",
                    code.id,
                    _where(book, code.id),
                    f"code {code.id!r} is coded on {len(segments[code.id])} segment(s) but never together with its "
                    f"parent {code.parent!r} (coded on {len(parent)}); code the parent there too, or move the code",
                )
            )
    notes = []
    if uncoded_parents:
        notes.append(
            f"parent co-occurrence needs parent codings: {len(uncoded_parents)} parent(s) of coded "
            f"children have none in the project ({', '.join(sorted(uncoded_parents))}); they are "
            "containers here, so their children were not checked"
        )
    return findings, notes


def lint(book: Codebook, project: Project | None = None, nlp: Language | None = None) -> LintReport:
    """Run every check that can run: the static ones always, the project ones with a project.

    ``nlp`` defaults to the pipeline the project's sources were coded with (the blank
    English one without a project), so patterns are matched as the coding run matches them.
    """
    if nlp is None:
        nlp = load_pipeline(store.main_pipeline(project) if project is not None else None)
    checks = ["no_patterns", "shared_pattern"]
    report = LintReport(book.path, str(project.path) if project is not None else None, checks)
    report.findings += check_no_patterns(book)
    report.findings += check_shared(book, nlp)
    if project is None:
        report.notes.append(
            "no project: only the static checks ran (leaves without patterns, shared patterns); "
            "give a project to match the patterns against its segments and check parents"
        )
        return report
    checks += ["unmatched_pattern", "no_parent_cooccurrence"]
    unmatched, report.segments = check_unmatched(book, project, nlp)
    report.findings += unmatched
    if not report.segments:
        report.notes.append(
            f"{project.path} has no segments; every pattern is reported as matching nothing "
            "(run 'qualkam code DIR' first)"
        )
    cooccurrence, notes = check_parent_cooccurrence(book, project)
    report.findings += cooccurrence
    report.notes += notes
    return report


def project_codebook(project: Project) -> tuple[str, str] | None:
    """(YAML text, path) of the codebook version the project's current codes come from."""
    row = project.codebook_row()
    return (row["yaml"], row["path"] or "<project codebook>") if row is not None else None
