"""``qualkam matrix``: any attribute x codes, from the project store, as a table or CSV."""

from __future__ import annotations

from pathlib import Path

import typer

from ..export import write_csv
from ..matrix import build_matrix
from ..store import DEFAULT_PROJECT, Project
from .app import app
from .console import err, out
from .render import matrix_table


@app.command("matrix")
def matrix_cli(
    rows: str = typer.Option("phase", "--rows", "-r", help="phase, source_type, role, speaker, unit, source, or a source attribute."),
    cols: str = typer.Option("code", "--cols", help="code, or attr:NAME to group codes by a code attribute (attr:pole)."),
    value: str = typer.Option("segments", "--value", help="What a cell counts: segments, sources or speakers."),
    layer: str = typer.Option("auto", "--from", help="Codings to count: auto, suggestions, human, consensus, coder:NAME."),
    out_file: Path = typer.Option(None, "--out", "-o", help="Write the matrix to this CSV file."),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """Count coded segments (or sources, speakers) per row value and code."""
    with Project.open(project) as store:
        matrix = build_matrix(store, rows=rows, cols=cols, value=value, layer=layer)
    if out_file is not None:
        write_csv(matrix, out_file, index=True)
        err.print(f"wrote {out_file}")
    # Many columns: put them down the side, where long names fit, unless the rows are more.
    wide = len(matrix.columns) > 6 and len(matrix.columns) > len(matrix.index)
    out.print(matrix_table(matrix, title=f"{value} · {rows} x {cols} · from {layer}", transpose=wide, hide_empty=wide))
