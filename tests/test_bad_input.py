"""Issue 11 section 5: bad input is one line naming the file and the reason, and every other
file is still coded (exit 1). Each hostile input is built fresh here."""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from .conftest import SMALL_CODEBOOK, run_cli, write

GOOD = "I: How were the sales targets set?\nR: We had to follow the procedure.\n"
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
)


def _docx(mutate) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("I: hello there")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "R", "yes"
    buffer = io.BytesIO()
    document.save(buffer)
    source, target = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                data = mutate(data.decode("utf-8")).encode("utf-8")
            out.writestr(item, data)
    return target.getvalue()


def _front(block: str) -> str:
    return f"---\n{block}\n---\nI: hi there\nR: hello\n"


HOSTILE: dict[str, tuple[str, str | bytes, str]] = {
    # name: (file name, content, words the reason must hold)
    "srt absurd hour": ("t.srt", "1\n99999999999:00:00,000 --> 99999999999:00:01,000\nHello there\n", "out of range"),
    "docx without body": ("t.docx", _docx(lambda x: re.sub(r"<w:body>.*</w:body>", "", x, flags=re.S)), "no body"),
    "docx non-numeric span": ("t.docx", _docx(lambda x: x.replace("<w:tcW ", '<w:gridSpan w:val="x"/><w:tcW ', 1)), ""),
    "docx huge span": (
        "t.docx",
        _docx(lambda x: x.replace("<w:tcW ", '<w:gridSpan w:val="99999999999999999999"/><w:tcW ', 1)),
        "",
    ),
    "bad yaml tag int": ("t.md", _front("x: !!int abc"), "cannot read the int value"),
    "bad yaml tag float": ("t.md", _front("x: !!float abc"), "cannot read the float value"),
    "1000 nested brackets": ("t.md", _front("x: " + "[" * 1000 + "]" * 1000), "nesting depth"),
    "deep block nesting": (
        "t.md",
        _front("".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v: 1"),
        "nested more than",
    ),
    "recursive alias": ("t.md", _front("x: &a [*a]"), "recursive"),
    "recursive alias mapping": ("t.md", _front("participants: &a {b: *a}"), "recursive"),
    "lone surrogate": ("t.md", _front('title: "\\ud800"'), "lone surrogate"),
    "lone surrogate key": ("t.md", _front('"\\udc00": x'), "lone surrogate"),
    "alias bomb": ("t.md", _front(BOMB), "expands to more than"),
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    write(src / "a_good.md", GOOD)
    write(src / "z_good.txt", GOOD)
    return src


def _code(runner: CliRunner, src: Path, tmp_path: Path, *extra: str):
    book = write(tmp_path / "book.yaml", SMALL_CODEBOOK)
    return run_cli(
        runner, "code", src, "-c", book, "-p", tmp_path / "p.db", "-o", tmp_path / "out", "--jobs", "1", *extra
    )


def _place(src: Path, name: str, content: str | bytes) -> Path:
    path = src / "m" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_file_is_one_line_and_the_others_are_coded(
    runner: CliRunner, corpus: Path, tmp_path: Path, case: str
) -> None:
    name, content, reason = HOSTILE[case]
    bad = _place(corpus, name, content)
    result = _code(runner, corpus, tmp_path)
    lines = [line for line in result.output.splitlines() if str(bad) in line]
    assert result.exit_code in (0, 1), result.output
    if lines:  # the file is refused or warned about: one line with the reason
        assert len(lines) == 1, result.output
        assert reason in lines[0], result.output
        assert "bug" not in lines[0], result.output
    else:  # read in spite of its oddity (a hostile span is never expanded)
        assert not reason, result.output
    coded = int(re.search(r"coded (\d+)", result.output).group(1))
    assert coded >= 2, result.output


def test_mixed_type_keys_and_odd_yaml_values_are_kept_as_text(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    _place(corpus, "m1.md", _front("x: {1: a, b: c}\n2: two\nparticipants: {R: {1: x, role: y}}"))
    _place(corpus, "m2.md", _front("y: !!set {a, 1}\nz: !!binary aGVsbG8=\nw: [{null: 1, b: 2}]"))
    result = _code(runner, corpus, tmp_path)
    assert "internal error" not in result.output and "bug" not in result.output, result.output
    assert "coded 3" in result.output, result.output  # m1 is refused: participant R has an unknown field
    assert "m1.md: participant 'R' has unknown field(s) ['1']" in result.output


def test_a_turn_over_a_million_characters_is_coded(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    _place(corpus, "long.txt", "R: " + "we follow the procedure. " * 45_000 + "\n")
    result = _code(runner, corpus, tmp_path, "-q")
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_thirty_thousand_equals_signs_in_one_turn_take_seconds(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    _place(corpus, "eq.txt", "R: " + "=" * 30_000 + "\nI: and " + "!?" * 15_000 + " then\n")
    started = time.monotonic()
    result = _code(runner, corpus, tmp_path, "-q")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 30


def test_tokenizer_pieces_keep_the_text_and_short_words_whole() -> None:
    from qualkam.coding.nlp import load_pipeline, pipe

    nlp = load_pipeline()
    url = "https://example.com/" + "a" * 70
    text = f"see {url} and " + "=" * 5000 + " end"
    started = time.monotonic()
    (doc,) = pipe(nlp, [text])
    assert time.monotonic() - started < 5
    assert doc.text == text
    assert url in [t.text for t in doc]
    nlp_max = nlp.max_length
    nlp.max_length = 1000
    try:
        long_text = "word " * 700
        (doc,) = pipe(nlp, [long_text])
        assert doc.text == long_text and len(doc) == 700
    finally:
        nlp.max_length = nlp_max


def test_an_unforeseen_error_in_one_file_is_reported_with_its_type_and_the_run_goes_on(
    runner: CliRunner, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qualkam.sources.ingest as ingest

    real = ingest.read_source

    def flaky(path: Path, encoding: str | None = None, **options: object):
        if path.name == "a_good.md":
            raise ZeroDivisionError("boom")
        return real(path, encoding, **options)

    monkeypatch.setattr(ingest, "read_source", flaky)
    result = _code(runner, corpus, tmp_path)
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if "a_good.md" in line]
    assert "ZeroDivisionError: boom" in line and "QUALKAM_DEBUG=1" in line
    assert "coded 1" in result.output


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_unforeseen_error_while_segmenting_is_that_files_problem(
    runner: CliRunner, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    import qualkam.coding.run as coding
    import qualkam.parallel as parallel

    real = coding.segment_and_suggest

    def flaky(source, unit, suggester, rules=True):
        if source.path.name == "a_good.md":
            raise KeyError("no such thing")
        return real(source, unit, suggester, rules)

    monkeypatch.setattr(coding, "segment_and_suggest", flaky)
    monkeypatch.setattr(parallel, "START_METHOD", "fork")  # workers inherit the patch
    result = _code(runner, corpus, tmp_path, "--jobs", jobs)
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.output.splitlines() if "a_good.md" in line]
    assert "KeyError" in line
    assert "coded 1" in result.output


def test_an_unforeseen_error_while_storing_is_rolled_back_and_reported(
    runner: CliRunner, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qualkam.coding.run as coding
    from qualkam.store.project import Project
    from qualkam.store.sources import source_paths

    real = coding.store_source

    def flaky(project, record, *args, **kwargs):
        if record.path.endswith("a_good.md"):
            raise ValueError("cannot store")
        return real(project, record, *args, **kwargs)

    monkeypatch.setattr(coding, "store_source", flaky)
    result = _code(runner, corpus, tmp_path)
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.output.splitlines() if "a_good.md" in line]
    assert "ValueError: cannot store" in line
    with Project.open(tmp_path / "p.db") as store:
        assert list(source_paths(store).values()) == ["z_good.txt"]


def test_an_alias_bomb_in_a_sidecar_is_one_warning_and_the_files_are_coded(
    runner: CliRunner, corpus: Path, tmp_path: Path
) -> None:
    _place(corpus, "metadata.yaml", BOMB)
    _place(corpus, "x.md", GOOD)
    result = _code(runner, corpus, tmp_path)
    lines = [line for line in result.output.splitlines() if "metadata.yaml" in line]
    assert len(lines) == 1 and "expands to more than" in lines[0], result.output
    assert "coded 3" in result.output


def test_a_file_name_that_is_not_utf8_is_one_line(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    import os

    try:
        with open(os.path.join(os.fsencode(corpus), b"bad\xff.md"), "wb") as handle:
            handle.write(GOOD.encode("utf-8"))
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    result = _code(runner, corpus, tmp_path)
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.output.splitlines() if "bad" in line]
    assert "file name is not valid UTF-8" in line
    assert "coded 2" in result.output
