"""``qualkam search``: find passages by their words, whatever the case or inflection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from qualkam.analysis.excerpts import describe_filters, marked, present
from qualkam.analysis.search import search, to_csv, to_json
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import LAYER_NAMES, ProjectFile, Sources, SourceTypes, Speakers, TableFormat, choice, value_of
from qualkam.cli.tables import choose_format, write_text
from qualkam.store.project import DEFAULT_PROJECT, Project

SEARCH_FORMATS = ("table", "csv", "json")


@app.command("search")
def search_cli(
    query: Annotated[list[str], typer.Argument(help='Words or a quoted phrase, e.g. "account plan".')],
    codes: Annotated[
        list[str] | None,
        typer.Option("--code", "-k", help="Only segments coded with this code (or below it), or attr:KEY=VALUE."),
    ] = None,
    phases: Annotated[list[str] | None, typer.Option("--phase", help="A phase id or label.")] = None,
    source_types: SourceTypes = None,
    sources: Sources = None,
    speakers: Speakers = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="Show at most N segments.")] = None,
    layer: Annotated[
        str, typer.Option("--from", help=f"Codings for --code and the codes column: {LAYER_NAMES}.")
    ] = "auto",
    fmt: Annotated[
        TableFormat | None,
        choice(TableFormat, "--format", "-f", help="table, csv or json. Default: table, or from the --out suffix."),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write csv or json to this file (atomically).")
    ] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Search the segments by lemma: 'account plans' finds 'Account Plan' and 'account planning'.

    One quoted argument is a phrase: its words must be adjacent and in order. Several
    arguments must all occur in the segment (AND): [b]qualkam search trust rules[/]. Inside
    one argument, double quotes mark a phrase among single words:
    [b]qualkam search '"account plan" version'[/]. Punctuation is ignored. Filters may be
    repeated (OR within one option, AND across options). csv and json give each match as
    source character offsets. No match is not an error: a note on stderr and exit 0.
    """
    chosen = choose_format(value_of(fmt), out_file, SEARCH_FORMATS)
    with Project.open(project) as store:
        result = search(
            store,
            query,
            codes=codes or (),
            phases=phases or (),
            source_types=source_types or (),
            limit=limit,
            layer=layer,
            sources=sources or (),
            speakers=speakers or (),
        )
    words = " AND ".join(f'"{" ".join(p)}"' for p in result.phrases)
    described = describe_filters(
        code=codes or (),
        phase=phases or (),
        source_type=source_types or (),
        source=sources or (),
        speaker=speakers or (),
    )
    if result.total == 0:
        err.print(
            escape(f"no segments match {words}{' (' + described + ')' if described else ''}"),
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(0)
    shown = len(result.hits)
    status = f"{result.total} segment(s) match {words}" + (f"; showing {shown}" if shown < result.total else "")
    if chosen != "table":
        err.print(escape(status), highlight=False, soft_wrap=True)
        write_text(to_csv(result.hits) if chosen == "csv" else to_json(result.hits), out_file)
        return
    table = Table(title=escape(status), header_style="bold", show_lines=True)
    table.add_column("source · speaker · codes", overflow="fold", max_width=30)
    table.add_column("text", overflow="fold", ratio=1, min_width=30)
    for row in result.hits.to_dict("records"):
        about = [
            f"[bold]{escape(row['source'])}[/] #{row['segment']}",
            *(escape(str(row[k])) for k in ("speaker", "role") if present(row[k])),
            " · ".join(escape(str(row[k])) for k in ("phase", "date") if present(row[k])),
            *(f"[dim]{escape(c)}[/]" for c in row["codes"]),
        ]
        text = row["text"]
        spans = [(m["start"] - row["start"], m["end"] - row["start"]) for m in row["matches"]]
        table.add_row("\n".join(a for a in about if a), marked(text, spans, escape, "[reverse bold]", "[/]").strip())
    out.print(table)
