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

from .conftest import run_cli, write

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
        segments = [r[0] for r in store.query("SELECT id FROM segments ORDER BY id")]
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
