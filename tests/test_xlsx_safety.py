"""Issue 11: an XLSX whose declared dimension is XFD200000, or whose deflate stream is
broken, is exit 2 with a clear message, in bounded memory (never sized by the declaration)."""

from __future__ import annotations

import io
import resource
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qualkam.errors import InputError
from qualkam.interchange.codings_import import read_table

from .conftest import run_cli


def _workbook(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rewrite(data: bytes, part: str, change) -> bytes:
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            content = source.read(item.filename)
            out.writestr(item.filename, change(content) if item.filename == part else content)
    return target.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
ROWS = [["source", "start", "end", "code", "coder"], ["int-sales", 0, 10, "hard_control", "ann"]]


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_declared_dimension_of_xfd200000_is_never_allocated(tmp_path: Path) -> None:
    data = _rewrite(
        _workbook(ROWS), SHEET, lambda x: x.replace(b'<dimension ref="A1:E2"/>', b'<dimension ref="A1:XFD200000"/>')
    )
    assert b"XFD200000" in zipfile.ZipFile(io.BytesIO(data)).read(SHEET)
    path = tmp_path / "big.xlsx"
    path.write_bytes(data)
    before = _max_rss_mb()
    header, body = read_table(path)
    assert header == ["source", "start", "end", "code", "coder"]
    assert body == [(2, ["int-sales", 0, 10, "hard_control", "ann"])]
    assert _max_rss_mb() - before < 200


def test_a_cell_far_away_costs_nothing(tmp_path: Path) -> None:
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    data = _rewrite(_workbook(ROWS), SHEET, lambda x: x.replace(b"</sheetData>", far))
    path = tmp_path / "far.xlsx"
    path.write_bytes(data)
    before = _max_rss_mb()
    header, body = read_table(path)
    assert [n for n, _ in body] == [2]  # the far cell is beyond the columns read
    assert _max_rss_mb() - before < 200


def _broken_deflate(data: bytes) -> bytes:
    """The sheet's compressed bytes overwritten in the middle (its header and size kept)."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo(SHEET)
    raw = bytearray(data)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 5, start + min(info.compress_size - 2, 60)):
        raw[i] = 0xFF
    return bytes(raw)


@pytest.mark.parametrize("damage", ["deflate", "xml", "truncated"])
def test_a_damaged_workbook_is_exit_2_with_a_clear_message(runner: CliRunner, tmp_path: Path, damage: str) -> None:
    data = _workbook(ROWS * 50)
    if damage == "deflate":
        data = _broken_deflate(data)
    elif damage == "xml":
        data = _rewrite(data, SHEET, lambda x: x.replace(b"</sheetData>", b"<row><c"))
    else:
        data = data[: len(data) // 2]
    path = tmp_path / "broken.xlsx"
    path.write_bytes(data)
    with pytest.raises(InputError, match="not a readable XLSX workbook"):
        read_table(path)
    from qualkam.store.project import Project

    Project.open(tmp_path / "p.db", create=True).close()
    result = run_cli(runner, "import", "codings", path, "--project", tmp_path / "p.db")
    assert result.exit_code == 2, result.output
    assert "not a readable XLSX workbook" in result.output and "bug" not in result.output


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.binary(min_size=1, max_size=400), st.integers(0, 4000))
def test_any_damage_to_a_workbook_is_an_input_error(tmp_path: Path, noise: bytes, where: int) -> None:
    data = bytearray(_workbook(ROWS))
    where %= len(data)
    data[where : where + len(noise)] = noise
    path = tmp_path / "fuzz.xlsx"
    path.write_bytes(bytes(data))
    try:
        read_table(path)
    except InputError:
        pass
