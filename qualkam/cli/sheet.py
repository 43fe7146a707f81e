"""``qualkam sheet export``: a spreadsheet for coding by hand, read back by ``qualkam import codings``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qualkam.cli.app import QualkamGroup, app
from qualkam.cli.console import err
from qualkam.cli.options import Phases, ProjectFile, Sources, Speakers, listed_codes
from qualkam.interchange.sheets import export_sheet
from qualkam.store.project import DEFAULT_PROJECT, Project

sheet_app = typer.Typer(
    cls=QualkamGroup,
    help="Coding sheets: a spreadsheet per coder, filled in Excel and imported back.",
    no_args_is_help=True,
)
app.add_typer(sheet_app, name="sheet")


@sheet_app.command("export")
def export_cli(
    coder: Annotated[str, typer.Option("--coder", help="Whose sheet: their earlier decisions are shown.")],
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="FILE.xlsx or FILE.csv (UTF-8 with BOM). Default: qualkam-out/sheet-NAME.xlsx."
        ),
    ] = None,
    sources: Sources = None,
    phases: Phases = None,
    codes: Annotated[
        list[str] | None,
        typer.Option("--code", help="Only segments suggested or coded with this code or a code below it (repeat)."),
    ] = None,
    speakers: Speakers = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Write one row per segment, with its context, the suggestions and their evidence, and
    empty columns codes, reject and memo for the coder to fill.

    Fill codes with the code ids you apply and reject with the suggested ids you turn down
    (separated by ; or ,), then run 'qualkam import codings FILE --coder NAME'.
    """
    with Project.open(project) as store:
        report = export_sheet(store, coder, out_file, sources or (), phases or (), listed_codes(codes), speakers or ())
    err.print(
        f"wrote {report.path}: {report.rows} segments for {coder.strip()} "
        f"({report.suggested} with suggestions, {report.decided} already decided)",
        soft_wrap=True,
        markup=False,
    )
