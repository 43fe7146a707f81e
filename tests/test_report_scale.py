"""The report of a long codebook (issue 14): bounded in size, yet every code is listed and the
page says what it leaves out and where the rest is."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from qualkam.coding.codebook import parse_codebook
from qualkam.coding.run import code_folder
from qualkam.render import report as report_module
from qualkam.render.report import build_report, per_code_cap
from qualkam.store.project import Project

MB = 1024 * 1024


def _codebook(codes: int) -> str:
    """``codes`` codes in groups of 20, each child matching its own made-up word ``kxNNNN``."""
    tree = []
    for g in range((codes + 19) // 20):
        children = [
            {
                "id": f"c{i:04d}",
                "label": f"Code {i}",
                "definition": f"Generated code {i}.",
                "attributes": {"pole": "formal" if i % 2 else "post_bureaucratic"},
                "patterns": {"lemmas": [f"kx{i:04d}"]},
            }
            for i in range(g * 20 + 1, min(g * 20 + 20, codes))
        ]
        tree.append({"id": f"g{g:03d}", "label": f"Group {g}", "definition": "A group.", "children": children})
    book = {"name": "long", "version": "1", "compare": ["pole"], "codes": tree}
    return yaml.safe_dump(book, sort_keys=False)


def _project(tmp_path: Path, codes: int, sources: int, turns: int, per_turn: int) -> Project:
    """A coded project: ``sources`` interviews of ``turns`` turns, each naming ``per_turn`` codes' words."""
    folder = tmp_path / "src"
    folder.mkdir()
    children = [i for i in range(1, codes) if i % 20]
    k = 0
    for s in range(sources):
        lines = [f"---\nid: int-{s}\ntype: interview\ndate: 2011-0{1 + s % 9}-02\n---"]
        for t in range(turns):
            words = []
            for _ in range(per_turn):
                words.append(f"kx{children[k % len(children)]:04d}")
                k += 1
            lines.append(f"Speaker {t % 3}: We talked about {' and '.join(words)} at length that day.")
        (folder / f"int-{s}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    project = Project.open(tmp_path / "p.db", create=True)
    code_folder(folder, parse_codebook(_codebook(codes), "long.yaml"), project, out_dir=None)
    return project


def test_the_cap_shares_the_budget_fairly() -> None:
    assert per_code_cap([3, 4, 5], budget=12) is None  # everything fits: nothing is cut
    assert per_code_cap([1, 1, 100, 100], budget=12) == 5  # the small codes keep theirs, the big share the rest
    assert per_code_cap([50] * 10, budget=25) == 2
    assert per_code_cap([50] * 100, budget=25) == 1  # never below one: every code shows an excerpt
    caps = [per_code_cap([n] * 7 + [1], budget=b) for n, b in ((9, 30), (9, 40), (20, 60))]
    assert caps == [4, 5, 8]


def test_a_report_past_its_limits_says_what_it_leaves_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Limits made small: the heatmaps draw the most coded codes, the rest of the codes are in a
    collapsed table, and the excerpts are cut per code with a count and the command for all."""
    monkeypatch.setattr(report_module, "HEATMAP_CODES", 5)
    monkeypatch.setattr(report_module, "EXCERPT_BUDGET", 20)
    with _project(tmp_path, codes=40, sources=2, turns=30, per_turn=2) as project:
        page = build_report(project)
    heat = page.split('id="phase-code"')[1].split("</section>")[0]
    assert "The 5 codes with the most coded segments, of the 38 coded in this layer." in heat
    assert "<code>qualkam matrix --rows phase --cols code --from auto</code>" in heat
    collapsed = heat.split("<details")[1].split("</details>")[0]
    assert "<summary>Every code (38)</summary>" in collapsed
    assert all(f"<th>c{i:04d}</th>" in collapsed for i in range(1, 40) if i % 20)
    svg = heat.split("<svg")[1].split("</svg>")[0]
    assert len(re.findall(r">c\d{4}<", svg)) == 5  # 5 code ids on the axis, no more
    excerpts = page.split('id="excerpts"')[1]
    assert "too many for one page: 38 are shown, at most 1 per code" in excerpts
    assert "<code>qualkam excerpts --from auto --format html</code>" in excerpts
    assert re.search(r"<p class=\"count\">\d+ excerpts, 1 shown here</p>", excerpts)
    assert excerpts.count('<figure class="excerpt">') == 38


def test_an_ordinary_report_is_whole(tmp_path: Path) -> None:
    with _project(tmp_path, codes=40, sources=2, turns=10, per_turn=2) as project:
        page = build_report(project)
    assert "<details" not in page and "too many for one page" not in page and "shown here" not in page
    assert page.count('<figure class="excerpt">') == 40  # 2 sources x 10 turns x 2 codes, one segment each


@pytest.mark.slow
def test_a_2000_code_report_is_bounded_and_lists_every_code(tmp_path: Path) -> None:
    """2,000 codes, 60,000 codings: the page stays under 5 MB (a page a browser opens at once;
    the uncut report of such a project was 41 MB) and every coded code is named in it: in the
    triangulation table, the collapsed code x phase table, and the excerpts' list."""
    with _project(tmp_path, codes=2000, sources=20, turns=500, per_turn=6) as project:
        page = build_report(project)
    size = len(page.encode("utf-8"))
    assert size < 5 * MB, size
    codes = [f"c{i:04d}" for i in range(1, 2000) if i % 20]
    triangulation = page.split('id="triangulation"')[1].split("</section>")[0]
    toc = page.split('id="excerpts"')[1].split("</ul>")[0]
    table = page.split('id="phase-code"')[1].split("</details>")[0]
    for code in codes:
        assert f'<a href="#code-{code}">{code}</a>' in triangulation
        assert f'<a href="#code-{code}">Code {int(code[1:])}</a>' in toc
        assert f"<th>{code}</th>" in table
    assert "too many for one page" in page


def test_the_report_heatmap_escapes_names_and_draws_counts() -> None:
    """The report's own SVG heatmap: names from the data are escaped, each count is drawn in its
    cell (an empty one shows nothing), and the darkest cell is the largest count."""
    from qualkam.render.report import BLUES, svg_heatmap

    matrix = pd.DataFrame([[0, 3], [12, 1]], index=["<b>code&", "plain"], columns=["pre", 'x"y'])
    svg = svg_heatmap(matrix, title="t <i>", label="hm")
    assert svg.startswith('<svg role="img" aria-label="hm"') and svg.endswith("</svg>")
    assert "<b>" not in svg and "<i>" not in svg and "&lt;b&gt;code&amp;" in svg and "x&quot;y" in svg
    counts = re.findall(r'text-anchor="middle" fill="[^"]+">([^<]+)</text>', svg)
    assert counts == ["3", "12", "1"]
    assert f'fill="{BLUES[-1]}"><title>plain · pre: 12</title>' in svg
    assert "nothing coded in this layer" in svg_heatmap(pd.DataFrame(), title="t", label="hm")
