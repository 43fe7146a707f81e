"""``qualkam import ...``: codings made outside qualkam, read into the project whole or not at all.

``import_app`` is the ``import`` sub-app; other importers add their commands to it.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..importing import import_codings
from ..store import DEFAULT_PROJECT, Project
from .app import app
from .console import out

import_app = typer.Typer(help="Import codings made outside qualkam: coding sheets, span CSVs.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("codings")
def codings_cli(
    file: Path = typer.Argument(..., help="A filled-in coding sheet (.xlsx/.csv) or a long CSV of spans."),
    coder: str = typer.Option(None, "--coder",
                              help="Whose codings these are; needed for a sheet, and for a long CSV without a coder column."),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """Import people's codings from a coding sheet or a long CSV; all rows or none.

    [bold]Coding sheet[/] (from 'qualkam sheet export'; columns segment, codes, ...): each id in
    codes becomes an accepted coding by the coder, each id in reject a rejected one; memo goes
    on those codings, or on the segment. The row's text must still be the segment's text.

    [bold]Long CSV[/] (columns source, start, end, code; optional coder, memo): start and end are
    character offsets (end exclusive) into the source's stored text. A span codes every
    segment it covers at least half of, and the segment that holds at least half of the span
    (so a short span inside a long turn codes that turn); each coding keeps the span clipped
    to its segment.

    Bad rows (unknown codes, segments or sources, offsets out of range, changed texts,
    unknown columns) are all listed with their row number (header = row 1) and nothing is
    imported (exit code 2). Importing the same file again changes nothing.
    """
    with Project.open(project) as store:
        report = import_codings(store, file, coder)
    memos = f" · {report.memos} new segment memo(s)" if report.memos else ""
    out.print(f"imported {file} ({'coding sheet' if report.kind == 'sheet' else 'long CSV'}, "
              f"{', '.join(report.coders) or 'no coder'}): {report.new} new, {report.changed} changed, "
              f"{report.unchanged} unchanged codings{memos} · {report.rows} rows read", soft_wrap=True, markup=False)
