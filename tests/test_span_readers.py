"""Readers of codings on any span (issue 13, part 1): a coding counts for every segment its
span overlaps (its anchor and each later segment it overlaps by a character); readers of
spans (excerpts, unitized alpha) take the exact span."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qualkam.agreement.reliability import reliability
from qualkam.agreement.units import coder_spans, coding_data
from qualkam.analysis.excerpts import render, retrieve
from qualkam.analysis.matrix import build_matrix, codings_frame, cooccurrence
from qualkam.analysis.triangulation import triangulation_table
from qualkam.coding.decisions import decide
from qualkam.coding.spans import code_span, set_memo
from qualkam.store.codings import coder_decisions
from qualkam.store.project import Project
from qualkam.store.review import accepted_codes, queue_items, segment_in_context, segments_coded_by
from qualkam.store.segments import SegmentFilter, codings

from .conftest import code_two_sources, run_cli, source_texts
from .test_unitized import ref_2016_per_code

H, S = "hard_control", "soft_control"


def _span(text: str, words: str, until: str | None = None) -> tuple[int, int]:
    """[start, end) of ``words`` in ``text``; with ``until``, from ``words`` to the end of ``until``."""
    start = text.index(words)
    end = text.index(until) + len(until) if until else start + len(words)
    return start, end


@pytest.fixture
def spans(tmp_path: Path, small_codebook, project: Project) -> dict:
    """int-sales has segments I: "How were ..." (3), Sarah: "They came ... quarter." (4) and
    Sarah: "Honestly ..." (5), with suggestions hard on 3 and 4, soft on 5. The spans, by name,
    each with its code and coder, and the segments by their first words."""
    seg = code_two_sources(tmp_path, small_codebook, project)
    text = source_texts(project)["int-sales"]
    made = {
        # ana: one soft span across two turns, a second soft span in the first one, a hard phrase
        "across": ("ana", S, _span(text, "It was all", until="Honestly, now we trust")),
        "came": ("ana", S, _span(text, "They came from the US")),
        "procedure": ("ana", H, _span(text, "follow the procedure")),
        # ben: the same "came" span, a soft phrase inside the last turn
        "ben_came": ("ben", S, _span(text, "They came from the US")),
        "trust": ("ben", S, _span(text, "trust each other")),
    }
    ids = {
        name: code_span(project, "int-sales", a, b, code, who).coding_id for name, (who, code, (a, b)) in made.items()
    }
    decide(project, "ben", seg["They came fr"], H, "accept")  # a whole-segment decision beside the spans
    return {
        "project": project,
        "text": text,
        "made": made,
        "ids": ids,
        "first": seg["How were the"],
        "came": seg["They came fr"],
        "honestly": seg["Honestly, no"],
        "db": project.path,
    }


def _pairs(frame, segment: str = "segment") -> set[tuple[int, str]]:
    return {(int(s), str(c)) for s, c in zip(frame[segment], frame["code"], strict=True)}


# -- 1. layers: a covering span decides a suggestion --------------------------------------------
def test_a_span_covering_a_suggestions_segment_decides_it(tmp_path: Path, small_codebook, project: Project) -> None:
    seg = code_two_sources(tmp_path, small_codebook, project)
    text = source_texts(project)["int-sales"]
    came, honestly = seg["They came fr"], seg["Honestly, no"]
    assert (honestly, S) in _pairs(codings(project, "auto"))
    # a soft span anchored in the turn before, running into "Honestly ...": the soft suggestion there is decided
    code_span(project, "int-sales", *_span(text, "It was all", until="Honestly"), S, "ana")
    auto = codings(project, "auto")
    assert not ((auto["coder"].isna()) & (auto["segment"] == honestly) & (auto["code"] == S)).any()
    assert (came, H) in _pairs(auto[auto["coder"].isna()]), "another code's suggestion stays undecided"
    assert _pairs(codings_frame(project, "auto")) >= {(came, S), (honestly, S), (came, H)}
    # the review queue agrees: ana has nothing left to decide on soft_control there; ben has
    assert (honestly, S) not in queue_items(project, "ana", "suggested")
    assert (came, H) in queue_items(project, "ana", "suggested")
    assert (honestly, S) in queue_items(project, "ben", "suggested")
    # a phrase inside the segment decides its suggestion too
    code_span(project, "int-sales", *_span(text, "follow the procedure"), H, "ana")
    assert (came, H) not in queue_items(project, "ana", "suggested")
    auto = codings(project, "auto")
    assert not ((auto["coder"].isna()) & (auto["segment"] == came) & (auto["code"] == H)).any()


# -- 2. matrices and triangulation count a span for every segment it covers ---------------------
def test_matrices_count_every_covered_segment_once_per_coder(spans: dict) -> None:
    project = spans["project"]
    came, honestly = spans["came"], spans["honestly"]
    ana = codings_frame(project, "coder:ana")
    assert _pairs(ana) == {(came, S), (honestly, S), (came, H)}
    matrix = build_matrix(project, rows="source", cols="code", layer="coder:ana")
    # two soft spans of ana in "They came ..." count once for it; the span across counts for both turns
    assert matrix.loc["int-sales", S] == 2 and matrix.loc["int-sales", H] == 1
    shares = build_matrix(project, rows="source", cols="code", layer="coder:ana", value="share")
    assert shares.loc["int-sales", S] == round(2 / 3, 3)
    human = build_matrix(project, rows="speaker", cols="code", layer="human")
    assert human.loc["Sarah Collins", S] == 2 and human.loc["Sarah Collins", H] == 1
    assert "I" not in human.index or human.loc["I"].sum() == 0
    together = cooccurrence(project, "coder:ana")
    assert together.loc[H, S] == 1 and together.loc[S, S] == 2
    table = triangulation_table(project, "coder:ana").set_index("code")
    assert table.loc[S, "segments"] == 2 and table.loc[S, "speakers"] == 1 and table.loc[H, "segments"] == 1
    # a speaker filter keeps the segments of that speaker the span covers
    only = build_matrix(project, rows="source", cols="code", layer="coder:ana", speakers=["Sarah Collins"])
    assert only.loc["int-sales", S] == 2


def test_the_coding_table_lists_each_coding_once_at_its_anchor(spans: dict) -> None:
    project = spans["project"]
    frame = codings(project, "coder:ana").set_index("coding")
    across = spans["ids"]["across"]
    a, b = spans["made"]["across"][2]
    assert (frame.loc[across, "segment"], frame.loc[across, "start"], frame.loc[across, "end"]) == (spans["came"], a, b)
    assert frame.loc[across, "text"] == spans["text"][a:b]
    assert len(frame) == 3
    # the span counts for "Honestly ...", so a filter on that segment's fields keeps it
    honest = codings(project, "coder:ana", SegmentFilter(speakers=["Sarah Collins"]))
    assert across in set(honest["coding"])
    assert codings(project, "coder:ana", SegmentFilter(speakers=["I"])).empty


# -- 3. excerpts quote the span with its segments as context -------------------------------------
def test_excerpts_quote_the_span_in_its_context(spans: dict) -> None:
    project, text, made, ids = spans["project"], spans["text"], spans["made"], spans["ids"]
    rows = retrieve(project, layer="coder:ana", by_coder=True).set_index("coding_id")
    for name in ("across", "came", "procedure"):
        a, b = made[name][2]
        row = rows.loc[ids[name]]
        assert (row["start"], row["end"], row["text"]) == (a, b, text[a:b])
        context = row["context"]
        assert context[a - row["context_start"] : b - row["context_start"]] == text[a:b]
    # the span across two turns has both turns as its context; a phrase has its own turn
    across = rows.loc[ids["across"]]
    assert across["context"].startswith("They came from the US") and across["context"].endswith("Gut feelings matter.")
    assert rows.loc[ids["procedure"], "context"] == text[text.index("They came") : text.index("quarter.") + 8]
    # merged: the same span by two coders is one excerpt; different spans stay apart
    merged = retrieve(project, layer="human")
    came = merged[(merged["code"] == S) & (merged["start"] == made["came"][2][0])]
    assert came["coders"].tolist() == ["ana; ben"]
    hard = merged[merged["code"] == H]
    assert sorted(zip(hard["start"], hard["coders"], strict=True)) == sorted(
        [(made["procedure"][2][0], "ana"), (text.index("They came"), "ben")]
    )
    # a whole-segment coding is its own context
    whole = hard[hard["coders"] == "ben"].iloc[0]
    assert whole["context"] == whole["text"] and whole["context_start"] == whole["start"]


def test_excerpt_files_show_the_span(spans: dict) -> None:
    project, text, made = spans["project"], spans["text"], spans["made"]
    frame = retrieve(project, layer="coder:ana")
    md = render(frame, "md")
    a, b = made["procedure"][2]
    assert "*In context:* They came from the US. We had to **follow the procedure**." in md
    html = render(frame, "html")
    assert '<mark class="span">follow the procedure</mark>' in html
    # the span across two turns is marked line by line, never across the line break
    assert "**It was all about the sales target that quarter.**" in md
    assert "**Sarah: Honestly, now we trust** each other" in md
    data = json.loads(render(frame, "json"))
    assert {(r["start"], r["end"]) for r in data} == {made[n][2] for n in ("across", "came", "procedure")}
    assert all(r["context"][r["start"] - r["context_start"] : r["end"] - r["context_start"]] == r["text"] for r in data)
    assert text[a:b] in {r["text"] for r in data}


def test_a_span_shows_in_qualkam_excerpts_with_its_own_offsets(spans: dict, runner) -> None:
    db, made = spans["db"], spans["made"]
    spans["project"].close()
    result = run_cli(runner, "excerpts", "--from", "coder:ana", "--format", "json", "-p", db)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sorted((r["start"], r["end"], r["code"]) for r in data) == sorted(
        (*made[n][2], made[n][1]) for n in ("across", "came", "procedure")
    )
    result = run_cli(runner, "excerpts", "--from", "coder:ana", "--format", "csv", "-p", db)
    lines = result.stdout.splitlines()
    header = lines[0].split(",")
    assert header[header.index("start") : header.index("end") + 1] == ["start", "end"] and "context" not in header
    a, b = made["procedure"][2]
    assert any(f",{a},{b},hard_control," in line for line in lines[1:])


# -- 4. reliability: segment units by coverage, unitized alpha on exact spans ---------------------
def test_segment_units_count_a_span_for_each_segment_it_covers(spans: dict) -> None:
    project = spans["project"]
    data = coding_data(project, coders=["ana", "ben"])
    sets = data.sets()
    units = [int(s) for s in data.units["segment"]]
    at = {seg: i for i, seg in enumerate(units)}
    for coder in (0, 1):  # both coders: hard and soft on "They came ...", soft on "Honestly ...", nothing on "How were"
        assert sets[coder][at[spans["first"]]] == frozenset()
        assert sets[coder][at[spans["came"]]] == frozenset({H, S})
        assert sets[coder][at[spans["honestly"]]] == frozenset({S})
    report = reliability(project, ["ana", "ben"], unit="segment").per_code.set_index("code")
    assert report.loc[S, "percent_agreement"] == 1.0 and report.loc[H, "percent_agreement"] == 1.0


def test_unitized_alpha_takes_each_span_once_and_whole(spans: dict) -> None:
    project, made, text = spans["project"], spans["made"], spans["text"]
    coders, codes, sources = coder_spans(project, ["ana", "ben"])
    marked, length = sources["int-sales"]
    assert length == len(text)
    exact = {c: sorted((*span, code) for who, code, span in made.values() if who == c) for c in ("ana", "ben")}
    whole = text.index("They came"), text.index("quarter.") + 8
    exact["ben"] = sorted([*exact["ben"], (*whole, H)])
    assert {c: sorted(s) for c, s in marked.items()} == exact  # the span across turns is one span
    report = reliability(project, ["ana", "ben"], unit="character").per_code.set_index("code")
    expected = ref_2016_per_code(exact, length)
    assert report.loc[S, "krippendorff_alpha"] == pytest.approx(expected[S])
    assert report.loc[H, "krippendorff_alpha"] == pytest.approx(expected[H])
    # cut at the segments, the spans would give another figure: the test tells the two apart
    segments = [(3, 34), (50, 152), (161, 216)]
    clipped = {
        c: [(max(a, x), min(b, y), v) for a, b, v in s for x, y in segments if min(b, y) > max(a, x)]
        for c, s in exact.items()
    }
    assert ref_2016_per_code(clipped, length)[S] != pytest.approx(expected[S])


# -- 5. training data label every covered segment ------------------------------------------------
def test_training_labels_every_covered_segment(spans: dict) -> None:
    from qualkam.coding.learn import training_set

    data = training_set(spans["project"], "coder:ana", min_examples=1)
    rows, columns = np.nonzero(data.labels)
    pairs = {(int(data.segments["segment"].iloc[r]), data.codes[c]) for r, c in zip(rows, columns, strict=True)}
    assert pairs == {(spans["came"], S), (spans["honestly"], S), (spans["came"], H)}
    assert data.positives[S] == 2


# -- 6. search, review, reconcile, memos, report counts ------------------------------------------
def test_search_lists_the_codes_of_a_covering_span(spans: dict) -> None:
    from qualkam.analysis.search import search

    project = spans["project"]
    hits = search(project, "gut feeling", layer="coder:ana", codes=[S]).hits
    assert hits["segment"].tolist() == [spans["honestly"]]  # covered only by the span anchored before it
    assert hits["codes"].tolist() == [[S]]


def test_review_and_reconcile_reads_see_covering_spans(spans: dict) -> None:
    project = spans["project"]
    came, honestly = spans["came"], spans["honestly"]
    assert segment_in_context(project, honestly, "ana").decisions == {S: "accepted"}
    assert segment_in_context(project, came, "ana").decisions == {H: "accepted", S: "accepted"}
    assert accepted_codes(project, "ana", honestly, [H, S]) == frozenset({S})
    assert segments_coded_by(project, "ana", [S]) == {came, honestly}
    assert (honestly, S) in queue_items(project, "ana", "accepted")
    assert queue_items(project, "ana", "suggested", sources=["int-sales"]) == [(spans["first"], H)]
    decided = coder_decisions(project)
    assert decided.loc["ana", "accepted"] == 3 and decided.loc["ana", "segments"] == 2


def test_a_memo_on_a_span_shows_on_every_segment_it_covers(spans: dict) -> None:
    from qualkam.store.memos import coding_memo_table

    project, ids = spans["project"], spans["ids"]
    set_memo(project, ids["across"], "ana", "the quarter and the trust")
    set_memo(project, ids["procedure"], "ana", "procedure")
    for segment in (spans["came"], spans["honestly"]):
        memos = coding_memo_table(project, segment=str(segment))
        assert f"coding:{ids['across']}" in set(memos["id"])
    memos = coding_memo_table(project, segment=str(spans["honestly"])).set_index("id")
    assert list(memos.index) == [f"coding:{ids['across']}"]
    a, b = spans["made"]["across"][2]
    assert memos.loc[f"coding:{ids['across']}", "about"] == spans["text"][a:b]


def test_moving_a_code_keeps_a_coders_other_spans(spans: dict) -> None:
    from qualkam.store.codebooks import move_codings

    project = spans["project"]
    before = codings(project, "coder:ana")
    moved = move_codings(project, S, H, "lead")
    assert moved.collapsed == 0  # no span of ana's or ben's is the same span as one of hard_control
    after = codings(project, "coder:ana")
    assert sorted(zip(after["start"], after["end"], strict=True)) == sorted(
        zip(before["start"], before["end"], strict=True)
    )
    assert set(after["code"]) == {H}


def test_sentence_units_take_the_sentences_a_span_covers_in_each_segment(spans: dict) -> None:
    data = coding_data(spans["project"], coders=["ana", "ben"], unit="sentence")
    texts = list(data.units["text"])
    soft = data.presence[data.codes.index(S)]
    ana = {texts[i] for i in np.flatnonzero(soft[0] == 1.0)}
    # the span across turns: the whole last sentence of one turn, most of the first of the next
    assert ana == {
        "They came from the US.",
        "It was all about the sales target that quarter.",
        "Honestly, now we trust each other.",
    }
    ben = {texts[i] for i in np.flatnonzero(soft[1] == 1.0)}
    assert ben == {"They came from the US.", "Honestly, now we trust each other."}


def test_a_spans_context_is_escaped_in_every_file(tmp_path: Path, small_codebook, project: Project) -> None:
    from qualkam.coding.run import code_folder

    from .conftest import write

    write(tmp_path / "src" / "m.md", "---\nid: markup\n---\nAna: <script>alert(1)</script> we **trust** each other\n")
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    text = source_texts(project)["markup"]
    code_span(project, "markup", *_span(text, "trust"), S, "ana")
    frame = retrieve(project, layer="coder:ana")
    assert frame["context"].iloc[0].startswith("<script>")
    html = render(frame, "html")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = render(frame, "md")
    assert "\\<script\\>" in md and "<script>" not in md
