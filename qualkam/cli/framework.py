"""``qualkam framework export|import|show|set``: the framework matrix (cases x themes, a
researcher's summary per cell linked to the excerpts behind it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from qualkam.cli.app import QualkamGroup, app
from qualkam.cli.console import err
from qualkam.cli.options import LAYER_NAMES, ProjectFile, TableFormatOption, value_of
from qualkam.cli.tables import FORMATS, choose_format, emit
from qualkam.store.project import DEFAULT_PROJECT, Project

framework_app = typer.Typer(
    cls=QualkamGroup,
    help="Framework matrices: cases x themes, a summary per cell linked to its excerpts; XLSX round trip, HTML.",
    no_args_is_help=True,
)
app.add_typer(framework_app, name="framework")

CaseKind = Annotated[
    str, typer.Option("--cases", help="Rows: 'case' (participants, see 'qualkam cases list') or 'source'.")
]
Themes = Annotated[
    str, typer.Option("--themes", help="Columns: 'code', or 'attr:NAME' for codes grouped by a code attribute.")
]
LayerOption = Annotated[str, typer.Option("--from", help=f"Codings whose excerpts back the cells: {LAYER_NAMES}.")]
Name = Annotated[str, typer.Option("--name", help="The framework's name (a project can hold several).")]


@framework_app.command("export")
def framework_export_cli(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="FILE.xlsx (to fill in and import) or FILE.html.")],
    cases: CaseKind = "case",
    themes: Themes = "code",
    layer: LayerOption = "auto",
    name: Name = "default",
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Write the framework as a workbook (one row per case, one column per theme, each cell its
    summary or, while it has none, its excerpts' references; a sheet of the references with
    their text) or as an HTML page with every cell's summary, references and quotes."""
    from qualkam.analysis.framework import build_framework
    from qualkam.errors import InputError

    suffix = out_file.suffix.lower()
    if suffix not in (".xlsx", ".html"):
        raise InputError(f"--out {out_file}: write the framework as .xlsx or .html")
    with Project.open(project) as store:
        framework = build_framework(store, cases, themes, layer, name)
    if suffix == ".html":
        from qualkam.render.files import write_text
        from qualkam.render.framework import framework_html

        write_text(framework_html(framework), out_file)
    else:
        from qualkam.interchange.framework import write_framework_xlsx

        write_framework_xlsx(framework, out_file)
    filled = len(framework.summaries)
    err.print(
        escape(
            f"wrote {out_file}: {len(framework.cases)} {framework.case_kind}(s) x {len(framework.themes)} theme(s), "
            f"{filled} summar{'y' if filled == 1 else 'ies'}"
        ),
        highlight=False,
        soft_wrap=True,
    )


@framework_app.command("import")
def framework_import_cli(
    path: Annotated[Path, typer.Argument(help="The workbook 'qualkam framework export' wrote, summaries filled in.")],
    author: Annotated[str, typer.Option("--author", help="Who wrote the summaries (recorded in the audit trail).")],
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Read the summaries back (all or nothing): a cell is a summary unless it is empty,
    unchanged or only lists references; emptying a cell that held a summary clears it."""
    from qualkam.interchange.framework import import_framework_xlsx

    with Project.open(project) as store:
        report = import_framework_xlsx(store, path, author)
    err.print(
        escape(f"{report.summaries} summary cell(s) in {path}; {report.changed} changed ({report.cleared} cleared)"),
        highlight=False,
        soft_wrap=True,
    )


@framework_app.command("show")
def framework_show_cli(
    cases: CaseKind = "case",
    themes: Themes = "code",
    layer: LayerOption = "auto",
    name: Name = "default",
    fmt: TableFormatOption = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file (.csv, .json).")] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """The framework: one row per case, each cell its summary or, while it has none, its
    excerpts' references."""
    from qualkam.analysis.framework import build_framework, framework_frame

    chosen = choose_format(value_of(fmt), out_file, FORMATS)
    with Project.open(project) as store:
        framework = build_framework(store, cases, themes, layer, name)
    frame = framework_frame(framework, "cell").reset_index()
    emit(
        frame,
        chosen,
        out_file,
        title=f"Framework {framework.name}: {len(framework.cases)} {framework.case_kind}(s) x "
        f"{len(framework.themes)} theme(s), {len(framework.summaries)} summarised",
        empty=f"no {framework.case_kind}s: code some sources first",
    )


@framework_app.command("set")
def framework_set_cli(
    case: Annotated[str, typer.Argument(help="The case (a participant's name, or a source id).")],
    theme: Annotated[str, typer.Argument(help="The theme (a code id, or a value of the --themes attribute).")],
    summary: Annotated[str, typer.Argument(help="The summary; an empty text clears the cell.")],
    author: Annotated[str, typer.Option("--author", help="Who writes it (recorded in the audit trail).")],
    cases: CaseKind = "case",
    themes: Themes = "code",
    name: Name = "default",
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Write (or clear) one cell's summary."""
    from qualkam.analysis.framework import set_summary

    with Project.open(project) as store:
        changed = set_summary(store, case, theme, summary, author, cases, themes, name)
    err.print("summary saved" if changed and summary.strip() else "cleared" if changed else "unchanged")
