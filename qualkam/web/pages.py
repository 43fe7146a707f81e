"""The HTML pages: Sources, Codebook, Excerpts and Matrix are rendered here from the library;
Document and Compare are shells (templates ``document.html``, ``compare.html``) whose scripts
read the JSON API. Jinja2 escapes every value (autoescape on), so text from the data is only
ever text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from qualkam.analysis import workspace, workspace_cases
from qualkam.web.api import EXCERPT_FILTERS, SOURCE_FILTERS, query_viewer
from qualkam.web.app import arguments, filters_of, project_for, row_filter, settings_of
from qualkam.web.app import param as _param

TEMPLATES = Path(__file__).parent / "templates"
NAV = (
    ("/", "Sources"),
    ("/codebook", "Codebook"),
    ("/excerpts", "Excerpts"),
    ("/matrix", "Matrix"),
    ("/framework", "Framework"),
    ("/query", "Query"),
    ("/kwic", "Concordance"),
)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["query"] = lambda values: urlencode({k: v for k, v in values.items() if v not in (None, "")})
    return env


def _base(request: Request) -> dict[str, Any]:
    """What base.html needs on every page: the token for the scripts, the session's coder, the
    coder this page shows (``?coder=`` when the session has none), blind or not, the nav."""
    settings = settings_of(request)
    shown = settings.coder or (request.query_params.get("coder") or "").strip() or None
    keep = {} if settings.coder or not shown else {"coder": shown}
    return {
        "token": settings.token,
        "session_coder": settings.coder or "",
        "coder": shown,
        "blind": settings.blind,
        "project_name": settings.project_path.name,
        "nav": [(href + ("?" + urlencode(keep) if keep else ""), label) for href, label in NAV],
        "keep": keep,
    }


templates = Jinja2Templates(env=_environment(), context_processors=[_base])


def error_page(status: int, message: str) -> Response:
    """A short page saying why (no token, no such source ...); it carries no session data."""
    html = templates.get_template("forbidden.html").render(status=status, message=message)
    return HTMLResponse(html, status_code=status)


def _viewer(request: Request) -> workspace.Viewer:

    return query_viewer(request)


def sources_page(request: Request) -> Response:
    who = _viewer(request)
    filters = filters_of(request, SOURCE_FILTERS)
    with project_for(request) as project:
        rows = workspace.source_list(project, who, **arguments(filters))
        choices = workspace.filter_choices(project)
    return templates.TemplateResponse(
        request, "sources.html", {"sources": rows, "filters": filters, "choices": choices, "title": "Sources"}
    )


def codebook_page(request: Request) -> Response:
    who = _viewer(request)
    with project_for(request) as project:
        codes = workspace.codebook(project, who)
    depth: dict[str, int] = {}
    for code in codes:
        depth[code["id"]] = depth.get(code["parent"], -1) + 1 if code["parent"] else 0
    return templates.TemplateResponse(request, "codebook.html", {"codes": codes, "depth": depth, "title": "Codebook"})


def excerpts_page(request: Request) -> Response:
    who = _viewer(request)
    filters = filters_of(request, EXCERPT_FILTERS)
    with project_for(request) as project:
        found = workspace.excerpts(project, who, **arguments(filters))
        codes = workspace.codebook(project, who)
        choices = workspace.filter_choices(project)
    return templates.TemplateResponse(
        request,
        "excerpts.html",
        {"excerpts": found, "filters": filters, "codes": codes, "choices": choices, "title": "Excerpts"},
    )


def matrix_page(request: Request) -> Response:
    who = _viewer(request)
    by = _param(request, "by") or "phase"
    layer = _param(request, "layer")
    with project_for(request) as project:
        table = workspace.matrix(project, who, by, layer)
        labels = {c["id"]: c["label"] for c in workspace.codebook(project, who)}
        choices = workspace.filter_choices(project)
        case_rows = workspace_cases.case_rows(project)
    by = table["by"]  # a case attribute as the cases spell it
    top = max((v for row in table["cells"] for v in row), default=0)
    keep = _base(request)["keep"]
    rows = []
    for name, values in zip(table["rows"], table["cells"], strict=True):
        cells = []
        for code, value in zip(table["columns"], values, strict=True):
            link = None
            if name != "(none)" and value:
                where = {"code": code, "layer": layer, **keep}
                narrow = row_filter(by, name)
                if narrow is not None:
                    where[narrow[0]] = narrow[1]
                link = "/excerpts?" + urlencode({k: v for k, v in where.items() if v})
            cells.append({"value": value, "level": level(value, top), "href": link})
        rows.append({"name": name, "cells": cells})
    attributes = sorted({a.split(":", 1)[0] for a in choices["attributes"]})
    return templates.TemplateResponse(
        request,
        "matrix.html",
        {
            "by": by,
            "layer": layer or "",
            "columns": [(c, labels.get(c, c)) for c in table["columns"]],
            "rows": rows,
            "top": top,
            "legend": [(n, level(n, top)) for n in legend_values(top)],
            "bys": ["phase", "source_type", "role", "speaker", *(f"attribute:{a}" for a in attributes), *case_rows],
            "title": "Matrix",
        },
    )


LEVELS = 5


def level(value: int, top: int) -> int:
    """The heatmap class of a count: 0 for nothing, 1..LEVELS by its share of the largest."""
    if value <= 0 or top <= 0:
        return 0
    return max(1, min(LEVELS, -(-value * LEVELS // top)))


def legend_values(top: int) -> list[int]:
    """The counts the legend shows: 0 and the upper bound of each level."""
    if top <= 0:
        return [0]
    return sorted({0, *(max(1, -(-top * i // LEVELS)) for i in range(1, LEVELS + 1))})


def framework_page(request: Request) -> Response:
    """The framework matrix (issue 16, point 4): a summary per case x theme, editable, with the
    excerpts behind each cell."""
    from qualkam.analysis.framework import build_framework, framework_view, theme_kinds

    check_framework_session(request)
    cases, themes = _param(request, "cases") or "case", _param(request, "themes") or "code"
    layer = _param(request, "layer")
    with project_for(request) as project:
        view = framework_view(
            build_framework(project, cases, themes, layer or "auto", _param(request, "name") or "default")
        )
        kinds = theme_kinds(project)
    _link_framework_cells(view, layer, _base(request)["keep"])
    return templates.TemplateResponse(
        request,
        "framework.html",
        {"view": view, "layer": layer or "", "theme_kinds": kinds, "title": "Framework"},
    )


def _link_framework_cells(view: dict[str, Any], layer: str | None, keep: dict[str, str]) -> None:
    """Each cell with excerpts links to the Excerpts page of its theme (a code, or the codes of a
    code attribute's value) and its case (``case=case:NAME``) or source."""
    themes_by = view["themes_by"]
    for row in view["rows"]:
        for cell in row["cells"]:
            if not cell["excerpts"]:
                continue
            code = cell["theme"] if themes_by == "code" else f"{themes_by}={cell['theme']}"
            where = {"code": code, "layer": layer, **keep}
            if view["cases_by"] == "case":
                where["case"] = f"case:{row['case_id']}"
            else:
                where["source"] = row["case_id"]
            cell["href"] = "/excerpts?" + urlencode({k: v for k, v in where.items() if v})


def check_framework_session(request: Request) -> None:
    """A blind session has no framework: its cells are built from everyone's codings and hold
    other researchers' summaries."""
    from qualkam.errors import ForbiddenError

    if settings_of(request).blind:
        raise ForbiddenError("this session is blind: the framework matrix shows everyone's codings and summaries")


def document_page(request: Request) -> Response:
    with project_for(request) as project:
        source_id = workspace.check_source(project, request.path_params["id"])
    return templates.TemplateResponse(request, "document.html", {"source_id": source_id, "title": source_id})


def compare_page(request: Request) -> Response:
    from qualkam.errors import ForbiddenError

    if settings_of(request).blind:
        raise ForbiddenError("this session is blind: comparing coders would show another coder's codings")
    with project_for(request) as project:
        source_id = workspace.check_source(project, request.path_params["id"])
        coders = workspace.coders_of(project)
    return templates.TemplateResponse(
        request,
        "compare.html",
        {
            "source_id": source_id,
            "a": _param(request, "a") or "",
            "b": _param(request, "b") or "",
            "coders": coders,
            "title": f"Compare {source_id}",
        },
    )


def routes() -> list[BaseRoute]:
    from qualkam.web.queries import page_routes

    return [
        *page_routes(),
        Route("/", sources_page),
        Route("/codebook", codebook_page),
        Route("/excerpts", excerpts_page),
        Route("/matrix", matrix_page),
        Route("/framework", framework_page),
        Route("/sources/{id:path}", document_page),
        Route("/compare/{id:path}", compare_page),
    ]
