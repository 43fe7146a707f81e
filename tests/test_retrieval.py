"""Retrieval of coded excerpts: filters pick exactly the expected codings; every format is right."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.analysis.excerpts import retrieve, to_json, to_markdown
from qualkam.coding.codebook import load_codebook
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.render.html import excerpts_page
from qualkam.store.project import Project

from .conftest import INTERVIEW, SMALL_CODEBOOK, segment_with, write
from .conftest import run_cli as _run

# The small codebook with definitions, which the Markdown and HTML forms print under each code.
CODEBOOK = SMALL_CODEBOOK.replace(
    "        label: Hard control\n",
    "        label: Hard control\n        definition: Control through targets, reporting lines and procedures.\n",
).replace(
    "        label: Soft control\n",
    "        label: Soft control\n        definition: Control through trust, norms and culture.\n",
)

# A formal-KAM meeting (meeting 9) whose transcript holds markup that must stay text.
MEETING = """\
---
id: meeting-09
type: meeting
meeting_number: 9
date: 2012-05-10
participants:
  Tom Reed: {role: Key Account Manager, unit: KAM}
  Ana Lopez: Marketing Manager
---
Tom Reed: We trust each other now, <script>alert("x")</script> & that is enough.

Ana Lopez: The account plans are at version 12. Nobody reads the Account Plan.
"""


def build_corpus(root: Path) -> Path:
    """Two sources, five segments: int-sales (pre_kam) and meeting-09 (formal_kam); returns the project path.

    Suggestions: hard_control on the researcher's question and on Sarah's first turn,
    soft_control on Sarah's second turn and on Tom's turn; Ana's turn has no code.
    """
    write(root / "small.yaml", CODEBOOK)
    write(root / "src" / "int.md", INTERVIEW)
    write(root / "src" / "m9.md", MEETING)
    with Project.open(root / "p.db", create=True) as project:
        code_folder(root / "src", load_codebook(root / "small.yaml"), project, out_dir=None)
    return root / "p.db"


def segment_of(project: Project, words: str) -> int:
    return segment_with(project, words)


@pytest.fixture
def coded(tmp_path: Path):
    with Project.open(build_corpus(tmp_path)) as project:
        yield project


def _picked(frame) -> list[tuple[str, str, str | None]]:
    """(first words, code, coder) of each excerpt, in the frame's order."""
    return [
        (row.text.split(".")[0][:20], row.code, None if row.coder is None or row.coder != row.coder else row.coder)
        for row in frame.itertuples()
    ]


def test_a_parent_code_pulls_in_its_children_and_attributes_select_codes(coded: Project) -> None:
    everything = retrieve(coded, codes=["control"])
    assert sorted(everything["code"]) == ["hard_control", "hard_control", "soft_control", "soft_control"]
    # codebook order: hard_control's excerpts before soft_control's
    assert list(everything["code"]) == ["hard_control", "hard_control", "soft_control", "soft_control"]
    soft = retrieve(coded, codes=["attr:pole=post_bureaucratic"])
    assert list(soft["source"]) == ["int-sales", "meeting-09"] and set(soft["code"]) == {"soft_control"}
    assert retrieve(coded, codes=["soft_control"])[["source", "segment"]].equals(soft[["source", "segment"]])


def test_filters_combine_or_within_and_across(coded: Project) -> None:
    formal = retrieve(coded, codes=["control"], phases=["formal_kam"])
    assert list(zip(formal["speaker"], formal["code"], strict=True)) == [("Tom Reed", "soft_control")]
    by_label = retrieve(coded, phases=["Formal KAM"])  # a phase label works as well as its id
    assert list(by_label["segment"]) == list(formal["segment"])
    sarah = retrieve(coded, source_types=["interview"], roles=["sales director"])  # roles ignore case
    assert list(sarah["code"]) == ["hard_control", "soft_control"] and set(sarah["speaker"]) == {"Sarah Collins"}
    both = retrieve(coded, speakers=["Tom Reed", "Sarah Collins"])
    assert sorted(set(both["speaker"])) == ["Sarah Collins", "Tom Reed"] and len(both) == 3
    assert retrieve(coded, codes=["hard_control"], phases=["formal_kam"]).empty


def test_each_persons_coding_is_shown_once_with_its_coder(coded: Project) -> None:
    sarah_trust = segment_of(coded, "trust each other. Gut")
    tom = segment_of(coded, "We trust each other now")
    decide(coded, "ana", sarah_trust, "soft_control", "accept")
    decide(coded, "ben", sarah_trust, "soft_control", "accept")
    decide(coded, "ben", tom, "soft_control", "reject")
    auto = retrieve(coded, codes=["soft_control"], by_coder=True)
    # auto: the accepted suggestion is shown as each person's coding; the rejected one is gone
    assert list(zip(auto["segment"], auto["coder"], auto["status"], strict=True)) == [
        (sarah_trust, "ana", "accepted"),
        (sarah_trust, "ben", "accepted"),
    ]
    # a person's coding made from a suggestion keeps the suggestion's evidence
    assert [e["text"] for e in auto["evidence"].iloc[0]] == ["trust each other", "Gut feelings"]
    rejected = retrieve(coded, statuses=["rejected"], by_coder=True)
    assert list(zip(rejected["segment"], rejected["coder"], strict=True)) == [(tom, "ben")]
    bens = retrieve(coded, coders=["ben"], by_coder=True)  # --coder alone looks at every decision, rejected ones too
    assert sorted(bens["status"]) == ["accepted", "rejected"]
    suggestions = retrieve(coded, codes=["soft_control"], layer="suggestions")
    assert list(suggestions["status"]) == ["suggested", "suggested"] and (suggestions["coders"] == "").all()


def test_unknown_filters_name_what_exists(coded: Project) -> None:
    with pytest.raises(
        QualkamError,
        match=r"unknown code 'soft_contrl' in codes; choose from: .*hard_control.*\(did you mean 'soft_control'\?\)",
    ):
        retrieve(coded, codes=["soft_contrl"])
    with pytest.raises(QualkamError, match="unknown phase 'post_kam' in phases.*pre_kam, formal_kam"):
        retrieve(coded, phases=["post_kam"])
    with pytest.raises(QualkamError, match="unknown coder 'zoe' in coders; choose from: \\(none yet\\)"):
        retrieve(coded, coders=["zoe"])
    with pytest.raises(QualkamError, match="unknown value of the code attribute 'pole'.*formal, post_bureaucratic"):
        retrieve(coded, codes=["attr:pole=informal"])
    with pytest.raises(QualkamError, match="unknown code attribute 'colour'.*dimension, pole"):
        retrieve(coded, codes=["attr:colour=red"])
    with pytest.raises(QualkamError, match="unknown coder 'zoe' in layer"):
        retrieve(coded, layer="coder:zoe")
    with pytest.raises(QualkamError, match="unknown status 'maybe' in statuses; choose from: suggested"):
        retrieve(coded, statuses=["maybe"])


def test_markdown_groups_under_code_headings_with_definition_and_attribution(coded: Project) -> None:
    text = to_markdown(retrieve(coded, codes=["control"]), subtitle="4 excerpts")
    hard, soft = text.index("## Hard control (`hard_control`)"), text.index("## Soft control (`soft_control`)")
    assert hard < soft
    assert "*Definition:* Control through trust, norms and culture." in text[soft:]
    assert "> Honestly, now we **trust each other**. **Gut feelings** matter." in text
    assert (
        "> — Sarah Collins, Sales Director · interview int-sales · Pre-KAM · 2011-03-02 (suggested by the rules)"
        in text
    )
    assert "\\<script\\>" in text and "<script>" not in text  # markup in a transcript stays text


def test_html_is_self_contained_escapes_the_transcript_and_marks_evidence(coded: Project) -> None:
    page = excerpts_page(retrieve(coded, codes=["soft_control"]))
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; that" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "We <mark>trust each other</mark> now," in page
    assert '<p class="definition">Control through trust, norms and culture.</p>' in page
    assert "Tom Reed, Key Account Manager · meeting meeting-09 · Formal KAM · 2012-05-10" in page


def test_json_is_a_list_of_objects(coded: Project) -> None:
    items = json.loads(to_json(retrieve(coded, codes=["hard_control"])))
    assert [i["speaker"] for i in items] == ["I", "Sarah Collins"]
    first = items[0]
    assert first["coders"] == [] and first["status"] == "suggested" and first["phase_label"] == "Pre-KAM"
    assert first["evidence"] == [
        {
            "start": first["start"] + 13,
            "end": first["start"] + 26,
            "text": "sales targets",
            "rule": "lemma:sales target",
        }
    ]


# -- the command ----------------------------------------------------------------------------
def test_cli_csv_on_stdout_and_files_by_suffix(runner: CliRunner, tmp_path: Path) -> None:
    db = build_corpus(tmp_path)
    result = _run(runner, "excerpts", "--code", "control", "--phase", "pre_kam", "--format", "csv", "-p", db)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["speaker"], r["code"], r["code_label"]) for r in rows] == [
        ("I", "hard_control", "Hard control"),
        ("Sarah Collins", "hard_control", "Hard control"),
        ("Sarah Collins", "soft_control", "Soft control"),
    ]
    assert rows[2]["evidence"].startswith("trust each other [lemma:trust each other] @")
    for name, needle in (("out.md", "## Soft control"), ("out.html", "<mark>"), ("out.json", '"code": "soft_control"')):
        done = _run(runner, "excerpts", "-k", "soft_control", "--out", tmp_path / name, "-p", db)
        assert done.exit_code == 0 and f"wrote {tmp_path / name}" in done.stderr.replace("\n", "")
        assert needle in (tmp_path / name).read_text(encoding="utf-8")
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # written atomically


def test_cli_table_errors_and_empty_results(runner: CliRunner, tmp_path: Path) -> None:
    db = build_corpus(tmp_path)
    table = _run(runner, "excerpts", "--speaker", "Tom Reed", "-p", db)
    assert table.exit_code == 0 and "soft_control" in table.stdout and "<script>" in table.stdout
    bad = _run(runner, "excerpts", "--code", "nope", "-p", db)
    assert bad.exit_code == 2 and "unknown code 'nope' in --code" in bad.stderr and "soft_control" in bad.stderr
    empty = _run(runner, "excerpts", "--code", "hard_control", "--phase", "formal_kam", "-p", db)
    assert empty.exit_code == 0 and empty.stdout == ""
    assert "no excerpts match: code hard_control, phase formal_kam (from auto)" in empty.stderr
    assert _run(runner, "excerpts", "--out", tmp_path / "x.txt", "-p", db).exit_code == 2
    assert "Usage" in _run(runner, "excerpts", "--help").stdout
