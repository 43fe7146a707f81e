"""`qualkam agreement` input and output that can be trusted (issue 11 §3): a malformed CSV is
refused with its line instead of read as data, a value that is not a finite number is refused
with its line, and the JSON never holds NaN or Infinity (undefined results are null, with why)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qualkam.agreement import coefficients, read_long
from qualkam.errors import InputError, QualkamError

from .conftest import run_cli


def _csv(tmp_path: Path, text: str, name: str = "ratings.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _no_nan(text: str) -> dict:
    """JSON as a strict reader takes it: NaN or Infinity in it is an error."""

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in the JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    "text, message",
    [
        # an unterminated quote used to swallow the rest of the file into one value
        (
            'unit,coder,value\n1,a,"2\n1,b,2\n2,a,1\n2,b,1\n',
            "ratings.csv:2: a quote opened on this line is never closed",
        ),
        ('unit,coder,value\n1,a,"2\n1,b,2"\n2,a,1\n2,b,1\n', "ratings.csv:2: a quoted cell runs over lines 2-3"),
        ("unit,coder,value\n1,a,2,9\n1,b,2\n", "ratings.csv:2: 4 cells, but the header has 3 columns"),
        ("unit,coder,value\n1,a,2\n1,b\n", "ratings.csv:3: 2 cells, but the header has 3 columns"),
        ('unit,coder,value\n1,a,"2"x\n1,b,2\n', "ratings.csv:2: not valid CSV"),
        ("unit,coder,value,coder\n1,a,2,x\n", "ratings.csv:1: column 'coder' appears twice"),
    ],
)
def test_malformed_csv_is_refused_with_its_line(runner: CliRunner, tmp_path: Path, text: str, message: str) -> None:
    result = run_cli(runner, "agreement", _csv(tmp_path, text))
    assert result.exit_code == 2, result.output
    assert message in result.stderr.replace("\n", " "), result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("bad", ["inf", "-Infinity", "NaN", "1e400"])
@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_non_finite_values_are_refused_with_their_line(runner: CliRunner, tmp_path: Path, bad: str, level: str) -> None:
    path = _csv(tmp_path, f"unit,coder,value\n1,a,1\n1,b,2\n2,a,{bad}\n2,b,3\n")
    result = run_cli(runner, "agreement", path, "--level", level, "--format", "json")
    assert result.exit_code == 2, result.output
    assert f"ratings.csv:4: value {bad!r} is not a finite number" in result.stderr.replace("\n", " ")
    with pytest.raises(QualkamError, match="not a finite number"):
        coefficients([[1.0, math.inf], [1.0, 2.0]], level="interval")


@pytest.mark.parametrize("level", ["interval", "ratio"])
def test_huge_values_give_the_same_alpha_as_in_smaller_units(runner: CliRunner, tmp_path: Path, level: str) -> None:
    """1e308 squared overflowed and alpha came out NaN in the JSON; alpha does not depend on the
    unit of measurement, so the same data in units of 1e308 must give the same alpha."""
    small = [[1.0, 1.7, 0.0, 0.3], [0.0, 1.0, 0.5, 0.35]]
    huge = [[v * 1e308 for v in row] for row in small]
    expected = coefficients(small, level=level).krippendorff_alpha
    assert expected is not None and coefficients(huge, level=level).krippendorff_alpha == pytest.approx(
        expected, rel=1e-12
    )
    lines = ["unit,coder,value"] + [f"{u},{c},{huge[i][u]!r}" for i, c in enumerate("ab") for u in range(4)]
    path = _csv(tmp_path, "\n".join(lines) + "\n")
    result = run_cli(runner, "agreement", path, "--level", level, "--format", "json", "--bootstrap", "50")
    assert result.exit_code == 0, result.output
    data = _no_nan(result.stdout)
    assert data["krippendorff_alpha"] == pytest.approx(expected, rel=1e-12)
    for fmt in ("table", "csv"):
        shown = run_cli(runner, "agreement", path, "--level", level, "--format", fmt).stdout.lower()
        assert not re.search(r"\b(nan|inf|infinity)\b", shown), shown


def test_a_result_that_is_not_a_number_is_null_with_a_reason(runner: CliRunner, tmp_path: Path, monkeypatch) -> None:
    import qualkam.agreement._core as core

    monkeypatch.setattr(core, "alpha_from", lambda *a, **k: float("nan"))
    path = _csv(tmp_path, "unit,coder,value\n1,a,1\n1,b,2\n2,a,3\n2,b,3\n")
    result = run_cli(runner, "agreement", path, "--level", "interval", "--format", "json", "--bootstrap", "20")
    assert result.exit_code == 0, result.output
    data = _no_nan(result.stdout)
    assert data["krippendorff_alpha"] is None and "double precision" in data["notes"]["krippendorff_alpha"]
    assert data["bootstrap"]["alpha_ci"] is None


# -- property-based: the reader never crashes and never misreads ------------------------------
_cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.text(alphabet='unitcoderva,;\t"\n\r 12x', max_size=120).map(str.encode))
def test_any_bytes_give_a_frame_or_an_input_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(b"unit,coder,value\n" + data)
    try:
        frame = read_long(path)
    except QualkamError as exc:
        assert str(exc).startswith(str(path)), exc
        return
    # whatever was read has one value per line and nothing that ran over lines
    assert not frame["unit"].str.contains("\n").any() and not frame["coder"].str.contains("\n").any()
    assert frame["line"].is_unique
    if frame["value"].dtype.kind == "f":
        assert np.isfinite(frame["value"].dropna()).all()


_name = st.text(alphabet="abcdefghij _-'\"", min_size=1, max_size=5).map(str.strip).filter(bool)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.tuples(_name, _name),
        st.one_of(st.none(), st.integers(-50, 50), st.floats(-1e6, 1e6, allow_nan=False)),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from([",", ";", "\t"]),
)
def test_well_formed_csv_reads_back_exactly(tmp_path: Path, ratings: dict, delimiter: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["unit", "coder", "value"])
    for (unit, coder), value in ratings.items():
        writer.writerow([unit, coder, "" if value is None else repr(value)])
    path = tmp_path / "good.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    frame = read_long(path)
    assert list(zip(frame["unit"], frame["coder"], strict=True)) == list(ratings)
    for got, want in zip(frame["value"], ratings.values(), strict=True):
        if want is None:
            assert got is None or math.isnan(got)
        else:
            assert float(got) == float(want)
    assert list(frame["line"]) == list(range(2, len(ratings) + 2))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(2, 6), min_size=2, max_size=8), st.data())
def test_a_row_with_the_wrong_number_of_cells_names_its_line(tmp_path: Path, widths: list[int], data) -> None:
    bad = data.draw(st.integers(0, len(widths) - 1))
    lines = ["unit,coder,value"] + [f"u{i},c,1" for i in range(len(widths))]
    cells = [f"u{bad}", "c"] + ["1"] * (widths[bad] - 2)
    if len(cells) == 3:
        cells.append("9")
    lines[bad + 1] = ",".join(cells)
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"rows.csv:{bad + 2}: {len(cells)} cells, but the header has 3"):
        read_long(path)
