"""Heatmaps: PNG and SVG bytes, written atomically, sized so 40 codes stay legible."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from qualkam.errors import QualkamError
from qualkam.render.plot import heatmap, image_format

PNG = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk: no image library needed to check the size."""
    assert data.startswith(PNG)
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture
def small() -> pd.DataFrame:
    frame = pd.DataFrame([[2, 1], [0, 3]], index=["pre_kam", "formal_kam"], columns=["hard_control", "soft_control"])
    frame.index.name, frame.columns.name = "phase", "code"
    return frame


def _codes(n: int) -> pd.DataFrame:
    ids = [f"code_{i:02d}_{'long_name_' * (i % 3)}end" for i in range(n)]
    frame = pd.DataFrame([[(i * j) % 7 for j in range(n)] for i in range(n)], index=ids, columns=ids)
    frame.index.name = frame.columns.name = "code"
    return frame


def test_png_bytes_and_file_are_the_same(small: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "out" / "phase.png"
    data = heatmap(small, path, title="segments · phase x code")
    assert data.startswith(PNG)
    assert path.read_bytes() == data
    assert list(path.parent.iterdir()) == [path], "written through a temporary file, none left behind"


def test_svg_keeps_labels_and_counts_as_text(small: pd.DataFrame, tmp_path: Path) -> None:
    data = heatmap(small, fmt="svg", title="phase x code")
    text = data.decode("utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for label in ("hard_control", "soft_control", "pre_kam", "formal_kam", "phase x code"):
        assert label in text, label
    assert ">2<" in text and ">3<" in text, "the counts are drawn in the cells"
    assert heatmap(small, fmt="svg", title="phase x code") == data, "same matrix, same file"
    path = tmp_path / "phase.svg"
    assert heatmap(small, path) == path.read_bytes()
    assert b"hard_control" in path.read_bytes()


def test_forty_codes_get_a_figure_big_enough_to_read() -> None:
    width, height = _png_size(heatmap(_codes(40)))
    small_width, small_height = _png_size(heatmap(_codes(5)))
    assert height > 40 * 45 and width > 40 * 45, "at least 45 pixels a row and a column (0.4 inch at 120 dpi)"
    assert height > 3 * small_height, "the figure grows with the matrix"


def test_shares_are_drawn_with_three_decimals() -> None:
    frame = pd.DataFrame([[0.667, 0.333], [0.25, 0.0]], index=["a", "b"], columns=["x", "y"])
    text = heatmap(frame, fmt="svg").decode("utf-8")
    assert ">.667<" in text and ">.25<" in text


def test_an_empty_matrix_still_draws(tmp_path: Path) -> None:
    assert heatmap(pd.DataFrame(), tmp_path / "empty.png").startswith(PNG)


@pytest.mark.parametrize(
    ("path", "fmt", "expected"),
    [
        ("a.png", None, "png"),
        ("a.SVG", None, "svg"),
        (None, "svg", "svg"),
        (None, None, "png"),
        ("a.svg", "svg", "svg"),
    ],
)
def test_image_format_from_suffix_or_fmt(path: str | None, fmt: str | None, expected: str) -> None:
    assert image_format(path, fmt) == expected


@pytest.mark.parametrize(
    ("path", "fmt", "message"),
    [
        ("heat.jpg", None, "heat.jpg: cannot draw a heatmap as '.jpg'; name the file .png, .svg or .pdf"),
        ("heat", None, "heat: cannot draw a heatmap as no suffix"),
        (None, "tiff", "cannot draw a heatmap as 'tiff'; use png, svg, pdf"),
        ("heat.png", "svg", "the suffix says .png but the format asked for is svg"),
    ],
)
def test_unsupported_formats_are_refused_before_drawing(
    small: pd.DataFrame, tmp_path: Path, path: str | None, fmt: str | None, message: str
) -> None:
    target = None if path is None else tmp_path / path
    with pytest.raises(QualkamError, match=message.replace(".", r"\.")):
        heatmap(small, target, fmt=fmt)
    assert not list(tmp_path.iterdir())
