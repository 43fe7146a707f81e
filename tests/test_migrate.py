"""Codebook migration: rename, merge and split keep people's codings attached and audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.codebook import parse_codebook
from qualkam.coding.decisions import decide
from qualkam.coding.migrate import Migration, migrate_codebook
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.audit import audit_table
from qualkam.store.project import Project
from qualkam.store.reads import code_tree
from qualkam.store.refi import codebook_times
from qualkam.store.segments import codings

from .conftest import INTERVIEW, SMALL_CODEBOOK, records, segment_ids, write

RENAMED = SMALL_CODEBOOK.replace("id: soft_control", "id: normative_control").replace('version: "1"', 'version: "2"')
MERGED = (
    SMALL_CODEBOOK.replace('version: "1"', 'version: "3"')
    .replace(
        "      - id: soft_control\n        label: Soft control\n",
        "      - id: any_control\n        label: Any control\n",
    )
    .split("      - id: hard_control")[0]
    + "      - id: any_control\n        label: Any control\n        patterns:\n"
    + "          lemmas: [sales target, trust each other]\n"
)


@pytest.fixture
def coded(tmp_path: Path, small_codebook, project: Project) -> Project:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    segs = {position: i for (_, position), i in segment_ids(project).items()}
    decide(project, "ana", segs[1], "hard_control", "accept")
    decide(project, "ana", segs[1], "soft_control", "reject")
    decide(project, "ana", segs[2], "soft_control", "accept")
    decide(project, "ben", segs[2], "soft_control", "accept")
    return project


def _people(project: Project) -> list[tuple]:
    people = codings(project, "all").dropna(subset=["coder"])
    return sorted(records(people, ["position", "code", "coder", "status"]))


def test_rename_moves_codings_and_records_each(coded: Project) -> None:
    report = migrate_codebook(
        coded, parse_codebook(RENAMED, "v2.yaml"), Migration.parse(["soft_control=normative_control"], [], []), "lead"
    )
    assert report.collapsed == 0
    assert _people(coded) == [
        (1, "hard_control", "ana", "accepted"),
        (1, "normative_control", "ana", "rejected"),
        (2, "normative_control", "ana", "accepted"),
        (2, "normative_control", "ben", "accepted"),
    ]
    audit = audit_table(coded)
    renames = audit[audit["action"] == "rename"].to_dict("records")
    assert len(renames) == 3 and json.loads(renames[0]["after"]) == {"code": "normative_control"}
    assert code_tree(coded)["soft_control"].retired


def test_merge_collapses_one_coders_pair_with_accepted_winning(coded: Project) -> None:
    book = parse_codebook(MERGED, "v3.yaml")
    report = migrate_codebook(coded, book, Migration.parse([], ["hard_control,soft_control=any_control"], []), "lead")
    assert report.collapsed == 1
    assert _people(coded) == [
        (1, "any_control", "ana", "accepted"),
        (2, "any_control", "ana", "accepted"),
        (2, "any_control", "ben", "accepted"),
    ]


def test_unmapped_codes_in_use_stop_the_migration_and_change_nothing(coded: Project) -> None:
    before = _people(coded), coded.counts()
    with pytest.raises(
        QualkamError, match=r"'soft_control' has 3 coding\(s\) by people.*a rename \(soft_control=NEW\)"
    ):
        migrate_codebook(coded, parse_codebook(RENAMED, "v2.yaml"), Migration(), "lead")
    with pytest.raises(QualkamError, match="'ghost' is not a code of this project"):
        migrate_codebook(
            coded, parse_codebook(RENAMED, "v2.yaml"), Migration.parse(["ghost=normative_control"], [], []), "lead"
        )
    assert (_people(coded), coded.counts()) == before
    assert len(codebook_times(coded)) == 1


def test_split_keeps_codings_for_recoding_via_cli(coded: Project, tmp_path: Path) -> None:
    split = SMALL_CODEBOOK.replace('version: "1"', 'version: "4"').replace(
        "      - id: soft_control\n        label: Soft control\n",
        "      - id: trust\n        label: Trust\n      - id: norms\n        label: Norms\n"
        "      - id: soft_x\n        label: X\n",
    )
    path = write(tmp_path / "v4.yaml", split)
    result = CliRunner().invoke(
        app,
        [
            "codebook",
            "migrate",
            str(path),
            "--coder",
            "lead",
            "--split",
            "soft_control=trust,norms",
            "--project",
            str(coded.path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3 coding(s) of split code 'soft_control' to re-code" in result.output
    assert "soft_control" in {r[1] for r in _people(coded)}
    bad = CliRunner().invoke(
        app,
        [
            "codebook",
            "migrate",
            str(path),
            "--coder",
            "lead",
            "--merge",
            "soft_control=trust",
            "--project",
            str(coded.path),
        ],
    )
    assert bad.exit_code == 2 and "write A,B=C" in bad.output


def test_coding_with_a_codebook_that_drops_a_used_code_warns_and_keeps_it(coded: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "v2.yaml", RENAMED)
    args = ["code", str(tmp_path / "src"), "-c", str(path), "-p", str(coded.path), "-o", str(tmp_path / "o")]
    refused = CliRunner().invoke(app, args)  # people have coded: a new codebook needs the flag
    assert refused.exit_code == 2 and "3 of people's codings use removed codes (soft_control: 3)" in refused.output
    result = CliRunner().invoke(app, args + ["--replace-codebook"])
    assert "3 coding(s) by people use 'soft_control', which this codebook no longer has" in result.output
    assert result.exit_code == 0
    assert len(_people(coded)) == 4
