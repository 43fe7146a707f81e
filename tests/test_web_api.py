"""The workspace's JSON API (issue 13, sections 2 and 4; docs/api.md), through Starlette's test
client: what each route answers, codings on any span in code points, suggestions accepted and
rejected, and the blind rule enforced by the API itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from qualkam.store.project import Project
from qualkam.web.app import create_app

TOKEN = "test-token-" + "x" * 32
BASE = "http://127.0.0.1:8765"

CODEBOOK = """\
name: Web test codebook
version: "1"
phases:
  - {id: early, label: Early}
  - {id: late, label: Late}
codes:
  - id: control
    label: Control
    children:
      - id: hard_control
        label: Hard control
        definition: Formal rules & "targets" <b>bold</b>
        include: ["targets set from above"]
        exclude: ["<i>no target</i>"]
        examples: ["We had to follow the procedure."]
        color: "#1f77b4"
        patterns:
          lemmas: [sales target]
      - id: xss
        label: <script>alert("label")</script>
        color: "#ff7f0e"
        patterns:
          lemmas: [gut feeling]
"""

EVIL = """\
---
id: evil
type: interview
phase: early
site: north
title: <script>alert("title")</script>
participants:
  I: Researcher
---
I: What about the sales target? <script>alert("text")</script>
"""
# A speaker's name with quotes and markup (a JSON transcript keeps any name).
TURNS = [
    {"speaker": "O'Brien \"<b>Bob</b>\"", "text": "A gut feeling & <script>alert('j')</script>", "start": "00:00:01"},
    {"speaker": "Ann", "text": "And the sales target came from above.", "start": "00:00:09"},
]
# Emoji outside the BMP (one code point, two UTF-16 units), a skin-tone modifier, accents both
# precomposed (é) and combining (e + U+0301), and CRLF line ends as a Windows editor saves them.
UNI = (
    "---\nid: uni\ntype: meeting\nphase: late\nsite: south\n---\r\n"
    "I: Café 😀 déjà vu, nai\u0308ve sales target?\r\n"
    "R: Yes 👍🏽 the sales target, cafe\u0301 🇫🇷 done.\r\n"
)


def _build(folder: Path) -> Path:
    from qualkam.coding.codebook import load_codebook
    from qualkam.coding.decisions import decide
    from qualkam.coding.run import code_folder

    src = folder / "src"
    src.mkdir(parents=True)
    (src / "evil.md").write_text(EVIL, encoding="utf-8")
    (src / "j.json").write_text(json.dumps(TURNS), encoding="utf-8")
    (src / "uni.md").write_bytes(UNI.encode("utf-8"))
    (folder / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    path = folder / "web.db"
    with Project.open(path, create=True) as project:
        code_folder(src, load_codebook(folder / "codebook.yaml"), project, out_dir=None)
        segments = {r["text"][:6]: int(r["segment"]) for r in _segments(project)}
        # two people's codings before the workspace: ana and ben disagree on one segment
        decide(project, "ana", segments["A gut "], "xss", "accept")
        decide(project, "ben", segments["A gut "], "hard_control", "add", memo="ben's <memo>")
        decide(project, "ben", segments["And th"], "hard_control", "reject")
    return path


def _segments(project: Project) -> list[dict]:
    from qualkam.store.segments import segments

    return segments(project).to_dict("records")


@pytest.fixture(scope="session")
def web_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test project, built once (coding it loads spaCy); each test works on a copy."""
    return _build(tmp_path_factory.mktemp("web-template"))


def copy_project(template: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "web.db"
    shutil.copy(template, target)
    return target


@pytest.fixture
def web_db(web_template: Path, tmp_path: Path) -> Path:
    return copy_project(web_template, tmp_path / "project")


def authed(app, coder: str | None = None) -> TestClient:
    """A client that sends the token (as the pages' scripts do)."""
    client = TestClient(app, base_url=BASE, headers={"X-Qualkam-Token": TOKEN})
    client.coder = coder  # type: ignore[attr-defined]
    return client


@pytest.fixture
def app(web_db: Path):
    return create_app(web_db, token=TOKEN)


@pytest.fixture
def client(app) -> TestClient:
    return authed(app)


def served(client: TestClient, source: str, coder: str | None = None) -> dict:
    answer = client.get(f"/api/sources/{source}", params={"coder": coder} if coder else None)
    assert answer.status_code == 200, answer.text
    return answer.json()


def code(client: TestClient, source: str, start: int, end: int, code_id: str, coder: str, **extra) -> dict:
    body = {"source": source, "start": start, "end": end, "code": code_id, "coder": coder, **extra}
    answer = client.post("/api/codings", json=body)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


# -- reads ----------------------------------------------------------------------------------
def test_session(client: TestClient, web_db: Path) -> None:
    assert client.get("/api/session").json() == {
        "coder": None,
        "blind": False,
        "project": str(web_db),
        "coders": ["ana", "ben"],
    }
    assert client.get("/api/session?coder=cleo").json()["coder"] == "cleo"


def test_sources_list_with_counts_per_coder(client: TestClient) -> None:
    rows = {s["id"]: s for s in client.get("/api/sources?coder=ben").json()["sources"]}
    assert sorted(rows) == ["evil", "j", "uni"]
    j = rows["j"]
    assert j["speakers"] == ["O'Brien \"<b>Bob</b>\"", "Ann"]
    assert j["segments"] == 2 and j["words"] == 15  # the speakers' names are words of the text too
    # ben coded one segment of j, and decided the sales-target suggestion there (rejected it):
    # the gut-feeling suggestion still waits for him
    assert (j["coded"], j["waiting"]) == (1, 1)
    ana = {s["id"]: s for s in client.get("/api/sources?coder=ana").json()["sources"]}
    assert (ana["j"]["coded"], ana["j"]["waiting"]) == (1, 1)
    nobody = {s["id"]: s for s in client.get("/api/sources").json()["sources"]}
    assert (nobody["j"]["coded"], nobody["j"]["waiting"]) == (0, 2)
    assert rows["uni"]["title"] is None and rows["evil"]["title"] == '<script>alert("title")</script>'
    assert rows["uni"]["phase"] == "late" and rows["uni"]["type"] == "meeting"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=meeting", ["uni"]),
        ("type=interview", ["evil"]),
        ("phase=early", ["evil"]),
        ("speaker=Ann", ["j"]),
        ("attribute=site:south", ["uni"]),
        ("attribute=site:north&type=interview", ["evil"]),
        ("attribute=site:east", []),
    ],
)
def test_sources_filters(client: TestClient, query: str, expected: list[str]) -> None:
    assert [s["id"] for s in client.get(f"/api/sources?{query}").json()["sources"]] == expected


def test_a_misspelt_filter_is_an_error_with_the_choices(client: TestClient) -> None:
    answer = client.get("/api/sources?type=meetng")
    assert answer.status_code == 400
    assert "meeting" in answer.json()["error"]


def test_document(client: TestClient) -> None:
    doc = served(client, "j", "ana")
    assert set(doc) >= {"id", "title", "type", "phase", "date", "attributes", "text", "segments", "codings", "suggestions"}
    text = doc["text"]
    for seg in doc["segments"]:
        assert set(seg) == {"id", "start", "end", "speaker", "role", "time_start", "time_end"}
    first = doc["segments"][0]
    assert text[first["start"] : first["end"]] == "A gut feeling & <script>alert('j')</script>"
    assert first["speaker"] == "O'Brien \"<b>Bob</b>\"" and first["time_start"] == "00:00:01"
    # everyone's codings (not blind), each with its coder
    assert sorted((c["code"], c["coder"]) for c in doc["codings"]) == [("hard_control", "ben"), ("xss", "ana")]
    ben = next(c for c in doc["codings"] if c["coder"] == "ben")
    assert ben["memo"] == "ben's <memo>" and ben["status"] == "accepted" and ben["origin"] == "human"
    assert set(ben) >= {"id", "start", "end", "code", "coder", "status", "origin", "memo", "updated_at"}
    # ana decided the gut-feeling suggestion (accepted it): only the other one waits for her
    assert [(s["code"], text[s["start"] : s["end"]][:7]) for s in doc["suggestions"]] == [("hard_control", "And the")]
    suggestion = doc["suggestions"][0]
    assert suggestion["score"] > 0 and suggestion["origin"] == "rule"
    assert suggestion["evidence"] and "start" in suggestion["evidence"][0]
    # ben rejected that one and decided nothing else: the gut-feeling suggestion waits for him
    assert [s["code"] for s in served(client, "j", "ben")["suggestions"]] == ["xss"]


def test_codebook(client: TestClient) -> None:
    codes = {c["id"]: c for c in client.get("/api/codebook").json()["codes"]}
    assert list(codes) == ["control", "hard_control", "xss"]
    hard = codes["hard_control"]
    assert hard["parent"] == "control" and hard["color"] == "#1f77b4"
    assert hard["definition"] == 'Formal rules & "targets" <b>bold</b>'
    assert hard["include"] == ["targets set from above"] and hard["exclude"] == ["<i>no target</i>"]
    assert hard["examples"] == ["We had to follow the procedure."]
    assert (hard["count"], codes["xss"]["count"]) == (1, 1)  # ben's, ana's
    assert hard["suggested"] == 4  # the rules': on evil, on Ann's turn in j, on both turns of uni


def test_excerpts_link_back_to_their_place(client: TestClient) -> None:
    rows = client.get("/api/excerpts?layer=human").json()["excerpts"]
    assert sorted((r["code"], r["coder"]) for r in rows) == [("hard_control", "ben"), ("xss", "ana")]
    for r in rows:
        assert r["href"] == f"/sources/{r['source']}#c-{r['start']}-{r['end']}"
        assert set(r) >= {"coding_id", "source", "start", "end", "text", "context", "code", "coder", "href"}
    only = client.get("/api/excerpts?layer=human&code=xss&speaker=O'Brien \"<b>Bob</b>\"").json()["excerpts"]
    assert [r["coder"] for r in only] == ["ana"]
    assert client.get("/api/excerpts?layer=human&phase=late").json()["excerpts"] == []
    assert client.get("/api/excerpts?layer=human&type=meeting").json()["excerpts"] == []


def test_matrix(client: TestClient) -> None:
    table = client.get("/api/matrix?by=speaker&layer=human").json()
    assert table["columns"] == ["hard_control", "xss"]
    assert dict(zip(table["rows"], table["cells"], strict=True)) == {"O'Brien \"<b>Bob</b>\"": [1, 1]}
    phases = client.get("/api/matrix?by=phase&layer=suggestions").json()
    assert phases["rows"][:2] == ["early", "late"]
    assert client.get("/api/matrix?by=attribute:site").json()["rows"][:2] == ["north", "south"]
    assert client.get("/api/matrix?by=colour").status_code == 400


def test_compare(client: TestClient) -> None:
    answer = client.get("/api/compare/j?a=ana&b=ben").json()
    assert [c["code"] for c in answer["a"]] == ["xss"] and [c["code"] for c in answer["b"]] == ["hard_control"]
    assert answer["consensus"] == []
    assert sorted((d["code"], d["a"], d["b"]) for d in answer["disagreements"]) == [
        ("hard_control", False, True),
        ("xss", True, False),
    ]
    assert client.get("/api/compare/j?a=ana&b=bne").status_code == 400
    assert client.get("/api/compare/j?a=ana").status_code == 400
