"""Every command that takes ``--from`` accepts the same layer names (issue 11, section 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.coding.decisions import decide
from qualkam.store.project import Project

from .conftest import code_two_sources, run_cli, suggestions_in_order

LAYERS = ["auto", "suggestions", "human", "consensus", "all", "coder:ana"]


@pytest.fixture
def coded(tmp_path: Path, small_codebook) -> Path:
    db = tmp_path / "p.db"
    with Project.open(db, create=True) as project:
        code_two_sources(tmp_path, small_codebook, project)
        suggested = suggestions_in_order(project)
        assert len(suggested) >= 2
        decide(project, "ana", suggested[0][0], suggested[0][1], "accept")
        decide(project, "consensus", suggested[0][0], suggested[0][1], "accept")
        decide(project, "ana", suggested[1][0], suggested[1][1], "reject")
    return db


@pytest.mark.parametrize("layer", LAYERS)
def test_every_command_with_from_accepts_every_layer(coded: Path, tmp_path: Path, layer: str) -> None:
    runner = CliRunner()
    commands = [
        ["matrix", "--rows", "phase"],
        ["triangulate"],
        ["excerpts", "--format", "csv"],
        ["search", "trust"],
        ["report", "--out", tmp_path / "r.html"],
        ["export", "qdpx", tmp_path / "x.qdpx"],
    ]
    for command in commands:
        result = run_cli(runner, *command, "--from", layer, "--project", coded)
        if command[0] == "export" and layer == "all":  # REFI-QDA has no place for rejected codings
            assert result.exit_code == 2 and "'all' cannot be exported" in result.output, result.output
            continue
        assert result.exit_code == 0, (command, layer, result.output)


def test_all_counts_rejected_codings_that_auto_leaves_out(coded: Path) -> None:
    from qualkam.analysis.matrix import codings_frame

    with Project.open(coded) as project:
        everything, auto = codings_frame(project, "all"), codings_frame(project, "auto")
    assert len(everything) > len(auto)


def _commands():
    """Every (path, click command) of the CLI, command groups walked."""
    import importlib

    import typer

    from qualkam.cli import app
    from qualkam.cli.app import COMMANDS

    for lazy in COMMANDS.values():
        importlib.import_module(lazy.module)
    stack = [((), typer.main.get_command(app))]
    while stack:
        path, command = stack.pop()
        subs = getattr(command, "commands", None)
        if subs is None:
            yield " ".join(path), command
        else:
            stack += [((*path, name), sub) for name, sub in subs.items()]


def test_every_from_option_is_the_layer_argument() -> None:
    """The core names the layer argument `layer` (qualkam.store.layers.Layer); every command
    calls its --from parameter so, and a core error about `layer` then shows --from."""
    found = {path: p.name for path, command in _commands() for p in command.params if "--from" in p.opts}
    assert {"matrix", "triangulate", "excerpts", "search", "report", "export qdpx", "train"} <= set(found)
    assert {path: name for path, name in found.items() if name != "layer"} == {}
