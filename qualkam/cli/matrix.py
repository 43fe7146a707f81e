"""``qualkam matrix``: any attribute x codes, or code x code, from the project store, as a
table, CSV or heatmap."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

from qualkam.analysis.matrix import build_matrix, cooccurrence_pairs
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import (
    Cases,
    Layer,
    MatrixFormat,
    Normalize,
    Phases,
    ProjectFile,
    Sources,
    Speakers,
    Value,
    choice,
)
from qualkam.cli.show import frame_table, hidden_note, matrix_table
from qualkam.render.cells import frame_csv
from qualkam.render.files import write_csv
from qualkam.render.plot import heatmap, image_format  # matplotlib itself loads only when a plot is drawn
from qualkam.store.project import DEFAULT_PROJECT, Project

TERMINAL_PAIRS = 25  # a screenful; the CSV and the heatmap have them all
SMALL_SQUARE = 8  # up to this many codes in use, the square matrix fits a terminal


@app.command("matrix")
def matrix_cli(
    rows: Annotated[
        str,
        typer.Option(
            "--rows",
            "-r",
            help="phase, source_type, role, speaker, unit, source, a source attribute, case or "
            "case:ATTRIBUTE (participants as cases), or code (with --cols code: co-occurrence).",
        ),
    ] = "phase",
    cols: Annotated[
        str, typer.Option("--cols", help="code, or attr:NAME to group codes by a code attribute (attr:pole).")
    ] = "code",
    value: Annotated[
        Value,
        choice(
            Value, "--value", help="What a cell holds: segments, share (of the row's segments), sources or speakers."
        ),
    ] = Value.segments,
    normalize: Annotated[
        Normalize, choice(Normalize, "--normalize", help="none, or row: each cell divided by its row total.")
    ] = Normalize.none,
    window: Annotated[
        int, typer.Option("--window", help="Co-occurrence only: count codes on segments up to N positions apart.")
    ] = 0,
    layer: Layer = "auto",
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write the matrix to this CSV file.")] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Draw the matrix as a heatmap: FILE.png, FILE.svg or FILE.pdf.")
    ] = None,
    fmt: Annotated[
        MatrixFormat, choice(MatrixFormat, "--format", "-f", help="table, or csv on stdout for piping.")
    ] = MatrixFormat.table,
    sources: Sources = None,
    speakers: Speakers = None,
    phases: Phases = None,
    cases: Cases = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Count coded segments (or sources, speakers, shares) per row value and code; or codes
    applied together, with --rows code --cols code."""
    if plot is not None:
        image_format(plot)  # a bad suffix stops the run before any work
    with Project.open(project) as store:
        matrix = build_matrix(
            store,
            rows=rows,
            cols=cols,
            value=value.value,
            layer=layer,
            normalize=normalize.value,
            window=window,
            sources=sources or (),
            speakers=speakers or (),
            phases=phases or (),
            cases=cases or (),
        )
    what = "co-occurrence" + (f" (window {window})" if window else "") if rows == "code" else value.value

    def titled(down: str, across: str) -> str:  # the title reads as the table is printed
        return f"{what}{' / row total' if normalize is Normalize.row else ''} · {down} x {across} · from {layer}"

    title = titled(rows, cols)
    if out_file is not None:
        write_csv(matrix, out_file, index=True)
        err.print(f"wrote {escape(str(out_file))}")
    if plot is not None:
        heatmap(matrix, plot, title=title)
        err.print(f"wrote {escape(str(plot))}")
    if fmt is MatrixFormat.csv:
        typer.echo(frame_csv(matrix, index=True), nl=False)
        return
    if rows == "code" and normalize is Normalize.none:
        _print_cooccurrence(matrix, title, window)
        return
    # Many columns: put them down the side, where long names fit, unless the rows are more.
    wide = len(matrix.columns) > 6 and len(matrix.columns) > len(matrix.index)
    out.print(matrix_table(matrix, title=titled(cols, rows) if wide else title, transpose=wide, hide_empty=wide))


def _print_cooccurrence(matrix: pd.DataFrame, title: str, window: int) -> None:
    """A square matrix of 40 codes can't fit a terminal: small ones as a matrix, others as pairs."""
    used = matrix.index[matrix.to_numpy().diagonal() > 0]
    if len(used) <= SMALL_SQUARE:
        unused = [str(c) for c in matrix.index if c not in set(used)]
        note = hidden_note(len(unused), "code never coded", unused) if unused else ""
        out.print(matrix_table(matrix.loc[used, used], title=title, hidden=note))
        return
    pairs = cooccurrence_pairs(matrix)
    pairs = pairs.rename(
        columns={
            "count": f"within {window}" if window else "together",
            "code_segments": "code total",
            "with_segments": "with total",
        }
    )
    shown = pairs.head(TERMINAL_PAIRS)
    out.print(frame_table(shown, title=title, numeric=tuple(pairs.columns[2:])))
    if len(pairs) > len(shown):
        more = len(pairs) - len(shown)
        err.print(
            f"... {more} more pair{'s' if more != 1 else ''}; --format csv or --plot FILE.png for the whole matrix"
        )
