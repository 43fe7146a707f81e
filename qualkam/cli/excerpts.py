"""``qualkam excerpts``: the coded passages, filtered, as a table or a file ready for a paper."""

from __future__ import annotations

from pathlib import Path

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
    code: list[str] | None = typer.Option(
        None, "--code", "-k", help="A code id (its descendants included) or attr:KEY=VALUE (attr:pole=formal)."
    ),
    phase: list[str] | None = typer.Option(None, "--phase", help="A phase id or label."),
    source_type: list[str] | None = typer.Option(
        None, "--source-type", "-t", help="interview, meeting, fieldnote, ..."
    ),
    role: list[str] | None = typer.Option(None, "--role", help="A speaker's role, e.g. 'Sales Director'."),
    speaker: list[str] | None = typer.Option(None, "--speaker", help="A speaker's name."),
    source: list[str] | None = typer.Option(None, "--source", help="A source id (repeat for more)."),
    coder: list[str] | None = typer.Option(None, "--coder", help="A person's codings only."),
    status: list[str] | None = typer.Option(None, "--status", help="suggested, accepted or rejected."),
    layer: str | None = typer.Option(
        None,
        "--from",
        help="auto, suggestions, human, consensus, coder:NAME or all (every coding, rejected "
        "ones too). Default: auto; all when --coder or --status is given.",
    ),
    by_coder: bool = typer.Option(
        False, "--by-coder", help="One row per coding, each with its coder, instead of one per segment x code."
    ),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="table, csv, md, html or json. Default: table, or from the --out suffix."
    ),
    out_file: Path | None = typer.Option(
        None, "--out", "-o", help="Write to this file (atomically) instead of stdout."
    ),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """Retrieve coded excerpts with their source, speaker, role, phase, time, coders and evidence.

    One excerpt per segment and code, with the people who applied it ([b]coders[/]) and, with
    --from all, --coder or --status, who rejected it; [b]--by-coder[/] lists each person's coding
    apart.

    Every filter may be repeated: values of one option are alternatives (OR), different
    options must all hold (AND). [b]--code dimension[/] brings in the codes below it;
    [b]--code attr:pole=formal[/] picks codes by a code attribute. md and html group the
    excerpts under each code with its definition, each a quotation with its attribution,
    ready for a paper. No match is not an error: a note on stderr and exit 0.
    """
    output = choose_format(fmt, out_file, FORMATS)
    filters = dict(
        code=code or (),
        phase=phase or (),
        source_type=source_type or (),
        role=role or (),
        speaker=speaker or (),
        coder=coder or (),
        status=status or (),
        source=source or (),
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
        )
    used = layer or ("all" if (coder or status) else "auto")
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
