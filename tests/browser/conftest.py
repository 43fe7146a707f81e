"""Browser fixtures (issue 13): a project of our own sources with emoji, accents and CRLF, a
real uvicorn server of ``create_app`` on a free port in a background thread, and one headless
Chromium per test module, driven through Selenium with Debian's chromium and chromedriver."""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import pytest

from tests.conftest import SMALL_CODEBOOK, write

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# A transcript with characters outside the BMP (emoji: two UTF-16 units, one code point),
# accents, and CRLF line ends in the file (ingest stores them as \n).
TALK = """\
---
id: emoji-talk
title: Zoë's café interview
type: interview
date: 2011-03-02
participants:
  I: Researcher
  Zoë Brontë: {role: Key Account Manager}
---
I: Café first ☕ — how were the sales targets set? 😀
Zoë Brontë: Honestly 🎉 the señor in München set the sales target. We had to follow the procedure, très strict.
And the second line 👍🏽 of this turn.

Zoë: Now we trust each other 🤝. Gut feeling, mostly — naïve maybe.
"""

# A source stored as another tool would give it: CRLF kept in the stored text, and markup that
# must stay text; its id, as ids of files in folders are, has a folder, a space and an accent.
CRLF_ID = "field notes/crlf-é"
CRLF_TEXT = (
    "Ré-union 😀 notes\r\nThe team trusts each other 🤝 now.\r\nDéjà vu: the reporting line again.\r\n"
    "Markup is only text: <b>not bold</b> & <img src=x onerror=alert(1)>\r\n"
)


@dataclass
class Server:
    """A running workspace server: its base URL, its token and the session's coder."""

    base: str
    token: str
    coder: str | None
    blind: bool
    project_path: Path
    thread: threading.Thread | None = None
    server: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request to the API as this session (the token in the header)."""
        headers = {"X-Qualkam-Token": self.token, **kwargs.pop("headers", {})}
        return httpx.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def get(self, path: str) -> Any:
        response = self.api("GET", path)
        assert response.status_code == 200, response.text
        return response.json()


def crlf_source(project: Any) -> None:
    """Store CRLF_TEXT as a source with one segment per line (the \\r\\n between them)."""
    from qualkam.coding.segment import Segment
    from qualkam.store.sources import SourceRecord, store_source

    lines = CRLF_TEXT.split("\r\n")[:-1]
    segments, at = [], 0
    for position, line in enumerate(lines):
        segments.append(Segment(position=position, start=at, end=at + len(line), text=line, speaker="Zoë Brontë"))
        at += len(line) + 2
    record = SourceRecord(
        id=CRLF_ID,
        path="field notes/crlf-é.txt",
        format="txt",
        encoding="utf-8",
        content_hash="crlf",
        fingerprint="crlf",
        type="fieldnote",
        date="2011-04-01",
        phase=None,
        title="Notes with CRLF",
        participants={},
        attributes={},
        text=CRLF_TEXT,
        unit="turn",
        pipeline="test",
    )
    store_source(project, record, None, segments, [[] for _ in segments])


@pytest.fixture(scope="session")
def workspace_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with TALK (coded by the rules: machine suggestions) and the CRLF note."""
    from qualkam.coding.codebook import load_codebook
    from qualkam.coding.run import code_folder
    from qualkam.store.project import Project

    root = tmp_path_factory.mktemp("workspace")
    write(root / "codebook.yaml", SMALL_CODEBOOK)
    (root / "src").mkdir()
    (root / "src" / "talk.md").write_bytes(TALK.replace("\n", "\r\n").encode("utf-8"))
    path = root / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(root / "src", load_codebook(root / "codebook.yaml"), project, out_dir=None)
        crlf_source(project)
    return path


@pytest.fixture
def fresh_project(workspace_project: Path, tmp_path: Path) -> Path:
    """A copy of the workspace project a test may write to."""
    path = tmp_path / "project.db"
    shutil.copyfile(workspace_project, path)
    return path


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def start_server(project_path: Path, coder: str | None = None, blind: bool = False) -> Server:
    """``create_app`` served by uvicorn in a daemon thread on a free port of 127.0.0.1."""
    import uvicorn

    from qualkam.web.app import create_app

    sock = free_socket()
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(32)
    app = create_app(
        project_path,
        coder=coder,
        blind=blind,
        token=token,
        allowed_hosts=[f"127.0.0.1:{port}", f"localhost:{port}"],
    )
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the workspace server did not start")
        time.sleep(0.02)
    return Server(f"http://127.0.0.1:{port}", token, coder, blind, project_path, thread, server)


def stop_server(server: Server) -> None:
    server.server.should_exit = True
    if server.thread is not None:
        server.thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start servers for a test; all stopped at its end."""
    started: list[Server] = []

    def start(project_path: Path, coder: str | None = None, blind: bool = False) -> Server:
        server = start_server(project_path, coder, blind)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_server(server)


def browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    if not CHROMEDRIVER.exists():
        return f"needs chromedriver at {CHROMEDRIVER} (apt-get install chromium-driver)"
    return None


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium per test module, its performance log on (the network data)."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    from bench.screenshots import chromium

    browser = chromium(tmp_path_factory.mktemp("chromium-profile"), 1280, 900, logs=True)
    browser.set_page_load_timeout(20)
    browser.set_script_timeout(20)
    try:
        yield browser
    finally:
        browser.quit()


def open_page(driver: Any, server: Server, path: str, coder: str | None = None) -> None:
    """Open ``path`` as the session: through the tokened URL (sets the cookie, then redirects),
    with ``coder`` in localStorage for a session without one; waits until the page is ready."""
    driver.get(server.url("/?token=" + quote(server.token)))
    if coder is not None:
        driver.execute_script("localStorage.setItem('qualkam-coder', arguments[0]);", coder)
    driver.get(server.url(path))


def wait_for(driver: Any, script: str, timeout: float = 10, *args: Any) -> Any:
    """Poll a JS expression (``return ...``) until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script, *args)
        if value:
            return value
        if time.monotonic() > deadline:
            status = driver.execute_script("const s = document.getElementById('status'); return s && s.textContent;")
            raise AssertionError(f"timed out waiting for: {script} (status: {status!r})")
        time.sleep(0.03)


def wait_ready(driver: Any) -> None:
    wait_for(driver, "const d = document.getElementById('doc-text'); return d && d.dataset.ready === 'true';")


def wait_saved(driver: Any, before: int) -> None:
    """Wait until the page has finished one more write than ``before`` (the count of writes)."""
    wait_for(
        driver,
        "const d = window.qualkamDocument; return d && d.writes > arguments[0] && !d.busy;",
        10,
        before,
    )
    error = driver.execute_script("return window.qualkamDocument.lastError;")
    assert error is None, f"the page could not save: {error}"


def writes(driver: Any) -> int:
    return int(driver.execute_script("return (window.qualkamDocument && window.qualkamDocument.writes) || 0;"))


def network_bodies(driver: Any) -> list[tuple[str, str]]:
    """(url, body) of every response the page received since the last call, from the
    performance log (Chrome DevTools' Network events)."""
    found = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") != "Network.responseReceived":
            continue
        params = message["params"]
        url = params["response"]["url"]
        try:
            body = driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": params["requestId"]})
        except Exception:  # a response without a body (a redirect) has none to give
            continue
        found.append((url, body.get("body", "")))
    return found
