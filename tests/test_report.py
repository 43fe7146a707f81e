"""The HTML report: one self-contained file with every section, the heatmaps and the tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.codebook import parse_codebook
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.render.report import SECTIONS, build_report, inline_svg
from qualkam.store.project import Project

from .conftest import segments_by_start
from .test_retrieval import build_corpus, segment_of


@pytest.fixture
def page(tmp_path: Path) -> str:
    with Project.open(build_corpus(tmp_path)) as project:
        # The codebook declares the code attribute it compares: a balance section for it.
        book = (tmp_path / "small.yaml").read_text(encoding="utf-8").replace("codes:\n", "compare: [pole]\ncodes:\n", 1)
        code_folder(tmp_path / "src", parse_codebook(book, "small.yaml"), project, out_dir=None)
        decide(project, "ana", segment_of(project, "trust each other. Gut"), "soft_control", "accept")
        return build_report(project)


def test_report_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for outside in ("http://", "https://", "<script", "<link", "@import", "url(http", 'src="'):
        assert outside not in page, outside
    # the transcript's markup is shown as text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_report_has_every_section_heatmaps_and_tables(page: str) -> None:
    for key, title in SECTIONS:
        if key == "balance":  # one per compared attribute
            key, title = "balance-pole", "Balance of pole by phase"
        if key == "machine":  # only with a trained model (tests/test_learn_context_curve.py)
            assert 'id="machine"' not in page
            continue
        assert f'<section class="part" id="{key}"><h2>{title}</h2>' in page
    svgs = re.findall(r"<svg\b[^>]*>", page)
    assert len(svgs) == 3 and all('role="img"' in tag for tag in svgs)  # two heatmaps and the saturation curve
    assert page.count("</svg>") == 3 and "<?xml" not in page and "<!DOCTYPE svg" not in page
    # ids inside each SVG are prefixed, so the two figures never share one
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    triangulation = page.split('id="triangulation"')[1].split("</section>")[0]
    assert '<table class="data triangulation">' in triangulation
    assert '<a href="#code-soft_control">soft_control</a>' in triangulation and "<td>Soft control</td>" in triangulation


def test_report_summary_balance_and_excerpts(page: str) -> None:
    summary = page.split('id="summary"')[1].split("</section>")[0]
    assert "<b>2</b><span>sources</span>" in summary and "<b>1</b><span>human codings</span>" in summary
    assert "<th>meeting</th>" in summary and "<th>ana</th>" in summary
    balance = page.split('id="balance-pole"')[1].split("</section>")[0]
    # pre_kam: 2 hard (formal), 1 soft (post-bureaucratic); formal_kam: 1 soft
    assert 'title="formal: 2">67%</span>' in balance and 'title="post_bureaucratic: 1">33%</span>' in balance
    assert 'title="post_bureaucratic: 1">100%</span>' in balance
    excerpts = page.split('id="excerpts"')[1]
    assert '<section class="code" id="code-soft_control"' in excerpts
    assert "<mark>trust each other</mark>" in excerpts and "accepted by ana" in excerpts


def test_svg_is_made_fit_for_html() -> None:
    raw = (
        b'<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/x.dtd">\n'
        b'<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="1pt" xmlns="http://www.w3.org/2000/svg">'
        b"<metadata><dc:title>https://matplotlib.org/</dc:title></metadata>"
        b'<clipPath id="p1"/><g clip-path="url(#p1)"><use xlink:href="#m2"/></g></svg>'
    )
    assert inline_svg(raw, "hm") == (
        '<svg role="img" aria-label="hm" width="1pt"><clipPath id="hm-p1"/>'
        '<g clip-path="url(#hm-p1)"><use xlink:href="#hm-m2"/></g></svg>'
    )


def test_layers_and_the_command(runner: CliRunner, tmp_path: Path) -> None:
    db = build_corpus(tmp_path)
    with Project.open(db) as project:
        with pytest.raises(QualkamError, match="unknown layer 'people' in layer"):
            build_report(project, layer="people")
        human = build_report(project, layer="human")  # nobody has coded: empty, not broken
    assert "Nothing is coded in this layer yet." in human and "No coded excerpts in this layer." in human
    out = tmp_path / "reports" / "report.html"
    result = runner.invoke(app, ["report", "--out", str(out), "--project", str(db)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stderr.replace("\n", "") and result.stdout == ""
    assert "Triangulation" in out.read_text(encoding="utf-8")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]
    missing = runner.invoke(app, ["report", "--out", str(out), "--project", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "no qualkam project" in missing.stderr


def test_report_has_a_reliability_section_with_two_coders(tmp_path: Path, small_codebook) -> None:
    from qualkam.coding.run import code_folder

    from .conftest import INTERVIEW, write

    write(tmp_path / "src" / "int.md", INTERVIEW)
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        assert "Reliability needs two coders or more" in build_report(project)
        seg = segments_by_start(project)
        decide(project, "ana", seg["How were the"], "hard_control", "accept")
        decide(project, "ben", seg["How were the"], "hard_control", "reject")
        decide(project, "ben", seg["Honestly, no"], "soft_control", "accept")
        decide(project, "ana", seg["Honestly, no"], "soft_control", "accept")
        page = build_report(project)
    section = page.split('id="reliability"', 1)[1].split("</section>", 1)[0]
    assert "Coders ana, ben" in section and "Krippendorff" in section and "α 95% interval" in section
    assert "hard_control" in section and "soft_control" in section
    assert "Landis &amp; Koch" in section
