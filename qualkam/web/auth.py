"""The workspace's guard (issue 13, section 3; as Jupyter server does it): every route but the
static files needs the session token, writes must come from the page itself, and the Host
header must be one the server listens as.

Order of the checks, for every request:

1. ``Host`` must be one of the allowed names (127.0.0.1, localhost, ::1, the ``--host``
   given); else 400. A DNS-rebinding page reaches the server under its own name. A path
   with a control character in it (``%0A``, ``%00``) is 400 too.
2. ``/static/...`` passes (CSS and JS carry no data).
3. ``?token=T`` with the right token sets the ``qualkam_token`` cookie (HttpOnly,
   SameSite=Strict) and redirects (303) to the same URL without it; a wrong one is refused.
4. The token must come in the ``X-Qualkam-Token`` header or the cookie; else 403.
5. A write (POST, PATCH, PUT, DELETE) is refused (403) when ``Origin`` is present and is not
   the server's own, or ``Sec-Fetch-Site`` is present and is neither ``same-origin`` nor
   ``none``; a POST, PATCH or PUT body must be ``application/json`` (415).

Every answer carries a Content-Security-Policy (``POLICY``) and the headers beside it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from urllib.parse import urlencode

from starlette.datastructures import URL, Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "qualkam_token"
HEADER = "X-Qualkam-Token"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
WRITES = {"POST", "PATCH", "PUT", "DELETE"}
WITH_BODY = {"POST", "PATCH", "PUT"}
SAME = {"same-origin", "none"}
# Sent with every answer: the browser itself then refuses anything from outside (scripts,
# styles, images, fetches), inline scripts, and being framed by another page (a one-key
# accept under a hidden frame would be clickjacking). Inline styles stay allowed: the pages
# set a bar's width or a code's colour in a style attribute.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


def new_token() -> str:
    """A session token: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def host_name(host: str) -> str:
    """The name part of a Host header (``[::1]:8765`` -> ``::1``, ``localhost:80`` -> ``localhost``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_names(hosts: Iterable[str]) -> frozenset[str]:
    """The host names the server answers to: the loopback names and those given."""
    return frozenset({*LOOPBACK, *(host_name(h) for h in hosts if h)})


class Guard:
    """ASGI middleware doing the checks of the module docstring before any route runs."""

    def __init__(self, app: ASGIApp, token: str, hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.token = token
        self.hosts = allowed_names(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        refusal = self.check(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def right(self, given: str | None) -> bool:
        return bool(given) and secrets.compare_digest(str(given).encode(), self.token.encode())

    def check(self, request: Request) -> Response | None:
        """None when the request may go on; else the answer that refuses it."""
        headers = request.headers
        if host_name(headers.get("host", "")) not in self.hosts:
            return PlainTextResponse("unknown Host header", status_code=400)
        path = request.scope["path"]
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
            # a decoded %0A or %00: no page or source is named so (and Starlette's "$" would let
            # "/api/sources/j\n" match the source "j")
            return PlainTextResponse("control characters in the path", status_code=400)
        if path.startswith("/static/"):
            return None
        api = path.startswith("/api/")
        if "token" in request.query_params:
            if not self.right(request.query_params.get("token")):
                return refuse(api, "wrong token: open the URL qualkam serve printed")
            kept = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = URL(path=path, query=urlencode(kept))
            answer = RedirectResponse(str(target), status_code=303)
            answer.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
            return answer
        if not (self.right(headers.get(HEADER)) or self.right(request.cookies.get(COOKIE))):
            return refuse(api, "this needs the session token: open the URL qualkam serve printed")
        if request.method in WRITES:
            problem = cross_site(headers, request.url.scheme)
            if problem:
                return refuse(api, problem)
            if request.method in WITH_BODY:
                kind = headers.get("content-type", "").split(";")[0].strip().lower()
                if kind != "application/json":
                    return JSONResponse({"error": "the body must be JSON (Content-Type: application/json)"}, 415)
        return None


def cross_site(headers: Headers, scheme: str) -> str | None:
    """Why a write does not come from the server's own pages, or None when it does (or when it
    comes from a script, which sends neither header)."""
    origin = headers.get("origin")
    if origin is not None and origin.rstrip("/").lower() != f"{scheme}://{headers.get('host', '')}".lower():
        return "refused: a write from another site"
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in SAME:
        return "refused: a write from another site"
    return None


def refuse(api: bool, message: str) -> Response:
    """403: JSON for the API, a short page for a person."""
    if api:
        return JSONResponse({"error": message}, status_code=403)
    from qualkam.web.pages import error_page

    return error_page(403, message)
