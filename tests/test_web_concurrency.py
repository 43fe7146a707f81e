"""Several coders on one project at once (issue 13, section 2): a real uvicorn server on a free
port, coders writing from threads, the CLI's library reading beside them; nothing is lost, and
two people coding the same passage at the same moment each keep their coding."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import httpx2 as httpx
import pytest

from qualkam.store.project import Project
from qualkam.web.app import ServerThread, create_app

from .test_web_api import TOKEN, copy_project, template

CODERS = ["ana", "ben", "cleo", "dana", "eli"]
WRITES = 40


@pytest.fixture
def web_db(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    return copy_project(template(tmp_path_factory), tmp_path / "project")


@pytest.fixture
def server(web_db: Path):
    with ServerThread(create_app(web_db, token=TOKEN)) as url:
        yield url


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-Qualkam-Token": TOKEN}, timeout=60)


def _text(url: str, source: str) -> str:
    with _client(url) as client:
        return str(client.get(f"/api/sources/{source}").json()["text"])


def _people_codings(web_db: Path, coders: list[str]) -> set[tuple[int, str, int, int, str]]:
    from qualkam.store.segments import codings

    with Project.open(web_db) as project:
        frame = codings(project, "human")
    return {
        (int(r["coding"]), r["coder"], int(r["start"]), int(r["end"]), r["code"])
        for r in frame.to_dict("records")
        if r["coder"] in coders
    }


def test_five_coders_writing_at_once_lose_nothing(server: str, web_db: Path) -> None:
    from qualkam.analysis.excerpts import retrieve

    text = _text(server, "uni")
    codes = ["hard_control", "xss"]
    acknowledged: dict[str, list[tuple[int, int, int, str]]] = {c: [] for c in CODERS}
    failures: list[str] = []
    start_all = threading.Barrier(len(CODERS) + 1)
    writing = threading.Event()
    writing.set()

    def coder(name: str) -> None:
        with _client(server) as client:
            start_all.wait()
            for i in range(WRITES):
                start = i % (len(text) - 10)
                end = start + 1 + (i * 7) % 9
                code = codes[i % 2]
                answer = client.post(
                    "/api/codings", json={"source": "uni", "start": start, "end": end, "code": code, "coder": name}
                )
                if answer.status_code == 201:
                    acknowledged[name].append((answer.json()["id"], start, end, code))
                elif answer.status_code == 400 and "holds no segment" in answer.text:
                    continue  # a span of the line break between turns: refused, as it should be
                else:
                    failures.append(f"{name} {answer.status_code} {answer.text}")

    reads: list[int] = []

    def cli_reader() -> None:
        # what `qualkam excerpts` does, in a loop, while the coders write
        start_all.wait()
        while writing.is_set():
            with Project.open(web_db) as project:
                reads.append(len(retrieve(project, layer="human", by_coder=True)))

    threads = [threading.Thread(target=coder, args=(name,)) for name in CODERS]
    reader = threading.Thread(target=cli_reader)
    for t in [*threads, reader]:
        t.start()
    for t in threads:
        t.join(timeout=120)
    writing.clear()
    reader.join(timeout=60)
    assert not failures, failures[:3]
    stored = _people_codings(web_db, CODERS)
    expected = {(cid, name, s, e, c) for name, rows in acknowledged.items() for cid, s, e, c in rows}
    assert len(expected) >= len(CODERS) * (WRITES - 5)  # nearly all spans are codable
    assert expected <= stored  # every acknowledged coding is there, with its coder, span and code
    assert reads and reads == sorted(reads)  # the reader saw the codings grow, never an error
    for name in CODERS:
        assert len({(s, e, c) for _, s, e, c in acknowledged[name]}) == len(acknowledged[name])


def test_two_people_coding_the_same_passage_at_the_same_moment_both_keep_it(server: str, web_db: Path) -> None:
    text = _text(server, "j")
    start = text.index("gut feeling")
    body = {"source": "j", "start": start, "end": start + len("gut feeling"), "code": "hard_control"}
    together = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def write(name: str) -> None:
        with _client(server) as client:
            together.wait()
            answers[name] = client.post("/api/codings", json={**body, "coder": name})

    for _ in range(5):  # several rounds, each on its own passage
        threads = [threading.Thread(target=write, args=(name,)) for name in ("cleo", "dana")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert {n: a.status_code for n, a in answers.items()} == {"cleo": 201, "dana": 201}
        assert answers["cleo"].json()["id"] != answers["dana"].json()["id"]
        body = {**body, "start": body["start"] + 1}
    stored = _people_codings(web_db, ["cleo", "dana"])
    assert len(stored) == 10
    assert {coder for _, coder, *_ in stored} == {"cleo", "dana"}


def test_the_cli_writes_while_the_server_serves(server: str, web_db: Path) -> None:
    from qualkam.coding.spans import code_span

    text = _text(server, "j")
    start = text.index("sales target")
    with Project.open(web_db) as project:  # a script or the CLI, beside the server
        made = code_span(project, "j", start, start + 5, "hard_control", "fred", via="cli")
    with _client(server) as client:
        doc = client.get("/api/sources/j").json()
    assert made.coding_id in [c["id"] for c in doc["codings"] if c["coder"] == "fred"]


@pytest.mark.slow
def test_the_benchmark_runs_and_loses_nothing(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import ROOT

    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "workspace.py"),
            "--words",
            "2000",
            "--repeats",
            "2",
            "--round-trips",
            "5",
            "--seconds",
            "1",
            "--coders",
            "3",
            "--work",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "GET /api/sources/{id}, median of 2, ms" in result.stdout
    assert re.search(r"^load: lost \(acknowledged but not in the store\) +0$", result.stdout, re.M), result.stdout
