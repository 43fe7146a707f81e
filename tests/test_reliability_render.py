"""The table and the report show what the JSON says (issue 11 §3): with pandas 3 a missing
text becomes NaN, and NaN is true, so the kappa-paradox flag showed on every code."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import qualkam.agreement.reliability as reliability_module
import qualkam.cli.reliability as reliability_cli
from qualkam.agreement.reliability import reliability
from qualkam.render.report import build_report
from qualkam.store.project import Project

from .conftest import run_cli

FLAG = "rare code: read AC1, α"


def _rows(output: str, codes: list[str]) -> dict[str, str]:
    return {code: next(line for line in output.splitlines() if line.strip().startswith(code[:8])) for code in codes}


def _flagged(line: str) -> bool:
    """The '!' beside kappa (it stays visible in an 80-column terminal)."""
    return re.search(r"\d !( |$)", line) is not None


def test_table_flags_exactly_the_codes_the_json_flags(two_coders: Project, runner: CliRunner) -> None:
    db = str(two_coders.path)
    data = json.loads(run_cli(runner, "reliability", "--format", "json", "--project", db).stdout)
    flagged = {c["code"]: c["paradox_warning"] is not None for c in data["codes"]}
    assert not all(flagged.values()), "the fixture has codes common enough for kappa"
    table = run_cli(runner, "reliability", "--project", db).stdout
    for code, line in _rows(table, list(flagged)).items():
        assert _flagged(line) == flagged[code], (code, line)
    page = build_report(two_coders)
    section = page.split('id="reliability"')[1].split("</section>")[0]
    assert section.count(FLAG) == sum(flagged.values())


def _synthetic(two_coders: Project, missing: object) -> reliability_module.ReliabilityReport:
    """The fixture's report with text columns missing the way a pandas version stores them:
    None in an object column (pandas 2), NaN (pandas 3's str columns, or a float column)."""
    report = reliability(two_coders)
    frame = report.per_code.copy()
    flag = "kappa paradox: one category holds 97.0% of ratings"
    rest = [missing] * (len(frame) - 1)
    verdicts = ["not computed", *frame["alpha_interpretation"][1:]]
    if missing is None:  # what pandas 2 keeps
        frame["paradox_warning"] = pd.Series([flag, *rest], dtype=object, index=frame.index)
        frame["alpha_interpretation"] = pd.Series(verdicts, dtype=object, index=frame.index)
    else:  # what pandas 3 makes of the same list: a str column with NaN
        frame["paradox_warning"] = pd.Series([flag, *rest], index=frame.index)
        frame["alpha_interpretation"] = pd.Series(verdicts, index=frame.index)
        assert frame["paradox_warning"].isna().sum() == len(frame) - 1
    frame["krippendorff_alpha"] = [np.nan, *frame["krippendorff_alpha"][1:]]
    report.per_code = frame
    return report


@pytest.mark.parametrize("missing", [None, np.nan], ids=["None (pandas 2)", "NaN (pandas 3)"])
def test_rendering_reads_missing_values_as_missing(
    two_coders: Project,
    runner: CliRunner,
    monkeypatch,
    missing: object,
) -> None:
    report = _synthetic(two_coders, missing)
    codes = list(report.per_code["code"])
    monkeypatch.setattr(reliability_cli, "reliability", lambda *a, **k: report)
    monkeypatch.setattr(reliability_module, "reliability", lambda *a, **k: report)
    table = run_cli(runner, "reliability", "--project", str(two_coders.path)).stdout
    rows = _rows(table, codes)
    assert _flagged(rows[codes[0]]), table
    assert not any(_flagged(rows[c]) for c in codes[1:]), table
    monkeypatch.setattr(reliability_cli.out, "width", 160)
    wide = run_cli(runner, "reliability", "--project", str(two_coders.path)).stdout
    assert "not computed" in _rows(wide, codes)[codes[0]], wide
    assert "nan" not in table.lower().replace("nance", "")
    data = json.loads(run_cli(runner, "reliability", "--format", "json", "--project", str(two_coders.path)).stdout)
    assert [c["paradox_warning"] is not None for c in data["codes"]] == [True] + [False] * (len(codes) - 1)
    assert data["codes"][0]["krippendorff_alpha"] is None
    page = build_report(two_coders)
    section = page.split('id="reliability"')[1].split("</section>")[0]
    assert section.count(FLAG) == 1 and "<td>not computed</td>" in section and ">nan<" not in section.lower()


def test_character_unit_table_prints_missing_alpha_as_a_dash(
    two_coders: Project,
    runner: CliRunner,
    monkeypatch,
) -> None:
    report = reliability(two_coders, unit="character")
    report.per_code.loc[report.per_code.index[0], ["krippendorff_alpha", "alpha_interpretation"]] = [np.nan, np.nan]
    monkeypatch.setattr(reliability_cli, "reliability", lambda *a, **k: report)
    result = run_cli(runner, "reliability", "--unit", "character", "--project", str(two_coders.path))
    assert result.exit_code == 0, result.output
    assert "nan" not in result.stdout.lower()
