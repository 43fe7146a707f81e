"""``qualkam import ...``: codings made outside qualkam, read into the project whole or not at all.

``import_app`` is the ``import`` sub-app; other importers add their commands to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from qualkam.cli.app import EXIT_OK, EXIT_PROBLEMS, QualkamGroup, app
from qualkam.cli.console import err, out
from qualkam.cli.options import NewProjectFile, ProjectFile
from qualkam.interchange.codings_import import import_codings
from qualkam.interchange.refi.reader import READING_TEXT, describe, import_qdc, import_qdpx
from qualkam.interchange.refi.reader import ImportReport as RefiReport
from qualkam.store.project import DEFAULT_PROJECT, Project

import_app = typer.Typer(
    cls=QualkamGroup,
    help="Import codings made outside qualkam: coding sheets, span CSVs, REFI-QDA projects.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")


@import_app.command("codings")
def codings_cli(
    file: Annotated[Path, typer.Argument(help="A filled-in coding sheet (.xlsx/.csv) or a long CSV of spans.")],
    coder: Annotated[
        str | None,
        typer.Option(
            "--coder",
            help="Whose codings these are; needed for a sheet, and for a long CSV without a coder column.",
        ),
    ] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Import people's codings from a coding sheet or a long CSV; all rows or none.

    [bold]Coding sheet[/] (from 'qualkam sheet export'; columns segment, codes, ...): each id in
    codes becomes an accepted coding by the coder, each id in reject a rejected one; memo goes
    on those codings, or on the segment. The row's text must still be the segment's text.

    [bold]Long CSV[/] (columns source, start, end, code; optional coder, memo): start and end are
    character offsets (end exclusive) into the source's stored text. Each span is kept exactly
    as one coding, inside one turn or across several (it counts for every segment it
    overlaps); it must hold some of a segment's text, not only a speaker label or line end.

    Bad rows (unknown codes, segments or sources, offsets out of range, spans over no
    segment's text, changed texts, unknown columns) are all listed with their row number (header = row 1) and nothing is
    imported (exit code 2). Importing the same file again changes nothing.
    """
    with Project.open(project) as store:
        report = import_codings(store, file, coder)
    memos = f" · {report.memos} new segment memo(s)" if report.memos else ""
    out.print(
        f"imported {file} ({'coding sheet' if report.kind == 'sheet' else 'long CSV'}, "
        f"{', '.join(report.coders) or 'no coder'}): {report.new} new, {report.changed} changed, "
        f"{report.unchanged} unchanged codings{memos} · {report.rows} rows read",
        soft_wrap=True,
        markup=False,
    )


def _refi_summary(report: RefiReport) -> None:
    """What a REFI-QDA import found and did: data on stdout, warnings on stderr."""
    found = report.found
    made_by = f" ({report.origin})" if report.origin else ""
    out.print(f"imported {report.path}{made_by}", soft_wrap=True, markup=False)
    if report.kind == "qdpx":
        head = describe(
            [(found["sources"], "text source"), (found["codes"], "code"), (found["selections"], "selection")]
        )
        rest = describe(
            [
                (found["users"], "user"),
                (found["notes"], "note"),
                (found["cases"], "case"),
                (found["variables"], "variable"),
            ]
        )
        out.print(
            f"  found: {head} with {describe([(found['codings'], 'coding')])}, {rest}", soft_wrap=True, markup=False
        )
        out.print(
            f"  sources: {len(report.sources_new)} new, {len(report.sources_matched)} already in the project "
            "(same text)",
            soft_wrap=True,
            markup=False,
        )
    else:
        out.print(
            f"  found: {describe([(found['codes'], 'code'), (found['sets'], 'set')])}", soft_wrap=True, markup=False
        )
    out.print(
        f"  codes: {len(report.codes_new)} new, {report.codes_matched} already in the project"
        + (f" (codebook version '{report.codebook_version}')" if report.codebook_version else ""),
        soft_wrap=True,
        markup=False,
    )
    if report.kind == "qdpx":
        out.print(
            f"  codings: {report.codings_new} new, {report.codings_changed} changed, {report.codings_unchanged} "
            "unchanged (one per segment, code and coder)",
            soft_wrap=True,
            markup=False,
        )
        out.print(f"  memos: {report.memos_new} new, {report.memos_unchanged} unchanged", soft_wrap=True, markup=False)
        out.print(f"  coders: {', '.join(report.coders) or 'none'}", soft_wrap=True, markup=False)
        if report.machine_codings:
            out.print(
                f"  machine suggestions: {report.machine_codings} codings by 'qualkam (machine)' not imported "
                "(the codebook's rules suggest them here)",
                soft_wrap=True,
                markup=False,
            )
        by_reading: dict[str, list[str]] = {}
        for source_id, reading in report.readings.items():
            by_reading.setdefault(reading, []).append(source_id)
        for reading, ids in by_reading.items():
            out.print(f"  positions, {READING_TEXT[reading]}: {', '.join(ids)}", soft_wrap=True, markup=False)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)


@import_app.command("qdpx")
def qdpx_cli(
    file: Annotated[Path, typer.Argument(help="A REFI-QDA project (.qdpx) from NVivo, ATLAS.ti, MAXQDA, qualkam, ...")],
    as_coder: Annotated[
        str | None, typer.Option("--as-coder", help="Import every user's codings and notes as this one coder.")
    ] = None,
    project: NewProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Import a REFI-QDA project: sources, codes, people's codings, cases, variables, notes.

    Sources already in the project (same text) are reused; new ones are added and segmented
    like 'qualkam code' does. Each selection becomes a coding by its user (or --as-coder) on
    the segments its span codes, with its time. Positions are checked against each text in
    UTF-16 code units and in code points; the reading that fits is used and printed.

    The file is read safely (no paths out of the archive, no XML entities, size caps) and
    imported whole or not at all (exit code 2). Sources that cannot be read (dangling
    paths, media) are reported as warnings (exit code 1). Importing it again adds nothing.
    """
    with Project.open(project, create=True) as store:
        report = import_qdpx(store, file, as_coder)
    _refi_summary(report)
    raise typer.Exit(EXIT_PROBLEMS if report.warnings else EXIT_OK)


@import_app.command("qdc")
def qdc_cli(
    file: Annotated[Path, typer.Argument(help="A REFI-QDA codebook (.qdc).")],
    project: NewProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Import a REFI-QDA codebook: the code tree with colours, descriptions and attributes.

    New codes are added as a new codebook version; codes the project has (same GUID,
    '[qualkam id: X]' line, or same name under the same parent) are left as they are.
    Importing it again adds nothing.
    """
    with Project.open(project, create=True) as store:
        report = import_qdc(store, file)
    _refi_summary(report)
    raise typer.Exit(EXIT_PROBLEMS if report.warnings else EXIT_OK)
