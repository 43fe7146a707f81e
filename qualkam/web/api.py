"""The JSON API (docs/api.md): what the pages call and scripts may call.

Each route reads its arguments, works out who is asking (:func:`viewer`), and calls one library
function (``qualkam.analysis.workspace`` for reads, ``qualkam.coding.spans`` for writes). Errors
are ``{"error": "one line"}``: 404 for what is not there, 403 for what this coder may not see or
do, 422 for a body that does not validate, 400 for any other ``QualkamError``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from qualkam.analysis import workspace
from qualkam.analysis.workspace import Viewer
from qualkam.errors import ForbiddenError, NotFoundError, QualkamError, from_environment
from qualkam.store.layers import CONSENSUS
from qualkam.store.project import Project
from qualkam.web.app import arguments, filters_of, project_for, settings_of
from qualkam.web.app import param as _param

VIA = "workspace"


class BodyError(QualkamError):
    """A request body that does not validate: 422."""


# -- who is asking ---------------------------------------------------------------------------
def viewer(request: Request, named: str | None, write: bool = False) -> Viewer:
    """The coder a request acts as: the session's (``--coder``), else the one it names.

    In a blind session naming another coder is forbidden; a session with a coder writes only
    as that coder; a write without any coder is an error. Without a session coder a read may
    name none (then nothing is counted as coded and every suggestion waits)."""
    from qualkam.coding.decisions import check_coder

    settings = settings_of(request)
    named = named.strip() if isinstance(named, str) and named.strip() else None
    if settings.coder is not None:
        if named is not None and named != settings.coder:
            if settings.blind:
                raise ForbiddenError(
                    f"this session is blind: {settings.coder} sees only their own codings, not {named}'s"
                )
            if write:
                raise ForbiddenError(f"this server codes as {settings.coder}, not {named}")
            return Viewer(check_coder(named), False)
        return Viewer(settings.coder, settings.blind)
    if named is not None:
        return Viewer(check_coder(named), False)
    if write:
        raise QualkamError("a coder name is needed: give 'coder' (the page asks for it once)")
    return Viewer(None, False)


def query_viewer(request: Request) -> Viewer:
    return viewer(request, request.query_params.get("coder"))


# -- bodies ----------------------------------------------------------------------------------
async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object a write carries (the guard checked its Content-Type)."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise BodyError("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BodyError("the body must be a JSON object")
    return body


def _text(body: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise BodyError(f"'{name}' must be a non-empty string")
    return value


def _offset(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BodyError(f"'{name}' must be a whole number of characters (code points), 0 or more")
    return value


# -- reads -----------------------------------------------------------------------------------
SOURCE_FILTERS = ("type", "phase", "speaker", "attribute")
EXCERPT_FILTERS = ("code", "phase", "type", "speaker", "role", "attribute", "layer", "case", "source")


def get_session(request: Request) -> Response:
    who = query_viewer(request)
    with project_for(request) as project:
        return JSONResponse(workspace.session(project, who))


def get_sources(request: Request) -> Response:
    who = query_viewer(request)
    with project_for(request) as project:
        found = workspace.source_list(project, who, **arguments(filters_of(request, SOURCE_FILTERS)))
    return JSONResponse({"sources": found})


def get_source(request: Request) -> Response:
    who = query_viewer(request)
    with project_for(request) as project:
        return JSONResponse(workspace.document(project, request.path_params["id"], who))


def get_codebook(request: Request) -> Response:
    who = query_viewer(request)
    with project_for(request) as project:
        return JSONResponse({"codes": workspace.codebook(project, who)})


def get_excerpts(request: Request) -> Response:
    who = query_viewer(request)
    with project_for(request) as project:
        found = workspace.excerpts(project, who, **arguments(filters_of(request, EXCERPT_FILTERS)))
    return JSONResponse({"excerpts": found})


def get_matrix(request: Request) -> Response:
    who = query_viewer(request)
    with project_for(request) as project:
        return JSONResponse(workspace.matrix(project, who, _param(request, "by") or "phase", _param(request, "layer")))


def get_compare(request: Request) -> Response:
    who = query_viewer(request)
    a, b = _param(request, "a"), _param(request, "b")
    if who.blind:
        raise ForbiddenError("this session is blind: comparing coders would show another coder's codings")
    if not a or not b:
        raise QualkamError("name the two coders to compare: ?a=NAME&b=NAME")
    with project_for(request) as project:
        return JSONResponse(workspace.compare(project, request.path_params["id"], a, b, who))


# -- writes ----------------------------------------------------------------------------------
def _coding(project: Project, coding_id: int) -> dict[str, Any] | None:
    from qualkam.store.workspace import coding_summary

    return coding_summary(project, coding_id)


async def post_coding(request: Request) -> Response:
    body = await json_body(request)
    source = _text(body, "source")
    start, end = _offset(body, "start"), _offset(body, "end")
    code = _text(body, "code")
    memo = _text(body, "memo", required=False)
    who = viewer(request, _text(body, "coder", required=False), write=True)

    def work() -> Response:
        from qualkam.coding.spans import code_span

        with project_for(request) as project:
            workspace.check_source(project, str(source))
            outcome = code_span(project, str(source), start, end, str(code), str(who.coder), memo=memo, via=VIA)
            answer = {
                "id": outcome.coding_id,
                "change": outcome.change,
                "status": outcome.status,
                "coding": _coding(project, outcome.coding_id),
            }
        return JSONResponse(answer, status_code=201 if outcome.change == "inserted" else 200)

    return await run_in_threadpool(work)


async def patch_coding(request: Request) -> Response:
    body = await json_body(request)
    if "memo" not in body or not (body["memo"] is None or isinstance(body["memo"], str)):
        raise BodyError("'memo' must be a string (or null to clear it)")
    who = viewer(request, _text(body, "coder", required=False), write=True)
    coding_id = int(request.path_params["id"])

    def work() -> Response:
        from qualkam.coding.spans import set_memo

        with project_for(request) as project:
            workspace.check_coding(project, who, coding_id)
            set_memo(project, coding_id, str(who.coder), body["memo"], via=VIA)
            return JSONResponse({"coding": _coding(project, coding_id)})

    return await run_in_threadpool(work)


def delete_coding(request: Request) -> Response:
    from qualkam.coding.spans import remove_coding

    who = viewer(request, request.query_params.get("coder"), write=True)
    coding_id = int(request.path_params["id"])
    with project_for(request) as project:
        workspace.check_coding(project, who, coding_id)
        removed = remove_coding(project, coding_id, str(who.coder), via=VIA)
    return JSONResponse({"removed": removed})


def _suggestion_route(action: str) -> Callable[[Request], Any]:
    async def decide(request: Request) -> Response:
        body = await json_body(request)
        who = viewer(request, _text(body, "coder", required=False), write=True)
        suggestion_id = int(request.path_params["id"])

        def work() -> Response:
            from qualkam.coding.spans import decide_suggestion

            with project_for(request) as project:
                workspace.check_coding(project, who, suggestion_id, suggestion=True)
                outcome = decide_suggestion(project, suggestion_id, str(who.coder), action, via=VIA)
                answer = {
                    "id": outcome.coding_id,
                    "status": outcome.status,
                    "change": outcome.change,
                    "coding": _coding(project, outcome.coding_id),
                }
            return JSONResponse(answer, status_code=201 if outcome.change != "unchanged" else 200)

        return await run_in_threadpool(work)

    return decide


async def post_consensus(request: Request) -> Response:
    """A decision on the compare page: the consensus coder accepts or rejects a span and code,
    as ``qualkam reconcile`` writes it; ``by`` is who decided (the audit line names them)."""
    body = await json_body(request)
    settings = settings_of(request)
    if settings.blind:
        raise ForbiddenError("this session is blind: consensus decisions are made outside it")
    source = str(_text(body, "source"))
    start, end = _offset(body, "start"), _offset(body, "end")
    code = str(_text(body, "code"))
    action = body.get("action")
    if action not in ("accept", "reject"):
        raise BodyError("'action' must be 'accept' or 'reject'")
    who = viewer(request, _text(body, "by", required=False), write=True)

    def work() -> Response:
        from qualkam.coding.spans import code_span

        via = f"{VIA}: compare"
        with project_for(request) as project:
            workspace.check_source(project, source)
            # as reconcile writes it: the consensus coder accepts or rejects the span and code
            # (a coding of it that it held changes status: a changed mind), in who's name
            status = "accepted" if action == "accept" else "rejected"
            outcome = code_span(
                project, source, start, end, code, CONSENSUS, via=via, actor=str(who.coder), status=status
            )
            answer = {
                "id": outcome.coding_id,
                "change": outcome.change,
                "status": outcome.status,
                "coding": _coding(project, outcome.coding_id),
            }
        return JSONResponse(answer, status_code=201 if outcome.change == "inserted" else 200)

    return await run_in_threadpool(work)


# -- routes and errors -----------------------------------------------------------------------
async def post_framework(request: Request) -> Response:
    """Write (or clear, with "") one framework cell's summary as the session's coder."""
    from qualkam.web.pages import check_framework_session

    check_framework_session(request)
    body = await json_body(request)
    case, theme = _text(body, "case"), _text(body, "theme")
    summary = body.get("summary")
    if not isinstance(summary, str):
        raise BodyError("'summary' must be a string (empty to clear the cell)")
    who = viewer(request, _text(body, "coder", required=False), write=True)
    cases = _text(body, "cases", required=False) or "case"
    themes = _text(body, "themes", required=False) or "code"
    name = _text(body, "name", required=False) or "default"

    def work() -> Response:
        from qualkam.analysis.framework import build_framework, set_summaries

        with project_for(request) as project:
            framework = build_framework(project, cases, themes, "auto", name)
            changed = set_summaries(project, framework, {(str(case), str(theme)): summary}, str(who.coder), VIA)
            key = (framework.case_id(str(case)), framework.theme(str(theme)))
            stored = framework.summaries.get(key, {})
        return JSONResponse(
            {"summary": stored.get("summary", ""), "author": stored.get("author", ""), "changed": changed > 0}
        )

    return await run_in_threadpool(work)


def routes() -> list[BaseRoute]:
    from qualkam.web.queries import api_routes

    return [
        *api_routes(),
        Route("/api/session", get_session),
        Route("/api/sources", get_sources),
        Route("/api/sources/{id:path}", get_source),
        Route("/api/codebook", get_codebook),
        Route("/api/excerpts", get_excerpts),
        Route("/api/matrix", get_matrix),
        Route("/api/compare/{id:path}", get_compare),
        Route("/api/codings", post_coding, methods=["POST"]),
        Route("/api/codings/{id:int}", patch_coding, methods=["PATCH"]),
        Route("/api/codings/{id:int}", delete_coding, methods=["DELETE"]),
        Route("/api/suggestions/{id:int}/accept", _suggestion_route("accept"), methods=["POST"]),
        Route("/api/suggestions/{id:int}/reject", _suggestion_route("reject"), methods=["POST"]),
        Route("/api/consensus", post_consensus, methods=["POST"]),
        Route("/api/framework", post_framework, methods=["POST"]),
    ]


def status_of(exc: QualkamError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ForbiddenError):
        return 403
    if isinstance(exc, BodyError):
        return 422
    return 400


def _answer(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    from qualkam.web.pages import error_page

    return error_page(status, message)


def _qualkam_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QualkamError)
    return _answer(request, status_of(exc), " ".join(str(exc).split()))


def _database_error(request: Request, exc: Exception) -> Response:
    mapped = from_environment(exc)
    if mapped is None:
        raise exc
    return _answer(request, 503, " ".join(str(mapped).split()))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _answer(request, exc.status_code, str(exc.detail))


def exception_handlers() -> dict[Any, Callable[[Request, Exception], Response]]:
    return {
        QualkamError: _qualkam_error,
        sqlite3.OperationalError: _database_error,
        HTTPException: _http_error,
    }
