"""Spreadsheet cells that never run: the one place every XLSX and CSV writer passes through.

Text from the data (a code named ``=HYPERLINK(...)`` in a stranger's .qdpx, a coder ``@cmd``,
a memo ``+1``) would be read by Excel or LibreOffice as a formula. Following OWASP's "CSV
Injection" guidance (issue 11, section 6), a text cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading single quote, and a CSV field that holds a
separator (``,`` ``;`` tab ``|``), a quote or a line end is wrapped in double quotes, so no
separator a spreadsheet may guess can start a new cell in the middle of it. Numbers stay
numbers: only text is touched. ``restore`` undoes the quote when qualkam reads its own sheets
back; a text that already starts with quotes before such a character gets one more, so the
pair is exact.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A line feed is quoted too: it is harmless, but readers that turn a carriage return into a line
# feed (qualkam's own, Excel's) would otherwise leave the quote of a "\r..." cell on reading back.
_QUOTED = (*TRIGGERS, "\n")
QUOTE = "'"
_NEEDS_QUOTES = frozenset(',;\t|"\r\n')


def _starts_formula(text: str) -> bool:
    return text.lstrip(QUOTE)[:1] in _QUOTED


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet reads as text (``'=1+2``); anything else unchanged."""
    if isinstance(value, str) and _starts_formula(value):
        return QUOTE + value
    return value


def restore(value: Any) -> Any:
    """The text ``neutralise`` was given: the protective quote taken off again."""
    if isinstance(value, str) and value.startswith(QUOTE) and _starts_formula(value[1:]):
        return value[1:]
    return value


def _field(text: str) -> str:
    if any(ch in _NEEDS_QUOTES for ch in text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _join(rows: Iterable[Sequence[str]], lineterminator: str) -> str:
    out = []
    for fields in rows:
        out.append('""' if list(fields) == [""] else ",".join(_field(f) for f in fields))  # a lone empty field is a row
    return "".join(line + lineterminator for line in out)


def csv_lines(rows: Iterable[Sequence[Any]], lineterminator: str = "\n") -> str:
    """CSV text of ``rows`` (header first), every text cell neutralised, risky fields quoted."""
    return _join(([("" if v is None else str(neutralise(v))) for v in row] for row in rows), lineterminator)


def safe_frame(frame: pd.DataFrame, index: bool = False) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell, column name (and index, if written) neutralised."""
    safe = frame.copy()
    for column in safe.columns:
        series = safe[column]
        if not (
            pd.api.types.is_numeric_dtype(series)
            or pd.api.types.is_bool_dtype(series)
            or pd.api.types.is_datetime64_any_dtype(series)
        ):
            safe[column] = series.astype(object).map(neutralise)
    safe.columns = [neutralise(c) for c in safe.columns]
    if index:
        if isinstance(safe.index, pd.MultiIndex):
            safe.index = safe.index.set_levels([level.map(neutralise) for level in safe.index.levels])
            safe.index.names = [neutralise(n) for n in safe.index.names]
        else:
            name = neutralise(safe.index.name)
            safe.index = safe.index.map(neutralise)
            safe.index.name = name
    return safe


def frame_csv(frame: pd.DataFrame, index: bool = False, lineterminator: str = "\n") -> str:
    """A DataFrame as CSV text, safe to open in a spreadsheet; numbers formatted as pandas does."""
    # pandas formats the numbers; the fields are then re-quoted by the rule above. With
    # "\r\n" as its line end pandas quotes a field holding a carriage return, so it reads back whole.
    text = safe_frame(frame, index).to_csv(index=index, lineterminator="\r\n")
    # Our own text, read back: a field as long as the text is no hostile input (a turn of a
    # million characters passed csv's default limit of 131,072 and stopped the outputs).
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        return _join(csv.reader(io.StringIO(text, newline="")), lineterminator)
    finally:
        csv.field_size_limit(limit)


def xlsx_value(value: Any) -> Any:
    """A value for an openpyxl cell: text cleaned of what XLSX cannot hold and neutralised."""
    if isinstance(value, str):
        from qualkam.interchange.sheets import clean_cell

        return neutralise(clean_cell(value))
    return value
