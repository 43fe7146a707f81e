"""``qualkam query``: the passages where codes occur together, near each other or by one speaker."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from qualkam.analysis.excerpts import FORMATS, render
from qualkam.analysis.query import count_by as counts_of
from qualkam.analysis.query import excerpts, run_query
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.excerpts import excerpts_table
from qualkam.cli.options import LAYER_NAMES, ExcerptFormat, OutFile, ProjectFile, choice, value_of
from qualkam.cli.tables import choose_format, emit, write_text
from qualkam.errors import QualkamError
from qualkam.store.project import DEFAULT_PROJECT, Project

COUNT_FORMATS = ("table", "csv", "json")


@app.command("query")
def query_cli(
    query: Annotated[
        list[str],
        typer.Argument(
            help="Codes joined by AND, OR, NOT, NEAR/n, SAME-SPEAKER or SAME-SPEAKER/n and brackets: "
            "'a AND NOT b'. Several arguments are read as one query, joined by spaces."
        ),
    ],
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            "-w",
            help="ATTRIBUTE=VALUE: phase, source_type, source, role, speaker, unit, date, coder, or a source "
            "attribute such as site. Repeat: one attribute's values are alternatives, attributes must all hold.",
        ),
    ] = None,
    layer: Annotated[str, typer.Option("--from", help=f"Codings the query reads: {LAYER_NAMES}.")] = "auto",
    count_by: Annotated[
        str | None,
        typer.Option(
            "--count-by",
            help="Count the matching segments by this attribute (phase, source_type, role, speaker, unit, "
            "source, date, or a source attribute) instead of quoting them.",
        ),
    ] = None,
    by_coder: Annotated[
        bool, typer.Option("--by-coder", help="One excerpt per coding, each with its coder, as in excerpts.")
    ] = False,
    fmt: Annotated[
        ExcerptFormat | None,
        choice(
            ExcerptFormat,
            "--format",
            "-f",
            help="table, csv, md, html or json (counts: table, csv or json). Default: table, or from the --out suffix.",
        ),
    ] = None,
    out_file: OutFile = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Find the segments where a combination of codes holds; quote them as excerpts or count them.

    [b]a AND b[/]: segments with both; [b]a OR b[/]: either; [b]NOT a[/]: the segments in scope
    without a; [b]a NEAR/2 b[/]: a and b at most 2 segments apart in one source (both quoted);
    [b]a SAME-SPEAKER b[/]: a and b said by one speaker in one source (any distance;
    [b]SAME-SPEAKER/2[/] adds the distance). NOT binds tightest, then NEAR and SAME-SPEAKER,
    then AND, then OR; use brackets otherwise. A code means itself and every code below it;
    [b]attr:pole=formal[/] the codes with that attribute. Keywords take any case.

    The answer is quoted as the excerpts of the codes the query asks for (not those under NOT)
    that cover a matching segment, in every format of [b]qualkam excerpts[/];
    [b]--count-by phase[/] counts the matching segments per phase, beside all the segments in
    scope. No match is not an error: a note on stderr and exit 0.
    """
    formats = COUNT_FORMATS if count_by else FORMATS
    chosen = value_of(fmt)
    if count_by and chosen not in (None, *COUNT_FORMATS):
        raise QualkamError(f"--count-by writes a table, csv or json, not {chosen}")
    output = choose_format(chosen, out_file, formats)
    with Project.open(project) as store:
        result = run_query(store, " ".join(query), where=where or [], layer=layer)
        described = result.describe()
        if count_by:
            table = counts_of(store, result, count_by)
            err.print(escape(described), highlight=False, soft_wrap=True)
            emit(table, output, out_file, title=f"{result.text}: segments by {table.columns[0]}")
            return
        frame = excerpts(store, result, by_coder=by_coder)
    if frame.empty:
        err.print(escape(f"no excerpts: {described}"), highlight=False, soft_wrap=True)
        raise typer.Exit(0)
    subtitle = f"{len(frame)} excerpt(s) · {described}"
    if output == "table":
        out.print(excerpts_table(frame, title=subtitle))
        return
    write_text(render(frame, output, title=f"Query: {result.text}", subtitle=subtitle), out_file)
