"""The report's framework section (issue 16, point 4): each saved framework matrix with its
summaries (escaped) and the excerpts behind each cell, one line when there is none, a cap on
big ones that says what it leaves out."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from markupsafe import escape

from qualkam.analysis.framework import build_framework, saved_frameworks, set_summary
from qualkam.coding.codebook import load_codebook
from qualkam.coding.run import code_folder
from qualkam.render import report_framework
from qualkam.render.report import build_report
from qualkam.store.project import Project

from .conftest import INTERVIEW, ROOT, write
from .test_framework import MEETING


@pytest.fixture
def coded(tmp_path: Path, small_codebook, project: Project) -> Project:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "meeting.md", MEETING)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    return project


def section(page: str) -> str:
    return page.split('<section class="part" id="framework"><h2>Framework matrices</h2>')[1].split("</section>")[0]


def cells(part: str) -> dict[str, list[str]]:
    """Row name -> the cells' inner HTML, of the first framework table in ``part``."""
    body = part.split("<tbody>")[1].split("</tbody>")[0]
    return {
        name: re.findall(r"<td>(.*?)</td>", rest)
        for name, rest in re.findall(r"<tr><th>(.*?)</th>(.*?)</tr>", body, flags=re.S)
    }


def test_no_summaries_one_line_and_how_to_start(coded: Project) -> None:
    part = section(build_report(coded))
    assert 'id="framework-none"' in part and "<table" not in part
    assert "qualkam framework export --cases case --themes code --out framework.xlsx" in part
    assert "qualkam framework import framework.xlsx --author NAME" in part
    # a summary written and cleared again leaves no framework behind
    set_summary(coded, "Sarah Collins", "hard_control", "x", "ana")
    set_summary(coded, "Sarah Collins", "hard_control", "", "ana")
    assert 'id="framework-none"' in section(build_report(coded))


def test_summaries_escaped_with_their_excerpt_counts(coded: Project) -> None:
    hostile = '<script>alert("s")</script> & <b>rules</b>'
    set_summary(coded, "Sarah Collins", "hard_control", hostile, "ana")
    page = build_report(coded)
    assert "<script" not in page and "<b>rules</b>" not in page
    part = section(page)
    assert "&lt;script&gt;alert(&#34;s&#34;)&lt;/script&gt; &amp; &lt;b&gt;rules&lt;/b&gt;" in part
    assert "<h3>default: participants x code</h3>" in part
    assert "<code>qualkam framework export --cases case --themes code --out framework.xlsx</code>" in part
    fw = build_framework(coded)
    shown = cells(part)
    assert list(shown) == list(fw.cases.values())
    for key, name in fw.cases.items():
        for theme, cell in zip(fw.themes, shown[name], strict=True):
            n = len(fw.references.get((key, theme), []))
            counted = re.search(r'<span class="behind">(\d+) excerpts?</span>', cell)
            assert (int(counted.group(1)) if counted else 0) == n, (name, theme)
    assert '<p class="summary">&lt;script&gt;' in shown["Sarah Collins"][fw.themes.index("hard_control")]


def test_each_saved_framework_with_its_own_grouping(coded: Project) -> None:
    set_summary(coded, "Tom Whitfield", "post_bureaucratic", "Trust.", "ana", themes="attr:pole")
    set_summary(coded, "meeting-1", "hard_control", "Procedures.", "ana", cases="source", name="by 'source'")
    assert saved_frameworks(coded) == [("by 'source'", "source", "code"), ("default", "case", "attr:pole")]
    part = section(build_report(coded, layer="suggestions"))
    assert "<h3>by &#39;source&#39;: sources x code</h3>" in part
    assert "<h3>default: participants x code attribute pole</h3>" in part
    quoted = escape(shlex.quote("by 'source'"))  # shell-quoted, then escaped as Jinja2 escapes
    assert f"--name {quoted} --from suggestions --out framework.xlsx" in part
    assert "--themes attr:pole --from suggestions --out framework.xlsx" in part
    assert "<th>formal</th><th>post_bureaucratic</th>" in part


def test_a_big_framework_is_capped_and_says_what_is_left_out(coded: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_framework, "FRAMEWORK_CASES", 1)
    monkeypatch.setattr(report_framework, "FRAMEWORK_THEMES", 1)
    monkeypatch.setattr(report_framework, "SUMMARY_CHARS", 10)
    set_summary(coded, "Tom Whitfield", "soft_control", "Trust.", "ana")
    set_summary(coded, "Sarah Collins", "hard_control", "Rules first, then targets.", "ana")
    part = section(build_report(coded))
    fw = build_framework(coded)
    assert len(fw.cases) == 2 and fw.themes == ["hard_control", "soft_control"]
    # one summary each: the case and the theme with more excerpts behind them stay
    assert len(fw.references[("sarah collins", "hard_control")]) > len(fw.references[("tom whitfield", "soft_control")])
    shown = cells(part)
    assert list(shown) == ["Sarah Collins"] and part.count("<th>") == 3  # the corner, one theme, one case
    assert "<th>hard_control</th>" in part and "soft_control" not in part
    assert '<p class="summary">Rules firs …</p>' in shown["Sarah Collins"][0]
    assert "1 summary is cut at 10 characters." in part
    assert "left out: 1 participant(s) and 1 theme(s), with 1 summary." in part
    assert "qualkam framework export --cases case --themes code --out framework.xlsx" in part


def test_pick_keeps_the_heaviest_in_their_own_order() -> None:
    weights = {"a": (0, 5), "b": (1, 0), "c": (0, 9), "d": (0, 1)}
    assert report_framework.pick(list(weights), weights.__getitem__, 2) == ["b", "c"]
    assert report_framework.pick(list(weights), weights.__getitem__, 9) == ["a", "b", "c", "d"]


@pytest.mark.slow
def test_sample_project_report_framework(tmp_path: Path) -> None:
    with Project.open(tmp_path / "sample.db", create=True) as project:
        code_folder(ROOT / "sample_transcripts", load_codebook("kam"), project, out_dir=None)
        set_summary(project, "Priya Nair", "formal", "Frames KAM as <reporting> lines.", "ana", themes="attr:pole")
        part = section(build_report(project))
        fw = build_framework(project, themes="attr:pole")
    assert "Frames KAM as &lt;reporting&gt; lines." in part
    shown = cells(part)
    assert set(shown) == set(fw.cases.values()) and "Researcher" in shown  # 19 cases fit the cap
    priya = shown["Priya Nair"]
    assert f"{len(fw.references[('priya nair', 'formal')])} excerpts" in priya[0]
