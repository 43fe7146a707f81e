"""Rich renderings shared by commands: matrices as tables that fit a terminal."""

from __future__ import annotations

import pandas as pd
from rich.table import Table


def matrix_table(matrix: pd.DataFrame, title: str | None = None, transpose: bool = False,
                 hide_empty: bool = False) -> Table:
    """A matrix as a rich table. ``transpose`` puts codes down the side so 40 codes still fit;
    long names are cut with an ellipsis rather than wrapped, and headers fold."""
    frame = matrix.T if transpose else matrix
    if hide_empty and len(frame):
        frame = frame.loc[frame.sum(axis=1) > 0]
    table = Table(title=title, header_style="bold")
    table.add_column(frame.index.name or "", no_wrap=True, overflow="ellipsis", max_width=44)
    for column in frame.columns:
        # Underscores become spaces so long ids wrap at word breaks in a narrow column.
        table.add_column(str(column).replace("_", " "), justify="right", overflow="fold", max_width=13)
    for name, row in frame.iterrows():
        table.add_row(str(name), *[str(v) if v else "[dim]·[/]" for v in row])
    return table
