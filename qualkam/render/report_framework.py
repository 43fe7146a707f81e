"""The report's framework section (issue 16, point 4): each saved framework matrix, cases x
themes, with the researchers' summaries and how many excerpts stand behind each cell.

Only frameworks holding a summary are shown (an empty chart says nothing the heatmaps do not).
A big one is shown in part: the cases and themes with summaries first, then those with the most
excerpts, up to a cap; the section says what is left out and which command exports it whole.
The values are plain text: the template escapes them.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from typing import Any

from qualkam.store.project import Project

FRAMEWORKS = 6  # frameworks shown; a project rarely keeps more
FRAMEWORK_CASES = 30  # rows per framework
FRAMEWORK_THEMES = 10  # columns per framework: a table that still fits a page's width
SUMMARY_CHARS = 800  # a longer summary is cut; the export has it whole


def export_command(name: str, cases: str, themes: str, layer: str, out: str = "framework.xlsx") -> str:
    """The ``qualkam framework export`` that writes this framework (defaults left out), shell-quoted."""
    words = ["qualkam", "framework", "export", "--cases", cases, "--themes", themes]
    if name != "default":
        words += ["--name", name]
    if layer != "auto":
        words += ["--from", layer]
    return shlex.join([*words, "--out", out])


def pick(keys: Sequence[str], weight: Callable[[str], tuple[int, int]], cap: int) -> list[str]:
    """At most ``cap`` of ``keys``, the heaviest first (``weight``: summaries, then excerpts),
    kept in their own order."""
    if len(keys) <= cap:
        return list(keys)
    place = {key: i for i, key in enumerate(keys)}
    heaviest = sorted(keys, key=lambda k: (-weight(k)[0], -weight(k)[1], place[k]))[:cap]
    return sorted(heaviest, key=place.__getitem__)


def _cut(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit].rstrip() + " …", True)


def _matrix_view(project: Project, name: str, kind: str, themes_by: str, layer: str) -> dict[str, Any]:
    from qualkam.analysis.framework import build_framework

    fw = build_framework(project, kind, themes_by, layer, name)
    refs = {cell: len(found) for cell, found in fw.references.items()}

    def case_weight(key: str) -> tuple[int, int]:
        return (sum(1 for t in fw.themes if fw.summary(key, t)), sum(refs.get((key, t), 0) for t in fw.themes))

    def theme_weight(theme: str) -> tuple[int, int]:
        return (sum(1 for k in fw.cases if fw.summary(k, theme)), sum(refs.get((k, theme), 0) for k in fw.cases))

    cases = pick(list(fw.cases), case_weight, FRAMEWORK_CASES)
    themes = pick(fw.themes, theme_weight, FRAMEWORK_THEMES)
    rows: list[dict[str, Any]] = []
    cut = 0
    for key in cases:
        cells = []
        for theme in themes:
            text, was_cut = _cut(fw.summary(key, theme), SUMMARY_CHARS)
            cut += int(was_cut)
            cells.append({"summary": text, "excerpts": refs.get((key, theme), 0)})
        rows.append({"case": fw.cases[key], "cells": cells})
    summaries = sum(1 for k in fw.cases for t in fw.themes if fw.summary(k, t))
    shown = sum(1 for row in rows for c in row["cells"] if c["summary"])
    return {
        "name": fw.name,
        "cases_by": "participant" if kind == "case" else "source",
        "themes_by": "code" if themes_by == "code" else f"code attribute {themes_by[5:]}",
        "themes": themes,
        "rows": rows,
        "summaries": summaries,
        "excerpts": sum(refs.values()),
        "cases": len(fw.cases),
        "all_themes": len(fw.themes),
        "cases_left": len(fw.cases) - len(cases),
        "themes_left": len(fw.themes) - len(themes),
        "summaries_left": summaries - shown,
        "cut": cut,
        "command": export_command(fw.name, kind, themes_by, layer),
        "html_command": export_command(fw.name, kind, themes_by, layer, "framework.html"),
    }


def framework_section(project: Project, layer: str) -> dict[str, Any]:
    """Every framework with a summary (``FRAMEWORKS`` at most), its cells' summaries and
    excerpt counts from ``layer``; with none, what the section says instead (how to start)."""
    from qualkam.analysis.framework import saved_frameworks

    saved = saved_frameworks(project)
    return {
        "frameworks": [_matrix_view(project, name, kind, themes, layer) for name, kind, themes in saved[:FRAMEWORKS]],
        "left_out": [name for name, _, _ in saved[FRAMEWORKS:]],
        "layer": layer,
        "start": export_command("default", "case", "code", layer),
        "limits": {"cases": FRAMEWORK_CASES, "themes": FRAMEWORK_THEMES, "chars": SUMMARY_CHARS},
    }
