"""``qualkam serve`` is safe by default (issue 13, section 3): the token on every route, writes
only from the page itself and only JSON, the Host header checked, ids in paths validated, and
text from the data never rendered unescaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from qualkam.web.app import create_app, is_loopback, url_of
from qualkam.web.auth import COOKIE, host_name

from .conftest import run_cli, said
from .test_web_api import BASE, TOKEN, authed, copy_project, template

EVIL = re.compile(r"<script>alert|<b>Bob|<img src=x|<i>no target|<b>bold", re.I)
PAGES = ["/", "/codebook", "/excerpts", "/matrix", "/matrix?by=speaker", "/sources/j", "/compare/j?a=ana&b=ben"]
API = [
    "/api/session",
    "/api/sources",
    "/api/sources/j",
    "/api/codebook",
    "/api/excerpts",
    "/api/matrix",
    "/api/compare/j?a=ana&b=ben",
]


@pytest.fixture
def web_db(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    return copy_project(template(tmp_path_factory), tmp_path / "project")


@pytest.fixture
def app(web_db: Path):
    return create_app(web_db, token=TOKEN)


@pytest.fixture
def anonymous(app) -> TestClient:
    return TestClient(app, base_url=BASE)


# -- the token ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", PAGES)
def test_pages_refuse_without_token(anonymous: TestClient, path: str) -> None:
    answer = anonymous.get(path)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert TOKEN not in answer.text and "qualkam serve" in answer.text


@pytest.mark.parametrize("path", API)
def test_api_refuses_without_token(anonymous: TestClient, path: str) -> None:
    answer = anonymous.get(path)
    assert answer.status_code == 403
    assert "token" in answer.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/codings"),
        ("PATCH", "/api/codings/1"),
        ("DELETE", "/api/codings/1?coder=ana"),
        ("POST", "/api/suggestions/1/accept"),
        ("POST", "/api/suggestions/1/reject"),
        ("POST", "/api/consensus"),
    ],
)
def test_writes_refuse_without_token_and_write_nothing(anonymous: TestClient, app, method: str, path: str) -> None:
    from qualkam.store.project import Project

    with Project.open(app.state.settings.project_path) as project:
        before = project.revision()
    body = {
        "source": "j",
        "start": 0,
        "end": 2,
        "code": "hard_control",
        "coder": "ana",
        "memo": "x",
        "action": "accept",
    }
    answer = anonymous.request(method, path, json=body)
    assert answer.status_code == 403
    wrong = anonymous.request(method, path, json=body, headers={"X-Qualkam-Token": TOKEN[:-1] + "y"})
    assert wrong.status_code == 403
    with Project.open(app.state.settings.project_path) as project:
        assert project.revision() == before


def test_token_in_url_sets_cookie_and_redirects_without_it(anonymous: TestClient) -> None:
    answer = anonymous.get(f"/excerpts?code=hard_control&token={TOKEN}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/excerpts?code=hard_control"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    # the browser keeps the cookie: the page and the API now answer
    assert anonymous.get("/excerpts?code=hard_control").status_code == 200
    assert anonymous.get("/api/session").status_code == 200


def test_wrong_token_in_url_is_refused(anonymous: TestClient) -> None:
    answer = anonymous.get("/?token=guess", follow_redirects=False)
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers


def test_the_page_carries_the_token_for_its_scripts(app) -> None:
    page = authed(app).get("/")
    assert f'<meta name="qualkam-token" content="{TOKEN}">' in page.text


def test_static_files_need_no_token_and_load_nothing_from_outside(anonymous: TestClient) -> None:
    for name in ("workspace.css", "common.js"):
        answer = anonymous.get(f"/static/{name}")
        assert answer.status_code == 200
        assert "http://" not in answer.text and "https://" not in answer.text and "//cdn" not in answer.text


@pytest.mark.parametrize("path", ["/", "/api/session", "/static/common.js", "/nowhere"])
def test_every_answer_forbids_outside_resources_and_framing(app, anonymous: TestClient, path: str) -> None:
    for answer in (authed(app).get(path), anonymous.get(path)):
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["x-content-type-options"] == "nosniff"


def test_pages_have_no_inline_script(app) -> None:
    client = authed(app)
    for path in ("/", "/codebook", "/excerpts", "/matrix"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"\son[a-z]+=", html), path  # no onclick= and the like


def test_pages_load_nothing_from_outside(app) -> None:
    client = authed(app)
    for path in ("/", "/codebook", "/excerpts", "/matrix"):
        html = client.get(path).text
        assert not re.search(r"""(src|href)=["'](https?:)?//""", html), path


# -- Host, Origin, content type ------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "attacker"])
def test_unknown_host_header_is_refused(app, host: str) -> None:
    answer = authed(app).get("/api/session", headers={"Host": host})
    assert answer.status_code == 400


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "localhost", "[::1]:8765"])
def test_loopback_host_headers_pass(app, host: str) -> None:
    assert authed(app).get("/api/session", headers={"Host": host}).status_code == 200


def test_the_host_given_is_allowed(web_db: Path) -> None:
    app = create_app(web_db, token=TOKEN, allowed_hosts=["lab-pc.local"])
    client = TestClient(app, base_url="http://lab-pc.local:8765")
    assert client.get("/api/session", headers={"X-Qualkam-Token": TOKEN}).status_code == 200
    assert client.get("/api/session", headers={"X-Qualkam-Token": TOKEN, "Host": "other.local"}).status_code == 400


@pytest.mark.parametrize("path", ["/api/sources/j%0A", "/api/sources/j%00", "/sources/j%0D%0AX", "/%7F"])
def test_control_characters_in_paths_are_refused(app, path: str) -> None:
    assert authed(app).get(path).status_code == 400


def test_host_name_parses_ports_and_ipv6() -> None:
    assert host_name("localhost:8765") == "localhost"
    assert host_name("[::1]:8765") == "::1"
    assert host_name("EXAMPLE.org") == "example.org"


CODING = {"source": "j", "start": 0, "end": 9, "code": "hard_control", "coder": "ana"}


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:9999"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_site_writes_are_refused(app, headers: dict[str, str]) -> None:
    answer = authed(app).post("/api/codings", json=CODING, headers=headers)
    assert answer.status_code == 403
    assert "another site" in answer.json()["error"]
    assert authed(app).delete("/api/codings/1?coder=ana", headers=headers).status_code == 403


def test_same_origin_passes_the_guard(app) -> None:
    # the guard lets it through; the body is then validated (an empty object: 422)
    answer = authed(app).post("/api/codings", json={}, headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 422


@pytest.mark.parametrize(
    "content",
    [
        {"data": {"source": "j"}},  # a form post
        {"content": b'{"source": "j"}', "headers": {"Content-Type": "text/plain"}},
        {"content": b'{"source": "j"}'},
    ],
)
def test_writes_need_a_json_body(app, content: dict) -> None:
    answer = authed(app).post("/api/codings", **content)
    assert answer.status_code == 415
    answer = authed(app).patch("/api/codings/1", **content)
    assert answer.status_code == 415


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "JSON"),
        (b"[1, 2]", "object"),
        (b'{"source": "j", "start": "0", "end": 9, "code": "hard_control"}', "start"),
        (b'{"source": "j", "start": true, "end": 9, "code": "hard_control"}', "start"),
        (b'{"source": "j", "start": -1, "end": 9, "code": "hard_control"}', "start"),
        (b'{"source": 3, "start": 0, "end": 9, "code": "hard_control"}', "source"),
        (b'{"source": "j", "start": 0, "end": 9, "code": ""}', "code"),
    ],
)
def test_bodies_that_do_not_validate_are_422(app, body: bytes, field: str) -> None:
    answer = authed(app, coder="ana").post(
        "/api/codings", content=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert answer.status_code == 422
    assert field in answer.json()["error"]


# -- ids in paths ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/api/sources/nope",
        "/api/sources/%3Cscript%3E",
        "/api/sources/j%20x",
        "/api/sources/..%2F..%2Fetc",
        "/api/sources/" + "a" * 501,
        "/api/compare/nope?a=ana&b=ben",
    ],
)
def test_unknown_or_unsafe_source_ids_are_404(app, path: str) -> None:
    answer = authed(app).get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"  # data in an error is JSON, never a page
    assert "no source" in answer.json()["error"] or answer.json()["error"] == "Not Found"  # %2F: no route


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/codings/abc?coder=ana"),
        ("PATCH", "/api/codings/1.5"),
        ("DELETE", "/api/codings/-1?coder=ana"),
        ("POST", "/api/suggestions/x/accept"),
        ("POST", "/api/suggestions/1%20OR%201/reject"),
    ],
)
def test_coding_and_suggestion_ids_must_be_numbers(app, method: str, path: str) -> None:
    answer = authed(app).request(method, path, json={"coder": "ana", "memo": "m"} if method != "DELETE" else None)
    assert answer.status_code == 404
    assert answer.json() == {"error": "Not Found"}


@pytest.mark.parametrize("path", ["/sources/nope", "/sources/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/compare/%22x"])
def test_bad_ids_in_page_paths_are_404_and_escaped(app, path: str) -> None:
    answer = authed(app).get(path)
    assert answer.status_code == 404
    assert "<script>alert" not in answer.text and '"x' not in answer.text.split("<p>")[1]


# -- escaping -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/", "/codebook", "/excerpts", "/matrix", "/matrix?by=speaker", "/excerpts?layer=all"]
)
def test_data_is_escaped_in_every_page(app, path: str) -> None:
    html = authed(app, coder="ana").get(path).text
    assert not EVIL.search(html), EVIL.search(html)


def test_escaped_data_is_still_shown(app) -> None:
    client = authed(app)
    sources = client.get("/").text
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in sources  # the title, as text
    assert "O&#39;Brien &#34;&lt;b&gt;Bob&lt;/b&gt;&#34;" in sources  # the speaker filter
    codebook = client.get("/codebook").text
    assert "&lt;script&gt;alert(&#34;label&#34;)&lt;/script&gt;" in codebook
    assert "&lt;i&gt;no target&lt;/i&gt;" in codebook and "&#34;targets&#34;" in codebook
    excerpts = client.get("/excerpts?layer=all").text
    assert "&lt;script&gt;alert(&#39;j&#39;)&lt;/script&gt;" in excerpts
    matrix = client.get("/matrix?by=speaker").text
    assert "O&#39;Brien &#34;&lt;b&gt;Bob&lt;/b&gt;&#34;" in matrix


def test_a_query_value_is_escaped_back_into_the_page(app) -> None:
    html = authed(app).get('/excerpts?layer="><script>alert(1)</script>').text
    assert "<script>alert(1)" not in html


# -- the command ----------------------------------------------------------------------------
def test_blind_without_coder_is_a_usage_error(runner, web_db: Path) -> None:
    result = run_cli(runner, "serve", "--blind", "--project", web_db, "--no-browser")
    assert result.exit_code == 2
    assert "--coder" in said(result.output)


def test_serve_prints_the_tokened_url_and_warns_off_loopback(runner, web_db: Path, monkeypatch) -> None:
    import qualkam.web.app as web_app

    served: list[object] = []
    monkeypatch.setattr(web_app, "run", lambda app, sock: served.append(sock.getsockname()))
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    project = web_db
    result = run_cli(runner, "serve", "--project", project, "--port", "0", "--no-browser")
    assert result.exit_code == 0, result.output
    assert re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{40,}", result.output)
    assert "warning" not in result.output and not opened and len(served) == 1
    result = run_cli(runner, "serve", "--project", project, "--port", "0", "--host", "0.0.0.0")
    assert result.exit_code == 0, result.output
    assert "warning: listening on 0.0.0.0" in said(result.output)
    assert len(opened) == 1 and opened[0].startswith("http://127.0.0.1:") and "token=" in opened[0]


def test_loopback_and_url() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("lab-pc")
    assert url_of("::1", 8000, "t") == "http://[::1]:8000/?token=t"
    assert url_of("0.0.0.0", 8000, "t") == "http://127.0.0.1:8000/?token=t"
