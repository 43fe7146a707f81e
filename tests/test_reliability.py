"""`qualkam reliability` on a project: per code, overall, three kinds of unit."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qualkam.agreement import coefficients
from qualkam.agreement.reliability import reliability
from qualkam.cli import app
from qualkam.store.project import Project

from .conftest import said


def test_per_code_figures_match_the_engine_on_the_same_data(two_coders: Project) -> None:
    report = reliability(two_coders)
    hard = report.per_code.set_index("code").loc["hard_control"]
    # int-sales segments in order: question, Sarah's first turn, Sarah's second turn.
    assert hard["n_pairable"] == 3 and hard["n_disagree"] == 1
    assert hard["percent_agreement"] == pytest.approx(2 / 3)
    expected = coefficients([[1, 1, 0], [0, 1, 0]])
    assert hard["cohen_kappa"] == pytest.approx(expected.cohen_kappa)
    assert hard["krippendorff_alpha"] == pytest.approx(expected.krippendorff_alpha)
    soft = report.per_code.set_index("code").loc["soft_control"]
    assert soft["percent_agreement"] == 1.0
    assert report.overall["n_codes"] == 2 and report.overall["distance"] == "masi"
    assert report.overall["krippendorff_alpha_sets"] is not None
    assert any("not seen by every coder" in n for n in report.notes)


def test_cli_json_csv_bootstrap_and_character(two_coders: Project, runner: CliRunner) -> None:
    db = str(two_coders.path)
    result = runner.invoke(
        app, ["reliability", "--format", "json", "--bootstrap", "200", "--seed", "3", "--project", db]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["coders"] == ["ana", "ben"] and {c["code"] for c in data["codes"]} == {"hard_control", "soft_control"}
    again = json.loads(
        runner.invoke(
            app, ["reliability", "--format", "json", "--bootstrap", "200", "--seed", "3", "--project", db]
        ).stdout
    )
    assert data == again, "the seed makes the intervals reproducible"
    table = runner.invoke(app, ["reliability", "--project", db])
    assert table.exit_code == 0 and "hard_con" in table.output and "overall:" in table.output
    assert "Landis & Koch" in table.output
    csv_out = runner.invoke(app, ["reliability", "--format", "csv", "--unit", "sentence", "--project", db])
    assert csv_out.stdout.splitlines()[0].startswith("code,label,n_units")
    chars = runner.invoke(app, ["reliability", "--unit", "character", "--format", "json", "--project", db])
    assert chars.exit_code == 0, chars.output
    per = {c["code"]: c["krippendorff_alpha"] for c in json.loads(chars.stdout)["codes"]}
    assert per["soft_control"] == pytest.approx(1.0), "identical spans on the shared source"
    assert per["hard_control"] < 1.0


def test_bad_requests_exit_2(two_coders: Project, runner: CliRunner) -> None:
    db = str(two_coders.path)
    for args, message in (
        (["--coders", "ana"], "at least two coders"),
        (["--coders", "ana,zed"], "unknown coder"),
        (["--codes", "nope"], "unknown code"),
        (["--unit", "word"], "Invalid value for '--unit': unknown unit 'word'"),
        (["--format", "xml"], "unknown format 'xml'"),
        (["--distance", "cosine"], "Invalid value for '--distance': unknown distance 'cosine'"),
    ):
        result = runner.invoke(app, ["reliability", *args, "--project", db])
        assert result.exit_code == 2 and message in said(result.output), (args, result.output)
