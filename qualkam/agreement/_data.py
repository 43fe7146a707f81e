"""Reliability data in: a coders x units matrix of numbers or labels, or a long CSV.

Everything the coefficients need is built here once: each rating becomes the index of its
category (``-1`` for missing), with the categories in a fixed order (ascending numbers, the
order of ``categories`` when given, otherwise labels sorted as text).
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qualkam.choices import closest
from qualkam.errors import InputError, QualkamError
from qualkam.render.number import missing
from qualkam.sources.textio import DecodeError, decode

LEVELS = ("nominal", "ordinal", "interval", "ratio")
# Cells read as missing in a CSV: empty, or R's NA. Anything else is a value (a label "None" too).
CSV_MISSING = ("", "NA")


@dataclass(frozen=True)
class Prepared:
    """Ratings as category indices: ``codes`` is coders x units, -1 where missing."""

    codes: np.ndarray
    categories: list[Any]
    values: np.ndarray | None  # the categories as numbers, when they are numbers
    level: str

    @property
    def valid(self) -> np.ndarray:
        return self.codes >= 0

    @property
    def n_coders(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_units(self) -> int:
        return int(self.codes.shape[1])


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise QualkamError(f"unknown level of measurement {level!r}; use {', '.join(LEVELS)}")
    return level


def _is_missing(value: Any) -> bool:
    """Not there (``render.number.missing``), or blank text: an empty cell of a ratings CSV."""
    return missing(value) or (isinstance(value, str) and value.strip() == "")


def _matrix(ratings: Any) -> np.ndarray:
    """A 2-D array (numeric or object) from a list of lists, an array or a DataFrame."""
    if isinstance(ratings, pd.DataFrame) and ratings.size and all(t.kind in "iuf" for t in ratings.dtypes):
        array = ratings.to_numpy(dtype=float, na_value=np.nan)  # numbers: no Python object per cell (issue 14)
    elif isinstance(ratings, pd.DataFrame):
        array = ratings.to_numpy(dtype=object)
    elif isinstance(ratings, np.ndarray):
        array = ratings
    else:
        try:
            array = np.array(ratings, dtype=object)
        except ValueError as exc:
            raise QualkamError("ratings must be coders x units: a list of equal-length lists") from exc
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, 0)
    if array.ndim != 2:
        raise QualkamError(
            f"ratings must be coders x units (2 dimensions), not {array.ndim}; one row per coder, one column per unit"
        )
    return array


def _numeric_categories(categories: Sequence[Any]) -> np.ndarray:
    try:
        return np.asarray([float(c) for c in categories], dtype=float)
    except (TypeError, ValueError) as exc:
        raise QualkamError(f"categories {list(categories)!r} are not all numbers but the ratings are") from exc


def prepare(ratings: Any, level: str = "nominal", categories: Sequence[Any] | None = None) -> Prepared:
    """Ratings (coders x units) as category indices, validated for the level of measurement."""
    check_level(level)
    array = _matrix(ratings)
    if array.dtype.kind in "biuf":
        values = array.astype(float)
        valid = ~np.isnan(values)
        _check_finite(values, valid)
        return _from_numbers(values, valid, level, categories)
    flat = array.ravel()
    missing = np.fromiter((_is_missing(v) for v in flat), dtype=bool, count=flat.size).reshape(array.shape)
    present = flat[~missing.ravel()]
    is_number = np.fromiter((isinstance(v, numbers.Real) for v in present), dtype=bool, count=present.size)
    if is_number.all():
        values = np.full(array.shape, np.nan)
        values[~missing] = present.astype(float)
        _check_finite(values, ~missing)
        return _from_numbers(values, ~missing, level, categories)
    if is_number.any():
        number = present[is_number][0]
        label = present[~is_number][0]
        raise QualkamError(
            f"ratings mix numbers ({number!r}) and labels ({label!r}); use one kind "
            "(numbers for ordinal/interval/ratio data)"
        )
    labels = np.array([str(v) for v in present], dtype=object)
    if level in ("interval", "ratio"):
        raise QualkamError(
            f"the {level} level needs numbers; {labels[0]!r} is not one (use {{level}} nominal for labels)",
            arguments=("level",),
        )
    if categories is None:
        if level == "ordinal":
            raise QualkamError(
                "the ordinal level needs the order of the labels: give each label with {categories}, "
                "lowest to highest; "
                f"labels seen: {', '.join(sorted(set(labels))[:8])}",
                arguments=("categories",),
            )
        order = sorted(set(labels))
    else:
        order = [str(c) for c in categories]
        if len(set(order)) != len(order):
            raise QualkamError(f"categories {order!r} name a category twice")
        unknown = sorted(set(labels) - set(order))
        if unknown:
            raise QualkamError(
                f"rating {unknown[0]!r} is not among the categories {order!r}; add it or correct the rating"
            )
    index = {label: i for i, label in enumerate(order)}
    codes = np.full(array.shape, -1, dtype=np.int64)
    codes[~missing] = [index[label] for label in labels]
    return Prepared(codes, order, None, level)


def _from_numbers(values: np.ndarray, valid: np.ndarray, level: str, categories: Sequence[Any] | None) -> Prepared:
    observed = np.unique(values[valid])
    if categories is None:
        cats = observed
    else:
        cats = _numeric_categories(categories)
        if len(np.unique(cats)) != len(cats):
            raise QualkamError(f"categories {list(categories)!r} name a category twice")
        unknown = observed[~np.isin(observed, cats)]
        if unknown.size:
            raise QualkamError(
                f"rating {_plain(unknown[0])!r} is not among the categories {list(categories)!r}; "
                "add it or correct the rating"
            )
        if level != "ordinal":  # only the ordinal level takes its order from the list
            cats = np.sort(cats)
    if level == "ratio" and cats.size and cats.min() < 0:
        raise QualkamError(
            f"the ratio level needs values >= 0 (a true zero); got {_plain(cats.min())}; use the interval level"
        )
    codes = np.full(values.shape, -1, dtype=np.int64)
    if cats.size:
        lookup = np.argsort(cats, kind="stable")
        codes[valid] = lookup[np.searchsorted(cats[lookup], values[valid])]
    plain = [int(c) if c.is_integer() else c for c in cats.astype(float).tolist()]  # _plain, without a call each
    return Prepared(codes, plain, _scaled(cats.astype(float)), level)


def _scaled(values: np.ndarray) -> np.ndarray:
    """Values divided by a power of two that brings the largest below 2, for the interval and
    ratio metrics: alpha does not change with the unit of measurement, and dividing by a power
    of two is exact, so ordinary data give the very same figures, while values like 1e308 no
    longer overflow when squared (issue 11: they made alpha NaN)."""
    largest = float(np.abs(values).max()) if values.size else 0.0
    if not 2.0 <= largest < math.inf:
        return values
    return values / 2.0 ** math.floor(math.log2(largest))


def _check_finite(values: np.ndarray, valid: np.ndarray) -> None:
    bad = valid & ~np.isfinite(values)
    if bad.any():
        coder, unit = (int(i[0]) for i in np.nonzero(bad))
        raise QualkamError(
            f"rating {values[coder, unit]!r} (coder {coder}, unit {unit}) is not a finite number; "
            "give a number, or None/NaN for a missing rating"
        )


def _plain(value: float) -> int | float:
    """1.0 -> 1 for display; other floats stay floats."""
    value = float(value)
    return int(value) if value.is_integer() else value


# ---------------------------------------------------------------------------------------------
# Long CSV files: one row per unit x coder


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a CSV file with one row per unit and coder")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        text, _ = decode(data)
    except DecodeError as exc:
        raise InputError(f"{path}: {exc}") from exc
    if not text.strip():
        raise InputError(f"{path}: empty file; expected a header and one row per unit and coder")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)  # Excel's "CSV" is ;-separated in many locales
    # strict: a stray quote is an error, not data; every row is then checked to sit on one
    # line and to have one cell per column (issue 11: an unterminated quote swallowed the file).
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    started = 1  # the line the next row begins on
    rows = []
    try:
        header = [h.strip() for h in next(reader)]
        for i, name in enumerate(header):
            if name and name in header[:i]:
                raise InputError(f"{path}:1: column {name!r} appears twice in the header; name each column once")
        started = reader.line_num + 1
        for row in reader:
            if reader.line_num > started:
                raise InputError(
                    f"{path}:{started}: a quoted cell runs over lines {started}-{reader.line_num}; "
                    "each row of ratings is one line (close the quote on its line)"
                )
            if any(cell.strip() for cell in row):
                if len(row) != len(header):
                    raise InputError(
                        f"{path}:{started}: {len(row)} cells, but the header has {len(header)} columns; "
                        "give every row one cell per column (an empty cell for a missing value)"
                    )
                rows.append((started, row))
            started = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise InputError(
                f"{path}:{started}: a quote opened on this line is never closed, so the rest of the "
                "file would be read as one value; close it or remove it"
            ) from exc
        raise InputError(f"{path}:{started}: not valid CSV ({exc})") from exc
    return header, rows


def read_long(
    path: str | Path, unit: str = "unit", coder: str = "coder", value: str = "value", level: str = "nominal"
) -> pd.DataFrame:
    """Read and check a long CSV (one row per unit x coder) into columns unit, coder, value, line.

    Values become numbers when every one of them is a number, else they stay labels. Empty
    cells and ``NA`` are missing. Raises :class:`InputError` naming the file and line for a
    missing column, an empty unit or coder, a unit coded twice by one coder, or a value that
    is not a number at the interval or ratio level.
    """
    check_level(level)
    path = Path(path)
    header, rows = _read_rows(path)
    columns = {}
    for argument, name in (("unit", unit), ("coder", coder), ("value", value)):
        if name not in header:
            close = closest(name, [h for h in header if h])
            raise InputError(
                f"{path}: no column {name!r} (given by {{argument}}); the columns are: "
                f"{', '.join(h for h in header if h) or '(none)'}"
                + (f" (did you mean {close[0]!r}?)" if close else ""),
                argument=argument,
            )
        columns[argument] = header.index(name)
    records = []
    for line, row in rows:
        cells = [row[i].strip() if i < len(row) else "" for i in columns.values()]
        for argument, name, cell in (("unit", unit, cells[0]), ("coder", coder, cells[1])):
            if not cell:
                raise InputError(
                    f"{path}:{line}: empty {name!r} cell ({{argument}}); every row needs a unit and a coder",
                    argument=argument,
                )
        records.append((cells[0], cells[1], cells[2], line))
    if not records:
        raise InputError(f"{path}: a header but no rows; nothing to compare")
    frame = pd.DataFrame(records, columns=["unit", "coder", "value", "line"])
    first_line = frame.groupby(["unit", "coder"], sort=False)["line"].transform("first")
    dupes = frame[first_line != frame["line"]]
    if len(dupes):
        row = dupes.iloc[0]
        more = f"; {len(dupes) - 1} more duplicate row(s)" if len(dupes) > 1 else ""
        raise InputError(
            f"{path}:{row['line']}: unit {row['unit']!r} is coded twice by coder {row['coder']!r} "
            f"(first on line {first_line[dupes.index[0]]}{more}); keep one row per unit and coder"
        )
    raw = frame["value"]
    missing = raw.isin(CSV_MISSING)
    numbers_ = pd.to_numeric(raw.where(~missing), errors="coerce")
    # Only a cell that did not read as a finite number can be one float() reads as infinite or NaN.
    doubtful = ~missing & ~np.isfinite(numbers_.to_numpy(dtype=float))
    for cell, line in zip(raw[doubtful], frame["line"][doubtful], strict=True):
        if _non_finite(cell):
            raise InputError(
                f"{path}:{line}: value {cell!r} is not a finite number; give a number, or leave the "
                "cell empty (or NA) for a missing value"
            )
    bad = ~missing & numbers_.isna()
    if not bad.any():
        frame["value"] = numbers_.astype(float)
    elif level in ("interval", "ratio"):
        row = frame[bad].iloc[0]
        raise InputError(
            f"{path}:{row['line']}: value {row['value']!r} is not a number; the {level} level "
            "needs numbers (use {argument} nominal for labels)",
            argument="level",
        )
    else:
        frame["value"] = raw.where(~missing, None).astype(object)
    return frame


def _non_finite(text: str) -> bool:
    """A cell that reads as a number but not a finite one: inf, -Infinity, NaN, 1e400."""
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return False


def long_to_ratings(frame: pd.DataFrame) -> pd.DataFrame:
    """A long frame (unit, coder, value) as the coders x units matrix the coefficients take;
    units and coders keep the order in which they first appear, a missing cell is NaN/None."""
    units = pd.unique(frame["unit"])
    coders = pd.unique(frame["coder"])
    wide = frame.pivot(index="coder", columns="unit", values="value")
    return wide.reindex(index=coders, columns=units)
