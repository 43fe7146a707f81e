"""``qualkam negative-cases CODE``: the sources and speakers where a code never occurs although
it occurs in comparable ones, for the researcher to check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from qualkam.analysis.negative import KINDS, negative_cases
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import (
    Layer,
    Phases,
    ProjectFile,
    Roles,
    Sources,
    SourceTypes,
    Speakers,
    TableFormat,
    choice,
)
from qualkam.render.cells import frame_csv
from qualkam.render.files import frame_kind, json_text, write_frame
from qualkam.store.project import DEFAULT_PROJECT, Project


def _terminal_table(table: pd.DataFrame, kind: str, compare: str, title: str) -> Table:
    grid = Table(
        title=escape(title),
        header_style="bold",
        caption=f"segments: the {kind}'s own in the group; comparable with it: the group's {kind}s that have "
        "the code; coded there: the group's segments with it",
    )
    grid.add_column(compare.replace("_", " "), no_wrap=True, overflow="ellipsis", max_width=28)
    grid.add_column(kind, no_wrap=True, overflow="ellipsis", max_width=32)
    grid.add_column("segments", justify="right")
    grid.add_column("comparable with it", justify="right", no_wrap=True)
    grid.add_column("coded there", justify="right")
    for row in table.itertuples(index=False):
        grid.add_row(
            escape(row.value),
            escape(row.case),
            str(row.segments),
            f"{row.with_code} of {row.comparable} ({round(100 * row.share_with_code)}%)",
            str(row.code_segments),
        )
    return grid


@app.command("negative-cases")
def negative_cli(
    code: Annotated[str, typer.Argument(metavar="CODE", help="The code (the codes below it count as it).")],
    compare: Annotated[
        str,
        typer.Option(
            "--compare",
            help="What makes cases comparable: phase, source_type, role, unit, a source attribute, "
            "or a case attribute (case:site).",
        ),
    ] = "phase",
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="source or speaker (repeat for both; default both).")
    ] = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="The code alone: a code below it does not count as it.")
    ] = False,
    layer: Layer = "auto",
    fmt: Annotated[
        TableFormat, choice(TableFormat, "--format", "-f", help="table, or csv / json on stdout for piping.")
    ] = TableFormat.table,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the list to FILE.csv or FILE.json.")
    ] = None,
    sources: Sources = None,
    speakers: Speakers = None,
    phases: Phases = None,
    source_types: SourceTypes = None,
    roles: Roles = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Where a code never occurs although it occurs in comparable sources or speakers (same phase,
    source type or attribute), with how often it occurs in those: cases to check."""
    if out_file is not None:
        frame_kind(out_file, argument="out_file")
    with Project.open(project) as store:
        table = negative_cases(
            store,
            code,
            compare=compare,
            layer=layer,
            kinds=kind or KINDS,
            sources=sources or (),
            speakers=speakers or (),
            phases=phases or (),
            source_types=source_types or (),
            roles=roles or (),
            below=not exact,
        )
    if out_file is not None:
        write_frame(table, out_file, indent=2, argument="out_file")
        err.print(f"wrote {escape(str(out_file))}")
    if fmt is TableFormat.csv:
        typer.echo(frame_csv(table), nl=False)
        return
    if fmt is TableFormat.json:
        typer.echo(json_text(table.to_dict(orient="records"), indent=2), nl=False)
        return
    if table.empty:
        out.print(
            escape(
                f"no negative cases of {code} by {compare} (from {layer}): wherever a comparable case has it, "
                "every case of that group has it, or nothing in scope is coded with it"
            ),
            highlight=False,
        )
        return
    for which in KINDS:
        part = table[table["kind"] == which]
        if len(part):
            title = f"{which}s without {code} · compared by {compare} · from {layer} · {len(part)} to check"
            out.print(_terminal_table(part, which, compare, title))
