"""Property-based tests of what the workspace's API parses: any JSON body, any path id and any
span is either done or refused with a clear one-line error; never a 500, and a span that is
done stores exactly text[start:end] of the text the API served."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qualkam.web.app import create_app

from .test_web_api import TOKEN, authed, copy_project, served

REFUSED = {400, 403, 404, 415, 422}
SOURCES = ["uni", "raw", "j", "evil", "interviews/Zoë 2", "nope", ""]
CODES = ["hard_control", "xss", "control", "nope", ""]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    from .test_web_api import template

    path = copy_project(template(tmp_path_factory), tmp_path_factory.mktemp("web-properties"))
    return authed(create_app(path, token=TOKEN))


def _error_line(answer) -> None:
    body = answer.json()
    assert set(body) == {"error"} and body["error"].strip() and "\n" not in body["error"], body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "source": st.sampled_from(SOURCES) | json_values,
            "start": st.integers(-5, 200) | json_values,
            "end": st.integers(-5, 200) | json_values,
            "code": st.sampled_from(CODES) | json_values,
            "coder": st.sampled_from(["ana", "zoe", "", "rules", "consensus"]) | json_values,
            "memo": json_values,
        },
    )
    | json_values
)
def test_any_coding_body_is_done_or_refused_in_one_line(client, body) -> None:
    answer = client.post("/api/codings", content=json.dumps(body), headers={"Content-Type": "application/json"})
    if answer.status_code in REFUSED:
        _error_line(answer)
        return
    assert answer.status_code in (200, 201), answer.text
    coding = answer.json()["coding"]
    text = served(client, body["source"])["text"]
    assert coding["text"] == text[body["start"] : body["end"]]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_span_of_a_served_text_is_stored_as_exactly_those_code_points(client, data) -> None:
    source = data.draw(st.sampled_from(["uni", "raw", "j", "interviews/Zoë 2"]))
    document = served(client, source)
    text = document["text"]
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    body = {"source": source, "start": start, "end": end, "code": "hard_control", "coder": "ana"}
    answer = client.post("/api/codings", json=body)
    covers = any(s["start"] < end and s["end"] > start for s in document["segments"])
    if not covers:
        assert answer.status_code == 400 and "holds no segment" in answer.json()["error"]
        return
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["coding"]["text"] == text[start:end]
    again = served(client, source, coder="ana")
    assert {(c["start"], c["end"]) for c in again["codings"] if c["id"] == answer.json()["id"]} == {(start, end)}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ident=st.text(max_size=40), method=st.sampled_from(["get", "delete"]))
def test_any_id_in_a_path_is_found_or_refused(client, ident: str, method: str) -> None:
    from urllib.parse import quote

    path = quote(ident, safe="")
    for url in (f"/api/sources/{path}", f"/api/codings/{path}?coder=ana", f"/api/compare/{path}?a=ana&b=ben"):
        if method == "delete" and not url.startswith("/api/codings"):
            continue
        answer = getattr(client, method)(url)
        assert answer.status_code in {200, 400, 404, 405, 403}, (url, answer.status_code, answer.text)
        if answer.status_code != 200 and answer.headers.get("content-type", "").startswith("application/json"):
            _error_line(answer)


@pytest.mark.parametrize("coder", ["ana", "ben"])
def test_the_properties_fixture_really_serves_the_project(client, coder: str) -> None:
    """The sources the properties draw from exist (else every draw would be a 404)."""
    assert {"uni", "raw", "j"} <= {s["id"] for s in client.get("/api/sources").json()["sources"]}
    assert served(client, "uni", coder=coder)["text"]
