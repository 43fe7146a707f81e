"""The concordance (issue 16, point 2): hand-computed hits, contexts and orders on the small
project of tests/test_query.py, codes on each hit at span level, every output format, the
sample project and a real meeting from ../shared."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.analysis.kwic import FORMATS, SORTS, concordance
from qualkam.coding.codebook import load_codebook
from qualkam.coding.run import code_folder
from qualkam.coding.spans import code_span
from qualkam.errors import QualkamError
from qualkam.store.project import Project
from qualkam.store.segments import segments

from .conftest import ROOT, SHARED, needs_shared, said
from .conftest import run_cli as _run
from .test_query import build, ids


@pytest.fixture
def small(tmp_path: Path):
    with Project.open(build(tmp_path)) as project:
        yield project


def where(project: Project, frame) -> list[str]:
    names = {v: k for k, v in ids(project).items()}
    return [names[int(s)] for s in frame["segment"]]


def test_lemma_hits_in_reading_order_with_their_context(small: Project) -> None:
    hits = concordance(small, "recruits", context=2)  # the lemma: recruit
    assert where(small, hits) == ["A1", "A3", "A5", "B3"]  # meet-a (2011) before int-b (2012)
    assert list(zip(hits["left"], hits["match"], hits["right"], strict=True)) == [
        ("we must", "recruit", "two people"),
        ("and we", "recruit", "in May"),  # the comma before 'and' is not a word
        ("want to", "recruit", "soon"),
        ("We", "recruit", "nobody"),  # the context stops at the segment's edge
    ]
    wide = concordance(small, "recruit", context=3)
    assert wide["left"].iloc[1] == "it, and we"
    assert concordance(small, "recruit", context=0)[["left", "right"]].eq("").all().all()
    text = segments(small).set_index("segment")["text"]
    # start and end are source offsets: the matched words are there
    starts = dict(zip(segments(small)["segment"], segments(small)["start"], strict=True))
    for row in hits.itertuples():
        local = row.start - starts[row.segment]
        assert text[row.segment][local : local + len(row.match)] == row.match


def test_sorting_left_right_and_source(small: Project) -> None:
    assert where(small, concordance(small, "recruit", sort="left")) == ["A1", "A5", "B3", "A3"]  # must, to, We, we and
    assert where(small, concordance(small, "recruit", sort="right")) == [
        "A3",
        "B3",
        "A5",
        "A1",
    ]  # in, nobody, soon, two
    assert where(small, concordance(small, "recruit", sort="source", limit=2)) == ["A1", "A3"]
    limited = concordance(small, "recruit", sort="right", limit=1)
    assert where(small, limited) == ["A3"] and limited.attrs["total"] == 4
    with pytest.raises(QualkamError, match="unknown sort order 'middle'"):
        concordance(small, "recruit", sort="middle")


def test_word_matches_as_written_and_phrases(small: Project) -> None:
    assert concordance(small, "recruits", word=True).empty
    assert len(concordance(small, "RECRUIT", word=True)) == 4  # any case
    assert where(small, concordance(small, "the salary")) == ["B0", "B1"]  # a phrase, adjacent words in order
    assert concordance(small, "salary the").empty
    assert where(small, concordance(small, "morale is", word=True)) == ["A2", "B1"]
    with pytest.raises(QualkamError, match="no word to look for"):
        concordance(small, " ... ")


def test_filters_and_the_codes_on_each_hit(small: Project) -> None:
    hits = concordance(small, "recruit")
    assert list(hits["codes"]) == [["hiring"], ["funding", "hiring"], ["hiring"], ["hiring"]]
    # a person's coding of part of A3 ("budget covers it"): on the hits it overlaps only
    a3 = ids(small)["A3"]
    row = segments(small).set_index("segment").loc[a3]
    begin = int(row["start"]) + row["text"].index("budget covers it")
    code_span(small, "meet-a", begin, begin + len("budget covers it"), "morale", "ana")
    assert concordance(small, "budget")["codes"].tolist() == [["funding"], ["funding", "hiring", "morale"]]
    assert concordance(small, "recruit")["codes"].tolist()[1] == ["funding", "hiring"]
    assert where(small, concordance(small, "budget", codes=["morale"])) == ["A3"]
    assert where(small, concordance(small, "recruit", codes=["money"])) == ["A3"]  # a parent takes its children
    assert where(small, concordance(small, "budget", layer="coder:ana")) == ["A0", "A3"]
    assert concordance(small, "budget", layer="coder:ana")["codes"].tolist() == [[], ["morale"]]
    assert where(small, concordance(small, "recruit", speakers=["Bob"])) == ["A1", "A3"]
    assert where(small, concordance(small, "recruit", roles=["engineer"])) == ["A1", "A3", "B3"]
    assert where(small, concordance(small, "recruit", phases=["Late days"])) == ["B3"]
    assert where(small, concordance(small, "recruit", source_types=["meeting"], where=["unit=Sales"])) == ["A5"]
    assert where(small, concordance(small, "recruit", sources=["int-b"])) == ["B3"]
    with pytest.raises(QualkamError, match="unknown speaker 'Bobby'.*did you mean 'Bob'"):
        concordance(small, "recruit", speakers=["Bobby"])


def test_formats(small: Project) -> None:
    from qualkam.analysis.kwic import render

    hits = concordance(small, "budget")
    rows = list(csv.DictReader(io.StringIO(render(hits, "csv", "t"))))
    assert [(r["left"], r["match"], r["codes"]) for r in rows] == [
        ("We need", "budget", "funding"),
        ("The", "budget", "funding hiring"),
    ]
    data = json.loads(render(hits, "json", "t"))
    assert data[0]["codes"] == ["funding"] and data[0]["speaker"] == "Ann" and data[0]["right"].startswith("[bold]")
    md = render(concordance(small, "add"), "md", "Concordance: add")
    assert r"Nothing to | **add** | really" not in md and r"\| really" in md  # a pipe in the data stays a pipe
    assert md.splitlines()[0] == "# Concordance: add"


def test_cli(runner: CliRunner, tmp_path: Path) -> None:
    from qualkam.cli import app
    from qualkam.cli.kwic import KwicFormat, KwicSort

    assert tuple(m.value for m in KwicFormat) == FORMATS and tuple(m.value for m in KwicSort) == SORTS
    db = build(tmp_path)
    table = runner.invoke(app, ["kwic", "budget", "-p", str(db)], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "[bold]now[/bold]" in table.stdout  # markup in the data is text
    assert "2 hit(s) of the lemma 'budget' · sorted by source · from auto" in table.stdout
    rows = list(
        csv.DictReader(io.StringIO(_run(runner, "kwic", "recruit", "--sort", "right", "-f", "csv", "-p", db).stdout))
    )
    assert [r["right"] for r in rows] == ["in May", "nobody", "soon", "two people"]
    data = json.loads(_run(runner, "kwic", "recruit", "-n", "1", "--role", "Manager", "-f", "json", "-p", db).stdout)
    assert [(d["left"], d["right"]) for d in data] == [("to", "soon")]
    out = tmp_path / "k.md"
    assert _run(runner, "kwic", "salary", "-o", out, "-p", db).exit_code == 0
    assert "**salary**" in out.read_text(encoding="utf-8")
    none = _run(runner, "kwic", "zebra", "-p", db)
    assert none.exit_code == 0 and none.stdout == "" and "no hits: 0 hit(s)" in none.stderr
    bad = _run(runner, "kwic", "recruit", "--sort", "rigth", "-p", db)
    assert bad.exit_code == 2 and "did you mean 'right'" in said(bad.output)
    fmt = _run(runner, "kwic", "recruit", "-f", "html", "-p", db)
    assert fmt.exit_code == 2
    wrong = _run(runner, "kwic", "recruit", "--phase", "lat", "-p", db)
    assert wrong.exit_code == 2 and "unknown phase 'lat' in --where" in wrong.output


def test_api_kwic(tmp_path: Path) -> None:
    import qualkam

    with qualkam.open(build(tmp_path)) as project:
        frame = project.kwic("recruit", sort="left", speakers="Bob", context=1)
        assert list(zip(frame["left"], frame["right"], strict=True)) == [("must", "two"), ("we", "in")]


@pytest.mark.slow
def test_sample_project(tmp_path: Path) -> None:
    with Project.open(tmp_path / "s.db", create=True) as project:
        code_folder(ROOT / "sample_transcripts", load_codebook("kam"), project, out_dir=None)
        hits = concordance(project, "spreadsheet", context=4)
        texts = segments(project)
        # an independent count: the word and its plural in every segment's text, as words
        expected = sum(len(re.findall(r"\bspreadsheets?\b", t, re.I)) for t in texts["text"])
        assert len(hits) == expected > 0
        assert set(hits["match"].str.lower()) <= {"spreadsheet", "spreadsheets"}
        assert all(len(re.findall(r"\w+", left)) <= 4 for left in hits["left"])
        word = concordance(project, "spreadsheets", word=True)
        assert len(word) == len(re.findall(r"\bspreadsheets\b", " ".join(texts["text"]), re.I))
        left = concordance(project, "plan", sort="left")
        keys = [[w.casefold() for w in re.findall(r"\w[\w'’-]*", text)][::-1] for text in left["left"]]
        assert keys == sorted(keys)
        formal = concordance(project, "plan", phases=["formal_kam"])
        assert set(formal["phase"]) == {"formal_kam"} and len(formal) < len(left)


@needs_shared
@pytest.mark.shared
@pytest.mark.slow
def test_a_real_zoom_meeting(tmp_path: Path) -> None:
    from .test_query import REAL_CODEBOOK

    meeting = SHARED / "corpora" / "zoom-meetings" / "acde" / "2026-02-12_230" / "transcript.vtt"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "call.vtt").write_bytes(meeting.read_bytes())
    (tmp_path / "book.yaml").write_text(REAL_CODEBOOK, encoding="utf-8")
    with Project.open(tmp_path / "r.db", create=True) as project:
        code_folder(tmp_path / "src", load_codebook(tmp_path / "book.yaml"), project, out_dir=None)
        texts = segments(project)
        hits = concordance(project, "devnet")
        # the lookup table knows no plural of this word: the lemma finds "DevNet" only, --word finds either
        expected = sum(len(re.findall(r"\bdevnet\b", t, re.I)) for t in texts["text"])
        assert len(hits) == expected > 10
        plural = sum(len(re.findall(r"\bdevnets\b", t, re.I)) for t in texts["text"])
        assert len(concordance(project, "DevNets", word=True)) == plural > 0
        assert all("testing" in codes for codes in hits["codes"])  # devnet is the testing code's own word
        speakers = set(hits["speaker"])
        one = sorted(speakers)[0]
        assert set(concordance(project, "devnet", speakers=[one])["speaker"]) == {one}
