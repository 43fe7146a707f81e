"""A re-run over an unchanged folder (issue 14): it codes nothing and rewrites no output, so it
loads neither spaCy nor pandas; a stored codebook is parsed without spaCy's pattern check, which
the Suggester makes before it matches anything."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from qualkam.coding.codebook import parse_codebook
from qualkam.coding.run import code_folder
from qualkam.errors import CodebookError
from qualkam.store.project import Project

from .conftest import INTERVIEW, ROOT, SMALL_CODEBOOK, imported_modules, write

HEAVY = ("spacy", "pandas", "thinc", "sklearn")


def _heavy(modules: set[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def _stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


def test_an_unchanged_rerun_loads_neither_spacy_nor_pandas(tmp_path: Path) -> None:
    folder = tmp_path / "transcripts"
    shutil.copytree(ROOT / "sample_transcripts", folder)
    db, out = tmp_path / "p.db", tmp_path / "out"
    common = ["code", str(folder), "-q", "-p", str(db), "-o", str(out)]
    first = imported_modules(*common, cwd=tmp_path)
    assert "spacy" in first and "pandas" in first  # the cold run codes and writes outputs
    made = _stamps(out)
    # Warm: the project's codebook, then the same codebook named again (a text equal to the stored one).
    for extra in ([], ["--codebook", "kam"]):
        assert _heavy(imported_modules(*common, *extra, cwd=tmp_path)) == []
    assert _stamps(out) == made  # up to date, so not rewritten
    # One source edited: that source is coded again, which needs spaCy, and the outputs are rebuilt.
    first_file = sorted(p for p in folder.rglob("*") if p.suffix in (".md", ".txt"))[0]
    first_file.write_text(first_file.read_text(encoding="utf-8") + "\n\nR: One more line about the rules.\n")
    again = imported_modules(*common, cwd=tmp_path)
    assert "spacy" in again and "pandas" in again


def test_a_stored_codebook_spacy_refuses_is_reported_before_matching(tmp_path: Path) -> None:
    """A project stores only codebooks that passed every check; one that spaCy refuses (a
    hand-edited or hostile store) opens without spaCy, and coding with it stops with the
    codebook error, naming the line, before any source is stored."""
    good = parse_codebook(SMALL_CODEBOOK, "books/small.yaml")
    refused = SMALL_CODEBOOK.replace("[{LEMMA: follow}, {LOWER: the}", "[{LEMMA: {IN: follow}}, {LOWER: the}")
    assert refused != SMALL_CODEBOOK, "the small codebook changed: update this test"
    with pytest.raises(CodebookError, match="spaCy rejects this pattern"):
        parse_codebook(refused, "books/small.yaml")
    folder = tmp_path / "in"
    write(folder / "a.md", INTERVIEW)
    db = tmp_path / "p.db"
    with Project.open(db, create=True) as project:
        code_folder(folder, good, project, out_dir=None)
    with sqlite3.connect(db) as conn:  # the hostile state is the point: the stored text edited by hand
        conn.execute("UPDATE codebooks SET yaml = ?", (refused,))
    write(folder / "b.md", INTERVIEW.replace("int-a", "int-b"))
    with Project.open(db, create=True) as project:
        stored = project.codebook()
        assert stored is not None and not stored.spacy_checked  # opened without spaCy
        before = project.counts()
        with pytest.raises(CodebookError) as caught:
            code_folder(folder, None, project, out_dir=None)
        assert any("spaCy rejects this pattern" in p and ":" in p for p in caught.value.problems)
        assert project.counts() == before  # nothing of the new source was stored
