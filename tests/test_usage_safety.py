"""Issue 11: odd arguments are clear usage errors or handled: a negative seed, a coder name
that would make a path, a project path with '#' (it once cut a SQLite URI short)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.coding.blind import check_coder_name, clone_for
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.project import Project

from .conftest import INTERVIEW, run_cli, segment_ids, write


@pytest.mark.parametrize("command", [["agreement"], ["reliability"]])
def test_a_negative_seed_is_a_usage_error(runner: CliRunner, tmp_path: Path, command: list[str]) -> None:
    data = write(tmp_path / "r.csv", "unit,coder,value\n1,a,x\n1,b,x\n2,a,y\n2,b,x\n")
    args = [*command, data] if command == ["agreement"] else command
    result = run_cli(runner, *args, "--bootstrap", "10", "--seed", "-1")
    assert result.exit_code == 2
    assert "greater than or equal to 0" in " ".join(result.output.split())


def test_the_bootstrap_refuses_a_negative_seed_from_python() -> None:
    from qualkam.agreement import bootstrap

    with pytest.raises(QualkamError, match="^seed must be a whole number") as refused:
        bootstrap([["a", "a"], ["b", "a"], ["a", "a"]], replicates=5, seed=-1)
    assert refused.value.argument == "seed", "the CLI shows it as --seed"


@pytest.fixture
def master(tmp_path: Path, small_codebook) -> Path:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    db = tmp_path / "master.db"
    with Project.open(db, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        segment = sorted(segment_ids(project).values())[1]
        decide(project, "lead", segment, "soft_control", "accept")
    return db


@pytest.mark.parametrize("name", ["a/b", "../up", "..", "x\\y", "nul\x00", "c:d", " "])
def test_a_coder_name_that_would_make_a_path_is_refused(runner: CliRunner, master: Path, name: str) -> None:
    result = run_cli(runner, "project", "clone", "--for", name, "--project", master)
    assert result.exit_code == 2, result.output
    assert "coder name" in result.output
    assert sorted(p.name for p in master.parent.iterdir() if p.suffix == ".db") == ["master.db"]
    with pytest.raises(QualkamError):
        check_coder_name(name)


def test_plain_names_with_spaces_and_accents_are_fine(runner: CliRunner, master: Path) -> None:
    result = run_cli(runner, "project", "clone", "--for", "Zoë van Dijk", "--project", master)
    assert result.exit_code == 0, result.output
    assert (master.parent / "master-Zoë van Dijk.db").is_file()


@pytest.mark.parametrize("folder", ["a#b", "q?x=1", "pct%20d", "sp ace"])
def test_merge_takes_a_path_with_uri_characters(runner: CliRunner, master: Path, folder: str) -> None:
    where = master.parent / folder
    where.mkdir()
    with Project.open(master) as project:
        copy = clone_for(project, "ann", where / "ann#1.db")
    with Project.open(copy) as project:
        segment = sorted(segment_ids(project).values())[0]
        decide(project, "ann", segment, "hard_control", "accept")
    result = run_cli(runner, "project", "merge", copy, "--project", master)
    assert result.exit_code == 0, result.output
    assert "1 new coding(s)" in result.output
