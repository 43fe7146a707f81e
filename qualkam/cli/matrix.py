"""``qualkam matrix``: any attribute x codes, or code x code, from the project store, as a
table, CSV or heatmap."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import pandas as pd
import typer
from rich.markup import escape

from qualkam.analysis.matrix import build_matrix, cooccurrence_pairs
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import format_option, phase_option, source_option, speaker_option
from qualkam.cli.show import frame_table, hidden_note, matrix_table
from qualkam.render.cells import frame_csv
from qualkam.render.outputs import write_csv
from qualkam.render.plot import heatmap, image_format  # matplotlib itself loads only when a plot is drawn
from qualkam.store.project import DEFAULT_PROJECT, Project

TERMINAL_PAIRS = 25  # a screenful; the CSV and the heatmap have them all
SMALL_SQUARE = 8  # up to this many codes in use, the square matrix fits a terminal


class MatrixFormat(str, Enum):
    """What goes to stdout: a table for reading, CSV for piping."""

    table = "table"
    csv = "csv"


@app.command("matrix")
def matrix_cli(
    rows: str = typer.Option(
        "phase",
        "--rows",
        "-r",
        help="phase, source_type, role, speaker, unit, source, a source attribute, or code (with --cols code: co-occurrence).",
    ),
    cols: str = typer.Option(
        "code", "--cols", help="code, or attr:NAME to group codes by a code attribute (attr:pole)."
    ),
    value: str = typer.Option(
        "segments", "--value", help="What a cell holds: segments, share (of the row's segments), sources or speakers."
    ),
    normalize: str = typer.Option("none", "--normalize", help="none, or row: each cell divided by its row total."),
    window: int = typer.Option(
        0, "--window", help="Co-occurrence only: count codes on segments up to N positions apart."
    ),
    layer: str = typer.Option(
        "auto",
        "--from",
        help="Codings to count: auto, suggestions, human, consensus, coder:NAME or all (rejected ones too).",
    ),
    out_file: Path = typer.Option(None, "--out", "-o", help="Write the matrix to this CSV file."),
    plot: Path = typer.Option(None, "--plot", help="Draw the matrix as a heatmap: FILE.png, FILE.svg or FILE.pdf."),
    fmt: MatrixFormat = format_option(MatrixFormat, MatrixFormat.table, "table, or csv on stdout for piping."),
    source: list[str] | None = source_option(),
    speaker: list[str] | None = speaker_option(),
    phase: list[str] | None = phase_option(),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
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
            value=value,
            layer=layer,
            normalize=normalize,
            window=window,
            sources=source or (),
            speakers=speaker or (),
            phases=phase or (),
        )
    what = "co-occurrence" + (f" (window {window})" if window else "") if rows == "code" else value

    def titled(down: str, across: str) -> str:  # the title reads as the table is printed
        return f"{what}{' / row total' if normalize == 'row' else ''} · {down} x {across} · from {layer}"

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
    if rows == "code" and normalize == "none":
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
