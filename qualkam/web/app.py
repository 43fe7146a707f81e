"""The workspace application: ``create_app`` builds the Starlette app ``qualkam serve`` runs.

Endpoints are plain functions, so Starlette runs them in its thread pool; each opens the
project for the one request (a sqlite3 connection belongs to its thread) and each write is one
short transaction through the library, so several coders, and the CLI beside them, share the
file through SQLite's WAL and busy timeout (``Project.open`` sets both).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from qualkam.analysis.workspace import Viewer
from qualkam.store.project import Project
from qualkam.web.auth import Guard, new_token

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Settings:
    """One server's session: the project, the coder given with ``--coder``, blind or not, the token."""

    project_path: Path
    coder: str | None
    blind: bool
    token: str


def create_app(
    project_path: str | Path,
    coder: str | None = None,
    blind: bool = False,
    token: str | None = None,
    allowed_hosts: Iterable[str] = (),
) -> Starlette:
    """The workspace for one project. ``allowed_hosts`` adds host names to the loopback ones the
    server answers to (the ``--host`` it listens on); ``token`` defaults to a new random one
    (read it back as ``app.state.settings.token``). Opens the project once, so a wrong path
    fails here and not on the first page."""
    from qualkam.coding.decisions import check_coder
    from qualkam.web import api, pages

    path = Path(project_path)
    Project.open(path).close()  # a missing or foreign file is an error now, with its message
    coder = check_coder(coder) if coder is not None else None
    Viewer(coder, blind)  # blind needs a coder
    settings = Settings(path, coder, blind, token or new_token())
    app = Starlette(
        routes=[*pages.routes(), *api.routes(), Mount("/static", StaticFiles(directory=STATIC), name="static")],
        middleware=[Middleware(Guard, token=settings.token, hosts=list(allowed_hosts))],
        exception_handlers=api.exception_handlers(),
    )
    app.state.settings = settings
    return app


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# A filter's query parameter -> the library argument it is (the pages' forms and the API share them).
FILTERS = {
    "type": "source_type",
    "phase": "phase",
    "speaker": "speaker",
    "role": "role",
    "attribute": "attribute",
    "code": "code",
    "layer": "layer",
    "case": "case",
    "source": "source",
}


# The row kinds a page's filters can keep one value of (``matrix --rows``, ``query --count-by``).
_ROW_KINDS = ("phase", "source_type", "speaker", "role")


def row_filter(by: str, value: str, attributes: Iterable[str] = ()) -> tuple[str, str] | None:
    """The filter (query parameter and value) that keeps one row of a table by ``by``: a field
    (``source_type`` -> ``type``), ``attribute:KEY`` or a source attribute among ``attributes``
    (``attribute=KEY:VALUE``), ``case`` or ``case:KEY`` (``case=KEY:VALUE``, ``case=case:NAME``).
    None when no filter names it (a source, a unit, a date)."""
    if by == "case" or by.startswith("case:"):
        return "case", f"{by[len('case:') :] or 'case'}:{value}"
    if by.startswith("attribute:"):
        return "attribute", f"{by[len('attribute:') :]}:{value}"
    if by in _ROW_KINDS:
        return next(name for name, argument in FILTERS.items() if argument == by), value
    if by in attributes:
        return "attribute", f"{by}:{value}"
    return None


def param(request: Request, name: str) -> str | None:
    """A query parameter, stripped; None when absent or blank (no filter)."""
    value = request.query_params.get(name)
    return value.strip() if value and value.strip() else None


def filters_of(request: Request, names: Iterable[str]) -> dict[str, str | None]:
    """The filters ``names`` as the request gives them, by query parameter."""
    return {name: param(request, name) for name in names}


def arguments(filters: dict[str, str | None]) -> dict[str, str | None]:
    """Filters by query parameter -> the library's keyword arguments."""
    return {FILTERS[name]: value for name, value in filters.items()}


@contextmanager
def project_for(request: Request) -> Iterator[Project]:
    """The project, opened for this request on this thread and closed after it."""
    project = Project.open(settings_of(request).project_path)
    try:
        yield project
    finally:
        project.close()


# -- serving ---------------------------------------------------------------------------------
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (127.x, ::1, localhost)."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """``0.0.0.0`` or ``::``: every address of the machine."""
    return host.strip("[]") in ("0.0.0.0", "::", "")


def host_names(host: str) -> list[str]:
    """The host names the server answers to beyond the loopback ones: the one it listens on,
    and for a wildcard the machine's name and addresses (as a colleague's browser names it)."""
    import socket

    names = [host]
    if is_wildcard(host):
        try:
            hostname = socket.gethostname()
            names += [hostname, socket.getfqdn(), *socket.gethostbyname_ex(hostname)[2]]
        except OSError:
            pass
    return names


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port the system picks). Bound before
    the URL is printed, so the URL is right and a browser opened at once finds the server."""
    import errno

    from qualkam.errors import QualkamError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise QualkamError(f"cannot listen on {{argument}} {host!r}: {exc.strerror}", argument="host") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise QualkamError(
                f"port {port} on {host} is in use (another qualkam serve?); give another {{port}}, or {{port}} 0 "
                "for a free one",
                arguments=("port",),
            ) from None
        raise QualkamError(f"cannot listen on {host}:{port}: {exc.strerror}", arguments=("host", "port")) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int, token: str) -> str:
    """The address to open, with the token (a wildcard host is opened as 127.0.0.1)."""
    shown = DEFAULT_HOST if is_wildcard(host) else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/?token={token}"


def run(app: Starlette, sock: socket.socket, log_level: str = "warning") -> None:
    """Serve ``app`` on the bound ``sock`` until interrupted (uvicorn, one process; Starlette's
    thread pool runs the endpoints)."""
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


class ServerThread:
    """The workspace served from a background thread (tests, the benchmark, a notebook):
    ``with ServerThread(app) as base_url:`` listens on a free loopback port until the block ends."""

    def __init__(self, app: Starlette, host: str = DEFAULT_HOST, port: int = 0) -> None:
        import threading

        import uvicorn

        self.sock = bind(host, port)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://{host}:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        import time

        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the workspace server did not start")
            time.sleep(0.01)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
