"""Rich renderings shared by commands: matrices and the run summary."""

from __future__ import annotations

import pandas as pd
from rich.table import Table


def matrix_table(matrix: pd.DataFrame, labels: dict[str, str] | None = None, title: str | None = None,
                 transpose: bool = False, hide_empty: bool = False) -> Table:
    """A matrix as a rich table. ``transpose`` puts codes down the side so 40 codes still fit."""
    frame = matrix.T if transpose else matrix
    if hide_empty:
        frame = frame.loc[frame.sum(axis=1) > 0] if transpose else frame.loc[:, frame.sum(axis=0) > 0]
    table = Table(title=title, show_lines=False, header_style="bold")
    first = frame.index.name or ""
    table.add_column(first, overflow="fold")
    for column in frame.columns:
        table.add_column(str(column), justify="right")
    for name, row in frame.iterrows():
        label = labels.get(str(name), str(name)) if labels else str(name)
        shown = f"{label} [dim]({name})[/]" if labels and label != str(name) else label
        table.add_row(shown, *[str(v) if v else "[dim]·[/]" for v in row])
    return table
