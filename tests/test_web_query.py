"""The workspace's Query and Concordance pages and their JSON (issue 16, points 1 and 2, "in the
workspace"): the answers are the library's on the same project, a query that does not parse is
a 400 naming its column with the query kept in its box, a blind session reads its own codings
only (another layer or coder is 403, the codes on a hit are its own), data stays text, and no
query or term gives a 500."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from starlette.testclient import TestClient

from qualkam.analysis.kwic import concordance
from qualkam.analysis.query import count_by, excerpts, run_query
from qualkam.store.project import Project
from qualkam.web.app import create_app

from .conftest import ROOT, SHARED, needs_shared
from .test_web_api import TOKEN, authed, copy_project, template


@pytest.fixture(scope="module")
def web_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the web tests' project (evil markup, ana's and ben's codings); nothing here writes."""
    return copy_project(template(tmp_path_factory), tmp_path_factory.mktemp("web-query"))


@pytest.fixture(scope="module")
def client(web_path: Path) -> TestClient:
    return authed(create_app(web_path, token=TOKEN))


@pytest.fixture(scope="module")
def blind(web_path: Path) -> TestClient:
    return authed(create_app(web_path, coder="ana", blind=True, token=TOKEN))


def ok(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def library_query(path: Path, query: str, where: Any = None, layer: str = "auto") -> tuple[int, list[int]]:
    """The matching segments and the excerpts' coding ids, from the library itself."""
    with Project.open(path) as project:
        result = run_query(project, query, where=where, layer=layer)
        frame = excerpts(project, result, by_coder=True)
        return len(result.segment_ids), [int(i) for i in frame["coding_id"]]


def library_kwic(path: Path, term: str, **options: Any) -> list[tuple]:
    with Project.open(path) as project:
        frame = concordance(project, term, **options)
    return [
        (r["source"], int(r["start"]), int(r["end"]), r["left"], r["match"], r["right"], list(r["codes"]))
        for r in frame.to_dict("records")
    ]


def kwic_rows(answer: dict[str, Any]) -> list[tuple]:
    return [(h["source"], h["start"], h["end"], h["left"], h["match"], h["right"], h["codes"]) for h in answer["hits"]]


# -- results are the library's ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "where", "layer"),
    [
        ({"query": "hard_control"}, None, "auto"),
        ({"query": "control AND NOT xss"}, None, "auto"),
        ({"query": "hard_control OR xss", "phase": "early"}, {"phase": ["early"]}, "auto"),
        ({"query": "hard_control", "type": "meeting"}, {"source_type": ["meeting"]}, "auto"),
        ({"query": "hard_control", "attribute": "site:south"}, {"site": ["south"]}, "auto"),
        ({"query": "hard_control", "speaker": "I"}, {"speaker": ["I"]}, "auto"),
        ({"query": "control", "layer": "human"}, None, "human"),
        ({"query": "control", "coded_by": "ben"}, {"coder": ["ben"]}, "coder:ben"),
        ({"query": "hard_control NEAR/1 xss"}, None, "auto"),
        ({"query": "hard_control SAME-SPEAKER hard_control"}, None, "suggestions"),
    ],
)
def test_api_query_is_the_librarys_answer(client: TestClient, web_path: Path, params, where, layer) -> None:
    if layer == "suggestions":
        params = {**params, "layer": "suggestions"}
    answer = ok(client, "/api/query", **params)
    hits, ids = library_query(web_path, params["query"], where, layer)
    assert answer["hits"] == hits
    assert [e["coding_id"] for e in answer["excerpts"]] == ids
    assert answer["layer"] == layer
    for e in answer["excerpts"]:
        assert e["href"].startswith("/sources/") and e["href"].endswith(f"#c-{e['start']}-{e['end']}")


def test_the_answers_are_not_all_empty(client: TestClient) -> None:
    """The parametrized cases above compare something: most have excerpts."""
    assert ok(client, "/api/query", query="hard_control")["hits"] >= 3
    assert ok(client, "/api/query", query="control", coded_by="ben")["excerpts"][0]["coder"] == "ben"
    assert ok(client, "/api/query", query="hard_control", attribute="site:south")["excerpts"]


def test_api_query_counts_are_the_librarys(client: TestClient, web_path: Path) -> None:
    answer = ok(client, "/api/query", query="control", count_by="speaker")
    with Project.open(web_path) as project:
        table = count_by(project, run_query(project, "control"), "speaker")
    assert answer["count_by"] == "speaker" and "excerpts" not in answer
    assert answer["counts"] == table.to_dict("records")
    assert sum(r["segments"] for r in answer["counts"]) == answer["hits"] > 0


@pytest.mark.parametrize(
    ("params", "options"),
    [
        ({"term": "sales target"}, {}),
        ({"term": "target", "sort": "left"}, {"sort": "left"}),
        ({"term": "target", "sort": "right", "context": "1"}, {"sort": "right", "context": 1}),
        ({"term": "targets", "word": "1"}, {"word": True}),
        ({"term": "target", "phase": "late"}, {"phases": ["late"]}),
        ({"term": "target", "code": "hard_control"}, {"codes": ["hard_control"]}),
        ({"term": "gut", "layer": "coder:ben"}, {"layer": "coder:ben"}),
        ({"term": "target", "limit": "2"}, {"limit": 2}),
    ],
)
def test_api_kwic_is_the_librarys_answer(client: TestClient, web_path: Path, params, options) -> None:
    answer = ok(client, "/api/kwic", **params)
    expected = library_kwic(web_path, params["term"], **options)
    assert kwic_rows(answer) == expected
    assert expected or params["term"] == "targets"
    for h in answer["hits"]:
        assert h["href"].endswith(f"#c-{h['start']}-{h['end']}")
        assert set(h["codes"]) <= set(answer["labels"])


def test_kwic_total_beyond_the_limit(client: TestClient) -> None:
    every = ok(client, "/api/kwic", term="target")
    two = ok(client, "/api/kwic", term="target", limit="2")
    assert two["total"] == every["total"] == len(every["hits"]) > 2 and len(two["hits"]) == 2


def test_pages_show_the_hits_and_link_into_the_document(client: TestClient) -> None:
    api = ok(client, "/api/query", query="hard_control")
    page = client.get("/query", params={"query": "hard_control"})
    assert page.status_code == 200
    assert f'data-hits="{api["hits"]}"' in page.text
    for e in api["excerpts"]:
        assert f'href="{escape(e["href"])}"' in page.text
    counts = client.get("/query", params={"query": "control", "count_by": "speaker"})
    assert counts.status_code == 200 and '<table class="counts">' in counts.text
    assert re.search(
        r'<th><a href="[^"]+">R</a></th><td class="num">1</td><td class="num">2</td><td class="num">0.500</td>',
        counts.text,
    )
    kwic = ok(client, "/api/kwic", term="sales target", sort="left")
    page = client.get("/kwic", params={"term": "sales target", "sort": "left"})
    assert page.status_code == 200 and f'data-hits="{kwic["total"]}"' in page.text
    rows = re.findall(r'<td class="where"><a href="([^"]+)">', page.text)
    assert rows == [escape(h["href"]) for h in kwic["hits"]]
    lefts = re.findall(r'<td class="left"><span>(.*?)</span></td>', page.text)
    assert [html.unescape(x) for x in lefts] == [h["left"] for h in kwic["hits"]]


def test_empty_forms_and_the_nav(client: TestClient) -> None:
    for path in ("/query", "/kwic"):
        page = client.get(path)
        assert page.status_code == 200 and 'id="hits"' not in page.text and 'class="error"' not in page.text
        assert '<a href="/query">Query</a>' in page.text and '<a href="/kwic">Concordance</a>' in page.text
    assert client.get("/api/query").status_code == 400
    assert client.get("/api/kwic").status_code == 400


# -- errors -------------------------------------------------------------------------------------
def test_a_query_that_does_not_parse_is_400_naming_its_column(client: TestClient) -> None:
    typed = 'hard_control AND <b>"x'
    answer = client.get("/api/query", params={"query": "hard_control AND"})
    assert answer.status_code == 400
    assert answer.json() == {"error": "query: column 17: expected a code after AND"}
    page = client.get("/query", params={"query": typed, "phase": "early"})
    assert page.status_code == 400
    error = re.search(r'<p class="error" role="alert" id="query-error">(.*?)</p>', page.text)
    assert error and "column 18" in error.group(1)  # the " that opens an unclosed quote
    # what was typed stays in the box, as text, and the filter stays chosen
    assert f'value="{escape(typed)}"' in page.text and "<b>" not in page.text.split("<main>")[1]
    assert '<option value="early" selected>' in page.text
    unknown = client.get("/api/query", params={"query": "hard_contrl"})
    assert unknown.status_code == 400 and "column 1" in unknown.json()["error"]
    assert "did you mean 'hard_control'" in unknown.json()["error"]


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("/api/query", {"query": "control", "phase": "erly"}, "early"),
        ("/api/query", {"query": "control", "count_by": "nope"}, "attribute"),
        ("/api/query", {"query": "control", "layer": "coder:zed"}, "coder"),
        ("/api/query", {"query": "control", "attribute": "site"}, "KEY:VALUE"),
        ("/api/query", {"query": "control", "phase": "early", "attribute": "phase:late"}, "repeats"),
        ("/api/kwic", {"term": "..."}, "no word"),
        ("/api/kwic", {"term": "plan", "sort": "middle"}, "sort"),
        ("/api/kwic", {"term": "plan", "limit": "0"}, "limit"),
        ("/api/kwic", {"term": "plan", "context": "-1"}, "context"),
    ],
)
def test_bad_input_is_one_line_400(client: TestClient, path: str, params: dict, words: str) -> None:
    answer = client.get(path, params=params)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert words in error and "\n" not in error
    page = client.get(path.replace("/api", ""), params=params)
    assert page.status_code == 400 and escape(error) in page.text


# -- blind sessions -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"layer": "auto"},
        {"layer": "human"},
        {"layer": "consensus"},
        {"layer": "all"},
        {"layer": "coder:ben"},
        {"coded_by": "ben"},
        {"coder": "ben"},
    ],
)
def test_blind_other_layers_and_coders_are_403(blind: TestClient, params: dict) -> None:
    for path, asked in (("/api/query", {"query": "control"}), ("/api/kwic", {"term": "gut"})):
        answer = blind.get(path, params={**asked, **params})
        assert answer.status_code == 403, (path, params, answer.text)
        assert "blind" in answer.json()["error"]
        page = blind.get(path.replace("/api", ""), params={**asked, **params})
        assert page.status_code == 403 and "ben's" not in page.text.replace("not ben's", "")


def test_blind_reads_only_the_coders_own(blind: TestClient, client: TestClient, web_path: Path) -> None:
    mine = ok(blind, "/api/query", query="control")
    assert mine["layer"] == "coder:ana"
    assert {e["coder"] for e in mine["excerpts"]} == {"ana"}
    assert mine["hits"] == library_query(web_path, "control", layer="coder:ana")[0] == 1
    assert ok(blind, "/api/query", query="control", coded_by="ana")["hits"] == 1
    # the gut-feeling turn: ana coded xss, ben hard_control; a blind ana sees xss only
    everyone = ok(client, "/api/kwic", term="gut")
    assert everyone["hits"][0]["codes"] == ["hard_control", "xss"]
    hers = ok(blind, "/api/kwic", term="gut")
    assert [h["codes"] for h in hers["hits"]] == [["xss"]] and set(hers["labels"]) == {"xss"}
    assert kwic_rows(hers) == library_kwic(web_path, "gut", layer="coder:ana")
    page = blind.get("/kwic", params={"term": "gut"})
    assert page.status_code == 200 and "Hard control" not in page.text.split("<table")[1]
    assert ok(blind, "/api/kwic", term="gut", code="hard_control")["hits"] == []
    # the machine's suggestions are a blind coder's to read
    suggested = ok(blind, "/api/kwic", term="gut", layer="suggestions")
    assert kwic_rows(suggested) == library_kwic(web_path, "gut", layer="suggestions")
    assert "ben" not in page.text and "ben" not in blind.get("/query", params={"query": "control"}).text


def test_blind_coder_who_has_not_coded_yet(web_path: Path) -> None:
    cleo = authed(create_app(web_path, coder="cleo", blind=True, token=TOKEN))
    answer = ok(cleo, "/api/query", query="control")
    assert (answer["hits"], answer["excerpts"], answer["layer"]) == (0, [], "coder:cleo")
    counts = ok(cleo, "/api/query", query="control", count_by="phase")
    assert counts["counts"] and all(r["segments"] == 0 for r in counts["counts"])
    hits = ok(cleo, "/api/kwic", term="target")
    assert hits["total"] == len(library_kwic(web_path, "target")) > 0
    assert all(h["codes"] == [] for h in hits["hits"]) and hits["labels"] == {}
    assert hits["words"] == ["target"] and hits["layer"] == "coder:cleo"
    assert ok(cleo, "/api/kwic", term="target", code="hard_control")["hits"] == []
    assert cleo.get("/api/query", params={"query": "nope AND"}).status_code == 400


# -- text from the data is only text ------------------------------------------------------------
def test_markup_in_the_data_is_escaped(client: TestClient) -> None:
    page = client.get("/query", params={"query": "xss OR hard_control"})
    assert page.status_code == 200
    body = page.text.split("<main>")[1]
    assert "<script>" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(&#39;j&#39;)&lt;/script&gt;" in body  # the turn
    assert "&lt;script&gt;alert(&#34;label&#34;)&lt;/script&gt;" in body  # the code's label
    assert "&lt;b&gt;Bob&lt;/b&gt;" in body  # the speaker
    kwic = client.get("/kwic", params={"term": "gut"}).text.split("<main>")[1]
    assert "<script>" not in kwic and "<b>" not in kwic
    assert "&lt;script&gt;alert(&#34;label&#34;)&lt;/script&gt;" in kwic and "&lt;b&gt;Bob&lt;/b&gt;" in kwic
    typed = client.get("/kwic", params={"term": '"><script>alert(1)</script>'}).text.split("<main>")[1]
    assert "<script>" not in typed


# -- no 500, whatever is typed ------------------------------------------------------------------
WORDS = st.sampled_from(["hard_control", "xss", "control", "AND", "OR", "NOT", "NEAR/1", "SAME-SPEAKER", "(", ")", '"'])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40) | st.lists(WORDS, max_size=8).map(" ".join))
def test_any_query_is_answered_or_refused(client: TestClient, text: str) -> None:
    for path in ("/api/query", "/query"):
        answer = client.get(path, params={"query": text})
        assert answer.status_code in (200, 400), (text, answer.status_code)
        if path == "/api/query" and answer.status_code == 400:
            assert "\n" not in answer.json()["error"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(term=st.text(max_size=25), word=st.booleans(), sort=st.sampled_from(["source", "left", "right", "x"]))
def test_any_term_is_answered_or_refused(client: TestClient, term: str, word: bool, sort: str) -> None:
    params = {"term": term, "sort": sort, **({"word": "1"} if word else {})}
    for path in ("/api/kwic", "/kwic"):
        answer = client.get(path, params=params)
        assert answer.status_code in (200, 400), (params, answer.status_code)


# -- the sample project and a real meeting --------------------------------------------------------
@pytest.fixture(scope="module")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qualkam.coding.codebook import load_codebook
    from qualkam.coding.run import code_folder
    from qualkam.interchange.codings_import import import_codings

    path = tmp_path_factory.mktemp("sample") / "sample.db"
    with Project.open(path, create=True) as project:
        code_folder(ROOT / "sample_transcripts", load_codebook("kam"), project, out_dir=None)
        import_codings(project, ROOT / "tests" / "fixtures" / "gold" / "sample_codings.csv")
    return path


@pytest.mark.slow
def test_the_sample_project(sample_path: Path) -> None:
    web = authed(create_app(sample_path, token=TOKEN))
    query = "bureaucratic_creep NEAR/1 coordination"
    answer = ok(web, "/api/query", query=query, layer="coder:gold")
    assert (answer["hits"], [e["coding_id"] for e in answer["excerpts"]]) == library_query(
        sample_path, query, layer="coder:gold"
    )
    assert answer["hits"] > 0 and {e["coder"] for e in answer["excerpts"]} == {"gold"}
    scoped = ok(web, "/api/query", query="social_ordering", type="meeting", count_by="source", layer="coder:gold")
    assert {r["source"] for r in scoped["counts"] if r["segments"]} >= {"steering-02", "steering-09"}
    kwic = ok(web, "/api/kwic", term="spreadsheet", sort="left", layer="coder:gold")
    assert kwic_rows(kwic) == library_kwic(sample_path, "spreadsheet", sort="left", layer="coder:gold")
    assert kwic["total"] > 0 and any(h["codes"] for h in kwic["hits"])
    kams = ok(web, "/api/kwic", term="plan", case="role:Key Account Manager", layer="coder:gold")
    assert kams["total"] > 0 and {h["role"] for h in kams["hits"]} == {"Key Account Manager"}
    one = ok(web, "/api/kwic", term="plan", case="case:Priya Nair", layer="coder:gold")
    assert one["total"] > 0 and {h["speaker"] for h in one["hits"]} == {"Priya Nair"}
    for bad, words in (
        ("role", "write a case filter as ATTRIBUTE:VALUE"),
        ("rol:Key Account Manager", "unknown case attribute 'rol'"),
    ):
        refused = web.get("/api/kwic", params={"term": "plan", "case": bad})
        assert refused.status_code == 400 and words in refused.json()["error"], refused.text
    page = web.get("/kwic", params={"term": "plan", "phase": "formal_kam"})
    assert page.status_code == 200 and 'class="kwic"' in page.text
    # a blind gold coder sees the same as the gold layer, and no other layer
    gold = authed(create_app(sample_path, coder="gold", blind=True, token=TOKEN))
    assert ok(gold, "/api/query", query=query)["hits"] == answer["hits"]
    assert gold.get("/api/query", params={"query": query, "layer": "auto"}).status_code == 403


def _count_links(web: TestClient, params: dict[str, str]) -> list[tuple[str, int, str | None]]:
    page = web.get("/query", params=params)
    assert page.status_code == 200, page.text
    table = page.text.split('<table class="counts">', 1)[1].split("</table>", 1)[0]
    found = []
    for head, segments in re.findall(r'<tr><th>(.*?)</th><td class="num">(\d+)</td>', table):
        link = re.match(r'<a href="([^"]+)">(.*)</a>$', head)
        found.append(
            (html.unescape(link[2] if link else head), int(segments), html.unescape(link[1]) if link else None)
        )
    return found


@pytest.mark.slow
@pytest.mark.parametrize(
    ("by", "scope"),
    [
        ("phase", {}),
        ("source_type", {}),
        ("role", {}),
        ("speaker", {}),
        ("site", {}),
        ("case", {}),
        ("case:role", {}),
        ("phase", {"case": "role:Key Account Manager"}),
        ("case:unit", {"phase": "formal_kam"}),
    ],
)
def test_each_count_row_links_to_its_own_hits(sample_path: Path, by: str, scope: dict[str, str]) -> None:
    """A count row opens the same query narrowed to its value (the scope kept), and that query
    has as many hits as the row counted, as a matrix cell opens exactly its excerpts."""
    web = authed(create_app(sample_path, token=TOKEN))
    params = {"query": "social_ordering OR mode_of_control", "layer": "coder:gold", "count_by": by, **scope}
    rows = _count_links(web, params)
    linked = [(value, segments, href) for value, segments, href in rows if href]
    assert len(linked) >= (1 if scope else 2), rows
    for value, segments, href in linked:
        assert href.startswith("/query?") and "count_by" not in href
        narrowed = dict(re.findall(r"([^?&=]+)=([^&]*)", href))
        from urllib.parse import unquote_plus

        answer = ok(web, "/api/query", **{k: unquote_plus(v) for k, v in narrowed.items()})
        assert answer["hits"] == segments, (by, value, href)
        assert all(unquote_plus(narrowed[k]) == v for k, v in scope.items())
    assert all(href is None for value, segments, href in rows if value == "(none)" or not segments)


@needs_shared
@pytest.mark.shared
@pytest.mark.slow
def test_a_real_zoom_meeting(tmp_path: Path) -> None:
    from qualkam.coding.codebook import load_codebook
    from qualkam.coding.run import code_folder

    from .test_query import REAL_CODEBOOK

    meeting = SHARED / "corpora" / "zoom-meetings" / "acde" / "2026-02-12_230" / "transcript.vtt"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "call.vtt").write_bytes(meeting.read_bytes())
    (tmp_path / "book.yaml").write_text(REAL_CODEBOOK, encoding="utf-8")
    path = tmp_path / "r.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", load_codebook(tmp_path / "book.yaml"), project, out_dir=None)
    web = authed(create_app(path, token=TOKEN))
    for query in ("testing NEAR/2 release", "testing SAME-SPEAKER release", "testing NEAR/2 NOT release"):
        answer = ok(web, "/api/query", query=query)
        assert (answer["hits"], [e["coding_id"] for e in answer["excerpts"]]) == library_query(path, query)
        assert answer["hits"] > 0 and answer["excerpts"], query
    counts = ok(web, "/api/query", query="testing OR release", count_by="speaker")
    assert sum(r["segments"] for r in counts["counts"]) == counts["hits"] > 0
    kwic = ok(web, "/api/kwic", term="devnet", sort="right")
    assert kwic_rows(kwic) == library_kwic(path, "devnet", sort="right")
    assert kwic["total"] > 10 and all("testing" in h["codes"] for h in kwic["hits"])
    page = web.get("/kwic", params={"term": "devnet"})
    assert page.status_code == 200 and page.text.count('<td class="match">') == min(kwic["total"], 500)
