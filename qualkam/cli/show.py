"""Rich renderings shared by commands: matrices as tables that fit a terminal."""

from __future__ import annotations

import pandas as pd
from rich.markup import escape
from rich.table import Table

from qualkam.render.number import number


def matrix_table(
    matrix: pd.DataFrame, title: str | None = None, transpose: bool = False, hide_empty: bool = False, hidden: str = ""
) -> Table:
    """A matrix as a rich table. ``transpose`` puts codes down the side so 40 codes still fit;
    long names are cut with an ellipsis rather than wrapped, and headers fold. Rows left out
    (``hide_empty``, or ``hidden`` as said by the caller) are named in the caption: a
    missing row must never pass for an absent one (issue 11)."""
    frame = matrix.T if transpose else matrix
    notes = [hidden] if hidden else []
    if hide_empty and len(frame):
        empty = [str(name) for name in frame.index[frame.sum(axis=1) == 0]]
        frame = frame.loc[frame.sum(axis=1) > 0]
        if empty:
            notes.append(hidden_note(len(empty), "empty row", empty))
    table = Table(
        title=escape(title) if title else None, header_style="bold", caption=escape("; ".join(notes)) if notes else None
    )
    table.add_column(escape(str(frame.index.name or "")), no_wrap=True, overflow="ellipsis", max_width=44)
    for column in frame.columns:
        # Underscores become spaces so long ids wrap at word breaks in a narrow column.
        table.add_column(escape(str(column).replace("_", " ")), justify="right", overflow="fold", max_width=13)
    for name, row in frame.iterrows():
        table.add_row(escape(str(name)), *[_cell(v) for v in row])
    return table


def hidden_note(count: int, what: str, names: list[str], shown: int = 6) -> str:
    """'3 empty rows hidden: a, b, c' (the first few names, then how many more)."""
    listed = ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
    return f"{count} {what}{'s' if count != 1 else ''} hidden: {listed}"


def _cell(value: object) -> str:
    """A count as is; a share or proportion with 3 decimals so a column lines up; a dash when missing."""
    if not value:
        return "[dim]·[/]"
    return escape(number(value, places=3))


def frame_table(frame: pd.DataFrame, title: str | None = None, numeric: tuple[str, ...] = ()) -> Table:
    """A plain table, one record a row (co-occurring code pairs): the first column is the
    record's name and doesn't wrap, ``numeric`` columns are right-aligned, the rest fold."""
    table = Table(title=escape(title) if title else None, header_style="bold")
    for position, column in enumerate(frame.columns):
        if position == 0:  # the record's name: cut, never wrapped, like a matrix's row names
            table.add_column(str(column).replace("_", " "), no_wrap=True, overflow="ellipsis", max_width=44)
        elif column in numeric:
            table.add_column(str(column).replace("_", " "), justify="right", no_wrap=True)
        else:
            table.add_column(str(column).replace("_", " "), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(
            *[_cell(v) if name in numeric else escape(str(v)) for name, v in zip(frame.columns, row, strict=True)]
        )
    return table
