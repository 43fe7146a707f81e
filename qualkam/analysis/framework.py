"""Framework matrices (issue 16, point 4), after Ritchie & Spencer's framework analysis.

Cases (participants, or sources) down the side, themes (codes, or code groups: a code attribute
such as ``pole``) across; each cell holds a researcher's summary and the excerpts behind it.
The excerpts are read from a layer each time (``qualkam.analysis.excerpts.retrieve``), never
copied, so a cell's references follow the coding; only the summaries are stored
(``qualkam.store.framework``). A framework is named (``default``), so one project can hold
several (by participant, by source, by pole ...).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from qualkam.choices import check_choice, unknown
from qualkam.errors import QualkamError
from qualkam.store import framework as store
from qualkam.store.layers import Layer
from qualkam.store.names import known_names
from qualkam.store.project import Project

CASE_KINDS = ("case", "source")
DEFAULT_NAME = "default"
REFERENCE_COLUMNS = ["case", "theme", "source", "segment", "start", "end", "code", "speaker", "text"]


@dataclass
class Framework:
    """One framework: its cases (id -> name) and themes in order, every cell's excerpt
    references and the summaries written so far."""

    name: str
    case_kind: str
    themes_by: str
    layer: str
    cases: dict[str, str]
    themes: list[str]
    references: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    summaries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def summary(self, case_id: str, theme: str) -> str:
        return str(self.summaries.get((case_id, theme), {}).get("summary", ""))

    def reference_text(self, case_id: str, theme: str) -> str:
        """The cell's excerpts as ``int-06 #12, #14; int-07 #3`` (source, then segment ids)."""
        by_source: dict[str, list[int]] = defaultdict(list)
        for ref in self.references.get((case_id, theme), []):
            if ref["segment"] not in by_source[ref["source"]]:
                by_source[ref["source"]].append(ref["segment"])
        return "; ".join(f"{s} " + ", ".join(f"#{n}" for n in ids) for s, ids in by_source.items())

    def cell_text(self, case_id: str, theme: str) -> str:
        """What a cell shows: the summary, or while there is none its references."""
        return self.summary(case_id, theme) or self.reference_text(case_id, theme)

    def case_id(self, given: str, argument: str = "case") -> str:
        """A case's id from its id or its name (any case of letters)."""
        text = str(given).strip()
        for key, name in self.cases.items():
            if text == key or text.casefold() in (key.casefold(), name.casefold()):
                return key
        raise unknown(self.case_kind, text, list(self.cases.values()), argument)

    def theme(self, given: str, argument: str = "theme") -> str:
        text = str(given).strip()
        for theme in self.themes:
            if text.casefold() == theme.casefold():
                return theme
        raise unknown("theme", text, self.themes, argument)


def _themes(project: Project, themes: str) -> tuple[dict[str, str], list[str]]:
    """code id -> theme, and the themes in codebook order (``code`` or ``attr:NAME``)."""
    from qualkam.analysis.matrix import code_table

    codes = code_table(project)
    if themes == "code":
        mapping = {str(c): str(c) for c in codes["id"]}
    elif themes.startswith("attr:") and themes[5:]:
        key = themes[5:]
        mapping = {
            row.id: str(row.attributes[key]) for row in codes.itertuples() if row.attributes.get(key) is not None
        }
        if not mapping:
            keys = sorted({k for attributes in codes["attributes"] for k in attributes})
            raise unknown("code attribute", key, keys, "themes")
    else:
        raise unknown("theme kind", themes, ["code", "attr:NAME"], "themes")
    return mapping, list(dict.fromkeys(mapping.values()))


def build_framework(
    project: Project,
    cases: str = "case",
    themes: str = "code",
    layer: str | Layer = "auto",
    name: str = DEFAULT_NAME,
) -> Framework:
    """Every case x theme with its excerpt references (from ``layer``) and its summary.

    ``cases`` ``case`` (participants, ``qualkam.analysis.cases``) or ``source``; ``themes``
    ``code`` or ``attr:NAME`` (codes grouped by a code attribute, as ``qualkam matrix --cols``).
    Every case and theme is a row or column even when empty: an empty cell is a finding too.
    """
    from qualkam.analysis.cases import cases as every_case
    from qualkam.analysis.cases import is_person
    from qualkam.analysis.excerpts import retrieve

    kind = check_choice("case kind", cases, CASE_KINDS, "cases")
    name = (name or "").strip()
    if not name:
        raise QualkamError("a framework needs a name, e.g. default", argument="name")
    mapping, theme_order = _themes(project, themes)
    if kind == "case":
        case_names = {key: c.name for key, c in every_case(project).items()}
    else:
        case_names = {s: s for s in known_names(project, "source")}
    excerpts = retrieve(project, layer=layer)
    references: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in excerpts.itertuples(index=False):
        theme = mapping.get(str(row.code))
        if theme is None:
            continue
        if kind == "source":
            case_id = str(row.source)
        else:
            speaker = row.speaker if isinstance(row.speaker, str) else ""
            if not is_person(speaker) or speaker.strip().casefold() not in case_names:
                continue
            case_id = speaker.strip().casefold()
        references[(case_id, theme)].append(
            {
                "source": str(row.source),
                "segment": int(row.segment),
                "start": int(row.start),
                "end": int(row.end),
                "code": str(row.code),
                "speaker": speaker if kind == "case" else (row.speaker if isinstance(row.speaker, str) else ""),
                "text": str(row.text),
            }
        )
    for refs in references.values():
        refs.sort(key=lambda r: (r["source"], r["start"], r["end"], r["code"]))
    if themes == "code":  # as in a matrix: a parent code only when something is coded with it
        from qualkam.analysis.matrix import _code_order, code_table

        used = {t for _, t in references}
        theme_order = [t for t in _code_order(code_table(project), used) if t in mapping]
    summaries = store.framework_cells(project, name, kind)
    for case_id, theme in summaries:  # a summary stays visible when its case or theme has gone
        if case_id not in case_names:
            case_names[case_id] = case_id
        if theme not in theme_order:
            theme_order.append(theme)
    return Framework(
        name=name,
        case_kind=kind,
        themes_by=themes,
        layer=str(layer),
        cases=case_names,
        themes=theme_order,
        references=dict(references),
        summaries=summaries,
    )


def framework_frame(framework: Framework, what: str = "summary") -> pd.DataFrame:
    """Cases x themes: each cell's ``summary`` (empty when none), its ``references``
    (``int-06 #12, #14``), or the ``cell`` as an export prefills it (summary, else references)."""
    what = check_choice("cell content", what, ("summary", "references", "cell"), "what")
    get = {"summary": framework.summary, "references": framework.reference_text, "cell": framework.cell_text}[what]
    frame = pd.DataFrame(
        [[get(key, theme) for theme in framework.themes] for key in framework.cases],
        index=pd.Index(list(framework.cases.values()), name=framework.case_kind),
        columns=pd.Index(framework.themes, name=framework.themes_by),
        dtype=object,
    )
    return frame


def references_frame(framework: Framework) -> pd.DataFrame:
    """One row per excerpt behind a cell: case, theme, source, segment, start, end, code, speaker, text."""
    rows = [
        {"case": framework.cases[key], "theme": theme, **ref}
        for key in framework.cases
        for theme in framework.themes
        for ref in framework.references.get((key, theme), [])
    ]
    return pd.DataFrame(rows, columns=REFERENCE_COLUMNS)


def set_summaries(
    project: Project,
    framework: Framework,
    summaries: dict[tuple[str, str], str | None],
    author: str,
    note: str = "framework",
) -> int:
    """Write summaries given by (case, theme) (ids or names; None or blank clears a cell), all in
    one transaction; returns how many cells changed."""
    author = (author or "").strip()
    if not author:
        raise QualkamError("a summary needs its author's name", argument="author")
    resolved = {(framework.case_id(c), framework.theme(t)): s for (c, t), s in summaries.items()}
    changed = store.set_cells(project, framework.name, framework.case_kind, resolved, author, note)
    framework.summaries = store.framework_cells(project, framework.name, framework.case_kind)
    return changed


def set_summary(
    project: Project,
    case: str,
    theme: str,
    summary: str | None,
    author: str,
    cases: str = "case",
    themes: str = "code",
    name: str = DEFAULT_NAME,
) -> bool:
    """Write (or clear, with None or blank) one cell's summary; True when it changed."""
    framework = build_framework(project, cases, themes, "auto", name)
    return set_summaries(project, framework, {(case, theme): summary}, author) > 0


def framework_view(framework: Framework, quotes: int = 3) -> dict[str, Any]:
    """The framework as the workspace shows it: rows of cells, each with its summary, author,
    references and up to ``quotes`` quotations, each with its place in its document (plain
    values; the page escapes them)."""
    from qualkam.analysis.workspace import source_href

    return {
        "name": framework.name,
        "cases_by": framework.case_kind,
        "themes_by": framework.themes_by,
        "layer": framework.layer,
        "themes": framework.themes,
        "rows": [
            {
                "case": name,
                "case_id": key,
                "cells": [
                    {
                        "theme": theme,
                        "summary": framework.summary(key, theme),
                        "author": framework.summaries.get((key, theme), {}).get("author", ""),
                        "references": framework.reference_text(key, theme),
                        "excerpts": len(framework.references.get((key, theme), [])),
                        "quotes": [
                            {
                                "source": r["source"],
                                "segment": r["segment"],
                                "text": r["text"],
                                "href": source_href(r["source"], r["start"], r["end"]),
                            }
                            for r in framework.references.get((key, theme), [])[:quotes]
                        ],
                    }
                    for theme in framework.themes
                ],
            }
            for key, name in framework.cases.items()
        ],
    }


def theme_kinds(project: Project) -> list[str]:
    """What a framework's themes can be: ``code``, and ``attr:NAME`` for each code attribute."""
    from qualkam.analysis.matrix import code_table

    keys = sorted({k for attributes in code_table(project)["attributes"] for k in attributes})
    return ["code", *(f"attr:{k}" for k in keys)]


def saved_frameworks(project: Project) -> list[tuple[str, str, str]]:
    """(name, case kind, themes) of every framework that holds a summary. The store keeps no
    theme kind, so it is read from the summaries' themes: ``code`` when they are code ids, else
    the first ``attr:NAME`` whose values hold them all (``code`` when none does)."""
    from qualkam.analysis.matrix import code_table

    codes = code_table(project)
    ids = {str(c) for c in codes["id"]}
    by_key: dict[str, set[str]] = defaultdict(set)
    for attributes in codes["attributes"]:
        for key, value in attributes.items():
            if value is not None:
                by_key[key].add(str(value))
    found = []
    for name, kind in store.framework_names(project):
        themes = {theme for _, theme in store.framework_cells(project, name, kind)}
        grouping = "code"
        if not themes <= ids:
            grouping = next((f"attr:{key}" for key in sorted(by_key) if themes <= by_key[key]), "code")
        found.append((name, kind, grouping))
    return found
