"""``qualkam agreement`` through the CLI, and the benchmark script on small sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.agreement import COEFFICIENTS, JSON_KEYS
from qualkam.cli import app

from .conftest import ROOT

EXAMPLE = ROOT / "docs" / "examples" / "agreement-example.csv"


def _csv(tmp_path: Path, text: str, name: str = "ratings.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_file_reproduces_krippendorff_2011(runner: CliRunner) -> None:
    # docs/examples/agreement-example.csv is Krippendorff (2011), section C, in long form: alpha .743.
    result = runner.invoke(app, ["agreement", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "Krippendorff's alpha" in result.stdout and "0.743" in result.stdout
    assert "tentative conclusions only" in result.stdout and "substantial" in result.stdout
    assert "exactly two coders" in result.stdout  # Cohen's kappa: why it is missing
    assert "11 of 12 units" in result.stderr


def test_json_is_one_object_with_exactly_the_keys(runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement", str(EXAMPLE), "--format", "json", "--level", "interval"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert list(record) == list(JSON_KEYS)
    assert record["krippendorff_alpha"] == pytest.approx(0.849, abs=5e-4)
    assert record["n_units"] == 12 and record["n_coders"] == 4
    assert record["cohen_kappa"] is None and record["scott_pi"] is None
    assert set(record["notes"]) == {"cohen_kappa", "scott_pi"}


def test_json_with_bootstrap_adds_one_key_and_is_reproducible(runner: CliRunner) -> None:
    args = ["agreement", str(EXAMPLE), "--format", "json", "--bootstrap", "200", "--seed", "3", "--minimum", "0.8"]
    first, again = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    record = json.loads(first.stdout)
    assert list(record) == [*JSON_KEYS, "bootstrap"]
    assert record == json.loads(again.stdout)
    boot = record["bootstrap"]
    low, high = boot["alpha_ci"]
    assert low <= record["krippendorff_alpha"] <= high
    assert boot["kappa"] == "fleiss_kappa" and boot["minimum"] == 0.8 and 0 <= boot["p_alpha_below_minimum"] <= 1


def test_two_coders_with_labels_and_a_null_with_its_note(runner: CliRunner, tmp_path: Path) -> None:
    path = _csv(tmp_path, "segment,who,code\ns1,ana,yes\ns1,ben,yes\ns2,ana,yes\ns2,ben,yes\n")
    result = runner.invoke(
        app, ["agreement", str(path), "--unit", "segment", "--coder", "who", "--value", "code", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["percent_agreement"] == 1.0
    for name in COEFFICIENTS[1:]:
        assert record[name] is None and record["notes"][name]
    given = runner.invoke(
        app,
        [
            "agreement",
            str(path),
            "--unit",
            "segment",
            "--coder",
            "who",
            "--value",
            "code",
            "--format",
            "json",
            "--categories",
            "yes,no",
        ],
    )
    assert json.loads(given.stdout)["gwet_ac1"] == 1.0


def test_csv_lists_each_coefficient(runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement", str(EXAMPLE), "--format", "csv", "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "coefficient,value,interpretation,ci_low,ci_high,note"
    assert [line.split(",")[0] for line in lines[1:]] == list(COEFFICIENTS)


def test_ordinal_table_says_what_the_level_applies_to(runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement", str(EXAMPLE), "--level", "ordinal", "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    assert "0.815" in result.stdout and "95% interval" in result.stdout
    assert "nominal categories" in result.stderr and "p(alpha < 0.667)" in result.stderr


@pytest.mark.parametrize(
    "text, args, message",
    [
        (None, [], "no such file"),
        ("unit,coder,label\n1,a,x\n", [], "no column 'value' (given by --value); the columns are: unit, coder, label"),
        ("unit,coder,value\n1,a,x\n1,b,y\n1,a,z\n", [], "ratings.csv:4: unit '1' is coded twice by coder 'a'"),
        ("unit,coder,value\n1,a,1\n1,b,high\n", ["--level", "interval"], "ratings.csv:3: value 'high' is not a number"),
        (
            "unit,coder,value\n1,a,lo\n1,b,hi\n",
            ["--level", "ordinal"],
            "give each label with --category, lowest to highest",
        ),
        ("unit,coder,value\n1,a,1\n1,b,2\n", ["--bootstrap", "-3"], "at least 1 replicate"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path, text: str | None, args: list[str], message: str
) -> None:
    path = tmp_path / "ratings.csv" if text is None else _csv(tmp_path, text)
    result = runner.invoke(app, ["agreement", str(path), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("error:") == 1
    assert "Traceback" not in result.output and result.stdout == ""


def test_help(runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement", "--help"])
    assert result.exit_code == 0 and "--bootstrap" in result.output and "--level" in result.output


@pytest.mark.slow
def test_benchmark_script_runs_on_small_sizes() -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "reliability.py"),
            "--codes",
            "3",
            "--segments",
            "200",
            "--replicates",
            "20",
            "--repeats",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "qualkam agreement benchmark" in run.stdout and "seconds / result" in run.stdout
