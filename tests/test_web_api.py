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
    {"speaker": 'O\'Brien "<b>Bob</b>"', "text": "A gut feeling & <script>alert('j')</script>", "start": "00:00:01"},
    {"speaker": "Ann", "text": "And the sales target came from above.", "start": "00:00:09"},
]
# Emoji outside the BMP (one code point, two UTF-16 units), a skin-tone modifier, a flag,
# accents both precomposed (é) and combining (e + U+0301), and CRLF line ends as a Windows
# editor saves them. Reading a file, qualkam makes the line ends LF and the accents NFC ...
UNI = (
    "---\nid: uni\ntype: meeting\nphase: late\nsite: south\n---\r\n"
    "I: Café 😀 déjà vu, nai\u0308ve sales target?\r\n"
    "R: Yes 👍🏽 the sales target, cafe\u0301 🇫🇷 done.\r\n"
)


# ... so the source "raw" is stored as it is, as an import from another tool may store it: its
# text keeps CRLF and combining accents.
RAW = "I: Cafe\u0301 😀 déjà vu,\r\nnai\u0308ve sales target?\r\nR: Yes 👍🏽 🇫🇷 cafe\u0301.\r\n"


def _store_raw(project: Project) -> None:
    from qualkam.coding.segment import Segment
    from qualkam.store.sources import SourceRecord, store_source

    turns = [("I", RAW.index("Cafe"), RAW.index("?") + 1), ("R", RAW.index("Yes"), RAW.rindex("."))]
    segments = [
        Segment(position, start, end, RAW[start:end], speaker=speaker)
        for position, (speaker, start, end) in enumerate(turns)
    ]
    record = SourceRecord(
        "raw", "raw.txt", "txt", "utf-8", "hash-raw", "print-raw", "note", None, None, None, {}, {}, RAW, "turn", ""
    )
    store_source(project, record, None, segments, [[] for _ in segments])


def _build(folder: Path) -> Path:
    from qualkam.coding.codebook import load_codebook
    from qualkam.coding.decisions import decide
    from qualkam.coding.run import code_folder

    src = folder / "src"
    src.mkdir(parents=True)
    (src / "evil.md").write_text(EVIL, encoding="utf-8")
    (src / "j.json").write_text(json.dumps(TURNS), encoding="utf-8")
    (src / "uni.md").write_bytes(UNI.encode("utf-8"))
    # no id given: the source is named by its path, folder, space, accent and all
    (src / "interviews").mkdir()
    (src / "interviews" / "Zoë 2.md").write_text("I: The sales target, again.\n", encoding="utf-8")
    (folder / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    path = folder / "web.db"
    with Project.open(path, create=True) as project:
        code_folder(src, load_codebook(folder / "codebook.yaml"), project, out_dir=None)
        _store_raw(project)
        segments = {r["text"][:6]: int(r["segment"]) for r in _segments(project)}
        # two people's codings before the workspace: ana and ben disagree on one segment
        decide(project, "ana", segments["A gut "], "xss", "accept")
        decide(project, "ben", segments["A gut "], "hard_control", "add", memo="ben's <memo>")
        decide(project, "ben", segments["And th"], "hard_control", "reject")
    return path


def _segments(project: Project) -> list[dict]:
    from qualkam.store.segments import segments

    return segments(project).to_dict("records")


_TEMPLATE: list[Path] = []


def template(factory: pytest.TempPathFactory) -> Path:
    """The test project, built once per session (coding it loads spaCy); each test works on a
    copy (the web test modules share it)."""
    if not _TEMPLATE:
        _TEMPLATE.append(_build(factory.mktemp("web-template")))
    return _TEMPLATE[0]


@pytest.fixture(scope="session")
def web_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template(tmp_path_factory)


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
    assert sorted(rows) == ["evil", "interviews/Zoë 2", "j", "raw", "uni"]
    j = rows["j"]
    assert j["speakers"] == ['O\'Brien "<b>Bob</b>"', "Ann"]
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
    assert set(doc) >= {
        "id",
        "title",
        "type",
        "phase",
        "date",
        "attributes",
        "text",
        "segments",
        "codings",
        "suggestions",
    }
    text = doc["text"]
    for seg in doc["segments"]:
        assert set(seg) == {"id", "start", "end", "speaker", "role", "time_start", "time_end"}
    first = doc["segments"][0]
    assert text[first["start"] : first["end"]] == "A gut feeling & <script>alert('j')</script>"
    assert first["speaker"] == 'O\'Brien "<b>Bob</b>"' and first["time_start"] == "00:00:01"
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


def test_a_source_named_by_its_path(client: TestClient) -> None:
    quoted = "interviews/Zo%C3%AB%202"
    doc = client.get(f"/api/sources/{quoted}").json()
    assert doc["id"] == "interviews/Zoë 2" and doc["text"] == "I: The sales target, again.\n"
    start = doc["text"].index("sales")
    made = code(client, "interviews/Zoë 2", start, start + 12, "hard_control", "cleo")
    (excerpt,) = [e for e in client.get("/api/excerpts?layer=coder:cleo").json()["excerpts"]]
    assert excerpt["coding_id"] == made["id"]
    assert excerpt["href"] == f"/sources/{quoted}#c-{start}-{start + 12}"
    assert f'href="/sources/{quoted}"' in client.get("/").text
    assert client.get(f"/api/sources/{quoted}%202").status_code == 404


def test_codebook(client: TestClient) -> None:
    codes = {c["id"]: c for c in client.get("/api/codebook").json()["codes"]}
    assert list(codes) == ["control", "hard_control", "xss"]
    hard = codes["hard_control"]
    assert hard["parent"] == "control" and hard["color"] == "#1f77b4"
    assert hard["definition"] == 'Formal rules & "targets" <b>bold</b>'
    assert hard["include"] == ["targets set from above"] and hard["exclude"] == ["<i>no target</i>"]
    assert hard["examples"] == ["We had to follow the procedure."]
    assert (hard["count"], codes["xss"]["count"]) == (1, 1)  # ben's, ana's
    assert hard["suggested"] == 5  # the rules': on evil, on Ann's turn in j, on both turns of uni, on Zoë 2


def test_excerpts_link_back_to_their_place(client: TestClient) -> None:
    rows = client.get("/api/excerpts?layer=human").json()["excerpts"]
    assert sorted((r["code"], r["coder"]) for r in rows) == [("hard_control", "ben"), ("xss", "ana")]
    for r in rows:
        assert r["href"] == f"/sources/{r['source']}#c-{r['start']}-{r['end']}"
        assert set(r) >= {"coding_id", "source", "start", "end", "text", "context", "code", "coder", "href"}
    only = client.get('/api/excerpts?layer=human&code=xss&speaker=O\'Brien "<b>Bob</b>"').json()["excerpts"]
    assert [r["coder"] for r in only] == ["ana"]
    assert client.get("/api/excerpts?layer=human&phase=late").json()["excerpts"] == []
    assert client.get("/api/excerpts?layer=human&type=meeting").json()["excerpts"] == []


def test_matrix(client: TestClient) -> None:
    table = client.get("/api/matrix?by=speaker&layer=human").json()
    assert table["columns"] == ["hard_control", "xss"]
    assert dict(zip(table["rows"], table["cells"], strict=True)) == {'O\'Brien "<b>Bob</b>"': [1, 1]}
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


# -- writes ---------------------------------------------------------------------------------
def _where(text: str, words: str) -> tuple[int, int]:
    start = text.index(words)
    return start, start + len(words)


def test_a_coding_answers_201_with_its_id_and_shows_in_excerpts(client: TestClient, web_db: Path) -> None:
    from qualkam.analysis.excerpts import retrieve

    text = served(client, "j", "cleo")["text"]
    start, end = _where(text, "gut feeling")
    answer = client.post(
        "/api/codings",
        json={"source": "j", "start": start, "end": end, "code": "hard_control", "coder": "cleo", "memo": "a <memo>"},
    )
    assert answer.status_code == 201
    made = answer.json()
    assert made["change"] == "inserted" and made["status"] == "accepted" and isinstance(made["id"], int)
    assert made["coding"]["start"] == start and made["coding"]["end"] == end and made["coding"]["coder"] == "cleo"
    # the same span, code and coder again: nothing new
    again = client.post(
        "/api/codings", json={"source": "j", "start": start, "end": end, "code": "hard_control", "coder": "cleo"}
    )
    assert again.status_code == 200 and again.json()["change"] == "unchanged" and again.json()["id"] == made["id"]
    # in the document, with its own span
    doc = served(client, "j", "cleo")
    mine = [c for c in doc["codings"] if c["coder"] == "cleo"]
    assert [(c["id"], c["start"], c["end"], c["memo"]) for c in mine] == [(made["id"], start, end, "a <memo>")]
    # and in `qualkam excerpts` (the library it calls), with its own start and end
    with Project.open(web_db) as project:
        rows = retrieve(project, coders=["cleo"], by_coder=True)
    assert [(r["coding_id"], r["start"], r["end"], r["text"]) for r in rows.to_dict("records")] == [
        (made["id"], start, end, "gut feeling")
    ]


def test_the_cli_lists_a_coding_made_through_the_api(client: TestClient, web_db: Path, runner) -> None:
    from .conftest import run_cli

    text = served(client, "j", "cleo")["text"]
    start, end = _where(text, "sales target came")
    code(client, "j", start, end, "hard_control", "cleo")
    result = run_cli(runner, "excerpts", "--coder", "cleo", "--format", "json", "--by-coder", "--project", web_db)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["start"], r["end"], r["text"]) for r in rows] == [(start, end, "sales target came")]


# Spans picked by their words: emoji outside the BMP, a flag (two code points), a skin tone,
# combining and precomposed accents; each checked against the text the API served.
@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("uni", "😀"),
        ("uni", "Café 😀 déjà"),
        ("uni", "naïve"),
        ("uni", "👍🏽 the"),
        ("uni", "café 🇫🇷"),
        ("uni", "🇫🇷 done"),
        ("uni", "sales target?\nR: Yes 👍🏽"),
        ("raw", "Cafe\u0301 😀"),
        ("raw", "e\u0301"),
        ("raw", "\u0301"),
        ("raw", "vu,\r\nnai\u0308ve"),
        ("raw", "\r"),
        ("raw", "👍🏽 🇫🇷 cafe\u0301"),
    ],
)
def test_offsets_are_code_points_of_the_served_text(client: TestClient, web_db: Path, source: str, words: str) -> None:
    from qualkam.store.people import coding_row

    text = served(client, source, "cleo")["text"]
    start, end = _where(text, words)
    assert len(words) == end - start  # code points, not UTF-16 units or bytes
    made = code(client, source, start, end, "hard_control", "cleo")
    with Project.open(web_db) as project:
        row = coding_row(project, made["id"])
        stored = project.conn.execute("SELECT text FROM codings WHERE id = ?", (made["id"],)).fetchone()[0]
    assert (row["start"], row["end"]) == (start, end)
    assert stored == text[start:end] == words
    doc = served(client, source, "cleo")
    (mine,) = [c for c in doc["codings"] if c["coder"] == "cleo"]
    assert doc["text"][mine["start"] : mine["end"]] == words


def test_the_served_text_is_the_stored_text(client: TestClient, web_db: Path) -> None:
    from qualkam.store.workspace import source_document

    for source in ("uni", "raw"):
        with Project.open(web_db) as project:
            stored = source_document(project, source)
        assert stored is not None
        assert served(client, source)["text"] == stored["text"]
    assert served(client, "raw")["text"] == RAW  # CRLF and combining accents as stored


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"start": 5, "end": 3}, 400, "span"),
        ({"end": 10_000}, 400, "span"),
        ({"code": "hard_contrl"}, 400, "hard_control"),
        ({"source": "nope"}, 404, "nope"),
        ({"source": "<script>"}, 404, "no source"),
        ({"coder": "   "}, 400, "coder"),
        ({"coder": "rules-bot"}, 400, "reserved"),
    ],
)
def test_a_bad_coding_is_refused_with_a_reason(client: TestClient, change: dict, status: int, needle: str) -> None:
    body = {"source": "j", "start": 0, "end": 9, "code": "hard_control", "coder": "cleo", **change}
    answer = client.post("/api/codings", json=body)
    assert answer.status_code == status, answer.text
    assert needle in answer.json()["error"]


def test_memo_and_removal_of_ones_own_coding(client: TestClient) -> None:
    made = code(client, "j", 22, 35, "xss", "cleo")
    answer = client.patch(f"/api/codings/{made['id']}", json={"memo": "why <this>", "coder": "cleo"})
    assert answer.status_code == 200 and answer.json()["coding"]["memo"] == "why <this>"
    # another person's coding: neither its memo nor the coding itself
    assert client.patch(f"/api/codings/{made['id']}", json={"memo": "x", "coder": "ben"}).status_code == 403
    assert client.delete(f"/api/codings/{made['id']}?coder=ben").status_code == 403
    removed = client.delete(f"/api/codings/{made['id']}?coder=cleo")
    assert removed.status_code == 200
    assert removed.json()["removed"]["id"] == made["id"] and removed.json()["removed"]["memo"] == "why <this>"
    assert all(c["id"] != made["id"] for c in served(client, "j")["codings"])
    assert client.delete(f"/api/codings/{made['id']}?coder=cleo").status_code == 404
    assert client.delete("/api/codings/999999?coder=cleo").status_code == 404


def test_a_suggestion_cannot_be_removed(client: TestClient) -> None:
    suggestion = served(client, "j", "cleo")["suggestions"][0]
    answer = client.delete(f"/api/codings/{suggestion['id']}?coder=cleo")
    assert answer.status_code == 403 and "suggestion" in answer.json()["error"]


@pytest.mark.parametrize("action", ["accept", "reject"])
def test_accepting_or_rejecting_a_suggestion_and_undoing_it(client: TestClient, action: str) -> None:
    doc = served(client, "uni", "cleo")
    suggestion = doc["suggestions"][0]
    answer = client.post(f"/api/suggestions/{suggestion['id']}/{action}", json={"coder": "cleo"})
    assert answer.status_code == 201, answer.text
    decided = answer.json()
    assert decided["status"] == ("accepted" if action == "accept" else "rejected")
    assert decided["coding"]["coder"] == "cleo" and decided["coding"]["code"] == suggestion["code"]
    after = served(client, "uni", "cleo")
    assert suggestion["id"] not in [s["id"] for s in after["suggestions"]]  # decided: no longer waiting
    shown = [c["id"] for c in after["codings"]]
    assert (decided["id"] in shown) == (action == "accept")  # a rejection hides the suggestion, no coding
    # still waiting for someone else
    assert suggestion["id"] in [s["id"] for s in served(client, "uni", "dana")["suggestions"]]
    # undo: remove the person's row
    assert client.delete(f"/api/codings/{decided['id']}?coder=cleo").status_code == 200
    assert suggestion["id"] in [s["id"] for s in served(client, "uni", "cleo")["suggestions"]]


def test_deciding_what_is_not_a_suggestion(client: TestClient) -> None:
    ben = next(c for c in served(client, "j")["codings"] if c["coder"] == "ben")
    assert client.post(f"/api/suggestions/{ben['id']}/accept", json={"coder": "cleo"}).status_code == 400
    assert client.post("/api/suggestions/999999/accept", json={"coder": "cleo"}).status_code == 404


def test_a_write_needs_a_coder(client: TestClient) -> None:
    answer = client.post("/api/codings", json={"source": "j", "start": 0, "end": 9, "code": "hard_control"})
    assert answer.status_code == 400 and "coder" in answer.json()["error"]


def test_the_session_coder_writes_and_no_one_else(web_db: Path) -> None:
    client = authed(create_app(web_db, coder="cleo", token=TOKEN))
    made = client.post("/api/codings", json={"source": "j", "start": 22, "end": 35, "code": "xss"})
    assert made.status_code == 201 and made.json()["coding"]["coder"] == "cleo"
    other = client.post("/api/codings", json={"source": "j", "start": 22, "end": 35, "code": "xss", "coder": "ben"})
    assert other.status_code == 403


def test_consensus_decisions_from_the_compare_page(client: TestClient, web_db: Path) -> None:
    from qualkam.analysis.trail import audit_frame

    ana = next(c for c in served(client, "j")["codings"] if c["coder"] == "ana")
    body = {
        "source": "j",
        "start": ana["start"],
        "end": ana["end"],
        "code": ana["code"],
        "action": "accept",
        "by": "cleo",
    }
    taken = client.post("/api/consensus", json=body)
    assert taken.status_code == 201 and taken.json()["coding"]["coder"] == "consensus"
    compared = client.get("/api/compare/j?a=ana&b=ben").json()
    assert [(c["start"], c["end"], c["code"]) for c in compared["consensus"]] == [(ana["start"], ana["end"], "xss")]
    with Project.open(web_db) as project:
        trail = audit_frame(project, None, None, None)
    assert "cleo" in set(trail["actor"])  # who decided, as reconcile records it
    # a changed mind: the consensus coder's coding becomes a rejection (as reconcile writes it)
    dropped = client.post("/api/consensus", json={**body, "action": "reject"})
    assert dropped.status_code == 200 and dropped.json()["change"] == "updated"
    assert dropped.json()["status"] == "rejected" and dropped.json()["coding"]["coder"] == "consensus"
    assert client.get("/api/compare/j?a=ana&b=ben").json()["consensus"] == []
    # rejecting what the consensus coder never held records the rejection
    ben = next(c for c in served(client, "j")["codings"] if c["coder"] == "ben")
    other = {**body, "start": ben["start"], "end": ben["end"], "code": ben["code"], "action": "reject"}
    rejected = client.post("/api/consensus", json=other)
    assert rejected.status_code == 201 and rejected.json()["status"] == "rejected"
    with Project.open(web_db) as project:
        assert known_rows(project, "consensus") == {
            (ana["start"], ana["end"], "xss", "rejected"),
            (ben["start"], ben["end"], ben["code"], "rejected"),
        }
    # and accepting again takes it back
    assert client.post("/api/consensus", json=body).json()["status"] == "accepted"
    assert client.post("/api/consensus", json={**body, "action": "maybe"}).status_code == 422
    with Project.open(web_db) as project:
        trail = audit_frame(project, None, None, None)
    decided = trail[trail["note"].fillna("").str.contains("compare")]
    assert len(decided) == 4 and set(decided["actor"]) == {"cleo"}  # rejections too name who decided


def known_rows(project: Project, coder: str) -> set[tuple[int, int, str, str]]:
    """(start, end, code, status) of every row of ``coder``, accepted or rejected."""
    from qualkam.store.segments import codings

    frame = codings(project, "all")
    return {
        (int(r["start"]), int(r["end"]), r["code"], r["status"])
        for r in frame.to_dict("records")
        if r["coder"] == coder
    }


# -- blind ----------------------------------------------------------------------------------
@pytest.fixture
def blind(web_db: Path) -> TestClient:
    """ana's blind session, after ben (and ana) coded spans through the API."""
    open_client = authed(create_app(web_db, token=TOKEN))
    text = served(open_client, "uni")["text"]
    code(open_client, "uni", *_where(text, "déjà vu"), "hard_control", "ben", memo="ben's secret")
    code(open_client, "uni", *_where(text, "😀"), "xss", "ben")
    code(open_client, "uni", *_where(text, "Café"), "hard_control", "ana")
    return authed(create_app(web_db, coder="ana", blind=True, token=TOKEN))


def _no_ben(value: object) -> None:
    assert "ben" not in json.dumps(value), value


def test_blind_api_never_returns_another_coders_codings(blind: TestClient) -> None:
    assert blind.get("/api/session").json() == {
        "coder": "ana",
        "blind": True,
        "project": blind.get("/api/session").json()["project"],
        "coders": [],
    }
    for source in ("j", "uni", "evil"):
        doc = served(blind, source)
        assert all(c["coder"] == "ana" for c in doc["codings"])
        _no_ben(doc["codings"])
    assert {c["code"] for c in served(blind, "uni")["codings"]} == {"hard_control"}
    # ben's codings are not counted anywhere
    codes = {c["id"]: c["count"] for c in blind.get("/api/codebook").json()["codes"]}
    assert codes == {"control": 0, "hard_control": 1, "xss": 1}  # ana's: Café, and her xss on j
    sources = {s["id"]: s["coded"] for s in blind.get("/api/sources").json()["sources"]}
    assert sources == {"evil": 0, "interviews/Zoë 2": 0, "j": 1, "raw": 0, "uni": 1}
    excerpts = blind.get("/api/excerpts").json()["excerpts"]
    assert {e["coder"] for e in excerpts} == {"ana"}
    _no_ben(excerpts)
    matrix = blind.get("/api/matrix?by=phase").json()
    assert sum(map(sum, matrix["cells"])) == 2  # ana's two codings, not ben's three
    # the machine's suggestions are shown
    assert served(blind, "uni")["suggestions"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/sources?coder=ben",
        "/api/sources/uni?coder=ben",
        "/api/codebook?coder=ben",
        "/api/excerpts?coder=ben",
        "/api/excerpts?layer=coder:ben",
        "/api/excerpts?layer=human",
        "/api/excerpts?layer=auto",
        "/api/excerpts?layer=all",
        "/api/matrix?layer=coder:ben",
        "/api/matrix?layer=human",
        "/api/compare/uni?a=ana&b=ben",
        "/api/compare/uni?a=ana&b=ana",
        "/api/session?coder=ben",
    ],
)
def test_blind_api_refuses_other_coders(blind: TestClient, path: str) -> None:
    answer = blind.get(path)
    assert answer.status_code == 403, answer.text
    _no_ben({k: v for k, v in answer.json().items() if k != "error"})


def test_blind_pages(blind: TestClient) -> None:
    assert blind.get("/compare/uni?a=ana&b=ben").status_code == 403
    for path in ("/", "/codebook", "/excerpts", "/matrix"):
        page = blind.get(path)
        assert page.status_code == 200 and "ben" not in page.text
        assert 'class="badge blind"' in page.text
    assert blind.get("/excerpts?layer=coder:ben").status_code == 403


def test_blind_writes_only_as_the_coder(blind: TestClient) -> None:
    ben = authed(blind.app).post(
        "/api/codings", json={"source": "j", "start": 22, "end": 35, "code": "xss", "coder": "ben"}
    )
    assert ben.status_code == 403
    mine = blind.post("/api/codings", json={"source": "j", "start": 22, "end": 35, "code": "xss"})
    assert mine.status_code == 201 and mine.json()["coding"]["coder"] == "ana"
    assert (
        blind.post(
            "/api/consensus", json={"source": "j", "start": 22, "end": 35, "code": "xss", "action": "accept"}
        ).status_code
        == 403
    )


def test_blind_errors_never_name_another_coder(blind: TestClient) -> None:
    everyone = authed(create_app(blind.app.state.settings.project_path, token=TOKEN))
    (theirs, *_) = [c["id"] for c in served(everyone, "uni")["codings"] if c["coder"] == "ben"]
    for answer in (
        blind.delete(f"/api/codings/{theirs}"),
        blind.patch(f"/api/codings/{theirs}", json={"memo": "x"}),
        blind.post(f"/api/suggestions/{theirs}/accept", json={}),
        blind.delete("/api/codings/999999"),
    ):
        assert answer.status_code == 404, answer.text
        assert "ben" not in answer.text
    assert theirs in {c["id"] for c in served(everyone, "uni")["codings"]}  # nothing was changed


def test_blind_needs_a_coder(web_db: Path) -> None:
    from qualkam.errors import QualkamError

    with pytest.raises(QualkamError, match="coder"):
        create_app(web_db, blind=True, token=TOKEN)


# -- pages ----------------------------------------------------------------------------------
def test_sources_page_filters_and_counts_for_the_coder(client: TestClient) -> None:
    import re

    page = client.get("/?coder=ben&type=interview").text
    assert re.findall(r'data-source-id="([^"]+)"', page) == ["evil"]
    page = client.get("/?coder=ben").text
    row = page[page.index('data-source-id="j"') :].split("</tr>")[0]
    assert '<td class="num coded">1' in row and '<td class="num waiting">1</td>' in row
    assert 'href="/sources/j?coder=ben"' in row  # the coder goes along
    assert '<option value="site:south"' in page  # attribute filter choices
    assert 'href="/codebook?coder=ben"' in page  # the nav keeps the coder
    assert client.get("/?phase=erly").status_code == 400


def test_codebook_page_shows_the_tree_with_counts_and_rules(client: TestClient) -> None:
    page = client.get("/codebook").text
    assert page.index('data-code="control"') < page.index('data-code="hard_control"') < page.index('data-code="xss"')
    assert "depth-1" in page.split('data-code="hard_control"')[0].rsplit("<li", 1)[1]
    assert "1 coded" in page and "Include" in page and "Exclude" in page and "Examples" in page
    assert "We had to follow the procedure." in page


def test_excerpts_page_links_each_excerpt_to_its_place(client: TestClient) -> None:
    page = client.get("/excerpts?layer=human&code=hard_control").text
    ben = next(c for c in served(client, "j")["codings"] if c["coder"] == "ben")
    assert f'href="/sources/j#c-{ben["start"]}-{ben["end"]}"' in page
    assert page.count('class="excerpt"') == 1


def test_matrix_page_is_a_heatmap_whose_cells_open_their_excerpts(client: TestClient) -> None:
    import html
    import re

    page = client.get("/matrix?by=phase&layer=suggestions").text
    assert 'class="legend"' in page and "heat-5" in page
    cells = re.findall(r'<td class="heat-(\d)"><a href="([^"]+)">(\d+)</a></td>', page)
    assert len(cells) >= 2
    assert '<td class="heat-0">0</td>' in page  # an empty cell: no link
    for level, href, count in cells:
        assert int(level) >= 1
        target = html.unescape(href)
        assert target.startswith("/excerpts?code=") and "layer=suggestions" in target and "phase=" in target
        # the cell's count of segments is what its excerpts page lists (one suggestion per segment here)
        assert client.get(target).text.count('class="excerpt"') == int(count)
