"""Codebook history (issue 16, point 5): every stored version listed, each coding recording the
version it was made under, and the difference between two versions."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qualkam
from qualkam.coding.codebook import Code, Codebook, Patterns, Phase, load_codebook, parse_codebook
from qualkam.coding.decisions import decide
from qualkam.coding.history import codebook_diff, diff_codebooks, history, similarity, versions_in_use
from qualkam.coding.migrate import Migration, migrate_codebook
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.codebooks import save_codebook
from qualkam.store.history import coding_versions
from qualkam.store.project import Project
from qualkam.store.schema import MIGRATIONS, statements
from qualkam.store.segments import codings

from .conftest import INTERVIEW, OTHER, ROOT, SHARED, SMALL_CODEBOOK, needs_shared, run_cli, said, segment_with, write

# Version 2: soft_control renamed (a migration records it), hard_control's definition, include
# rule, pattern and attribute changed, a code added.
V2 = (
    SMALL_CODEBOOK.replace('version: "1"', 'version: "2"')
    .replace("id: soft_control", "id: normative_control")
    .replace(
        "        label: Hard control\n",
        "        label: Hard control\n        definition: Control through targets and procedures.\n"
        "        include: [a target set from above]\n",
    )
    .replace("pole: formal}", "pole: formal, weight: 2}")
    .replace("lemmas: [sales target, reporting line]", "lemmas: [sales target, reporting line, key figure]")
    + "      - id: clan_control\n        label: Clan control\n        definition: Shared values steer the work.\n"
)


def _version_of_codings(project: Project) -> dict[tuple[int, str, str | None], int | None]:
    """(segment, code, coder) -> the number of the version its coding records."""
    return {(r["segment"], r["code"], r["coder"]): r["codebook_version"] for r in coding_versions(project)}


@pytest.fixture
def migrated(tmp_path: Path, small_codebook, project: Project) -> Project:
    """v1 coded and decided on, migrated to V2 (a recorded rename), then decided on again."""
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "b.md", OTHER)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    decide(project, "ana", segment_with(project, "trust each other", "int-sales"), "soft_control", "accept")
    decide(project, "ana", segment_with(project, "sales targets"), "hard_control", "accept")
    migrate_codebook(
        project,
        parse_codebook(V2, "v2.yaml"),
        Migration.parse(["soft_control=normative_control"], [], []),
        "lead",
    )
    decide(project, "ben", segment_with(project, "follow the procedure"), "hard_control", "accept")
    decide(project, "ben", segment_with(project, "Gut feeling, mostly"), "clan_control", "accept")
    return project


def test_history_lists_each_version_with_its_codings(migrated: Project) -> None:
    rows = history(migrated)
    assert [(r["number"], r["version"], r["loaded_from"], r["codes"], r["current"]) for r in rows] == [
        (1, "1", str(Path(rows[0]["loaded_from"])), 3, False),
        (2, "2", "v2.yaml", 4, True),
    ]
    assert rows[0]["loaded_from"].endswith("small.yaml")
    suggestions = len(codings(migrated, "suggestions"))
    # Every suggestion came from the run under version 1; each person's coding records the
    # version current when it was made (a migrated one keeps its own).
    assert (rows[0]["people_codings"], rows[0]["suggestions"]) == (2, suggestions)
    assert (rows[1]["people_codings"], rows[1]["suggestions"]) == (2, 0)
    people = {k: v for k, v in _version_of_codings(migrated).items() if k[2] is not None}
    assert sorted((code, coder, version) for (_, code, coder), version in people.items()) == [
        ("clan_control", "ben", 2),
        ("hard_control", "ana", 1),
        ("hard_control", "ben", 2),
        ("normative_control", "ana", 1),
    ]


def test_reloading_an_old_version_is_a_load_not_a_new_version(migrated: Project, small_codebook) -> None:
    save_codebook(migrated, small_codebook, "lead")
    rows = history(migrated)
    assert len(rows) == 2
    assert [r["loads"] for r in rows] == [2, 1]
    assert [r["current"] for r in rows] == [True, False]
    decide(migrated, "cy", segment_with(migrated, "sales targets"), "hard_control", "accept")
    assert _version_of_codings(migrated)[(segment_with(migrated, "sales targets"), "hard_control", "cy")] == 1
    # saving the current version again loads nothing
    save_codebook(migrated, small_codebook, "lead")
    assert [r["loads"] for r in history(migrated)] == [2, 1]


def test_diff_recorded_rename_and_field_changes(migrated: Project) -> None:
    found = codebook_diff(migrated, 1, 2)
    assert (found["from"]["number"], found["to"]["number"]) == (1, 2)
    assert found["added"] == ["clan_control"]
    assert found["removed"] == []
    assert found["renamed"] == [
        {"old": "soft_control", "new": "normative_control", "how": "renamed", "similarity": None}
    ]
    changed = {(c["code"], c["field"]): (c["before"], c["after"]) for c in found["changed"]}
    assert set(changed) == {
        ("hard_control", "definition"),
        ("hard_control", "include"),
        ("hard_control", "attributes"),
        ("hard_control", "patterns"),
    }
    assert changed[("hard_control", "include")] == ([], ["a target set from above"])
    assert changed[("hard_control", "attributes")][1]["weight"] == 2
    assert changed[("hard_control", "patterns")][1]["lemmas"][-1] == "key figure"
    back = codebook_diff(migrated, "current", "previous")
    assert back["removed"] == ["clan_control"] and back["added"] == []
    assert back["renamed"][0]["old"] == "normative_control" and back["renamed"][0]["new"] == "soft_control"
    assert codebook_diff(migrated, 2, "v2")["changed"] == []


def test_diff_without_a_migration_says_possibly_renamed(tmp_path: Path, small_codebook, project: Project) -> None:
    write(tmp_path / "src" / "b.md", OTHER)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    renamed = SMALL_CODEBOOK.replace("id: soft_control", "id: trust_control").replace('version: "1"', 'version: "2"')
    code_folder(tmp_path / "src", parse_codebook(renamed, "v2.yaml"), project, out_dir=None)
    found = codebook_diff(project, 1, 2)
    assert found["renamed"] == [
        {"old": "soft_control", "new": "trust_control", "how": "possibly renamed", "similarity": 1.0}
    ]
    assert found["added"] == found["removed"] == []
    # the re-run's suggestions were made under version 2
    assert [r["suggestions"] for r in history(project)] == [0, len(codings(project, "suggestions"))]


def test_bad_version_names_the_argument(migrated: Project) -> None:
    with pytest.raises(QualkamError, match=r"first '7': .*versions 1 to 2"):
        codebook_diff(migrated, 7, 1)
    with pytest.raises(QualkamError, match="second 'nonsense'"):
        codebook_diff(migrated, 1, "nonsense")
    assert codebook_diff(migrated, history(migrated)[0]["hash"][:8], 2)["from"]["number"] == 1
    # a version string names the version that has it (numbers come first: "2" is version 2)
    save_codebook(migrated, parse_codebook(V2.replace('version: "2"', 'version: "2.1-draft"'), "v21.yaml"), "lead")
    assert codebook_diff(migrated, "2.1-DRAFT", "v2")["from"]["number"] == 3


def test_cli_history_and_diff(runner, tmp_path: Path, migrated: Project) -> None:
    db = str(migrated.path)
    result = run_cli(runner, "codebook", "history", "-p", db, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [v["number"] for v in data["versions"]] == [1, 2]
    assert data["before_history"] == {"people_codings": 0, "suggestions": 0}
    result = run_cli(runner, "codebook", "diff", "1", "2", "-p", db)
    assert result.exit_code == 0, result.output
    text = said(result.output)
    assert "codes added (1): clan_control" in text
    assert "soft_control → normative_control (renamed, recorded by a migration)" in text
    assert "hard_control.include: + a target set from above" in text
    result = run_cli(runner, "codebook", "diff", "3", "-p", db)
    assert result.exit_code != 0
    assert "FIRST '3'" in said(result.output)


def test_api_and_report(migrated: Project, tmp_path: Path) -> None:
    with qualkam.open(migrated.path) as view:
        frame = view.codebook_history()
        assert list(frame["number"]) == [1, 2] and list(frame["current"]) == [False, True]
        assert frame.attrs["before_history"] == {"people_codings": 0, "suggestions": 0}
        assert view.codebook_diff()["added"] == ["clan_control"]
    from qualkam.render.report import build_report

    html = build_report(migrated, "all")
    assert "Codings were made under 2 codebook versions" in html
    assert "Small test codebook 2 (version 2, current)" in html


# -- a project made before the history --------------------------------------------------------------
def _old_project(path: Path, versions: int) -> None:
    """A project at schema 006 (before this change), written as the qualkam of then wrote it:
    ``versions`` codebooks stored, one source, a suggestion and a person's coding."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, sql in MIGRATIONS:
        if name == "007_codebook_history":
            break
        for statement in statements(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO migrations VALUES (?, '2025-01-01T00:00:00+00:00')", (name,))
    for number in range(1, versions + 1):
        text = SMALL_CODEBOOK.replace('version: "1"', f'version: "{number}"')
        book = parse_codebook(text, f"v{number}.yaml")
        conn.execute(
            "INSERT INTO codebooks (hash, name, version, path, yaml, loaded_at) VALUES (?, ?, ?, ?, ?, ?)",
            (book.hash, book.name, book.version, book.path, text, f"2025-0{number}-01T00:00:00+00:00"),
        )
    for position, code in enumerate(("control", "hard_control", "soft_control")):
        conn.execute(
            "INSERT INTO codes (id, label, position, codebook_id) VALUES (?, ?, ?, ?)", (code, code, position, versions)
        )
    conn.execute(
        "INSERT INTO sources (id, path, format, content_hash, fingerprint, text, unit, added_at, updated_at) "
        "VALUES ('s1', 's1.txt', 'txt', 'h', 'f', 'We trust each other.', 'turn', 'then', 'then')"
    )
    conn.execute(
        'INSERT INTO segments (source_id, position, start, "end", text) '
        "VALUES ('s1', 0, 0, 20, 'We trust each other.')"
    )
    for coder, status in ((None, "suggested"), ("ana", "accepted")):
        conn.execute(
            'INSERT INTO codings (segment_id, source_id, start, "end", text, code_id, coder, origin, status, '
            "created_at, updated_at) VALUES (1, 's1', 0, 20, 'We trust each other.', 'soft_control', ?, ?, ?, "
            "'then', 'then')",
            (coder, "rule" if coder is None else "human", status),
        )
    conn.commit()
    conn.close()


def test_migration_of_an_old_project_with_one_version(tmp_path: Path) -> None:
    _old_project(tmp_path / "old.db", versions=1)
    with Project.open(tmp_path / "old.db") as project:
        rows = history(project)
        assert [(r["number"], r["loads"], r["current"], r["people_codings"], r["suggestions"]) for r in rows] == [
            (1, 1, True, 1, 1)
        ]
        assert versions_in_use(project)[-1]["label"] != "before history"


def test_migration_of_an_old_project_with_two_versions(tmp_path: Path, runner) -> None:
    _old_project(tmp_path / "old.db", versions=2)
    with Project.open(tmp_path / "old.db") as project:
        rows = history(project)
        assert [(r["version"], r["current"], r["people_codings"], r["suggestions"]) for r in rows] == [
            ("1", False, 0, 0),
            ("2", True, 0, 0),
        ]
        assert versions_in_use(project)[-1] == {
            "label": "before history",
            "hash": "",
            "people_codings": 1,
            "suggestions": 1,
        }
        # a coding made now records the current version
        decide(project, "ben", 1, "hard_control", "accept")
        assert [r["people_codings"] for r in history(project)] == [0, 1]
        assert codebook_diff(project, 1, 2)["changed"] == []
    result = run_cli(runner, "codebook", "history", "-p", tmp_path / "old.db")
    assert result.exit_code == 0, result.output
    assert "before history" in result.output


# -- the sample project and a real corpus ------------------------------------------------------------
@pytest.mark.slow
def test_sample_project_kam_history(tmp_path: Path) -> None:
    kam = load_codebook("kam")
    with Project.open(tmp_path / "sample.db", create=True) as project:
        code_folder(ROOT / "sample_transcripts", kam, project, out_dir=None)
        before = len(codings(project, "suggestions"))
        first = next(iter(kam.codes.values()))
        leaf = next(c for c in kam.codes.values() if not kam.children(c.id) and c.parent)
        edited = kam.text.replace(f"id: {leaf.id}\n", f"id: {leaf.id}_renamed\n", 1)
        assert edited != kam.text
        decide(project, "ana", segment_with(project, "Pro:Direct"), leaf.id, "accept")
        migrate_codebook(
            project,
            parse_codebook(edited.replace(f"version: {kam.version}", "version: 9.9", 1), "kam-edited.yaml"),
            Migration.parse([f"{leaf.id}={leaf.id}_renamed"], [], []),
            "lead",
        )
        rows = history(project)
        assert [(r["number"], r["name"], r["codes"]) for r in rows] == [
            (1, kam.name, len(kam.codes)),
            (2, kam.name, len(kam.codes)),
        ]
        assert rows[0]["suggestions"] == before and rows[0]["people_codings"] == 1
        found = codebook_diff(project, 1, 2)
        assert found["renamed"] == [{"old": leaf.id, "new": f"{leaf.id}_renamed", "how": "renamed", "similarity": None}]
        assert found["added"] == found["removed"] == found["changed"] == []
        assert first.id in kam.codes


@needs_shared
@pytest.mark.shared
@pytest.mark.slow
def test_zoom_meeting_recoded_under_a_replaced_codebook(tmp_path: Path, small_codebook) -> None:
    meeting = SHARED / "corpora" / "zoom-meetings" / "focil" / "2026-04-07_032"
    folder = tmp_path / "zoom"
    folder.mkdir()
    (folder / "transcript.vtt").write_bytes((meeting / "transcript.vtt").read_bytes())
    kam = load_codebook("kam")
    with Project.open(tmp_path / "zoom.db", create=True) as project:
        code_folder(folder, kam, project, out_dir=None)
        segment = int(codings(project, "suggestions")["segment"].iloc[0]) if len(codings(project, "suggestions")) else 1
        code = next(c for c in kam.codes if not kam.children(c))
        decide(project, "ana", segment, code, "accept")
        code_folder(folder, small_codebook, project, out_dir=None, replace_codebook=True)
        rows = history(project)
        assert [r["name"] for r in rows] == [kam.name, small_codebook.name]
        assert rows[0]["people_codings"] == 1
        assert rows[1]["suggestions"] == len(codings(project, "suggestions"))
        found = codebook_diff(project, 1, 2)
        # the small codebook's three codes carry KAM's labels under other ids: possibly renamed
        assert found["added"] == []
        assert [(r["old"], r["new"], r["how"]) for r in found["renamed"]] == [
            ("mode_of_control", "control", "possibly renamed"),
            ("mode_of_control_formal", "hard_control", "possibly renamed"),
            ("mode_of_control_post_bureaucratic", "soft_control", "possibly renamed"),
        ]
        assert len(found["removed"]) == len(kam.codes) - 3


# -- properties of the diff -------------------------------------------------------------------------
_ids = st.sampled_from([f"c{i}" for i in range(8)])
_words = st.lists(st.sampled_from(["trust", "target", "control", "sales", "value", "rule", "plan"]), max_size=4)


@st.composite
def codebooks(draw: st.DrawFn) -> Codebook:
    ids = draw(st.lists(_ids, unique=True, max_size=6))
    codes = {}
    for cid in ids:
        codes[cid] = Code(
            cid,
            draw(st.sampled_from(["Trust", "Targets", "Control", "Values"])) + draw(st.sampled_from(["", " x"])),
            definition=" ".join(draw(_words)),
            include=draw(st.lists(st.sampled_from(["a rule", "a plan"]), max_size=2)),
            examples=draw(st.lists(st.sampled_from(["we trust", "the target"]), max_size=1)),
            attributes=draw(st.dictionaries(st.sampled_from(["pole", "weight"]), st.integers(0, 2), max_size=2)),
            patterns=Patterns(lemmas=draw(st.lists(st.sampled_from(["trust", "target"]), max_size=2))),
        )
    phases = [Phase(p, p) for p in draw(st.lists(st.sampled_from(["p1", "p2", "p3"]), unique=True))]
    return Codebook("b", "1", "<b>", "", codes=codes, phases=phases)


@settings(max_examples=200, deadline=None)
@given(codebooks())
def test_diff_with_itself_is_empty(book: Codebook) -> None:
    assert diff_codebooks(book, book).empty


@settings(max_examples=300, deadline=None)
@given(codebooks(), codebooks())
def test_diff_is_symmetric(a: Codebook, b: Codebook) -> None:
    forward, backward = diff_codebooks(a, b), diff_codebooks(b, a)
    assert sorted(forward.added) == sorted(backward.removed)
    assert sorted(forward.removed) == sorted(backward.added)
    assert sorted((r.old, r.new) for r in forward.renamed) == sorted((r.new, r.old) for r in backward.renamed)
    assert forward.phases_added == backward.phases_removed
    # every code of either side is accounted for once
    renamed_old = {r.old for r in forward.renamed}
    renamed_new = {r.new for r in forward.renamed}
    assert set(a.codes) - set(b.codes) == set(forward.removed) | renamed_old
    assert set(b.codes) - set(a.codes) == set(forward.added) | renamed_new
    assert not set(forward.added) & renamed_new


@settings(max_examples=200, deadline=None)
@given(codebooks(), codebooks())
def test_similarity_is_symmetric_and_bounded(a: Codebook, b: Codebook) -> None:
    for x in a.codes.values():
        for y in b.codes.values():
            assert similarity(x, y) == similarity(y, x)
            assert 0.0 <= similarity(x, y) <= 1.0
