"""Issue 11: text from the data (code names, coders, sources, speakers, file names) is never
read as rich markup: names like ``[bold red]x[/]`` and ``[link=...]`` print literally."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.store.memos import add_memo
from qualkam.store.project import Project

from .conftest import run_cli, segment_ids, write

SOURCE = "[bold red]src[/]"
SPEAKER = "[link=http://e.x]Bo[/link]"
CODER_A = "[bold red]ann[/]"
CODER_B = "[link=http://e.x]eve[/link]"
FILE = "[red]file[/].md"


@pytest.fixture
def project(tmp_path: Path, small_codebook) -> Path:
    text = (
        f'---\nid: "{SOURCE}"\nparticipants: {{"{SPEAKER}": {{role: "[blink]Boss[/]"}}}}\n---\n'
        f"{SPEAKER}: We had to follow the procedure and meet the sales target.\n"
        "I: Do you trust each other? Gut feeling?\n"
        f"{SPEAKER}: We trust each other, a gut feeling.\n"
    )
    write(tmp_path / "src" / FILE, text)
    db = tmp_path / "p.db"
    with Project.open(db, create=True) as store:
        code_folder(tmp_path / "src", small_codebook, store, out_dir=None)
        segments = sorted(segment_ids(store).values())
        for coder in (CODER_A, CODER_B):
            decide(store, coder, segments[0], "hard_control", "accept")
            decide(store, coder, segments[-1], "soft_control", "accept" if coder == CODER_A else "reject")
        add_memo(store, CODER_A, "project", None, "[bold]memo[/]")
    return db


def _flat(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


@pytest.mark.parametrize(
    ("args", "literals"),
    [
        (["matrix", "--rows", "source", "--cols", "code"], [SOURCE]),
        (["triangulate"], []),
        (["excerpts", "--from", "human"], [SOURCE, CODER_A]),
        (["reliability"], [CODER_A, CODER_B]),
        (["memo", "list"], [CODER_A, "[bold]memo[/]"]),
        (["audit"], [CODER_A]),
    ],
)
def test_names_from_the_data_print_literally(
    runner: CliRunner, project: Path, args: list[str], literals: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qualkam.cli.console import err, out

    monkeypatch.setattr(out, "width", 300)  # no wrapping inside a name
    monkeypatch.setattr(err, "width", 300)
    result = run_cli(runner, *args, "--project", project)
    assert result.exit_code in (0, 1), result.output
    flat = _flat(result.output)
    for literal in literals:
        assert literal in flat, f"{literal!r} missing from:\n{result.output}"


def test_a_file_name_with_markup_prints_literally_in_code(
    runner: CliRunner, tmp_path: Path, small_codebook_path: Path
) -> None:
    write(tmp_path / "src" / FILE, "---\ntitle: [oops\n---\nI: hi\n")
    write(tmp_path / "src" / "ok.md", "I: hi\nR: we trust each other\n")
    result = run_cli(
        runner,
        "code",
        tmp_path / "src",
        "-c",
        small_codebook_path,
        "-p",
        tmp_path / "[b]p[/b].db",
        "-o",
        tmp_path / "out",
        "--jobs",
        "1",
    )
    assert result.exit_code == 1, result.output
    flat = _flat(result.output)
    assert FILE in flat and "[b]p[/b].db" in flat


# -- HTML (issue 12): data goes into the Jinja2 templates as variables, escaped, never evaluated --
HOSTILE = "<script>alert(1)</script>{{ 7*7 }}{% if true %}EVALUATED{% endif %}"


@pytest.fixture
def hostile(tmp_path: Path, small_codebook_path: Path) -> Path:
    """A project whose code label, definition, source id and title, speaker, coder and
    transcript all hold a script tag and Jinja2 syntax."""
    import json

    from qualkam.coding.codebook import load_codebook

    text = small_codebook_path.read_text(encoding="utf-8").replace(
        "label: Soft control", f"label: {json.dumps('Soft ' + HOSTILE)}\n        definition: {json.dumps(HOSTILE)}"
    )
    book = tmp_path / "hostile.yaml"
    book.write_text(text, encoding="utf-8")
    write(
        tmp_path / "src" / "a.md",
        f"---\nid: {json.dumps('src ' + HOSTILE)}\ntitle: {json.dumps(HOSTILE)}\n---\n"
        f"Sam: We trust each other. {HOSTILE}\nI: And then?\nSam: Gut feeling, {HOSTILE}\n",
    )
    db = tmp_path / "p.db"
    with Project.open(db, create=True) as store:
        code_folder(tmp_path / "src", load_codebook(book), store, out_dir=None)
        segments = sorted(segment_ids(store).values())
        for coder in ("ann " + HOSTILE, "eve"):
            decide(store, coder, segments[0], "soft_control", "accept")
            decide(store, coder, segments[-1], "soft_control", "accept" if coder == "eve" else "reject")
    return db


def _inert(page: str) -> str:
    """The page's visible text, after checking that nothing in it runs or was evaluated."""
    import lxml.html

    doc = lxml.html.document_fromstring(page)
    assert doc.xpath("//script") == [], "a <script> from the data became an element"
    for style in doc.xpath("//style"):
        style.drop_tree()
    text = doc.text_content()
    # Wherever the data's text shows, it shows whole: no {{ }} evaluated, no {% %} run.
    assert text.count("<script>alert(1)</script>") == text.count(HOSTILE) > 0
    assert text.count("EVALUATED") == text.count(HOSTILE), "a {% %} block from the data ran"
    return text


def test_text_from_the_data_is_inert_in_every_html_page(hostile: Path) -> None:
    from qualkam.analysis.disagreements import disagreements
    from qualkam.analysis.excerpts import retrieve
    from qualkam.render.html import disagreements_page, excerpts_page
    from qualkam.render.report import build_report

    with Project.open(hostile) as store:
        pages = {
            "report": build_report(store, layer="all", title="report " + HOSTILE),
            "excerpts": excerpts_page(retrieve(store, layer="all"), title="excerpts " + HOSTILE, subtitle=HOSTILE),
            "disagreements": disagreements_page(disagreements(store), title="disagreements " + HOSTILE),
        }
    for name, page in pages.items():
        text = _inert(page)
        assert HOSTILE in text, name
        assert f"<title>{name} &lt;script&gt;" in page, name  # the page's title too
    for literal in ("Soft " + HOSTILE, "src " + HOSTILE, "We trust each other. " + HOSTILE):
        assert literal in _inert(pages["excerpts"]), literal
        assert literal in _inert(pages["report"]), literal
    assert "ann " + HOSTILE in _inert(pages["disagreements"])
