"""``qualkam triangulate``: per code, the sources, speakers, source types, phases and roles
that support it, with the weak spots flagged."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from qualkam.analysis.matrix import NONE
from qualkam.analysis.triangulation import count_known, triangulation_table
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import Layer, Phases, ProjectFile, Sources, Speakers, TableFormat, choice
from qualkam.render.cells import frame_csv
from qualkam.render.files import frame_kind, json_text, write_frame
from qualkam.store.project import DEFAULT_PROJECT, Project


def _terminal_table(table: pd.DataFrame, title: str) -> Table:
    """Counts in columns and each code's flags under its name, so a 100-column terminal holds
    it; the lists of source types, phases and roles are in the CSV and JSON."""
    unplaced = any(NONE in str(v).split(", ") for column in ("source_types", "phases") for v in table[column])
    grid = Table(
        title=escape(title),
        header_style="bold",
        caption=f"{NONE} is not counted: sources with no phase or type support a code, but are no "
        "phase or type of their own"
        if unplaced
        else None,
    )
    grid.add_column("code", overflow="fold", max_width=44)
    for name in ("segments", "sources", "speakers", "types", "phases"):
        grid.add_column(name, justify="right", no_wrap=True)
    for row in table.itertuples(index=False):
        name = escape(row.code) + (f"\n[yellow]! {escape(row.flags)}[/]" if row.flags else "")
        grid.add_row(
            name,
            str(row.segments),
            str(row.sources),
            str(row.speakers),
            str(count_known(row.source_types)),
            str(count_known(row.phases)),
        )
    return grid


@app.command("triangulate")
def triangulate_cli(
    layer: Layer = "auto",
    fmt: Annotated[
        TableFormat, choice(TableFormat, "--format", "-f", help="table, or csv / json on stdout for piping.")
    ] = TableFormat.table,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the table to FILE.csv or FILE.json.")
    ] = None,
    sources: Sources = None,
    speakers: Speakers = None,
    phases: Phases = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Per code: how many sources, speakers, source types, phases and roles support it, and
    which codes rest on one source, one speaker or one kind of source."""
    if out_file is not None:
        frame_kind(out_file, argument="out_file")  # the suffix picks CSV or JSON; a bad one stops the run first
    with Project.open(project) as store:
        table = triangulation_table(
            store, layer=layer, sources=sources or (), speakers=speakers or (), phases=phases or ()
        )
    if out_file is not None:
        write_frame(table, out_file, indent=2, argument="out_file")
        err.print(f"wrote {escape(str(out_file))}")
    if fmt is TableFormat.csv:
        typer.echo(frame_csv(table), nl=False)
    elif fmt is TableFormat.json:
        typer.echo(json_text(table.to_dict(orient="records"), indent=2), nl=False)
    else:
        flagged = int((table["flags"] != "").sum())
        title = f"triangulation · {len(table)} codes · from {layer} · {flagged} flagged"
        out.print(_terminal_table(table, title))
