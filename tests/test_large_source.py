"""One very large transcript (issue 14): coded and stored a part at a time, in one transaction.

A source over ``PART_CHARS`` characters is cut into parts of whole turns; here the limit is
made tiny, so a small interview is stored in many parts. The store must be the same as when
it is stored whole, whatever the jobs, the unit or the suggest mode; a failure (or a crash)
half-way must leave the project as it was before that source; progress moves within it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qualkam import parallel
from qualkam.coding import run as coding
from qualkam.coding.codebook import load_codebook
from qualkam.coding.run import code_folder
from qualkam.coding.segment import Unit
from qualkam.store import sources as store_sources
from qualkam.store.project import Project

from .conftest import ROOT, write
from .test_jobs import dump

SAMPLES = ROOT / "sample_transcripts"
WHOLE = 10**12  # PART_CHARS under which every source is stored whole
PART = 500  # PART_CHARS that cuts a sample interview (4,000 characters) into parts


def _folder(tmp_path: Path) -> Path:
    """Two sample interviews (one Windows-1252 with CRLF line ends) and a field note; the
    first, ``a-interview.md`` (``TARGET``), is the one the tests change or make fail."""
    folder = tmp_path / "src"
    folder.mkdir()
    shutil.copy(SAMPLES / "interviews" / "int-01-managing-director.md", folder / TARGET)
    shutil.copy(SAMPLES / "interviews" / "int-02-marketing-director.txt", folder / "b-interview.txt")
    shutil.copy(SAMPLES / "fieldnotes" / "diary-2011-spring.md", folder / "c-notes.md")
    return folder


TARGET = "a-interview.md"
TARGET_ID = "int-01-managing-director"  # its id, from its front matter


def _code(folder: Path, db: Path, part_chars: int, monkeypatch: pytest.MonkeyPatch, **options):
    monkeypatch.setattr(coding, "PART_CHARS", part_chars)
    with Project.open(db, create=True) as project:
        return code_folder(folder, load_codebook("kam"), project, out_dir=None, **options)


def _parts_of(folder: Path, part_chars: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many parts each source of ``folder`` is cut into."""
    from qualkam.sources.ingest import PreparedSource, discover, prepare

    monkeypatch.setattr(coding, "PART_CHARS", part_chars)
    files, _ = discover(folder)
    return [
        len(list(coding._parts(item)))
        for item in prepare(folder, files, load_codebook("kam"))
        if isinstance(item, PreparedSource)
    ]


@pytest.mark.parametrize("unit", [Unit.turn, Unit.sentence])
def test_a_source_stored_in_parts_is_the_same_as_stored_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unit: Unit
) -> None:
    folder = _folder(tmp_path)
    assert max(_parts_of(folder, PART, monkeypatch)) >= 5, "the tests cut a source into several parts"
    whole = _code(folder, tmp_path / "whole.db", WHOLE, monkeypatch, unit=unit, jobs=1)
    monkeypatch.setattr(store_sources, "PENDING_ROWS", 3)  # suggestions wait in the temporary table
    parts = _code(folder, tmp_path / "parts.db", PART, monkeypatch, unit=unit, jobs=1)
    monkeypatch.setattr(parallel, "START_METHOD", "fork")
    jobs = _code(folder, tmp_path / "jobs.db", PART, monkeypatch, unit=unit, jobs=2)
    counted = [(r.coded, r.segments, r.suggestions, r.problems) for r in (whole, parts, jobs)]
    assert counted[0][0] == 3 and counted[0][2] > 0 and counted[0] == counted[1] == counted[2]
    assert dump(tmp_path / "whole.db") == dump(tmp_path / "parts.db") == dump(tmp_path / "jobs.db")
    with Project.open(tmp_path / "parts.db") as project:
        covered = project.conn.execute("SELECT * FROM coding_segments ORDER BY coding_id, segment_id").fetchall()
    with Project.open(tmp_path / "whole.db") as project:
        assert [tuple(r) for r in covered] == [
            tuple(r) for r in project.conn.execute("SELECT * FROM coding_segments ORDER BY coding_id, segment_id")
        ]


def _people_code(db: Path, words: str | None = None, code: str = "kam_context") -> None:
    """A person codes ``words`` in the first segment that holds them (None: the first words
    of the target's first segment)."""
    from qualkam.coding.spans import code_span

    with Project.open(db) as project:
        if words is None:
            row = project.conn.execute(
                "SELECT source_id, start, text FROM segments WHERE source_id = ? ORDER BY position LIMIT 1",
                (TARGET_ID,),
            ).fetchone()
            words = row["text"][:20]
        else:
            row = project.conn.execute(
                "SELECT source_id, start, text FROM segments WHERE text LIKE ? ORDER BY id LIMIT 1", (f"%{words}%",)
            ).fetchone()
        at = row["start"] + row["text"].index(words)
        code_span(project, row["source_id"], at, at + len(words), code, "ana")


def test_a_source_recoded_in_parts_keeps_and_reanchors_peoples_codings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    _code(folder, tmp_path / "whole.db", WHOLE, monkeypatch)
    target = folder / TARGET
    text = target.read_text(encoding="utf-8")
    late = text.split()[-40]  # a word near the end, found again after the edit
    _people_code(tmp_path / "whole.db", late)
    shutil.copy(tmp_path / "whole.db", tmp_path / "parts.db")
    # Text added near the start moves every later segment: people's codings must follow.
    body = text.index("\n\n", text.index("---", 3)) + 2
    target.write_text(text[:body] + "Researcher: One more question first.\n\n" + text[body:], encoding="utf-8")
    whole = _code(folder, tmp_path / "whole.db", WHOLE, monkeypatch)
    monkeypatch.setattr(store_sources, "PENDING_ROWS", 5)
    parts = _code(folder, tmp_path / "parts.db", PART, monkeypatch)
    assert (whole.coded, whole.reanchored, whole.detached) == (1, 1, 0)
    assert (parts.coded, parts.reanchored, parts.detached) == (1, 1, 0)
    assert dump(tmp_path / "whole.db") == dump(tmp_path / "parts.db")
    # Unchanged segments keep their ids when re-coded in parts, as when re-coded whole.
    _code(folder, tmp_path / "parts.db", PART, monkeypatch)
    shutil.copy(tmp_path / "parts.db", tmp_path / "whole.db")
    before = dump(tmp_path / "parts.db")
    target.write_text(target.read_text(encoding="utf-8") + "\nResearcher: And last?\n", encoding="utf-8")
    assert _code(folder, tmp_path / "parts.db", PART, monkeypatch).coded == 1
    assert _code(folder, tmp_path / "whole.db", WHOLE, monkeypatch).coded == 1
    after = dump(tmp_path / "parts.db")
    assert after == dump(tmp_path / "whole.db")
    kept = {row[0] for row in before["segments"]} & {row[0] for row in after["segments"]}
    assert len(kept) >= len(before["segments"]) - 1 > 10, "only the last segment changed"


def _snapshot(db: Path) -> dict[str, list[tuple]]:
    with Project.open(db) as project:
        files = project.conn.execute("SELECT path, source_id, key FROM source_files ORDER BY path").fetchall()
        return {**dump(db), "source_files": [tuple(r) for r in files]}


@pytest.mark.parametrize("where", ["coding", "storing"])
def test_a_failure_half_way_through_a_source_leaves_it_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    folder = _folder(tmp_path)
    db = tmp_path / "p.db"
    _code(folder, db, PART, monkeypatch)
    _people_code(db)
    target = folder / TARGET
    target.write_text(target.read_text(encoding="utf-8").replace("the", "THE"), encoding="utf-8")
    (folder / "new.txt").write_text("Researcher: Who decides?\n\nAnn: Gut feeling, mostly.\n", encoding="utf-8")
    before = _snapshot(db)
    calls = {"n": 0}
    if where == "coding":
        real = coding.segment_and_suggest

        def flaky(source, unit, suggester, rules=True):
            if source.path == target:
                calls["n"] += 1
                if calls["n"] == 3:
                    raise KeyError("third part")
            return real(source, unit, suggester, rules)

        monkeypatch.setattr(coding, "segment_and_suggest", flaky)
    else:
        real_add = store_sources.SourceWriter.add

        def add(self, segments, suggestions):
            calls["n"] += 1
            if calls["n"] == 3:
                raise ValueError("third part")
            return real_add(self, segments, suggestions)

        monkeypatch.setattr(store_sources.SourceWriter, "add", add)
    report = _code(folder, db, PART, monkeypatch, jobs=1)
    assert calls["n"] >= 3
    (problem,) = report.skipped
    assert problem.path == str(target) and "third part" in problem.reason
    assert report.coded == 1, "the new file is coded; the failed source is not"
    after = _snapshot(db)
    failed = TARGET_ID
    for table in ("sources", "segments", "codings"):
        rows = [[r for r in snap[table] if failed in r] for snap in (before, after)]
        assert rows[0] == rows[1] and rows[0], f"{table} of the failed source as before the run"
    assert [r for r in after["source_files"] if r[1] == failed] == [r for r in before["source_files"] if r[1] == failed]
    with Project.open(db) as project:
        assert "new" in {r[0] for r in project.conn.execute("SELECT id FROM sources")}
    # A re-run without the failure codes it, the same as a project that never failed.
    monkeypatch.undo()
    again = _code(folder, db, PART, monkeypatch)
    assert (again.coded, again.problems) == (1, [])
    with Project.open(db) as project:
        assert project.counts()["human_codings"] == 1


CRASH = """
import os, sys
from qualkam.coding import run
from qualkam.coding.codebook import load_codebook
from qualkam.store import sources
from qualkam.store.project import Project
run.PART_CHARS = 500
real, calls = sources.SourceWriter.add, []
def add(self, segments, suggestions):
    calls.append(1)
    real(self, segments, suggestions)
    if len(calls) == 3:
        os._exit(9)  # the process dies half-way through the source, its transaction open
sources.SourceWriter.add = add
with Project.open(sys.argv[2]) as project:
    run.code_folder(sys.argv[1], load_codebook("kam"), project, out_dir=None, jobs=1)
"""


def test_a_crash_half_way_through_a_source_leaves_the_project_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    db = tmp_path / "p.db"
    _code(folder, db, PART, monkeypatch)
    target = folder / TARGET
    target.write_text(target.read_text(encoding="utf-8").replace("the", "THE"), encoding="utf-8")
    before = _snapshot(db)
    done = subprocess.run([sys.executable, "-c", CRASH, str(folder), str(db)], cwd=ROOT, capture_output=True)
    assert done.returncode == 9, done.stderr
    assert _snapshot(db) == before
    again = _code(folder, db, PART, monkeypatch)
    assert (again.coded, again.problems) == (1, [])
    fresh = tmp_path / "fresh.db"
    _code(folder, fresh, WHOLE, monkeypatch)
    assert dump(db)["segments"] != before["segments"]
    rows = [sorted(r[1:] for r in dump(path)["segments"]) for path in (db, fresh)]  # ids differ: kept segments
    assert rows[0] == rows[1], "the same segments as a project coded afresh"


def test_progress_moves_within_a_large_source_and_ends_at_the_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    sizes = [p.stat().st_size for p in sorted(folder.iterdir())]
    seen: list[tuple[int, int, str]] = []
    report = _code(
        folder, tmp_path / "p.db", PART, monkeypatch, progress=lambda *step: seen.append(step), progress_unit="bytes"
    )
    assert report.coded == 3
    done = [d for d, _, _ in seen]
    assert {t for _, t, _ in seen} == {sum(sizes)}, "the total: every file's size"
    assert done == sorted(done) and done[-1] == sum(sizes), "increasing, ending exactly at the total"
    boundaries = {sum(sizes[: i + 1]) for i in range(len(sizes))}
    within = [d for d in done if d not in boundaries]
    assert len(within) >= 4, "progress within the large file, a part at a time"
    assert all(0 < d < sizes[0] for d in within[:3]), "the first file is the one cut into parts"
    names = [Path(p).name for _, _, p in seen]
    assert names == sorted(names, key=[p.name for p in sorted(folder.iterdir())].index), "in file order"
    # By files (the default): once per file, as before.
    counted: list[tuple[int, int, str]] = []
    _code(folder, tmp_path / "q.db", PART, monkeypatch, progress=lambda *step: counted.append(step))
    assert [(d, t) for d, t, _ in counted] == [(1, 3), (2, 3), (3, 3)]


def test_parts_hold_whole_turns_and_cover_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qualkam.sources.ingest import PreparedSource, discover, prepare

    monkeypatch.setattr(coding, "PART_CHARS", PART)
    folder = _folder(tmp_path)
    files, _ = discover(folder)
    source = next(s for s in prepare(folder, files, load_codebook("kam")) if isinstance(s, PreparedSource))
    parts = list(coding._parts(source))
    assert len(parts) > 3 and [last for _, _, last in parts] == [False] * (len(parts) - 1) + [True]
    turns = []
    for part, upto, _ in parts:
        text = part.source.raw.text
        spoken = sum(t.end - t.start for t in part.source.turns)  # labels between turns not counted
        assert spoken <= PART or len(part.source.turns) == 1
        assert text == source.raw.text[part.base : part.base + len(text)]
        assert upto >= part.base + len(text)
        turns += [(t.start + part.base, t.end + part.base, t.speaker) for t in part.source.turns]
    assert turns == [(t.start, t.end, t.speaker) for t in source.turns], "every turn once, in order"
    assert parts[-1][1] == len(source.raw.text)


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with a trained model (tests/test_learn.py's), and its folder."""
    from qualkam.coding.learn import train

    from .test_learn import build_project

    root = tmp_path_factory.mktemp("large-learn")
    build_project(root)
    with Project.open(root / "project.db") as project:
        train(project, layer="coder:ana", folds=3, epochs=2)
    # One long interview, cut into parts below.
    long = "\n\n".join((root / "src" / f"int-{n}.md").read_text(encoding="utf-8").split("---\n", 2)[2] for n in (1, 2))
    write(root / "src" / "int-long.md", f"---\nid: int-long\ntype: interview\n---\n{long * 6}")
    return root


def test_model_suggestions_are_the_same_in_parts(
    learned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = []
    for name, part_chars, batch in (("whole", WHOLE, coding.MODEL_BATCH), ("parts", 300, 7)):
        db = tmp_path / f"{name}.db"
        shutil.copy(learned / "project.db", db)
        monkeypatch.setattr(coding, "MODEL_BATCH", batch)
        monkeypatch.setattr(coding, "PART_CHARS", part_chars)
        with Project.open(db) as project:
            report = code_folder(
                learned / "src", load_codebook(learned / "book.yaml"), project, out_dir=None, suggest="both"
            )
        assert report.coded == 8 and not report.problems
        rows.append(dump(db))
    assert rows[0] == rows[1]
    assert {value for row in rows[0]["codings"] for value in row if value in ("rule", "model")} == {"rule", "model"}


SEPARATORS = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\n\n"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([*SEPARATORS, "a", "Ann: ", "b c", " "]), max_size=60).map("".join),
    st.integers(min_value=1, max_value=25),
)
def test_lines_a_block_at_a_time_are_splitlines(text: str, block: int) -> None:
    """find_turns reads a very large text a block of lines at a time: the same lines."""
    from qualkam.sources import turns

    saved = turns.LINES_BLOCK
    turns.LINES_BLOCK = block
    try:
        assert list(turns._lines(text)) == text.splitlines(keepends=True)
        cut = turns.find_turns(text)
        turns.LINES_BLOCK = 1 << 20
        assert cut == turns.find_turns(text)
    finally:
        turns.LINES_BLOCK = saved


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*SEPARATORS, " ", "\t", "\u00a0", "\u3000", "{", "}", "a"]), max_size=30).map("".join))
def test_text_ends_are_those_strip_gives(text: str) -> None:
    from qualkam.sources.ingest import text_ends

    assert text_ends(text) == (text.lstrip()[:1], text.rstrip()[-1:])
