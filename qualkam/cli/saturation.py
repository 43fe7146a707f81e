"""``qualkam saturation``: new codes per source and the saturation point (Guest, Namey & Chen 2020)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from qualkam.analysis.saturation import BASE, RUN, Saturation, saturation
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
from qualkam.render.plot import image_format
from qualkam.render.saturation import saturation_image
from qualkam.store.project import DEFAULT_PROJECT, Project


def _sources_table(result: Saturation) -> Table:
    base = min(result.base, result.sources)
    grid = Table(
        title=escape(f"new codes per source · by {result.order} · from {result.layer}"),
        header_style="bold",
        caption=f"sources 1-{base} are the base: {result.base_codes} codes" if base else None,
    )
    grid.add_column("#", justify="right")
    grid.add_column("source", no_wrap=True, overflow="ellipsis", max_width=28)
    grid.add_column(result.order if result.order != "given" else "order", no_wrap=True)
    for name in ("codes", "new", "so far"):
        grid.add_column(name, justify="right")
    grid.add_column("new codes", overflow="fold")
    for row in result.table.itertuples(index=False):
        grid.add_row(
            str(row.position),
            escape(row.source),
            escape(str(row.order_value)),
            str(row.codes),
            str(row.new) if row.new else "[dim]·[/]",
            str(row.cumulative),
            escape(row.new_codes),
        )
    return grid


def _runs_table(result: Saturation) -> Table:
    grid = Table(
        title=escape(f"runs of {result.run} · new codes as % of the base's {result.base_codes}"), header_style="bold"
    )
    for name in ("run", "sources", "new", "% new", ""):
        grid.add_column(name, justify="right" if name != "" else "left")
    first_within = True
    for row in result.runs.itertuples(index=False):
        percent = "—" if row.percent_new is None else f"{row.percent_new:.1f}"
        mark = ""
        if row.within:
            mark = "[bold green]≤ threshold: saturation[/]" if first_within else "[green]≤ threshold[/]"
            first_within = False
        grid.add_row(str(row.run), f"{row.first}-{row.last}", str(row.new), percent, mark)
    return grid


@app.command("saturation")
def saturation_cli(
    order: Annotated[
        str,
        typer.Option(
            "--order",
            help="date (the default), given (the --source order, else the order sources were added), "
            "or a source field or attribute (phase, title, interview_number ...).",
        ),
    ] = "date",
    base: Annotated[
        int, typer.Option("--base", help="Sources in the base: its distinct codes are the denominator.")
    ] = BASE,
    run: Annotated[int, typer.Option("--run", help="Sources in a run (runs roll forward one source at a time).")] = RUN,
    threshold: Annotated[
        str,
        typer.Option(
            "--threshold", help="New information threshold in percent of the base's codes: 5 or 5%; 0 is strict."
        ),
    ] = "5",
    layer: Layer = "auto",
    fmt: Annotated[
        TableFormat, choice(TableFormat, "--format", "-f", help="table, or csv / json on stdout for piping.")
    ] = TableFormat.table,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the table per source to FILE.csv or FILE.json.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Draw the saturation curve: FILE.png, FILE.svg or FILE.pdf.")
    ] = None,
    sources: Sources = None,
    speakers: Speakers = None,
    phases: Phases = None,
    source_types: SourceTypes = None,
    roles: Roles = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """New codes per source in order, runs of new information and the saturation point, after
    Guest, Namey & Chen (2020): a base of sources, runs after it, and a threshold of new codes."""
    if out_file is not None:
        frame_kind(out_file, argument="out_file")  # a bad suffix stops the run before any work
    if plot is not None:
        image_format(plot)
    with Project.open(project) as store:
        result = saturation(
            store,
            layer=layer,
            order=order,
            base=base,
            run=run,
            threshold=threshold,
            sources=sources or (),
            speakers=speakers or (),
            phases=phases or (),
            source_types=source_types or (),
            roles=roles or (),
        )
    if out_file is not None:
        write_frame(result.table, out_file, indent=2, argument="out_file")
        err.print(f"wrote {escape(str(out_file))}")
    if plot is not None:
        saturation_image(result, plot)
        err.print(f"wrote {escape(str(plot))}")
    if fmt is TableFormat.csv:
        typer.echo(frame_csv(result.table), nl=False)
    elif fmt is TableFormat.json:
        typer.echo(
            json_text(
                {
                    **result.summary(),
                    "table": result.table.to_dict(orient="records"),
                    "runs": result.runs.to_dict(orient="records"),
                },
                indent=2,
            ),
            nl=False,
        )
    else:
        out.print(_sources_table(result))
        if len(result.runs):
            out.print(_runs_table(result))
        out.print(escape(result.verdict()), highlight=False)
        for note in result.notes[1:] if result.point is None else result.notes:
            err.print(f"note: {escape(note)}", highlight=False)
