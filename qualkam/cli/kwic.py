"""``qualkam kwic``: a concordance of a word or its lemma, with its context and codes."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from qualkam.analysis.excerpts import present
from qualkam.analysis.kwic import DEFAULT_CONTEXT, FORMATS, concordance, describe, render
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import (
    LAYER_NAMES,
    Codes,
    OutFile,
    Phases,
    ProjectFile,
    Roles,
    Sources,
    SourceTypes,
    Speakers,
    choice,
    value_of,
)
from qualkam.cli.tables import choose_format, write_text
from qualkam.store.project import DEFAULT_PROJECT, Project


class KwicFormat(str, Enum):
    """``kwic``: qualkam.analysis.kwic.FORMATS."""

    table = "table"
    csv = "csv"
    json = "json"
    md = "md"


class KwicSort(str, Enum):
    """``kwic --sort``: qualkam.analysis.kwic.SORTS."""

    source = "source"
    left = "left"
    right = "right"


@app.command("kwic")
def kwic_cli(
    term: Annotated[str, typer.Argument(help="A word or a phrase; matched by lemma unless --word.")],
    word: Annotated[bool, typer.Option("--word", help="Match the word as written (any case), not its lemma.")] = False,
    context: Annotated[
        int, typer.Option("--context", "-n", min=0, help="Words shown on each side (within the segment).")
    ] = DEFAULT_CONTEXT,
    sort: Annotated[
        KwicSort | None,
        choice(KwicSort, "--sort", help="source (reading order), left (by the words before) or right (after)."),
    ] = None,
    codes: Codes = None,
    phases: Phases = None,
    source_types: SourceTypes = None,
    roles: Roles = None,
    speakers: Speakers = None,
    sources: Sources = None,
    where: Annotated[
        list[str] | None,
        typer.Option("--where", "-w", help="ATTRIBUTE=VALUE for any other attribute (unit, date, site, ...)."),
    ] = None,
    layer: Annotated[str, typer.Option("--from", help=f"Codings for --code and the codes column: {LAYER_NAMES}.")] = (
        "auto"
    ),
    limit: Annotated[int | None, typer.Option("--limit", help="Show at most N hits (after sorting).")] = None,
    fmt: Annotated[
        KwicFormat | None,
        choice(KwicFormat, "--format", "-f", help="table, csv, json or md. Default: table, or from the --out suffix."),
    ] = None,
    out_file: OutFile = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """A concordance: each occurrence of a word or its lemma, with the words around it and its codes.

    [b]qualkam kwic plan[/] finds plan, plans and Plan (the project's own lemmas); [b]--word[/]
    takes the word as written. Several words are a phrase. The context stays inside the
    hit's segment, so it is one speaker's words. [b]--sort left[/] lines up the words just
    before the hit, [b]--sort right[/] those after it. Filters may be repeated (OR within one
    option, AND across options). No hit is not an error: a note on stderr and exit 0.
    """
    output = choose_format(value_of(fmt), out_file, FORMATS)
    with Project.open(project) as store:
        frame = concordance(
            store,
            term,
            word=word,
            context=context,
            sort=value_of(sort) or "source",
            layer=layer,
            codes=codes or (),
            where=where or [],
            phases=phases or (),
            source_types=source_types or (),
            roles=roles or (),
            speakers=speakers or (),
            sources=sources or (),
            limit=limit,
        )
    status = describe(frame, term)
    if frame.empty:
        err.print(escape(f"no hits: {status}"), highlight=False, soft_wrap=True)
        raise typer.Exit(0)
    if output != "table":
        err.print(escape(status), highlight=False, soft_wrap=True)
        write_text(render(frame, output, title=f"Concordance: {term}", subtitle=status), out_file)
        return
    table = Table(title=escape(status), header_style="bold", show_lines=False)
    table.add_column("source · speaker", overflow="fold", ratio=2)
    table.add_column("left", justify="right", overflow="fold", ratio=3)
    table.add_column("", justify="center", style="bold", overflow="fold", ratio=2)
    table.add_column("right", overflow="fold", ratio=3)
    table.add_column("codes", overflow="fold", style="dim", ratio=3)
    for row in frame.to_dict("records"):
        where_said = " · ".join(
            escape(str(v)) for v in (f"{row['source']} #{row['segment']}", row["speaker"]) if present(v)
        )
        table.add_row(
            where_said, escape(row["left"]), escape(row["match"]), escape(row["right"]), escape("\n".join(row["codes"]))
        )
    out.print(table)
