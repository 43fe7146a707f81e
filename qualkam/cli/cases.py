"""``qualkam cases list|import``: participants as cases, with their attributes across sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from qualkam.cli.app import QualkamGroup, app
from qualkam.cli.console import err
from qualkam.cli.options import ProjectFile, TableFormatOption, value_of
from qualkam.cli.tables import FORMATS, choose_format, emit
from qualkam.store.project import DEFAULT_PROJECT, Project

cases_app = typer.Typer(
    cls=QualkamGroup,
    help="Participants as cases: list them with their attributes, import a cases file.",
    no_args_is_help=True,
)
app.add_typer(cases_app, name="cases")


@cases_app.command("list")
def cases_list_cli(
    fmt: TableFormatOption = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """One row per case (a participant, merged across sources by name): the sources and segments
    they speak in, role and unit from the participants metadata, and the attributes a cases
    file set. Matrices take them as rows (--rows case:site), matrices and excerpts as filters
    (--case site=Leeds)."""
    from qualkam.analysis.cases import cases_frame

    chosen = choose_format(value_of(fmt), out_file, FORMATS)
    with Project.open(project) as store:
        frame = cases_frame(store)
    if chosen == "table" and out_file is None:
        frame = frame.drop(columns=["source_ids", "origin"])
    emit(frame, chosen, out_file, title=f"{len(frame)} case(s)", empty="no cases: no named speaker yet")
    if chosen == "table" and out_file is None and len(frame):
        silent = frame[frame["segments"] == 0]["case"].tolist()
        if silent:
            err.print(
                escape(f"{len(silent)} case(s) speak in no segment (listed in metadata or a cases file only): ")
                + escape(", ".join(silent[:8]) + (" ..." if len(silent) > 8 else "")),
                soft_wrap=True,
                highlight=False,
            )


@cases_app.command("import")
def cases_import_cli(
    path: Annotated[Path, typer.Argument(help="cases.yaml (Name: {site: Leeds}) or cases.csv (case,site,...).")],
    coder: Annotated[str, typer.Option("--coder", help="Who sets them (recorded in the audit trail).")] = "qualkam",
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Set cases' attributes from a file, merged into what the project holds (a value given
    replaces that attribute's value; others stay). A cases file in a coded folder is read by
    every 'qualkam code' run."""
    from qualkam.analysis.cases import import_cases

    with Project.open(project) as store:
        given, changed = import_cases(store, path, coder)
    err.print(f"{given} case(s) in {escape(str(path))}; {changed} changed", highlight=False)
