"""The Query and Concordance pages and their JSON (``/query``, ``/kwic``, ``/api/query``,
``/api/kwic``): each reads its form, works out who is asking and calls one function of
``qualkam.analysis.workspace_query``. A query or term the library refuses is shown on the page
under what the person typed (HTTP 400); the API answers ``{"error": ...}`` as every route does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from qualkam.analysis import workspace, workspace_query
from qualkam.analysis.kwic import DEFAULT_CONTEXT
from qualkam.errors import QualkamError
from qualkam.web.api import query_viewer, status_of
from qualkam.web.app import arguments, filters_of, param, project_for, row_filter

# The scope filters both pages take, by query parameter (``coded_by``: one person's codings;
# ``coder`` stays who is looking, as on every page).
SCOPE = ("phase", "type", "speaker", "role", "attribute", "case", "layer")
TRUE = ("1", "true", "on", "yes")


def _scope(request: Request) -> dict[str, str | None]:
    return filters_of(request, SCOPE) | {"coded_by": param(request, "coded_by")}


def _library(form: dict[str, str | None]) -> dict[str, Any]:
    """The form's scope as the library's keyword arguments."""
    given = {k: v for k, v in form.items() if k in SCOPE}
    return arguments(given) | {"coder": form.get("coded_by")}


def _number(request: Request, name: str, default: int | None, least: int) -> int | None:
    value = param(request, name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < least:
        raise QualkamError(f"{{argument}} {value!r}: give a whole number, {least} or more", argument=name)
    return int(value)


def _query(request: Request) -> tuple[str | None, dict[str, Any]]:
    """The query exactly as typed (a column counts from its first character) and its options."""
    text = request.query_params.get("query")
    return (text if text and text.strip() else None), {"count_by": param(request, "count_by")}


def _kwic(request: Request) -> tuple[str | None, dict[str, Any]]:
    options = {
        "word": (param(request, "word") or "").lower() in TRUE,
        "sort": param(request, "sort") or "source",
        "code": param(request, "code"),
        "context": _number(request, "context", DEFAULT_CONTEXT, 0),
        "limit": _number(request, "limit", workspace_query.DEFAULT_LIMIT, 1),
    }
    return param(request, "term"), options


def get_query(request: Request) -> Response:
    who = query_viewer(request)
    text, options = _query(request)
    if text is None:
        raise QualkamError("{argument}: write a query, e.g. 'funding AND NOT hiring'", argument="query")
    with project_for(request) as project:
        return JSONResponse(workspace_query.query(project, who, text, **options, **_library(_scope(request))))


def get_kwic(request: Request) -> Response:
    who = query_viewer(request)
    term, options = _kwic(request)
    if term is None:
        raise QualkamError("{argument}: write a word or a phrase to look for, e.g. plan", argument="term")
    with project_for(request) as project:
        return JSONResponse(workspace_query.kwic(project, who, term, **options, **_library(_scope(request))))


def _page(
    request: Request,
    template: str,
    run: Callable[..., dict[str, Any]],
    read: Callable[[Request], tuple[str | None, dict[str, Any]]],
) -> Response:
    """A form page: the answer when something was asked, else the empty form; a refusal the
    library words (a bad query, an unknown phase) is shown above the form, which keeps what
    the person typed, with its status (400)."""
    from qualkam.web.pages import templates

    who = query_viewer(request)
    form = _scope(request)
    answer, error, status = None, None, 200
    with project_for(request) as project:
        choices = workspace.filter_choices(project)
        try:
            asked, options = read(request)
            if asked is not None:
                answer = run(project, who, asked, **options, **_library(form))
                if answer.get("counts") is not None:
                    link_counts(request, answer, sorted({a.split(":", 1)[0] for a in choices["attributes"]}))
        except QualkamError as exc:
            if status_of(exc) != 400:
                raise
            error, status = " ".join(str(exc).split()), 400
        page = {
            # what the form was sent with, to show it again ("" for a field not sent)
            "values": defaultdict(str, {key: request.query_params.get(key, "") for key in request.query_params}),
            "answer": answer,
            "error": error,
            "choices": choices,
            "codes": workspace.codebook(project, who),
            "more": workspace_query.choices(project, who),
            "title": "Query" if template == "query.html" else "Concordance",
        }
    return templates.TemplateResponse(request, template, page, status_code=status)


def link_counts(request: Request, answer: dict[str, Any], attributes: list[str]) -> None:
    """Give each count row a link to the same query narrowed to its value (``href``, None for
    ``(none)``, an empty row, or a value the scope cannot name: a source attribute when the
    scope has one already, a source, a unit, a date), as a matrix cell opens its excerpts."""
    by = answer["count_by"]
    kept = {k: v for k, v in request.query_params.items() if k != "count_by" and v}
    for row in answer["counts"]:
        value, row["href"] = row[by], None
        narrow = row_filter(by, str(value), attributes) if value != "(none)" and row["segments"] else None
        if narrow is None or (narrow[0] == "attribute" and "attribute" in kept):
            continue
        row["href"] = "/query?" + urlencode({**kept, narrow[0]: narrow[1]})


def query_page(request: Request) -> Response:
    return _page(request, "query.html", workspace_query.query, _query)


def kwic_page(request: Request) -> Response:
    return _page(request, "kwic.html", workspace_query.kwic, _kwic)


def page_routes() -> list[BaseRoute]:
    return [Route("/query", query_page), Route("/kwic", kwic_page)]


def api_routes() -> list[BaseRoute]:
    return [Route("/api/query", get_query), Route("/api/kwic", get_kwic)]
