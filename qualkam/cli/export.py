"""``qualkam export qdpx|qdc``: the project or its codebook for other QDA tools (REFI-QDA, issue 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from qualkam.cli.app import EXIT_OK, EXIT_PROBLEMS, QualkamGroup, app
from qualkam.cli.console import err
from qualkam.cli.options import ProjectFile
from qualkam.coding.codebook import load_codebook
from qualkam.interchange.refi.writer import ExportReport, export_qdc, export_qdpx
from qualkam.store.project import DEFAULT_PROJECT, Project

export_app = typer.Typer(
    cls=QualkamGroup,
    help="Export the project (.qdpx) or a codebook (.qdc) for NVivo, ATLAS.ti, MAXQDA and other REFI-QDA tools.",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@export_app.command("qdpx")
def qdpx_cli(
    out_file: Annotated[Path, typer.Argument(help="The .qdpx file to write (replaced only when the export succeeds).")],
    layer: Annotated[
        str,
        typer.Option(
            "--from",
            help="Whose codings: human (every person's accepted codings, 'consensus' included), "
            "coder:NAME, consensus, suggestions (the machine's, as user 'qualkam (machine)', for "
            "review in another tool) or auto (people's codings and the suggestions nobody decided). "
            "Not all: REFI-QDA has no place for rejected codings.",
        ),
    ] = "human",
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Write the project as a REFI-QDA project (.qdpx) for NVivo, ATLAS.ti, MAXQDA and others.

    The .qdpx holds the sources as UTF-8 text, the code tree, people's accepted codings with
    coder and time, memos as notes, source metadata as variables and participants as cases,
    and qualkam's own segments (turns, speakers, times) in a file other tools ignore.

    Rejected codings are not exported: REFI-QDA has no place for them. The machine's
    suggestions go out with --from suggestions or auto, as the codings of the user
    'qualkam (machine)'. Exporting an unchanged project again gives the same file.
    The mapping: docs/refi-qda.md.
    """
    with Project.open(project) as store:
        report = export_qdpx(store, out_file, layer)
    _finish(
        report,
        f"{_plural(report.sources, 'source')}, {_plural(report.codes, 'code')}, "
        f"{_plural(report.codings, 'coding')}, {_plural(report.users, 'user')}, "
        f"{_plural(report.notes, 'note')} (from {report.layer})",
    )


@export_app.command("qdc")
def qdc_cli(
    out_file: Annotated[Path, typer.Argument(help="The .qdc file to write (replaced only when the export succeeds).")],
    codebook: Annotated[
        str | None,
        typer.Option(
            "--codebook",
            "-c",
            help="A codebook YAML, or 'kam' (no project needed). Default: the project's codebook.",
        ),
    ] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Write a codebook as a REFI-QDA codebook (.qdc), from the project or a YAML file.

    The .qdc holds the code tree with colours and descriptions (definition, include,
    exclude and the qualkam id), and each code attribute value (e.g. pole: formal) as a set.
    """
    if codebook:
        report = export_qdc(load_codebook(codebook), out_file)
    else:
        with Project.open(project) as store:
            report = export_qdc(store, out_file)
    _finish(report, f"{_plural(report.codes, 'code')}, {_plural(report.sets, 'set')}")


def _finish(report: ExportReport, counts: str) -> None:
    """One summary line; codings that could not go out are listed, and exit code 1 says so."""
    for line in report.skipped:
        err.print(f"[yellow]skipped:[/] {escape(line)}", soft_wrap=True, highlight=False)
    err.print(f"wrote {report.path}: {counts}", soft_wrap=True, markup=False)
    raise typer.Exit(EXIT_PROBLEMS if report.skipped else EXIT_OK)
