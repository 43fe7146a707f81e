"""``qualkam excerpts``: the coded passages, filtered, as a table or a file ready for a paper."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from qualkam.analysis.excerpts import (
    FORMATS,
    attribution,
    coding_note,
    describe_filters,
    mark_spans,
    marked,
    render,
    retrieve,
)
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import (
    LAYER_NAMES,
    Cases,
    ExcerptFormat,
    ProjectFile,
    Roles,
    Sources,
    SourceTypes,
    Status,
    choice,
    value_of,
)
from qualkam.cli.tables import choose_format, write_text
from qualkam.store.project import DEFAULT_PROJECT, Project


def excerpts_table(frame: pd.DataFrame, title: str) -> Table:
    """Excerpts for the terminal: who, where and whose coding beside the text, evidence in bold yellow."""
    table = Table(title=escape(title), header_style="bold", show_lines=True)
    table.add_column("code · source · coding", overflow="fold", max_width=30)
    table.add_column("text", overflow="fold", ratio=1, min_width=30)
    for row in frame.to_dict("records"):
        about = [
            f"[bold]{escape(row['code'])}[/]",
            *(escape(part) for part in attribution(row)),
            f"[dim]{escape(coding_note(row))}[/]",
        ]
        text = row["text"].strip()
        lead = len(row["text"]) - len(row["text"].lstrip())
        body = marked(text, mark_spans(text, int(row["start"]) + lead, row["evidence"]), escape, "[bold yellow]", "[/]")
        table.add_row("\n".join(about), body)
    return table


@app.command("excerpts")
def excerpts_cli(
    codes: Annotated[
        list[str] | None,
        typer.Option("--code", "-k", help="A code id (its descendants included) or attr:KEY=VALUE (attr:pole=formal)."),
    ] = None,
    phases: Annotated[list[str] | None, typer.Option("--phase", help="A phase id or label.")] = None,
    source_types: SourceTypes = None,
    roles: Roles = None,
    speakers: Annotated[list[str] | None, typer.Option("--speaker", help="A speaker's name.")] = None,
    sources: Sources = None,
    cases: Cases = None,
    coders: Annotated[list[str] | None, typer.Option("--coder", help="A person's codings only.")] = None,
    statuses: Annotated[
        list[Status] | None, choice(Status, "--status", help="suggested, accepted or rejected.")
    ] = None,
    layer: Annotated[
        str | None,
        typer.Option(
            "--from",
            help=f"{LAYER_NAMES} (every coding, rejected ones too). "
            "Default: auto; all when --coder or --status is given.",
        ),
    ] = None,
    by_coder: Annotated[
        bool,
        typer.Option("--by-coder", help="One row per coding, each with its coder, instead of one per span x code."),
    ] = False,
    fmt: Annotated[
        ExcerptFormat | None,
        choice(
            ExcerptFormat,
            "--format",
            "-f",
            help="table, csv, md, html or json. Default: table, or from the --out suffix.",
        ),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file (atomically) instead of stdout.")
    ] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Retrieve coded excerpts with their source, speaker, role, phase, time, coders and evidence.

    One excerpt per coded span (a segment, or any passage) and code, with the people who
    applied it ([b]coders[/]) and, with --from all, --coder or --status, who rejected it;
    [b]--by-coder[/] lists each person's coding apart.

    Every filter may be repeated: values of one option are alternatives (OR), different
    options must all hold (AND). [b]--code dimension[/] brings in the codes below it;
    [b]--code attr:pole=formal[/] picks codes by a code attribute. md and html group the
    excerpts under each code with its definition, each a quotation with its attribution,
    ready for a paper. No match is not an error: a note on stderr and exit 0.
    """
    output = choose_format(value_of(fmt), out_file, FORMATS)
    filters = dict(
        code=codes or (),
        phase=phases or (),
        source_type=source_types or (),
        role=roles or (),
        speaker=speakers or (),
        coder=coders or (),
        status=[s.value for s in statuses or ()],
        source=sources or (),
        case=cases or (),
    )
    with Project.open(project) as store:
        frame = retrieve(
            store,
            codes=filters["code"],
            phases=filters["phase"],
            source_types=filters["source_type"],
            roles=filters["role"],
            speakers=filters["speaker"],
            coders=filters["coder"],
            statuses=filters["status"],
            layer=layer,
            by_coder=by_coder,
            sources=filters["source"],
            cases=filters["case"],
        )
    used = layer or ("all" if (coders or statuses) else "auto")
    described = describe_filters(**filters)
    if frame.empty:
        err.print(
            escape(f"no excerpts match{': ' + described if described else ''} (from {used})"),
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(0)
    subtitle = f"{len(frame)} excerpt(s){' · ' + described if described else ''} · from {used}"
    if output == "table":
        out.print(excerpts_table(frame, title=subtitle))
        return
    write_text(render(frame, output, title="Coded excerpts", subtitle=subtitle), out_file)
