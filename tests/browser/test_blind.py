"""Blind coding in a real browser (issue 13): a blind coder's page and API never receive
another coder's codings; the network data (Chrome's performance log), the API answers for the
blind session's token and the DOM hold none, while the coder's own codings and the machine's
suggestions are there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import CRLF_ID, Server, network_bodies, open_page, wait_ready

pytestmark = pytest.mark.browser

TALK_ID = "emoji-talk"
OTHER = "zebedee-hidden"  # another coder: a name found nowhere else
OTHER_MEMO = "memo-only-zebedee-wrote"


def people(value: Any) -> list[dict[str, Any]]:
    """Every dict in a JSON document that names a coder."""
    found = []
    if isinstance(value, dict):
        if "coder" in value:
            found.append(value)
        for item in value.values():
            found += people(item)
    elif isinstance(value, list):
        for item in value:
            found += people(item)
    return found


@pytest.fixture
def coded(fresh_project: Path) -> dict[str, Any]:
    """ana's and the other coder's codings on the same passage and elsewhere."""
    from qualkam.coding.spans import code_span, decide_suggestion
    from qualkam.store.project import Project
    from qualkam.store.refi import sources

    with Project.open(fresh_project) as project:
        text = next(s["text"] for s in sources(project) if s["id"] == TALK_ID)
        start = text.index("señor")
        ana = code_span(project, TALK_ID, start, start + len("señor"), "hard_control", "ana").coding_id
        code_span(project, TALK_ID, start, start + len("señor in München"), "soft_control", OTHER, memo=OTHER_MEMO)
        at = text.index("naïve")
        code_span(project, TALK_ID, at, at + len("naïve"), "hard_control", OTHER)
        code_span(project, CRLF_ID, 0, 8, "soft_control", OTHER)
        from qualkam.store.segments import codings

        first = int(codings(project, "suggestions").sort_values("start")["coding"].iloc[0])
        decide_suggestion(project, first, OTHER, "accept")
    return {"path": fresh_project, "ana": ana}


def test_a_blind_coder_never_receives_another_coders_codings(driver: Any, serve: Any, coded: dict[str, Any]) -> None:
    server: Server = serve(coded["path"], coder="ana", blind=True)

    # the API, with the blind session's token
    for path in (
        f"/api/sources/{TALK_ID}",
        "/api/sources/" + quote(CRLF_ID),
        "/api/sources",
        "/api/codebook",
        "/api/excerpts",
        "/api/excerpts?code=soft_control",
        "/api/session",
    ):
        response = server.api("GET", path)
        assert response.status_code == 200, (path, response.text)
        assert OTHER not in response.text and OTHER_MEMO not in response.text, path
        assert {p["coder"] for p in people(response.json())} <= {"ana", None}, path
    document = server.get(f"/api/sources/{TALK_ID}")
    assert [c["id"] for c in document["codings"]] == [coded["ana"]]
    assert document["suggestions"], "the machine's suggestions are shown to a blind coder"
    counts = {c["id"]: c["count"] for c in server.get("/api/codebook")["codes"]}
    assert counts["soft_control"] == 0 and counts["hard_control"] == 1  # ana's own only
    assert server.api("GET", f"/api/sources/{TALK_ID}?coder={OTHER}").status_code == 403
    assert server.api("GET", f"/api/compare/{TALK_ID}?a=ana&b={OTHER}").status_code == 403
    assert server.api("GET", f"/api/excerpts?layer=coder:{OTHER}").status_code in (400, 403)

    # the page: everything the browser received, and what it shows
    driver.get_log("performance")  # drop what earlier tests left
    open_page(driver, server, f"/sources/{TALK_ID}")
    wait_ready(driver)
    bodies = network_bodies(driver)
    api = [(url, body) for url, body in bodies if "/api/" in url]
    assert any(f"/api/sources/{TALK_ID}" in url for url, _ in api), "the page's data was captured"
    for url, body in bodies:
        assert OTHER not in body and OTHER_MEMO not in body, url
    for url, body in api:
        assert {p["coder"] for p in people(json.loads(body))} <= {"ana", None}, url
    marks = driver.find_elements(By.CSS_SELECTOR, "#doc-text mark.coding")
    assert {m.get_attribute("data-coder") for m in marks} == {"ana"}
    assert {m.get_attribute("data-coding-id") for m in marks} == {str(coded["ana"])}
    html = driver.execute_script("return document.documentElement.outerHTML;")
    assert OTHER not in html and OTHER_MEMO not in html
    assert driver.find_elements(By.CSS_SELECTOR, "#doc-text span.suggestion")

    # the Compare page is refused to a blind session
    driver.get(server.url(f"/compare/{TALK_ID}?a=ana&b={OTHER}"))
    assert OTHER not in driver.page_source.replace(f"b={OTHER}", "")
    assert "blind" in driver.page_source.lower()
