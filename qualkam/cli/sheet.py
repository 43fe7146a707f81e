"""``qualkam sheet export``: a spreadsheet for coding by hand, read back by ``qualkam import codings``."""

from __future__ import annotations

from pathlib import Path

import typer

from qualkam.cli.app import QualkamGroup, app
from qualkam.cli.console import err
from qualkam.cli.options import listed_codes
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
    coder: str = typer.Option(..., "--coder", help="Whose sheet: their earlier decisions are shown."),
    out_file: Path = typer.Option(
        None, "--out", "-o", help="FILE.xlsx or FILE.csv (UTF-8 with BOM). Default: qualkam-out/sheet-NAME.xlsx."
    ),
    source: list[str] = typer.Option(None, "--source", help="Only this source (repeat for more)."),
    phase: list[str] = typer.Option(None, "--phase", help="Only sources of this phase (repeat for more)."),
    code: list[str] = typer.Option(
        None, "--code", help="Only segments suggested or coded with this code or a code below it (repeat)."
    ),
    speaker: list[str] = typer.Option(None, "--speaker", help="Only this speaker's segments (repeat for more)."),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """Write one row per segment, with its context, the suggestions and their evidence, and
    empty columns codes, reject and memo for the coder to fill.

    Fill codes with the code ids you apply and reject with the suggested ids you turn down
    (separated by ; or ,), then run 'qualkam import codings FILE --coder NAME'.
    """
    with Project.open(project) as store:
        report = export_sheet(store, coder, out_file, source or (), phase or (), listed_codes(code), speaker or ())
    err.print(
        f"wrote {report.path}: {report.rows} segments for {coder.strip()} "
        f"({report.suggested} with suggestions, {report.decided} already decided)",
        soft_wrap=True,
        markup=False,
    )
