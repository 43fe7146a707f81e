"""``qualkam audit``: every change to codings, codebook versions and memos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qualkam.analysis.trail import audit_frame, audit_summary
from qualkam.cli.app import app
from qualkam.cli.options import Entity, ProjectFile, TableFormatOption, choice, value_of
from qualkam.cli.tables import FORMATS, choose_format, emit
from qualkam.store.project import DEFAULT_PROJECT, Project


@app.command("audit")
def audit_cli(
    actor: Annotated[str | None, typer.Option("--actor", "--coder", help="Only changes by this person.")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only changes at or after this date or time: YYYY-MM-DD or "
            "YYYY-MM-DDTHH:MM[:SS][+HH:MM] (ISO 8601; UTC if no zone).",
        ),
    ] = None,
    entity: Annotated[
        Entity | None, choice(Entity, "--entity", help=f"Only one of {', '.join(e.value for e in Entity)}.")
    ] = None,
    fmt: TableFormatOption = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Export the audit trail: who changed what, when, before and after."""
    chosen = choose_format(value_of(fmt), out_file, FORMATS)
    with Project.open(project) as store:
        frame = audit_frame(store, actor, since, value_of(entity))
    if chosen == "table" and out_file is None:
        frame = audit_summary(frame)
    emit(frame, chosen, out_file, title="audit trail", empty="no changes recorded")
