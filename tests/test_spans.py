"""Codings on any span: written, counted for every segment they overlap, owned by their coder."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.coding.spans import code_span, decide_suggestion, remove_coding, restore_coding, set_memo
from qualkam.errors import ForbiddenError, NotFoundError, QualkamError
from qualkam.store.audit import audit_table
from qualkam.store.people import coding_row, segments_of_coding
from qualkam.store.project import Project
from qualkam.store.segments import codings, segments

from .conftest import INTERVIEW, write


@pytest.fixture
def coded(tmp_path: Path, small_codebook, project: Project) -> Project:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    return project


def _text(project: Project) -> str:
    from qualkam.store.refi import sources

    return next(row["text"] for row in sources(project) if row["id"] == "int-sales")


def _segs(project: Project) -> list[tuple[int, int, int]]:
    frame = segments(project).sort_values("position")
    return [(int(r.segment), int(r.start), int(r.end)) for r in frame.itertuples()]


def test_a_span_across_segments_counts_for_each_it_overlaps(coded: Project) -> None:
    segs = _segs(coded)
    (first, _, first_end), (second, second_start, _) = segs[1], segs[2]
    start, end = first_end - 5, second_start + 4
    outcome = code_span(coded, "int-sales", start, end, "hard_control", "ana", memo="spans a turn")
    assert outcome.change == "inserted" and outcome.status == "accepted"
    row = coding_row(coded, outcome.coding_id)
    assert (row["start"], row["end"], row["segment_id"], row["memo"]) == (start, end, first, "spans a turn")
    assert segments_of_coding(coded, outcome.coding_id) == [first, second]
    stored = codings(coded, "coder:ana")
    assert set(stored["segment"]) == {first}  # the anchor row; coverage is the store's join
    # the same span again changes nothing; a different span of the same segment is a second coding
    assert code_span(coded, "int-sales", start, end, "hard_control", "ana").change == "unchanged"
    other = code_span(coded, "int-sales", segs[1][1], segs[1][1] + 3, "hard_control", "ana")
    assert other.change == "inserted" and other.coding_id != outcome.coding_id
    assert segments_of_coding(coded, other.coding_id) == [first]


def test_the_stored_text_is_the_span_in_code_points(tmp_path: Path, small_codebook, project: Project) -> None:
    write(tmp_path / "src" / "e.md", "---\nid: emo\n---\nAna: Café 👩‍👩‍👧 naïve\r\nBen: we trust 🙂 each other\r\n")
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    from qualkam.store.refi import sources

    text = next(row["text"] for row in sources(project) if row["id"] == "emo")
    start = text.index("👩")
    end = text.index("each") + 4
    coding = code_span(project, "emo", start, end, "soft_control", "ana")
    assert coding_row(project, coding.coding_id)["start"] == start
    frame = codings(project, "coder:ana")
    assert frame["text"].tolist() == [text[start:end]]


def test_bad_spans_are_refused_with_the_reason(coded: Project) -> None:
    length = len(_text(coded))
    with pytest.raises(NotFoundError, match="no source 'nope'"):
        code_span(coded, "nope", 0, 3, "hard_control", "ana")
    for start, end in [(5, 5), (7, 3), (-1, 4), (0, length + 1)]:
        with pytest.raises(QualkamError, match="is not inside source"):
            code_span(coded, "int-sales", start, end, "hard_control", "ana")
    with pytest.raises(QualkamError, match="whole number"):
        code_span(coded, "int-sales", 1.5, 4, "hard_control", "ana")  # type: ignore[arg-type]
    with pytest.raises(QualkamError, match="unknown code"):
        code_span(coded, "int-sales", 0, 4, "no_such_code", "ana")
    with pytest.raises(QualkamError, match="reserved"):
        code_span(coded, "int-sales", 0, 4, "hard_control", "qualkam-rules")
    segs = _segs(coded)
    gap = next((end, nxt) for (_, _, end), (_, nxt, _) in zip(segs, segs[1:], strict=False) if nxt > end)
    with pytest.raises(QualkamError, match="holds no segment"):
        code_span(coded, "int-sales", gap[0], gap[1], "hard_control", "ana")
    assert codings(coded, "human").empty


def test_only_your_own_coding_can_be_removed_or_annotated(coded: Project) -> None:
    seg = _segs(coded)[1]
    mine = code_span(coded, "int-sales", seg[1], seg[1] + 4, "hard_control", "ana").coding_id
    with pytest.raises(ForbiddenError, match="is ana's"):
        remove_coding(coded, mine, "ben")
    with pytest.raises(ForbiddenError):
        set_memo(coded, mine, "ben", "not mine")
    suggestion = int(codings(coded, "suggestions")["coding"].iloc[0])
    with pytest.raises(ForbiddenError, match="machine suggestion"):
        remove_coding(coded, suggestion, "ana")
    with pytest.raises(NotFoundError):
        remove_coding(coded, 999_999, "ana")
    assert set_memo(coded, mine, "ana", "a memo")["memo"] == "a memo"
    removed = remove_coding(coded, mine, "ana")
    assert removed["memo"] == "a memo"
    assert codings(coded, "human").empty
    trail = audit_table(coded, actor="ana")
    assert trail["action"].tolist() == ["add", "memo", "delete"]
    assert all(trail["note"] == "workspace")
    # undo of the removal writes it again, memo and all
    again = restore_coding(coded, removed, "ana")
    assert coding_row(coded, again.coding_id)["memo"] == "a memo"


def test_deciding_a_suggestion_and_undoing_it(coded: Project) -> None:
    table = codings(coded, "suggestions")
    suggestion = table.iloc[0]
    decision = decide_suggestion(coded, int(suggestion["coding"]), "ana", "accept")
    assert decision.status == "accepted"
    auto = codings(coded, "auto")
    mine = auto[(auto["segment"] == suggestion["segment"]) & (auto["code"] == suggestion["code"])]
    assert mine["coder"].tolist() == ["ana"]  # the suggestion is decided: only ana's row counts
    remove_coding(coded, decision.coding_id, "ana")
    auto = codings(coded, "auto")
    back = auto[(auto["segment"] == suggestion["segment"]) & (auto["code"] == suggestion["code"])]
    assert back["coder"].isna().all() and len(back) == 1  # undecided again
    with pytest.raises(QualkamError, match="accepted or rejected"):
        decide_suggestion(coded, int(suggestion["coding"]), "ana", "add")


def test_a_segment_decision_keeps_a_coders_phrase_in_it(coded: Project) -> None:
    seg_id, start, _ = _segs(coded)[1]
    phrase = code_span(coded, "int-sales", start, start + 4, "hard_control", "ana").coding_id
    decide(coded, "ana", seg_id, "hard_control", "accept")
    assert coding_row(coded, phrase)["end"] == start + 4  # not widened to the segment
    decide(coded, "ana", seg_id, "hard_control", "remove")  # the segment no longer counts for ana
    assert coding_row(coded, phrase)["status"] == "rejected"
    assert codings(coded, "human").empty


def test_two_coders_on_one_passage_are_both_kept(coded: Project) -> None:
    _, start, end = _segs(coded)[2]
    a = code_span(coded, "int-sales", start, end, "hard_control", "ana").coding_id
    b = code_span(coded, "int-sales", start, end, "hard_control", "ben").coding_id
    assert a != b
    human = codings(coded, "human")
    assert sorted(human["coder"]) == ["ana", "ben"]


def test_reanchoring_keeps_the_coverage(tmp_path: Path, small_codebook, project: Project) -> None:
    source = write(tmp_path / "src" / "int.md", INTERVIEW)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    text = _text(project)
    start, end = text.index("We had to"), text.index("Honestly") + 8
    coding = code_span(project, "int-sales", start, end, "hard_control", "ana").coding_id
    covered = len(segments_of_coding(project, coding))
    assert covered >= 2
    source.write_text(INTERVIEW.replace("I: How were", "I: Good morning.\nI: How were"), encoding="utf-8")
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    row = coding_row(project, coding)
    new_text = _text(project)
    assert new_text[row["start"] : row["end"]] == text[start:end]
    spans = {seg: (s, e) for seg, s, e in _segs(project)}
    covering = segments_of_coding(project, coding)
    assert len(covering) == covered
    assert all(spans[s][0] < row["end"] and spans[s][1] > row["start"] for s in covering)
    assert covering[0] == row["segment_id"]


def test_migration_keeps_segment_codings_and_fills_the_coverage(coded: Project, tmp_path: Path) -> None:
    seg = _segs(coded)[1][0]
    decide(coded, "ana", seg, "hard_control", "accept")
    before = codings(coded, "all").sort_values("coding").reset_index(drop=True)
    path = coded.path
    coded.close()
    raw = sqlite3.connect(path)  # the project as 005 left it: no coverage, one row per segment
    raw.executescript(
        """DROP TRIGGER coding_cover_insert; DROP TRIGGER coding_cover_update; DROP TRIGGER coding_cover_delete;
        DROP TRIGGER segment_cover_insert; DROP TRIGGER segment_cover_delete; DROP TABLE coding_segments;
        DROP INDEX segments_span; DROP INDEX codings_anchor; DROP INDEX codings_person;
        CREATE UNIQUE INDEX codings_person ON codings(segment_id, code_id, coder) WHERE coder IS NOT NULL;
        DELETE FROM migrations WHERE name = '006_spans';"""
    )
    raw.close()
    with Project.open(path) as again:
        after = codings(again, "all").sort_values("coding").reset_index(drop=True)
        assert after.equals(before)
        for row in after.itertuples():
            assert segments_of_coding(again, int(row.coding)) == [int(row.segment)]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_coverage_is_exactly_the_overlapped_segments(tmp_path_factory, data) -> None:
    """Any span: the segments it counts for are its anchor and every one it overlaps."""
    from qualkam.coding.codebook import load_codebook

    from .conftest import SMALL_CODEBOOK

    folder = tmp_path_factory.mktemp("p")
    (folder / "cb.yaml").write_text(SMALL_CODEBOOK, encoding="utf-8")
    write(folder / "src" / "int.md", INTERVIEW)
    with Project.open(folder / "p.db", create=True) as project:
        code_folder(folder / "src", load_codebook(folder / "cb.yaml"), project, out_dir=None)
        text, segs = _text(project), _segs(project)
        start = data.draw(st.integers(0, len(text) - 1))
        end = data.draw(st.integers(start + 1, len(text)))
        overlapped = [seg for seg, s, e in segs if s < end and e > start]
        if not overlapped:
            with pytest.raises(QualkamError, match="holds no segment"):
                code_span(project, "int-sales", start, end, "hard_control", "ana")
            return
        coding = code_span(project, "int-sales", start, end, "hard_control", "ana").coding_id
        assert segments_of_coding(project, coding) == overlapped
        assert coding_row(project, coding)["segment_id"] == overlapped[0]
