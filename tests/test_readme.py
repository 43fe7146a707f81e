"""The README's two set-up commands stay true: CI runs the test command, the tour's commands exist."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from qualkam.cli import app

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _setup_commands() -> list[str]:
    section = README.split("## Set-up: two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_exactly_two_setup_commands_main_job_and_tests() -> None:
    main, tests = _setup_commands()
    assert main.endswith("qualkam code sample_transcripts/")
    assert "pip install -e ." in main
    assert tests.endswith("pytest -q") and '".[test]"' in tests


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _setup_commands()[1] in ci.splitlines()


def test_every_command_in_the_tour_has_help() -> None:
    runner = CliRunner()
    commands = set(re.findall(r"^\$ qualkam ([a-z][a-z-]*(?: (?:validate|show|history|diff))?)", README, re.M))
    assert {"code", "matrix", "codebook validate", "codebook show", "negative-cases", "codebook history"} <= commands
    for command in commands:
        result = runner.invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command
